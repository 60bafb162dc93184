"""The transactional outbox: events are written with the state that implies them, then relayed.

`Outbox.add_many` inserts rows in the caller's open transaction; a trigger on the table sends a
`NOTIFY` that PostgreSQL delivers only if the transaction commits. `OutboxRelay` wakes on that
notification (or every `poll_interval` at the latest), takes a batch of rows in id order,
hands them all to the Kafka producer at once, waits until Kafka has acknowledged every one,
and deletes them in the same transaction: at-least-once, and in order per key.

One relay works at a time per database (a transaction-scoped advisory lock), so several
replicas of a service never publish one aggregate's events out of order.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import asyncpg
import structlog
from aiokafka import AIOKafkaProducer
from faststream.kafka import KafkaBroker
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind
from sqlalchemy import Table, bindparam, delete, insert, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from caseflow_contracts import Envelope, Event, encode, new_envelope, to_headers, topic_of
from caseflow_servicekit.db import OUTBOX_CHANNEL as CHANNEL
from caseflow_servicekit.metrics import KitMetrics
from caseflow_servicekit.telemetry import current_trace_headers

# Any constant works; it names "the outbox relay" among the database's advisory locks.
_RELAY_LOCK = 0x0CA5EF10

log = structlog.get_logger(__name__)


class Outbox:
    """Writes events into the outbox table inside the caller's transaction."""

    def __init__(self, table: Table, *, source: str) -> None:
        self._table = table
        self._source = source

    @property
    def source(self) -> str:
        """The CloudEvents source of everything this service publishes."""
        return self._source

    async def add_many(self, session: AsyncSession, items: Sequence[Pending]) -> list[Envelope]:
        """Queue several events with one statement, in order."""
        if not items:
            return []
        rows: list[dict[str, object]] = []
        envelopes: list[Envelope] = []
        for item in items:
            envelope = new_envelope(
                item.event, source=self._source, subject=item.subject, id=item.event_id
            )
            envelopes.append(envelope)
            rows.append(
                {
                    "topic": item.topic or topic_of(item.event.type),
                    "key": item.key,
                    "payload": encode(item.event),
                    "headers": to_headers(envelope) | item.trace_headers,
                }
            )
        await session.execute(insert(self._table), rows)
        return envelopes


@dataclass(frozen=True)
class Pending:
    """An event to publish, with the key and subject it goes out under.

    It keeps the trace context active when it was recorded: a consumer applying a batch
    writes every event's rows at the batch's end, and each must go on in its own trace.
    """

    event: Event
    key: str
    subject: str | None = None
    event_id: str | None = None
    topic: str | None = None
    trace_headers: dict[str, str] = field(default_factory=current_trace_headers)


class Transport(Protocol):
    """Hands a message to Kafka; the returned awaitable completes when Kafka has it."""

    async def start(self) -> None: ...
    async def stop(self) -> None: ...

    async def send(
        self, topic: str, payload: bytes, *, key: bytes, headers: dict[str, str]
    ) -> Awaitable[Any]: ...


class ProducerTransport:
    """Sends through an aiokafka producer, many messages in flight at once."""

    def __init__(self, **config: Any) -> None:
        self._config = config
        self._producer: AIOKafkaProducer | None = None

    async def start(self) -> None:
        # Made here, not in __init__: aiokafka binds to the running event loop.
        self._producer = AIOKafkaProducer(**self._config)
        await self._producer.start()

    async def stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None

    async def send(
        self, topic: str, payload: bytes, *, key: bytes, headers: dict[str, str]
    ) -> Awaitable[Any]:
        if self._producer is None:
            msg = "the transport is not started"
            raise RuntimeError(msg)
        encoded = [(k, v.encode()) for k, v in headers.items()]
        future: asyncio.Future[Any] = await self._producer.send(
            topic, payload, key=key, headers=encoded
        )
        return future


class BrokerTransport:
    """Sends through a FastStream broker, one message at a time (in-memory test brokers)."""

    def __init__(self, broker: KafkaBroker) -> None:
        self.broker = broker

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def send(
        self, topic: str, payload: bytes, *, key: bytes, headers: dict[str, str]
    ) -> Awaitable[Any]:
        await self.broker.publish(payload, topic=topic, key=key, headers=headers)
        done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


class OutboxRelay:
    """Publishes outbox rows to Kafka in batches, in id order, deleting them once acknowledged."""

    def __init__(
        self,
        engine: AsyncEngine,
        table: Table,
        transport: Transport,
        *,
        metrics: KitMetrics,
        batch_size: int = 200,
        poll_interval: float = 1.0,
    ) -> None:
        self._engine = engine
        self._table = table
        self.transport = transport
        self._metrics = metrics
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._listener: asyncpg.Connection | None = None
        self._tracer = trace.get_tracer("caseflow.outbox")
        t = table
        self._claim = (
            select(t.c.id, t.c.topic, t.c.key, t.c.payload, t.c.headers)
            .order_by(t.c.id)
            .limit(bindparam("limit"))
            .with_for_update(skip_locked=True)
        )
        self._delete = delete(t).where(t.c.id.in_(bindparam("ids", expanding=True)))

    async def start(self) -> None:
        """Listen for new rows and start relaying."""
        await self._listen()
        self._task = asyncio.create_task(self._run(), name="outbox-relay")

    async def stop(self) -> None:
        """Finish the batch in hand and stop."""
        if self._task is not None:
            self._task.cancel()
            # `wait` rather than awaiting the task: a cancellation of the caller still
            # reaches the caller instead of being taken for the relay's own.
            await asyncio.wait([self._task])
            self._task = None
        if self._listener is not None:
            with contextlib.suppress(Exception):
                await self._listener.close()
            self._listener = None

    def wake(self) -> None:
        """Look for rows now rather than at the next poll (what a NOTIFY does)."""
        self._wake.set()

    async def relay_once(self) -> int:
        """Publish one batch; how many rows went out (0: none, or another relay has the lock)."""
        async with self._engine.begin() as conn:
            locked = await conn.scalar(select(text(f"pg_try_advisory_xact_lock({_RELAY_LOCK})")))
            if not locked:
                return 0
            rows = (await conn.execute(self._claim, {"limit": self._batch_size})).all()
            if not rows:
                return 0
            pending = [await self._send(row) for row in rows]
            # Wait for every acknowledgement, so no send is left unobserved; any failure
            # rolls the batch back and it is sent again (the inbox absorbs repeats).
            results = await asyncio.gather(*pending, return_exceptions=True)
            failed = [
                (row, r)
                for row, r in zip(rows, results, strict=True)
                if isinstance(r, BaseException)
            ]
            if failed:
                for row, _ in failed:
                    self._metrics.relay_failures.labels(topic=row.topic).inc()
                raise failed[0][1]
            await conn.execute(self._delete, {"ids": [row.id for row in rows]})
        for row in rows:
            self._metrics.relayed.labels(topic=row.topic).inc()
        return len(rows)

    async def _send(self, row: Any) -> Awaitable[Any]:
        headers: dict[str, str] = dict(row.headers)
        origin = propagate.extract(headers)
        # A publish span in the trace that caused the event; the consumer continues from it.
        with self._tracer.start_as_current_span(
            f"{row.topic} publish",
            context=origin,
            kind=SpanKind.PRODUCER,
            attributes={"messaging.system": "kafka", "messaging.destination.name": row.topic},
        ):
            propagate.inject(headers)
        return await self.transport.send(
            row.topic, row.payload, key=row.key.encode(), headers=headers
        )

    async def _run(self) -> None:
        failures = 0
        while True:
            try:
                sent = await self.relay_once()
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failures += 1
                delay = min(0.1 * 2**failures, 10.0)
                log.warning("outbox.relay_failed", error=repr(exc), retry_in=delay)
                await asyncio.sleep(delay)
                if self._listener is None or self._listener.is_closed():
                    with contextlib.suppress(Exception):
                        await self._listen()
                continue
            if sent >= self._batch_size:
                continue  # more may be waiting
            # `asyncio.timeout`, not `wait_for`: on Python 3.11 `wait_for` swallows a
            # cancellation that lands as the wake-up does, and `stop()` would wait forever.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._poll_interval):
                    await self._wake.wait()
            self._wake.clear()

    async def _listen(self) -> None:
        url = self._engine.url.set(drivername="postgresql")
        dsn = url.render_as_string(hide_password=False)
        try:
            self._listener = await asyncpg.connect(dsn)
            await self._listener.add_listener(CHANNEL, lambda *_: self.wake())
        except Exception as exc:
            # Without notifications the relay still polls every `poll_interval`.
            log.warning("outbox.listen_failed", error=repr(exc))
            self._listener = None


__all__ = [
    "CHANNEL",
    "BrokerTransport",
    "Outbox",
    "OutboxRelay",
    "Pending",
    "ProducerTransport",
    "Transport",
]
