"""Kafka subscribers that keep what routing and sla say about cases, and what intake says of
the customers' accounts: thin, they translate."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import caseflow_contracts as c
from caseflow_contracts import topics
from caseflow_contracts.sla import KpiEventBase
from caseflow_servicekit import EventConsumers
from cases.adapters.uow import SqlCasesUnitOfWork
from cases.app.customer_accounts import record_account
from cases.app.ports import AccountFacts
from cases.app.projections import (
    KpiStatus,
    RecordAssigned,
    RecordDequeued,
    RecordKpiChange,
    RecordQueued,
    RecordReleased,
    RecordTransferred,
    RoutingChange,
    project_kpi,
    project_routing,
)
from cases.app.work import EscalateOverdue, escalate_overdue
from cases.domain.values import EscalationTarget

ROUTING_EVENTS = frozenset(
    {"case.queued", "case.assigned", "case.released", "case.transferred", "case.dequeued"}
)
SLA_EVENTS = frozenset(
    {
        "kpi.started",
        "kpi.paused",
        "kpi.resumed",
        "kpi.nearing_breach",
        "kpi.breached",
        "kpi.succeeded",
        "kpi.cancelled",
        "kpi.re_evaluated",
        "kpi.escalated",
    }
)


def routing_change(event: c.Event) -> RoutingChange:
    """The routing event as the cases service records it."""
    at = event.occurred_at
    match event:
        case c.CaseQueued():
            return RecordQueued(
                case_id=event.case_id, queue_id=event.queue_id, queue_name=event.queue_name, at=at
            )
        case c.CaseAssigned():
            return RecordAssigned(case_id=event.case_id, agent_id=event.agent_id, at=at)
        case c.CaseReleased():
            return RecordReleased(case_id=event.case_id, agent_id=event.agent_id, at=at)
        case c.CaseTransferred():
            return RecordTransferred(
                case_id=event.case_id,
                from_queue_id=event.from_queue_id,
                to_queue_id=event.to_queue_id,
                at=at,
            )
        case c.CaseDequeued():
            return RecordDequeued(case_id=event.case_id, queue_id=event.queue_id, at=at)
    msg = f"not a routing event: {event.type}"
    raise TypeError(msg)


def kpi_change(event: c.Event) -> RecordKpiChange:
    """The SLA event as the cases service records it."""
    if not isinstance(event, KpiEventBase):
        msg = f"not an SLA event: {event.type}"
        raise TypeError(msg)

    def change(
        status: KpiStatus,
        due_at: datetime | None = None,
        *,
        keeps_due_at: bool = False,
        breached: bool = False,
    ) -> RecordKpiChange:
        return RecordKpiChange(
            case_id=event.case_id,
            kpi=event.kpi,
            instance_id=event.kpi_instance_id,
            at=event.occurred_at,
            status=status,
            due_at=due_at,
            keeps_due_at=keeps_due_at,
            breached=breached,
        )

    match event:
        case c.KpiStarted() | c.KpiResumed():
            return change(KpiStatus.IN_PROGRESS, event.due_at)
        case c.KpiPaused():
            # A paused KPI has no deadline: it moves by the time waited.
            return change(KpiStatus.PAUSED)
        case c.KpiNearingBreach():
            return change(KpiStatus.NEARING_BREACH, event.due_at)
        case c.KpiBreached():
            return change(KpiStatus.BREACHED, event.due_at, breached=True)
        case c.KpiSucceeded():
            # Met at its deadline or after it is met late: the deadline was breached.
            return change(
                KpiStatus.SUCCEEDED, event.due_at, breached=event.succeeded_at >= event.due_at
            )
        case c.KpiCancelled():
            return change(KpiStatus.CANCELLED, keeps_due_at=True)
        case c.KpiReEvaluated():
            # Another target or calendar: the deadline moves (none while paused).
            return change(KpiStatus(event.status), event.due_at)
    msg = f"not an SLA event: {event.type}"
    raise TypeError(msg)


def overdue_escalation(event: c.KpiEscalated) -> EscalateOverdue:
    """SLA's request to raise a case a level, as the cases service records it: a step to a
    department head goes to the department head, any other to the next level."""
    return EscalateOverdue(
        case_id=event.case_id,
        kpi_instance_id=event.kpi_instance_id,
        step=event.level,
        target=(
            EscalationTarget.DEPARTMENT_HEAD
            if event.target == "department_head"
            else EscalationTarget.NEXT_LEVEL
        ),
        manager_id=event.escalated_to,
        reason=event.reason,
        at=event.occurred_at,
    )


def register(consumers: EventConsumers, *, uow_factory: Callable[[], SqlCasesUnitOfWork]) -> None:
    """Subscribe the cases service to the queue-item events of routing and the KPI events of
    sla, which it keeps as the queue, assignee, SLA state and overdue flag of its cases; and to
    intake's accounts, whose owners hear of their contracts."""

    async def on_routing(event: c.Event, envelope: c.Envelope, uow: SqlCasesUnitOfWork) -> None:
        await project_routing(routing_change(event), uow=uow)

    async def on_kpi(event: c.Event, envelope: c.Envelope, uow: SqlCasesUnitOfWork) -> None:
        if isinstance(event, c.KpiEscalated):
            await escalate_overdue(overdue_escalation(event), uow=uow)
            return
        await project_kpi(kpi_change(event), uow=uow)

    consumers.subscribe(topics.ROUTING, on_routing, uow_factory=uow_factory, events=ROUTING_EVENTS)
    consumers.subscribe(topics.SLA, on_kpi, uow_factory=uow_factory, events=SLA_EVENTS)

    async def on_account(event: c.Event, envelope: c.Envelope, uow: SqlCasesUnitOfWork) -> None:
        assert isinstance(event, c.AccountRegistered | c.AccountChanged)
        await record_account(
            AccountFacts(
                account_id=event.account_id,
                name=event.name,
                tier=event.tier,
                owner_id=event.owner_id,
                credit_hold=event.credit_hold,
                version=event.version,
            ),
            uow=uow,
        )

    consumers.subscribe(
        topics.INTAKE_CUSTOMERS,
        on_account,
        uow_factory=uow_factory,
        events={"account.registered", "account.changed"},
    )
