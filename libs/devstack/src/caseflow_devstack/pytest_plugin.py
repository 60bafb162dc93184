"""PostgreSQL and Kafka for Caseflow's tests: the fixtures `pg_server`, `kafka_bootstrap` and
`fresh_database`, registered for the whole workspace through the `pytest11` entry point.

Infrastructure comes from, in order:

1. the environment: `CASEFLOW_TEST_DATABASE_URL` (a server URL whose user may CREATE
   DATABASE) and `CASEFLOW_TEST_KAFKA_BOOTSTRAP`;
2. testcontainers, when a Docker engine answers (`CASEFLOW_TEST_DOCKER=0` skips the check;
   `CASEFLOW_TEST_POSTGRES_IMAGE` and `CASEFLOW_TEST_KAFKA_IMAGE` change the images);
3. the embedded PostgreSQL and Tansu.

Each is started at most once per test session, and only when a test asks for it. The
fixtures are synchronous, so they serve tests on any event loop.
"""

from __future__ import annotations

import functools
import os
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from caseflow_devstack.blocking import run_blocking
from caseflow_devstack.databases import (
    as_asyncpg,
    as_libpq,
    database_of,
    drop_database,
    ensure_database,
    with_database,
)

DATABASE_URL_VARIABLE = "CASEFLOW_TEST_DATABASE_URL"
KAFKA_BOOTSTRAP_VARIABLE = "CASEFLOW_TEST_KAFKA_BOOTSTRAP"
DOCKER_SWITCH_VARIABLE = "CASEFLOW_TEST_DOCKER"
POSTGRES_IMAGE = "pgvector/pgvector:pg17"
# testcontainers' KafkaContainer drives the Confluent image's start scripts, so its image
# must be one of those (run in KRaft mode, no ZooKeeper).
KAFKA_IMAGE = "confluentinc/cp-kafka:7.6.0"


class PgServer:
    """A PostgreSQL server tests may create databases on.

    `embedded` is the server process when this run started it (so fault tests may restart
    it), None when it came from the environment or a container.
    """

    def __init__(self, server_url: str, *, embedded: Any = None) -> None:
        self.server_url = as_libpq(server_url)
        self.embedded = embedded

    def url(self, database: str, *, driver: str | None = None) -> str:
        """The URL of `database`: `postgresql://...`, or `postgresql+asyncpg://...` for
        `driver="asyncpg"`."""
        url = with_database(self.server_url, database)
        if driver is None:
            return url
        if driver != "asyncpg":
            raise ValueError(f"unsupported driver {driver!r}: only asyncpg")
        return as_asyncpg(url)

    def create_database(self, name: str = "test", *, driver: str | None = None) -> str:
        """Create a new, empty database named `<name>_<random>`; returns its URL."""
        database = f"{name}_{uuid.uuid4().hex[:12]}"
        run_blocking(ensure_database(self.server_url, database))
        return self.url(database, driver=driver)

    def drop_database(self, database: str) -> None:
        """Drop `database` (a name or a URL), closing connections still open to it."""
        name = database_of(database) if "://" in database else database
        run_blocking(drop_database(self.server_url, name))

    def __repr__(self) -> str:
        return f"PgServer({self.server_url!r})"


@functools.cache
def _docker_answers() -> bool:
    try:
        import docker  # type: ignore[import-untyped]

        client = docker.from_env(timeout=2)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:  # no library, no engine, no permission: all mean "no Docker"
        return False


def docker_available(environ: Mapping[str, str]) -> bool:
    """Whether tests may use testcontainers: a Docker engine answers and it is not disabled."""
    if environ.get(DOCKER_SWITCH_VARIABLE, "").lower() in {"0", "false", "no", "off"}:
        return False
    return _docker_answers()


def _postgres_container(image: str) -> Any:
    try:
        from testcontainers.community.postgres import PostgresContainer
    except ImportError:  # testcontainers before the community split
        from testcontainers.postgres import PostgresContainer
    return PostgresContainer(image, driver=None)


def _kafka_container(image: str) -> Any:
    try:
        from testcontainers.community.kafka import KafkaContainer
    except ImportError:  # testcontainers before the community split
        from testcontainers.kafka import KafkaContainer
    return KafkaContainer(image).with_kraft()


def open_pg_server(
    resources: ExitStack, *, environ: Mapping[str, str], workdir: Callable[[], Path]
) -> PgServer:
    """The test PostgreSQL server, from the first source that has one.

    Whatever is started is stopped when `resources` closes; `workdir` gives a fresh directory
    for an embedded server's data and log.
    """
    if url := environ.get(DATABASE_URL_VARIABLE):
        return PgServer(url)
    if docker_available(environ):
        image = environ.get("CASEFLOW_TEST_POSTGRES_IMAGE") or POSTGRES_IMAGE
        container = resources.enter_context(_postgres_container(image))
        return PgServer(str(container.get_connection_url()))
    from caseflow_devstack.postgres import EmbeddedPostgres

    directory = workdir()
    server = resources.enter_context(
        EmbeddedPostgres(
            directory / "data", log_file=directory / "postgres.log", exit_with_parent=True
        )
    )
    return PgServer(server.url(), embedded=server)


class TestBroker:
    """The test Kafka broker: its bootstrap address and, when this run started it, the
    embedded broker process (so fault tests may restart it)."""

    __test__ = False  # not a test class, whatever its name says to pytest

    def __init__(self, bootstrap: str, *, embedded: Any = None) -> None:
        self.bootstrap = bootstrap
        self.embedded = embedded


def open_broker(
    resources: ExitStack, *, environ: Mapping[str, str], workdir: Callable[[], Path]
) -> TestBroker:
    """The test Kafka broker, from the first source that has one."""
    if bootstrap := environ.get(KAFKA_BOOTSTRAP_VARIABLE):
        return TestBroker(bootstrap)
    if docker_available(environ):
        from caseflow_devstack.broker import wait_for_kafka

        image = environ.get("CASEFLOW_TEST_KAFKA_IMAGE") or KAFKA_IMAGE
        container = resources.enter_context(_kafka_container(image))
        bootstrap = str(container.get_bootstrap_server())
        run_blocking(wait_for_kafka(bootstrap, within=60.0))
        return TestBroker(bootstrap)
    from caseflow_devstack.broker import EmbeddedKafka

    broker = resources.enter_context(
        EmbeddedKafka(log_file=workdir() / "tansu.log", exit_with_parent=True)
    )
    return TestBroker(broker.bootstrap_servers, embedded=broker)


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PgServer]:
    """A PostgreSQL server for the whole test session (see the module for its source)."""
    with ExitStack() as resources:
        yield open_pg_server(
            resources,
            environ=os.environ,
            workdir=lambda: tmp_path_factory.mktemp("postgres", numbered=True),
        )


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestBroker]:
    """The Kafka broker for the whole test session."""
    with ExitStack() as resources:
        yield open_broker(
            resources,
            environ=os.environ,
            workdir=lambda: tmp_path_factory.mktemp("kafka", numbered=True),
        )


@pytest.fixture(scope="session")
def kafka_bootstrap(kafka_broker: TestBroker) -> str:
    """The bootstrap address of the Kafka broker for the whole test session."""
    return kafka_broker.bootstrap


@pytest.fixture
def fresh_database(pg_server: PgServer) -> Iterator[str]:
    """A new empty database for one test, as a plain `postgresql://` URL (service settings
    add the asyncpg driver themselves); dropped after the test."""
    url = pg_server.create_database("test")
    yield url
    pg_server.drop_database(url)
