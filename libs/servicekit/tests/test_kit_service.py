"""The kit against a real PostgreSQL and a real Kafka-protocol broker.

A small service applies CaseOpened events into a table and publishes one event per applied
event through the outbox. The tests check the reliability rules of DESIGN.md: offsets after
commit, the inbox against redelivery, bounded retries then the dead-letter topic, the outbox
relaying in order with the trace context, and the flow going on past a poison message.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from prometheus_client import generate_latest
from sqlalchemy import Column, String, Table, Uuid, func, insert, select
from sqlalchemy.ext.asyncio import create_async_engine

import caseflow_contracts as c
from caseflow_servicekit import Delivered, Kit, ServiceSettings, SqlUnitOfWork, new_metadata
from caseflow_servicekit.testing import eventually

pytestmark = pytest.mark.service

metadata = new_metadata()
applied = Table(
    "applied",
    metadata,
    Column("event_id", String(200), primary_key=True),
    Column("case_id", Uuid, nullable=False),
    Column("subject", String(500), nullable=False),
)

POISON = "poison: the handler always fails on this one"


def _opened(subject: str, case_id: uuid.UUID | None = None) -> c.CaseOpened:
    return c.sample("case.opened").model_copy(  # type: ignore[return-value]
        update={
            "case_id": case_id or uuid.uuid4(),
            "subject": subject,
            "occurred_at": datetime.now(UTC),
        }
    )


async def _topics(bootstrap: str, *names: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(n, 3 if not n.endswith(".dlq") else 1, 1) for n in names]
        )
    finally:
        await admin.close()


async def _drain(bootstrap: str, topic: str, count: int, timeout: float = 30.0) -> list[object]:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"drain-{uuid.uuid4()}",
        auto_offset_reset="earliest",
        session_timeout_ms=6000,
        heartbeat_interval_ms=500,
    )
    await consumer.start()
    records: list[object] = []
    try:
        async with asyncio.timeout(timeout):
            while len(records) < count:
                batch = await consumer.getmany(timeout_ms=500)
                for recs in batch.values():
                    records.extend(recs)
    finally:
        await consumer.stop()
    return records


class _Kit:
    def __init__(self, kit: Kit, topic_in: str, topic_out: str) -> None:
        self.kit, self.topic_in, self.topic_out = kit, topic_in, topic_out


@pytest.fixture
async def kit(fresh_database: str, kafka_bootstrap: str) -> AsyncIterator[_Kit]:
    async with _running_kit(fresh_database, kafka_bootstrap) as running:
        yield running


@contextlib.asynccontextmanager
async def _running_kit(
    fresh_database: str, kafka_bootstrap: str, *, batches: list[int] | None = None
) -> AsyncIterator[_Kit]:
    """A kit whose handler applies one event; given `batches`, also a batch handler that
    applies a batch's events with one insert and notes each batch's size there."""
    engine = create_async_engine(fresh_database.replace("postgresql://", "postgresql+asyncpg://"))
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    await engine.dispose()
    run = uuid.uuid4().hex[:8]
    topic_in, topic_out = f"test-{run}.in.v1", f"test-{run}.out.v1"
    await _topics(kafka_bootstrap, topic_in, c.dlq(topic_in), topic_out)
    settings = ServiceSettings(
        database_url=fresh_database,
        kafka_bootstrap_servers=kafka_bootstrap,
        consumer_max_attempts=3,
        retry_backoff_seconds=0.01,
        kafka_session_timeout_ms=6000,
        kafka_heartbeat_interval_ms=500,
        kafka_rebalance_timeout_ms=3000,
    )
    the_kit = Kit(
        service=f"kit-{run}", settings=settings, metadata=metadata, configure_process=False
    )

    async def handler(event: c.Event, envelope: c.Envelope, uow: SqlUnitOfWork) -> None:
        assert isinstance(event, c.CaseOpened)
        if event.subject == POISON:
            raise RuntimeError("cannot apply this case")
        await uow.session.execute(
            insert(applied).values(
                event_id=envelope.id, case_id=event.case_id, subject=event.subject
            )
        )
        _escalate(event, uow, topic_out)

    async def batch_handler(batch: Sequence[Delivered], uow: SqlUnitOfWork) -> None:
        assert batches is not None
        batches.append(len(batch))
        rows = []
        for delivered in batch:
            event = delivered.event
            assert isinstance(event, c.CaseOpened)
            if event.subject == POISON:
                raise RuntimeError("cannot apply this case")
            rows.append(
                {
                    "event_id": delivered.envelope.id,
                    "case_id": event.case_id,
                    "subject": event.subject,
                }
            )
            with delivered.scope():
                _escalate(event, uow, topic_out)
        await uow.session.execute(insert(applied), rows)

    the_kit.consumers.subscribe(
        topic_in,
        handler,
        uow_factory=lambda: SqlUnitOfWork(the_kit.sessions, the_kit.outbox),
        events={"case.opened"},
        batch_handler=None if batches is None else batch_handler,
    )
    await the_kit.start()
    try:
        yield _Kit(the_kit, topic_in, topic_out)
    finally:
        await the_kit.stop()


async def _send(
    bootstrap: str, topic: str, items: list[tuple[bytes, dict[str, str], bytes]]
) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for body, headers, key in items:
            await producer.send_and_wait(
                topic, body, key=key, headers=[(k, v.encode()) for k, v in headers.items()]
            )
    finally:
        await producer.stop()


def _escalate(event: c.CaseOpened, uow: SqlUnitOfWork, topic: str) -> None:
    """Record the one event the kit's test service publishes per event it applies."""
    out = c.CaseEscalated(
        case_id=event.case_id,
        number=event.number,
        occurred_at=event.occurred_at,
        level=1,
        reason=event.subject,
    )
    uow.record(out, key=str(event.case_id), subject=str(event.case_id), topic=topic)


TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"


def _message(
    event: c.CaseOpened, *, event_id: str | None = None, trace_id: str = TRACE_ID
) -> tuple[bytes, dict[str, str], bytes]:
    envelope = c.new_envelope(event, source="/tests", id=event_id)
    headers = {**c.to_headers(envelope), "traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"}
    return c.encode(event), headers, str(event.case_id).encode()


async def _count(k: _Kit) -> int:
    async with k.kit.engine.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(applied)) or 0)


async def test_events_are_applied_once_relayed_in_order_and_a_poison_goes_to_the_dlq(
    kit: _Kit, kafka_bootstrap: str
) -> None:
    case_id = uuid.uuid4()
    good = [_opened(f"request {i}", case_id) for i in range(10)]
    poison = _opened(POISON)
    first = _message(good[0], event_id="fixed-id-1")
    messages = [
        first,
        *[_message(e) for e in good[1:5]],
        _message(poison),
        *[_message(e) for e in good[5:]],
        first,
    ]  # the first again: a redelivery
    await _send(kafka_bootstrap, kit.topic_in, messages)

    out = await _drain(kafka_bootstrap, kit.topic_out, 10)
    assert [c.decode("case.escalated", r.value).reason for r in out] == [e.subject for e in good]  # type: ignore[attr-defined,union-attr]
    assert all(r.key == str(case_id).encode() for r in out)  # type: ignore[attr-defined]
    trace_ids = {dict(r.headers)["traceparent"].decode().split("-")[1] for r in out}  # type: ignore[attr-defined]
    assert trace_ids == {TRACE_ID}, "the trace goes on through the outbox"

    dead = await _drain(kafka_bootstrap, c.dlq(kit.topic_in), 1)
    headers = {k: v.decode() for k, v in dead[0].headers}  # type: ignore[attr-defined]
    assert headers["x-dlq-reason"] == "handler_failed"
    assert headers["x-dlq-attempts"] == "3"
    assert "cannot apply this case" in headers["x-dlq-error"]
    assert headers["ce_type"] == "case.opened"
    assert dead[0].value == c.encode(poison)  # type: ignore[attr-defined]

    assert await _count(kit) == 10
    text = generate_latest(kit.kit.registry).decode()
    assert 'caseflow_event_duplicates_total{consumer="' in text
    assert 'reason="handler_failed"' in text


async def test_each_event_of_a_batch_goes_on_in_its_own_trace(
    kit: _Kit, kafka_bootstrap: str
) -> None:
    # Good events only: they are applied in batches, whose transaction writes the outbox
    # rows at its end, after every event's own span has closed.
    traces = {uuid.uuid4().hex: _opened(f"request {i}") for i in range(20)}
    await _send(
        kafka_bootstrap,
        kit.topic_in,
        [_message(event, trace_id=trace_id) for trace_id, event in traces.items()],
    )
    out = await _drain(kafka_bootstrap, kit.topic_out, len(traces))
    trace_of_each = {
        c.decode("case.escalated", r.value).reason: dict(r.headers)["traceparent"].split(b"-")[1]  # type: ignore[attr-defined,union-attr]
        for r in out
    }
    assert trace_of_each == {e.subject: t.encode() for t, e in traces.items()}


async def test_a_batch_handler_applies_a_batch_at_once_each_event_in_its_own_trace(
    fresh_database: str, kafka_bootstrap: str
) -> None:
    batches: list[int] = []
    async with _running_kit(fresh_database, kafka_bootstrap, batches=batches) as running:
        traces = {uuid.uuid4().hex: _opened(f"request {i}") for i in range(30)}
        messages = [_message(event, trace_id=trace_id) for trace_id, event in traces.items()]
        poison = _opened(POISON)
        messages.insert(15, _message(poison))
        await _send(kafka_bootstrap, running.topic_in, messages)
        out = await _drain(kafka_bootstrap, running.topic_out, len(traces))
        dead = await _drain(kafka_bootstrap, c.dlq(running.topic_in), 1)
        assert await _count(running) == len(traces)
    trace_of_each = {
        c.decode("case.escalated", r.value).reason: dict(r.headers)["traceparent"].split(b"-")[1]  # type: ignore[attr-defined,union-attr]
        for r in out
    }
    assert trace_of_each == {e.subject: t.encode() for t, e in traces.items()}
    assert dead[0].value == c.encode(poison)  # type: ignore[attr-defined]
    # Batches of several events reached the batch handler; the one with the poison failed
    # there and was applied event by event.
    assert max(batches) > 1, batches


async def test_bad_envelopes_and_payloads_are_dead_lettered_and_unknown_types_skipped(
    kit: _Kit, kafka_bootstrap: str
) -> None:
    ok = _opened("fine")
    no_envelope = (b"{}", {"content-type": "application/json"}, b"k1")
    _, headers, key = _message(_opened("will be broken"))
    broken_payload = (b'{"type": "case.opened", "case_id": "not-a-uuid"}', headers, key)
    unknown = (b"{}", {**_message(ok)[1], "ce_type": "case.teleported", "ce_id": "u-1"}, b"k2")
    await _send(kafka_bootstrap, kit.topic_in, [no_envelope, broken_payload, unknown, _message(ok)])

    await eventually(lambda: _at_least(kit, 1))
    dead = await _drain(kafka_bootstrap, c.dlq(kit.topic_in), 2)
    reasons = sorted(dict(r.headers)["x-dlq-reason"].decode() for r in dead)  # type: ignore[attr-defined]
    assert reasons == ["invalid_envelope", "invalid_payload"]
    assert await _count(kit) == 1


async def _at_least(k: _Kit, n: int) -> bool | None:
    return True if await _count(k) >= n else None


async def test_replay_sends_dead_letters_back_to_their_topic(
    kit: _Kit, kafka_bootstrap: str
) -> None:
    from caseflow_servicekit import replay

    poison = _opened(POISON)
    await _send(kafka_bootstrap, kit.topic_in, [_message(poison, event_id="poison-1")])
    await _drain(kafka_bootstrap, c.dlq(kit.topic_in), 1)
    replayed = await replay(
        bootstrap_servers=kafka_bootstrap, dlq_topic=c.dlq(kit.topic_in), idle_timeout=3.0
    )
    assert replayed == 1
    # Back on the original topic it fails again, so it is dead-lettered a second time.
    dead = await _drain(kafka_bootstrap, c.dlq(kit.topic_in), 2)
    assert [dict(r.headers)["ce_id"] for r in dead] == [b"poison-1", b"poison-1"]  # type: ignore[attr-defined]
