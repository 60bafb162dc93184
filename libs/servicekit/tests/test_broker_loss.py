"""A broker that loses its log: the kit sends again what it relayed there, and applies it once.

The embedded broker keeps everything in memory, so a restart is a new, empty cluster. The test
starts its own broker (so it can restart it) and a real PostgreSQL; a small service writes
events through its outbox and applies them from the broker with a slow handler, so that part
of them is still unconsumed when the broker restarts.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from prometheus_client import generate_latest
from sqlalchemy import BigInteger, Column, Identity, Integer, String, Table, func, insert, select
from sqlalchemy.ext.asyncio import create_async_engine

import caseflow_contracts as c
from caseflow_devstack.broker import EmbeddedKafka
from caseflow_servicekit import Kit, ServiceSettings, SqlUnitOfWork, new_metadata
from caseflow_servicekit.testing import eventually

pytestmark = pytest.mark.service

EVENTS = 300
EXTERNAL = 60
KEYS = 7

metadata = new_metadata()
applied = Table(
    "applied",
    metadata,
    # No unique key on the event: an event applied twice would show as two rows.
    Column("seq", BigInteger, Identity(always=False), primary_key=True),
    Column("event_id", String(200), nullable=False),
    Column("key", String(50), nullable=False),
    Column("n", Integer, nullable=False),
)
outbox = metadata.tables["outbox"]


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[EmbeddedKafka]:
    with EmbeddedKafka(log_file=tmp_path / "tansu.log", exit_with_parent=True) as kafka:
        yield kafka


@pytest.fixture
async def kit(fresh_database: str, broker: EmbeddedKafka) -> AsyncIterator[Kit]:
    engine = create_async_engine(fresh_database.replace("postgresql://", "postgresql+asyncpg://"))
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    await engine.dispose()
    run = uuid.uuid4().hex[:8]
    topic = f"test-{run}.loss.v1"
    settings = ServiceSettings(
        database_url=fresh_database,
        kafka_bootstrap_servers=broker.bootstrap_servers,
        consumer_batch_size=10,
        kafka_session_timeout_ms=6000,
        kafka_heartbeat_interval_ms=500,
        kafka_rebalance_timeout_ms=3000,
    )
    the_kit = Kit(
        service=f"loss-{run}", settings=settings, metadata=metadata, configure_process=False
    )
    the_kit.publishes.append(topic)

    async def handler(event: c.Event, envelope: c.Envelope, uow: SqlUnitOfWork) -> None:
        assert isinstance(event, c.CaseOpened)
        await asyncio.sleep(0.01)  # slow enough that the broker restarts mid-way
        key, n = event.subject.split(":")
        await uow.session.execute(insert(applied).values(event_id=envelope.id, key=key, n=int(n)))

    the_kit.consumers.subscribe(
        topic, handler, uow_factory=lambda: SqlUnitOfWork(the_kit.sessions, the_kit.outbox)
    )
    await the_kit.start()
    try:
        yield the_kit
    finally:
        await the_kit.stop()


async def _scalar(kit: Kit, statement: object) -> int:
    async with kit.engine.connect() as conn:
        return int(await conn.scalar(statement) or 0)  # type: ignore[call-overload]


async def test_events_relayed_to_a_broker_that_lost_them_are_sent_again_and_applied_once(
    kit: Kit, broker: EmbeddedKafka
) -> None:
    topic = kit.publishes[0]
    opened = c.sample("case.opened")
    # Events written straight to the broker, not through an outbox: the restart loses them
    # for good, and the new log is shorter than the old, so a consumer that kept its old
    # position would skip events of the new log.
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap_servers)
    await producer.start()
    try:
        for i in range(EXTERNAL):
            key = f"k{i % KEYS}"
            event = opened.model_copy(update={"subject": f"{key}:{i - EXTERNAL}"})
            envelope = c.new_envelope(event, source="/tests")
            headers = [(k, v.encode()) for k, v in c.to_headers(envelope).items()]
            await producer.send_and_wait(topic, c.encode(event), key=key.encode(), headers=headers)
    finally:
        await producer.stop()
    uow = SqlUnitOfWork(kit.sessions, kit.outbox)
    async with uow:
        for i in range(EVENTS):
            key = f"k{i % KEYS}"
            event = opened.model_copy(update={"subject": f"{key}:{i}"})
            uow.record(event, key=key, topic=topic)
        await uow.commit()
    first_cluster = broker.cluster_id

    async def all_relayed_part_applied() -> bool | None:
        unrelayed = await _scalar(
            kit, select(func.count()).select_from(outbox).where(outbox.c.relayed_at.is_(None))
        )
        done = await _scalar(kit, select(func.count()).select_from(applied))
        return True if unrelayed == 0 and done >= EXTERNAL + EVENTS // 5 else None

    await eventually(all_relayed_part_applied, timeout=60)
    before = await _scalar(kit, select(func.count()).select_from(applied))
    assert before < EXTERNAL + EVENTS, "the handler is too fast for the broker to restart mid-way"

    await asyncio.to_thread(broker.restart)
    assert broker.cluster_id != first_cluster

    async def all_applied() -> bool | None:
        count = await _scalar(kit, select(func.count(func.distinct(applied.c.event_id))))
        return True if count == EXTERNAL + EVENTS else None

    await eventually(all_applied, timeout=90)

    # The relay learns of the new cluster at its next check, which may come after the events
    # still in the consumer's hands were applied: every kept row is then sent again.
    async def all_sent_again() -> bool | None:
        on_new_cluster = await _scalar(
            kit,
            select(func.count())
            .select_from(outbox)
            .where(outbox.c.cluster_id == broker.cluster_id),
        )
        return True if on_new_cluster == EVENTS else None

    await eventually(all_sent_again, timeout=90)
    await asyncio.sleep(1.0)  # time for a late duplicate to show
    assert await _scalar(kit, select(func.count()).select_from(applied)) == EXTERNAL + EVENTS, (
        "every event is applied exactly once"
    )
    text = generate_latest(kit.registry).decode()
    assert f'caseflow_outbox_republished_total{{topic="{topic}"}} {float(EVENTS)}' in text

    # Per key, the events were applied in the order they were written.
    async with kit.engine.connect() as conn:
        rows = (
            await conn.execute(select(applied.c.key, applied.c.n).order_by(applied.c.seq))
        ).all()
    by_key: dict[str, list[int]] = {}
    for key, n in rows:
        by_key.setdefault(key, []).append(n)
    assert all(ns == sorted(ns) for ns in by_key.values())
