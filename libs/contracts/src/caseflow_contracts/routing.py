"""Events owned by routing: a case's place in a queue, on ``routing.queue-item.v1`` keyed by
``case_id``; the agent directory, on ``routing.agent.v1`` keyed by ``agent_id``."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal
from uuid import UUID

from pydantic import Field

from caseflow_contracts.base import Event


class QueueItemEventBase(Event):
    """Base of every event about a case's place in a queue."""

    key_field: ClassVar[str] = "case_id"

    case_id: UUID
    queue_item_id: UUID


class CaseQueued(QueueItemEventBase):
    """A case was placed in a queue, by a routing rule or by hand."""

    type: Literal["case.queued"] = "case.queued"
    queue_id: UUID
    queue_name: str
    rule: str | None = None


class CaseAssigned(QueueItemEventBase):
    """An agent was made responsible for a queued case."""

    type: Literal["case.assigned"] = "case.assigned"
    queue_id: UUID
    agent_id: UUID
    strategy: str
    """Who chose the agent: ``manual`` (a pick or a supervisor), or the queue's strategy
    (``round_robin``, ``least_busy``, ``most_idle``, ``skills``, ``preferred_agent``)."""
    rule: str | None = None
    """The routing rule that placed the case in the queue, if one did."""
    by: UUID | None = None
    """The supervisor who assigned the case, when a person did."""


class CaseReleased(QueueItemEventBase):
    """An agent gave a queued case back to its queue."""

    type: Literal["case.released"] = "case.released"
    queue_id: UUID
    agent_id: UUID


class CaseTransferred(QueueItemEventBase):
    """A queued case was moved to another queue."""

    type: Literal["case.transferred"] = "case.transferred"
    from_queue_id: UUID
    to_queue_id: UUID
    by: UUID | None = None
    reason: str | None = None
    """Why it moved when nobody moved it: an overflow (``waited_too_long``,
    ``queue_too_long``, ``no_member_available``)."""


class CaseDequeued(QueueItemEventBase):
    """A case left its queue for good: it was resolved or cancelled."""

    type: Literal["case.dequeued"] = "case.dequeued"
    queue_id: UUID
    reason: str


class AgentEventBase(Event):
    """Base of the events about one agent of the directory, on ``routing.agent.v1`` keyed by
    ``agent_id``: each carries the entry whole, with its version, so a projection keeps the
    highest version it has seen."""

    key_field: ClassVar[str] = "agent_id"

    agent_id: UUID
    """The identity subject of the agent's token."""
    name: str
    email: str | None = None
    phone_extension: str | None = None
    languages: list[str] = Field(default_factory=list)
    """The languages the agent works in, the first preferred."""
    manager_id: UUID | None = None
    teams: list[UUID] = Field(default_factory=list)
    active: bool = True
    presence: str | None = None
    """``available``, ``busy``, ``away`` or ``offline``; None from a producer before presence."""
    skills: list[str] = Field(default_factory=list)
    """Each as ``name`` (level 1) or ``name:level`` (1–5)."""
    version: Annotated[int, Field(ge=1)]


class AgentRegistered(AgentEventBase):
    """An agent joined the directory."""

    type: Literal["agent.registered"] = "agent.registered"


class AgentChanged(AgentEventBase):
    """An agent's entry in the directory changed."""

    type: Literal["agent.changed"] = "agent.changed"


class AgentPresenceChanged(AgentEventBase):
    """An agent's presence changed (by their hand, a supervisor's, or their work: a call, a
    full capacity)."""

    type: Literal["agent.presence_changed"] = "agent.presence_changed"
    previous_presence: str | None = None
    reason: str | None = None
    """``set`` by a person, ``call`` while on a call, ``capacity`` when full, ``freed``."""
