"""Agents and the strategies that pick one of them for a queued case.

A strategy only considers agents who can take the work now: present (available), with free
capacity and every skill the item requires. It returns None when nobody fits, and the item
waits in its queue to be picked or assigned later.

``active_items`` is what the repository counts for the agent (the items assigned to them);
the routing operations do not change an ``Agent``, the count follows from their events.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from fractions import Fraction
from uuid import UUID

from routing.domain.errors import RoutingValidationError


class Presence(StrEnum):
    """Whether an agent can be given work right now."""

    AVAILABLE = "available"
    BUSY = "busy"
    AWAY = "away"
    OFFLINE = "offline"


class AssignmentStrategy(StrEnum):
    """How a queue hands its items to agents."""

    MANUAL = "manual"
    """Agents pick items themselves, or a supervisor assigns them."""
    ROUND_ROBIN = "round_robin"
    LEAST_BUSY = "least_busy"


def normalize_skills(skills: Iterable[str]) -> frozenset[str]:
    """Skills as compared everywhere in routing: trimmed, case-folded, blanks refused."""
    normalized = frozenset(skill.strip().casefold() for skill in skills)
    if "" in normalized:
        raise RoutingValidationError("a skill must not be blank")
    return normalized


@dataclass(frozen=True, kw_only=True)
class Agent:
    """A member of the service desk who works queued cases, up to a capacity at once."""

    agent_id: UUID
    name: str
    skills: frozenset[str] = frozenset()
    capacity: int = 1
    presence: Presence = Presence.OFFLINE
    active_items: int = 0
    last_assigned_at: datetime | None = None

    def __post_init__(self) -> None:
        if self.capacity < 0:
            raise RoutingValidationError(f"capacity must be 0 or more, not {self.capacity}")
        if self.active_items < 0:
            raise RoutingValidationError(f"active_items must be 0 or more, not {self.active_items}")
        object.__setattr__(self, "skills", normalize_skills(self.skills))

    @property
    def free_capacity(self) -> int:
        """How many more items the agent can work at once (never below zero)."""
        return max(0, self.capacity - self.active_items)

    @property
    def load(self) -> Fraction:
        """The share of the agent's capacity in use; an agent with no capacity is full."""
        if self.capacity == 0:
            return Fraction(1)
        return Fraction(self.active_items, self.capacity)

    def has_skills(self, required: Iterable[str]) -> bool:
        """Whether the agent has every one of the required skills."""
        return normalize_skills(required) <= self.skills

    def can_take(self, required_skills: Iterable[str] = frozenset()) -> bool:
        """Whether a strategy may give this agent an item needing these skills now."""
        return (
            self.presence is Presence.AVAILABLE
            and self.free_capacity > 0
            and self.has_skills(required_skills)
        )


def round_robin(
    agents: Iterable[Agent],
    last_assigned: UUID | None,
    *,
    required_skills: Iterable[str] = frozenset(),
) -> Agent | None:
    """The next agent able to take the item after the one who got the last item, in turn."""
    ring = sorted(_eligible(agents, required_skills), key=lambda a: a.agent_id)
    if not ring:
        return None
    if last_assigned is not None:
        # Turns follow the agent ids, so the ring holds even if the last agent has left it.
        for agent in ring:
            if agent.agent_id > last_assigned:
                return agent
    return ring[0]


_NEVER = datetime.min.replace(tzinfo=UTC)


def least_busy(
    agents: Iterable[Agent], *, required_skills: Iterable[str] = frozenset()
) -> Agent | None:
    """The able agent using the least of their capacity; ties go to the one idle longest."""
    eligible = _eligible(agents, required_skills)
    if not eligible:
        return None
    return min(
        eligible,
        key=lambda a: (
            a.load,
            a.last_assigned_at is not None,  # never given work: idle longest of all
            a.last_assigned_at or _NEVER,
            a.agent_id,
        ),
    )


def choose_agent(
    strategy: AssignmentStrategy,
    agents: Iterable[Agent],
    *,
    last_assigned: UUID | None = None,
    required_skills: Iterable[str] = frozenset(),
) -> Agent | None:
    """The agent a queue's strategy gives an item to; None for manual queues or nobody fits."""
    if strategy is AssignmentStrategy.ROUND_ROBIN:
        return round_robin(agents, last_assigned, required_skills=required_skills)
    if strategy is AssignmentStrategy.LEAST_BUSY:
        return least_busy(agents, required_skills=required_skills)
    return None


def _eligible(agents: Iterable[Agent], required_skills: Iterable[str]) -> list[Agent]:
    required = normalize_skills(required_skills)
    return [agent for agent in agents if agent.can_take(required)]
