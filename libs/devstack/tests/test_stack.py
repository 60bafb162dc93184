import asyncio
import os
import signal
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
import httpx
import pytest
from aiokafka.admin import AIOKafkaAdminClient

from caseflow_devstack.errors import DevstackError, ServiceError
from caseflow_devstack.ports import free_port
from caseflow_devstack.processes import ServiceSpec
from caseflow_devstack.pytest_plugin import PgServer
from caseflow_devstack.stack import SERVICE_NAMES, Stack, stack_from_environ
from caseflow_servicekit.clock import ShiftedClock

TESTS = Path(__file__).parent


def _fake() -> ServiceSpec:
    return ServiceSpec("fake", free_port(), module="fake_service")


def _environ(**extra: str) -> dict[str, str]:
    # No mail sink: these stacks test the runner, and fixed sink ports would clash.
    return {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": str(TESTS),
        "CASEFLOW_MAILSINK": "0",
        **extra,
    }


def _external(pg_server: PgServer, kafka_bootstrap: str, **extra: str) -> dict[str, str]:
    return _environ(
        CASEFLOW_DATABASE_URL=pg_server.url("postgres"),
        KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap,
        **extra,
    )


async def _get_json(url: str) -> dict[str, object]:
    async with httpx.AsyncClient() as client:
        response = await client.get(url)
        response.raise_for_status()
        body: dict[str, object] = response.json()
        return body


async def _topics(bootstrap: str) -> list[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return list(await admin.list_topics())
    finally:
        await admin.close()


async def _current_database(url: str) -> str:
    connection = await asyncpg.connect(url)
    try:
        return str(await connection.fetchval("SELECT current_database()"))
    finally:
        await connection.close()


async def test_a_service_gets_its_settings_and_stops_on_sigterm(
    tmp_path: Path, pg_server: PgServer, kafka_bootstrap: str
) -> None:
    pg_server.drop_database("caseflow_fake")
    topic = f"devstack.stack-{uuid.uuid4().hex[:8]}.v1"
    spec = _fake()
    stack = Stack(
        home=tmp_path,
        services=[spec],
        environ=_external(pg_server, kafka_bootstrap),
        topics=[topic],
        clock_file=tmp_path / "clock",
    )
    await stack.start()
    try:
        settings = await _get_json(f"{stack.base_url('fake')}/env")
        assert settings["CASEFLOW_CLOCK_FILE"] == str(tmp_path / "clock")
        assert settings["KAFKA_BOOTSTRAP_SERVERS"] == kafka_bootstrap
        assert settings["FAKE_DATABASE_URL"] == pg_server.url("caseflow_fake", driver="asyncpg")
        assert settings["HTTP_PORT"] == str(spec.port)
        assert settings["CASEFLOW_ENV"] == "dev"
        assert settings["CASEFLOW_AUTH_SECRET"] == (tmp_path / "auth-secret").read_text().strip()
        assert await _current_database(pg_server.url("caseflow_fake")) == "caseflow_fake"
        assert topic in await _topics(kafka_bootstrap)
        assert stack.postgres is None
        assert stack.kafka is None
    finally:
        await stack.stop()

    assert stack.service("fake").returncode == 0
    log = (tmp_path / "logs" / "fake.log").read_text()
    assert "fake: migrated postgresql+asyncpg://" in log
    assert "fake: stopping on SIGTERM" in log


async def test_the_auth_secret_is_generated_once_and_kept(tmp_path: Path) -> None:
    first = Stack(home=tmp_path, services=[_fake()], environ=_environ()).auth_secret
    again = Stack(home=tmp_path, services=[_fake()], environ=_environ()).auth_secret
    given = Stack(
        home=tmp_path, services=[_fake()], environ=_environ(CASEFLOW_AUTH_SECRET="given")
    ).auth_secret
    assert len(first) >= 32
    assert again == first
    assert given == "given"


async def test_a_killed_service_restarts_and_an_unbidden_exit_is_reported(
    tmp_path: Path, pg_server: PgServer, kafka_bootstrap: str
) -> None:
    stack = Stack(
        home=tmp_path, services=[_fake()], environ=_external(pg_server, kafka_bootstrap), topics=[]
    )
    async with stack:
        first_pid = stack.service("fake").pid
        assert await stack.kill_service("fake") == -signal.SIGKILL
        await stack.restart_service("fake")
        settings = await _get_json(f"{stack.base_url('fake')}/env")
        assert settings["pid"] == stack.service("fake").pid != first_pid

        os.kill(settings["pid"], signal.SIGKILL)  # type: ignore[arg-type]
        reason = await asyncio.wait_for(stack.watch(interval=0.02), timeout=10)
        assert reason == f"service fake exited with code {-signal.SIGKILL}"


async def test_stop_kills_a_service_that_ignores_sigterm(
    tmp_path: Path, pg_server: PgServer, kafka_bootstrap: str
) -> None:
    environ = _external(pg_server, kafka_bootstrap, FAKE_IGNORE_SIGTERM="1")
    stack = Stack(home=tmp_path, services=[_fake()], environ=environ, topics=[], stop_grace=0.3)
    async with stack:
        assert await stack.stop_service("fake") == -signal.SIGKILL
    assert "fake: ignoring SIGTERM" in (tmp_path / "logs" / "fake.log").read_text()


@pytest.mark.parametrize(
    ("setting", "message", "log_line"),
    [
        ("FAKE_MIGRATE_EXIT=2", "fake: migrate exited with code 2", "fake: migrated"),
        ("FAKE_CRASH_ON_SERVE=1", "exited with code 3 before it was ready", "on purpose"),
        ("FAKE_NEVER_READY=1", "/health/ready did not answer 200 within 0.5 s", "serving"),
    ],
)
async def test_a_failing_service_is_named_with_its_log(
    tmp_path: Path,
    pg_server: PgServer,
    kafka_bootstrap: str,
    setting: str,
    message: str,
    log_line: str,
) -> None:
    name, _, value = setting.partition("=")
    environ = _external(pg_server, kafka_bootstrap, **{name: value})
    stack = Stack(home=tmp_path, services=[_fake()], environ=environ, topics=[], ready_timeout=0.5)
    try:
        with pytest.raises(ServiceError, match=message) as failure:
            await stack.start()
    finally:
        await stack.stop()
    assert failure.value.service == "fake"
    assert log_line in str(failure.value)


async def test_embedded_infrastructure_is_started_and_stopped(tmp_path: Path) -> None:
    stack = Stack(home=tmp_path, services=[_fake()], environ=_environ(), topics=["devstack.e.v1"])
    async with stack:
        assert stack.postgres is not None
        assert stack.kafka is not None
        assert stack.postgres.running
        assert stack.kafka.running
        assert stack.database_url("fake") == stack.postgres.url("caseflow_fake").replace(
            "postgresql://", "postgresql+asyncpg://"
        )
        assert await _current_database(stack.postgres.url("caseflow_fake")) == "caseflow_fake"
        assert "devstack.e.v1" in await _topics(stack.kafka_bootstrap)
        assert (tmp_path / "postgres" / "PG_VERSION").exists()
    assert not stack.postgres.running
    assert not stack.kafka.running
    assert (tmp_path / "logs" / "postgres.log").exists()


def test_the_environment_switches_infrastructure_and_ports(tmp_path: Path) -> None:
    default = stack_from_environ({"CASEFLOW_BASE_PORT": "9100"}, home=tmp_path)
    assert [(s.name, s.port) for s in default.services.values()] == [
        (name, 9100 + i) for i, name in enumerate(SERVICE_NAMES)
    ]
    assert default.postgres is not None
    assert default.postgres.port == 55432
    assert default.kafka is not None
    assert default.kafka.bootstrap_servers == "127.0.0.1:19092"
    fixed = stack_from_environ(
        {"CASEFLOW_POSTGRES_PORT": "6543", "CASEFLOW_KAFKA_PORT": "19999"}, home=tmp_path
    )
    assert fixed.postgres is not None
    assert fixed.postgres.port == 6543
    assert fixed.kafka is not None
    assert fixed.kafka.bootstrap_servers == "127.0.0.1:19999"

    shared = stack_from_environ(
        {
            "CASEFLOW_DATABASE_URL": "postgresql://u@db:5432/postgres",
            "KAFKA_BOOTSTRAP_SERVERS": "k:9",
        },
        home=tmp_path,
    )
    assert shared.postgres is None
    assert shared.kafka is None
    assert shared.kafka_bootstrap == "k:9"

    every_service = {
        f"{name.upper()}_DATABASE_URL": "postgresql://u@db/x" for name in SERVICE_NAMES
    }
    assert stack_from_environ(every_service, home=tmp_path).postgres is None
    one_service = {"ROUTING_DATABASE_URL": "postgresql://u@db/x"}
    assert stack_from_environ(one_service, home=tmp_path).postgres is not None
    only = stack_from_environ(one_service, home=tmp_path, only=["routing"])
    assert list(only.services) == ["routing"]
    assert only.postgres is None
    with pytest.raises(ValueError, match="unknown services"):
        stack_from_environ({}, home=tmp_path, only=["billing"])


def test_a_clock_file_is_given_to_every_service_and_moved_by_the_stack(tmp_path: Path) -> None:
    stack = Stack(
        home=tmp_path,
        services=[_fake()],
        environ=_environ(KAFKA_BOOTSTRAP_SERVERS="k:9"),
        clock_file=tmp_path / "t",
    )
    assert stack.clock_environ() == {"CASEFLOW_CLOCK_FILE": str(tmp_path / "t")}
    clock = ShiftedClock(tmp_path / "t")
    assert clock.offset == timedelta(0)

    stack.shift_clock(timedelta(hours=2))
    assert clock.offset == timedelta(hours=2)
    to = datetime.now(UTC) + timedelta(days=1)
    assert stack.move_clock(to) == to
    assert to <= clock.now() < to + timedelta(seconds=5)
    with pytest.raises(ValueError, match="cannot be moved back"):
        stack.move_clock(to - timedelta(minutes=1))

    relative = Stack(home=tmp_path, services=[_fake()], environ=_environ(), clock_file=Path("t"))
    assert relative.clock_environ() == {"CASEFLOW_CLOCK_FILE": str(Path.cwd() / "t")}
    named = stack_from_environ({"CASEFLOW_CLOCK_FILE": str(tmp_path / "t")}, home=tmp_path)
    assert named.clock_environ() == {"CASEFLOW_CLOCK_FILE": str(tmp_path / "t")}
    assert "Clock file" in stack.summary()


def test_without_a_clock_file_the_services_run_on_the_machines_clock(tmp_path: Path) -> None:
    stack = stack_from_environ({}, home=tmp_path)
    assert stack.clock_file is None
    assert stack.clock_environ() == {}
    with pytest.raises(DevstackError, match="no clock file"):
        stack.shift_clock(timedelta(hours=1))
    assert not list(tmp_path.iterdir())


_RUNNER = """
import asyncio, sys
from pathlib import Path
from caseflow_devstack.processes import ServiceSpec
from caseflow_devstack.stack import Stack, run

spec = ServiceSpec("fake", int(sys.argv[2]), module="fake_service")
sys.exit(asyncio.run(run(Stack(home=Path(sys.argv[1]), services=[spec], topics=[]))))
"""


async def _start_runner(
    tmp_path: Path, environ: dict[str, str]
) -> tuple[asyncio.subprocess.Process, list[str], int]:
    port = free_port()
    runner = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _RUNNER,
        str(tmp_path),
        str(port),
        env=environ,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    assert runner.stdout is not None
    lines: list[str] = []
    async with asyncio.timeout(60):
        while not lines or lines[-1] != "Caseflow is up.":
            line = await runner.stdout.readline()
            assert line, "the runner ended before the stack was up:\n" + "".join(lines)
            lines.append(line.decode().rstrip("\n"))
    return runner, lines, port


async def _finish(runner: asyncio.subprocess.Process, lines: list[str]) -> int:
    assert runner.stdout is not None
    async with asyncio.timeout(30):
        rest = await runner.stdout.read()
        lines.extend(rest.decode().splitlines())
        return await runner.wait()


async def test_the_runner_prints_the_stack_and_stops_cleanly_on_sigterm(
    tmp_path: Path, pg_server: PgServer, kafka_bootstrap: str
) -> None:
    runner, lines, port = await _start_runner(tmp_path, _external(pg_server, kafka_bootstrap))
    runner.send_signal(signal.SIGTERM)
    assert await _finish(runner, lines) == 0
    output = "\n".join(lines)
    assert f"http://127.0.0.1:{port}/docs" in output
    assert f"Kafka bootstrap   {kafka_bootstrap}" in output
    assert "caseflow-up: stopped" in output
    assert "fake: stopping on SIGTERM" in (tmp_path / "logs" / "fake.log").read_text()


async def test_the_runner_stops_everything_when_a_service_dies(
    tmp_path: Path, pg_server: PgServer, kafka_bootstrap: str
) -> None:
    runner, lines, port = await _start_runner(tmp_path, _external(pg_server, kafka_bootstrap))
    settings = await _get_json(f"http://127.0.0.1:{port}/env")
    os.kill(settings["pid"], signal.SIGKILL)  # type: ignore[arg-type]
    assert await _finish(runner, lines) == 1
    assert f"service fake exited with code {-signal.SIGKILL}" in "\n".join(lines)
