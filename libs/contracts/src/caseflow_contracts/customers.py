"""Events owned by intake about the customer card and telephone calls.

``intake.customer.v1`` carries accounts (keyed by ``account_id``) and contacts (keyed by
``contact_id``): registered and changed carry the card whole, with its version, so a projection
keeps the highest version it has seen; merged and erased tell projections to fold a duplicate
into the contact that stays, and to drop a person's details.

``intake.call.v1`` (keyed by ``call_id``) carries what intake made of a telephone call: who is
calling, as soon as it rings; and the call as an interaction once it is over.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, ClassVar, Literal
from uuid import UUID

from pydantic import AwareDatetime, Field

from caseflow_contracts.base import Event
from caseflow_contracts.values import Channel


class AccountEventBase(Event):
    """Base of the events about one account: the card whole."""

    key_field: ClassVar[str] = "account_id"

    account_id: UUID
    name: str
    region: str | None = None
    industry: str | None = None
    tier: str | None = None
    """How valuable the customer is (e.g. `gold`), for routing and SLA."""
    owner_id: UUID | None = None
    """The specialist attached to the customer."""
    credit_hold: bool = False
    credit_hold_reason: str | None = None
    domains: list[str] = Field(default_factory=list)
    version: Annotated[int, Field(ge=1)]


class AccountRegistered(AccountEventBase):
    """An account was filed."""

    type: Literal["account.registered"] = "account.registered"


class AccountChanged(AccountEventBase):
    """An account's card changed; the card as it now is."""

    type: Literal["account.changed"] = "account.changed"


class ContactEventBase(Event):
    """Base of the events about one contact."""

    key_field: ClassVar[str] = "contact_id"

    contact_id: UUID


class ContactCard(ContactEventBase):
    """A contact's card whole."""

    account_id: UUID | None = None
    name: str
    position: str | None = None
    language: str | None = None
    preferred_channel: Channel | None = None
    emails: list[str] = Field(default_factory=list)
    phones: list[str] = Field(default_factory=list)
    """In E.164 where they could be read, else as given."""
    version: Annotated[int, Field(ge=1)]


class ContactRegistered(ContactCard):
    """A contact was filed: by an agent, or on their first contact."""

    type: Literal["contact.registered"] = "contact.registered"
    first_contact: bool = False


class ContactChanged(ContactCard):
    """A contact's card changed; the card as it now is."""

    type: Literal["contact.changed"] = "contact.changed"


class ContactMerged(ContactEventBase):
    """A duplicate was folded into `contact_id`, which keeps its emails, phones and history;
    `merged_contact_id` is no more."""

    type: Literal["contact.merged"] = "contact.merged"
    merged_contact_id: UUID


class ContactErased(ContactEventBase):
    """A contact's personal data was erased on request: drop what is projected about them.
    Records that mention the id (cases, interactions) stay, without the person."""

    type: Literal["contact.erased"] = "contact.erased"


class CallerMatch(StrEnum):
    """Who a calling number identifies."""

    CONTACT = "contact"
    ACCOUNT = "account"
    CANDIDATES = "candidates"
    UNKNOWN = "unknown"


class CallEventBase(Event):
    """Base of intake's events about one telephone call."""

    key_field: ClassVar[str] = "call_id"

    call_id: Annotated[str, Field(min_length=1)]
    caller_number: str
    """As the switch gave it."""
    caller_e164: str | None = None
    """In E.164, when it could be read."""
    extension: str | None = None
    contact_id: UUID | None = None
    account_id: UUID | None = None


class CallIdentified(CallEventBase):
    """A ringing call's caller was looked up by their number."""

    type: Literal["call.identified"] = "call.identified"
    match: CallerMatch
    candidates: list[UUID] = Field(default_factory=list)
    """The contacts sharing the number, when it identifies no one alone."""
    first_contact: bool = False
    """The caller has never written or called before."""


class CallFinished(CallEventBase):
    """A call is over, answered or missed, and recorded as an interaction with the customer."""

    type: Literal["call.finished"] = "call.finished"
    interaction_id: UUID
    dialled_number: str = ""
    agent_id: UUID | None = None
    """The agent who answered, when intake knows who sits at the extension."""
    answered: bool
    ringing_at: AwareDatetime | None = None
    answered_at: AwareDatetime | None = None
    ended_at: AwareDatetime
    duration_seconds: Annotated[int, Field(ge=0)]
    """From answering to hanging up (0 for a missed call)."""
    timed_out: bool = False
    """Closed by intake because the switch never said it ended."""
    first_contact: bool = False
