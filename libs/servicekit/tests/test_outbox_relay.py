"""The outbox against a real PostgreSQL, with a fake Kafka transport."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable
from typing import Any
from unittest import mock

import asyncpg
import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import func, select, text
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
        self.cluster: str | None = "cluster-1"
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

    async def cluster_id(self) -> str | None:
        return self.cluster


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
        unrelayed = select(func.count()).where(outbox_table.c.relayed_at.is_(None))
        return int(await conn.scalar(unrelayed) or 0)


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


def _relay(engine: AsyncEngine, transport: FakeTransport, **options: Any) -> OutboxRelay:
    return OutboxRelay(
        engine,
        outbox_table,
        transport,
        metrics=KitMetrics.create(CollectorRegistry()),
        **{"retention": 3600, "cluster_check_interval": 0, **options},
    )


async def _marks(engine: AsyncEngine) -> list[tuple[int, str | None, bool]]:
    async with engine.connect() as conn:
        t = outbox_table
        rows = await conn.execute(
            select(t.c.id, t.c.cluster_id, t.c.relayed_at.is_not(None)).order_by(t.c.id)
        )
        return [(row[0], row[1], row[2]) for row in rows]


async def test_relayed_rows_are_kept_marked_and_sent_again_to_a_new_cluster_in_order(
    engine: AsyncEngine,
) -> None:
    outbox = Outbox(outbox_table, source="/tests")
    async with session_factory(engine)() as session:
        envelopes = await outbox.add_many(session, _events(5))
        await session.commit()
    transport = FakeTransport()
    relay = _relay(engine, transport, batch_size=3)
    new_clusters: list[str] = []

    async def on_new_cluster(cluster: str) -> None:
        new_clusters.append(cluster)

    relay.on_new_cluster.append(on_new_cluster)
    assert await relay.relay_once() == 3
    assert await relay.relay_once() == 2
    assert await relay.relay_once() == 0
    assert await _rows(engine) == 0
    assert [(cluster, relayed) for _, cluster, relayed in await _marks(engine)] == [
        ("cluster-1", True)
    ] * 5
    assert new_clusters == ["cluster-1"]

    transport.cluster = "cluster-2"  # the broker restarted, empty
    assert await relay.relay_once() == 3
    assert await relay.relay_once() == 2
    assert new_clusters == ["cluster-1", "cluster-2"]
    assert [h["ce_id"] for _, _, h in transport.sent] == [e.id for e in envelopes] * 2
    assert {cluster for _, cluster, _ in await _marks(engine)} == {"cluster-2"}
    assert await relay.relay_once() == 0


async def test_a_batch_that_fails_on_the_new_cluster_is_republished_on_the_next_try(
    engine: AsyncEngine,
) -> None:
    outbox = Outbox(outbox_table, source="/tests")
    async with session_factory(engine)() as session:
        await outbox.add_many(session, _events(2))
        await session.commit()
    transport = FakeTransport()
    relay = _relay(engine, transport)
    assert await relay.relay_once() == 2
    transport.cluster, transport.failures = "cluster-2", 1
    with pytest.raises(ConnectionError):
        await relay.relay_once()
    assert await relay.relay_once() == 2
    assert {cluster for _, cluster, _ in await _marks(engine)} == {"cluster-2"}


async def test_a_relay_without_retention_deletes_what_kafka_acknowledged(
    engine: AsyncEngine,
) -> None:
    outbox = Outbox(outbox_table, source="/tests")
    async with session_factory(engine)() as session:
        await outbox.add_many(session, _events(4))
        await session.commit()
    relay = _relay(engine, FakeTransport(), retention=0)
    assert await relay.relay_once() == 4
    assert await _marks(engine) == []


async def test_retention_deletes_old_rows_in_batches_and_keeps_young_and_unrelayed_ones(
    engine: AsyncEngine,
) -> None:
    from datetime import timedelta

    from caseflow_servicekit.retention import Retention

    outbox = Outbox(outbox_table, source="/tests")
    async with session_factory(engine)() as session:
        await outbox.add_many(session, _events(30))
        await session.commit()
    async with engine.begin() as conn:
        # 25 rows relayed two hours ago (one of them only just), 3 a minute ago, 2 never.
        await conn.execute(
            text(
                "UPDATE outbox SET relayed_at = now() - make_interval(mins => "
                "CASE WHEN id <= 25 THEN 120 ELSE 1 END), cluster_id = 'c' WHERE id <= 28"
            )
        )
        await conn.execute(
            text(
                "INSERT INTO inbox (consumer, event_id, topic, received_at) "
                "SELECT 'c', 'e' || i, 't', now() - make_interval(days => i) "
                "FROM generate_series(1, 10) AS i"
            )
        )
    metrics = KitMetrics.create(CollectorRegistry())
    retention = Retention(engine, metrics=metrics, batch_size=4)
    retention.add("outbox", "relayed_at", timedelta(hours=1))
    retention.add("inbox", "received_at", timedelta(days=7, hours=12))
    assert await retention.purge() == {"outbox": 25, "inbox": 3}
    assert [(i, relayed) for i, _, relayed in await _marks(engine)] == [
        *[(i, True) for i in range(26, 29)],
        (29, False),
        (30, False),
    ]
    assert metrics.retention_deleted.labels(table="outbox")._value.get() == 25
    assert await retention.purge() == {"outbox": 0, "inbox": 0}


def test_retention_refuses_bad_targets_and_an_inbox_window_shorter_than_the_outbox() -> None:
    from datetime import timedelta

    from pydantic import ValidationError

    from caseflow_servicekit import ServiceSettings
    from caseflow_servicekit.retention import Retention

    with pytest.raises(ValidationError, match="INBOX_RETENTION_SECONDS"):
        ServiceSettings(
            database_url="postgresql://x/y",
            outbox_retention_seconds=7200,
            inbox_retention_seconds=3600,
        )
    settings = ServiceSettings(database_url="postgresql://x/y", outbox_retention_seconds=0)
    assert settings.inbox_retention_seconds == 604_800
    retention = Retention(mock.Mock(), metrics=KitMetrics.create(CollectorRegistry()))
    with pytest.raises(ValueError, match="identifier"):
        retention.add("outbox; DROP TABLE x", "relayed_at", timedelta(hours=1))
    with pytest.raises(ValueError, match="positive"):
        retention.add("outbox", "relayed_at", timedelta(0))
