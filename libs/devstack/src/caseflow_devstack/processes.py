"""One Caseflow service as a child process: `python -m <module> migrate`, then `serve`.

The contract with a service: it reads `KAFKA_BOOTSTRAP_SERVERS`, `<SERVICE>_DATABASE_URL`,
`HTTP_PORT`, `CASEFLOW_AUTH_SECRET` and `CASEFLOW_ENV` from its environment; `migrate` exits 0
when its schema is current; `serve` answers 200 on `/health/ready` once it can work, and stops
cleanly on SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from caseflow_devstack.errors import ServiceError
from caseflow_devstack.logs import tail
from caseflow_devstack.ports import LOCALHOST


@dataclass(frozen=True)
class ServiceSpec:
    """How to run one service: its name, HTTP port and Python module (the name by default)."""

    name: str
    port: int
    module: str = field(default="")

    def __post_init__(self) -> None:
        if not self.module:
            object.__setattr__(self, "module", self.name)

    @property
    def database(self) -> str:
        """The name of the service's own database, e.g. `caseflow_routing`."""
        return f"caseflow_{self.name}"

    @property
    def database_url_variable(self) -> str:
        """The environment variable holding the service's database URL."""
        return f"{self.name.upper()}_DATABASE_URL"

    @property
    def base_url(self) -> str:
        """Where the service's HTTP API answers."""
        return f"http://{LOCALHOST}:{self.port}"


class ServiceProcess:
    """The processes of one service; output goes to `log_file`, appended across restarts."""

    def __init__(
        self,
        spec: ServiceSpec,
        *,
        env: Mapping[str, str],
        log_file: Path,
        python: str = sys.executable,
    ) -> None:
        self.spec = spec
        self.env = dict(env)
        self.log_file = log_file
        self.python = python
        self._process: asyncio.subprocess.Process | None = None

    @property
    def running(self) -> bool:
        """Whether `serve` was started and has not exited."""
        return self._process is not None and self._process.returncode is None

    @property
    def pid(self) -> int | None:
        """The process id of `serve`, while it runs."""
        return self._process.pid if self._process is not None and self.running else None

    @property
    def returncode(self) -> int | None:
        """The exit status of the last `serve` once it exited (negative: killed by a signal)."""
        return None if self._process is None else self._process.returncode

    async def _spawn(self, command: str) -> asyncio.subprocess.Process:
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log:
            log.write(f"--- caseflow-up: {self.spec.module} {command}\n".encode())
            log.flush()
            return await asyncio.create_subprocess_exec(
                self.python,
                "-m",
                self.spec.module,
                command,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
                env=self.env,
                # Its own session: a Ctrl-C in the terminal reaches the runner only, which
                # then stops the services in order.
                start_new_session=True,
            )

    def _failure(self, message: str) -> ServiceError:
        return ServiceError(
            self.spec.name, f"{message}; log {self.log_file}:\n{tail(self.log_file)}"
        )

    async def migrate(self, *, within: float = 120.0) -> None:
        """Run `migrate` to completion; raises ServiceError unless it exits 0."""
        process = await self._spawn("migrate")
        try:
            returncode = await asyncio.wait_for(process.wait(), within)
        except (TimeoutError, asyncio.CancelledError):
            await _terminate(process, grace=2.0)
            raise
        if returncode != 0:
            raise self._failure(f"migrate exited with code {returncode}")

    async def start(self, *, ready_timeout: float = 60.0, attempts: int = 2) -> None:
        """Start `serve` and wait until `/health/ready` answers 200.

        A start that fails or does not become ready in time is made again, up to `attempts`
        times in all, as a supervisor would; the log keeps every attempt.
        """
        if self.running:
            return
        for attempt in range(1, attempts + 1):
            self._process = await self._spawn("serve")
            try:
                await self.wait_ready(within=ready_timeout)
                return
            except ServiceError:
                if attempt == attempts:
                    raise
                await _terminate(self._process, grace=2.0)
                with self.log_file.open("ab") as log:
                    log.write(f"--- caseflow-up: not ready; start {attempt + 1}\n".encode())

    async def wait_ready(self, *, within: float = 60.0) -> None:
        """Wait until `/health/ready` answers 200; ServiceError if it exits or times out."""
        url = f"{self.spec.base_url}/health/ready"
        deadline = time.monotonic() + within
        async with httpx.AsyncClient(timeout=2.0) as client:
            while True:
                if not self.running:
                    raise self._failure(f"exited with code {self.returncode} before it was ready")
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(url)).status_code == 200:
                        return
                if time.monotonic() > deadline:
                    raise self._failure(f"{url} did not answer 200 within {within:g} s")
                await asyncio.sleep(0.1)

    async def stop(self, *, grace: float = 10.0) -> int | None:
        """Stop `serve`: SIGTERM, then SIGKILL after `grace` seconds; returns its exit status."""
        if self._process is None:
            return None
        return await _terminate(self._process, grace=grace)

    async def kill(self) -> int | None:
        """Kill `serve` at once (SIGKILL), as a crash would; returns its exit status."""
        if self._process is None:
            return None
        if self._process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self._process.kill()
        return await self._process.wait()

    async def wait(self) -> int | None:
        """Wait until `serve` exits and return its exit status."""
        return None if self._process is None else await self._process.wait()


async def _terminate(process: asyncio.subprocess.Process, *, grace: float) -> int:
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        try:
            return await asyncio.wait_for(process.wait(), grace)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
    return await process.wait()
