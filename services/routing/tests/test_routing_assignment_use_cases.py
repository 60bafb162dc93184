"""Assignment, the agent directory and overflow, as use cases over the fakes of the ports.

The fakes live in ``test_routing_use_cases.py`` and keep the SQL adapters' semantics: the
conditional `take_units` and `claim`, rollback of a unit of work left without commit, and
events, agent entries and notifications published only on commit.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import sys
import uuid
from collections.abc import Iterable, Sequence
from datetime import timedelta
from pathlib import Path
from types import ModuleType
from typing import Any
from uuid import UUID

import pytest

from caseflow_servicekit.auth import agent_id_of
from routing.app.case_changes import AcceptCase, DequeueCase, RequeueCase
from routing.app.directory import (
    PRESENCE_CALL,
    PRESENCE_FREED,
    PRESENCE_SET,
    Who,
    change_agent,
    change_team,
    on_call,
    register_agent,
    set_presence,
)
from routing.app.errors import (
    AgentExistsError,
    ExtensionTakenError,
    NameTakenError,
    NotPermittedError,
    QueueNotVisibleError,
    RuleNotFound,
    UnknownAgentError,
    UnknownSkillError,
    UnknownTeamError,
    VersionConflictError,
)
from routing.app.handlers import (
    AddRoutingRule,
    Caller,
    PickQueueItem,
    ReleaseQueueItem,
    TransferQueueItem,
    add_routing_rule,
    apply_case_change,
    assign_queue_item,
    change_queue,
    delete_routing_rule,
    pick_next,
    pick_queue_item,
    release_queue_item,
    route_case,
    transfer_queue_item,
    try_routing_rules,
)
from routing.app.ports import AgentEntry, Team
from routing.app.projections import keep_account, track_kpi
from routing.app.upkeep import overflow_queue, upkeep
from routing.domain import (
    AgentAtCapacityError,
    AgentUnavailableError,
    AssignmentStrategy,
    CaseAssigned,
    CaseDequeued,
    CaseFacts,
    CaseQueued,
    CaseReleased,
    CaseTransferred,
    Overflow,
    OverflowReason,
    Presence,
    Queue,
    QueueItem,
    QueueItemStatus,
    QueueKind,
    SkillMatch,
    normalize_skills,
)


def _load_fakes() -> ModuleType:
    """The fakes of ``test_routing_use_cases.py``, loaded by path: the test folders are no
    packages, and the file must not depend on where pytest is started."""
    name = "routing_use_case_fakes"
    if (module := sys.modules.get(name)) is not None:
        return module
    spec = importlib.util.spec_from_file_location(
        name, Path(__file__).with_name("test_routing_use_cases.py")
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


_fakes = _load_fakes()
FakeRoutingUnitOfWork: Any = _fakes.FakeRoutingUnitOfWork
Notified: Any = _fakes.Notified
_opened = _fakes._opened
NOW = _fakes.NOW
DEFAULT: Queue = _fakes.DEFAULT
BILLING: Queue = _fakes.BILLING
ANNA: Caller = _fakes.ANNA
BORIS: Caller = _fakes.BORIS
SUE: Caller = _fakes.SUE

pytestmark = pytest.mark.unit

CARL = Caller(agent_id=agent_id_of("carl"), name="carl")
DANA = Caller(agent_id=agent_id_of("dana"), name="dana")
MAX = agent_id_of("max")  # a manager
ACCOUNT = UUID(int=0xACC)
TEAM = UUID(int=0x7E)
L1 = Team(team_id=TEAM, name="First line")

S = AssignmentStrategy
MIN = timedelta(minutes=1)
LATER = NOW + 5 * MIN


def _queue(
    n: int, name: str, *strategies: AssignmentStrategy, default: bool = False, **fields: Any
) -> Queue:
    return Queue(
        queue_id=UUID(int=n),
        name=name,
        is_default=default,
        strategies=strategies or (S.MANUAL,),
        **fields,
    )


def _uow(*queues: Queue, teams: Iterable[Team] = (L1,)) -> Any:
    uow = FakeRoutingUnitOfWork(*queues)
    for team in teams:
        uow.teams.teams[team.team_id] = team
    return uow


def _agent(
    uow: Any,
    who: Caller,
    *,
    presence: Presence = Presence.AVAILABLE,
    capacity: int = 5,
    load: int = 0,
    skills: Iterable[str] = (),
    teams: Iterable[UUID] = (),
    work_units: dict[str, int] | None = None,
    extension: str | None = None,
) -> AgentEntry:
    """A registered agent, put in the directory as is."""
    entry: AgentEntry = uow.agents.seed(
        AgentEntry(
            agent_id=who.agent_id,
            name=who.name,
            presence=presence,
            capacity=capacity,
            load_units=load,
            skills=normalize_skills(skills),
            teams=tuple(teams),
            work_units=work_units or {},
            phone_extension=extension,
        )
    )
    return entry


def _set(uow: Any, who: Caller, **changes: Any) -> None:
    """Change an agent behind the use cases' back (as another replica would)."""
    uow.agents.seed(dataclasses.replace(uow.agents.agents[who.agent_id], **changes))


async def _route(uow: Any, *, at: Any = NOW, **overrides: Any) -> QueueItem:
    item: QueueItem = await route_case(_opened(**overrides), uow=uow, now=at)
    return item


def _stored(uow: Any, item: QueueItem) -> QueueItem:
    stored: QueueItem = uow.queue_items.items[item.queue_item_id]
    return stored


def _assigned(uow: Any) -> list[tuple[UUID, UUID, AssignmentStrategy]]:
    """(item, agent, strategy) of every assignment published, in order."""
    return [
        (e.queue_item_id, e.agent_id, e.strategy)
        for e in uow.events()
        if isinstance(e, CaseAssigned)
    ]


def _notified(uow: Any) -> list[tuple[UUID, UUID]]:
    return [(n.queue_item_id, n.agent_id) for n in uow.notified]


async def _rule(uow: Any, name: str, queue: Queue, **conditions: Any) -> None:
    await add_routing_rule(
        AddRoutingRule(name=name, order=1, queue_id=queue.queue_id, **conditions), uow=uow
    )


# -- automatic assignment on routing ------------------------------------------------------------

CHAIN = (S.PREFERRED_AGENT, S.SKILLS, S.LEAST_BUSY)
AUTO = _queue(1, "Default", *CHAIN, default=True)


async def test_a_case_goes_to_its_accounts_owner_first_and_they_are_told() -> None:
    uow = _uow(AUTO)
    _agent(uow, ANNA, load=3)  # the owner, busier than boris
    _agent(uow, BORIS)
    await keep_account(
        ACCOUNT, owner_id=ANNA.agent_id, tier="gold", region="emea", version=1, uow=uow
    )

    item = await _route(uow, account_id=ACCOUNT)

    stored = _stored(uow, item)
    assert (stored.status, stored.worked_by, stored.worked_since) == (
        QueueItemStatus.ASSIGNED,
        ANNA.agent_id,
        NOW,
    )
    assert stored.preferred_agent == ANNA.agent_id
    assert [type(e) for e in uow.events()] == [CaseQueued, CaseAssigned]
    assigned = uow.events()[-1]
    assert (assigned.agent_id, assigned.strategy, assigned.picked, assigned.by) == (
        ANNA.agent_id,
        S.PREFERRED_AGENT,
        False,
        None,
    )
    assert (uow.agents.load(ANNA.agent_id), uow.agents.load(BORIS.agent_id)) == (4, 0)
    assert uow.queue_items.units[item.queue_item_id] == 1
    assert uow.agents.agents[ANNA.agent_id].last_assigned_at == NOW
    # Only a round-robin queue keeps its place in the ring.
    assert AUTO.queue_id not in uow.queues.last
    assert uow.notified == [
        Notified(ANNA.agent_id, item.queue_item_id, item.case_id, AUTO.queue_id)
    ]
    # The account lent its tier and region to the facts routing keeps.
    facts, _ = uow.cases.cases[item.case_id]
    assert (facts.tier, facts.region) == ("gold", "emea")


@pytest.mark.parametrize("owner", ["away", "full"])
async def test_without_its_owner_a_case_follows_the_chain_to_the_least_busy_qualified(
    owner: str,
) -> None:
    printers = _queue(3, "Printers", *CHAIN)
    uow = _uow(DEFAULT, printers)
    if owner == "away":
        _agent(uow, ANNA, presence=Presence.AWAY, skills=["printers:5"])
    else:
        _agent(uow, ANNA, capacity=2, load=2, skills=["printers:5"])
    _agent(uow, BORIS, load=2, skills=["printers:3"])
    _agent(uow, CARL, load=1, skills=["printers:2"])
    _agent(uow, DANA, skills=["printers:1"])  # the least busy, short of a level
    await keep_account(ACCOUNT, owner_id=ANNA.agent_id, tier=None, region=None, version=1, uow=uow)
    await _rule(
        uow,
        "printers",
        printers,
        subject_keywords=frozenset({"printer"}),
        required_skills=frozenset({"printers:2"}),
    )

    item = await _route(uow, subject="The printer jams", account_id=ACCOUNT)

    assert _stored(uow, item).worked_by == CARL.agent_id
    assert _assigned(uow) == [(item.queue_item_id, CARL.agent_id, S.SKILLS)]
    assert _notified(uow) == [(item.queue_item_id, CARL.agent_id)]
    assert {a: uow.agents.load(a.agent_id) for a in (ANNA, BORIS, CARL, DANA)} == {
        ANNA: 0 if owner == "away" else 2,
        BORIS: 2,
        CARL: 2,
        DANA: 0,
    }


async def test_a_case_nobody_is_qualified_for_waits_unless_the_queue_takes_the_closest() -> None:
    exact = _queue(3, "Exact", S.SKILLS, S.LEAST_BUSY)
    closest = _queue(4, "Closest", S.SKILLS, S.LEAST_BUSY, skill_match=SkillMatch.CLOSEST)
    uow = _uow(DEFAULT, exact, closest)
    _agent(uow, BORIS, skills=["printers:1"])
    _agent(uow, CARL, skills=["printers:2"], presence=Presence.AWAY)
    skills = frozenset({"printers:3"})
    await _rule(uow, "exact", exact, request_types=frozenset({"exact"}), required_skills=skills)
    await _rule(
        uow, "closest", closest, request_types=frozenset({"closest"}), required_skills=skills
    )

    waits = await _route(uow, request_type="exact")
    given = await _route(uow, request_type="closest")

    assert (_stored(uow, waits).status, _stored(uow, waits).worked_by) == (
        QueueItemStatus.WAITING,
        None,
    )
    assert _assigned(uow) == [(given.queue_item_id, BORIS.agent_id, S.SKILLS)]
    assert uow.agents.load(BORIS.agent_id) == 1
    assert _notified(uow) == [(given.queue_item_id, BORIS.agent_id)]


async def test_a_manual_queue_gives_nothing_by_itself() -> None:
    uow = _uow(DEFAULT)
    _agent(uow, ANNA)
    await keep_account(ACCOUNT, owner_id=ANNA.agent_id, tier=None, region=None, version=1, uow=uow)
    item = await _route(uow, account_id=ACCOUNT)
    assert _stored(uow, item).status is QueueItemStatus.WAITING
    assert _stored(uow, item).preferred_agent == ANNA.agent_id
    assert (_assigned(uow), uow.notified, uow.agents.load(ANNA.agent_id)) == ([], [], 0)


async def test_a_team_queue_gives_its_items_to_members_and_a_personal_queue_to_its_owner() -> None:
    team_q = _queue(1, "Team", S.LEAST_BUSY, default=True, kind=QueueKind.TEAM, team_id=TEAM)
    mine = _queue(3, "Carl's", S.LEAST_BUSY, kind=QueueKind.PERSONAL, owner_id=CARL.agent_id)
    uow = _uow(team_q, mine)
    _agent(uow, ANNA, load=3, teams=[TEAM])
    _agent(uow, BORIS)  # idle, but in neither queue
    _agent(uow, CARL, load=4)
    await _rule(uow, "carl's", mine, request_types=frozenset({"carl"}))

    to_team = await _route(uow)
    to_carl = await _route(uow, request_type="carl")

    assert _assigned(uow) == [
        (to_team.queue_item_id, ANNA.agent_id, S.LEAST_BUSY),
        (to_carl.queue_item_id, CARL.agent_id, S.LEAST_BUSY),
    ]
    assert uow.agents.load(BORIS.agent_id) == 0


async def test_round_robin_turns_through_the_members_by_id_after_the_last_one_given() -> None:
    uow = _uow(_queue(1, "Default", S.ROUND_ROBIN, default=True))
    ring = sorted((ANNA, BORIS, CARL), key=lambda who: who.agent_id)
    for who in ring:
        _agent(uow, who)
    items = [await _route(uow) for _ in range(4)]
    assert [agent for _, agent, _ in _assigned(uow)] == [
        ring[0].agent_id,
        ring[1].agent_id,
        ring[2].agent_id,
        ring[0].agent_id,
    ]
    assert uow.queues.last[UUID(int=1)] == ring[0].agent_id
    assert [n.queue_item_id for n in uow.notified] == [i.queue_item_id for i in items]


# -- capacity and work units --------------------------------------------------------------------


async def test_an_agent_never_gets_more_than_their_capacity_and_the_rest_waits() -> None:
    uow = _uow(_queue(1, "Default", S.LEAST_BUSY, default=True))
    _agent(uow, ANNA, capacity=1)
    _agent(uow, BORIS, capacity=2)

    items = [await _route(uow, at=NOW + n * MIN) for n in range(4)]

    worked = [_stored(uow, i).worked_by for i in items]
    assert worked.count(ANNA.agent_id) == 1
    assert worked.count(BORIS.agent_id) == 2
    assert _stored(uow, items[3]).status is QueueItemStatus.WAITING
    assert (uow.agents.load(ANNA.agent_id), uow.agents.load(BORIS.agent_id)) == (1, 2)
    assert len(uow.notified) == 3


async def test_an_agent_filled_meanwhile_elsewhere_is_not_overfilled(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    uow = _uow(_queue(1, "Default", S.LEAST_BUSY, default=True))
    _agent(uow, ANNA, capacity=1)
    stale = await uow.agents.candidates_many([uow.queues.queues[UUID(int=1)]])  # anna: 0 of 1
    _set(uow, ANNA, load_units=1)  # another replica gave her an item since

    async def candidates_many(queues: Sequence[Queue]) -> dict[UUID, list[Any]]:
        return stale

    monkeypatch.setattr(uow.agents, "candidates_many", candidates_many)
    item = await _route(uow)

    assert _stored(uow, item).status is QueueItemStatus.WAITING
    assert uow.agents.load(ANNA.agent_id) == 1
    assert [type(e) for e in uow.events()] == [CaseQueued]
    assert uow.notified == []


async def test_an_item_claimed_meanwhile_elsewhere_gives_back_the_units_taken(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    auto = _queue(1, "Default", S.LEAST_BUSY, default=True)
    uow = _uow(auto)
    _agent(uow, ANNA, presence=Presence.AWAY)
    _agent(uow, BORIS, presence=Presence.AWAY)
    item = await _route(uow)
    stale = await uow.queue_items.waiting(auto.queue_id, limit=20)  # read before boris picks
    await pick_queue_item(
        PickQueueItem(queue_item_id=item.queue_item_id, by=BORIS), uow=uow, now=NOW
    )

    async def waiting(queue_id: UUID, *, limit: int, lock: bool = True) -> list[QueueItem]:
        return stale

    monkeypatch.setattr(uow.queue_items, "waiting", waiting)
    await set_presence(
        ANNA.agent_id, Presence.AVAILABLE, by=Who(agent_id=ANNA.agent_id), uow=uow, now=NOW
    )

    assert _stored(uow, item).worked_by == BORIS.agent_id
    assert (uow.agents.load(ANNA.agent_id), uow.agents.load(BORIS.agent_id)) == (0, 1)
    assert _assigned(uow) == [(item.queue_item_id, BORIS.agent_id, S.MANUAL)]
    assert uow.notified == []


async def test_each_work_type_takes_the_units_the_agent_has_for_it() -> None:
    uow = _uow(_queue(1, "Default", S.LEAST_BUSY, default=True))
    _agent(uow, ANNA, capacity=4, work_units={"case:phone": 2, "case": 1})

    phone = await _route(uow, channel="phone", at=NOW)
    email = await _route(uow, channel="email", at=NOW + MIN)
    assert (
        uow.queue_items.units[phone.queue_item_id],
        uow.queue_items.units[email.queue_item_id],
    ) == (2, 1)
    assert uow.agents.load(ANNA.agent_id) == 3

    # One unit free: a second phone case (two units) waits, an email still fits.
    phone2 = await _route(uow, channel="phone", at=NOW + 2 * MIN)
    email2 = await _route(uow, channel="email", at=NOW + 3 * MIN)
    assert _stored(uow, phone2).status is QueueItemStatus.WAITING
    assert _stored(uow, email2).worked_by == ANNA.agent_id
    assert uow.agents.load(ANNA.agent_id) == 4

    # The phone case resolved frees its two units, and the waiting phone case takes them.
    await apply_case_change(
        DequeueCase(case_id=phone.case_id, at=NOW, reason="resolved"), uow=uow, now=NOW + 4 * MIN
    )
    assert uow.queue_items.units[phone.queue_item_id] == 0
    assert _stored(uow, phone2).worked_by == ANNA.agent_id
    assert uow.queue_items.units[phone2.queue_item_id] == 2
    assert uow.agents.load(ANNA.agent_id) == 4


async def test_work_that_takes_no_units_is_given_and_leaves_the_load_as_it_was() -> None:
    uow = _uow(_queue(1, "Default", S.LEAST_BUSY, default=True))
    _agent(uow, ANNA, capacity=2, work_units={"case:chat": 0})
    chats = [await _route(uow, channel="chat") for _ in range(3)]
    assert all(_stored(uow, c).worked_by == ANNA.agent_id for c in chats)
    assert uow.agents.load(ANNA.agent_id) == 0


# -- release, resolve, reopen -------------------------------------------------------------------


async def test_a_released_item_goes_to_someone_else_not_back_to_who_released_it() -> None:
    uow = _uow(_queue(1, "Default", S.LEAST_BUSY, default=True))
    _agent(uow, ANNA)
    _agent(uow, BORIS, load=2)  # busier: least busy would choose anna again
    item = await _route(uow)
    assert _stored(uow, item).worked_by == ANNA.agent_id

    await release_queue_item(
        ReleaseQueueItem(queue_item_id=item.queue_item_id, by=ANNA), uow=uow, now=NOW + MIN
    )

    stored = _stored(uow, item)
    assert (stored.status, stored.worked_by, stored.last_worked_by) == (
        QueueItemStatus.ASSIGNED,
        BORIS.agent_id,
        ANNA.agent_id,
    )
    assert [type(e) for e in uow.events()] == [CaseQueued, CaseAssigned, CaseReleased, CaseAssigned]
    assert (uow.agents.load(ANNA.agent_id), uow.agents.load(BORIS.agent_id)) == (0, 3)
    assert _notified(uow) == [
        (item.queue_item_id, ANNA.agent_id),
        (item.queue_item_id, BORIS.agent_id),
    ]


async def test_a_released_item_nobody_else_can_take_waits() -> None:
    uow = _uow(_queue(1, "Default", S.LEAST_BUSY, default=True))
    _agent(uow, ANNA)
    item = await _route(uow)
    await release_queue_item(
        ReleaseQueueItem(queue_item_id=item.queue_item_id, by=ANNA), uow=uow, now=NOW + MIN
    )
    assert (_stored(uow, item).status, _stored(uow, item).worked_by) == (
        QueueItemStatus.RELEASED,
        None,
    )
    assert uow.agents.load(ANNA.agent_id) == 0
    assert len(_assigned(uow)) == 1


async def test_a_resolved_case_frees_its_agent_who_is_given_what_waits() -> None:
    uow = _uow(_queue(1, "Default", S.LEAST_BUSY, default=True))
    _agent(uow, ANNA, capacity=1)
    first = await _route(uow, at=NOW)
    second = await _route(uow, at=NOW + MIN)
    assert _stored(uow, second).status is QueueItemStatus.WAITING

    await apply_case_change(
        DequeueCase(case_id=first.case_id, at=NOW, reason="resolved"), uow=uow, now=NOW + 2 * MIN
    )

    assert _stored(uow, first).status is QueueItemStatus.REMOVED
    assert _stored(uow, second).worked_by == ANNA.agent_id
    assert uow.agents.load(ANNA.agent_id) == 1
    dequeued = next(e for e in uow.events() if isinstance(e, CaseDequeued))
    assert dequeued.released_agent_id == ANNA.agent_id
    assert _assigned(uow)[-1] == (second.queue_item_id, ANNA.agent_id, S.LEAST_BUSY)
    assert _notified(uow)[-1] == (second.queue_item_id, ANNA.agent_id)


async def _worked_then_resolved(uow: Any, by: Caller = ANNA) -> QueueItem:
    """A case `by` worked (taken into work), then resolved."""
    before = uow.agents.load(by.agent_id)
    item = await _route(uow)
    await apply_case_change(
        AcceptCase(case_id=item.case_id, at=NOW, agent_id=by.agent_id), uow=uow, now=NOW
    )
    assert (_stored(uow, item).worked_by, uow.agents.load(by.agent_id)) == (by.agent_id, before + 1)
    await apply_case_change(
        DequeueCase(case_id=item.case_id, at=NOW, reason="resolved"), uow=uow, now=NOW + MIN
    )
    assert uow.agents.load(by.agent_id) == before
    return item


async def _reopen(uow: Any, item: QueueItem) -> QueueItem:
    again = await apply_case_change(
        RequeueCase(case_id=item.case_id, at=NOW), uow=uow, now=NOW + 2 * MIN
    )
    assert again is not None and again.queue_item_id != item.queue_item_id
    return _stored(uow, again)


async def test_a_reopened_case_goes_back_to_its_last_worker_even_in_a_manual_queue() -> None:
    uow = _uow(DEFAULT)
    _agent(uow, ANNA)
    _agent(uow, BORIS)
    item = await _worked_then_resolved(uow)

    again = await _reopen(uow, item)

    assert (again.status, again.worked_by, again.preferred_agent) == (
        QueueItemStatus.ASSIGNED,
        ANNA.agent_id,
        ANNA.agent_id,
    )
    assert _assigned(uow) == [(again.queue_item_id, ANNA.agent_id, S.PREFERRED_AGENT)]
    assert _notified(uow) == [(again.queue_item_id, ANNA.agent_id)]
    assert uow.agents.load(ANNA.agent_id) == 1


async def test_a_reopened_case_whose_last_worker_is_away_waits_in_a_manual_queue() -> None:
    uow = _uow(DEFAULT)
    _agent(uow, ANNA)
    _agent(uow, BORIS)
    item = await _worked_then_resolved(uow)
    _set(uow, ANNA, presence=Presence.AWAY)

    again = await _reopen(uow, item)

    assert (again.status, again.worked_by) == (QueueItemStatus.WAITING, None)
    assert (_assigned(uow), uow.notified) == ([], [])


@pytest.mark.parametrize("last_worker", ["away", "full"])
async def test_a_reopened_case_its_last_worker_cannot_take_follows_the_chain(
    last_worker: str,
) -> None:
    uow = _uow(_queue(1, "Default", S.LEAST_BUSY, default=True))
    _agent(uow, ANNA, presence=Presence.AWAY)
    _agent(uow, BORIS, presence=Presence.AWAY)
    item = await _worked_then_resolved(uow)
    if last_worker == "away":
        _set(uow, ANNA, presence=Presence.AWAY)
    else:
        _set(uow, ANNA, presence=Presence.AVAILABLE, capacity=1, load_units=1)
    _set(uow, BORIS, presence=Presence.AVAILABLE, load_units=3)

    again = await _reopen(uow, item)

    assert again.worked_by == BORIS.agent_id
    assert _assigned(uow)[-1] == (again.queue_item_id, BORIS.agent_id, S.LEAST_BUSY)


async def test_a_reopened_case_goes_back_to_its_last_worker_outside_the_team() -> None:
    team_q = _queue(1, "Team", S.LEAST_BUSY, default=True, kind=QueueKind.TEAM, team_id=TEAM)
    uow = _uow(team_q)
    _agent(uow, ANNA, load=2)  # not in the team; worked the case as the cases service says
    _agent(uow, BORIS, teams=[TEAM], presence=Presence.AWAY)
    item = await _worked_then_resolved(uow)
    _set(uow, BORIS, presence=Presence.AVAILABLE)

    again = await _reopen(uow, item)

    assert again.worked_by == ANNA.agent_id
    assert _assigned(uow) == [(again.queue_item_id, ANNA.agent_id, S.PREFERRED_AGENT)]


async def test_a_last_worker_outside_the_team_gets_back_their_case_and_nothing_else() -> None:
    team_q = _queue(1, "Team", S.LEAST_BUSY, default=True, kind=QueueKind.TEAM, team_id=TEAM)
    uow = _uow(team_q)
    _agent(uow, ANNA)  # not in the team
    _agent(uow, CARL, capacity=4, teams=[TEAM], presence=Presence.AWAY)
    item = await _worked_then_resolved(uow)
    _set(uow, ANNA, presence=Presence.AWAY)
    other = await _route(uow, at=NOW + MIN)  # the team's, never anna's
    again = await _reopen(uow, item)  # anna away: waits behind `other`
    assert [_stored(uow, other).status, again.status] == [QueueItemStatus.WAITING] * 2
    _set(uow, ANNA, presence=Presence.AVAILABLE)
    _set(uow, CARL, presence=Presence.AVAILABLE, load_units=2)

    await upkeep(uow_factory=lambda: uow, now=NOW + 3 * MIN)

    assert _stored(uow, again).worked_by == ANNA.agent_id
    assert _stored(uow, other).worked_by == CARL.agent_id  # not anna: she is no member


# -- visibility of team queues --------------------------------------------------------------------

TEAM_Q = _queue(3, "Team", kind=QueueKind.TEAM, team_id=TEAM)


async def test_a_transfer_to_a_team_queue_the_caller_cannot_see_is_refused_a_supervisor_may() -> (
    None
):
    uow = _uow(DEFAULT, TEAM_Q)
    _agent(uow, ANNA)
    _agent(uow, BORIS, teams=[TEAM])
    mine = await _route(uow)
    boris = await _route(uow)
    for item, who in ((mine, ANNA), (boris, BORIS)):
        await pick_queue_item(
            PickQueueItem(queue_item_id=item.queue_item_id, by=who), uow=uow, now=NOW
        )

    def to_team(item: QueueItem, by: Caller) -> TransferQueueItem:
        return TransferQueueItem(
            queue_item_id=item.queue_item_id, to_queue_id=TEAM_Q.queue_id, by=by
        )

    with pytest.raises(QueueNotVisibleError):
        await transfer_queue_item(to_team(mine, ANNA), uow=uow, now=NOW + MIN)
    assert (_stored(uow, mine).queue_id, _stored(uow, mine).worked_by) == (
        DEFAULT.queue_id,
        ANNA.agent_id,
    )
    assert uow.agents.load(ANNA.agent_id) == 1
    assert not any(isinstance(e, CaseTransferred) for e in uow.events())

    await transfer_queue_item(to_team(boris, BORIS), uow=uow, now=NOW + MIN)  # a member may
    await transfer_queue_item(to_team(mine, SUE), uow=uow, now=NOW + MIN)

    assert [_stored(uow, i).queue_id for i in (mine, boris)] == [TEAM_Q.queue_id] * 2
    assert (uow.agents.load(ANNA.agent_id), uow.agents.load(BORIS.agent_id)) == (0, 0)
    transferred = [e for e in uow.events() if isinstance(e, CaseTransferred)]
    assert [(e.released_agent_id, e.transferred_by) for e in transferred] == [
        (BORIS.agent_id, BORIS.agent_id),
        (ANNA.agent_id, SUE.agent_id),
    ]


async def test_only_members_and_supervisors_pick_from_a_team_queue() -> None:
    uow = _uow(_queue(1, "Team", default=True, kind=QueueKind.TEAM, team_id=TEAM))
    _agent(uow, ANNA)  # registered, not a member
    _agent(uow, BORIS, teams=[TEAM])
    first = await _route(uow)
    second = await _route(uow)

    for outsider in (ANNA, DANA):  # dana is unknown to routing
        with pytest.raises(QueueNotVisibleError):
            await pick_queue_item(
                PickQueueItem(queue_item_id=first.queue_item_id, by=outsider), uow=uow, now=NOW
            )
        with pytest.raises(QueueNotVisibleError):
            await pick_next(UUID(int=1), outsider, uow=uow, now=NOW)
    assert _stored(uow, first).status is QueueItemStatus.WAITING
    assert uow.agents.load(ANNA.agent_id) == 0
    assert DANA.agent_id not in uow.agents.agents  # met at a refused pick: not kept

    await pick_queue_item(
        PickQueueItem(queue_item_id=first.queue_item_id, by=BORIS), uow=uow, now=NOW
    )
    await pick_queue_item(
        PickQueueItem(queue_item_id=second.queue_item_id, by=SUE), uow=uow, now=NOW
    )
    assert [_stored(uow, i).worked_by for i in (first, second)] == [BORIS.agent_id, SUE.agent_id]


# -- pick next ------------------------------------------------------------------------------------


async def test_pick_next_takes_the_head_by_priority_then_sla_then_age_skipping_unqualified() -> (
    None
):
    uow = _uow(DEFAULT)
    _agent(uow, ANNA, capacity=10)
    _agent(uow, BORIS, skills=["sap"])
    await _rule(
        uow, "sap", DEFAULT, request_types=frozenset({"sap"}), required_skills=frozenset({"sap"})
    )
    low = await _route(uow, at=NOW, priority="low")
    old = await _route(uow, at=NOW + 1 * MIN)
    due_late = await _route(uow, at=NOW + 2 * MIN)
    due_soon = await _route(uow, at=NOW + 3 * MIN)
    sap = await _route(uow, at=NOW + 4 * MIN, priority="urgent", request_type="sap")
    high = await _route(uow, at=NOW + 5 * MIN, priority="high")
    for item, hours, state in (
        (due_late, 3, "running"),
        (due_soon, 1, "nearing"),
        (old, 0, "done"),  # ended: it no longer orders the case
    ):
        await track_kpi(
            uuid.uuid4(),
            case_id=item.case_id,
            state=state,
            due_at=NOW + timedelta(hours=hours),
            uow=uow,
        )

    picked = []
    while (got := await pick_next(DEFAULT.queue_id, ANNA, uow=uow, now=NOW + 10 * MIN)) is not None:
        picked.append(got.queue_item_id)

    assert picked == [i.queue_item_id for i in (high, due_soon, due_late, old, low)]
    assert _stored(uow, sap).status is QueueItemStatus.WAITING
    assert uow.agents.load(ANNA.agent_id) == 5
    assert all(e.picked for e in uow.events() if isinstance(e, CaseAssigned))
    assert uow.notified == []  # nobody is told of their own pick

    got = await pick_next(DEFAULT.queue_id, BORIS, uow=uow, now=NOW + 11 * MIN)
    assert got is not None and got.queue_item_id == sap.queue_item_id
    assert _stored(uow, sap).worked_by == BORIS.agent_id


async def test_a_deadline_known_before_the_opening_orders_the_item() -> None:
    uow = _uow(DEFAULT)
    _agent(uow, ANNA)
    await _route(uow, at=NOW)
    early = _opened()
    await track_kpi(
        uuid.uuid4(), case_id=early.case_id, state="running", due_at=NOW + MIN * 60, uow=uow
    )
    await route_case(early, uow=uow, now=NOW + MIN)

    got = await pick_next(DEFAULT.queue_id, ANNA, uow=uow, now=LATER)

    assert got is not None and got.case_id == early.case_id


async def test_pick_next_gives_nothing_from_an_empty_queue_and_refuses_a_full_agent() -> None:
    uow = _uow(DEFAULT)
    _agent(uow, ANNA, capacity=1, load=1)
    assert await pick_next(DEFAULT.queue_id, ANNA, uow=uow, now=NOW) is None
    item = await _route(uow)
    with pytest.raises(AgentAtCapacityError):
        await pick_next(DEFAULT.queue_id, ANNA, uow=uow, now=NOW)
    assert _stored(uow, item).status is QueueItemStatus.WAITING
    assert uow.agents.load(ANNA.agent_id) == 1


# -- a supervisor assigns -------------------------------------------------------------------------


async def test_a_supervisor_assigns_to_a_present_agent_with_room_who_is_told() -> None:
    uow = _uow(DEFAULT)
    _agent(uow, ANNA, presence=Presence.OFFLINE)
    _agent(uow, BORIS, presence=Presence.BUSY)  # present: may be given work
    _agent(uow, CARL, capacity=1, load=1)
    _agent(uow, DANA)
    item = await _route(uow)

    def assign(who: UUID) -> Any:
        return assign_queue_item(item.queue_item_id, who, SUE, uow=uow, now=NOW + MIN)

    with pytest.raises(UnknownAgentError):
        await assign(agent_id_of("nobody"))
    with pytest.raises(AgentUnavailableError):
        await assign(ANNA.agent_id)
    with pytest.raises(AgentAtCapacityError):
        await assign(CARL.agent_id)
    assert _stored(uow, item).status is QueueItemStatus.WAITING
    assert [type(e) for e in uow.events()] == [CaseQueued]
    assert uow.notified == []
    assert agent_id_of("nobody") not in uow.agents.agents

    await assign(BORIS.agent_id)

    stored = _stored(uow, item)
    assert (stored.status, stored.worked_by, stored.worked_since) == (
        QueueItemStatus.ASSIGNED,
        BORIS.agent_id,
        NOW + MIN,
    )
    event = uow.events()[-1]
    assert isinstance(event, CaseAssigned)
    assert (event.agent_id, event.by, event.strategy, event.picked) == (
        BORIS.agent_id,
        SUE.agent_id,
        S.MANUAL,
        False,
    )
    assert uow.notified == [
        Notified(BORIS.agent_id, item.queue_item_id, item.case_id, DEFAULT.queue_id)
    ]
    assert uow.agents.load(BORIS.agent_id) == 1


async def test_a_supervisor_assigns_a_team_queues_item_only_to_a_member() -> None:
    uow = _uow(_queue(1, "Team", default=True, kind=QueueKind.TEAM, team_id=TEAM))
    _agent(uow, ANNA)
    _agent(uow, BORIS, teams=[TEAM])
    item = await _route(uow)
    with pytest.raises(QueueNotVisibleError):
        await assign_queue_item(item.queue_item_id, ANNA.agent_id, SUE, uow=uow, now=NOW)
    await assign_queue_item(item.queue_item_id, BORIS.agent_id, SUE, uow=uow, now=NOW)
    assert _stored(uow, item).worked_by == BORIS.agent_id


async def test_a_supervisor_gives_an_item_one_agent_works_to_another() -> None:
    uow = _uow(DEFAULT)
    _agent(uow, ANNA)
    _agent(uow, BORIS)
    item = await _route(uow)
    await pick_queue_item(
        PickQueueItem(queue_item_id=item.queue_item_id, by=ANNA), uow=uow, now=NOW
    )

    await assign_queue_item(item.queue_item_id, BORIS.agent_id, SUE, uow=uow, now=NOW + MIN)

    assert _stored(uow, item).worked_by == BORIS.agent_id
    assert (uow.agents.load(ANNA.agent_id), uow.agents.load(BORIS.agent_id)) == (0, 1)


# -- routing rules --------------------------------------------------------------------------------


async def test_a_rule_may_need_only_skills_some_registered_agent_has() -> None:
    uow = _uow(DEFAULT, BILLING)
    _agent(uow, ANNA, skills=["printers:1"])
    with pytest.raises(UnknownSkillError, match="sap"):
        await _rule(uow, "sap", BILLING, required_skills=frozenset({"printers", "SAP:2"}))
    assert uow.rules.rules == {}

    await _rule(uow, "printers", BILLING, required_skills=frozenset({"Printers:4"}))
    [stored] = uow.rules.rules.values()
    assert stored.rule.required_skills == frozenset({"printers:4"})


async def test_a_rule_put_under_its_id_is_overwritten_and_its_name_stays_its_own() -> None:
    uow = _uow(DEFAULT, BILLING)
    rule_id, other_id = UUID(int=0x501), UUID(int=0x502)
    first = AddRoutingRule(name="billing", order=1, queue_id=BILLING.queue_id, rule_id=rule_id)
    await add_routing_rule(first, uow=uow)
    await add_routing_rule(
        dataclasses.replace(
            first, name="Billing", order=7, queue_id=DEFAULT.queue_id, channels=frozenset({"phone"})
        ),
        uow=uow,
    )
    [stored] = uow.rules.rules.values()
    assert stored.rule_id == rule_id
    assert (stored.rule.name, stored.rule.order, stored.rule.queue_id, stored.rule.channels) == (
        "Billing",
        7,
        DEFAULT.queue_id,
        frozenset({"phone"}),
    )

    await add_routing_rule(dataclasses.replace(first, name="other", rule_id=other_id), uow=uow)
    with pytest.raises(NameTakenError):
        await add_routing_rule(
            dataclasses.replace(first, name="BILLING", rule_id=other_id), uow=uow
        )
    assert {s.rule_id: s.rule.name for s in await uow.rules.all()} == {
        other_id: "other",
        rule_id: "Billing",
    }


async def test_a_deleted_rule_places_no_more_cases_and_leaves_those_it_placed() -> None:
    uow = _uow(DEFAULT, BILLING)
    rule_id = UUID(int=0x501)
    await add_routing_rule(
        AddRoutingRule(name="billing", order=1, queue_id=BILLING.queue_id, rule_id=rule_id), uow=uow
    )
    placed = await _route(uow)
    assert placed.queue_id == BILLING.queue_id

    await delete_routing_rule(rule_id, uow=uow)

    assert uow.rules.rules == {}
    assert _stored(uow, placed).queue_id == BILLING.queue_id
    assert (await _route(uow)).queue_id == DEFAULT.queue_id
    with pytest.raises(RuleNotFound):
        await delete_routing_rule(rule_id, uow=uow)
    with pytest.raises(RuleNotFound):
        await delete_routing_rule(uuid.uuid4(), uow=uow)


async def test_trying_the_rules_fills_tier_and_region_from_the_account_and_routes_nothing() -> None:
    uow = _uow(DEFAULT, BILLING)
    await _rule(uow, "gold emea", BILLING, tiers=frozenset({"gold"}), regions=frozenset({"emea"}))
    await keep_account(ACCOUNT, owner_id=None, tier="Gold", region="EMEA", version=2, uow=uow)
    await keep_account(ACCOUNT, owner_id=None, tier="bronze", region="apac", version=1, uow=uow)

    def facts(**values: Any) -> CaseFacts:
        return CaseFacts(
            case_id=uuid.uuid4(), channel="email", priority="normal", subject="x", **values
        )

    choice, queue = await try_routing_rules(facts(account_id=ACCOUNT), uow=uow)
    assert (choice.queue_id, choice.rule_name, queue) == (BILLING.queue_id, "gold emea", BILLING)
    # What the facts say is kept; an unknown account lends nothing.
    for given in (facts(account_id=ACCOUNT, tier="silver"), facts(account_id=uuid.uuid4())):
        choice, queue = await try_routing_rules(given, uow=uow)
        assert (choice.queue_id, choice.rule_name, queue) == (DEFAULT.queue_id, None, DEFAULT)
    assert (uow.queue_items.items, uow.published, uow.cases.cases) == ({}, [], {})


# -- the directory --------------------------------------------------------------------------------

T1 = Team(team_id=UUID(int=0x71), name="Printers")  # no manager
T2 = Team(team_id=UUID(int=0x72), name="Billing", manager_id=MAX)


async def test_registering_publishes_version_1_with_the_first_teams_manager() -> None:
    uow = _uow(DEFAULT, teams=(T1, T2))
    entry = AgentEntry(
        agent_id=ANNA.agent_id,
        name=" Anna ",
        email=" anna@example.com ",
        teams=(T1.team_id, T2.team_id, T1.team_id),
        skills=frozenset({"Printers:3"}),
        work_units={"Case:Phone": 2},
        version=9,
    )

    saved = await register_agent(entry, uow=uow, now=NOW)

    assert (saved.name, saved.email, saved.teams, saved.version) == (
        "Anna",
        "anna@example.com",
        (T1.team_id, T2.team_id),
        1,
    )
    assert (saved.skills, saved.work_units, saved.presence_since) == (
        frozenset({"printers:3"}),
        {"case:phone": 2},
        NOW,
    )
    [published] = uow.agent_events
    assert (published.kind, published.entry.version, published.extra) == (
        "registered",
        1,
        {"manager_id": MAX},
    )
    assert published.contract.type == "agent.registered"
    assert uow.agents.agents[ANNA.agent_id].registered

    own = dataclasses.replace(entry, agent_id=BORIS.agent_id, name="Boris", manager_id=SUE.agent_id)
    await register_agent(own, uow=uow, now=NOW)
    assert uow.agent_events[-1].extra == {"manager_id": SUE.agent_id}


async def test_the_manager_published_stays_the_first_teams_as_given() -> None:
    late = Team(team_id=UUID(int=0x79), name="Late", manager_id=MAX)
    early = Team(team_id=UUID(int=0x70), name="Early", manager_id=SUE.agent_id)
    uow = _uow(DEFAULT, teams=(late, early))
    entry = AgentEntry(agent_id=ANNA.agent_id, name="Anna", teams=(late.team_id, early.team_id))
    await register_agent(entry, uow=uow, now=NOW)
    await set_presence(
        ANNA.agent_id, Presence.AVAILABLE, by=Who(agent_id=ANNA.agent_id), uow=uow, now=LATER
    )
    assert [p.extra["manager_id"] for p in uow.agent_events] == [MAX, MAX]


async def test_an_agent_is_not_their_own_manager() -> None:
    uow = _uow(DEFAULT, teams=(Team(team_id=TEAM, name="Mine", manager_id=ANNA.agent_id),))
    await register_agent(
        AgentEntry(agent_id=ANNA.agent_id, name="Anna", teams=(TEAM,)), uow=uow, now=NOW
    )
    assert uow.agent_events[-1].extra == {"manager_id": None}


async def test_registering_refuses_a_known_agent_a_taken_extension_and_an_unknown_team() -> None:
    uow = _uow(DEFAULT, teams=(T1,))
    await register_agent(
        AgentEntry(agent_id=ANNA.agent_id, name="Anna", phone_extension="4711"), uow=uow, now=NOW
    )

    with pytest.raises(AgentExistsError):
        await register_agent(
            AgentEntry(agent_id=ANNA.agent_id, name="Anna again"), uow=uow, now=NOW
        )
    with pytest.raises(ExtensionTakenError):
        await register_agent(
            AgentEntry(agent_id=BORIS.agent_id, name="Boris", phone_extension=" 4711 "),
            uow=uow,
            now=NOW,
        )
    with pytest.raises(UnknownTeamError):
        await register_agent(
            AgentEntry(agent_id=BORIS.agent_id, name="Boris", teams=(T1.team_id, TEAM)),
            uow=uow,
            now=NOW,
        )

    assert uow.agents.agents[ANNA.agent_id].name == "Anna"
    assert BORIS.agent_id not in uow.agents.agents
    assert [p.kind for p in uow.agent_events] == ["registered"]


async def test_an_agent_met_at_a_pick_registers_and_keeps_their_load() -> None:
    uow = _uow(DEFAULT)
    item = await _route(uow)
    await pick_queue_item(
        PickQueueItem(queue_item_id=item.queue_item_id, by=ANNA), uow=uow, now=NOW
    )
    assert not uow.agents.agents[ANNA.agent_id].registered

    saved = await register_agent(
        AgentEntry(agent_id=ANNA.agent_id, name="Anna", capacity=3), uow=uow, now=NOW
    )

    assert saved.load_units == 1
    assert (uow.agents.agents[ANNA.agent_id].registered, uow.agents.load(ANNA.agent_id)) == (
        True,
        1,
    )


async def test_a_change_at_a_stale_version_is_refused_and_more_room_takes_waiting_work() -> None:
    uow = _uow(_queue(1, "Default", S.LEAST_BUSY, default=True))
    await register_agent(
        AgentEntry(agent_id=ANNA.agent_id, name="Anna", capacity=1, presence=Presence.AVAILABLE),
        uow=uow,
        now=NOW,
    )
    first = await _route(uow, at=NOW)
    second = await _route(uow, at=NOW + MIN)
    assert _stored(uow, second).status is QueueItemStatus.WAITING

    with pytest.raises(VersionConflictError):
        await change_agent(ANNA.agent_id, {"capacity": 2}, uow=uow, now=LATER, expected_version=2)
    assert uow.agents.agents[ANNA.agent_id].capacity == 1

    changed = await change_agent(
        ANNA.agent_id, {"capacity": 2}, uow=uow, now=LATER, expected_version=1
    )

    assert (changed.version, changed.capacity) == (2, 2)
    assert [(p.kind, p.entry.version) for p in uow.agent_events] == [
        ("registered", 1),
        ("changed", 2),
    ]
    assert [_stored(uow, i).worked_by for i in (first, second)] == [ANNA.agent_id] * 2
    assert uow.agents.load(ANNA.agent_id) == 2


async def test_only_a_supervisor_sets_another_agents_presence() -> None:
    uow = _uow(DEFAULT)
    await register_agent(AgentEntry(agent_id=ANNA.agent_id, name="Anna"), uow=uow, now=NOW)

    with pytest.raises(NotPermittedError):
        await set_presence(
            ANNA.agent_id, Presence.AWAY, by=Who(agent_id=BORIS.agent_id), uow=uow, now=LATER
        )
    assert uow.agents.agents[ANNA.agent_id].presence is Presence.OFFLINE

    await set_presence(
        ANNA.agent_id,
        Presence.AWAY,
        by=Who(agent_id=SUE.agent_id, supervises=True),
        uow=uow,
        now=LATER,
    )
    await set_presence(
        ANNA.agent_id, Presence.AWAY, by=Who(agent_id=ANNA.agent_id), uow=uow, now=LATER
    )  # no change

    stored = uow.agents.agents[ANNA.agent_id]
    assert (stored.presence, stored.presence_reason, stored.presence_since, stored.version) == (
        Presence.AWAY,
        PRESENCE_SET,
        LATER,
        2,
    )
    published = uow.agent_events[-1]
    assert [p.kind for p in uow.agent_events] == ["registered", "presence_changed"]
    assert published.extra == {
        "manager_id": None,
        "previous_presence": "offline",
        "reason": PRESENCE_SET,
    }


async def test_an_agent_becoming_available_is_given_the_work_waiting_in_their_queues() -> None:
    team_q = _queue(3, "Team", S.LEAST_BUSY, kind=QueueKind.TEAM, team_id=TEAM)
    uow = _uow(_queue(1, "Default", S.LEAST_BUSY, default=True), team_q)
    _agent(uow, ANNA, presence=Presence.AWAY)  # not in the team
    await _rule(uow, "team", team_q, request_types=frozenset({"team"}))
    public = await _route(uow)
    for_team = await _route(uow, request_type="team")

    await set_presence(
        ANNA.agent_id, Presence.AVAILABLE, by=Who(agent_id=ANNA.agent_id), uow=uow, now=LATER
    )

    assert _stored(uow, public).worked_by == ANNA.agent_id
    assert _stored(uow, for_team).status is QueueItemStatus.WAITING
    assert _notified(uow) == [(public.queue_item_id, ANNA.agent_id)]
    assert uow.agents.load(ANNA.agent_id) == 1


async def test_a_call_makes_an_available_agent_busy_and_only_that_busy_ends_with_it() -> None:
    uow = _uow(DEFAULT)
    _agent(uow, ANNA, extension="100")
    _agent(uow, BORIS, extension="200", presence=Presence.BUSY)
    _agent(uow, CARL, extension="300", presence=Presence.AWAY)

    assert await on_call("999", busy=True, uow=uow, now=NOW) is None

    on = await on_call(" 100 ", busy=True, uow=uow, now=NOW)
    assert on is not None and (on.presence, on.presence_reason) == (Presence.BUSY, PRESENCE_CALL)
    off = await on_call("100", busy=False, uow=uow, now=LATER)
    assert off is not None and (off.presence, off.presence_reason, off.presence_since) == (
        Presence.AVAILABLE,
        PRESENCE_FREED,
        LATER,
    )
    assert [(p.kind, p.extra["reason"]) for p in uow.agent_events] == [
        ("presence_changed", PRESENCE_CALL),
        ("presence_changed", PRESENCE_FREED),
    ]

    # Busy or away by their own hand: a call neither changes it nor, ending, undoes it.
    for extension in ("200", "300"):
        await on_call(extension, busy=True, uow=uow, now=LATER)
        await on_call(extension, busy=False, uow=uow, now=LATER)
    assert uow.agents.agents[BORIS.agent_id].presence is Presence.BUSY
    assert uow.agents.agents[CARL.agent_id].presence is Presence.AWAY
    assert len(uow.agent_events) == 2

    # Set busy by hand during a call: the call's end leaves it.
    await on_call("100", busy=True, uow=uow, now=LATER)
    await set_presence(
        ANNA.agent_id, Presence.BUSY, by=Who(agent_id=ANNA.agent_id), uow=uow, now=LATER
    )
    await on_call("100", busy=False, uow=uow, now=LATER)
    assert (
        uow.agents.agents[ANNA.agent_id].presence,
        uow.agents.agents[ANNA.agent_id].presence_reason,
    ) == (
        Presence.BUSY,
        PRESENCE_SET,
    )


async def test_a_call_ending_gives_the_freed_agent_what_waits() -> None:
    uow = _uow(_queue(1, "Default", S.LEAST_BUSY, default=True))
    _agent(uow, ANNA, extension="100")
    await on_call("100", busy=True, uow=uow, now=NOW)
    item = await _route(uow)
    assert _stored(uow, item).status is QueueItemStatus.WAITING
    await on_call("100", busy=False, uow=uow, now=LATER)
    assert _stored(uow, item).worked_by == ANNA.agent_id


async def test_a_new_team_manager_is_published_with_each_member() -> None:
    uow = _uow(DEFAULT, teams=(T1, T2))
    for who in (ANNA, BORIS):
        await register_agent(
            AgentEntry(agent_id=who.agent_id, name=who.name, teams=(T1.team_id,)), uow=uow, now=NOW
        )
    with pytest.raises(NameTakenError):
        await change_team(T1.team_id, {"name": " billing "}, uow=uow, now=LATER)
    await change_team(T1.team_id, {"name": " First line "}, uow=uow, now=LATER)
    assert uow.teams.teams[T1.team_id].name == "First line"
    assert [p.kind for p in uow.agent_events] == ["registered", "registered"]  # same manager

    await change_team(T1.team_id, {"manager_id": MAX}, uow=uow, now=LATER)

    changed = [p for p in uow.agent_events if p.kind == "changed"]
    assert sorted(
        (p.entry.agent_id, p.entry.version, p.extra["manager_id"]) for p in changed
    ) == sorted([(ANNA.agent_id, 2, MAX), (BORIS.agent_id, 2, MAX)])


# -- overflow -------------------------------------------------------------------------------------

TARGET = _queue(9, "Overflow", S.LEAST_BUSY)


def _overflowing(**rule: Any) -> Queue:
    return _queue(1, "Default", default=True, overflow=Overflow(queue_id=TARGET.queue_id, **rule))


def _transfers(uow: Any) -> list[tuple[UUID, str | None]]:
    return [
        (e.queue_item_id, e.reason)
        for e in uow.events()
        if isinstance(e, CaseTransferred)
        and (e.from_queue_id, e.to_queue_id, e.transferred_by, e.released_agent_id)
        == (UUID(int=1), TARGET.queue_id, None, None)
    ]


async def test_items_waiting_past_the_limit_overflow_and_the_target_assigns_them() -> None:
    source = _overflowing(after=timedelta(minutes=10))
    uow = _uow(source, TARGET)
    _agent(uow, ANNA)
    old = await _route(uow, at=NOW - 15 * MIN)
    just = await _route(uow, at=NOW - 10 * MIN)
    young = await _route(uow, at=NOW - 5 * MIN)
    worked = await _route(uow, at=NOW - 20 * MIN)
    await pick_queue_item(
        PickQueueItem(queue_item_id=worked.queue_item_id, by=BORIS), uow=uow, now=NOW
    )

    moved = await overflow_queue(source, uow=uow, now=NOW)

    assert moved == 2
    reason = OverflowReason.WAITED_TOO_LONG.value
    assert _transfers(uow) == [(old.queue_item_id, reason), (just.queue_item_id, reason)]
    for item in (old, just):
        stored = _stored(uow, item)
        assert (stored.queue_id, stored.worked_by, stored.entered_at) == (
            TARGET.queue_id,
            ANNA.agent_id,
            NOW,
        )
    assert [_stored(uow, i).queue_id for i in (young, worked)] == [UUID(int=1)] * 2
    assert _assigned(uow)[-2:] == [
        (old.queue_item_id, ANNA.agent_id, S.LEAST_BUSY),
        (just.queue_item_id, ANNA.agent_id, S.LEAST_BUSY),
    ]
    assert _notified(uow) == [
        (old.queue_item_id, ANNA.agent_id),
        (just.queue_item_id, ANNA.agent_id),
    ]
    published_to = [q.queue_id for e, q in uow.published if isinstance(e, CaseTransferred)]
    assert published_to == [TARGET.queue_id] * 2


async def test_items_beyond_the_length_of_a_queue_overflow_and_wait_in_the_target() -> None:
    source = _overflowing(max_length=1)
    uow = _uow(source, TARGET)
    first = await _route(uow, at=NOW - 3 * MIN)
    second = await _route(uow, at=NOW - 2 * MIN)
    urgent = await _route(uow, at=NOW - 1 * MIN, priority="urgent")

    assert await overflow_queue(source, uow=uow, now=NOW) == 2

    # The head of the queue (by priority, then age) stays; what is behind it moves.
    reason = OverflowReason.QUEUE_TOO_LONG.value
    assert _transfers(uow) == [(first.queue_item_id, reason), (second.queue_item_id, reason)]
    assert _stored(uow, urgent).queue_id == UUID(int=1)
    assert [_stored(uow, i).status for i in (first, second)] == [QueueItemStatus.WAITING] * 2
    assert await overflow_queue(source, uow=uow, now=NOW) == 0


async def test_items_that_left_for_waiting_too_long_do_not_count_against_the_length() -> None:
    source = _overflowing(after=timedelta(minutes=10), max_length=2)
    uow = _uow(source, TARGET)
    old = await _route(uow, at=NOW - 15 * MIN)
    await _route(uow, at=NOW - 2 * MIN)
    await _route(uow, at=NOW - 1 * MIN)

    assert await overflow_queue(source, uow=uow, now=NOW) == 1
    assert _transfers(uow) == [(old.queue_item_id, OverflowReason.WAITED_TOO_LONG.value)]


async def test_items_of_a_queue_no_member_is_there_for_overflow() -> None:
    source = _queue(
        1,
        "Team",
        default=True,
        kind=QueueKind.TEAM,
        team_id=TEAM,
        overflow=Overflow(queue_id=TARGET.queue_id, when_unstaffed=True),
    )
    uow = _uow(source, TARGET)
    _agent(uow, ANNA, teams=[TEAM], capacity=1, load=1)  # available, though full
    _agent(uow, BORIS, presence=Presence.AWAY, teams=[TEAM])
    _agent(uow, CARL)  # available, no member
    items = [await _route(uow, at=NOW - n * MIN) for n in range(2)]

    assert await overflow_queue(source, uow=uow, now=NOW) == 0  # anna is there

    _set(uow, ANNA, presence=Presence.OFFLINE)
    assert await overflow_queue(source, uow=uow, now=NOW) == 2

    reason = OverflowReason.NO_MEMBER_AVAILABLE.value
    assert sorted(_transfers(uow)) == sorted((i.queue_item_id, reason) for i in items)
    assert [_stored(uow, i).worked_by for i in items] == [CARL.agent_id] * 2


async def test_a_queue_without_an_overflow_rule_keeps_its_items() -> None:
    unset = _queue(1, "Default", default=True, overflow=Overflow(queue_id=TARGET.queue_id))
    uow = _uow(unset, TARGET)
    item = await _route(uow, at=NOW - timedelta(days=3))
    assert await overflow_queue(unset, uow=uow, now=NOW) == 0
    assert _stored(uow, item).queue_id == UUID(int=1)
    assert [type(e) for e in uow.events()] == [CaseQueued]


async def test_upkeep_overflows_then_gives_out_what_found_nobody_when_it_came() -> None:
    source = _overflowing(after=timedelta(minutes=10))
    auto = _queue(5, "Auto", S.LEAST_BUSY)
    uow = _uow(source, TARGET, auto)
    await _rule(uow, "auto", auto, request_types=frozenset({"auto"}))
    late = await _route(uow, at=NOW - 15 * MIN)
    waiting = await _route(uow, at=NOW - 15 * MIN, request_type="auto")
    assert _stored(uow, waiting).status is QueueItemStatus.WAITING
    _agent(uow, ANNA)  # arrives without an event (another replica registered her)

    done = await upkeep(uow_factory=lambda: uow, now=NOW)

    assert done == 2  # one moved (and given there), one given
    assert _stored(uow, late).queue_id == TARGET.queue_id
    assert {_stored(uow, i).worked_by for i in (late, waiting)} == {ANNA.agent_id}
    assert uow.agents.load(ANNA.agent_id) == 2


async def test_upkeep_runs_each_queues_step_through_settle() -> None:
    auto = _queue(5, "Auto", S.LEAST_BUSY)
    uow = _uow(DEFAULT, auto)
    _agent(uow, ANNA)
    item = await _route(uow, at=NOW - MIN)  # waits in the default queue, which never assigns
    steps: list[str] = []

    async def settle(step: Any) -> int:
        steps.append(step.func.__name__)
        done: int = await step()
        return done

    assert await upkeep(uow_factory=lambda: uow, now=NOW, settle=settle) == 0
    # Both queues are looked at for overflow, each in its own step; only the queue that
    # assigns hands out.
    assert steps == ["overflow", "overflow", "hand_out"]
    assert _stored(uow, item).status is QueueItemStatus.WAITING


async def test_a_queue_changed_to_assign_gives_out_what_waits_in_it() -> None:
    uow = _uow(DEFAULT)
    _agent(uow, ANNA)
    item = await _route(uow)
    await change_queue(DEFAULT.queue_id, {"strategies": (S.LEAST_BUSY,)}, uow=uow, now=LATER)
    assert uow.queues.queues[DEFAULT.queue_id].strategies == (S.LEAST_BUSY,)
    assert _stored(uow, item).worked_by == ANNA.agent_id
    assert _notified(uow) == [(item.queue_item_id, ANNA.agent_id)]
