"""The routing use cases with fakes: no database, no broker.

The fakes keep the semantics of the SQL adapters (`routing.adapters`): an agent's load rises
only if it fits their capacity (`take_units`), an item is written as worked only if nobody
works it (`claim`), a unit of work left without commit rolls back what it wrote, and events,
agent entries and notifications are published only on commit. The assignment use cases are
tested in ``test_routing_assignment_use_cases.py``, with these fakes.
"""

from __future__ import annotations

import copy
import dataclasses
import uuid
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, ClassVar, Self
from uuid import UUID

import pytest

import caseflow_contracts as c
from caseflow_servicekit.auth import agent_id_of
from routing.adapters.published import agent_event, to_contract
from routing.app.case_changes import (
    AcceptCase,
    CaseChange,
    ChangeEntitlement,
    DequeueCase,
    RequeueCase,
)
from routing.app.errors import (
    NameTakenError,
    NotPermittedError,
    QueueItemNotFound,
    QueueNotFound,
    UnknownQueueError,
)
from routing.app.handlers import (
    AddRoutingRule,
    Caller,
    CreateQueue,
    PickQueueItem,
    ReleaseQueueItem,
    RouteCase,
    TransferQueueItem,
    add_routing_rule,
    apply_case_change,
    create_queue,
    pick_queue_item,
    release_queue_item,
    route_case,
    transfer_queue_item,
)
from routing.app.ports import AgentEntry, StoredRule, Team
from routing.domain import (
    Agent,
    AgentAtCapacityError,
    CaseAccepted,
    CaseAssigned,
    CaseDequeued,
    CaseFacts,
    CaseQueued,
    CaseReleased,
    CaseTransferred,
    ItemAlreadyWorkedError,
    Presence,
    Queue,
    QueueItem,
    QueueItemStatus,
    QueueKind,
    RoutingEvent,
    RoutingRule,
    RoutingValidationError,
    SameQueueError,
    priority_rank,
    skill_levels,
)

pytestmark = pytest.mark.unit

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
LATER = NOW + timedelta(minutes=5)
DEFAULT = Queue(queue_id=UUID(int=1), name="Default", is_default=True)
BILLING = Queue(queue_id=UUID(int=2), name="Billing")
ANNA = Caller(agent_id=agent_id_of("anna"), name="anna")
BORIS = Caller(agent_id=agent_id_of("boris"), name="boris")
SUE = Caller(agent_id=agent_id_of("sue"), name="sue", supervises=True)

_UNWORKED = (QueueItemStatus.WAITING, QueueItemStatus.RELEASED)
_COUNTING_KPIS = frozenset({"running", "nearing", "breached"})
_NEVER = datetime.max.replace(tzinfo=UTC)


class _Transactional:
    """A fake repository whose state (the attributes named in `_STATE`) a unit of work
    snapshots when it opens or commits, and restores when it is left: what was written
    without a commit is rolled back, as the database does."""

    _STATE: ClassVar[tuple[str, ...]] = ()

    def snapshot(self) -> dict[str, Any]:
        return {name: copy.deepcopy(getattr(self, name)) for name in self._STATE}

    def restore(self, state: dict[str, Any]) -> None:
        for name, value in state.items():
            setattr(self, name, copy.deepcopy(value))


class FakeQueueRepository(_Transactional):
    _STATE = ("queues", "last")

    def __init__(self, queues: Iterable[Queue]) -> None:
        self.queues = {q.queue_id: q for q in queues}
        self.last: dict[UUID, UUID] = {}
        """Who got each queue's last item (`queues.last_assigned_agent`)."""

    async def get(self, queue_id: UUID) -> Queue | None:
        return self.queues.get(queue_id)

    async def get_default(self) -> Queue | None:
        return next((q for q in self.queues.values() if q.is_default), None)

    async def find_by_name(self, name: str) -> Queue | None:
        wanted = name.strip().lower()
        return next((q for q in self.queues.values() if q.name.lower() == wanted), None)

    async def add(self, queue: Queue) -> None:
        assert queue.queue_id not in self.queues
        self.queues[queue.queue_id] = queue

    async def save(self, queue: Queue) -> None:
        if queue.queue_id in self.queues:  # an UPDATE: no row, nothing written
            self.queues[queue.queue_id] = queue

    async def all(self) -> list[Queue]:
        return sorted(self.queues.values(), key=lambda q: q.name)

    async def note_assigned_many(self, last: Mapping[UUID, UUID]) -> None:
        for queue_id, agent_id in last.items():
            if queue_id in self.queues:
                self.last[queue_id] = agent_id

    async def last_assigned_many(self, queue_ids: Collection[UUID]) -> dict[UUID, UUID | None]:
        return {q: self.last.get(q) for q in queue_ids if q in self.queues}


class FakeRuleRepository(_Transactional):
    _STATE = ("rules",)

    def __init__(self) -> None:
        self.rules: dict[UUID, StoredRule] = {}

    async def all(self) -> list[StoredRule]:
        return sorted(self.rules.values(), key=lambda s: (s.rule.order, s.rule.name))

    async def get(self, rule_id: UUID) -> StoredRule | None:
        return self.rules.get(rule_id)

    async def find_by_name(self, name: str) -> StoredRule | None:
        wanted = name.strip().lower()
        return next((s for s in self.rules.values() if s.rule.name.lower() == wanted), None)

    async def add(self, rule: StoredRule) -> None:
        assert rule.rule_id not in self.rules, "a second rule under one id"
        self.rules[rule.rule_id] = rule

    async def save(self, rule: StoredRule) -> None:
        if rule.rule_id in self.rules:  # an UPDATE: no row, nothing written
            self.rules[rule.rule_id] = rule

    async def delete(self, rule_id: UUID) -> bool:
        return self.rules.pop(rule_id, None) is not None


class FakeQueueItemRepository(_Transactional):
    """Hands out copies, so a use case that forgets to save changes nothing."""

    _STATE = ("items", "units", "sla_due")

    def __init__(self) -> None:
        self.items: dict[UUID, QueueItem] = {}  # in insertion order, as `seq` keeps it
        self.units: dict[UUID, int] = {}
        """The units of its worker's capacity each item holds."""
        self.sla_due: dict[UUID, datetime | None] = {}

    async def get(self, queue_item_id: UUID, *, for_update: bool = False) -> QueueItem | None:
        item = self.items.get(queue_item_id)
        return None if item is None else copy.copy(item)

    async def last_for_case(self, case_id: UUID, *, for_update: bool = False) -> QueueItem | None:
        found = [i for i in self.items.values() if i.case_id == case_id]
        return copy.copy(found[-1]) if found else None

    async def last_for_cases(
        self, case_ids: Sequence[UUID], *, for_update: bool = False
    ) -> dict[UUID, QueueItem]:
        found = {case_id: await self.last_for_case(case_id) for case_id in case_ids}
        return {case_id: item for case_id, item in found.items() if item is not None}

    async def add_many(
        self, items: Sequence[QueueItem], *, sla_due: Mapping[UUID, datetime] | None = None
    ) -> None:
        for item in items:
            await self.add(item)
            self.sla_due[item.queue_item_id] = (sla_due or {}).get(item.case_id)

    async def add(self, item: QueueItem) -> None:
        assert item.queue_item_id not in self.items
        # What the partial unique index of the database refuses.
        assert not any(
            i.case_id == item.case_id and i.queue_id == item.queue_id and i.is_active
            for i in self.items.values()
        ), "a second active item for the case in that queue"
        self.items[item.queue_item_id] = copy.copy(item)
        self.units[item.queue_item_id] = 0
        self.sla_due[item.queue_item_id] = None

    async def save(self, item: QueueItem) -> None:
        assert item.queue_item_id in self.items
        self.items[item.queue_item_id] = copy.copy(item)
        if item.worked_by is None:
            self.units[item.queue_item_id] = 0  # nobody's capacity is held any more

    async def save_many(self, items: Sequence[QueueItem]) -> None:
        for item in items:
            await self.save(item)

    async def waiting_many(
        self, queue_ids: Sequence[UUID], *, limit: int
    ) -> dict[UUID, list[QueueItem]]:
        found = {queue_id: await self.waiting(queue_id, limit=limit) for queue_id in queue_ids}
        return {queue_id: items for queue_id, items in found.items() if items}

    async def waiting(self, queue_id: UUID, *, limit: int, lock: bool = True) -> list[QueueItem]:
        unworked = [
            i for i in self.items.values() if i.queue_id == queue_id and i.status in _UNWORKED
        ]
        unworked.sort(key=self._order)
        return [copy.copy(i) for i in unworked[:limit]]

    async def claim(self, item: QueueItem, *, units: int) -> bool:
        stored = self.items.get(item.queue_item_id)
        if stored is None or stored.worked_by is not None or stored.status not in _UNWORKED:
            return False
        self.items[item.queue_item_id] = copy.copy(item)
        self.units[item.queue_item_id] = units
        return True

    async def claim_many(self, claims: Sequence[tuple[QueueItem, int]]) -> set[UUID]:
        return {item.queue_item_id for item, units in claims if await self.claim(item, units=units)}

    async def units_held(self, queue_item_id: UUID) -> int:
        return self.units.get(queue_item_id, 0)

    async def units_held_many(self, queue_item_ids: Collection[UUID]) -> dict[UUID, int]:
        return {i: self.units[i] for i in queue_item_ids if i in self.units}

    async def set_sla_due(self, case_id: UUID, due_at: datetime | None) -> None:
        for item in self.items.values():
            if item.case_id == case_id and item.is_active:
                self.sla_due[item.queue_item_id] = due_at

    def _order(self, item: QueueItem) -> tuple[Any, ...]:
        # Priority, then the earliest SLA deadline (none last), then age.
        due = self.sla_due.get(item.queue_item_id)
        return (
            priority_rank(item.priority),
            due is None,
            due or _NEVER,
            item.entered_at,
            item.queue_item_id,
        )


class FakeAgentRepository(_Transactional):
    """Directory entries with the load each agent carries (`load_units`)."""

    _STATE = ("agents",)

    def __init__(self) -> None:
        self.agents: dict[UUID, AgentEntry] = {}

    def seed(self, entry: AgentEntry) -> AgentEntry:
        """Put an entry as is, its load and last assignment too (test setup only)."""
        self.agents[entry.agent_id] = entry
        return entry

    def load(self, agent_id: UUID) -> int:
        return self.agents[agent_id].load_units

    async def entry(self, agent_id: UUID, *, for_update: bool = False) -> AgentEntry | None:
        found = self.agents.get(agent_id)
        # Teams are read back from `agent_teams`, aggregated in the order of their ids.
        return found

    async def by_extension(self, extension: str) -> AgentEntry | None:
        wanted = extension.strip()
        for entry in self.agents.values():
            if entry.active and entry.phone_extension == wanted:
                return await self.entry(entry.agent_id)
        return None

    async def extension_taken(self, extension: str, *, by_other_than: UUID) -> bool:
        return any(
            e.phone_extension == extension and e.agent_id != by_other_than
            for e in self.agents.values()
        )

    async def save_entry(self, entry: AgentEntry) -> None:
        known = self.agents.get(entry.agent_id)
        # Their load and last assignment follow from their work, never from an edit.
        self.agents[entry.agent_id] = dataclasses.replace(
            entry,
            registered=True,
            load_units=0 if known is None else known.load_units,
            last_assigned_at=None if known is None else known.last_assigned_at,
        )

    async def enroll(self, agent_id: UUID, *, name: str, capacity: int) -> Agent:
        self.agents.setdefault(
            agent_id,
            AgentEntry(
                agent_id=agent_id,
                name=name,
                capacity=capacity,
                presence=Presence.AVAILABLE,
                presence_since=None,
                registered=False,
            ),
        )
        found = await self.get(agent_id, for_update=True)
        assert found is not None
        return found

    async def get(self, agent_id: UUID, *, for_update: bool = False) -> Agent | None:
        entry = self.agents.get(agent_id)
        return None if entry is None else _agent_of(entry)

    async def get_many(self, agent_ids: Collection[UUID]) -> dict[UUID, Agent]:
        return {e.agent_id: _agent_of(e) for a in agent_ids if (e := self.agents.get(a))}

    async def candidates_many(self, queues: Sequence[Queue]) -> dict[UUID, list[Agent]]:
        able = {
            e.agent_id: _agent_of(e)
            for e in self.agents.values()
            if e.active and e.presence is Presence.AVAILABLE and e.load_units < e.capacity
        }
        return {
            queue.queue_id: [
                able[e.agent_id]
                for e in self.agents.values()
                if e.agent_id in able and _serves(e, queue)
            ]
            for queue in queues
        }

    async def available_members(self, queue: Queue) -> int:
        return sum(
            1
            for e in self.agents.values()
            if e.active and e.presence is Presence.AVAILABLE and _serves(e, queue)
        )

    async def take_units(self, agent_id: UUID, units: int, *, at: datetime) -> bool:
        entry = self.agents.get(agent_id)
        if entry is None or entry.load_units + units > entry.capacity:
            return False
        self.agents[agent_id] = dataclasses.replace(
            entry, load_units=entry.load_units + units, last_assigned_at=at
        )
        return True

    async def take_units_many(self, units: Mapping[UUID, int], *, at: datetime) -> set[UUID]:
        return {
            agent_id
            for agent_id in sorted(units)
            if await self.take_units(agent_id, units[agent_id], at=at)
        }

    async def add_units(self, agent_id: UUID, units: int, *, at: datetime) -> None:
        if (entry := self.agents.get(agent_id)) is not None:
            self.agents[agent_id] = dataclasses.replace(
                entry, load_units=entry.load_units + units, last_assigned_at=at
            )

    async def free_units(self, agent_id: UUID, units: int) -> None:
        if (entry := self.agents.get(agent_id)) is not None:
            self.agents[agent_id] = dataclasses.replace(
                entry, load_units=max(entry.load_units - units, 0)
            )

    async def free_units_many(self, units: Mapping[UUID, int]) -> None:
        for agent_id in sorted(units):
            await self.free_units(agent_id, units[agent_id])

    async def unknown_skills(self, names: Iterable[str]) -> set[str]:
        held = {
            skill.partition(":")[0]
            for e in self.agents.values()
            if e.registered
            for skill in e.skills
        }
        return set(names) - held


def _agent_of(entry: AgentEntry) -> Agent:
    return Agent(
        agent_id=entry.agent_id,
        name=entry.name,
        skills=skill_levels(entry.skills),
        capacity=entry.capacity,
        presence=entry.presence,
        active_items=entry.load_units,
        last_assigned_at=entry.last_assigned_at,
        teams=frozenset(entry.teams),
        work_units=dict(entry.work_units),
    )


def _serves(entry: AgentEntry, queue: Queue) -> bool:
    """Whether the agent may be given the queue's items: every registered agent of a public
    queue, the team's members, or a personal queue's agent."""
    if queue.kind is QueueKind.TEAM:
        return queue.team_id in entry.teams
    if queue.kind is QueueKind.PERSONAL:
        return entry.agent_id == queue.owner_id
    return entry.registered


class FakeTeamRepository(_Transactional):
    _STATE = ("teams",)

    def __init__(self, agents: FakeAgentRepository) -> None:
        self._agents = agents
        self.teams: dict[UUID, Team] = {}

    async def get(self, team_id: UUID) -> Team | None:
        return self.teams.get(team_id)

    async def find_by_name(self, name: str) -> Team | None:
        wanted = name.strip().lower()
        return next((t for t in self.teams.values() if t.name.lower() == wanted), None)

    async def all(self) -> list[Team]:
        return sorted(self.teams.values(), key=lambda t: t.name)

    async def missing(self, team_ids: Iterable[UUID]) -> set[UUID]:
        return set(team_ids) - set(self.teams)

    async def save(self, team: Team) -> None:
        self.teams[team.team_id] = team

    async def managers(self, team_ids: Sequence[UUID]) -> list[UUID]:
        return [
            manager
            for t in team_ids
            if t in self.teams and (manager := self.teams[t].manager_id) is not None
        ]

    async def member_ids(self, team_id: UUID) -> list[UUID]:
        return [e.agent_id for e in self._agents.agents.values() if team_id in e.teams]


class FakeCaseProjection(_Transactional):
    _STATE = ("cases", "parked", "accounts", "kpis")

    def __init__(self) -> None:
        self.cases: dict[UUID, tuple[CaseFacts, str]] = {}
        self.parked: list[CaseChange] = []
        self.accounts: dict[UUID, tuple[UUID | None, str | None, str | None, int]] = {}
        """Owner, tier, region and version of each account."""
        self.kpis: dict[UUID, tuple[UUID, str, datetime | None]] = {}
        """Case, state and deadline of each KPI."""

    async def remember_many(self, cases: Sequence[tuple[CaseFacts, str, datetime]]) -> None:
        for facts, number, _ in cases:
            self.cases.setdefault(facts.case_id, (facts, number))

    async def change_entitlement(
        self, case_id: UUID, *, entitled: bool, not_entitled: str | None
    ) -> None:
        facts, number = self.cases[case_id]
        self.cases[case_id] = (
            dataclasses.replace(facts, entitled=entitled, not_entitled=not_entitled),
            number,
        )

    async def is_known(self, case_id: UUID) -> bool:
        return case_id in self.cases

    async def known_of(self, case_ids: Collection[UUID]) -> set[UUID]:
        return {case_id for case_id in case_ids if case_id in self.cases}

    async def park(self, change: CaseChange) -> None:
        self.parked.append(change)

    async def take_parked_many(self, case_ids: Collection[UUID]) -> dict[UUID, list[CaseChange]]:
        wanted = set(case_ids)
        taken: dict[UUID, list[CaseChange]] = {}
        parked = sorted((p for p in self.parked if p.case_id in wanted), key=lambda p: p.at)
        for change in parked:
            taken.setdefault(change.case_id, []).append(change)
        self.parked = [p for p in self.parked if p.case_id not in wanted]
        return taken

    async def account(self, account_id: UUID) -> tuple[UUID | None, str | None, str | None]:
        found = self.accounts.get(account_id)
        return (None, None, None) if found is None else found[:3]

    async def accounts_of(
        self, account_ids: Collection[UUID]
    ) -> dict[UUID, tuple[UUID | None, str | None, str | None]]:
        return {a: self.accounts[a][:3] for a in account_ids if a in self.accounts}

    async def sla_dues(self, case_ids: Collection[UUID]) -> dict[UUID, datetime]:
        dues = {case_id: await self.sla_due(case_id) for case_id in case_ids}
        return {case_id: due for case_id, due in dues.items() if due is not None}

    async def sla_due(self, case_id: UUID) -> datetime | None:
        due = [
            d
            for case, state, d in self.kpis.values()
            if case == case_id and state in _COUNTING_KPIS and d is not None
        ]
        return min(due, default=None)

    async def keep_account(
        self,
        account_id: UUID,
        *,
        owner_id: UUID | None,
        tier: str | None,
        region: str | None,
        version: int,
    ) -> None:
        known = self.accounts.get(account_id)
        if known is None or known[3] < version:
            self.accounts[account_id] = (owner_id, tier, region, version)

    async def keep_kpi(
        self, kpi_instance_id: UUID, *, case_id: UUID, state: str, due_at: datetime | None
    ) -> None:
        known = self.kpis.get(kpi_instance_id)
        if known is None:
            self.kpis[kpi_instance_id] = (case_id, state, due_at)
        elif known[1] != "done":  # one that ended stays ended
            self.kpis[kpi_instance_id] = (known[0], state, known[2] if due_at is None else due_at)


@dataclass(frozen=True)
class PublishedAgent:
    """An agent's entry as published on `routing.agent.v1`."""

    entry: AgentEntry
    kind: str
    at: datetime
    extra: dict[str, Any] = field(default_factory=dict)
    contract: c.Event | None = None


@dataclass(frozen=True)
class Notified:
    """An agent told of the work they were given."""

    agent_id: UUID
    queue_item_id: UUID
    case_id: UUID
    queue_id: UUID


class FakeRoutingUnitOfWork:
    """Events, agent entries and notifications reach `published`, `agent_events` and
    `notified` only on commit; leaving without commit forgets them and rolls back what the
    repositories were given."""

    def __init__(self, *queues: Queue) -> None:
        self.queues = FakeQueueRepository(queues or (DEFAULT, BILLING))
        self.rules = FakeRuleRepository()
        self.queue_items = FakeQueueItemRepository()
        self.agents = FakeAgentRepository()
        self.teams = FakeTeamRepository(self.agents)
        self.cases = FakeCaseProjection()
        self.published: list[tuple[RoutingEvent, Queue]] = []
        self.agent_events: list[PublishedAgent] = []
        self.notified: list[Notified] = []
        self.commits = 0
        self._pending: list[tuple[RoutingEvent, Queue]] = []
        self._pending_agents: list[PublishedAgent] = []
        self._pending_notified: list[Notified] = []
        self._committed = self._snapshot()

    def _repositories(self) -> tuple[_Transactional, ...]:
        return (self.queues, self.rules, self.queue_items, self.agents, self.teams, self.cases)

    def _snapshot(self) -> list[dict[str, Any]]:
        return [repo.snapshot() for repo in self._repositories()]

    def _forget_pending(self) -> None:
        self._pending, self._pending_agents, self._pending_notified = [], [], []

    async def __aenter__(self) -> Self:
        self._forget_pending()
        self._committed = self._snapshot()
        return self

    async def __aexit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        for repo, state in zip(self._repositories(), self._committed, strict=True):
            repo.restore(state)
        self._forget_pending()

    def emit(self, events: Iterable[RoutingEvent], *, queue: Queue) -> None:
        for event in events:
            to_contract(event, queue=queue)  # what the outbox would refuse
            self._pending.append((event, queue))

    async def write_events(self) -> None:
        return None  # written early or not, they are published only on commit

    def publish_agent(self, entry: AgentEntry, *, kind: str, at: datetime, **extra: Any) -> None:
        contract = agent_event(entry, kind=kind, at=at, **extra)
        self._pending_agents.append(PublishedAgent(entry, kind, at, dict(extra), contract))

    async def notify_assignee(self, item: QueueItem, *, agent_id: UUID, queue: Queue) -> None:
        assert item.worked_by == agent_id and item.queue_id == queue.queue_id
        self._pending_notified.append(
            Notified(agent_id, item.queue_item_id, item.case_id, queue.queue_id)
        )

    async def commit(self) -> None:
        self.published.extend(self._pending)
        self.agent_events.extend(self._pending_agents)
        self.notified.extend(self._pending_notified)
        self._forget_pending()
        self._committed = self._snapshot()
        self.commits += 1

    def events(self) -> list[RoutingEvent]:
        return [event for event, _ in self.published]


def _opened(**overrides: object) -> RouteCase:
    values: dict[str, object] = {
        "case_id": uuid.uuid4(),
        "number": "CAS-2026-000001",
        "channel": "email",
        "priority": "normal",
        "subject": "Invoice 42 charged twice",
        "opened_at": NOW,
    }
    values.update(overrides)
    return RouteCase(**values)  # type: ignore[arg-type]


async def _queued(uow: FakeRoutingUnitOfWork, **overrides: object) -> QueueItem:
    return await route_case(_opened(**overrides), uow=uow, now=NOW)


async def _add_billing_rule(uow: FakeRoutingUnitOfWork) -> None:
    await add_routing_rule(
        AddRoutingRule(
            name="billing", order=1, queue_id=BILLING.queue_id, request_types=frozenset({"billing"})
        ),
        uow=uow,
    )


# -- routing an opened case ---------------------------------------------------------------------


async def test_a_case_no_rule_places_waits_in_the_default_queue_and_is_announced() -> None:
    uow = FakeRoutingUnitOfWork()
    cmd = _opened()
    item = await route_case(cmd, uow=uow, now=LATER)

    stored = uow.queue_items.items[item.queue_item_id]
    assert (stored.case_id, stored.queue_id, stored.status) == (
        cmd.case_id,
        DEFAULT.queue_id,
        QueueItemStatus.WAITING,
    )
    assert stored.entered_at == LATER
    [(event, queue)] = uow.published
    assert isinstance(event, CaseQueued)
    assert (event.case_id, event.queue_id, event.rule_name) == (cmd.case_id, DEFAULT.queue_id, None)
    assert queue == DEFAULT
    facts, number = uow.cases.cases[cmd.case_id]
    assert (number, facts.subject, facts.priority) == (cmd.number, cmd.subject, "normal")


async def test_routing_the_same_case_again_keeps_one_item_and_one_event() -> None:
    uow = FakeRoutingUnitOfWork()
    cmd = _opened()
    first = await route_case(cmd, uow=uow, now=NOW)
    again = await route_case(cmd, uow=uow, now=LATER)
    assert again.queue_item_id == first.queue_item_id
    assert len(uow.queue_items.items) == 1
    assert len(uow.published) == 1


async def test_the_first_matching_rule_chooses_the_queue() -> None:
    uow = FakeRoutingUnitOfWork()
    await _add_billing_rule(uow)
    billed = await _queued(uow, request_type="Billing")
    other = await _queued(uow, request_type="hardware")
    assert billed.queue_id == BILLING.queue_id
    assert other.queue_id == DEFAULT.queue_id
    first = uow.published[0]
    assert isinstance(first[0], CaseQueued) and first[0].rule_name == "billing"
    assert first[1] == BILLING


async def test_without_a_default_queue_a_case_cannot_be_routed() -> None:
    uow = FakeRoutingUnitOfWork(BILLING)
    with pytest.raises(QueueNotFound):
        await _queued(uow)
    assert uow.queue_items.items == {} and uow.published == []


# -- pick, release, transfer ----------------------------------------------------------------------


async def test_an_agent_picks_a_waiting_item_and_works_it() -> None:
    uow = FakeRoutingUnitOfWork()
    item = await _queued(uow)
    picked = await pick_queue_item(
        PickQueueItem(queue_item_id=item.queue_item_id, by=ANNA), uow=uow, now=LATER
    )
    stored = uow.queue_items.items[item.queue_item_id]
    assert (stored.status, stored.worked_by, stored.worked_since) == (
        QueueItemStatus.ASSIGNED,
        ANNA.agent_id,
        LATER,
    )
    assert picked.worked_by == ANNA.agent_id
    event = uow.events()[-1]
    assert isinstance(event, CaseAssigned)
    assert (event.agent_id, event.picked, event.queue_id) == (ANNA.agent_id, True, DEFAULT.queue_id)
    assert uow.agents.agents[ANNA.agent_id].last_assigned_at == LATER
    # The pick holds a unit of the agent's capacity, and nobody is told of their own pick.
    assert uow.agents.load(ANNA.agent_id) == 1
    assert uow.queue_items.units[item.queue_item_id] == 1
    assert uow.notified == []


async def test_picking_an_item_one_already_works_announces_nothing_more() -> None:
    uow = FakeRoutingUnitOfWork()
    item = await _queued(uow)
    cmd = PickQueueItem(queue_item_id=item.queue_item_id, by=ANNA)
    await pick_queue_item(cmd, uow=uow, now=NOW)
    await pick_queue_item(cmd, uow=uow, now=LATER)
    assert [type(e) for e in uow.events()] == [CaseQueued, CaseAssigned]


async def test_an_item_another_agent_works_cannot_be_picked() -> None:
    uow = FakeRoutingUnitOfWork()
    item = await _queued(uow)
    await pick_queue_item(
        PickQueueItem(queue_item_id=item.queue_item_id, by=ANNA), uow=uow, now=NOW
    )
    with pytest.raises(ItemAlreadyWorkedError):
        await pick_queue_item(
            PickQueueItem(queue_item_id=item.queue_item_id, by=BORIS), uow=uow, now=NOW
        )
    assert uow.queue_items.items[item.queue_item_id].worked_by == ANNA.agent_id
    assert len(uow.published) == 2
    # The refused pick wrote nothing: boris, met there first, is not enrolled either.
    assert BORIS.agent_id not in uow.agents.agents
    assert uow.agents.load(ANNA.agent_id) == 1


async def test_an_agent_at_capacity_cannot_pick_more() -> None:
    uow = FakeRoutingUnitOfWork()
    first = await _queued(uow)
    second = await _queued(uow)
    await pick_queue_item(
        PickQueueItem(queue_item_id=first.queue_item_id, by=ANNA),
        uow=uow,
        now=NOW,
        new_agent_capacity=1,
    )
    with pytest.raises(AgentAtCapacityError):
        await pick_queue_item(
            PickQueueItem(queue_item_id=second.queue_item_id, by=ANNA), uow=uow, now=NOW
        )
    assert uow.queue_items.items[second.queue_item_id].status is QueueItemStatus.WAITING
    assert uow.agents.load(ANNA.agent_id) == 1


async def test_an_unknown_queue_item_cannot_be_picked() -> None:
    uow = FakeRoutingUnitOfWork()
    with pytest.raises(QueueItemNotFound):
        await pick_queue_item(PickQueueItem(queue_item_id=uuid.uuid4(), by=ANNA), uow=uow, now=NOW)


async def test_the_agent_working_an_item_or_a_supervisor_may_release_it() -> None:
    uow = FakeRoutingUnitOfWork()
    item = await _queued(uow)
    pick = PickQueueItem(queue_item_id=item.queue_item_id, by=ANNA)
    await pick_queue_item(pick, uow=uow, now=NOW)

    with pytest.raises(NotPermittedError):
        await release_queue_item(
            ReleaseQueueItem(queue_item_id=item.queue_item_id, by=BORIS), uow=uow, now=LATER
        )
    assert uow.queue_items.items[item.queue_item_id].worked_by == ANNA.agent_id

    await release_queue_item(
        ReleaseQueueItem(queue_item_id=item.queue_item_id, by=ANNA), uow=uow, now=LATER
    )
    stored = uow.queue_items.items[item.queue_item_id]
    assert (stored.status, stored.worked_by) == (QueueItemStatus.RELEASED, None)
    assert uow.agents.load(ANNA.agent_id) == 0
    assert uow.queue_items.units[item.queue_item_id] == 0
    released = uow.events()[-1]
    assert isinstance(released, CaseReleased) and released.agent_id == ANNA.agent_id

    await pick_queue_item(pick, uow=uow, now=LATER)
    await release_queue_item(
        ReleaseQueueItem(queue_item_id=item.queue_item_id, by=SUE), uow=uow, now=LATER
    )
    assert uow.queue_items.items[item.queue_item_id].status is QueueItemStatus.RELEASED
    assert uow.agents.load(ANNA.agent_id) == 0


async def test_a_transferred_item_waits_unworked_in_the_other_queue() -> None:
    uow = FakeRoutingUnitOfWork()
    item = await _queued(uow)
    await pick_queue_item(
        PickQueueItem(queue_item_id=item.queue_item_id, by=ANNA), uow=uow, now=NOW
    )
    await transfer_queue_item(
        TransferQueueItem(queue_item_id=item.queue_item_id, to_queue_id=BILLING.queue_id, by=ANNA),
        uow=uow,
        now=LATER,
    )
    stored = uow.queue_items.items[item.queue_item_id]
    assert (stored.queue_id, stored.status, stored.worked_by, stored.entered_at) == (
        BILLING.queue_id,
        QueueItemStatus.WAITING,
        None,
        LATER,
    )
    event, queue = uow.published[-1]
    assert isinstance(event, CaseTransferred)
    assert (event.from_queue_id, event.to_queue_id, event.released_agent_id) == (
        DEFAULT.queue_id,
        BILLING.queue_id,
        ANNA.agent_id,
    )
    assert event.transferred_by == ANNA.agent_id
    assert queue == BILLING
    assert uow.agents.load(ANNA.agent_id) == 0


async def test_transfers_are_refused_to_others_to_unknown_queues_and_to_the_same_queue() -> None:
    uow = FakeRoutingUnitOfWork()
    item = await _queued(uow)

    def transfer(to: UUID, by: Caller) -> TransferQueueItem:
        return TransferQueueItem(queue_item_id=item.queue_item_id, to_queue_id=to, by=by)

    with pytest.raises(NotPermittedError):
        await transfer_queue_item(transfer(BILLING.queue_id, BORIS), uow=uow, now=NOW)
    with pytest.raises(UnknownQueueError):
        await transfer_queue_item(transfer(uuid.uuid4(), SUE), uow=uow, now=NOW)
    with pytest.raises(SameQueueError):
        await transfer_queue_item(transfer(DEFAULT.queue_id, SUE), uow=uow, now=NOW)
    assert uow.queue_items.items[item.queue_item_id].queue_id == DEFAULT.queue_id
    assert [type(e) for e in uow.events()] == [CaseQueued]

    await transfer_queue_item(transfer(BILLING.queue_id, SUE), uow=uow, now=NOW)
    assert uow.queue_items.items[item.queue_item_id].queue_id == BILLING.queue_id


# -- the life of a case: resolved, cancelled, reopened, taken into work ---------------------------

RESOLVED_LATER = LATER + timedelta(minutes=30)


def _items_of(uow: FakeRoutingUnitOfWork, case_id: UUID) -> list[QueueItem]:
    return [i for i in uow.queue_items.items.values() if i.case_id == case_id]


@pytest.mark.parametrize("reason", ["resolved", "cancelled"])
async def test_a_closed_case_leaves_its_queue_once(reason: str) -> None:
    uow = FakeRoutingUnitOfWork()
    item = await _queued(uow)
    await pick_queue_item(
        PickQueueItem(queue_item_id=item.queue_item_id, by=ANNA), uow=uow, now=NOW
    )
    close = DequeueCase(case_id=item.case_id, at=LATER, reason=reason)

    await apply_case_change(close, uow=uow, now=LATER)
    await apply_case_change(close, uow=uow, now=RESOLVED_LATER)  # a second resolution, say

    stored = uow.queue_items.items[item.queue_item_id]
    assert (stored.status, stored.worked_by) == (QueueItemStatus.REMOVED, None)
    [dequeued] = [e for e in uow.events() if isinstance(e, CaseDequeued)]
    assert (dequeued.queue_id, dequeued.reason, dequeued.released_agent_id) == (
        DEFAULT.queue_id,
        reason,
        ANNA.agent_id,
    )
    assert dequeued.occurred_at == LATER
    assert uow.agents.load(ANNA.agent_id) == 0  # freed once, not below zero


async def test_a_reopened_case_waits_again_in_the_queue_it_was_last_in() -> None:
    uow = FakeRoutingUnitOfWork()
    item = await _queued(uow)
    await transfer_queue_item(
        TransferQueueItem(queue_item_id=item.queue_item_id, to_queue_id=BILLING.queue_id, by=SUE),
        uow=uow,
        now=NOW,
    )
    await apply_case_change(
        DequeueCase(case_id=item.case_id, at=NOW, reason="resolved"), uow=uow, now=NOW
    )
    reopen = RequeueCase(case_id=item.case_id, at=LATER)

    again = await apply_case_change(reopen, uow=uow, now=LATER)
    await apply_case_change(reopen, uow=uow, now=LATER)  # delivered twice under two ids

    assert again is not None and again.queue_item_id != item.queue_item_id
    old, new = _items_of(uow, item.case_id)
    assert old.status is QueueItemStatus.REMOVED
    assert (new.queue_id, new.status, new.entered_at) == (
        BILLING.queue_id,
        QueueItemStatus.WAITING,
        LATER,
    )
    event, queue = uow.published[-1]
    assert isinstance(event, CaseQueued)
    assert (event.queue_item_id, event.queue_id, queue) == (
        new.queue_item_id,
        BILLING.queue_id,
        BILLING,
    )
    assert [type(e) for e in uow.events()] == [
        CaseQueued,
        CaseTransferred,
        CaseDequeued,
        CaseQueued,
    ]

    # Resolved again: the new item leaves, and the case may come back once more.
    await apply_case_change(
        DequeueCase(case_id=item.case_id, at=RESOLVED_LATER, reason="resolved"),
        uow=uow,
        now=RESOLVED_LATER,
    )
    assert uow.queue_items.items[new.queue_item_id].status is QueueItemStatus.REMOVED
    await apply_case_change(reopen, uow=uow, now=RESOLVED_LATER)
    assert [i.status for i in _items_of(uow, item.case_id)] == [
        QueueItemStatus.REMOVED,
        QueueItemStatus.REMOVED,
        QueueItemStatus.WAITING,
    ]


async def test_an_opening_delivered_again_after_the_resolution_queues_nothing() -> None:
    uow = FakeRoutingUnitOfWork()
    cmd = _opened()
    await route_case(cmd, uow=uow, now=NOW)
    await apply_case_change(
        DequeueCase(case_id=cmd.case_id, at=NOW, reason="resolved"), uow=uow, now=NOW
    )
    await route_case(cmd, uow=uow, now=LATER)
    assert [i.status for i in _items_of(uow, cmd.case_id)] == [QueueItemStatus.REMOVED]
    assert [type(e) for e in uow.events()] == [CaseQueued, CaseDequeued]


async def test_an_agent_who_takes_the_case_into_work_is_given_its_waiting_item() -> None:
    uow = FakeRoutingUnitOfWork()
    item = await _queued(uow)
    newcomer = agent_id_of("newcomer")
    accept = AcceptCase(case_id=item.case_id, at=LATER, agent_id=newcomer)

    await apply_case_change(accept, uow=uow, now=LATER)
    await apply_case_change(accept, uow=uow, now=RESOLVED_LATER)  # again: nothing more

    stored = uow.queue_items.items[item.queue_item_id]
    assert (stored.status, stored.worked_by, stored.worked_since) == (
        QueueItemStatus.ASSIGNED,
        newcomer,
        LATER,
    )
    # Unknown to routing until now: enrolled as a first pick would enrol them.
    assert uow.agents.agents[newcomer].last_assigned_at == LATER
    assert uow.agents.agents[newcomer].capacity == 5
    assert uow.agents.load(newcomer) == 1
    assert uow.queue_items.units[item.queue_item_id] == 1
    event, queue = uow.published[-1]
    assert isinstance(event, CaseAccepted)
    assert (event.agent_id, event.queue_id, queue) == (newcomer, DEFAULT.queue_id, DEFAULT)
    assert [type(e) for e in uow.events()] == [CaseQueued, CaseAccepted]


async def test_taking_into_work_leaves_an_item_another_agent_works_or_a_closed_case_alone() -> None:
    uow = FakeRoutingUnitOfWork()
    item = await _queued(uow)
    await pick_queue_item(
        PickQueueItem(queue_item_id=item.queue_item_id, by=ANNA), uow=uow, now=NOW
    )
    await apply_case_change(
        AcceptCase(case_id=item.case_id, at=LATER, agent_id=BORIS.agent_id), uow=uow, now=LATER
    )
    assert uow.queue_items.items[item.queue_item_id].worked_by == ANNA.agent_id

    closed = await _queued(uow)
    await apply_case_change(
        DequeueCase(case_id=closed.case_id, at=NOW, reason="cancelled"), uow=uow, now=NOW
    )
    await apply_case_change(
        AcceptCase(case_id=closed.case_id, at=LATER, agent_id=BORIS.agent_id), uow=uow, now=LATER
    )
    assert uow.queue_items.items[closed.queue_item_id].status is QueueItemStatus.REMOVED
    assert BORIS.agent_id not in uow.agents.agents
    assert not [e for e in uow.events() if isinstance(e, CaseAccepted)]


async def test_changes_to_a_case_not_yet_opened_are_parked_and_applied_when_it_opens() -> None:
    uow = FakeRoutingUnitOfWork()
    cmd = _opened()
    agent = agent_id_of("anna")
    # Out of order on purpose: parked changes are applied in the order they happened.
    await apply_case_change(
        DequeueCase(case_id=cmd.case_id, at=LATER, reason="resolved"), uow=uow, now=NOW
    )
    await apply_case_change(
        AcceptCase(case_id=cmd.case_id, at=NOW, agent_id=agent), uow=uow, now=NOW
    )
    assert uow.queue_items.items == {} and uow.published == []
    assert len(uow.cases.parked) == 2

    item = await route_case(cmd, uow=uow, now=RESOLVED_LATER)

    assert (item.status, item.worked_by) == (QueueItemStatus.REMOVED, None)
    assert [type(e) for e in uow.events()] == [CaseQueued, CaseAccepted, CaseDequeued]
    assert uow.cases.parked == []


async def test_a_rule_on_entitlement_sends_cases_no_contract_covers_elsewhere() -> None:
    uow = FakeRoutingUnitOfWork()
    await add_routing_rule(
        AddRoutingRule(
            name="not entitled",
            order=1,
            queue_id=BILLING.queue_id,
            entitlement=frozenset({"not_entitled"}),
        ),
        uow=uow,
    )
    refused = await _queued(uow, entitled=False, not_entitled="channel_not_covered")
    covered = await _queued(uow, entitled=True)
    unknown = await _queued(uow)  # an opening from before contracts
    assert (refused.queue_id, covered.queue_id, unknown.queue_id) == (
        BILLING.queue_id,
        DEFAULT.queue_id,
        DEFAULT.queue_id,
    )
    facts, _ = uow.cases.cases[refused.case_id]
    assert (facts.entitled, facts.not_entitled) == (False, "channel_not_covered")


async def test_a_changed_entitlement_is_remembered_and_leaves_the_item_where_it_is() -> None:
    uow = FakeRoutingUnitOfWork()
    await add_routing_rule(
        AddRoutingRule(
            name="not entitled",
            order=1,
            queue_id=BILLING.queue_id,
            entitlement=frozenset({"not_entitled"}),
        ),
        uow=uow,
    )
    item = await _queued(uow, entitled=True)
    change = ChangeEntitlement(
        case_id=item.case_id, at=LATER, entitled=False, not_entitled="exhausted"
    )

    now_is = await apply_case_change(change, uow=uow, now=LATER)

    assert now_is is not None and now_is.queue_item_id == item.queue_item_id
    assert [i.queue_id for i in _items_of(uow, item.case_id)] == [DEFAULT.queue_id]
    assert [type(e) for e in uow.events()] == [CaseQueued]
    facts, _ = uow.cases.cases[item.case_id]
    assert (facts.entitled, facts.not_entitled) == (False, "exhausted")


async def test_an_entitlement_changed_before_the_opening_is_remembered_once_it_opens() -> None:
    uow = FakeRoutingUnitOfWork()
    cmd = _opened(entitled=False, not_entitled="no_contract")
    await apply_case_change(
        ChangeEntitlement(case_id=cmd.case_id, at=LATER, entitled=True), uow=uow, now=LATER
    )
    assert uow.cases.cases == {} and len(uow.cases.parked) == 1

    item = await route_case(cmd, uow=uow, now=RESOLVED_LATER)

    assert item.status is QueueItemStatus.WAITING
    assert [type(e) for e in uow.events()] == [CaseQueued]
    facts, _ = uow.cases.cases[cmd.case_id]
    assert (facts.entitled, facts.not_entitled) == (True, None)
    assert uow.cases.parked == []


# -- queues and rules ---------------------------------------------------------------------------


async def test_a_queue_is_created_under_a_name_not_taken_whatever_the_case() -> None:
    uow = FakeRoutingUnitOfWork()
    queue = await create_queue(CreateQueue(name="  Printers "), uow=uow)
    assert uow.queues.queues[queue.queue_id].name == "Printers"
    assert not queue.is_default
    with pytest.raises(NameTakenError):
        await create_queue(CreateQueue(name="printers"), uow=uow)
    with pytest.raises(RoutingValidationError):
        await create_queue(CreateQueue(name="   "), uow=uow)
    assert len(uow.queues.queues) == 3


async def test_a_rule_must_name_an_existing_queue_a_free_name_and_a_valid_order() -> None:
    uow = FakeRoutingUnitOfWork()
    await _add_billing_rule(uow)
    with pytest.raises(NameTakenError):
        await add_routing_rule(
            AddRoutingRule(name="BILLING", order=2, queue_id=BILLING.queue_id), uow=uow
        )
    with pytest.raises(UnknownQueueError):
        await add_routing_rule(AddRoutingRule(name="lost", order=2, queue_id=uuid.uuid4()), uow=uow)
    with pytest.raises(RoutingValidationError):
        await add_routing_rule(
            AddRoutingRule(name="early", order=-1, queue_id=BILLING.queue_id), uow=uow
        )
    [stored] = await uow.rules.all()
    assert stored.rule == RoutingRule(
        name="billing", order=1, queue_id=BILLING.queue_id, request_types=frozenset({"billing"})
    )
