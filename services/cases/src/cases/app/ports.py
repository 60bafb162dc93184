"""What the cases use cases need from the outside world."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self
from uuid import UUID

from cases.domain.case import Case
from cases.domain.catalogue import Decision, RequestType
from cases.domain.events import CaseEvent
from cases.domain.new_customers import InteractionRequest
from cases.domain.notifications import Notification


class CaseRepository(Protocol):
    """Where cases are kept."""

    async def next_sequence(self) -> int: ...
    async def get(self, case_id: UUID, *, for_update: bool = False) -> Case | None: ...
    async def get_by_number(self, number: str) -> Case | None: ...
    async def case_of_interaction(self, interaction_id: UUID) -> UUID | None: ...
    async def attach_interaction(
        self, *, interaction_id: UUID, case_id: UUID, channel: str, subject: str, at: datetime
    ) -> None: ...
    async def add(self, case: Case, *, interaction_id: UUID | None = None) -> None: ...
    async def save(self, case: Case) -> None: ...

    async def assignee(self, case_id: UUID) -> UUID | None:
        """The agent routing last assigned the case to, as the projection learnt it."""
        ...


class CatalogueRepository(Protocol):
    """Where the request types and decisions are kept."""

    async def request_type(self, code: str) -> RequestType | None: ...
    async def decision(self, code: str) -> Decision | None: ...


class CasesUnitOfWork(Protocol):
    """One transaction over cases and the events their changes imply."""

    @property
    def cases(self) -> CaseRepository: ...
    @property
    def catalogue(self) -> CatalogueRepository: ...

    async def __aenter__(self) -> Self: ...
    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...
    def emit(
        self, case: Case, events: Iterable[CaseEvent], *, interaction_id: UUID | None = None
    ) -> None: ...
    def notify(self, notification: Notification) -> None: ...
    def request_interaction(self, request: InteractionRequest) -> None:
        """Ask intake to identify a customer and receive their request, when this commits."""
        ...

    async def commit(self) -> None: ...
