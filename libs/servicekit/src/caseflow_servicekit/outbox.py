"""The transactional outbox: events are written with the state that implies them, then relayed.

`Outbox.add_many` inserts rows in the caller's open transaction; a trigger on the table sends a
`NOTIFY` that PostgreSQL delivers only if the transaction commits. `OutboxRelay` wakes on that
notification (or every `poll_interval` at the latest), takes a batch of rows not relayed yet in
id order, hands them all to the Kafka producer at once, waits until Kafka has acknowledged
every one, and in the same transaction marks them relayed, with the id of the Kafka cluster
they went to: at-least-once, and in order per key. (With a retention of 0 they are deleted
instead.)

A broker can lose what it acknowledged: the embedded one keeps its log in memory, and starts as
a new cluster. The relay asks the cluster id before each batch (and every
`cluster_check_interval` when idle); when it changes, it runs its `on_new_cluster` hooks
(create the topics, rewind the consumers), then marks the rows it kept for another cluster as
not relayed, and they go out again in id order. Consumers' inboxes make the repeats harmless.

One relay works at a time per database (a transaction-scoped advisory lock), so several
replicas of a service never publish one aggregate's events out of order.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import asyncpg
import structlog
from aiokafka import AIOKafkaProducer
from aiokafka.protocol.metadata import MetadataRequest
from faststream.kafka import KafkaBroker
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind
from sqlalchemy import Table, bindparam, delete, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from caseflow_contracts import Envelope, Event, encode, new_envelope, to_headers, topic_of
from caseflow_servicekit.db import OUTBOX_CHANNEL as CHANNEL
from caseflow_servicekit.metrics import KitMetrics
from caseflow_servicekit.telemetry import current_trace_headers

# Any constant works; it names "the outbox relay" among the database's advisory locks.
_RELAY_LOCK = 0x0CA5EF10
_CLUSTER_ID_TIMEOUT = 5.0

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

    async def cluster_id(self) -> str | None:
        """The id of the Kafka cluster messages go to; None when it cannot tell."""
        ...


NewClusterHook = Callable[[str], Awaitable[None]]


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

    async def cluster_id(self) -> str | None:
        # A metadata request for no topic, on the producer's own connection: the broker the
        # messages go to answers, and the answer is a few dozen bytes (about 1 ms here).
        if self._producer is None:
            msg = "the transport is not started"
            raise RuntimeError(msg)
        client = self._producer.client
        node = client.get_random_node()
        if node is None:
            msg = "no Kafka broker is known"
            raise ConnectionError(msg)
        async with asyncio.timeout(_CLUSTER_ID_TIMEOUT):
            response = await client.send(node, MetadataRequest([]))
        cluster: str | None = getattr(response, "cluster_id", None)  # from v2 on
        return cluster


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

    async def cluster_id(self) -> str | None:
        return None  # an in-memory test broker never loses what it was given


class OutboxRelay:
    """Publishes outbox rows to Kafka in batches, in id order, marking them once acknowledged.

    Relayed rows are kept `retention` seconds (deleted by the kit's retention task), or deleted
    at once when `retention` is 0.
    """

    def __init__(
        self,
        engine: AsyncEngine,
        table: Table,
        transport: Transport,
        *,
        metrics: KitMetrics,
        batch_size: int = 200,
        poll_interval: float = 1.0,
        retention: float = 0,
        cluster_check_interval: float = 1.0,
    ) -> None:
        self._engine = engine
        self._table = table
        self.transport = transport
        self._metrics = metrics
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._retention = retention
        self._cluster_check_interval = cluster_check_interval
        self.on_new_cluster: list[NewClusterHook] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._listener: asyncpg.Connection | None = None
        self._tracer = trace.get_tracer("caseflow.outbox")
        # The cluster id as last asked (and when), the last one the hooks ran for, and the
        # last one the kept rows were reconciled with.
        self._cluster: str | None = None
        self._cluster_asked_at = -float("inf")
        self._announced: str | None = None
        self._reconciled: str | None = None
        t = table
        self._claim = (
            select(t.c.id, t.c.topic, t.c.key, t.c.payload, t.c.headers)
            .where(t.c.relayed_at.is_(None))
            .order_by(t.c.id)
            .limit(bindparam("limit"))
            .with_for_update(skip_locked=True)
        )
        ids = t.c.id.in_(bindparam("ids", expanding=True))
        self._done = (
            update(t).where(ids).values(relayed_at=func.now(), cluster_id=bindparam("cluster"))
            if retention > 0
            else delete(t).where(ids)
        )
        # Rows kept for another cluster (or for an unknown one) go out again, in id order.
        republished = (
            update(t)
            .where(t.c.relayed_at.is_not(None))
            .where(t.c.cluster_id.is_distinct_from(bindparam("cluster")))
            .values(relayed_at=None, cluster_id=None)
            .returning(t.c.topic)
            .cte("republished")
        )
        self._republish = select(republished.c.topic, func.count()).group_by(republished.c.topic)

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
        republished: Sequence[Any] | None = None
        async with self._engine.begin() as conn:
            locked = await conn.scalar(select(text(f"pg_try_advisory_xact_lock({_RELAY_LOCK})")))
            rows = (
                (await conn.execute(self._claim, {"limit": self._batch_size})).all()
                if locked
                else []
            )
            # Asked afresh for every batch, so that what goes out is marked with the cluster
            # it really went to; when idle, once per `cluster_check_interval`.
            cluster = await self._current_cluster(fresh=bool(rows))
            if cluster is not None and cluster != self._announced:
                for hook in self.on_new_cluster:
                    await hook(cluster)
                self._announced = cluster
            if not locked:
                return 0
            if cluster is not None and cluster != self._reconciled:
                republished = (await conn.execute(self._republish, {"cluster": cluster})).all()
                if republished:
                    rows = (await conn.execute(self._claim, {"limit": self._batch_size})).all()
            if rows:
                await self._publish(rows)
                # Marked with the cluster id asked *before* the sends: had the broker been
                # replaced in between, the rows carry the old id and go out again.
                await conn.execute(
                    self._done, {"ids": [row.id for row in rows], "cluster": cluster}
                )
        if republished is not None:
            self._reconciled = cluster
            self._report_republished(cluster, republished)
        for row in rows:
            self._metrics.relayed.labels(topic=row.topic).inc()
        return len(rows)

    async def _publish(self, rows: Sequence[Any]) -> None:
        pending = [await self._send(row) for row in rows]
        # Wait for every acknowledgement, so no send is left unobserved; any failure
        # rolls the batch back and it is sent again (the inbox absorbs repeats).
        results = await asyncio.gather(*pending, return_exceptions=True)
        failed = [
            (row, r) for row, r in zip(rows, results, strict=True) if isinstance(r, BaseException)
        ]
        if failed:
            for row, _ in failed:
                self._metrics.relay_failures.labels(topic=row.topic).inc()
            raise failed[0][1]

    async def _current_cluster(self, *, fresh: bool) -> str | None:
        now = time.monotonic()
        if fresh or now - self._cluster_asked_at >= self._cluster_check_interval:
            self._cluster = await self.transport.cluster_id()
            self._cluster_asked_at = now
        return self._cluster

    def _report_republished(self, cluster: str | None, counts: Sequence[Any]) -> None:
        total = sum(n for _, n in counts)
        for topic, n in counts:
            self._metrics.republished.labels(topic=topic).inc(n)
        if total:
            log.warning(
                "outbox.republishing",
                cluster_id=cluster,
                rows=total,
                topics=sorted(topic for topic, _ in counts),
            )
        else:
            log.info("outbox.cluster_known", cluster_id=cluster)

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
                # A broker that went away may come back as another cluster: ask again.
                self._cluster_asked_at = -float("inf")
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
