"""Queues and queue items: where cases wait, and who works them.

A case enters a queue as a queue item (``enqueue``). The item is then assigned to an agent
(by a supervisor or the queue's strategy), picked by one, or accepted (the agent took the case
into work in the cases service); released back to wait; moved to another queue; and removed
when the case no longer needs working. Each operation updates the item and returns the events
that describe the change; one that changes nothing (an agent picking the item they already
work) returns no events.

    waiting ──assign/pick/accept──▶ assigned ──release──▶ released ──assign/pick/accept──▶ …
       ▲                                │
       └──────────── transfer ──────────┘   (from waiting, assigned or released)
    any status but removed ──remove──▶ removed

A removed item stays removed: a case that comes back (reopened) gets a new item in the queue
its last item was in (``requeue``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from routing.domain.agents import Agent, AssignmentStrategy, Presence
from routing.domain.errors import (
    AgentAtCapacityError,
    AgentUnavailableError,
    ItemAlreadyWorkedError,
    ItemNotWorkedError,
    QueueItemRemovedError,
    RoutingValidationError,
    SameQueueError,
)
from routing.domain.events import (
    CaseAccepted,
    CaseAssigned,
    CaseDequeued,
    CaseQueued,
    CaseReleased,
    CaseTransferred,
    RoutingEvent,
)
from routing.domain.rules import CaseFacts, RoutingRule, choose_queue


class QueueKind(StrEnum):
    """Who sees a queue: everyone, or only its members."""

    PUBLIC = "public"
    PRIVATE = "private"


class QueueItemStatus(StrEnum):
    """Where a queue item stands."""

    WAITING = "waiting"
    ASSIGNED = "assigned"
    RELEASED = "released"
    REMOVED = "removed"


@dataclass(frozen=True, kw_only=True)
class Queue:
    """A list of cases waiting to be worked, with how its items reach agents."""

    queue_id: UUID
    name: str
    kind: QueueKind = QueueKind.PUBLIC
    is_default: bool = False
    strategy: AssignmentStrategy = AssignmentStrategy.MANUAL

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise RoutingValidationError("a queue needs a name")


def default_queue(queues: Iterable[Queue]) -> Queue:
    """The one queue that takes the cases no routing rule places."""
    defaults = [queue for queue in queues if queue.is_default]
    if len(defaults) != 1:
        raise RoutingValidationError(
            f"exactly one queue must be the default, found {len(defaults)}"
        )
    return defaults[0]


@dataclass(eq=False, kw_only=True)
class QueueItem:
    """One case in one queue, and the agent working it if any."""

    queue_item_id: UUID
    case_id: UUID
    queue_id: UUID
    entered_at: datetime
    status: QueueItemStatus = QueueItemStatus.WAITING
    worked_by: UUID | None = None
    worked_since: datetime | None = None
    required_skills: frozenset[str] = frozenset()

    @property
    def is_active(self) -> bool:
        """Whether the item is still in its queue (not removed)."""
        return self.status is not QueueItemStatus.REMOVED

    def assign(
        self,
        agent: Agent,
        *,
        now: datetime,
        strategy: AssignmentStrategy = AssignmentStrategy.MANUAL,
    ) -> list[RoutingEvent]:
        """Give the item to an agent who is not offline and has free capacity."""
        if agent.presence is Presence.OFFLINE:
            raise AgentUnavailableError(f"agent {agent.agent_id} is offline")
        return self._start_work(agent, now=now, picked=False, strategy=strategy)

    def pick(self, agent: Agent, *, now: datetime) -> list[RoutingEvent]:
        """Let an agent with free capacity take the item to work it."""
        return self._start_work(agent, now=now, picked=True, strategy=AssignmentStrategy.MANUAL)

    def accept(self, agent: Agent, *, now: datetime) -> list[RoutingEvent]:
        """Record that an agent took the case into work: they work the item from now on.

        This is a fact reported by the cases service, not a request: neither the agent's
        presence nor their capacity is checked, since refusing would only leave routing's
        view of who works the case wrong. An item another agent works is not taken from them.
        """
        self._require_active()
        _require_aware(now)
        if self.worked_by == agent.agent_id:
            return []
        if self.worked_by is not None:
            raise ItemAlreadyWorkedError(
                f"queue item {self.queue_item_id} is worked by agent {self.worked_by}"
            )
        self.status = QueueItemStatus.ASSIGNED
        self.worked_by = agent.agent_id
        self.worked_since = now
        return [
            CaseAccepted(
                queue_item_id=self.queue_item_id,
                case_id=self.case_id,
                occurred_at=now,
                queue_id=self.queue_id,
                agent_id=agent.agent_id,
            )
        ]

    def release(self, *, now: datetime) -> list[RoutingEvent]:
        """Stop working the item; it waits in its queue for someone else."""
        self._require_active()
        _require_aware(now)
        agent_id = self.worked_by
        if agent_id is None:
            raise ItemNotWorkedError(f"queue item {self.queue_item_id} is not being worked")
        self._stop_work()
        self.status = QueueItemStatus.RELEASED
        return [
            CaseReleased(
                queue_item_id=self.queue_item_id,
                case_id=self.case_id,
                occurred_at=now,
                queue_id=self.queue_id,
                agent_id=agent_id,
            )
        ]

    def transfer(
        self, to_queue_id: UUID, *, now: datetime, by: UUID | None = None
    ) -> list[RoutingEvent]:
        """Move the item to another queue, where it waits afresh and nobody works it."""
        self._require_active()
        _require_aware(now)
        if to_queue_id == self.queue_id:
            raise SameQueueError(f"queue item {self.queue_item_id} is already in that queue")
        released = self._stop_work()
        from_queue_id = self.queue_id
        self.queue_id = to_queue_id
        self.status = QueueItemStatus.WAITING
        self.entered_at = now
        return [
            CaseTransferred(
                queue_item_id=self.queue_item_id,
                case_id=self.case_id,
                occurred_at=now,
                from_queue_id=from_queue_id,
                to_queue_id=to_queue_id,
                released_agent_id=released,
                transferred_by=by,
            )
        ]

    def remove(self, reason: str, *, now: datetime) -> list[RoutingEvent]:
        """Take the item out of its queue for good, for instance once the case is resolved."""
        _require_aware(now)
        text = reason.strip()
        if not text:
            raise RoutingValidationError("a removal needs a reason")
        if not self.is_active:
            return []
        released = self._stop_work()
        self.status = QueueItemStatus.REMOVED
        return [
            CaseDequeued(
                queue_item_id=self.queue_item_id,
                case_id=self.case_id,
                occurred_at=now,
                queue_id=self.queue_id,
                reason=text,
                released_agent_id=released,
            )
        ]

    def _start_work(
        self, agent: Agent, *, now: datetime, picked: bool, strategy: AssignmentStrategy
    ) -> list[RoutingEvent]:
        self._require_active()
        _require_aware(now)
        if self.worked_by == agent.agent_id:
            return []
        if self.worked_by is not None:
            raise ItemAlreadyWorkedError(
                f"queue item {self.queue_item_id} is worked by agent {self.worked_by}"
            )
        if agent.free_capacity <= 0:
            raise AgentAtCapacityError(f"agent {agent.agent_id} has no free capacity")
        self.status = QueueItemStatus.ASSIGNED
        self.worked_by = agent.agent_id
        self.worked_since = now
        return [
            CaseAssigned(
                queue_item_id=self.queue_item_id,
                case_id=self.case_id,
                occurred_at=now,
                queue_id=self.queue_id,
                agent_id=agent.agent_id,
                picked=picked,
                strategy=strategy,
            )
        ]

    def _stop_work(self) -> UUID | None:
        agent_id, self.worked_by, self.worked_since = self.worked_by, None, None
        return agent_id

    def _require_active(self) -> None:
        if not self.is_active:
            raise QueueItemRemovedError(f"queue item {self.queue_item_id} has left its queue")


def enqueue(
    facts: CaseFacts,
    rules: Iterable[RoutingRule],
    default_queue_id: UUID,
    *,
    queue_item_id: UUID,
    now: datetime,
) -> tuple[QueueItem, list[RoutingEvent]]:
    """Place a case in the queue the routing rules choose, or in the default queue."""
    _require_aware(now)
    choice = choose_queue(facts, rules, default_queue_id)
    item = QueueItem(
        queue_item_id=queue_item_id,
        case_id=facts.case_id,
        queue_id=choice.queue_id,
        entered_at=now,
        required_skills=choice.required_skills,
    )
    queued = CaseQueued(
        queue_item_id=item.queue_item_id,
        case_id=item.case_id,
        occurred_at=now,
        queue_id=item.queue_id,
        rule_name=choice.rule_name,
        required_skills=item.required_skills,
    )
    return item, [queued]


def requeue(
    last: QueueItem, *, queue_item_id: UUID, now: datetime
) -> tuple[QueueItem, list[RoutingEvent]]:
    """Place a case that came back (reopened) in the queue its last item was in, waiting afresh.

    The new item needs the skills the last one did. A case whose last item is still in its
    queue is there already: that item is returned, with no events.
    """
    _require_aware(now)
    if last.is_active:
        return last, []
    item = QueueItem(
        queue_item_id=queue_item_id,
        case_id=last.case_id,
        queue_id=last.queue_id,
        entered_at=now,
        required_skills=last.required_skills,
    )
    queued = CaseQueued(
        queue_item_id=item.queue_item_id,
        case_id=item.case_id,
        occurred_at=now,
        queue_id=item.queue_id,
        rule_name=None,
        required_skills=item.required_skills,
    )
    return item, [queued]


def _require_aware(now: datetime) -> None:
    # Naive datetimes would silently shift by the server's offset once stored.
    if now.tzinfo is None or now.utcoffset() is None:
        raise RoutingValidationError("now must be a timezone-aware datetime")
