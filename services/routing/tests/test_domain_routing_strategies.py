"""Skill levels, work units, the assignment strategies and their chains, and the queue model
around them: kinds and visibility, overflow, priority, and what enqueue and requeue record."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest

from routing.domain import (
    Agent,
    AgentAtCapacityError,
    AssignmentStrategy,
    CaseAssigned,
    CaseFacts,
    CaseQueued,
    CaseTransferred,
    Choice,
    Overflow,
    OverflowReason,
    Presence,
    Queue,
    QueueItem,
    QueueItemStatus,
    QueueKind,
    RoutingRule,
    RoutingValidationError,
    SkillMatch,
    WorkItem,
    best_skilled,
    choose,
    enqueue,
    least_busy,
    most_idle,
    normalize_skills,
    parse_skill,
    priority_rank,
    requeue,
    round_robin,
    skill_levels,
    skill_text,
    work_type_of,
)

pytestmark = pytest.mark.unit

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

MANUAL = AssignmentStrategy.MANUAL
ROUND_ROBIN = AssignmentStrategy.ROUND_ROBIN
LEAST_BUSY = AssignmentStrategy.LEAST_BUSY
MOST_IDLE = AssignmentStrategy.MOST_IDLE
SKILLS = AssignmentStrategy.SKILLS
PREFERRED = AssignmentStrategy.PREFERRED_AGENT

EXACT = SkillMatch.EXACT
CLOSEST = SkillMatch.CLOSEST

PHONE = "case:phone"
EMAIL = "case:email"


def agent(
    n: int,
    *,
    capacity: int = 2,
    active: int = 0,
    presence: Presence = Presence.AVAILABLE,
    skills: Iterable[str] | Mapping[str, int] = (),
    idle_minutes: int | None = None,
    work_units: Mapping[str, int] | None = None,
    teams: Iterable[int] = (),
) -> Agent:
    return Agent(
        agent_id=UUID(int=n),
        name=f"agent {n}",
        skills=skills if isinstance(skills, Mapping) else frozenset(skills),
        capacity=capacity,
        presence=presence,
        active_items=active,
        last_assigned_at=None if idle_minutes is None else T0 - timedelta(minutes=idle_minutes),
        teams=frozenset(UUID(int=t) for t in teams),
        work_units=dict(work_units or {}),
    )


def agent_id(chosen: Agent | None) -> int | None:
    return None if chosen is None else chosen.agent_id.int


def chosen_as(choice: Choice | None) -> tuple[int, AssignmentStrategy] | None:
    return None if choice is None else (choice.agent.agent_id.int, choice.strategy)


# -- skills and their levels -------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("printers", ("printers", 1)),
        ("Printers:3", ("printers", 3)),
        (" VIP ", ("vip", 1)),
        ("printers:1", ("printers", 1)),
        ("printers:5", ("printers", 5)),
        ("Printers : 4", ("printers", 4)),
        ("Second Line:2", ("second line", 2)),
    ],
)
def test_parse_skill_reads_the_folded_name_and_the_level(
    text: str, parsed: tuple[str, int]
) -> None:
    assert parse_skill(text) == parsed


@pytest.mark.parametrize(
    "text",
    ["", "   ", ":3", " :2", "printers:", "printers: ", "printers:0", "printers:6",
     "printers:-1", "printers:high", "printers:2.5"],
)  # fmt: skip
def test_parse_skill_refuses_a_blank_name_or_an_impossible_level(text: str) -> None:
    with pytest.raises(RoutingValidationError):
        parse_skill(text)


@pytest.mark.parametrize(
    ("name", "level", "text"),
    [("printers", 1, "printers"), ("printers", 2, "printers:2"), ("vip", 5, "vip:5")],
)
def test_skill_text_writes_level_one_without_a_suffix(name: str, level: int, text: str) -> None:
    assert skill_text(name, level) == text
    assert parse_skill(text) == (name, level)  # and reads back as it was


@pytest.mark.parametrize(
    ("skills", "levels"),
    [
        ([], {}),
        (["Printers:2", "vip"], {"printers": 2, "vip": 1}),
        (["printers:2", "PRINTERS:4", "printers"], {"printers": 4}),  # the highest level wins
        ({"Printers": 3, " VIP ": 1}, {"printers": 3, "vip": 1}),
        ({"printers": 5}, {"printers": 5}),
    ],
)
def test_skill_levels_from_written_forms_or_a_mapping(
    skills: Iterable[str] | Mapping[str, int], levels: dict[str, int]
) -> None:
    assert skill_levels(skills) == levels


@pytest.mark.parametrize(
    "skills", [["printers:9"], [" "], {"printers": 0}, {"printers": 6}, {" ": 2}]
)
def test_skill_levels_refuse_impossible_skills(
    skills: Iterable[str] | Mapping[str, int],
) -> None:
    with pytest.raises(RoutingValidationError):
        skill_levels(skills)


@pytest.mark.parametrize(
    ("skills", "normalized"),
    [
        ({"Printers:1", "VIP:3", " french "}, {"printers", "vip:3", "french"}),
        ({"printers", "PRINTERS:2"}, {"printers:2"}),
        ({"printers:2", "printers:1"}, {"printers:2"}),
        (set(), set()),
    ],
)
def test_normalize_skills_writes_each_skill_once_at_its_level(
    skills: set[str], normalized: set[str]
) -> None:
    once = normalize_skills(skills)
    assert once == normalized
    assert normalize_skills(once) == once  # normalizing is idempotent


@pytest.mark.parametrize("skills", [{"printers:7"}, {"printers", ""}, {"printers:x"}])
def test_normalize_skills_refuses_bad_skills(skills: set[str]) -> None:
    with pytest.raises(RoutingValidationError):
        normalize_skills(skills)


@pytest.mark.parametrize(
    ("skills", "levels"),
    [
        (["Printers:3", "vip"], {"printers": 3, "vip": 1}),
        ({"Printers": 3, "french": 2}, {"printers": 3, "french": 2}),
        (["printers", "printers:2"], {"printers": 2}),
    ],
)
def test_an_agent_keeps_skills_as_name_to_level(
    skills: Iterable[str] | Mapping[str, int], levels: dict[str, int]
) -> None:
    assert agent(1, skills=skills).skills == levels


# -- shortfall and has_skills ---------------------------------------------------------------

SKILLED = agent(1, skills=["printers:3", "french"])


@pytest.mark.parametrize(
    ("required", "shortfall"),
    [
        ((), 0),
        (("printers",), 0),
        (("printers:2",), 0),
        (("printers:3",), 0),
        (("PRINTERS:2", " French "), 0),
        (("printers:4",), 1),
        (("french:2",), 1),
        (("german:2",), 2),  # a skill not held at all lacks all its levels
        (("printers:5", "french:3"), 4),
        (("printers:5", "french:3", "german"), 5),
        (("printers:2", "printers:5"), 2),  # one name asked twice: its highest level counts
    ],
)
def test_shortfall_counts_the_missing_levels(required: tuple[str, ...], shortfall: int) -> None:
    assert SKILLED.shortfall(required) == shortfall
    assert SKILLED.has_skills(required) is (shortfall == 0)


def test_a_higher_level_meets_a_lower_need_but_not_the_reverse() -> None:
    expert, novice = agent(1, skills=["printers:5"]), agent(2, skills=["printers"])
    assert expert.has_skills({"printers:4"})
    assert not novice.has_skills({"printers:4"})
    assert novice.has_skills({"printers"})


# -- work units and who is able ------------------------------------------------------------

UNITS = {"case:phone": 3, "case": 2, "call": 4, "case:chat": 0}


@pytest.mark.parametrize(
    ("work_type", "units"),
    [
        (PHONE, 3),  # its own figure
        (EMAIL, 2),  # its kind's figure
        ("case", 2),
        ("case:chat", 0),
        ("call", 4),
        ("call:inbound", 4),
        ("chat", 1),  # nothing said: one unit
        ("Case:Phone", 1),  # work types compare exactly, as `work_type_of` writes them
    ],
)
def test_units_for_a_work_type(work_type: str, units: int) -> None:
    assert agent(1, work_units=UNITS).units_for(work_type) == units


@pytest.mark.parametrize("work_type", [PHONE, EMAIL, "case", "anything"])
def test_without_work_units_every_item_takes_one_unit(work_type: str) -> None:
    assert agent(1).units_for(work_type) == 1


def test_an_agent_refuses_negative_work_units() -> None:
    with pytest.raises(RoutingValidationError):
        agent(1, work_units={PHONE: -1})


@pytest.mark.parametrize(
    ("candidate", "work_type", "able"),
    [
        (agent(1, capacity=3, active=1, work_units={PHONE: 3}), PHONE, False),  # 2 free < 3
        (agent(1, capacity=3, active=1, work_units={PHONE: 3}), EMAIL, True),
        (agent(1, capacity=3, active=0, work_units={PHONE: 3}), PHONE, True),  # exactly 3 free
        (agent(1, capacity=4, active=2, work_units={"case": 2}), EMAIL, True),
        (agent(1, capacity=4, active=3, work_units={"case": 2}), EMAIL, False),
        (agent(1, capacity=4, active=3, work_units={"case": 2, EMAIL: 1}), EMAIL, True),
        (agent(1, capacity=3, active=2, work_units={"case:chat": 0}), "case:chat", True),
        # a free item still needs some room: a full agent is not able
        (agent(1, capacity=3, active=3, work_units={"case:chat": 0}), "case:chat", False),
        (agent(1, capacity=0, work_units={"case:chat": 0}), "case:chat", False),
        (agent(1, capacity=9, presence=Presence.BUSY), EMAIL, False),
        (agent(1, capacity=9, presence=Presence.AWAY), EMAIL, False),
        (agent(1, capacity=9, presence=Presence.OFFLINE), EMAIL, False),
    ],
)
def test_is_able_per_work_type(candidate: Agent, work_type: str, able: bool) -> None:
    assert candidate.is_able(work_type) is able


def test_can_take_needs_both_the_skills_and_the_room() -> None:
    printers = agent(1, capacity=3, active=1, skills=["printers:2"], work_units={PHONE: 3})
    assert printers.can_take({"printers"}, work_type=EMAIL)
    assert not printers.can_take({"printers"}, work_type=PHONE)  # no room for a call
    assert not printers.can_take({"printers:3"}, work_type=EMAIL)  # not skilled enough


# -- round robin ---------------------------------------------------------------------------

RING = [agent(30), agent(10), agent(20)]  # listed out of order: turns follow the ids


def test_round_robin_goes_round_the_ring_by_id_and_wraps() -> None:
    last: UUID | None = None
    turns: list[int | None] = []
    for _ in range(5):
        chosen = round_robin(RING, last)
        assert chosen is not None
        turns.append(agent_id(chosen))
        last = chosen.agent_id
    assert turns == [10, 20, 30, 10, 20]


@pytest.mark.parametrize(
    ("last", "expected"),
    [(None, 10), (10, 20), (15, 20), (20, 30), (30, 10), (99, 10), (1, 10)],
)
def test_round_robin_takes_the_next_id_after_the_last_one(last: int | None, expected: int) -> None:
    last_assigned = None if last is None else UUID(int=last)
    assert agent_id(round_robin(RING, last_assigned)) == expected


@pytest.mark.parametrize(
    ("work_type", "expected"),
    [(PHONE, 30), (EMAIL, 20)],
)
def test_round_robin_skips_who_has_no_room_for_the_work_type(work_type: str, expected: int) -> None:
    ring = [agent(10), agent(20, capacity=3, active=1, work_units={PHONE: 3}), agent(30)]
    chosen = round_robin(ring, UUID(int=10), work_type=work_type)
    assert agent_id(chosen) == expected


def test_round_robin_through_choose_follows_the_last_assigned() -> None:
    choice = choose((ROUND_ROBIN,), RING, WorkItem(), last_assigned=UUID(int=20))
    assert chosen_as(choice) == (30, ROUND_ROBIN)


# -- least busy ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("agents", "expected"),
    [
        # equal load: the one never given work ...
        ([agent(1, idle_minutes=600), agent(2), agent(3, idle_minutes=5)], 2),
        # ... else the one whose last item is the longest ago
        ([agent(1, idle_minutes=5), agent(2, idle_minutes=50), agent(3, idle_minutes=20)], 2),
        # ... else the lowest id
        ([agent(3, idle_minutes=5), agent(1, idle_minutes=5), agent(2, idle_minutes=5)], 1),
        ([agent(3), agent(2)], 2),
        # the load decides before idleness
        ([agent(1, capacity=4, active=1), agent(2, capacity=4, active=2)], 1),
        ([agent(1, capacity=4, active=2), agent(2, capacity=4, active=1, idle_minutes=0)], 2),
    ],
)
def test_least_busy_breaks_ties_by_idleness_then_id(agents: list[Agent], expected: int) -> None:
    assert agent_id(least_busy(agents)) == expected


def test_least_busy_only_counts_who_has_room_for_the_work_type() -> None:
    agents = [
        agent(1, capacity=4, active=2, work_units={PHONE: 3}),  # less busy, no room for a call
        agent(2, capacity=4, active=3),  # 1 unit free: a call takes them 1
    ]
    assert agent_id(least_busy(agents, work_type=EMAIL)) == 1
    assert agent_id(least_busy(agents, work_type=PHONE)) == 2
    agents[1] = agent(2, capacity=4, active=4)
    assert least_busy(agents, work_type=PHONE) is None


# -- most idle -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("agents", "expected"),
    [
        # never assigned comes first, even when busier
        ([agent(1, idle_minutes=600), agent(2, capacity=4, active=3), agent(3)], 2),
        # then the last assignment longest ago
        ([agent(1, idle_minutes=10), agent(2, idle_minutes=600), agent(3, idle_minutes=60)], 2),
        # the load does not matter
        ([agent(1, capacity=4, active=3, idle_minutes=60), agent(2, idle_minutes=5)], 1),
        # ties: the lowest id
        ([agent(3), agent(2)], 2),
        ([agent(3, idle_minutes=7), agent(2, idle_minutes=7)], 2),
        # the idlest cannot take work: the next idlest
        (
            [
                agent(1, presence=Presence.AWAY),
                agent(2, capacity=1, active=1),
                agent(3, idle_minutes=90),
                agent(4, idle_minutes=30),
            ],
            3,
        ),
    ],
)
def test_most_idle(agents: list[Agent], expected: int) -> None:
    assert agent_id(most_idle(agents)) == expected


def test_most_idle_needs_the_skills_and_the_room() -> None:
    agents = [
        agent(1),  # idlest, but without the skill
        agent(2, skills=["printers:2"], capacity=3, active=1, work_units={PHONE: 3}),
        agent(3, skills=["printers:3"], idle_minutes=5),
    ]
    assert agent_id(most_idle(agents, required_skills={"printers"}, work_type=EMAIL)) == 2
    assert agent_id(most_idle(agents, required_skills={"printers"}, work_type=PHONE)) == 3
    assert agent_id(most_idle(agents, required_skills={"printers:3"})) == 3
    assert most_idle(agents, required_skills={"printers:4"}) is None
    assert most_idle([]) is None


# -- skills --------------------------------------------------------------------------------

DESK = [
    agent(1, skills=["printers:2"], capacity=2, active=0),
    agent(2, skills=["printers:4", "french"], capacity=4, active=2),
    agent(3, skills=["printers:5", "french:3"], capacity=4, active=1),
    agent(4, capacity=2, active=0),
    agent(5, skills=["printers:5", "french:5", "german:5"], presence=Presence.AWAY),
]


@pytest.mark.parametrize(
    ("required", "match", "expected"),
    [
        ((), EXACT, 1),  # needing nothing: the least busy (1 and 4 idle, 1 has the lower id)
        (("printers",), EXACT, 1),
        (("printers:3",), EXACT, 3),  # 2 and 3 qualify, 3 is less busy
        (("printers:4", "french"), EXACT, 3),
        (("french:3",), EXACT, 3),
        (("french:4",), EXACT, None),  # only the absent agent 5 qualifies
        (("german",), EXACT, None),
        (("printers:3",), CLOSEST, 3),  # somebody qualifies: as with exact
        (("french:4",), CLOSEST, 3),  # short 1 level, the others 3 or 4
        (("printers:5", "french:5"), CLOSEST, 3),  # short 2; agent 2: 5, agent 1: 8, agent 4: 10
        (("printers:5", "german:2"), CLOSEST, 3),  # short 2 (german); agent 2: 3
        (("printers:3", "german:2"), CLOSEST, 3),  # 2 and 3 both short 2: 3 is less busy
    ],
)
def test_best_skilled(required: tuple[str, ...], match: SkillMatch, expected: int | None) -> None:
    assert agent_id(best_skilled(DESK, required, match=match)) == expected


def test_a_qualified_agent_beats_an_idle_unqualified_one_even_with_closest() -> None:
    agents = [agent(1, capacity=4, active=3, skills=["vip:2"]), agent(2, skills=["vip"])]
    assert agent_id(best_skilled(agents, {"vip:2"}, match=CLOSEST)) == 1


def test_closest_may_fall_to_someone_with_none_of_the_skills() -> None:
    agents = [agent(1, skills=["french"]), agent(2, presence=Presence.AWAY, skills=["vip:3"])]
    assert agent_id(best_skilled(agents, {"vip:3"}, match=CLOSEST)) == 1
    assert best_skilled(agents, {"vip:3"}, match=EXACT) is None


@pytest.mark.parametrize("match", list(SkillMatch))
def test_best_skilled_finds_nobody_in_an_empty_or_absent_pool(match: SkillMatch) -> None:
    assert best_skilled([], {"printers"}, match=match) is None
    absent = [agent(1, presence=Presence.OFFLINE), agent(2, capacity=1, active=1)]
    assert best_skilled(absent, {"printers"}, match=match) is None


def test_best_skilled_only_counts_who_has_room_for_the_work_type() -> None:
    agents = [
        agent(1, skills=["printers:3"], capacity=3, active=1, work_units={PHONE: 3}),
        agent(2, skills=["printers:2"], capacity=3, active=2),
    ]
    assert agent_id(best_skilled(agents, {"printers:3"}, work_type=EMAIL)) == 1
    assert best_skilled(agents, {"printers:3"}, work_type=PHONE, match=EXACT) is None
    assert agent_id(best_skilled(agents, {"printers:3"}, work_type=PHONE, match=CLOSEST)) == 2


# -- preferred agent -----------------------------------------------------------------------

OWNER = 9


@pytest.mark.parametrize(
    ("owner", "required", "work_type", "expected"),
    [
        (agent(OWNER, skills=["printers"]), (), EMAIL, OWNER),
        (agent(OWNER, skills=["printers"]), ("printers",), EMAIL, OWNER),
        (agent(OWNER, presence=Presence.AWAY), (), EMAIL, None),
        (agent(OWNER, presence=Presence.BUSY), (), EMAIL, None),
        (agent(OWNER, capacity=2, active=2), (), EMAIL, None),  # full
        (agent(OWNER, skills=["printers"]), ("printers:2",), EMAIL, None),  # not skilled enough
        (agent(OWNER), ("vip",), EMAIL, None),  # lacks the skill
        (agent(OWNER, capacity=3, active=1, work_units={PHONE: 3}), (), PHONE, None),
        (agent(OWNER, capacity=3, active=1, work_units={PHONE: 3}), (), EMAIL, OWNER),
    ],
)
def test_the_preferred_agent_gets_the_item_only_when_able_and_skilled(
    owner: Agent, required: tuple[str, ...], work_type: str, expected: int | None
) -> None:
    others = [agent(1, skills=["printers:5", "vip"]), agent(2, skills=["printers:5", "vip"])]
    item = WorkItem(
        work_type=work_type,
        required_skills=frozenset(required),
        preferred_agent=UUID(int=OWNER),
    )
    choice = choose((PREFERRED,), [*others, owner], item)
    assert chosen_as(choice) == (None if expected is None else (expected, PREFERRED))


@pytest.mark.parametrize("preferred", [None, UUID(int=OWNER)])
def test_no_preferred_agent_or_one_outside_the_pool_chooses_nobody(
    preferred: UUID | None,
) -> None:
    item = WorkItem(preferred_agent=preferred)
    assert choose((PREFERRED,), [agent(1), agent(2)], item) is None


def test_the_preferred_agent_wins_over_a_less_busy_colleague() -> None:
    pool = [agent(1), agent(OWNER, capacity=4, active=3, idle_minutes=0)]
    item = WorkItem(preferred_agent=UUID(int=OWNER))
    assert chosen_as(choose((PREFERRED, LEAST_BUSY), pool, item)) == (OWNER, PREFERRED)


# -- chains --------------------------------------------------------------------------------

CHAIN = (PREFERRED, SKILLS, LEAST_BUSY)


def test_a_chain_falls_through_step_by_step() -> None:
    owner = agent(OWNER, skills=["printers"], capacity=2)
    expert = agent(3, skills=["printers:4"], capacity=4, active=2)
    novice = agent(1, skills=["printers:2"])
    needs = frozenset({"printers:3"})
    item = WorkItem(required_skills=needs, preferred_agent=UUID(int=OWNER))

    # The owner is not skilled enough: the skills strategy finds the expert.
    assert chosen_as(choose(CHAIN, [owner, expert, novice], item)) == (3, SKILLS)

    # Once the owner is, they get it first.
    skilled_owner = agent(OWNER, skills=["printers:3"], capacity=4, active=3)
    assert chosen_as(choose(CHAIN, [skilled_owner, expert, novice], item)) == (OWNER, PREFERRED)

    # Nobody qualifies and matching is exact: no strategy of the chain finds anyone, since
    # least busy too only considers agents with every needed skill.
    assert choose(CHAIN, [owner, novice], item) is None

    # Closest matching: the skills strategy settles for the novice, short 1 level.
    closest = WorkItem(required_skills=needs, preferred_agent=UUID(int=OWNER), skill_match=CLOSEST)
    assert chosen_as(choose(CHAIN, [owner, novice], closest)) == (1, SKILLS)


def test_a_chain_without_needs_reports_the_first_strategy_that_chose() -> None:
    pool = [agent(1, capacity=4, active=2), agent(2, capacity=4, active=1)]
    item = WorkItem()  # no preferred agent, no skills
    assert chosen_as(choose(CHAIN, pool, item)) == (2, SKILLS)
    assert chosen_as(choose((PREFERRED, LEAST_BUSY), pool, item)) == (2, LEAST_BUSY)
    assert chosen_as(choose((PREFERRED, MOST_IDLE), pool, item)) == (1, MOST_IDLE)


@pytest.mark.parametrize(
    ("chain", "expected"),
    [
        ((MANUAL,), None),
        ((PREFERRED, MANUAL), None),  # the preferred agent is away: the item waits
        ((MANUAL, LEAST_BUSY), None),  # nothing after manual is tried
        ((PREFERRED, LEAST_BUSY, MANUAL), (2, LEAST_BUSY)),  # found before manual
        ((), None),
    ],
)
def test_a_chain_stops_at_manual(
    chain: tuple[AssignmentStrategy, ...], expected: tuple[int, AssignmentStrategy] | None
) -> None:
    pool = [agent(1, capacity=2, active=1), agent(2), agent(OWNER, presence=Presence.AWAY)]
    item = WorkItem(preferred_agent=UUID(int=OWNER))
    assert chosen_as(choose(chain, pool, item)) == expected


def test_manual_after_an_able_preferred_agent_does_not_stop_them() -> None:
    pool = [agent(1), agent(OWNER)]
    item = WorkItem(preferred_agent=UUID(int=OWNER))
    assert chosen_as(choose((PREFERRED, MANUAL), pool, item)) == (OWNER, PREFERRED)


@pytest.mark.parametrize(
    "chain",
    [(ROUND_ROBIN,), (LEAST_BUSY,), (MOST_IDLE,), (SKILLS,), (PREFERRED,), CHAIN],
)
@pytest.mark.parametrize("match", list(SkillMatch))
def test_an_empty_pool_gets_nobody(
    chain: tuple[AssignmentStrategy, ...], match: SkillMatch
) -> None:
    item = WorkItem(preferred_agent=UUID(int=1), skill_match=match)
    assert choose(chain, [], item) is None
    absent = [agent(1, presence=Presence.AWAY), agent(2, capacity=1, active=1)]
    assert choose(chain, absent, item) is None


@pytest.mark.parametrize("chain", [(ROUND_ROBIN,), (LEAST_BUSY,), (MOST_IDLE,), (SKILLS,)])
def test_choose_only_considers_agents_with_room_for_the_work_type(
    chain: tuple[AssignmentStrategy, ...],
) -> None:
    pool = [
        agent(1, capacity=3, active=1, work_units={PHONE: 3}),
        agent(2, capacity=4, active=2, work_units={"case": 2}),
    ]
    call = WorkItem(work_type=PHONE, skill_match=CLOSEST)
    assert chosen_as(choose(chain, pool, call)) == (2, chain[0])
    pool[1] = agent(2, capacity=4, active=3, work_units={"case": 2})
    assert choose(chain, pool, call) is None


# -- queues: validation and visibility -----------------------------------------------------

QUEUE = UUID(int=500)
OTHER_QUEUE = UUID(int=501)
TEAM_A = UUID(int=600)
TEAM_B = UUID(int=601)
ANNA = UUID(int=100)
BORIS = UUID(int=101)


def queue(**overrides: object) -> Queue:
    fields: dict[str, object] = {"queue_id": QUEUE, "name": "Printers"}
    fields.update(overrides)
    return Queue(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("strategies", "first", "assigns"),
    [
        ((MANUAL,), MANUAL, False),
        ((), MANUAL, False),
        ((LEAST_BUSY,), LEAST_BUSY, True),
        ((PREFERRED, SKILLS, LEAST_BUSY), PREFERRED, True),
        ((PREFERRED, MANUAL), PREFERRED, True),
    ],
)
def test_a_queue_chain_and_its_first_strategy(
    strategies: tuple[AssignmentStrategy, ...], first: AssignmentStrategy, assigns: bool
) -> None:
    made = queue(strategies=strategies)
    assert made.strategies == (strategies or (MANUAL,))
    assert (made.strategy, made.assigns) == (first, assigns)


def test_a_queue_defaults_to_manual_public_and_exact() -> None:
    made = queue()
    assert (made.strategies, made.kind, made.skill_match) == ((MANUAL,), QueueKind.PUBLIC, EXACT)
    assert not made.overflow.configured


@pytest.mark.parametrize(
    "overrides",
    [
        {"strategies": (LEAST_BUSY, LEAST_BUSY)},
        {"strategies": (PREFERRED, SKILLS, PREFERRED)},
        {"strategies": (MANUAL, LEAST_BUSY)},
        {"strategies": (PREFERRED, MANUAL, SKILLS)},
        {"kind": QueueKind.TEAM},
        {"kind": QueueKind.TEAM, "owner_id": ANNA},
        {"kind": QueueKind.PERSONAL},
        {"kind": QueueKind.PERSONAL, "team_id": TEAM_A},
        {"overflow": Overflow(queue_id=QUEUE, after=timedelta(minutes=5))},
        {"name": "  "},
    ],
)
def test_a_queue_refuses_an_impossible_setup(overrides: dict[str, object]) -> None:
    with pytest.raises(RoutingValidationError):
        queue(**overrides)


@pytest.mark.parametrize(
    "overrides",
    [
        {"after": timedelta(0)},
        {"after": timedelta(minutes=-5)},
        {"max_length": -1},
    ],
)
def test_an_overflow_refuses_impossible_limits(overrides: dict[str, object]) -> None:
    with pytest.raises(RoutingValidationError):
        Overflow(queue_id=OTHER_QUEUE, **overrides)  # type: ignore[arg-type]


def test_queue_kinds_are_public_team_and_personal() -> None:
    assert {kind.value for kind in QueueKind} == {"public", "team", "personal"}


PUBLIC_QUEUE = queue()
TEAM_QUEUE = queue(kind=QueueKind.TEAM, team_id=TEAM_A)
PERSONAL_QUEUE = queue(kind=QueueKind.PERSONAL, owner_id=ANNA)


@pytest.mark.parametrize(
    ("shown", "who", "teams", "supervises", "visible"),
    [
        (PUBLIC_QUEUE, BORIS, (), False, True),
        (PUBLIC_QUEUE, ANNA, (TEAM_B,), False, True),
        (TEAM_QUEUE, BORIS, (TEAM_A,), False, True),
        (TEAM_QUEUE, BORIS, (TEAM_B, TEAM_A), False, True),
        (TEAM_QUEUE, BORIS, (TEAM_B,), False, False),
        (TEAM_QUEUE, BORIS, (), False, False),
        (TEAM_QUEUE, BORIS, (), True, True),
        (PERSONAL_QUEUE, ANNA, (), False, True),
        (PERSONAL_QUEUE, BORIS, (), False, False),
        (PERSONAL_QUEUE, BORIS, (TEAM_A,), False, False),
        (PERSONAL_QUEUE, BORIS, (), True, True),
    ],
)
def test_who_sees_a_queue(
    shown: Queue, who: UUID, teams: tuple[UUID, ...], supervises: bool, visible: bool
) -> None:
    assert shown.visible_to(who, teams, supervises=supervises) is visible


def test_visible_to_accepts_any_iterable_of_teams() -> None:
    assert TEAM_QUEUE.visible_to(BORIS, iter([TEAM_A]), supervises=False)
    assert TEAM_QUEUE.visible_to(BORIS, frozenset({TEAM_A}), supervises=False)


# -- overflow ------------------------------------------------------------------------------

OVERFLOWING = queue(
    overflow=Overflow(
        queue_id=OTHER_QUEUE, after=timedelta(minutes=30), max_length=3, when_unstaffed=True
    )
)


@pytest.mark.parametrize(
    ("waited", "position", "members", "reason"),
    [
        (30, 0, 1, OverflowReason.WAITED_TOO_LONG),  # exactly the wait is enough
        (45, 0, 1, OverflowReason.WAITED_TOO_LONG),
        (45, 5, 0, OverflowReason.WAITED_TOO_LONG),  # waiting is named first
        (29, 3, 1, OverflowReason.QUEUE_TOO_LONG),  # the 4th item of a queue of 3 at most
        (29, 4, 0, OverflowReason.QUEUE_TOO_LONG),
        (29, 2, 0, OverflowReason.NO_MEMBER_AVAILABLE),
        (29, 2, 1, None),
        (0, 0, 5, None),
    ],
)
def test_overflow_reason(
    waited: int, position: int, members: int, reason: OverflowReason | None
) -> None:
    assert (
        OVERFLOWING.overflow_reason(
            waited=timedelta(minutes=waited), position=position, members_available=members
        )
        is reason
    )


@pytest.mark.parametrize(
    ("trigger", "reason"),
    [
        ({"after": timedelta(minutes=10)}, OverflowReason.WAITED_TOO_LONG),
        ({"max_length": 0}, OverflowReason.QUEUE_TOO_LONG),
        ({"when_unstaffed": True}, OverflowReason.NO_MEMBER_AVAILABLE),
        ({"max_length": 1}, None),  # the head stays
        ({"after": timedelta(hours=1)}, None),
    ],
)
def test_each_overflow_trigger_alone(
    trigger: dict[str, object], reason: OverflowReason | None
) -> None:
    waiting = queue(overflow=Overflow(queue_id=OTHER_QUEUE, **trigger))  # type: ignore[arg-type]
    found = waiting.overflow_reason(waited=timedelta(minutes=10), position=0, members_available=0)
    assert found is reason


@pytest.mark.parametrize(
    "rule",
    [
        Overflow(),
        Overflow(queue_id=OTHER_QUEUE),  # nowhere near a trigger
        Overflow(after=timedelta(minutes=1), max_length=0, when_unstaffed=True),  # nowhere to go
    ],
)
def test_no_overflow_when_not_configured(rule: Overflow) -> None:
    assert not rule.configured
    reason = queue(overflow=rule).overflow_reason(
        waited=timedelta(days=3), position=99, members_available=0
    )
    assert reason is None


# -- priority and work type ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("priority", "rank"),
    [("urgent", 0), (" High ", 1), ("normal", 2), ("LOW", 3), ("critical", 4), ("", 4)],
)
def test_priority_rank(priority: str, rank: int) -> None:
    assert priority_rank(priority) == rank


def test_priority_rank_orders_urgent_first_and_unknown_last() -> None:
    priorities = ["low", "whenever", "normal", "URGENT", "high"]
    assert sorted(priorities, key=priority_rank) == ["URGENT", "high", "normal", "low", "whenever"]


@pytest.mark.parametrize(
    ("channel", "work_type"),
    [("email", "case:email"), (" Phone ", "case:phone"), ("WEB", "case:web")],
)
def test_work_type_of_a_channel(channel: str, work_type: str) -> None:
    assert work_type_of(channel) == work_type


# -- enqueue and requeue -------------------------------------------------------------------

ITEM = UUID(int=1)
NEW_ITEM = UUID(int=3)
CASE = UUID(int=2)
DEFAULT = UUID(int=10)
PRINTERS = UUID(int=11)
TIER_2 = UUID(int=12)
SUPERVISOR = UUID(int=102)

PRINTER_RULE = RoutingRule(
    name="printers",
    order=1,
    queue_id=PRINTERS,
    request_types=frozenset({"hardware.printer"}),
    required_skills=frozenset({"Printers:3"}),
)


def minutes(n: int) -> datetime:
    return T0 + timedelta(minutes=n)


def facts(
    *, channel: str = "email", priority: str = "normal", request_type: str | None = None
) -> CaseFacts:
    return CaseFacts(
        case_id=CASE, channel=channel, priority=priority, subject="Jam", request_type=request_type
    )


def test_enqueue_records_work_type_priority_preferred_agent_and_rule() -> None:
    item, events = enqueue(
        facts(channel=" Phone ", priority="high", request_type="hardware.printer"),
        [PRINTER_RULE],
        DEFAULT,
        queue_item_id=ITEM,
        now=T0,
        preferred_agent=ANNA,
    )
    assert (item.queue_id, item.work_type, item.priority) == (PRINTERS, PHONE, "high")
    assert (item.preferred_agent, item.rule_name, item.last_worked_by) == (ANNA, "printers", None)
    assert item.required_skills == {"printers:3"}
    assert events == [
        CaseQueued(
            queue_item_id=ITEM,
            case_id=CASE,
            occurred_at=T0,
            queue_id=PRINTERS,
            rule_name="printers",
            required_skills=frozenset({"printers:3"}),
        )
    ]


def test_enqueue_in_the_default_queue_has_no_rule_nor_preferred_agent() -> None:
    item, _ = enqueue(facts(priority="low"), [PRINTER_RULE], DEFAULT, queue_item_id=ITEM, now=T0)
    assert (item.queue_id, item.rule_name, item.preferred_agent) == (DEFAULT, None, None)
    assert (item.work_type, item.priority) == (EMAIL, "low")


def test_an_assignment_names_the_rule_that_placed_the_case_and_the_supervisor() -> None:
    item, _ = enqueue(
        facts(request_type="hardware.printer"), [PRINTER_RULE], DEFAULT, queue_item_id=ITEM, now=T0
    )
    (event,) = item.assign(agent(ANNA.int), now=minutes(1), by=SUPERVISOR)
    assert isinstance(event, CaseAssigned)
    assert (event.rule_name, event.by, event.strategy) == ("printers", SUPERVISOR, MANUAL)


def test_a_pick_names_the_rule_but_no_supervisor() -> None:
    item, _ = enqueue(
        facts(request_type="hardware.printer"), [PRINTER_RULE], DEFAULT, queue_item_id=ITEM, now=T0
    )
    (event,) = item.pick(agent(ANNA.int), now=minutes(1))
    assert isinstance(event, CaseAssigned)
    assert (event.rule_name, event.by, event.picked) == ("printers", None, True)


def item_in(
    status: QueueItemStatus = QueueItemStatus.WAITING,
    worked_by: UUID | None = None,
    **fields: object,
) -> QueueItem:
    return QueueItem(
        queue_item_id=ITEM,
        case_id=CASE,
        queue_id=PRINTERS,
        entered_at=T0,
        status=status,
        worked_by=worked_by,
        worked_since=None if worked_by is None else T0,
        **fields,  # type: ignore[arg-type]
    )


def test_release_remembers_who_worked_the_item() -> None:
    item = item_in(QueueItemStatus.ASSIGNED, ANNA)
    item.release(now=minutes(1))
    assert (item.worked_by, item.last_worked_by) == (None, ANNA)
    item.assign(agent(BORIS.int), now=minutes(2))
    assert item.last_worked_by == ANNA  # starting work does not change it
    item.release(now=minutes(3))
    assert item.last_worked_by == BORIS


def test_remove_remembers_who_worked_the_item() -> None:
    item = item_in(QueueItemStatus.ASSIGNED, BORIS)
    item.remove("resolved", now=minutes(1))
    assert item.last_worked_by == BORIS


def test_removing_an_unworked_item_keeps_the_last_worker() -> None:
    item = item_in(QueueItemStatus.RELEASED, last_worked_by=ANNA)
    item.remove("resolved", now=minutes(1))
    assert item.last_worked_by == ANNA


@pytest.mark.parametrize(
    ("worked_by", "preferred", "still_preferred"),
    [
        (ANNA, ANNA, None),  # moved away from the preferred agent: no longer theirs
        (ANNA, BORIS, BORIS),  # moved away from someone else: the preference stays
        (None, BORIS, BORIS),
    ],
)
def test_transfer_remembers_the_last_worker_and_drops_their_preference(
    worked_by: UUID | None, preferred: UUID, still_preferred: UUID | None
) -> None:
    status = QueueItemStatus.WAITING if worked_by is None else QueueItemStatus.ASSIGNED
    item = item_in(status, worked_by, preferred_agent=preferred)
    item.transfer(TIER_2, now=minutes(1))
    assert item.last_worked_by == worked_by
    assert item.preferred_agent == still_preferred


def test_a_transfer_carries_its_reason() -> None:
    item = item_in()
    (event,) = item.transfer(TIER_2, now=minutes(1), reason=OverflowReason.WAITED_TOO_LONG.value)
    assert isinstance(event, CaseTransferred)
    assert (event.reason, event.transferred_by) == ("waited_too_long", None)
    (back,) = item.transfer(PRINTERS, now=minutes(2), by=SUPERVISOR)
    assert isinstance(back, CaseTransferred)
    assert (back.reason, back.transferred_by) == (None, SUPERVISOR)


def test_requeue_prefers_the_last_worker_over_the_first_preference() -> None:
    last = item_in(
        QueueItemStatus.ASSIGNED,
        BORIS,
        work_type=PHONE,
        priority="urgent",
        preferred_agent=ANNA,
        rule_name="printers",
        required_skills=frozenset({"printers:3"}),
    )
    last.release(now=minutes(1))
    last.remove("resolved", now=minutes(2))

    item, events = requeue(last, queue_item_id=NEW_ITEM, now=minutes(30))

    assert (item.queue_item_id, item.queue_id, item.status) == (
        NEW_ITEM,
        PRINTERS,
        QueueItemStatus.WAITING,
    )
    assert (item.work_type, item.priority) == (PHONE, "urgent")
    assert (item.preferred_agent, item.last_worked_by) == (BORIS, BORIS)
    assert item.required_skills == {"printers:3"}
    assert item.worked_by is None
    assert [type(e) for e in events] == [CaseQueued]


@pytest.mark.parametrize(
    ("preferred", "expected"),
    [(ANNA, ANNA), (None, None)],
)
def test_requeue_of_a_case_nobody_worked_keeps_its_preference(
    preferred: UUID | None, expected: UUID | None
) -> None:
    last = item_in(preferred_agent=preferred)
    last.remove("cancelled", now=minutes(1))
    item, _ = requeue(last, queue_item_id=NEW_ITEM, now=minutes(30))
    assert (item.preferred_agent, item.last_worked_by) == (expected, None)


# -- the capacity check in assign and pick with work units -----------------------------


def phone_desk_agent(**overrides: object) -> Agent:
    fields: dict[str, object] = {
        "agent_id": ANNA,
        "name": "Anna",
        "capacity": 3,
        "active_items": 1,  # 2 units free
        "presence": Presence.AVAILABLE,
        "work_units": {PHONE: 3},
    }
    fields.update(overrides)
    return Agent(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize("operation", ["assign", "pick"])
def test_a_call_is_refused_to_an_agent_without_room_for_it(operation: str) -> None:
    item = item_in(work_type=PHONE)
    with pytest.raises(AgentAtCapacityError):
        getattr(item, operation)(phone_desk_agent(), now=minutes(1))
    assert (item.status, item.worked_by) == (QueueItemStatus.WAITING, None)


@pytest.mark.parametrize("operation", ["assign", "pick"])
@pytest.mark.parametrize("work_type", [EMAIL, "case"])
def test_the_same_agent_takes_an_item_that_needs_fewer_units(
    operation: str, work_type: str
) -> None:
    item = item_in(work_type=work_type)
    events = getattr(item, operation)(phone_desk_agent(), now=minutes(1))
    assert (item.status, item.worked_by) == (QueueItemStatus.ASSIGNED, ANNA)
    assert [type(e) for e in events] == [CaseAssigned]


@pytest.mark.parametrize(
    ("active", "work_units", "work_type", "takes"),
    [
        (0, {PHONE: 3}, PHONE, True),  # 3 free, a call takes 3
        (1, {"case": 2}, EMAIL, True),  # 2 free, the kind's 2
        (2, {"case": 2}, EMAIL, False),  # 1 free
        (2, {"case": 2, EMAIL: 1}, EMAIL, True),  # the work type's own figure wins
        (3, {"case:chat": 0}, "case:chat", True),  # a free item, even when full
    ],
)
def test_assign_checks_the_units_of_the_items_work_type(
    active: int, work_units: dict[str, int], work_type: str, takes: bool
) -> None:
    item = item_in(work_type=work_type)
    worker = phone_desk_agent(active_items=active, work_units=work_units)
    if takes:
        item.assign(worker, now=minutes(1))
        assert item.worked_by == ANNA
    else:
        with pytest.raises(AgentAtCapacityError):
            item.assign(worker, now=minutes(1))
        assert item.worked_by is None
