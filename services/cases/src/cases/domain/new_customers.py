"""A request an agent takes from a customer not on file, for intake to receive.

Customers are intake's: the cases service never creates a contact. When an agent takes a
request from someone who may not be on file (a call, a letter, a visit), cases checks the
request against its catalogue and asks intake to identify the customer and receive the
request as an interaction, under an id chosen here. The case then opens from what intake
publishes, as for any channel, and is found by that id.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from cases.domain.errors import CaseValidationError
from cases.domain.values import Channel


@dataclass(frozen=True, kw_only=True)
class NewCustomer:
    """A customer as an agent took them down: a name, and an email or a phone to know them by."""

    name: str
    email: str | None = None
    phone: str | None = None


@dataclass(frozen=True, kw_only=True)
class InteractionRequest:
    """Intake is asked to identify `customer` and receive their request as `interaction_id`."""

    interaction_id: UUID
    channel: Channel
    customer: NewCustomer
    subject: str
    description: str
    requested_by: UUID
    occurred_at: datetime
    request_type: str | None = None
    parameters: Mapping[str, str] = field(default_factory=dict)
    language: str | None = None


def new_customer(*, name: str, email: str | None = None, phone: str | None = None) -> NewCustomer:
    """The customer an agent names, if intake can know them: a name, and an email address or
    a phone number (with digits) to find or file them by."""
    problems: dict[str, str] = {}
    name = name.strip()
    if not name:
        problems["name"] = "a customer needs a name"
    email = (email or "").strip() or None
    if email is not None:
        local, at, domain = email.rpartition("@")
        if not (at and local and domain):
            problems["email"] = "not an email address"
    phone = (phone or "").strip() or None
    if phone is not None and not any(ch in "0123456789" for ch in phone):
        problems["phone"] = "a phone number needs digits"
    if email is None and phone is None:
        problems["email"] = "give an email address or a phone number to know the customer by"
    if problems:
        raise CaseValidationError(
            "the customer cannot be identified: "
            + "; ".join(f"{where}: {why}" for where, why in problems.items()),
            members={
                "errors": [
                    {"loc": ["body", "customer", where], "msg": why, "type": "customer"}
                    for where, why in problems.items()
                ]
            },
        )
    return NewCustomer(name=name, email=email, phone=phone)
