"""What happened to a case in the queues: the events the routing operations return.

Each event is a frozen, keyword-only dataclass named in the past tense, about one queue item
and the case it holds; adapters turn them into the published contracts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from routing.domain.agents import AssignmentStrategy


@dataclass(frozen=True, kw_only=True)
class RoutingEvent:
    """Something that happened to one case's queue item at one moment."""

    queue_item_id: UUID
    case_id: UUID
    occurred_at: datetime


@dataclass(frozen=True, kw_only=True)
class CaseQueued(RoutingEvent):
    """A case was placed in a queue, by the named rule or, without one, in the default queue."""

    queue_id: UUID
    rule_name: str | None
    required_skills: frozenset[str]


@dataclass(frozen=True, kw_only=True)
class CaseAssigned(RoutingEvent):
    """An agent started working a queued case: picked it (`picked`) or was assigned it.

    ``strategy`` says who chose the agent: a person (manual, always so for a pick) or the
    queue's assignment strategy.
    """

    queue_id: UUID
    agent_id: UUID
    picked: bool
    strategy: AssignmentStrategy
    rule_name: str | None = None
    """The routing rule that placed the case in the queue, if one did."""
    by: UUID | None = None
    """The supervisor who assigned it, when a person did."""


@dataclass(frozen=True, kw_only=True)
class CaseAccepted(RoutingEvent):
    """An agent took the case into work where cases are worked; routing records that they
    work its queue item now."""

    queue_id: UUID
    agent_id: UUID


@dataclass(frozen=True, kw_only=True)
class CaseReleased(RoutingEvent):
    """An agent stopped working a case, which waits in its queue again."""

    queue_id: UUID
    agent_id: UUID


@dataclass(frozen=True, kw_only=True)
class CaseTransferred(RoutingEvent):
    """A case moved to another queue (by `transferred_by` when a person did it).

    Whoever worked the case (``released_agent_id``) no longer does.
    """

    from_queue_id: UUID
    to_queue_id: UUID
    released_agent_id: UUID | None
    transferred_by: UUID | None
    reason: str | None = None
    """Why it moved when nobody moved it (an overflow: `OverflowReason`)."""


@dataclass(frozen=True, kw_only=True)
class CaseDequeued(RoutingEvent):
    """A case left the queues (for instance because it was resolved or cancelled)."""

    queue_id: UUID
    reason: str
    released_agent_id: UUID | None
