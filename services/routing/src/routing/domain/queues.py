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
from datetime import datetime, timedelta
from enum import StrEnum
from uuid import UUID

from routing.domain.agents import Agent, AssignmentStrategy, Presence, SkillMatch
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
    """Who sees a queue and picks from it."""

    PUBLIC = "public"
    """Every agent."""
    TEAM = "team"
    """The members of its team (and supervisors)."""
    PERSONAL = "personal"
    """One agent: their own work ("my work")."""


PRIORITY_RANK = {"urgent": 0, "high": 1, "normal": 2, "low": 3}
"""Where a priority puts an item in its queue: lower first."""


def priority_rank(priority: str) -> int:
    """The rank of a priority in a queue's order; an unknown one after every known one."""
    return PRIORITY_RANK.get(priority.strip().casefold(), len(PRIORITY_RANK))


class OverflowReason(StrEnum):
    """Why an item left its queue for the overflow queue."""

    WAITED_TOO_LONG = "waited_too_long"
    QUEUE_TOO_LONG = "queue_too_long"
    NO_MEMBER_AVAILABLE = "no_member_available"


@dataclass(frozen=True, kw_only=True)
class Overflow:
    """When a queue's waiting items move on, and where to.

    An item moves when it has waited `after` or longer; the items at the back of the queue's
    order move when it holds more than `max_length`; every waiting item moves when
    `when_unstaffed` and no member is available. Nothing moves without a `queue_id` to move to.
    """

    queue_id: UUID | None = None
    after: timedelta | None = None
    max_length: int | None = None
    when_unstaffed: bool = False

    def __post_init__(self) -> None:
        if self.after is not None and self.after <= timedelta(0):
            raise RoutingValidationError("an overflow wait must be longer than zero")
        if self.max_length is not None and self.max_length < 0:
            raise RoutingValidationError("an overflow length must be 0 or more")

    @property
    def configured(self) -> bool:
        return self.queue_id is not None and (
            self.after is not None or self.max_length is not None or self.when_unstaffed
        )


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
    strategies: tuple[AssignmentStrategy, ...] = (AssignmentStrategy.MANUAL,)
    skill_match: SkillMatch = SkillMatch.EXACT
    team_id: UUID | None = None
    owner_id: UUID | None = None
    overflow: Overflow = Overflow()

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise RoutingValidationError("a queue needs a name")
        if not self.strategies:
            object.__setattr__(self, "strategies", (AssignmentStrategy.MANUAL,))
        if len(set(self.strategies)) != len(self.strategies):
            raise RoutingValidationError("a strategy appears twice in the queue's chain")
        if AssignmentStrategy.MANUAL in self.strategies[:-1]:
            raise RoutingValidationError("manual can only end a chain of strategies")
        if self.kind is QueueKind.TEAM and self.team_id is None:
            raise RoutingValidationError("a team queue needs its team")
        if self.kind is QueueKind.PERSONAL and self.owner_id is None:
            raise RoutingValidationError("a personal queue needs its agent")
        if self.overflow.queue_id is not None and self.overflow.queue_id == self.queue_id:
            raise RoutingValidationError("a queue cannot overflow into itself")

    @property
    def strategy(self) -> AssignmentStrategy:
        """The first strategy of the chain."""
        return self.strategies[0]

    @property
    def assigns(self) -> bool:
        """Whether the queue hands items out by itself (its chain starts with a strategy)."""
        return self.strategy is not AssignmentStrategy.MANUAL

    def visible_to(self, agent_id: UUID, teams: Iterable[UUID], *, supervises: bool) -> bool:
        """Whether an agent in `teams` may read and pick the queue's items."""
        if supervises or self.kind is QueueKind.PUBLIC:
            return True
        if self.kind is QueueKind.TEAM:
            return self.team_id in set(teams)
        return self.owner_id == agent_id

    def overflow_reason(
        self,
        *,
        waited: timedelta,
        position: int,
        members_available: int,
    ) -> OverflowReason | None:
        """Why a waiting item (at `position` from the head, 0 first) should leave for the
        overflow queue now, or None."""
        rule = self.overflow
        if not rule.configured:
            return None
        if rule.after is not None and waited >= rule.after:
            return OverflowReason.WAITED_TOO_LONG
        if rule.max_length is not None and position >= rule.max_length:
            return OverflowReason.QUEUE_TOO_LONG
        if rule.when_unstaffed and members_available == 0:
            return OverflowReason.NO_MEMBER_AVAILABLE
        return None


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
    work_type: str = "case"
    """What kind of work the item is (``case:<channel>``): an agent's units for it say how
    much of their capacity it takes."""
    priority: str = "normal"
    preferred_agent: UUID | None = None
    """Who the item would rather go to: the account's owner, or on a reopened case the agent
    who worked it last."""
    last_worked_by: UUID | None = None
    rule_name: str | None = None

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
        by: UUID | None = None,
    ) -> list[RoutingEvent]:
        """Give the item to an agent who is not offline and has free capacity (`by`: the
        supervisor who chose them)."""
        if agent.presence is Presence.OFFLINE:
            raise AgentUnavailableError(f"agent {agent.agent_id} is offline")
        return self._start_work(agent, now=now, picked=False, strategy=strategy, by=by)

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
        self,
        to_queue_id: UUID,
        *,
        now: datetime,
        by: UUID | None = None,
        reason: str | None = None,
    ) -> list[RoutingEvent]:
        """Move the item to another queue, where it waits afresh and nobody works it."""
        self._require_active()
        _require_aware(now)
        if to_queue_id == self.queue_id:
            raise SameQueueError(f"queue item {self.queue_item_id} is already in that queue")
        released = self._stop_work()
        if released is not None and released == self.preferred_agent:
            self.preferred_agent = None  # moved away from them: not theirs to come back to
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
                reason=reason,
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
        self,
        agent: Agent,
        *,
        now: datetime,
        picked: bool,
        strategy: AssignmentStrategy,
        by: UUID | None = None,
    ) -> list[RoutingEvent]:
        self._require_active()
        _require_aware(now)
        if self.worked_by == agent.agent_id:
            return []
        if self.worked_by is not None:
            raise ItemAlreadyWorkedError(
                f"queue item {self.queue_item_id} is worked by agent {self.worked_by}"
            )
        units = agent.units_for(self.work_type)
        if agent.free_capacity < units:
            raise AgentAtCapacityError(
                f"agent {agent.agent_id} has {agent.free_capacity} units free, "
                f"the item takes {units}"
            )
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
                rule_name=self.rule_name,
                by=by,
            )
        ]

    def _stop_work(self) -> UUID | None:
        agent_id, self.worked_by, self.worked_since = self.worked_by, None, None
        if agent_id is not None:
            self.last_worked_by = agent_id
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
    preferred_agent: UUID | None = None,
) -> tuple[QueueItem, list[RoutingEvent]]:
    """Place a case in the queue the routing rules choose, or in the default queue.

    `preferred_agent` is who the case would rather go to (the account's owner).
    """
    _require_aware(now)
    choice = choose_queue(facts, rules, default_queue_id)
    item = QueueItem(
        queue_item_id=queue_item_id,
        case_id=facts.case_id,
        queue_id=choice.queue_id,
        entered_at=now,
        required_skills=choice.required_skills,
        work_type=work_type_of(facts.channel),
        priority=facts.priority,
        preferred_agent=preferred_agent,
        rule_name=choice.rule_name,
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
        work_type=last.work_type,
        priority=last.priority,
        # Back to whoever worked it last, when they can take it.
        preferred_agent=last.last_worked_by or last.preferred_agent,
        last_worked_by=last.last_worked_by,
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


def work_type_of(channel: str) -> str:
    """The work type of a case that came by `channel`, as agents' units name it."""
    return f"case:{channel.strip().casefold()}"


def _require_aware(now: datetime) -> None:
    # Naive datetimes would silently shift by the server's offset once stored.
    if now.tzinfo is None or now.utcoffset() is None:
        raise RoutingValidationError("now must be a timezone-aware datetime")
