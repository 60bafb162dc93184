"""A customer's history: their interactions and intake's copy of their cases, built from the
cases service's events in whatever order they come."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from uuid import UUID

_UNKNOWN = ""
"""What the copy holds of a field no event has told yet."""

CLOSED_STATUSES = frozenset({"resolved", "cancelled"})
"""The statuses of a case that is no longer worked (it is not among the open cases)."""


@dataclass(frozen=True, kw_only=True)
class HistoryEntry:
    """An interaction with the customer, or a case of theirs, in their history."""

    kind: str
    """`interaction` or `case`."""
    entry_id: UUID
    at: datetime
    channel: str | None
    subject: str
    number: str | None = None
    """The case's number; for an interaction, the case it follows up, if any."""
    status: str | None = None
    opened_at: datetime | None = None
    resolved_at: datetime | None = None
    closed_at: datetime | None = None


@dataclass(frozen=True, kw_only=True)
class CaseSummary:
    """What intake knows of one case; `updated_at` is the moment of the last event applied,
    an empty subject or status one not known yet."""

    case_id: UUID
    number: str
    updated_at: datetime
    contact_id: UUID | None = None
    account_id: UUID | None = None
    channel: str | None = None
    subject: str = _UNKNOWN
    status: str = _UNKNOWN
    opened_at: datetime | None = None
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    entitlement_id: UUID | None = None
    not_entitled: str | None = None


@dataclass(frozen=True, kw_only=True)
class CaseFacts:
    """What one event of the cases service tells about a case; None: it does not say."""

    case_id: UUID
    number: str
    occurred_at: datetime
    contact_id: UUID | None = None
    account_id: UUID | None = None
    channel: str | None = None
    opened_at: datetime | None = None
    subject: str | None = None
    status: str | None = None
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    ends: bool = False
    """The status it sets also sets (or clears) when the case was resolved and closed."""
    entitlement: tuple[UUID | None, str | None] | None = None
    """The covering contract line and why none covers it, when the event says."""


def project_case(held: CaseSummary | None, facts: CaseFacts) -> CaseSummary | None:
    """The case as intake knows it once `facts` are applied; None if they change nothing.

    Events may come in any order. One not older than the last applied sets what it says; an
    older one only fills what is not known yet (the contact, account, channel and opening,
    never changing; a subject or status when there is none; the entitlement when there is
    none), so a late `case.opened` never takes a case back to `new`. The copy keeps one moment
    per case: a change older than it is not applied to what is known already, even when that
    came from an older event still.
    """
    base = held or CaseSummary(
        case_id=facts.case_id, number=facts.number, updated_at=facts.occurred_at
    )
    newer = held is None or facts.occurred_at >= held.updated_at
    known = replace(
        base,
        number=base.number or facts.number,
        contact_id=base.contact_id or facts.contact_id,
        account_id=base.account_id or facts.account_id,
        channel=base.channel or facts.channel,
        opened_at=base.opened_at or facts.opened_at,
    )
    changes: dict[str, object] = {}
    if facts.subject is not None and (newer or known.subject == _UNKNOWN):
        changes["subject"] = facts.subject
    if facts.status is not None and (newer or known.status == _UNKNOWN):
        changes["status"] = facts.status
        if facts.ends:
            changes["resolved_at"] = facts.resolved_at
            changes["closed_at"] = facts.closed_at
    if facts.entitlement is not None and (
        newer or (known.entitlement_id is None and known.not_entitled is None)
    ):
        changes["entitlement_id"], changes["not_entitled"] = facts.entitlement
    if newer:
        changes["updated_at"] = facts.occurred_at
    projected = replace(known, **changes)  # type: ignore[arg-type]
    return None if projected == held else projected
