"""Kafka subscribers of the SLA service: thin, they translate and hand over."""

from __future__ import annotations

from collections.abc import Callable

import caseflow_contracts as c
from caseflow_contracts import topics
from caseflow_servicekit import EventConsumers
from sla.adapters.uow import SqlSlaUnitOfWork
from sla.app.commands import (
    RecordCancellation,
    RecordFirstResponse,
    RecordReopening,
    RecordResolution,
    RecordStatusChange,
    StartKpis,
)
from sla.app.handlers import apply_case_change, is_first_response, start_kpis

CASE_EVENTS = frozenset(
    {
        "case.opened",
        "case.status_changed",
        "activity.logged",
        "case.resolved",
        "case.cancelled",
        "case.reopened",
        # Not case.entitlement_changed (skipped): re-evaluating KPIs on a new line is later work.
    }
)
"""The case events that move KPIs; the others on the topic are skipped before decoding."""


def register(consumers: EventConsumers, *, uow_factory: Callable[[], SqlSlaUnitOfWork]) -> None:
    """Subscribe the SLA service to the lifecycle of cases."""

    async def on_case_event(event: c.Event, envelope: c.Envelope, uow: SqlSlaUnitOfWork) -> None:
        # Every change is applied at the moment the case event says it happened, not when it
        # is read here, so a consumer that lags does not stretch or shrink a KPI.
        match event:
            case c.CaseOpened():
                await start_kpis(
                    StartKpis(
                        case_id=event.case_id,
                        opened_at=event.occurred_at,
                        status=event.status.value,
                        priority=event.priority.value,
                        channel=event.channel.value,
                        request_type=event.request_type,
                        sla_policy_id=event.sla_policy_id,
                        calendar_id=event.calendar_id,
                    ),
                    uow=uow,
                )
            case c.CaseStatusChanged():
                await apply_case_change(
                    RecordStatusChange(
                        case_id=event.case_id, at=event.occurred_at, status=event.to_status.value
                    ),
                    uow=uow,
                )
            case c.ActivityLogged():
                # Only an agent's answer sent to the customer is a response; notes are not.
                if is_first_response(to_customer=event.to_customer, agent_id=event.agent_id):
                    await apply_case_change(
                        RecordFirstResponse(case_id=event.case_id, at=event.occurred_at), uow=uow
                    )
            case c.CaseResolved():
                await apply_case_change(
                    RecordResolution(case_id=event.case_id, at=event.occurred_at), uow=uow
                )
            case c.CaseCancelled():
                await apply_case_change(
                    RecordCancellation(case_id=event.case_id, at=event.occurred_at), uow=uow
                )
            case c.CaseReopened():
                await apply_case_change(
                    RecordReopening(case_id=event.case_id, at=event.occurred_at), uow=uow
                )

    consumers.subscribe(topics.CASES, on_case_event, uow_factory=uow_factory, events=CASE_EVENTS)
