"""Routing's domain events, translated to the published contracts of `routing.queue-item.v1`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import caseflow_contracts as c
from caseflow_contracts.routing import AgentEventBase
from routing.app.ports import AgentEntry
from routing.domain import (
    CaseAccepted,
    CaseAssigned,
    CaseDequeued,
    CaseQueued,
    CaseReleased,
    CaseTransferred,
    Queue,
    RoutingEvent,
)

ACCEPTED = "accepted"
"""The `strategy` of a `case.assigned` telling that the agent took the case into work."""


def to_contract(event: RoutingEvent, *, queue: Queue) -> c.Event:
    """The contract event telling other services about `event`; `queue` holds the item now."""
    common = {
        "case_id": event.case_id,
        "queue_item_id": event.queue_item_id,
        "occurred_at": event.occurred_at,
    }
    match event:
        case CaseQueued():
            if queue.queue_id != event.queue_id:
                msg = f"case queued in {event.queue_id} but described with queue {queue.queue_id}"
                raise ValueError(msg)
            return c.CaseQueued(
                **common, queue_id=event.queue_id, queue_name=queue.name, rule=event.rule_name
            )
        case CaseAssigned():
            return c.CaseAssigned(
                **common,
                queue_id=event.queue_id,
                agent_id=event.agent_id,
                strategy=event.strategy.value,
                rule=event.rule_name,
                by=event.by,
            )
        case CaseAccepted():
            # Published as an assignment, so readers of `case.assigned` need nothing new.
            return c.CaseAssigned(
                **common,
                queue_id=event.queue_id,
                agent_id=event.agent_id,
                strategy=ACCEPTED,
            )
        case CaseReleased():
            return c.CaseReleased(**common, queue_id=event.queue_id, agent_id=event.agent_id)
        case CaseTransferred():
            return c.CaseTransferred(
                **common,
                from_queue_id=event.from_queue_id,
                to_queue_id=event.to_queue_id,
                by=event.transferred_by,
                reason=event.reason,
            )
        case CaseDequeued():
            return c.CaseDequeued(**common, queue_id=event.queue_id, reason=event.reason)
    msg = f"no contract for {type(event).__name__}"
    raise TypeError(msg)


_AGENT_EVENTS: dict[str, type[AgentEventBase]] = {
    "registered": c.AgentRegistered,
    "changed": c.AgentChanged,
    "presence_changed": c.AgentPresenceChanged,
}


def agent_event(entry: AgentEntry, *, kind: str, at: datetime, **extra: Any) -> c.Event:
    """The entry whole, as published on `routing.agent.v1` (`kind`: registered, changed,
    presence_changed; `extra`: the manager it answers to, and for a presence its previous
    value and reason)."""
    model = _AGENT_EVENTS[kind]
    event: c.Event = model(
        occurred_at=at,
        agent_id=entry.agent_id,
        name=entry.name,
        email=entry.email,
        phone_extension=entry.phone_extension,
        languages=list(entry.languages),
        teams=list(entry.teams),
        active=entry.active,
        presence=entry.presence.value,
        skills=sorted(entry.skills),
        version=entry.version,
        **extra,
    )
    return event
