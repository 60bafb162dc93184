"""Agents and the strategies that pick one of them for a queued case.

A strategy only considers agents who can take the work now: present (available), with free
capacity and every skill the item requires. It returns None when nobody fits, and the item
waits in its queue to be picked or assigned later.

``active_items`` is what the repository counts for the agent (the items assigned to them);
the routing operations do not change an ``Agent``, the count follows from their events.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from uuid import UUID

from routing.domain.errors import RoutingValidationError


class Presence(StrEnum):
    """Whether an agent can be given work right now."""

    AVAILABLE = "available"
    BUSY = "busy"
    AWAY = "away"
    OFFLINE = "offline"


_PRESENCES = {presence.value: presence for presence in Presence}


class AssignmentStrategy(StrEnum):
    """One way of choosing the agent for an item; a queue chains them (see `choose`)."""

    MANUAL = "manual"
    """Agents pick items themselves, or a supervisor assigns them."""
    ROUND_ROBIN = "round_robin"
    """In turn among the able members, by agent id after the one who got the last item."""
    LEAST_BUSY = "least_busy"
    """The able member using the least of their capacity."""
    MOST_IDLE = "most_idle"
    """The able member whose last assignment is the longest ago."""
    SKILLS = "skills"
    """The able member whose skills meet the item's needs (exactly, or the closest)."""
    PREFERRED_AGENT = "preferred_agent"
    """The item's preferred agent (the account's owner, the last assignee), when able."""


class SkillMatch(StrEnum):
    """How the skills strategy treats an item no member fully qualifies for."""

    EXACT = "exact"
    """Only agents with every needed skill at its level or above."""
    CLOSEST = "closest"
    """Those if any; else the agent short of the fewest levels."""


MIN_SKILL_LEVEL = 1
MAX_SKILL_LEVEL = 5


@functools.lru_cache(maxsize=4096)
def parse_skill(text: str) -> tuple[str, int]:
    """A skill as written, ``"printers"`` or ``"printers:3"``: its folded name and level.

    Without a level a skill is at level 1 (held at all; needed at any level).
    """
    name, sep, level_text = text.strip().rpartition(":")
    if not sep:
        name, level_text = level_text, ""
    name = name.strip().casefold()
    if not name:
        raise RoutingValidationError(f"a skill must not be blank: {text!r}")
    if not level_text.strip():
        if sep:
            raise RoutingValidationError(f"skill {text!r} has no level after the colon")
        return name, MIN_SKILL_LEVEL
    try:
        level = int(level_text)
    except ValueError:
        raise RoutingValidationError(f"skill {text!r}: the level must be a number") from None
    if not MIN_SKILL_LEVEL <= level <= MAX_SKILL_LEVEL:
        raise RoutingValidationError(
            f"skill {text!r}: the level must be {MIN_SKILL_LEVEL} to {MAX_SKILL_LEVEL}"
        )
    return name, level


def skill_text(name: str, level: int) -> str:
    """The written form of a skill: its name alone at level 1, else ``name:level``."""
    return name if level == MIN_SKILL_LEVEL else f"{name}:{level}"


class SkillLevels(dict[str, int]):
    """Skills as name → level, as `skill_levels` made them: read as they are, never again."""


def skill_levels(skills: Iterable[str] | Mapping[str, int]) -> SkillLevels:
    """Skills as name → level, from written forms or a mapping; one name once (the highest)."""
    if isinstance(skills, SkillLevels):
        return skills
    if isinstance(skills, str):
        skills = [skills]  # one skill, not its letters
    if isinstance(skills, frozenset):
        return SkillLevels(_frozen_levels(skills))
    pairs = (
        [parse_skill(f"{name}:{level}") for name, level in skills.items()]
        if isinstance(skills, Mapping)
        else [parse_skill(skill) for skill in skills]
    )
    levels = SkillLevels()
    for name, level in pairs:
        levels[name] = max(level, levels.get(name, 0))
    return levels


@functools.lru_cache(maxsize=4096)
def _frozen_levels(skills: frozenset[str]) -> tuple[tuple[str, int], ...]:
    """`skill_levels` of a set of written skills, worked out once per set: routing asks it of
    the same few required sets for every candidate of every item."""
    levels: dict[str, int] = {}
    for name, level in (parse_skill(skill) for skill in skills):
        levels[name] = max(level, levels.get(name, 0))
    return tuple(levels.items())


def normalize_skills(skills: Iterable[str]) -> frozenset[str]:
    """Skills as compared everywhere in routing: trimmed, case-folded, levels checked, blanks
    refused; written without a level when it is 1."""
    return frozenset(skill_text(name, level) for name, level in skill_levels(skills).items())


@dataclass(frozen=True, kw_only=True, eq=False)
class Agent:
    """A member of the service desk who works queued cases, up to a capacity in units.

    ``skills`` maps each skill to its level (1–5); written forms (``"printers:3"``) are
    accepted too. ``active_items`` is the units of work the agent has in hand.
    """

    agent_id: UUID
    name: str
    skills: Mapping[str, int] = field(default_factory=dict)
    capacity: int = 1
    presence: Presence = Presence.OFFLINE
    active_items: int = 0
    last_assigned_at: datetime | None = None
    teams: frozenset[UUID] = frozenset()
    work_units: Mapping[str, int] = field(default_factory=dict)
    """Units of capacity each work type takes (``case:email``, ``case``, ``call``)."""

    def __post_init__(self) -> None:
        if self.capacity < 0:
            raise RoutingValidationError(f"capacity must be 0 or more, not {self.capacity}")
        if self.active_items < 0:
            raise RoutingValidationError(f"active_items must be 0 or more, not {self.active_items}")
        object.__setattr__(self, "skills", skill_levels(self.skills))
        if any(units < 0 for units in self.work_units.values()):
            raise RoutingValidationError("a work type takes 0 units or more")

    @classmethod
    def stored(
        cls,
        *,
        agent_id: UUID,
        name: str,
        skills: frozenset[str],
        capacity: int,
        presence: str,
        active_items: int,
        last_assigned_at: datetime | None,
        teams: frozenset[UUID],
        work_units: Mapping[str, int],
    ) -> Agent:
        """An agent as the directory keeps them: skills in their written form, presence by
        its value. What was checked when it was written is not checked again; routing reads
        every candidate of a batch's queues this way."""
        agent = object.__new__(cls)
        agent.__dict__.update(
            agent_id=agent_id,
            name=name,
            skills=SkillLevels(_frozen_levels(skills)),
            capacity=capacity,
            presence=_PRESENCES[presence],
            active_items=active_items,
            last_assigned_at=last_assigned_at,
            teams=teams,
            work_units=work_units,
        )
        return agent

    @property
    def free_capacity(self) -> int:
        """How many more units of work the agent can take at once (never below zero)."""
        return max(0, self.capacity - self.active_items)

    @property
    def load(self) -> float:
        """The share of the agent's capacity in use; an agent with no capacity is full.

        A float orders loads as the exact fractions do: a correctly rounded quotient of two
        whole numbers is equal for equal fractions, and distinct fractions of capacities below
        2**26 are further apart than a float's rounding.
        """
        if self.capacity == 0:
            return 1.0
        return min(self.active_items, self.capacity) / self.capacity

    def units_for(self, work_type: str) -> int:
        """The units an item of `work_type` takes of this agent: its own figure, else its
        kind's (``case`` for ``case:email``), else 1."""
        if work_type in self.work_units:
            return self.work_units[work_type]
        kind = work_type.partition(":")[0]
        return self.work_units.get(kind, 1)

    def shortfall(self, required: Iterable[str]) -> int:
        """How many skill levels the agent lacks for the required skills (0: qualified)."""
        wanted = (
            _frozen_levels(required)
            if isinstance(required, frozenset)
            else skill_levels(required).items()
        )
        return sum(max(0, level - self.skills.get(name, 0)) for name, level in wanted)

    def has_skills(self, required: Iterable[str]) -> bool:
        """Whether the agent has every required skill at its level or above."""
        return self.shortfall(required) == 0

    def can_take(
        self, required_skills: Iterable[str] = frozenset(), *, work_type: str = "case"
    ) -> bool:
        """Whether a strategy may give this agent an item needing these skills now."""
        return self.is_able(work_type) and self.has_skills(required_skills)

    def is_able(self, work_type: str = "case") -> bool:
        """Whether the agent is available with room for an item of `work_type`."""
        return (
            self.presence is Presence.AVAILABLE
            and self.free_capacity > 0
            and self.free_capacity >= self.units_for(work_type)
        )


@dataclass(frozen=True, kw_only=True)
class WorkItem:
    """What a strategy needs to know of the item it places: its work type, the skills
    it needs, the agent it would rather go to, and how strictly skills are matched."""

    work_type: str = "case"
    required_skills: frozenset[str] = frozenset()
    preferred_agent: UUID | None = None
    skill_match: SkillMatch = SkillMatch.EXACT


@dataclass(frozen=True)
class Choice:
    """The agent chosen for an item, and the strategy of the chain that chose them."""

    agent: Agent
    strategy: AssignmentStrategy


def choose(
    chain: Sequence[AssignmentStrategy],
    agents: Iterable[Agent],
    item: WorkItem,
    *,
    last_assigned: UUID | None = None,
) -> Choice | None:
    """The agent for `item` by the first strategy of `chain` that finds one; None when none
    does, or the chain reaches `MANUAL` (the item waits to be picked).

    Every strategy considers only agents available with room for the item; all but
    `SKILLS` with `CLOSEST` matching also require every needed skill at its level.
    """
    pool = [agent for agent in agents if agent.is_able(item.work_type)]
    for strategy in chain:
        if strategy is AssignmentStrategy.MANUAL:
            return None
        chosen = _by(strategy, pool, item, last_assigned)
        if chosen is not None:
            return Choice(chosen, strategy)
    return None


def _by(
    strategy: AssignmentStrategy,
    pool: list[Agent],
    item: WorkItem,
    last_assigned: UUID | None,
) -> Agent | None:
    needs, kind = item.required_skills, item.work_type
    if strategy is AssignmentStrategy.PREFERRED_AGENT:
        if item.preferred_agent is None:
            return None
        return next(
            (a for a in pool if a.agent_id == item.preferred_agent and a.has_skills(needs)),
            None,
        )
    if strategy is AssignmentStrategy.ROUND_ROBIN:
        return round_robin(pool, last_assigned, required_skills=needs, work_type=kind)
    if strategy is AssignmentStrategy.LEAST_BUSY:
        return least_busy(pool, required_skills=needs, work_type=kind)
    if strategy is AssignmentStrategy.MOST_IDLE:
        return most_idle(pool, required_skills=needs, work_type=kind)
    return best_skilled(pool, needs, match=item.skill_match, work_type=kind)


def best_skilled(
    agents: Iterable[Agent],
    required: Iterable[str],
    *,
    match: SkillMatch = SkillMatch.EXACT,
    work_type: str = "case",
) -> Agent | None:
    """The able agent whose skills fit best: qualified ones first, the least busy of them;
    with `CLOSEST`, when nobody qualifies, the one short of the fewest levels (then least
    busy). An item needing no skill goes to the least busy."""
    able = [agent for agent in agents if agent.is_able(work_type)]
    needs = normalize_skills(required)
    scored = [(agent.shortfall(needs), agent) for agent in able]
    qualified = [agent for short, agent in scored if short == 0]
    if qualified:
        return least_busy(qualified, work_type=work_type)
    if match is SkillMatch.EXACT or not scored:
        return None
    fewest = min(short for short, _ in scored)
    return least_busy([a for short, a in scored if short == fewest], work_type=work_type)


def most_idle(
    agents: Iterable[Agent],
    *,
    required_skills: Iterable[str] = frozenset(),
    work_type: str = "case",
) -> Agent | None:
    """The able agent whose last assignment is the longest ago (never assigned: first)."""
    eligible = _eligible(agents, required_skills, work_type)
    if not eligible:
        return None
    return min(eligible, key=lambda a: (a.last_assigned_at or _NEVER, a.agent_id))


def round_robin(
    agents: Iterable[Agent],
    last_assigned: UUID | None,
    *,
    required_skills: Iterable[str] = frozenset(),
    work_type: str = "case",
) -> Agent | None:
    """The next agent able to take the item after the one who got the last item, in turn."""
    ring = sorted(_eligible(agents, required_skills, work_type), key=lambda a: a.agent_id)
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
    agents: Iterable[Agent],
    *,
    required_skills: Iterable[str] = frozenset(),
    work_type: str = "case",
) -> Agent | None:
    """The able agent using the least of their capacity; ties go to the one idle longest."""
    eligible = _eligible(agents, required_skills, work_type)
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


def _eligible(
    agents: Iterable[Agent], required_skills: Iterable[str], work_type: str = "case"
) -> list[Agent]:
    required = normalize_skills(required_skills)
    return [agent for agent in agents if agent.can_take(required, work_type=work_type)]
