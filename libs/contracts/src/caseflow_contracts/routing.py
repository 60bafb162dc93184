"""Events owned by routing, published on ``routing.queue-item.v1`` keyed by ``case_id``."""

from __future__ import annotations

from typing import ClassVar, Literal
from uuid import UUID

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


class CaseDequeued(QueueItemEventBase):
    """A case left its queue for good: it was resolved or cancelled."""

    type: Literal["case.dequeued"] = "case.dequeued"
    queue_id: UUID
    reason: str
