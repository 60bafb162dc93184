"""The routing service's unit of work over PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from caseflow_servicekit import Outbox, SqlUnitOfWork
from caseflow_servicekit.cache import TtlCache
from routing.adapters.published import to_contract
from routing.adapters.repository import (
    SqlAgentRepository,
    SqlCaseProjection,
    SqlQueueItemRepository,
    SqlQueueRepository,
    SqlRuleRepository,
)
from routing.domain import Queue, RoutingEvent


class SqlRoutingUnitOfWork(SqlUnitOfWork):
    """Routing's repositories and event publication in one transaction."""

    queues: SqlQueueRepository
    rules: SqlRuleRepository
    agents: SqlAgentRepository
    queue_items: SqlQueueItemRepository
    cases: SqlCaseProjection

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        outbox: Outbox,
        *,
        cache: TtlCache[Any] | None = None,
    ) -> None:
        super().__init__(sessions, outbox)
        self._cache = cache

    async def on_open(self, session: AsyncSession) -> None:
        self.queues = SqlQueueRepository(session, self._cache)
        self.rules = SqlRuleRepository(session, self._cache)
        self.agents = SqlAgentRepository(session)
        self.queue_items = SqlQueueItemRepository(session)
        self.cases = SqlCaseProjection(session)

    def emit(self, events: Iterable[RoutingEvent], *, queue: Queue) -> None:
        """Publish `events` when this unit of work commits, keyed by their case."""
        for event in events:
            self.record(
                to_contract(event, queue=queue),
                key=str(event.case_id),
                subject=str(event.case_id),
            )
