"""What the routing use cases need from the outside world."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self
from uuid import UUID

from routing.app.case_changes import CaseChange
from routing.domain import Agent, CaseFacts, Queue, QueueItem, RoutingEvent, RoutingRule


@dataclass(frozen=True)
class StoredRule:
    """A routing rule as kept, with the id it is known by."""

    rule_id: UUID
    rule: RoutingRule


class QueueRepository(Protocol):
    """Where queues are kept."""

    async def get(self, queue_id: UUID) -> Queue | None: ...
    async def get_default(self) -> Queue | None: ...
    async def find_by_name(self, name: str) -> Queue | None: ...
    async def add(self, queue: Queue) -> None: ...


class RuleRepository(Protocol):
    """Where routing rules are kept."""

    async def all(self) -> list[StoredRule]: ...
    async def find_by_name(self, name: str) -> StoredRule | None: ...
    async def add(self, rule: StoredRule) -> None: ...


class AgentRepository(Protocol):
    """Where agents are kept, with the count of the items each works."""

    async def enroll(self, agent_id: UUID, *, name: str, capacity: int) -> Agent:
        """The agent, registered first if unknown, locked for the rest of the transaction."""
        ...

    async def mark_assigned(self, agent_id: UUID, *, at: datetime) -> None: ...


class QueueItemRepository(Protocol):
    """Where queue items are kept."""

    async def get(self, queue_item_id: UUID, *, for_update: bool = False) -> QueueItem | None: ...
    async def last_for_case(self, case_id: UUID, *, for_update: bool = False) -> QueueItem | None:
        """The item the case was placed in last, whatever its status, or None."""
        ...

    async def add(self, item: QueueItem) -> None: ...
    async def save(self, item: QueueItem) -> None: ...


class CaseProjection(Protocol):
    """What routing remembers of the cases it routes, and the changes that came before them."""

    async def remember(self, facts: CaseFacts, *, number: str, opened_at: datetime) -> None: ...
    async def change_entitlement(
        self, case_id: UUID, *, entitled: bool, not_entitled: str | None
    ) -> None:
        """Record that a known case's entitlement changed."""
        ...

    async def is_known(self, case_id: UUID) -> bool:
        """Whether routing has seen the case open (and so placed it in a queue)."""
        ...

    async def park(self, change: CaseChange) -> None:
        """Keep a change to a case whose opening has not arrived."""
        ...

    async def take_parked(self, case_id: UUID) -> list[CaseChange]:
        """The changes parked for a case, removed from the parking."""
        ...


class RoutingUnitOfWork(Protocol):
    """One transaction over queues, rules, agents, items and the events their changes imply."""

    @property
    def queues(self) -> QueueRepository: ...
    @property
    def rules(self) -> RuleRepository: ...
    @property
    def agents(self) -> AgentRepository: ...
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

    async def commit(self) -> None: ...
