"""What the routing use cases need from the outside world."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Any, Protocol, Self
from uuid import UUID

from routing.app.case_changes import CaseChange
from routing.domain import (
    Agent,
    CaseFacts,
    Presence,
    Queue,
    QueueItem,
    RoutingEvent,
    RoutingRule,
)


@dataclass(frozen=True)
class StoredRule:
    """A routing rule as kept, with the id it is known by."""

    rule_id: UUID
    rule: RoutingRule


@dataclass(frozen=True, kw_only=True)
class AgentEntry:
    """An agent's entry in the directory, as kept and published on ``routing.agent.v1``.

    ``load_units`` and ``last_assigned_at`` follow from their work, never from an edit.
    """

    agent_id: UUID
    name: str
    email: str | None = None
    phone_extension: str | None = None
    manager_id: UUID | None = None
    languages: tuple[str, ...] = ()
    teams: tuple[UUID, ...] = ()
    skills: frozenset[str] = frozenset()
    capacity: int = 5
    work_units: Mapping[str, int] = field(default_factory=dict)
    presence: Presence = Presence.OFFLINE
    presence_reason: str = "set"
    presence_since: datetime | None = None
    active: bool = True
    version: int = 1
    registered: bool = True
    load_units: int = 0
    last_assigned_at: datetime | None = None


@dataclass(frozen=True, kw_only=True)
class Team:
    """A team of agents, and the manager its escalations go to."""

    team_id: UUID
    name: str
    manager_id: UUID | None = None


class QueueRepository(Protocol):
    """Where queues are kept."""

    async def get(self, queue_id: UUID) -> Queue | None: ...
    async def get_default(self) -> Queue | None: ...
    async def find_by_name(self, name: str) -> Queue | None: ...
    async def add(self, queue: Queue) -> None: ...
    async def save(self, queue: Queue) -> None: ...
    async def all(self) -> list[Queue]: ...
    async def note_assigned_many(self, last: Mapping[UUID, UUID]) -> None:
        """Remember who got each queue's last item (round robin's place in the ring)."""
        ...

    async def last_assigned_many(self, queue_ids: Collection[UUID]) -> dict[UUID, UUID | None]:
        """Who got each queue's last item."""
        ...


class RuleRepository(Protocol):
    """Where routing rules are kept."""

    async def all(self) -> list[StoredRule]: ...
    async def get(self, rule_id: UUID) -> StoredRule | None: ...
    async def find_by_name(self, name: str) -> StoredRule | None: ...
    async def add(self, rule: StoredRule) -> None: ...
    async def save(self, rule: StoredRule) -> None: ...
    async def delete(self, rule_id: UUID) -> bool: ...


class AgentRepository(Protocol):
    """Where agents are kept: directory entries, presence and the load each carries."""

    async def entry(self, agent_id: UUID, *, for_update: bool = False) -> AgentEntry | None: ...
    async def by_extension(self, extension: str) -> AgentEntry | None: ...
    async def extension_taken(self, extension: str, *, by_other_than: UUID) -> bool: ...
    async def save_entry(self, entry: AgentEntry) -> None: ...
    async def enroll(self, agent_id: UUID, *, name: str, capacity: int) -> Agent:
        """The agent, met first if unknown, locked for the rest of the transaction."""
        ...

    async def get(self, agent_id: UUID, *, for_update: bool = False) -> Agent | None: ...
    async def get_many(self, agent_ids: Collection[UUID]) -> dict[UUID, Agent]:
        """The agents known among `agent_ids`."""
        ...

    async def candidates_many(self, queues: Sequence[Queue]) -> dict[UUID, list[Agent]]:
        """Each queue's members able to take work now; an agent in several of the queues is
        the same object in each."""
        ...

    async def available_members(self, queue: Queue) -> int: ...
    async def take_units(self, agent_id: UUID, units: int, *, at: datetime) -> bool:
        """Add to the agent's load if it fits their capacity; whether it did."""
        ...

    async def take_units_many(self, units: Mapping[UUID, int], *, at: datetime) -> set[UUID]:
        """Add to each agent's load the units given for them, for each whose capacity holds
        them all; the agents whose load rose."""
        ...

    async def add_units(self, agent_id: UUID, units: int, *, at: datetime) -> None: ...
    async def free_units(self, agent_id: UUID, units: int) -> None: ...
    async def free_units_many(self, units: Mapping[UUID, int]) -> None:
        """Take the units given off each agent's load (never below zero)."""
        ...

    async def unknown_skills(self, names: Iterable[str]) -> set[str]: ...
    async def contact(self, agent_id: UUID) -> tuple[str, str | None] | None:
        """The agent's name and first language."""
        ...


class TeamRepository(Protocol):
    """Where teams are kept."""

    async def get(self, team_id: UUID) -> Team | None: ...
    async def find_by_name(self, name: str) -> Team | None: ...
    async def missing(self, team_ids: Iterable[UUID]) -> set[UUID]: ...
    async def save(self, team: Team) -> None: ...
    async def managers(self, team_ids: Sequence[UUID]) -> list[UUID]: ...
    async def member_ids(self, team_id: UUID) -> list[UUID]: ...


class QueueItemRepository(Protocol):
    """Where queue items are kept."""

    async def get(self, queue_item_id: UUID, *, for_update: bool = False) -> QueueItem | None: ...
    async def last_for_case(self, case_id: UUID, *, for_update: bool = False) -> QueueItem | None:
        """The item the case was placed in last, whatever its status, or None."""
        ...

    async def last_for_cases(
        self, case_ids: Sequence[UUID], *, for_update: bool = False
    ) -> dict[UUID, QueueItem]:
        """The item each case was placed in last; cases never placed are left out. Locked
        in the order of `case_ids` if `for_update`."""
        ...

    async def add(self, item: QueueItem) -> None: ...
    async def add_many(
        self, items: Sequence[QueueItem], *, sla_due: Mapping[UUID, datetime] | None = None
    ) -> None:
        """Insert new items, each ordered by its case's deadline in `sla_due`."""
        ...

    async def save(self, item: QueueItem) -> None: ...
    async def save_many(self, items: Sequence[QueueItem]) -> None:
        """Write loaded items back."""
        ...

    async def waiting(self, queue_id: UUID, *, limit: int, lock: bool = True) -> list[QueueItem]:
        """The queue's unworked items in its order (priority, SLA due time, age); locked
        (skipping those another transaction holds) unless `lock` is false."""
        ...

    async def claim(self, item: QueueItem, *, units: int) -> bool:
        """Write an item an agent now works, only if nobody works it in the database; whether
        it was written."""
        ...

    async def waiting_many(
        self, queue_ids: Sequence[UUID], *, limit: int
    ) -> dict[UUID, list[QueueItem]]:
        """Each queue's first `limit` unworked items in its order, locked as `waiting` locks
        them; queues with none are left out."""
        ...

    async def claim_many(self, claims: Sequence[tuple[QueueItem, int]]) -> set[UUID]:
        """Write that agents now work the items (each with the units it holds), each only if
        nobody works it in the database; the ids of the items written."""
        ...

    async def units_held(self, queue_item_id: UUID) -> int: ...
    async def units_held_many(self, queue_item_ids: Collection[UUID]) -> dict[UUID, int]:
        """The units of its worker's capacity each item holds."""
        ...

    async def set_sla_due(self, case_id: UUID, due_at: datetime | None) -> None: ...


class CaseProjection(Protocol):
    """What routing remembers of the cases it routes, and the changes that came before them."""

    async def remember_many(self, cases: Sequence[tuple[CaseFacts, str, datetime]]) -> None:
        """Record newly opened cases: their facts, numbers and opening times."""
        ...

    async def change_entitlement(
        self, case_id: UUID, *, entitled: bool, not_entitled: str | None
    ) -> None:
        """Record that a known case's entitlement changed."""
        ...

    async def is_known(self, case_id: UUID) -> bool:
        """Whether routing has seen the case open (and so placed it in a queue)."""
        ...

    async def known_of(self, case_ids: Collection[UUID]) -> set[UUID]:
        """Those of the cases routing has seen open."""
        ...

    async def park(self, change: CaseChange) -> None:
        """Keep a change to a case whose opening has not arrived."""
        ...

    async def take_parked_many(self, case_ids: Collection[UUID]) -> dict[UUID, list[CaseChange]]:
        """The changes parked for each case, removed from the parking; cases with none are
        left out."""
        ...

    async def account(self, account_id: UUID) -> tuple[UUID | None, str | None, str | None]:
        """The account's owner, tier and region, as far as routing knows them."""
        ...

    async def accounts_of(
        self, account_ids: Collection[UUID]
    ) -> dict[UUID, tuple[UUID | None, str | None, str | None]]:
        """Each known account's owner, tier and region; unknown accounts are left out."""
        ...

    async def sla_due(self, case_id: UUID) -> datetime | None:
        """The earliest deadline of the case's running KPIs, if any."""
        ...

    async def sla_dues(self, case_ids: Collection[UUID]) -> dict[UUID, datetime]:
        """The earliest deadline of each case's running KPIs; cases with none are left out."""
        ...

    async def summary(self, case_id: UUID) -> tuple[str, str] | None:
        """The case's number and subject."""
        ...

    async def keep_account(
        self,
        account_id: UUID,
        *,
        owner_id: UUID | None,
        tier: str | None,
        region: str | None,
        version: int,
    ) -> None: ...
    async def keep_kpi(
        self, kpi_instance_id: UUID, *, case_id: UUID, state: str, due_at: datetime | None
    ) -> None: ...


class RoutingUnitOfWork(Protocol):
    """One transaction over queues, rules, agents, items and the events their changes imply."""

    @property
    def queues(self) -> QueueRepository: ...
    @property
    def rules(self) -> RuleRepository: ...
    @property
    def agents(self) -> AgentRepository: ...
    @property
    def teams(self) -> TeamRepository: ...
    @property
    def queue_items(self) -> QueueItemRepository: ...
    @property
    def cases(self) -> CaseProjection: ...

    async def __aenter__(self) -> Self: ...
    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...
    def emit(self, events: Iterable[RoutingEvent], *, queue: Queue) -> None:
        """Publish `events` on commit; `queue` is the one the item is in after them."""
        ...

    async def write_events(self) -> None:
        """Write what was emitted so far now, still published only on commit."""
        ...

    def publish_agent(self, entry: AgentEntry, *, kind: str, at: datetime, **extra: Any) -> None:
        """Publish the agent's entry on commit (`kind`: registered, changed, presence_changed)."""
        ...

    async def notify_assignee(self, item: QueueItem, *, agent_id: UUID, queue: Queue) -> None:
        """Ask for the agent to be told of the work they were given, on commit."""
        ...

    async def commit(self) -> None: ...
