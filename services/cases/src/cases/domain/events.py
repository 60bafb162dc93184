"""What happened to a case: the domain events the case commands return.

Each event is a frozen, keyword-only dataclass named in the past tense. It carries what a
reader needs without loading the case: adapters turn them into the published contracts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from cases.domain.values import (
    ActivityKind,
    Attachment,
    CaseStatus,
    Channel,
    DecisionOutcome,
    EscalationTarget,
    Priority,
)


@dataclass(frozen=True, kw_only=True)
class CaseEvent:
    """Something that happened to one case at one moment."""

    case_id: UUID
    occurred_at: datetime


@dataclass(frozen=True, kw_only=True)
class CaseOpened(CaseEvent):
    """A case was opened for a customer's request."""

    number: str
    channel: Channel
    contact_id: UUID
    account_id: UUID | None
    subject: str
    description: str
    request_type: str | None
    parameters: Mapping[str, str]
    priority: Priority
    entitlement_id: UUID | None
    contract_id: UUID | None = None
    not_entitled: str | None = None
    entitlement_rule: str | None = None
    sla_policy_id: UUID | None = None
    calendar_id: UUID | None = None
    first_contact: bool = False
    call_id: str | None = None
    attachments: tuple[Attachment, ...] = ()
    """The files the request came with."""
    related_case_id: UUID | None = None
    """The earlier case this one continues: the customer wrote on it after it was closed."""
    related_number: str | None = None


@dataclass(frozen=True, kw_only=True)
class CaseUpdated(CaseEvent):
    """Details of a case changed; `changed` names the fields, the others hold the new values."""

    changed: tuple[str, ...]
    subject: str
    description: str
    request_type: str | None
    parameters: Mapping[str, str]
    priority: Priority


@dataclass(frozen=True, kw_only=True)
class CaseStatusChanged(CaseEvent):
    """A case moved between working statuses."""

    previous_status: CaseStatus
    status: CaseStatus
    reason: str | None
    by: UUID | None = None
    """The agent who moved it (who took it into work, for in progress), when one did."""


@dataclass(frozen=True, kw_only=True)
class ActivityLogged(CaseEvent):
    """A finished piece of work was recorded on a case."""

    activity_id: UUID
    kind: ActivityKind
    subject: str
    duration_minutes: int
    billable: bool
    performed_by: UUID | None
    description: str = ""
    performed_at: datetime | None = None
    to_customer: bool = False
    """An answer sent to the customer (it meets first response); an internal note is not."""
    attachments: tuple[Attachment, ...] = ()
    """The files sent with it, or received with it."""
    interaction_id: UUID | None = None
    """The customer's interaction it records, when it is a message of theirs."""
    contact_id: UUID | None = None
    """Who wrote, when it is a message from the customer's side."""
    from_other_contact: bool = False
    """The message came from someone other than the case's contact."""
    auto_reply: bool = False
    """The message was an automatic answer (an out-of-office), not the customer writing."""


@dataclass(frozen=True, kw_only=True)
class CaseResolved(CaseEvent):
    """A case was resolved; its billable time is the sum of its billable activities."""

    previous_status: CaseStatus
    resolution_type: str
    summary: str
    billable_minutes: int
    total_minutes: int
    resolved_by: UUID | None
    entitlement_id: UUID | None
    logged_billable_minutes: int | None = None
    """What the billable activities add up to, when the agent corrected the billable time."""
    correction_reason: str | None = None


@dataclass(frozen=True, kw_only=True)
class CaseReopened(CaseEvent):
    """A resolved or cancelled case was taken up again."""

    previous_status: CaseStatus
    reason: str
    reopen_count: int


@dataclass(frozen=True, kw_only=True)
class CaseCancelled(CaseEvent):
    """A case was closed without a resolution."""

    previous_status: CaseStatus
    reason: str


@dataclass(frozen=True, kw_only=True)
class CaseEscalated(CaseEvent):
    """A case was raised one escalation level, to someone in particular if `escalated_to`."""

    reason: str
    level: int
    escalated_to: UUID | None
    target: EscalationTarget = EscalationTarget.NEXT_LEVEL
    escalated_by: UUID | None = None


@dataclass(frozen=True, kw_only=True)
class DecisionRecorded(CaseEvent):
    """A decision of the catalogue was taken on the request, and why."""

    decision_id: UUID
    code: str
    outcome: DecisionOutcome
    text: str
    recorded_by: UUID | None


@dataclass(frozen=True, kw_only=True)
class CaseEntitlementChanged(CaseEvent):
    """An agent chose another contract line for an open case, or cleared it."""

    entitlement_id: UUID | None
    contract_id: UUID | None
    not_entitled: str | None
    rule: str | None
    sla_policy_id: UUID | None
    calendar_id: UUID | None
    by: UUID | None
