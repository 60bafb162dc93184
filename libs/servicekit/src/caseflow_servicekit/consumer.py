"""Consuming events at least once, applying each exactly once.

For every message: read the CloudEvents envelope, decode the payload by its type, then in one
transaction claim the event id in the inbox and run the handler; commit the Kafka offset only
after that transaction has committed. Messages come in batches (what the broker has ready,
up to `consumer_batch_size`) and a batch is applied in one transaction; if any event of it
fails, the transaction is rolled back and its events are applied one at a time, so one bad
event never holds back or takes down the others. A failing event is retried with
exponential backoff a bounded number of times, then the message goes to `<topic>.dlq` and
the partition moves on.
Infrastructure failures (the database unreachable) are not the message's fault: they are
retried until they clear, holding the partition, rather than dead-lettering good events.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

import structlog
from aiokafka import ConsumerRebalanceListener
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from caseflow_contracts import (
    Envelope,
    Event,
    InvalidEnvelope,
    InvalidPayload,
    UnknownEventType,
    decode,
    from_headers,
)
from caseflow_servicekit.db import UNAVAILABLE_SQLSTATE_CLASSES, sqlstate
from caseflow_servicekit.deadletter import DeadLetters
from caseflow_servicekit.metrics import KitMetrics
from caseflow_servicekit.settings import ServiceSettings
from caseflow_servicekit.uow import Claim, SqlUnitOfWork

log = structlog.get_logger(__name__)

U = TypeVar("U", bound=SqlUnitOfWork)
U_contra = TypeVar("U_contra", bound=SqlUnitOfWork, contravariant=True)


class EventHandler(Protocol[U_contra]):
    """Applies one decoded event inside an open unit of work."""

    def __call__(self, event: Event, envelope: Envelope, uow: U_contra, /) -> Awaitable[None]: ...


@dataclass(frozen=True)
class Delivered:
    """An event handed to a batch handler, with the context it is to be applied in."""

    event: Event
    envelope: Envelope
    scope: Callable[[], contextlib.AbstractContextManager[object]]
    """Enters the event's own trace span and log context: what the handler records for this
    event inside it goes on in the event's trace."""


class BatchHandler(Protocol[U_contra]):
    """Applies a batch of decoded events, in their order, inside one open unit of work."""

    def __call__(self, batch: Sequence[Delivered], uow: U_contra, /) -> Awaitable[None]: ...


_LOST_RACES = frozenset({"40P01", "40001"})  # deadlock detected, serialization failure


def is_transient(exc: BaseException) -> bool:
    """True for failures of the infrastructure rather than of the message."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    # "the database system is shutting down / starting up" arrives as a plain DBAPIError.
    code = sqlstate(exc)
    if code is not None and code.startswith(UNAVAILABLE_SQLSTATE_CLASSES):
        return True
    if code in _LOST_RACES:
        # PostgreSQL rolled this transaction back to break a lock cycle (or a serialization
        # conflict): the same event applies once the other transaction is through.
        return True
    return isinstance(
        exc, OperationalError | InterfaceError | ConnectionError | TimeoutError | OSError
    )


@dataclass(frozen=True)
class _Delivery:
    """One message, its envelope and its decoded event."""

    record: Any
    headers: dict[str, str]
    envelope: Envelope
    event: Event


class EventConsumers:
    """Registers inbox-guarded, retrying, dead-lettering subscribers on a Kafka broker."""

    def __init__(
        self,
        broker: KafkaBroker,
        *,
        service: str,
        settings: ServiceSettings,
        metrics: KitMetrics,
        dead_letters: DeadLetters,
    ) -> None:
        self._broker = broker
        self._service = service
        self._settings = settings
        self._metrics = metrics
        self._dead_letters = dead_letters
        self._tracer = trace.get_tracer("caseflow.consumer")
        self.subscriptions: list[tuple[str, frozenset[str] | None]] = []
        self._subscribers: list[Any] = []
        self._rewinders: list[_Rewinder] = []

    def subscribe(
        self,
        topic: str,
        handler: EventHandler[U],
        *,
        uow_factory: Callable[[], U],
        group_id: str | None = None,
        events: Collection[str] | None = None,
        permanent: tuple[type[BaseException], ...] = (),
        batch_handler: BatchHandler[U] | None = None,
    ) -> None:
        """Apply every event of `topic` (or only the `events` types named) with `handler`.

        Exceptions in `permanent` go to the dead-letter topic without further retries. With a
        `batch_handler`, a batch's new events are handed to it together, in their order, so
        that it can read and write them with fewer statements; `handler` still applies an
        event alone (a batch that failed is applied event by event).
        """
        consumer = group_id or self._service
        settings = self._settings
        self.subscriptions.append((topic, None if events is None else frozenset(events)))
        route = _Route(topic, consumer, handler, uow_factory, events, permanent, batch_handler)

        rewinder = _Rewinder()

        async def on_batch(message: KafkaMessage) -> None:
            raw = message.raw_message
            records = raw if isinstance(raw, tuple | list) else (raw,)
            await self._deliver(records, route)
            async with rewinder.committing:
                await message.ack()

        subscriber = self._broker.subscriber(
            topic,
            group_id=kafka_group(consumer, topic),
            listener=rewinder,
            batch=True,
            max_records=settings.consumer_batch_size,
            batch_timeout_ms=settings.consumer_batch_wait_ms,
            ack_policy=AckPolicy.MANUAL,
            auto_offset_reset="earliest",
            session_timeout_ms=settings.kafka_session_timeout_ms,
            heartbeat_interval_ms=settings.kafka_heartbeat_interval_ms,
            rebalance_timeout_ms=settings.kafka_rebalance_timeout_ms,
            fetch_max_wait_ms=settings.kafka_fetch_max_wait_ms,
            max_poll_interval_ms=settings.kafka_max_poll_interval_ms,
            title=f"{consumer}:{topic}",
            include_in_schema=False,
        )
        subscriber(on_batch)
        rewinder.subscriber = subscriber
        self._subscribers.append(subscriber)
        self._rewinders.append(rewinder)

    async def rewind(self) -> None:
        """Read every partition again from its start: the broker lost its log.

        A new cluster has none of the groups' offsets, but until a consumer rejoins its group
        it fetches at the positions it had on the old log, which may be past events the new
        log holds; they would be skipped. And before this rewind the member may have
        committed such a position to the new cluster, where its rejoin would resume. So each
        consumer seeks to the start now and commits that, after any commit of a batch still in
        flight, which may carry positions on the old log; where it cannot (it is rejoining,
        or the commit fails in a rebalance), it seeks to the start when its partitions are
        next assigned. The inbox drops what was applied already.
        """
        for rewinder in self._rewinders:
            rewinder.pending = True
            await rewinder.rewind_now()

    async def _deliver(self, records: Sequence[Any], route: _Route[U]) -> None:
        ready = [d for d in [await self._prepare(r, route) for r in records] if d is not None]
        if not ready:
            return
        if len(ready) > 1 and await self._apply_batch(ready, route):
            return
        for delivery in ready:
            await self._apply_one(delivery, route)

    async def _prepare(self, record: Any, route: _Route[U]) -> _Delivery | None:
        """Decode a message; dead-letter what can never be applied, skip what is not ours."""
        headers = _headers(record.headers)
        try:
            envelope = from_headers(headers)
        except InvalidEnvelope as exc:
            await self._dead_letter(record, headers, route, "invalid_envelope", exc, 0)
            return None
        if route.events is not None and envelope.type not in route.events:
            self._metrics.consumed.labels(route.topic, route.consumer, "skipped").inc()
            return None
        try:
            event = decode(envelope.type, record.value)
        except UnknownEventType:
            # A newer producer's event type: readers tolerate what they do not know.
            self._metrics.consumed.labels(route.topic, route.consumer, "skipped").inc()
            log.info("event.unknown_type_skipped", topic=route.topic, event_type=envelope.type)
            return None
        except InvalidPayload as exc:
            await self._dead_letter(record, headers, route, "invalid_payload", exc, 0)
            return None
        return _Delivery(record, headers, envelope, event)

    async def _apply_batch(self, ready: list[_Delivery], route: _Route[U]) -> bool:
        """Apply `ready` in one transaction; False (and nothing applied) if any event failed."""
        started = time.perf_counter()
        outcomes: list[str] = []
        try:
            async with route.uow_factory() as uow:
                uow.deferred = True
                claimed = await uow.claim_many(
                    consumer=route.consumer,
                    events=[
                        Claim(d.envelope.id, route.topic, d.record.partition, d.record.offset)
                        for d in ready
                    ],
                )
                fresh: list[_Delivery] = []
                for delivery in ready:
                    if delivery.envelope.id not in claimed:
                        self._metrics.duplicates.labels(route.topic, route.consumer).inc()
                        outcomes.append("duplicate")
                        continue
                    claimed.discard(delivery.envelope.id)  # a second copy in the batch is one
                    fresh.append(delivery)
                    outcomes.append("applied")
                if route.batch_handler is not None:
                    # Each event's span lasts the batch; the handler enters it as often as
                    # it records something for the event.
                    spans = [self._span(d, route) for d in fresh]
                    try:
                        batch = [
                            Delivered(d.event, d.envelope, functools.partial(_scope, d, span))
                            for d, span in zip(fresh, spans, strict=True)
                        ]
                        await route.batch_handler(batch, uow)
                        await uow.commit()
                    finally:
                        for span in spans:
                            span.end()
                else:
                    for delivery in fresh:
                        with self._context(delivery, route):
                            await route.handler(delivery.event, delivery.envelope, uow)
                            await uow.commit()
                uow.deferred = False
                await uow.commit()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.info("events.batch_rolled_back", size=len(ready), error=repr(exc))
            return False
        each = (time.perf_counter() - started) / len(ready)
        for outcome in outcomes:
            self._metrics.consumed.labels(route.topic, route.consumer, outcome).inc()
            self._metrics.handling_seconds.labels(route.topic, route.consumer).observe(each)
        return True

    async def _run(self, delivery: _Delivery, route: _Route[U], uow: U) -> str:
        record = delivery.record
        claimed = await uow.claim(
            consumer=route.consumer,
            event_id=delivery.envelope.id,
            topic=route.topic,
            partition=record.partition,
            offset=record.offset,
        )
        if not claimed:
            self._metrics.duplicates.labels(route.topic, route.consumer).inc()
            return "duplicate"
        await route.handler(delivery.event, delivery.envelope, uow)
        await uow.commit()
        return "applied"

    def _context(self, delivery: _Delivery, route: _Route[U]) -> contextlib.ExitStack:
        """The event's own trace span and log context, continuing the trace that caused it;
        the span ends with the context."""
        return _scope(delivery, self._span(delivery, route), end=True)

    def _span(self, delivery: _Delivery, route: _Route[U]) -> trace.Span:
        """A span for processing the event, continuing the trace that caused it."""
        return self._tracer.start_span(
            f"{route.topic} process",
            context=propagate.extract(delivery.headers),
            kind=SpanKind.CONSUMER,
            attributes={
                "messaging.system": "kafka",
                "messaging.destination.name": route.topic,
                "messaging.message.id": delivery.envelope.id,
                "messaging.consumer.group.name": route.consumer,
            },
        )

    async def _apply_one(self, delivery: _Delivery, route: _Route[U]) -> None:
        """Apply one event in its own transaction: retries, then the dead-letter topic."""
        settings = self._settings
        started = time.perf_counter()
        attempt = 0
        transient_attempt = 0
        outcome: str | None = None
        with self._context(delivery, route):
            while outcome is None:
                attempt += 1
                try:
                    async with route.uow_factory() as uow:
                        outcome = await self._run(delivery, route, uow)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    if is_transient(exc) and not isinstance(exc, route.permanent):
                        # Not the message's fault: wait for the database, spend no attempt.
                        attempt -= 1
                        transient_attempt += 1
                        delay = _backoff(settings, transient_attempt)
                        log.warning("event.transient_failure", error=repr(exc), retry_in=delay)
                        await asyncio.sleep(delay)
                        continue
                    if (
                        isinstance(exc, route.permanent)
                        or attempt >= settings.consumer_max_attempts
                    ):
                        log.error("event.failed", attempts=attempt, exc_info=exc)
                        await self._dead_letter(
                            delivery.record, delivery.headers, route, "handler_failed", exc, attempt
                        )
                        return
                    self._metrics.retries.labels(route.topic, route.consumer).inc()
                    delay = _backoff(settings, attempt)
                    log.warning("event.retry", attempt=attempt, error=repr(exc), retry_in=delay)
                    await asyncio.sleep(delay)
        self._metrics.handling_seconds.labels(route.topic, route.consumer).observe(
            time.perf_counter() - started
        )
        self._metrics.consumed.labels(route.topic, route.consumer, outcome).inc()

    async def _dead_letter(
        self,
        record: Any,
        headers: dict[str, str],
        route: _Route[U],
        reason: str,
        error: BaseException | str,
        attempts: int,
    ) -> None:
        await self._dead_letters.forward(
            topic=route.topic,
            partition=record.partition,
            offset=record.offset,
            key=record.key,
            body=record.value,
            headers=headers,
            consumer=route.consumer,
            reason=reason,
            error=error,
            attempts=attempts,
        )
        self._metrics.consumed.labels(route.topic, route.consumer, "dead_lettered").inc()


def kafka_group(consumer: str, topic: str) -> str:
    """The Kafka consumer group of one subscription: `<consumer>.<topic>`.

    One group per topic, not one per service: members subscribed to different topics in one
    group rebalance each other every time any of them joins or leaves, and a service with
    several subscriptions would wait on its own rebalances at every start. The inbox still
    knows the consumer by its own name, so duplicates are recognised whatever the group.
    """
    return f"{consumer}.{topic}"


@dataclass(frozen=True)
class _Route(Generic[U]):
    """Where a subscription's messages go."""

    topic: str
    consumer: str
    handler: EventHandler[U]
    uow_factory: Callable[[], U]
    events: Collection[str] | None
    permanent: tuple[type[BaseException], ...]
    batch_handler: BatchHandler[U] | None = None


def _scope(delivery: _Delivery, span: trace.Span, *, end: bool = False) -> contextlib.ExitStack:
    """`span` made current, and the event named in the log context, until the stack exits."""
    stack = contextlib.ExitStack()
    stack.enter_context(trace.use_span(span, end_on_exit=end, record_exception=end))
    stack.enter_context(
        structlog.contextvars.bound_contextvars(
            event_id=delivery.envelope.id,
            event_type=delivery.envelope.type,
            case_id=delivery.envelope.subject,
        )
    )
    return stack


def _headers(raw: Sequence[tuple[str, bytes]] | Mapping[str, Any]) -> dict[str, str]:
    items = raw.items() if isinstance(raw, Mapping) else raw
    out: dict[str, str] = {}
    for key, value in items:
        out[key] = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    return out


def _backoff(settings: ServiceSettings, attempt: int) -> float:
    return float(
        min(settings.retry_backoff_seconds * 2 ** (attempt - 1), settings.retry_backoff_max_seconds)
    )


class _Rewinder(ConsumerRebalanceListener):  # type: ignore[misc]
    """Rewinds one subscriber's consumer to the start of its partitions, now or at its next
    assignment, after the broker lost its log (see `EventConsumers.rewind`)."""

    def __init__(self) -> None:
        self.subscriber: Any = None
        self.pending = False
        # Held while a batch's offsets are committed, and while rewinding. A commit asked
        # before the broker was lost carries positions on the old log, and the client retries
        # it until a coordinator answers: the new cluster's. Made to land before the rewind's
        # own commit, it never outlives the rewind, where a rejoin would resume from it.
        self.committing = asyncio.Lock()

    async def rewind_now(self) -> None:
        async with self.committing:
            consumer: Any = getattr(self.subscriber, "consumer", None)
            partitions = consumer.assignment() if consumer is not None else set()
            if not partitions:
                return  # rejoining: the seek happens when the partitions are assigned
            try:
                await consumer.seek_to_beginning(*partitions)
                log.warning("consumer.rewound", partitions=len(partitions))
                await consumer.commit(dict(await consumer.beginning_offsets(partitions)))
            except Exception as exc:  # a rebalance under way: the assignment that ends it seeks
                log.info("consumer.rewind_deferred", error=repr(exc))
                return
            self.pending = False

    def on_partitions_revoked(self, revoked: Any) -> None:
        return None

    async def on_partitions_assigned(self, assigned: Any) -> None:
        consumer = getattr(self.subscriber, "consumer", None)
        if not self.pending or not assigned or consumer is None:
            return
        # Only a seek here: a commit inside the rebalance callback can deadlock the group.
        # The consumer's next commit is of a position read on the new log.
        await consumer.seek_to_beginning(*assigned)
        self.pending = False
        log.warning("consumer.rewound", partitions=len(assigned), at="assignment")
