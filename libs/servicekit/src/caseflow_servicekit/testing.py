"""Helpers for testing a service: run it against a database, publish events into it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar
from unittest import mock

import httpx
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from faststream.kafka import KafkaBroker
from sqlalchemy import Connection, MetaData
from sqlalchemy.ext.asyncio import create_async_engine

from caseflow_contracts import Envelope, Event, encode, new_envelope, partition_key, to_headers
from caseflow_servicekit.auth import mint_token
from caseflow_servicekit.migrations import upgrade
from caseflow_servicekit.runtime import ServiceApp
from caseflow_servicekit.settings import async_database_url

T = TypeVar("T")


@asynccontextmanager
async def running(app: ServiceApp, *, migrations: Path) -> AsyncIterator[httpx.AsyncClient]:
    """Migrate the service's database, start it, and give an HTTP client bound to it.

    Inside FastStream's `TestKafkaBroker` the outbox is relayed through the in-memory broker.
    """
    if isinstance(app.kit.kafka.start, mock.Mock):
        app.kit.relay_through_broker()
    await asyncio.to_thread(upgrade, app.kit.settings.database_url, migrations)
    await app.kit.start()
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
            yield client
    finally:
        await app.kit.stop()


def bearer(app: ServiceApp, *roles: str, subject: str = "tester") -> dict[str, str]:
    """An Authorization header for a token with `roles`, signed with the service's secret."""
    secret = app.kit.settings.auth_secret.get_secret_value()
    token = mint_token(secret, subject=subject, roles=roles or ("admin",), ttl=timedelta(hours=1))
    return {"Authorization": f"Bearer {token}"}


async def publish_event(
    broker: KafkaBroker,
    event: Event,
    *,
    topic: str,
    source: str = "/caseflow/tests",
    event_id: str | None = None,
    subject: str | None = None,
    extra_headers: dict[str, str] | None = None,
) -> Envelope:
    """Publish `event` as a CloudEvent in binary mode, the way the outbox relay does."""
    envelope = new_envelope(event, source=source, subject=subject, id=event_id)
    headers = {**to_headers(envelope), **(extra_headers or {})}
    await broker.publish(
        encode(event), topic=topic, key=partition_key(event).encode(), headers=headers
    )
    return envelope


async def eventually(
    probe: Callable[[], Awaitable[T | None]], *, timeout: float = 20.0, interval: float = 0.05
) -> T:
    """Poll `probe` until it returns something other than None, or fail after `timeout`."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await probe()
        if value is not None:
            return value
        if asyncio.get_running_loop().time() > deadline:
            msg = f"condition not met within {timeout}s"
            raise AssertionError(msg)
        await asyncio.sleep(interval)


__all__: Sequence[str] = ("bearer", "eventually", "publish_event", "running")


async def on_connection(database_url: str, probe: Callable[[Connection], T]) -> T:
    """What `probe` finds on a synchronous connection to the database at `database_url`."""
    engine = create_async_engine(async_database_url(database_url))
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(probe)
    finally:
        await engine.dispose()


def schema_differences(metadata: MetaData) -> Callable[[Connection], list[Any]]:
    """A probe for `on_connection`: how the database's schema differs from `metadata`."""

    def differences(connection: Connection) -> list[Any]:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "compare_server_default": True}
        )
        return list(compare_metadata(context, metadata))

    return differences
