"""The unit of work: one database transaction holding state changes, their events and the inbox.

Entry points (a Kafka consumer, an HTTP route) open it; use cases load, decide, `record` events
and `commit`. Recorded events reach the outbox in the same transaction as the state they
describe, so nothing is published without its state and no state changes without its event.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Self

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind, StatusCode
from sqlalchemy import column, table
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from caseflow_contracts import Event
from caseflow_servicekit.db import INBOX_TABLE
from caseflow_servicekit.outbox import Outbox, Pending

_tracer = trace.get_tracer("caseflow.uow")

_inbox = table(
    INBOX_TABLE,
    column("consumer"),
    column("event_id"),
    column("topic"),
    column("partition"),
    column("offset"),
)


@dataclass(frozen=True)
class Claim:
    """An event a consumer is about to apply, as the inbox records it."""

    event_id: str
    topic: str
    partition: int | None = None
    offset: int | None = None


class SqlUnitOfWork:
    """A session-scoped transaction that writes recorded events to the outbox on commit.

    Re-entrant: a use case may `async with uow:` inside an entry point that already opened it;
    only the outermost exit closes the session (rolling back whatever was not committed).
    """

    def __init__(self, sessions: async_sessionmaker[AsyncSession], outbox: Outbox) -> None:
        self._sessions = sessions
        self._outbox = outbox
        self._session: AsyncSession | None = None
        self._depth = 0
        self._pending: list[Pending] = []
        # While a consumer applies a batch of events in one transaction, the use cases'
        # commits only write their events to the outbox; the batch commits once at the end.
        self.deferred = False
        self._after_commit: list[Callable[[], None]] = []

    @property
    def session(self) -> AsyncSession:
        """The open session; only inside `async with`."""
        if self._session is None:
            msg = "the unit of work is not open; use `async with uow:`"
            raise RuntimeError(msg)
        return self._session

    async def __aenter__(self) -> Self:
        if self._depth == 0:
            # One span per transaction keeps the database in every trace at little cost.
            self._span = _tracer.start_span(
                "db.transaction", kind=SpanKind.CLIENT, attributes={"db.system": "postgresql"}
            )
            self._span_token = otel_context.attach(trace.set_span_in_context(self._span))
            self._session = self._sessions()
            self._pending = []
            await self.on_open(self._session)
        self._depth += 1
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._depth -= 1
        if self._depth == 0:
            session, self._session = self._session, None
            self._pending = []
            self._after_commit = []
            assert session is not None
            try:
                await session.rollback()
            finally:
                await session.close()
                if exc is not None:
                    self._span.record_exception(exc)
                    self._span.set_status(StatusCode.ERROR)
                otel_context.detach(self._span_token)
                self._span.end()

    async def on_open(self, session: AsyncSession) -> None:
        """Hook for subclasses: build repositories on the fresh session."""

    def record(
        self,
        event: Event,
        *,
        key: str,
        subject: str | None = None,
        event_id: str | None = None,
        topic: str | None = None,
    ) -> None:
        """Publish `event` (keyed by its aggregate id) if and when this unit of work commits.

        The topic is the one the contracts assign to the event's type unless `topic` is given.
        """
        self._pending.append(
            Pending(event, key=key, subject=subject, event_id=event_id, topic=topic)
        )

    async def claim(
        self,
        *,
        consumer: str,
        event_id: str,
        topic: str,
        partition: int | None = None,
        offset: int | None = None,
    ) -> bool:
        """Record in the inbox that `consumer` applies `event_id`; False if it already had."""
        claim = Claim(event_id, topic, partition, offset)
        return event_id in await self.claim_many(consumer=consumer, events=[claim])

    async def claim_many(self, *, consumer: str, events: Sequence[Claim]) -> set[str]:
        """Record a batch of event ids in the inbox with one statement; the ids newly claimed."""
        if not events:
            return set()
        statement = (
            pg_insert(_inbox)
            .values(
                [
                    {
                        "consumer": consumer,
                        "event_id": e.event_id,
                        "topic": e.topic,
                        "partition": e.partition,
                        "offset": e.offset,
                    }
                    for e in events
                ]
            )
            .on_conflict_do_nothing()
            .returning(_inbox.c.event_id)
        )
        return set((await self.session.execute(statement)).scalars())

    async def write_events(self) -> None:
        """Write the events recorded so far to the outbox now, in the open transaction (they
        are still published only if it commits). Written before a transaction takes locks
        others wait on, they no longer lengthen the time those locks are held."""
        pending, self._pending = self._pending, []
        await self._outbox.add_many(self.session, pending)

    async def commit(self) -> None:
        """Write the recorded events to the outbox and commit, all in one transaction."""
        if self.deferred:
            return  # the batch writes and commits once, at its end
        session = self.session
        pending, self._pending = self._pending, []
        await self._outbox.add_many(session, pending)
        await session.commit()
        callbacks, self._after_commit = self._after_commit, []
        for callback in callbacks:
            callback()

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run `callback` once the transaction has really committed (metrics, caches)."""
        self._after_commit.append(callback)

    async def rollback(self) -> None:
        """Forget recorded events and undo the transaction."""
        self._pending = []
        self._after_commit = []
        await self.session.rollback()
