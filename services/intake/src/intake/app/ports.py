"""What the intake use cases need from the outside world."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self
from uuid import UUID

from intake.domain.customer_events import CustomerEvent
from intake.domain.customers import (
    Account,
    AccountQuery,
    Contact,
    ContactQuery,
    Page,
)
from intake.domain.history import (
    CaseSummary,
    HistoryEntry,
)
from intake.domain.idempotency import StoredRequest
from intake.domain.identification import (
    Identification,
)
from intake.domain.interactions import Interaction, InteractionReceived
from intake.domain.request_types import RequestType


class CustomerRepository(Protocol):
    """Where accounts and contacts, with their emails and phone numbers, are kept."""

    async def lock_email(self, email: str) -> None:
        """Hold off other transactions identifying the same address until this one ends."""
        ...

    async def lock_phone(self, phone: str) -> None:
        """Hold off other transactions identifying the same number until this one ends."""
        ...

    async def lock_emails(self, emails: Sequence[str]) -> None:
        """`lock_email` for several addresses at once, taken in their order."""
        ...

    async def contact_by_email(self, email: str) -> Contact | None:
        """The contact owning the (normalised) address, or None."""
        ...

    async def contacts_by_phone(self, phone: str, *, limit: int) -> list[Contact]:
        """Up to `limit` active contacts having the number (as compared), oldest first."""
        ...

    async def account_by_domain(self, domain: str) -> Account | None: ...

    async def get_contact(self, contact_id: UUID, *, for_update: bool = False) -> Contact | None:
        """The contact, merged or erased ones too; `for_update` holds off other writers of
        it until this transaction ends."""
        ...

    async def get_account(self, account_id: UUID, *, for_update: bool = False) -> Account | None:
        """The account; `for_update` holds off other writers of it until this transaction
        ends."""
        ...

    async def save_identification(self, identification: Identification) -> None:
        """Store a first contact, or the emails and phones learnt about a known one (raising
        its version)."""
        ...

    async def add_contact(self, contact: Contact) -> None:
        """Store a new contact with its emails and phones."""
        ...

    async def save_contact(self, contact: Contact) -> None:
        """Store the contact's card whole, its emails and phones as they now are."""
        ...

    async def repoint_merged(self, *, from_contact: UUID, to_contact: UUID) -> None:
        """Make the contacts merged into `from_contact` point to `to_contact`."""
        ...

    async def add_account(self, account: Account) -> list[str]:
        """Store a new account; returns the domains another account already claims, if any."""
        ...

    async def save_account(self, account: Account) -> list[str]:
        """Store the account's card whole; returns the domains another account already
        claims, if any (which it then does not get)."""
        ...

    async def find_contacts(self, query: ContactQuery) -> Page[Contact]:
        """The active contacts matching every criterion of `query`, best match first."""
        ...

    async def find_accounts(self, query: AccountQuery) -> Page[Account]:
        """The accounts matching every criterion of `query`, best match first."""
        ...

    async def history(self, contact_id: UUID, *, limit: int, offset: int) -> Page[HistoryEntry]:
        """The contact's interactions and cases, newest first."""
        ...

    async def open_cases(self, account_id: UUID) -> int:
        """How many of the account's cases are neither resolved nor cancelled."""
        ...


class InteractionRepository(Protocol):
    """Where received interactions are kept."""

    async def add(self, interaction: Interaction) -> None: ...
    async def get(self, interaction_id: UUID) -> Interaction | None: ...
    async def by_submission(self, submission_id: UUID) -> Interaction | None: ...

    async def move(self, *, from_contact: UUID, to_contact: UUID) -> None:
        """Give every interaction of `from_contact` to `to_contact`."""
        ...

    async def erase(self, contact_id: UUID) -> None:
        """Clear what the contact wrote in their interactions (subject, body, answers)."""
        ...


class CaseSummaryRepository(Protocol):
    """Intake's copy of the cases it has heard of, for its customers' history."""

    async def get(self, case_id: UUID, *, for_update: bool = False) -> CaseSummary | None: ...

    async def save(self, summary: CaseSummary) -> None:
        """Keep `summary` in place of what is held for its case."""
        ...

    async def move(self, *, from_contact: UUID, to_contact: UUID) -> None:
        """Give every case of `from_contact` to `to_contact`."""
        ...

    async def erase(self, contact_id: UUID) -> None:
        """Clear the subjects of the contact's cases (the cases service keeps its own)."""
        ...


class IdempotencyStore(Protocol):
    """The Idempotency-Keys seen, per caller, with their payload fingerprint and answer."""

    async def claim(self, *, owner: str, key: str, fingerprint: str, now: datetime) -> bool:
        """Take `key` for a request; False if it was taken before (decided by the store)."""
        ...

    async def get(self, *, owner: str, key: str) -> StoredRequest | None: ...

    async def complete(self, *, owner: str, key: str, response: Mapping[str, object]) -> None:
        """Keep the answer given to the request that took `key`."""
        ...


class RequestTypeRepository(Protocol):
    """Intake's copy of the request-type catalogue, an entry per code."""

    async def get(self, code: str) -> RequestType | None: ...

    async def save(self, request_type: RequestType) -> None:
        """Keep `request_type` in place of the entry held for its code, unless that entry is
        of the same or a later version (decided by the store, so racing writers agree)."""
        ...


class RateLimitCounter(Protocol):
    """Counts requests per bucket (a caller) and window, in a store every replica shares."""

    async def hit(self, bucket: str, *, window_start: datetime) -> int:
        """Count one more request for `bucket` in the window starting at `window_start`, in a
        transaction of its own; returns the count so far, this request included."""
        ...


class IntakeUnitOfWork(Protocol):
    """One transaction over customers, interactions, keys, the catalogue's copy, the cases'
    copy and the events they imply."""

    @property
    def customers(self) -> CustomerRepository: ...
    @property
    def interactions(self) -> InteractionRepository: ...
    @property
    def idempotency(self) -> IdempotencyStore: ...
    @property
    def request_types(self) -> RequestTypeRepository: ...
    @property
    def case_summaries(self) -> CaseSummaryRepository: ...

    async def __aenter__(self) -> Self: ...
    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...
    def emit(self, event: InteractionReceived) -> None: ...
    def emit_customer(self, event: CustomerEvent) -> None:
        """Publish a change of the customer card when this unit of work commits."""
        ...

    async def commit(self) -> None: ...
