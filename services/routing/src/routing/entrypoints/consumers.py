"""Kafka subscribers of the routing service: thin, they translate and hand over."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from uuid import UUID

import caseflow_contracts as c
from caseflow_contracts import topics
from caseflow_contracts.sla import KpiEventBase
from caseflow_servicekit import BatchHandler, Clock, Delivered, EventConsumers, EventHandler
from routing.adapters.uow import SqlRoutingUnitOfWork
from routing.app import directory
from routing.app.case_changes import (
    AcceptCase,
    CaseChange,
    ChangeEntitlement,
    DequeueCase,
    RequeueCase,
)
from routing.app.handlers import (
    RouteCase,
    apply_case_change,
    dequeue_cases,
    route_case,
    route_cases,
)
from routing.app.projections import keep_account, track_kpi

CASE_EVENTS = frozenset(
    {
        "case.opened",
        "case.status_changed",
        "case.resolved",
        "case.cancelled",
        "case.reopened",
        "case.entitlement_changed",
    }
)
"""The case events routing follows; the others on the topic are skipped."""


def register(
    consumers: EventConsumers,
    *,
    uow_factory: Callable[[], SqlRoutingUnitOfWork],
    clock: Clock,
) -> None:
    """Subscribe the routing service to the life of the cases it places in queues."""

    on_case_event, on_case_events = case_handlers(clock)
    consumers.subscribe(
        topics.CASES,
        on_case_event,
        uow_factory=uow_factory,
        events=CASE_EVENTS,
        batch_handler=on_case_events,
    )

    async def on_account(event: c.Event, envelope: c.Envelope, uow: SqlRoutingUnitOfWork) -> None:
        assert isinstance(event, c.AccountRegistered | c.AccountChanged)
        await keep_account(
            event.account_id,
            owner_id=event.owner_id,
            tier=event.tier,
            region=event.region,
            version=event.version,
            uow=uow,
        )

    consumers.subscribe(
        topics.INTAKE_CUSTOMERS,
        on_account,
        uow_factory=uow_factory,
        events={"account.registered", "account.changed"},
    )

    async def on_kpi(event: c.Event, envelope: c.Envelope, uow: SqlRoutingUnitOfWork) -> None:
        state, due_at = kpi_state(event)
        assert isinstance(event, KpiEventBase)
        await track_kpi(
            event.kpi_instance_id, case_id=event.case_id, state=state, due_at=due_at, uow=uow
        )

    consumers.subscribe(topics.SLA, on_kpi, uow_factory=uow_factory, events=KPI_EVENTS)

    async def on_call(event: c.Event, envelope: c.Envelope, uow: SqlRoutingUnitOfWork) -> None:
        # An agent on a call is busy; when it ends (or moves on) they are available again.
        match event:
            case c.CallAnswered(agent_extension=str() as extension):
                await directory.on_call(extension, busy=True, uow=uow, now=clock.now())
            case (
                c.CallEnded(agent_extension=str() as extension)
                | c.CallMissed(agent_extension=str() as extension)
            ):
                await directory.on_call(extension, busy=False, uow=uow, now=clock.now())
            case c.CallTransferred(agent_extension=to, from_extension=from_):
                if from_:
                    await directory.on_call(from_, busy=False, uow=uow, now=clock.now())
                if to:
                    await directory.on_call(to, busy=True, uow=uow, now=clock.now())

    consumers.subscribe(
        topics.CHANNELS_CTI,
        on_call,
        uow_factory=uow_factory,
        events={"call.answered", "call.ended", "call.missed", "call.transferred"},
    )


def case_handlers(
    clock: Clock,
) -> tuple[EventHandler[SqlRoutingUnitOfWork], BatchHandler[SqlRoutingUnitOfWork]]:
    """How routing applies the case events it follows: one at a time, and a batch at once."""

    async def on_case_event(
        event: c.Event, envelope: c.Envelope, uow: SqlRoutingUnitOfWork
    ) -> None:
        if isinstance(event, c.CaseOpened):
            await route_case(route_command(event), uow=uow, now=clock.now())
            return
        change = case_change(event)
        if change is not None:
            await apply_case_change(change, uow=uow, now=clock.now())

    async def on_case_events(batch: Sequence[Delivered], uow: SqlRoutingUnitOfWork) -> None:
        # Openings one after another are routed together, and resolutions and cancellations
        # one after another are dequeued together; any other event is applied alone. A run
        # is applied before whatever follows it, so each case's events apply in their order.
        openings: list[RouteCase] = []
        removals: list[DequeueCase] = []
        # Each case's events are recorded in the trace of the event that brought its run.
        scopes: dict[UUID, Callable[[], AbstractContextManager[object]]] = {}

        def scope_of(case_id: UUID) -> AbstractContextManager[object]:
            return scopes[case_id]()

        async def flush() -> None:
            if openings:
                await route_cases(openings, uow=uow, now=clock.now(), scope=scope_of)
                openings.clear()
            if removals:
                await dequeue_cases(removals, uow=uow, now=clock.now(), scope=scope_of)
                removals.clear()

        for delivered in batch:
            event = delivered.event
            if isinstance(event, c.CaseOpened):
                if removals:
                    await flush()
                openings.append(route_command(event))
                scopes[event.case_id] = delivered.scope
                continue
            change = case_change(event)
            if isinstance(change, DequeueCase):
                if openings:
                    await flush()
                removals.append(change)
                scopes[change.case_id] = delivered.scope
                continue
            await flush()
            with delivered.scope():
                await on_case_event(event, delivered.envelope, uow)
        await flush()

    return on_case_event, on_case_events


KPI_EVENTS = frozenset(
    {
        "kpi.started",
        "kpi.paused",
        "kpi.resumed",
        "kpi.nearing_breach",
        "kpi.breached",
        "kpi.succeeded",
        "kpi.cancelled",
        "kpi.re_evaluated",
    }
)
"""The KPI events that order queues and mark items at SLA risk."""


def kpi_state(event: c.Event) -> tuple[str, datetime | None]:
    """The state a KPI event leaves the KPI in, and its deadline when the event says."""
    match event:
        case c.KpiStarted(due_at=due) | c.KpiResumed(due_at=due):
            return "running", due
        case c.KpiPaused():
            return "paused", None
        case c.KpiNearingBreach(due_at=due):
            return "nearing", due
        case c.KpiBreached(due_at=due):
            return "breached", due
        case c.KpiSucceeded(due_at=due):
            return "done", due
        case c.KpiReEvaluated(status=status, due_at=due):
            return {"paused": "paused", "nearing_breach": "nearing"}.get(status, "running"), due
    return "done", None


def route_command(event: c.CaseOpened) -> RouteCase:
    """What routing is asked to do with an opened case: place it."""
    entitled, not_entitled = entitlement_of(event)
    return RouteCase(
        case_id=event.case_id,
        number=event.number,
        channel=event.channel.value,
        priority=event.priority.value,
        subject=event.subject,
        opened_at=event.occurred_at,
        request_type=event.request_type,
        account_id=event.account_id,
        entitled=entitled,
        not_entitled=not_entitled,
        parameters=dict(event.parameters),
    )


def entitlement_of(
    event: c.CaseOpened | c.CaseEntitlementChanged,
) -> tuple[bool | None, str | None]:
    """Whether a contract line covers the case, and if not why: (None, None) when the event
    says nothing of contracts (an opening from before they existed)."""
    if event.entitlement_id is not None:
        return True, None
    if event.not_entitled is not None:
        return False, event.not_entitled.value
    return None, None


def case_change(event: c.Event) -> CaseChange | None:
    """The change a case event brings to what routing keeps, or None if it brings none."""
    match event:
        case c.CaseResolved() | c.CaseCancelled():
            reason = "resolved" if isinstance(event, c.CaseResolved) else "cancelled"
            return DequeueCase(case_id=event.case_id, at=event.occurred_at, reason=reason)
        case c.CaseReopened():
            return RequeueCase(case_id=event.case_id, at=event.occurred_at)
        case c.CaseStatusChanged(to_status=c.CaseStatus.IN_PROGRESS, by=UUID() as agent_id):
            # An agent took the case into work. Other moves (and one by nobody in particular,
            # e.g. the customer answering) leave the queue item as it is.
            return AcceptCase(case_id=event.case_id, at=event.occurred_at, agent_id=agent_id)
        case c.CaseEntitlementChanged():
            entitled, not_entitled = entitlement_of(event)
            # Only contracts bring this event, so a line neither chosen nor refused was cleared:
            # the case is not entitled, for no reason given.
            return ChangeEntitlement(
                case_id=event.case_id,
                at=event.occurred_at,
                entitled=bool(entitled),
                not_entitled=not_entitled,
            )
    return None
