"""Kafka subscribers of the SLA service: thin, they translate and hand over."""

from __future__ import annotations

from collections.abc import Callable

import caseflow_contracts as c
from caseflow_contracts import topics
from caseflow_servicekit import EventConsumers
from sla.adapters.uow import SqlSlaUnitOfWork
from sla.app.commands import (
    RecordCancellation,
    RecordCustomerMessage,
    RecordFirstResponse,
    RecordReopening,
    RecordResolution,
    RecordStatusChange,
    ReEvaluate,
    StartKpis,
)
from sla.app.handlers import (
    apply_case_change,
    is_customer_message,
    is_first_response,
    keep_agent,
    re_evaluate,
    record_assignee,
    record_customer_message,
    record_queue,
    start_kpis,
)
from sla.app.policies import keep_account

CASE_EVENTS = frozenset(
    {
        "case.opened",
        "case.status_changed",
        "activity.logged",
        "case.resolved",
        "case.cancelled",
        "case.reopened",
        "case.updated",
        "case.entitlement_changed",
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
                        account_id=event.account_id,
                        contract_id=event.contract_id,
                        number=event.number,
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
                elif is_customer_message(
                    agent_id=event.agent_id,
                    interaction_id=event.interaction_id,
                    auto_reply=event.auto_reply,
                    to_customer=event.to_customer,
                ):
                    await record_customer_message(
                        RecordCustomerMessage(case_id=event.case_id, at=event.occurred_at),
                        uow=uow,
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
            case c.CaseUpdated():
                # Only a new priority or request type can change the terms.
                if event.priority is not None or "request_type" in event.changes:
                    await re_evaluate(
                        ReEvaluate(
                            case_id=event.case_id,
                            at=event.occurred_at,
                            reason=_updated_reason(event),
                            priority=None if event.priority is None else event.priority.value,
                            request_type=event.request_type,
                            request_type_changed="request_type" in event.changes,
                        ),
                        uow=uow,
                    )
            case c.CaseEntitlementChanged():
                await re_evaluate(
                    ReEvaluate(
                        case_id=event.case_id,
                        at=event.occurred_at,
                        reason="contract changed"
                        if event.contract_id is not None
                        else "contract removed",
                        contract_changed=True,
                        contract_id=event.contract_id,
                        sla_policy_id=event.sla_policy_id,
                        calendar_id=event.calendar_id,
                    ),
                    uow=uow,
                )

    consumers.subscribe(topics.CASES, on_case_event, uow_factory=uow_factory, events=CASE_EVENTS)

    async def on_account(event: c.Event, envelope: c.Envelope, uow: SqlSlaUnitOfWork) -> None:
        assert isinstance(event, c.AccountRegistered | c.AccountChanged)
        await keep_account(
            event.account_id,
            tier=event.tier,
            region=event.region,
            version=event.version,
            uow=uow,
        )

    async def on_routing(event: c.Event, envelope: c.Envelope, uow: SqlSlaUnitOfWork) -> None:
        # Who works the case: told when a deadline nears; their manager when it passes.
        # The queue it is in: for the compliance report by queue.
        match event:
            case c.CaseQueued(queue_id=queue_id, queue_name=name):
                await record_queue(
                    event.case_id,
                    queue_id,
                    at=event.occurred_at,
                    reason=f"queued in {name}",
                    uow=uow,
                )
            case c.CaseAssigned(agent_id=agent_id):
                await record_assignee(event.case_id, agent_id, uow=uow)
            case c.CaseTransferred(to_queue_id=queue_id):
                await record_assignee(event.case_id, None, uow=uow)
                await record_queue(
                    event.case_id,
                    queue_id,
                    at=event.occurred_at,
                    reason="transferred to another queue",
                    uow=uow,
                )
            case c.CaseReleased() | c.CaseDequeued():
                await record_assignee(event.case_id, None, uow=uow)

    consumers.subscribe(
        topics.ROUTING,
        on_routing,
        uow_factory=uow_factory,
        events={
            "case.queued",
            "case.assigned",
            "case.released",
            "case.transferred",
            "case.dequeued",
        },
    )

    async def on_agent(event: c.Event, envelope: c.Envelope, uow: SqlSlaUnitOfWork) -> None:
        assert isinstance(event, c.AgentRegistered | c.AgentChanged | c.AgentPresenceChanged)
        await keep_agent(
            event.agent_id,
            name=event.name,
            manager_id=event.manager_id,
            version=event.version,
            uow=uow,
        )

    consumers.subscribe(
        topics.ROUTING_AGENTS,
        on_agent,
        uow_factory=uow_factory,
        events={"agent.registered", "agent.changed", "agent.presence_changed"},
    )

    consumers.subscribe(
        topics.INTAKE_CUSTOMERS,
        on_account,
        uow_factory=uow_factory,
        events={"account.registered", "account.changed"},
    )


def _updated_reason(event: c.CaseUpdated) -> str:
    """What changed, for the KPI state log."""
    parts = []
    if event.priority is not None:
        parts.append(f"priority changed to {event.priority.value}")
    if "request_type" in event.changes:
        parts.append(f"request type changed to {event.request_type or 'none'}")
    return "; ".join(parts)
