"""Agents and assignment strategies: round robin, least busy and the chain that tries them."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from uuid import UUID

import pytest

from routing.domain import (
    Agent,
    AssignmentStrategy,
    Presence,
    RoutingValidationError,
    WorkItem,
    choose,
    least_busy,
    round_robin,
)

pytestmark = pytest.mark.unit

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def agent(
    n: int,
    *,
    capacity: int = 2,
    active: int = 0,
    presence: Presence = Presence.AVAILABLE,
    skills: Iterable[str] = (),
    last_assigned_minutes_ago: int | None = None,
) -> Agent:
    return Agent(
        agent_id=UUID(int=n),
        name=f"agent {n}",
        skills=frozenset(skills),
        capacity=capacity,
        presence=presence,
        active_items=active,
        last_assigned_at=(
            None
            if last_assigned_minutes_ago is None
            else T0 - timedelta(minutes=last_assigned_minutes_ago)
        ),
    )


def ids(*numbers: int) -> list[UUID]:
    return [UUID(int=n) for n in numbers]


# -- eligibility -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("candidate", "required", "can_take"),
    [
        (agent(1), (), True),
        (agent(1, presence=Presence.BUSY), (), False),
        (agent(1, presence=Presence.AWAY), (), False),
        (agent(1, presence=Presence.OFFLINE), (), False),
        (agent(1, capacity=2, active=2), (), False),
        (agent(1, capacity=2, active=3), (), False),  # capacity lowered below the load
        (agent(1, capacity=0), (), False),
        (agent(1, skills={"printers", "french"}), {"printers"}, True),
        (agent(1, skills={"printers", "french"}), {" French ", "PRINTERS"}, True),
        (agent(1, skills={"printers"}), {"printers", "french"}, False),
        (agent(1), {"printers"}, False),
    ],
)
def test_who_can_take_work(candidate: Agent, required: Iterable[str], can_take: bool) -> None:
    assert candidate.can_take(required) is can_take


@pytest.mark.parametrize(
    ("capacity", "active", "free", "load"),
    [
        (4, 1, 3, 0.25),
        (3, 3, 0, 1.0),
        (2, 5, 0, 1.0),  # capacity lowered below the load: full, not more
        (0, 0, 0, 1.0),
    ],
)
def test_free_capacity_and_load(capacity: int, active: int, free: int, load: float) -> None:
    candidate = agent(1, capacity=capacity, active=active)
    assert (candidate.free_capacity, candidate.load) == (free, load)


def test_skills_are_kept_trimmed_and_case_folded() -> None:
    assert agent(1, skills={" Printers ", "VIP"}).skills == {"printers": 1, "vip": 1}


@pytest.mark.parametrize(
    "overrides",
    [
        {"capacity": -1},
        {"active": -1},
        {"skills": {"printers", "  "}},
        {"skills": {"printers:0"}},
        {"skills": {"printers:6"}},
    ],
)
def test_an_agent_refuses_impossible_figures(overrides: dict[str, object]) -> None:
    with pytest.raises(RoutingValidationError):
        agent(1, **overrides)  # type: ignore[arg-type]


# -- round robin -----------------------------------------------------------------------

TEAM = [
    agent(5, capacity=3, active=1, skills={"printers", "vip"}),
    agent(1),
    agent(2, capacity=1, active=1),  # full
    agent(3, presence=Presence.BUSY),
    agent(4, skills={"printers"}),
    agent(6, presence=Presence.OFFLINE, skills={"printers", "vip"}),
]


@pytest.mark.parametrize(
    ("last_assigned", "required", "expected"),
    [
        (None, (), 1),
        (1, (), 4),
        (4, (), 5),
        (5, (), 1),  # wraps around
        (2, (), 4),  # the last agent is no longer eligible: the next id after theirs
        (6, (), 1),
        (50, (), 1),  # the last agent has left the team
        (None, {"printers"}, 4),
        (4, {"printers"}, 5),
        (5, {"printers"}, 4),
        (None, {"VIP"}, 5),
        (5, {"vip"}, 5),  # the only one who fits gets the next item too
    ],
)
def test_round_robin(last_assigned: int | None, required: Iterable[str], expected: int) -> None:
    last = None if last_assigned is None else UUID(int=last_assigned)
    chosen = round_robin(TEAM, last, required_skills=required)
    assert chosen is not None
    assert chosen.agent_id == UUID(int=expected)


def test_round_robin_takes_turns_through_the_eligible_agents() -> None:
    last: UUID | None = None
    turns: list[UUID] = []
    for _ in range(7):
        chosen = round_robin(TEAM, last)
        assert chosen is not None
        turns.append(chosen.agent_id)
        last = chosen.agent_id
    assert turns == ids(1, 4, 5, 1, 4, 5, 1)


@pytest.mark.parametrize(
    ("agents", "required"),
    [
        ([], ()),
        (TEAM, {"french"}),
        ([agent(1, presence=Presence.AWAY), agent(2, capacity=1, active=1)], ()),
    ],
)
def test_round_robin_finds_nobody(agents: list[Agent], required: Iterable[str]) -> None:
    assert round_robin(agents, None, required_skills=required) is None


# -- least busy ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("agents", "required", "expected"),
    [
        ([agent(1, capacity=4, active=2), agent(2, capacity=4, active=1)], (), 2),
        # by share of capacity, not by count: 2 of 8 beats 1 of 2
        ([agent(1, capacity=2, active=1), agent(2, capacity=8, active=2)], (), 2),
        # equal load: the one idle longest
        (
            [
                agent(1, capacity=3, active=1, last_assigned_minutes_ago=5),
                agent(2, capacity=6, active=2, last_assigned_minutes_ago=30),
            ],
            (),
            2,
        ),
        # never given work counts as idle longest of all
        (
            [
                agent(1, active=0, last_assigned_minutes_ago=600),
                agent(2, active=0),
                agent(3, active=0, last_assigned_minutes_ago=10),
            ],
            (),
            2,
        ),
        # all else equal: the lowest agent id
        (
            [
                agent(3, last_assigned_minutes_ago=15),
                agent(2, last_assigned_minutes_ago=15),
                agent(4, last_assigned_minutes_ago=15),
            ],
            (),
            2,
        ),
        # the idlest agent is not available, or full, or lacks the skill
        (
            [
                agent(1, presence=Presence.AWAY),
                agent(2, capacity=1, active=1),
                agent(3, capacity=4, active=3, skills={"printers"}),
                agent(4, capacity=4, active=1),
            ],
            {"printers"},
            3,
        ),
    ],
)
def test_least_busy(agents: list[Agent], required: Iterable[str], expected: int) -> None:
    chosen = least_busy(agents, required_skills=required)
    assert chosen is not None
    assert chosen.agent_id == UUID(int=expected)


@pytest.mark.parametrize(
    ("agents", "required"),
    [
        ([], ()),
        ([agent(1, presence=Presence.OFFLINE), agent(2, capacity=0)], ()),
        ([agent(1, skills={"printers"})], {"printers", "vip"}),
    ],
)
def test_least_busy_finds_nobody(agents: list[Agent], required: Iterable[str]) -> None:
    assert least_busy(agents, required_skills=required) is None


# -- strategy by queue -----------------------------------------------------------------

BUSY_AND_IDLE = [agent(1, capacity=4, active=3), agent(7, capacity=4, active=0)]


@pytest.mark.parametrize(
    ("strategy", "last_assigned", "expected"),
    [
        (AssignmentStrategy.MANUAL, None, None),
        (AssignmentStrategy.ROUND_ROBIN, None, 1),
        (AssignmentStrategy.ROUND_ROBIN, 1, 7),
        (AssignmentStrategy.LEAST_BUSY, None, 7),
        (AssignmentStrategy.LEAST_BUSY, 7, 7),
    ],
)
def test_choose_follows_the_queue_strategy(
    strategy: AssignmentStrategy, last_assigned: int | None, expected: int | None
) -> None:
    last = None if last_assigned is None else UUID(int=last_assigned)
    chosen = choose((strategy,), BUSY_AND_IDLE, WorkItem(), last_assigned=last)
    if expected is None:
        assert chosen is None
    else:
        assert chosen is not None
        assert (chosen.agent.agent_id, chosen.strategy) == (UUID(int=expected), strategy)


@pytest.mark.parametrize(
    "strategy", [AssignmentStrategy.ROUND_ROBIN, AssignmentStrategy.LEAST_BUSY]
)
def test_choose_passes_on_the_required_skills(strategy: AssignmentStrategy) -> None:
    team = [agent(1), agent(2, skills={"vip"})]
    chosen = choose((strategy,), team, WorkItem(required_skills=frozenset({"vip"})))
    assert chosen is not None
    assert chosen.agent.agent_id == UUID(int=2)


def test_an_agent_as_the_directory_stores_them_is_the_agent_checked_on_writing() -> None:
    written = Agent(
        agent_id=UUID(int=7),
        name="Stored",
        skills=frozenset({"Printers:3", "printers", "VIP"}),
        capacity=4,
        presence=Presence.BUSY,
        active_items=1,
        last_assigned_at=T0,
        teams=frozenset({UUID(int=70)}),
        work_units={"call": 2},
    )
    stored = Agent.stored(
        agent_id=UUID(int=7),
        name="Stored",
        skills=frozenset({"Printers:3", "printers", "VIP"}),
        capacity=4,
        presence="busy",
        active_items=1,
        last_assigned_at=T0,
        teams=frozenset({UUID(int=70)}),
        work_units={"call": 2},
    )
    assert vars(stored) == vars(written)
    assert stored.skills == {"printers": 3, "vip": 1}
    assert stored.presence is Presence.BUSY
    assert stored.units_for("call") == 2 and stored.free_capacity == 3


def test_least_busy_orders_loads_as_exact_fractions() -> None:
    # Every load of capacities up to 40: equal fractions tie (broken by idleness, then id),
    # and a smaller fraction always wins, however close.
    loads = sorted(
        ((active, capacity) for capacity in range(1, 41) for active in range(capacity)),
        key=lambda load: Fraction(*load),
    )  # neighbours are the closest pairs
    for (a_active, a_cap), (b_active, b_cap) in itertools.pairwise(loads):
        a = agent(1, capacity=a_cap, active=a_active)
        b = agent(2, capacity=b_cap, active=b_active)
        expected = a if Fraction(a_active, a_cap) <= Fraction(b_active, b_cap) else b
        assert least_busy([b, a]) is expected
