"""The whole Caseflow stack on one machine: `make up` (the `caseflow-up` command).

PostgreSQL and the broker are embedded unless the environment points at external ones:
`KAFKA_BOOTSTRAP_SERVERS` replaces the broker; `CASEFLOW_DATABASE_URL` (a server URL; each
service gets database `caseflow_<service>` on it) or `<SERVICE>_DATABASE_URL` replace
PostgreSQL. State lives under `CASEFLOW_HOME` (default `./.caseflow`): the PostgreSQL data,
one log per process in `logs/`, the development auth secret, the intake attachments in
`blobs/` and the outbound mail in `mail/`. HTTP ports count up from `CASEFLOW_BASE_PORT`
(8081); the embedded servers listen on 55432 (PostgreSQL) and 19092 (the broker) unless
`CASEFLOW_POSTGRES_PORT` / `CASEFLOW_KAFKA_PORT` say otherwise.

Mail: intake's SMTP listener takes requests on 2525 (`CASEFLOW_SMTP_PORT`), and a mail sink
keeps all outbound mail, shown at http://127.0.0.1:8025 (`CASEFLOW_MAILSINK_HTTP_PORT`; it
accepts SMTP on 1025, `CASEFLOW_MAILSINK_SMTP_PORT`). With `CASEFLOW_MAILSINK=0`, or a real
relay in `INTAKE_RELAY_HOST`, no sink is started.

`Stack` is also the library the end-to-end tests use to start, kill and restart services, and
to move time: a stack given a `clock_file` starts every service on a clock shifted by it
(`CASEFLOW_CLOCK_FILE`), and `move_clock` / `shift_clock` move them all forward at once.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import signal
import sys
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import TextIO

from caseflow_devstack.broker import EmbeddedKafka, create_topics, wait_for_kafka
from caseflow_devstack.databases import as_asyncpg, as_libpq, ensure_database, with_database
from caseflow_devstack.errors import DevstackError, InfrastructureError
from caseflow_devstack.mailsink import MailSinkProcess
from caseflow_devstack.ports import LOCALHOST
from caseflow_devstack.postgres import EmbeddedPostgres
from caseflow_devstack.processes import ServiceProcess, ServiceSpec

SERVICE_NAMES: tuple[str, ...] = ("intake", "cases", "routing", "sla", "scheduling", "knowledge")
DEFAULT_BASE_PORT = 8081
# Fixed by default so the URLs `make up` prints stay the same from run to run.
DEFAULT_POSTGRES_PORT = 55432
DEFAULT_KAFKA_PORT = 19092
DEFAULT_SMTP_PORT = 2525
DEFAULT_MAILSINK_SMTP_PORT = 1025
DEFAULT_MAILSINK_HTTP_PORT = 8025
DEFAULT_SUPPORT_ADDRESS = "support@caseflow.local"
DEV_TOKEN_TTL = timedelta(hours=12)


def default_services(base_port: int = DEFAULT_BASE_PORT) -> list[ServiceSpec]:
    """Every Caseflow service, on consecutive HTTP ports from `base_port` (intake first)."""
    return [ServiceSpec(name, base_port + i) for i, name in enumerate(SERVICE_NAMES)]


def contract_topics() -> list[str]:
    """Every topic of the event contracts, each followed by its dead-letter topic."""
    # Imported here: the contracts package evolves on its own and the runner only needs
    # it at start-up.
    from caseflow_contracts.topics import ALL_TOPICS, dlq

    return [name for topic in ALL_TOPICS for name in (topic, dlq(topic))]


class Stack:
    """PostgreSQL, the broker and a set of services, as child processes under `home`."""

    def __init__(
        self,
        *,
        home: Path,
        services: Sequence[ServiceSpec],
        environ: Mapping[str, str] | None = None,
        topics: Iterable[str] | None = None,
        partitions: int = 3,
        python: str = sys.executable,
        postgres_port: int | None = None,
        kafka_port: int | None = None,
        ready_timeout: float = 60.0,
        stop_grace: float = 10.0,
        smtp_port: int | None = None,
        mailsink_smtp_port: int | None = None,
        mailsink_http_port: int | None = None,
        clock_file: Path | None = None,
    ) -> None:
        self.home = home.absolute()
        self.logs = self.home / "logs"
        self.services = {spec.name: spec for spec in services}
        self.environ = dict(os.environ if environ is None else environ)
        # The file the services' clocks are shifted by; one named in the environment as well.
        if clock_file is None and self.environ.get("CASEFLOW_CLOCK_FILE"):
            clock_file = Path(self.environ["CASEFLOW_CLOCK_FILE"])
        self.clock_file = None if clock_file is None else clock_file.absolute()
        self.partitions = partitions
        self.python = python
        self.ready_timeout = ready_timeout
        self.stop_grace = stop_grace
        self._topics = None if topics is None else list(topics)
        self._processes: dict[str, ServiceProcess] = {}
        self._stopping: set[str] = set()
        self._database_urls: dict[str, str] = {}
        self._server_url: str | None = None
        self._bootstrap = self.environ.get("KAFKA_BOOTSTRAP_SERVERS") or None
        self._auth_secret: str | None = None
        self._infra_jobs: set[asyncio.Future[None]] = set()
        self.postgres: EmbeddedPostgres | None = None
        self.kafka: EmbeddedKafka | None = None
        shared_url = self.environ.get("CASEFLOW_DATABASE_URL") or None
        explicit = {
            name: self.environ.get(spec.database_url_variable)
            for name, spec in self.services.items()
        }
        if shared_url is None and not all(explicit.values()):
            self.postgres = EmbeddedPostgres(
                self.home / "postgres", postgres_port, log_file=self.logs / "postgres.log"
            )
        else:
            self._server_url = shared_url
        self._explicit_urls = {name: url for name, url in explicit.items() if url}
        if self._bootstrap is None:
            self.kafka = EmbeddedKafka(kafka_port, log_file=self.logs / "tansu.log")
        # Intake's own setting, when the environment has it, is the port it will listen on.
        self._smtp_port = _port(self.environ, "INTAKE_SMTP_PORT") or self._setting_port(
            smtp_port, "CASEFLOW_SMTP_PORT", DEFAULT_SMTP_PORT
        )
        self.mailsink: MailSinkProcess | None = None
        # A relay given in the environment is a real one: outbound mail goes there instead.
        if self.environ.get("CASEFLOW_MAILSINK") != "0" and not self.environ.get(
            "INTAKE_RELAY_HOST"
        ):
            self.mailsink = MailSinkProcess(
                self.home / "mail",
                smtp_port=self._setting_port(
                    mailsink_smtp_port, "CASEFLOW_MAILSINK_SMTP_PORT", DEFAULT_MAILSINK_SMTP_PORT
                ),
                http_port=self._setting_port(
                    mailsink_http_port, "CASEFLOW_MAILSINK_HTTP_PORT", DEFAULT_MAILSINK_HTTP_PORT
                ),
                log_file=self.logs / "mailsink.log",
                env=self.environ,
                python=python,
            )

    # --- what the stack offers -------------------------------------------------------------

    @property
    def kafka_bootstrap(self) -> str:
        """The Kafka bootstrap address every service is given."""
        if self._bootstrap is None:
            raise InfrastructureError("the broker is not started: call start_infra() first")
        return self._bootstrap

    @property
    def server_url(self) -> str | None:
        """The PostgreSQL server URL the service databases live on (None: all explicit)."""
        return self._server_url

    @property
    def auth_secret(self) -> str:
        """The development signing secret, from the environment or kept under `home`."""
        if self._auth_secret is None:
            self._auth_secret = self.environ.get("CASEFLOW_AUTH_SECRET") or self._stored_secret()
        return self._auth_secret

    @property
    def smtp_port(self) -> int:
        """The port intake's SMTP listener takes inbound mail on."""
        return self._smtp_port

    @property
    def mailsink_url(self) -> str | None:
        """The base URL of the mail sink's HTTP view (None: no sink, a real relay is used)."""
        return None if self.mailsink is None else self.mailsink.url

    @property
    def mailsink_smtp_port(self) -> int | None:
        """The port the mail sink accepts SMTP on (None: no sink, a real relay is used)."""
        return None if self.mailsink is None else self.mailsink.smtp_port

    def intake_environ(self) -> dict[str, str]:
        """The mail and attachment settings every service is given, unless already set.

        Intake's SMTP listener, the relay (the mail sink, when it runs) and the attachment
        directory; a variable the environment of the stack sets is left out.
        """
        settings = {
            "INTAKE_SMTP_HOST": LOCALHOST,
            "INTAKE_SMTP_PORT": str(self.smtp_port),
            "INTAKE_BLOB_DIR": str(self.home / "blobs"),
        }
        if self.mailsink is not None:
            settings["INTAKE_RELAY_HOST"] = LOCALHOST
            settings["INTAKE_RELAY_PORT"] = str(self.mailsink.smtp_port)
        return {name: value for name, value in settings.items() if not self.environ.get(name)}

    def clock_environ(self) -> dict[str, str]:
        """The clock setting every service is given: its clock file, when the stack has one."""
        if self.clock_file is None:
            return {}
        return {"CASEFLOW_CLOCK_FILE": str(self.clock_file)}

    def move_clock(self, to: datetime) -> datetime:
        """Move every service's clock forward to `to`; the moment they now read.

        Raises ValueError when `to` lies before the clocks' present moment.
        """
        # Imported here, as for `admin_token`: the file's format is the kit's, and the stack
        # runs without the kit otherwise.
        from caseflow_servicekit.clock import move_clock

        return move_clock(self._clock_file(), to)

    def shift_clock(self, by: timedelta) -> datetime:
        """Move every service's clock forward by `by`; the moment they now read."""
        from caseflow_servicekit.clock import shift_clock

        return shift_clock(self._clock_file(), by)

    def database_url(self, name: str) -> str:
        """The `postgresql+asyncpg://` URL service `name` is given."""
        if name not in self._database_urls:
            raise InfrastructureError("databases are not ready: call start_infra() first")
        return self._database_urls[name]

    def base_url(self, name: str) -> str:
        """Where service `name` answers HTTP."""
        return self._spec(name).base_url

    def service(self, name: str) -> ServiceProcess:
        """The process handle of service `name` (after it was started once)."""
        return self._processes[name]

    def admin_token(self) -> str | None:
        """A bearer token with role admin, or None while the auth library is not available."""
        try:
            from caseflow_servicekit.auth import mint_token
        except ImportError:
            return None
        return mint_token(self.auth_secret, subject="dev-admin", roles=["admin"], ttl=DEV_TOKEN_TTL)

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the infrastructure, migrate every service, then serve them all until ready."""
        await self.start_infra()
        await _gather_first_error(self.migrate_service(name) for name in self.services)
        await _gather_first_error(self.start_service(name) for name in self.services)

    async def start_infra(self) -> None:
        """Start (or reach) PostgreSQL, the broker and the mail sink; create databases, topics."""
        self.home.mkdir(parents=True, exist_ok=True)
        self.logs.mkdir(exist_ok=True)
        if self.mailsink is not None:
            # First: it starts in a moment, and a port already taken is reported at once.
            await self._in_thread(self.mailsink.start)
        if self.postgres is not None:
            await self._in_thread(self.postgres.start)
            self._server_url = self.postgres.url()
        for name, spec in self.services.items():
            if name in self._explicit_urls:
                self._database_urls[name] = as_asyncpg(self._explicit_urls[name])
                continue
            assert self._server_url is not None
            await ensure_database(self._server_url, spec.database)
            self._database_urls[name] = as_asyncpg(with_database(self._server_url, spec.database))
        if self.kafka is not None:
            await self._in_thread(self.kafka.start)
            self._bootstrap = self.kafka.bootstrap_servers
        else:
            await wait_for_kafka(self.kafka_bootstrap, within=self.ready_timeout)
        topics = contract_topics() if self._topics is None else self._topics
        await create_topics(self.kafka_bootstrap, topics, self.partitions)

    async def migrate_service(self, name: str) -> None:
        """Run `python -m <service> migrate` to completion (exit 0 expected)."""
        await self._process(name).migrate()

    async def start_service(self, name: str) -> None:
        """Start `serve` of service `name` and wait until it is ready."""
        self._stopping.discard(name)
        await self._process(name).start(ready_timeout=self.ready_timeout)

    async def stop_service(self, name: str) -> int | None:
        """Stop service `name` (SIGTERM, SIGKILL after the grace period); its exit status."""
        self._stopping.add(name)
        return await self._process(name).stop(grace=self.stop_grace)

    async def kill_service(self, name: str) -> int | None:
        """Kill service `name` with SIGKILL, as a crash would; its exit status."""
        self._stopping.add(name)
        return await self._process(name).kill()

    async def restart_service(self, name: str) -> None:
        """Stop service `name` if it runs, start it again and wait until it is ready."""
        await self.stop_service(name)
        await self.start_service(name)

    async def stop(self) -> None:
        """Stop the services, then the mail sink, the broker and PostgreSQL."""
        self._stopping.update(self._processes)
        # A start cut short still runs in its thread: let it finish so that what it started
        # is seen, and stopped, below.
        await asyncio.gather(*self._infra_jobs, return_exceptions=True)
        await asyncio.gather(
            *(process.stop(grace=self.stop_grace) for process in self._processes.values())
        )
        if self.mailsink is not None:
            await asyncio.to_thread(self.mailsink.stop)
        if self.kafka is not None:
            await asyncio.to_thread(self.kafka.stop)
        if self.postgres is not None:
            await asyncio.to_thread(self.postgres.stop)

    async def watch(self, *, interval: float = 0.25) -> str:
        """Wait until a service or the embedded infrastructure exits unbidden; say which."""
        while True:
            for name, process in self._processes.items():
                if name not in self._stopping and process.returncode is not None:
                    return f"service {name} exited with code {process.returncode}"
            if self.kafka is not None and not self.kafka.running:
                return "the Kafka broker (tansu) exited"
            if self.postgres is not None and not self.postgres.running:
                return "PostgreSQL exited"
            if self.mailsink is not None and not self.mailsink.running:
                return "the mail sink exited"
            await asyncio.sleep(interval)

    async def __aenter__(self) -> Stack:
        try:
            await self.start()
        except BaseException:
            await self.stop()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    def summary(self) -> str:
        """The table printed once everything is ready: URLs, broker, database, token."""
        rows = [("service", "API", "docs", "metrics", "AsyncAPI")]
        for name, spec in self.services.items():
            base = spec.base_url
            rows.append((name, base, f"{base}/docs", f"{base}/metrics", f"{base}/asyncapi.json"))
        widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
        lines = ["Caseflow is up.", ""]
        for row in rows:
            cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
            lines.append("  " + "  ".join(cells).rstrip())
        lines.append("")
        lines.append(f"  Kafka bootstrap   {self.kafka_bootstrap}")
        if self._server_url is not None:
            lines.append(f"  PostgreSQL        {as_libpq(self._server_url)}")
        for name in self._explicit_urls:
            lines.append(f"  {name} database   {self._database_urls.get(name, '')}")
        if "intake" in self.services:
            lines.append(
                f"  SMTP (send requests here)  smtp://{LOCALHOST}:{self.smtp_port}"
                f"  (support address: {self._support_address()})"
            )
        if self.mailsink is not None:
            lines.append(f"  Mail sink (outbound mail)  {self.mailsink.url}")
        token = self.admin_token()
        if token is not None:
            lines.append(f"  Admin token       {token}")
        else:
            lines.append(f"  Auth secret       {self.auth_secret}  (no token: servicekit missing)")
        if self.clock_file is not None:
            lines.append(f"  Clock file        {self.clock_file}  (tests move the services' time)")
        lines.append(f"  Logs              {self.logs}")
        return "\n".join(lines)

    # --- internals ---------------------------------------------------------------------------

    def _spec(self, name: str) -> ServiceSpec:
        try:
            return self.services[name]
        except KeyError:
            raise KeyError(f"no service {name!r} in this stack: {sorted(self.services)}") from None

    def _process(self, name: str) -> ServiceProcess:
        if name not in self._processes:
            spec = self._spec(name)
            env = {
                **self.environ,
                **self.intake_environ(),
                **self.clock_environ(),
                "KAFKA_BOOTSTRAP_SERVERS": self.kafka_bootstrap,
                spec.database_url_variable: self.database_url(name),
                "HTTP_PORT": str(spec.port),
                "CASEFLOW_AUTH_SECRET": self.auth_secret,
                "CASEFLOW_ENV": "dev",
                "PYTHONUNBUFFERED": "1",
            }
            self._processes[name] = ServiceProcess(
                spec, env=env, log_file=self.logs / f"{name}.log", python=self.python
            )
        return self._processes[name]

    def _clock_file(self) -> Path:
        if self.clock_file is None:
            raise DevstackError("this stack has no clock file: give Stack(clock_file=...)")
        return self.clock_file

    def _setting_port(self, given: int | None, variable: str, default: int) -> int:
        if given is not None:
            return given
        return _port(self.environ, variable) or default

    def _support_address(self) -> str:
        # The first of intake's support addresses, as intake itself picks it.
        addresses = self.environ.get("INTAKE_SUPPORT_ADDRESSES", "").split(",")
        return next((a.strip() for a in addresses if "@" in a), DEFAULT_SUPPORT_ADDRESS)

    async def _in_thread(self, start: Callable[[], None]) -> None:
        job = asyncio.ensure_future(asyncio.to_thread(start))
        self._infra_jobs.add(job)
        job.add_done_callback(self._infra_jobs.discard)
        # Shielded: cancelling the caller cannot stop a thread, only forget it.
        await asyncio.shield(job)

    def _stored_secret(self) -> str:
        path = self.home / "auth-secret"
        if path.exists():
            return path.read_text().strip()
        self.home.mkdir(parents=True, exist_ok=True)
        secret = secrets.token_urlsafe(32)
        path.touch(mode=0o600)
        path.write_text(secret + "\n")
        return secret


async def _gather_first_error(jobs: Iterable[Awaitable[None]]) -> None:
    """Run the jobs together; once all have finished, raise the first error any raised."""
    results = await asyncio.gather(*jobs, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result


async def run(stack: Stack, *, out: TextIO = sys.stdout) -> int:
    """Start `stack`, print its summary and supervise it until SIGINT/SIGTERM; an exit code.

    Returns 0 after a requested stop, 1 when start-up failed or something exited unbidden.
    Everything started is stopped before returning.
    """
    loop = asyncio.get_running_loop()
    stop_requested = asyncio.Event()
    signals = (signal.SIGINT, signal.SIGTERM)
    for signum in signals:
        loop.add_signal_handler(signum, stop_requested.set)
    waiting_for_stop = asyncio.create_task(stop_requested.wait())
    try:
        print(f"caseflow-up: starting in {stack.home}", file=out, flush=True)
        starting = asyncio.create_task(stack.start())
        await asyncio.wait({starting, waiting_for_stop}, return_when=asyncio.FIRST_COMPLETED)
        if not starting.done():
            starting.cancel()
            with contextlib.suppress(asyncio.CancelledError, DevstackError):
                await starting
            print("caseflow-up: stopped before start-up finished", file=out, flush=True)
            return 0
        try:
            starting.result()
        except DevstackError as error:
            print(f"caseflow-up: start-up failed: {error}", file=out, flush=True)
            return 1
        print(stack.summary(), file=out, flush=True)
        watching = asyncio.create_task(stack.watch())
        await asyncio.wait({watching, waiting_for_stop}, return_when=asyncio.FIRST_COMPLETED)
        if watching.done():
            print(f"caseflow-up: {watching.result()}; stopping everything", file=out, flush=True)
            return 1
        watching.cancel()
        return 0
    finally:
        waiting_for_stop.cancel()
        print("caseflow-up: stopping", file=out, flush=True)
        await stack.stop()
        for signum in signals:
            loop.remove_signal_handler(signum)
        print("caseflow-up: stopped", file=out, flush=True)


def stack_from_environ(
    environ: Mapping[str, str], *, home: Path | None = None, only: Sequence[str] = ()
) -> Stack:
    """The `make up` stack as the environment configures it."""
    base_port = int(environ.get("CASEFLOW_BASE_PORT") or DEFAULT_BASE_PORT)
    services = default_services(base_port)
    if only:
        unknown = sorted(set(only) - set(SERVICE_NAMES))
        if unknown:
            raise ValueError(f"unknown services {unknown}; known: {list(SERVICE_NAMES)}")
        services = [spec for spec in services if spec.name in only]
    return Stack(
        home=home or Path(environ.get("CASEFLOW_HOME") or ".caseflow"),
        services=services,
        environ=environ,
        postgres_port=_port(environ, "CASEFLOW_POSTGRES_PORT") or DEFAULT_POSTGRES_PORT,
        kafka_port=_port(environ, "CASEFLOW_KAFKA_PORT") or DEFAULT_KAFKA_PORT,
    )


def _port(environ: Mapping[str, str], variable: str) -> int | None:
    value = environ.get(variable)
    return int(value) if value else None


def main(argv: Sequence[str] | None = None) -> None:
    """`caseflow-up`: run the whole stack in the foreground until Ctrl-C."""
    parser = argparse.ArgumentParser(
        prog="caseflow-up", description="Run Caseflow with embedded PostgreSQL and Kafka."
    )
    parser.add_argument("--home", type=Path, help="state directory (default: $CASEFLOW_HOME)")
    parser.add_argument(
        "services", nargs="*", metavar="SERVICE", help=f"run only these of {list(SERVICE_NAMES)}"
    )
    args = parser.parse_args(argv)
    try:
        stack = stack_from_environ(os.environ, home=args.home, only=args.services)
    except ValueError as error:
        parser.error(str(error))
    sys.exit(asyncio.run(run(stack)))


if __name__ == "__main__":
    main()
