"""What happened to the customer card: the events intake publishes on intake.customer.v1."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from intake.domain.customers import (
    Account,
    Contact,
)

# -- events -----------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class AccountRegistered:
    """An account was filed."""

    account: Account
    occurred_at: datetime


@dataclass(frozen=True, kw_only=True)
class AccountChanged:
    """An account's card changed; the card as it now is."""

    account: Account
    occurred_at: datetime


@dataclass(frozen=True, kw_only=True)
class ContactRegistered:
    """A contact was filed: by an agent, or on their first contact."""

    contact: Contact
    first_contact: bool
    occurred_at: datetime


@dataclass(frozen=True, kw_only=True)
class ContactChanged:
    """A contact's card changed; the card as it now is."""

    contact: Contact
    occurred_at: datetime


@dataclass(frozen=True, kw_only=True)
class ContactMerged:
    """`merged_contact_id` was folded into `contact_id`."""

    contact_id: UUID
    merged_contact_id: UUID
    occurred_at: datetime


@dataclass(frozen=True, kw_only=True)
class ContactErased:
    """A contact's personal data was erased."""

    contact_id: UUID
    occurred_at: datetime


CustomerEvent = (
    AccountRegistered
    | AccountChanged
    | ContactRegistered
    | ContactChanged
    | ContactMerged
    | ContactErased
)
"""Any event of the customer card."""
