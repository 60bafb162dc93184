"""The whole stack as processes, started once for the end-to-end tests of this folder.

The tests share it, in an order that keeps each meaningful: the stories first, then the
faults (which kill services and restart PostgreSQL and the broker), and last the API fuzzer
(which leaves whatever data it made up behind). The story that moves the services' clock
forward has a stack of its own (`running_suite`), on a broker of its own: time in a running
stack only goes forward, and a move would make every other test's open case fall due with it.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from caseflow_devstack import PgServer, Stack
from caseflow_devstack.ports import free_port
from caseflow_devstack.processes import ServiceSpec
from caseflow_devstack.stack import SERVICE_NAMES

API_KEY = "e2e-web-key"
# Modules run in this order; any other runs first.
_LATE_MODULES = ("test_faults", "test_api_fuzz")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        module = item.path.stem
        return _LATE_MODULES.index(module) + 1 if module in _LATE_MODULES else 0

    items.sort(key=rank)  # stable: within a rank, the collected order stays


@dataclass
class Suite:
    """The running stack and an HTTP client for each service."""

    stack: Stack
    http: dict[str, httpx.AsyncClient]
    token: str

    def agent(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@contextlib.asynccontextmanager
async def running_suite(
    home: Path,
    pg_server: PgServer,
    *,
    prefix: str,
    kafka_bootstrap: str | None = None,
    clock_file: Path | None = None,
) -> AsyncIterator[Suite]:
    """Every service as a process, each on a database of its own named `<prefix>_<service>`
    on the test server; on the given broker, or on one of the stack's own when none is."""
    environ = {
        **os.environ,
        "CASEFLOW_DATABASE_URL": pg_server.url("postgres"),
        "CASEFLOW_CHANNEL_API_KEYS": f"web:{API_KEY}",
        "CASEFLOW_LOG_JSON": "true",
        # A killed member's partitions move on within seconds; a failing event gives up soon.
        "KAFKA_SESSION_TIMEOUT_MS": "6000",
        "KAFKA_HEARTBEAT_INTERVAL_MS": "500",
        "KAFKA_REBALANCE_TIMEOUT_MS": "3000",
        "CONSUMER_MAX_ATTEMPTS": "3",
        "RETRY_BACKOFF_SECONDS": "0.05",
        "SLA_TIMER_INTERVAL_SECONDS": "1",
        "ROUTING_UPKEEP_SECONDS": "1",
        # The tests send hundreds of submissions from one address with one key.
        "INTAKE_RATE_LIMIT_PER_ADDRESS": "0",
        "INTAKE_RATE_LIMIT_PER_KEY": "0",
    }
    environ.pop("KAFKA_BOOTSTRAP_SERVERS", None)
    environ.pop("CASEFLOW_CLOCK_FILE", None)
    if kafka_bootstrap is not None:
        environ["KAFKA_BOOTSTRAP_SERVERS"] = kafka_bootstrap
    # Each stack gets its own databases on the shared test server.
    environ.update(
        {
            f"{name.upper()}_DATABASE_URL": pg_server.create_database(f"{prefix}_{name}")
            for name in SERVICE_NAMES
        }
    )
    services = [ServiceSpec(name, free_port()) for name in SERVICE_NAMES]
    async with Stack(
        home=home,
        services=services,
        environ=environ,
        ready_timeout=90,
        smtp_port=free_port(),
        mailsink_smtp_port=free_port(),
        mailsink_http_port=free_port(),
        clock_file=clock_file,
    ) as stack:
        token = stack.admin_token()
        assert token is not None
        clients = {
            name: httpx.AsyncClient(base_url=stack.base_url(name), timeout=30)
            for name in SERVICE_NAMES
        }
        try:
            yield Suite(stack, clients, token)
        finally:
            for client in clients.values():
                await client.aclose()


@pytest.fixture(scope="package")
async def suite(
    tmp_path_factory: pytest.TempPathFactory, kafka_bootstrap: str, pg_server: PgServer
) -> AsyncIterator[Suite]:
    home: Path = tmp_path_factory.mktemp("stack")
    async with running_suite(
        home, pg_server, prefix="e2e", kafka_bootstrap=kafka_bootstrap
    ) as suite:
        yield suite
