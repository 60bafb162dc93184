"""What the intake use cases need from the outside world."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self
from uuid import UUID

from intake.domain.customers import Account, Contact, Identification
from intake.domain.idempotency import StoredRequest
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

    async def contact_by_email(self, email: str) -> Contact | None: ...
    async def contacts_by_phone(self, phone: str, *, limit: int) -> list[Contact]: ...
    async def account_by_domain(self, domain: str) -> Account | None: ...
    async def get_contact(self, contact_id: UUID) -> Contact | None: ...
    async def get_account(self, account_id: UUID) -> Account | None: ...

    async def save_identification(self, identification: Identification) -> None:
        """Store a first contact, or the emails and phones learnt about a known one."""
        ...

    async def add_account(self, account: Account) -> list[str]:
        """Store a new account; returns the domains another account already claims, if any."""
        ...


class InteractionRepository(Protocol):
    """Where received interactions are kept."""

    async def add(self, interaction: Interaction) -> None: ...
    async def get(self, interaction_id: UUID) -> Interaction | None: ...
    async def by_submission(self, submission_id: UUID) -> Interaction | None: ...


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
    """One transaction over customers, interactions, keys, the catalogue's copy and the events
    they imply."""

    @property
    def customers(self) -> CustomerRepository: ...
    @property
    def interactions(self) -> InteractionRepository: ...
    @property
    def idempotency(self) -> IdempotencyStore: ...
    @property
    def request_types(self) -> RequestTypeRepository: ...

    async def __aenter__(self) -> Self: ...
    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...
    def emit(self, event: InteractionReceived) -> None: ...
    async def commit(self) -> None: ...
