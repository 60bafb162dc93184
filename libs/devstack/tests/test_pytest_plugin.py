import os
import re
import subprocess
import sys
from contextlib import ExitStack
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
import pytest
from aiokafka.admin import AIOKafkaAdminClient

from caseflow_devstack.blocking import run_blocking
from caseflow_devstack.pytest_plugin import (
    PgServer,
    docker_available,
    open_broker,
    open_pg_server,
)


def _no_workdir() -> Path:
    raise AssertionError("nothing should be started when the environment names a server")


async def _databases(server: PgServer) -> set[str]:
    connection = await asyncpg.connect(server.url("postgres"))
    try:
        rows = await connection.fetch("SELECT datname FROM pg_database")
        return {row["datname"] for row in rows}
    finally:
        await connection.close()


async def test_fresh_database_is_new_empty_and_reachable(
    fresh_database: str, pg_server: PgServer
) -> None:
    assert fresh_database.startswith("postgresql://")
    connection = await asyncpg.connect(fresh_database)
    try:
        tables = await connection.fetchval(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
        )
        await connection.execute("CREATE TABLE scratch (id int)")
    finally:
        await connection.close()
    assert tables == 0
    assert fresh_database.rsplit("/", 1)[1] in await _databases(pg_server)


async def test_created_databases_are_unique_and_dropped_on_request(pg_server: PgServer) -> None:
    first = pg_server.create_database("plugin")
    second = pg_server.create_database("plugin", driver="asyncpg")
    first_name, second_name = first.rsplit("/", 1)[1], second.rsplit("/", 1)[1]
    assert first_name != second_name
    assert first_name.startswith("plugin_")
    assert second.startswith("postgresql+asyncpg://")
    assert {first_name, second_name} <= await _databases(pg_server)

    pg_server.drop_database(first)
    pg_server.drop_database(second_name)
    assert not {first_name, second_name} & await _databases(pg_server)


async def test_kafka_bootstrap_answers_metadata(kafka_bootstrap: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        assert isinstance(await admin.list_topics(), list)
    finally:
        await admin.close()


def test_urls_in_the_environment_come_first(pg_server: PgServer) -> None:
    environ = {
        "CASEFLOW_TEST_DATABASE_URL": pg_server.url("postgres"),
        "CASEFLOW_TEST_KAFKA_BOOTSTRAP": "broker.example:9092",
    }
    with ExitStack() as resources:
        server = open_pg_server(resources, environ=environ, workdir=_no_workdir)
        bootstrap = open_broker(resources, environ=environ, workdir=_no_workdir).bootstrap
    assert server.server_url == pg_server.url("postgres")
    assert bootstrap == "broker.example:9092"


def test_docker_can_be_switched_off() -> None:
    assert docker_available({"CASEFLOW_TEST_DOCKER": "0"}) is False


def test_without_docker_or_urls_the_embedded_servers_start_and_stop(tmp_path: Path) -> None:
    environ = {"CASEFLOW_TEST_DOCKER": "0"}
    with ExitStack() as resources:
        server = open_pg_server(resources, environ=environ, workdir=lambda: tmp_path)
        database = server.create_database("embedded")
        bootstrap = open_broker(resources, environ=environ, workdir=lambda: tmp_path).bootstrap
        assert database.startswith(f"{server.server_url.rsplit('/', 1)[0]}/embedded_")
        assert bootstrap.startswith("127.0.0.1:")
        assert (tmp_path / "data" / "PG_VERSION").exists()
    with pytest.raises(ConnectionRefusedError):
        run_blocking(asyncpg.connect(server.url("postgres")))


def test_the_fixtures_are_registered_for_every_test_run(tmp_path: Path) -> None:
    listing = subprocess.run(
        [sys.executable, "-m", "pytest", "--fixtures", "-p", "no:cacheprovider", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        check=False,
        timeout=120,
    )
    assert "fixtures defined from caseflow_devstack.pytest_plugin" in listing.stdout
    for fixture in ("pg_server", "kafka_bootstrap", "fresh_database"):
        assert re.search(rf"^{fixture} .*pytest_plugin\.py", listing.stdout, re.MULTILINE), fixture
