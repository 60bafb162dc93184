"""The SLA service's unit of work over PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from caseflow_servicekit import Outbox, SqlUnitOfWork
from sla.adapters.metrics import SlaMetrics
from sla.adapters.published import to_contract
from sla.adapters.repository import (
    ReferenceCache,
    SqlCalendarRepository,
    SqlCaseSlaRepository,
    SqlKpiRepository,
    SqlPolicyRepository,
)
from sla.domain import KpiEvent


class SqlSlaUnitOfWork(SqlUnitOfWork):
    """SLA repositories and KPI event publication in one transaction."""

    cases: SqlCaseSlaRepository
    kpis: SqlKpiRepository
    policies: SqlPolicyRepository
    calendars: SqlCalendarRepository

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        outbox: Outbox,
        *,
        metrics: SlaMetrics | None = None,
        cache: ReferenceCache | None = None,
    ) -> None:
        super().__init__(sessions, outbox)
        self._metrics = metrics
        self._cache = cache

    async def on_open(self, session: AsyncSession) -> None:
        self.cases = SqlCaseSlaRepository(session)
        self.kpis = SqlKpiRepository(session)
        self.policies = SqlPolicyRepository(session, self._cache)
        self.calendars = SqlCalendarRepository(session, self._cache)

    def emit(
        self,
        events: Iterable[KpiEvent],
        *,
        calendar_id: UUID | None = None,
        due_at: datetime | None = None,
    ) -> None:
        """Publish `events` (keyed by their case) when this unit of work commits."""
        for event in events:
            published = to_contract(event, calendar_id=calendar_id, due_at=due_at)
            self.record(published, key=str(event.case_id), subject=str(event.case_id))
            metrics = self._metrics
            if metrics is not None:
                # Counted once the events are safely stored, not when they are decided.
                self.after_commit(metrics.kpi_events.labels(published.type, event.kpi).inc)
