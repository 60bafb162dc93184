"""The outbox against a real PostgreSQL, with a fake Kafka transport."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable
from typing import Any

import asyncpg
import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

import caseflow_contracts as c
from caseflow_servicekit import create_engine, new_metadata, session_factory
from caseflow_servicekit.db import OUTBOX_CHANNEL
from caseflow_servicekit.metrics import KitMetrics
from caseflow_servicekit.outbox import Outbox, OutboxRelay, Pending

pytestmark = pytest.mark.service

metadata = new_metadata()
outbox_table = metadata.tables["outbox"]


class FakeTransport:
    """Records what it is given; fails the first `failures` sends."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.sent: list[tuple[str, bytes, dict[str, str]]] = []

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def send(
        self, topic: str, payload: bytes, *, key: bytes, headers: dict[str, str]
    ) -> Awaitable[Any]:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if self.failures:
            self.failures -= 1
            future.set_exception(ConnectionError("the broker is away"))
        else:
            self.sent.append((topic, key, headers))
            future.set_result(None)
        return future


@pytest.fixture
async def engine(fresh_database: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(fresh_database)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    yield engine
    await engine.dispose()


def _events(n: int) -> list[Pending]:
    opened = c.sample("case.opened")
    return [
        Pending(opened.model_copy(update={"subject": f"request {i}"}), key=f"k{i % 2}")
        for i in range(n)
    ]


async def _rows(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(outbox_table)) or 0)


async def test_a_failed_send_keeps_the_batch_and_the_next_try_sends_it_in_order(
    engine: AsyncEngine,
) -> None:
    outbox = Outbox(outbox_table, source="/tests")
    async with session_factory(engine)() as session:
        envelopes = await outbox.add_many(session, _events(5))
        await session.commit()
    transport = FakeTransport(failures=1)
    relay = OutboxRelay(
        engine, outbox_table, transport, metrics=KitMetrics.create(CollectorRegistry())
    )

    with pytest.raises(ConnectionError):
        await relay.relay_once()
    assert await _rows(engine) == 5, "nothing is lost when Kafka fails"

    assert await relay.relay_once() == 5
    assert await _rows(engine) == 0
    assert [h["ce_id"] for _, _, h in transport.sent[-5:]] == [e.id for e in envelopes]
    assert {topic for topic, _, _ in transport.sent} == {"cases.case.v1"}
    assert await relay.relay_once() == 0


async def test_committing_outbox_rows_notifies_the_relay_and_a_rollback_does_not(
    engine: AsyncEngine, fresh_database: str
) -> None:
    notified: asyncio.Queue[str] = asyncio.Queue()
    listener = await asyncpg.connect(fresh_database)
    await listener.add_listener(OUTBOX_CHANNEL, lambda *args: notified.put_nowait(args[2]))
    outbox = Outbox(outbox_table, source="/tests")
    try:
        async with session_factory(engine)() as session:
            await outbox.add_many(session, _events(3))
            await session.rollback()
        await asyncio.sleep(0.2)
        assert notified.empty()
        async with session_factory(engine)() as session:
            await outbox.add_many(session, _events(3))
            await outbox.add_many(session, _events(1))
            await session.commit()
        assert await asyncio.wait_for(notified.get(), timeout=5) == OUTBOX_CHANNEL
        await asyncio.sleep(0.2)
        assert notified.empty(), "one notification per transaction"
    finally:
        await listener.close()


async def test_stop_ends_the_relay_even_when_woken_at_the_same_moment(
    engine: AsyncEngine,
) -> None:
    relay = OutboxRelay(
        engine,
        outbox_table,
        FakeTransport(),
        metrics=KitMetrics.create(CollectorRegistry()),
        poll_interval=0.05,
    )
    for _ in range(3):
        await relay.start()
        await asyncio.sleep(0.2)  # idle, waiting to be woken
        # A wake-up and the cancellation in the same turn of the event loop: the relay
        # must still end, not take the wake-up and poll on forever.
        relay.wake()
        async with asyncio.timeout(5):
            await relay.stop()
