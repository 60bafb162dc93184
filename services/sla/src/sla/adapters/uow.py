"""The SLA service's unit of work over PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from uuid import UUID, uuid4

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import caseflow_contracts as c
from caseflow_servicekit import Outbox, SqlUnitOfWork
from sla.adapters.metrics import SlaMetrics
from sla.adapters.published import to_contract
from sla.adapters.repository import (
    ReferenceCache,
    SqlAccountRepository,
    SqlCalendarRepository,
    SqlCaseSlaRepository,
    SqlKpiRepository,
    SqlPolicyRepository,
    SqlQueueManagerRepository,
)
from sla.adapters.tables import kpi_state_log
from sla.domain import KpiEvent
from sla.domain import kpi as d


class SqlSlaUnitOfWork(SqlUnitOfWork):
    """SLA repositories and KPI event publication in one transaction."""

    cases: SqlCaseSlaRepository
    kpis: SqlKpiRepository
    policies: SqlPolicyRepository
    calendars: SqlCalendarRepository
    accounts: SqlAccountRepository
    queue_managers: SqlQueueManagerRepository

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
        # KPI state changes, written to the state log before the transaction commits.
        self._log: list[dict[str, object]] = []

    async def on_open(self, session: AsyncSession) -> None:
        self.cases = SqlCaseSlaRepository(session)
        self.kpis = SqlKpiRepository(session)
        self.policies = SqlPolicyRepository(session, self._cache)
        self.calendars = SqlCalendarRepository(session, self._cache)
        self.accounts = SqlAccountRepository(session)
        self.queue_managers = SqlQueueManagerRepository(session)

    def emit(
        self,
        events: Iterable[KpiEvent],
        *,
        calendar_id: UUID | None = None,
        due_at: datetime | None = None,
    ) -> None:
        """Publish `events` (keyed by their case) when this unit of work commits."""
        for event in events:
            reason = event.reason if isinstance(event, d.KpiReEvaluated) else None
            self.note(event, state=log_state(event), reason=reason)
            published = to_contract(event, calendar_id=calendar_id, due_at=due_at)
            self._publish(published, event)

    def escalate(
        self,
        step: d.KpiEscalated,
        *,
        escalated_to: UUID | None,
        assignee_id: UUID | None,
        queue_id: UUID | None,
        reason: str,
    ) -> None:
        """Ask the cases service to raise the case a level (`kpi.escalated`), when this
        commits; the KPI's state log keeps the step and whom it went to."""
        whom = "nobody" if escalated_to is None else str(escalated_to)
        self.note(step, state="escalated", reason=f"level {step.level} to {whom}")
        published = c.KpiEscalated(
            kpi_instance_id=step.instance_id,
            case_id=step.case_id,
            kpi=step.kpi,
            occurred_at=step.occurred_at,
            level=step.level,
            target=step.step.to.value,  # type: ignore[arg-type]
            escalated_to=escalated_to,
            assignee_id=assignee_id,
            queue_id=queue_id,
            breached_at=step.breached_at,
            reason=reason[:500],
        )
        self._publish(published, step)

    def _publish(self, published: c.Event, event: KpiEvent) -> None:
        self.record(published, key=str(event.case_id), subject=str(event.case_id))
        metrics = self._metrics
        if metrics is not None:
            # Counted once the events are safely stored, not when they are decided.
            self.after_commit(metrics.kpi_events.labels(published.type, event.kpi).inc)

    def note(self, event: KpiEvent, *, state: str, reason: str | None = None) -> None:
        """Keep a KPI's change in its state log (written when this unit of work commits)."""
        self._log.append(
            {
                "instance_id": event.instance_id,
                "case_id": event.case_id,
                "kpi": event.kpi,
                "state": state,
                "at": event.occurred_at,
                "reason": reason,
            }
        )

    def notify(
        self,
        *,
        recipient: UUID,
        template: str,
        case_id: UUID,
        at: datetime,
        parameters: dict[str, str],
    ) -> None:
        """Ask intake to tell an agent something, when this commits."""
        notification = c.NotificationRequested(
            occurred_at=at,
            notification_id=uuid4(),
            recipient=c.Recipient(kind=c.RecipientKind.AGENT, id=recipient),
            template=template,
            language="en",
            case_id=case_id,
            parameters=parameters,
        )
        self.record(notification, key=str(notification.notification_id), subject=str(case_id))

    async def commit(self) -> None:
        entries, self._log = self._log, []
        if entries:
            await self.session.execute(insert(kpi_state_log), entries)
        await super().commit()


def log_state(event: KpiEvent) -> str:
    """The state a KPI event puts in the state log."""
    match event:
        case d.KpiStarted():
            return "started"
        case d.KpiPaused():
            return "paused"
        case d.KpiResumed():
            return "resumed"
        case d.KpiNearingBreach():
            return "warned"
        case d.KpiBreached():
            return "breached"
        case d.KpiSucceeded():
            return "met"
        case d.KpiCancelled():
            return "cancelled"
        case d.KpiReEvaluated():
            return "re_evaluated"
        case d.KpiEscalated():
            return "escalated"
    return type(event).__name__.lower()
