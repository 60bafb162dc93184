"""What the cases use cases need from the outside world."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from types import TracebackType
from typing import Protocol, Self
from uuid import UUID

from cases.domain.case import Case
from cases.domain.catalogue import Decision, RequestType
from cases.domain.contracts import (
    Balance,
    Contract,
    ContractEvent,
    ContractLine,
    ContractStatus,
    ContractTemplate,
    LedgerEntry,
    LineInForce,
)
from cases.domain.events import CaseEvent
from cases.domain.new_customers import InteractionRequest
from cases.domain.notifications import Notification


class CaseRepository(Protocol):
    """Where cases are kept."""

    async def next_sequence(self) -> int: ...
    async def get(self, case_id: UUID, *, for_update: bool = False) -> Case | None: ...
    async def get_by_number(self, number: str, *, for_update: bool = False) -> Case | None: ...
    async def case_of_interaction(self, interaction_id: UUID) -> UUID | None: ...
    async def cases_of_call(
        self, call_id: str, *, agent_id: UUID | None, start: datetime, end: datetime
    ) -> list[UUID]: ...
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


class ContractRepository(Protocol):
    """Where contracts, their lines and ledger, and the contract templates are kept."""

    async def next_sequence(self) -> int: ...
    async def get(self, contract_id: UUID, *, for_update: bool = False) -> Contract | None: ...
    async def search(
        self,
        *,
        account_id: UUID | None = None,
        status: ContractStatus | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[list[Contract], int]: ...
    async def add(self, contract: Contract) -> None: ...
    async def save(self, contract: Contract) -> None: ...
    async def lines_of_account(self, account_id: UUID) -> list[LineInForce]: ...
    async def line_for_update(self, line_id: UUID) -> tuple[Contract, ContractLine] | None:
        """The line and its contract, the line locked until the transaction ends."""
        ...

    async def used(self, line_ids: Sequence[UUID]) -> dict[UUID, int]: ...
    async def balances(self, *held: Contract) -> dict[UUID, Balance]: ...
    async def drawn_on(self, line_id: UUID) -> bool: ...
    async def net_of_case(self, case_id: UUID) -> list[tuple[UUID, int, int]]: ...
    async def record(self, entry: LedgerEntry) -> None: ...
    async def ledger(
        self, contract_id: UUID, *, line_id: UUID | None = None, limit: int = 200, offset: int = 0
    ) -> tuple[list[LedgerEntry], int]: ...
    async def due_for_upkeep(
        self, today: date, *, notice_days: int, limit: int
    ) -> list[Contract]: ...
    async def template(
        self, template_id: UUID, *, for_update: bool = False
    ) -> ContractTemplate | None: ...
    async def templates(self, *, include_inactive: bool = False) -> list[ContractTemplate]: ...
    async def add_template(self, template: ContractTemplate) -> bool: ...
    async def save_template(self, template: ContractTemplate) -> None: ...


@dataclass(frozen=True, kw_only=True)
class AccountFacts:
    """A customer's account as intake announced it, at its version."""

    account_id: UUID
    name: str
    tier: str | None
    owner_id: UUID | None
    credit_hold: bool
    version: int


class CustomerAccounts(Protocol):
    """The customers' accounts as intake announced them."""

    async def remember(self, facts: AccountFacts) -> bool: ...
    async def owner_of(self, account_id: UUID) -> UUID | None: ...


class CasesUnitOfWork(Protocol):
    """One transaction over cases and the events their changes imply."""

    @property
    def cases(self) -> CaseRepository: ...
    @property
    def catalogue(self) -> CatalogueRepository: ...
    @property
    def contracts(self) -> ContractRepository: ...
    @property
    def accounts(self) -> CustomerAccounts: ...

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
    def emit_contract(self, contract: Contract, events: Iterable[ContractEvent]) -> None: ...
    def notify(self, notification: Notification) -> None: ...
    def request_interaction(self, request: InteractionRequest) -> None:
        """Ask intake to identify a customer and receive their request, when this commits."""
        ...

    async def commit(self) -> None: ...
