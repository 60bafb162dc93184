"""What the SLA service is asked to do: the commands its use cases carry out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from uuid import UUID


@dataclass(frozen=True, kw_only=True)
class StartKpis:
    """A case was opened: start the KPIs of the policy that applies to it.

    `sla_policy_id` and `calendar_id` come from the contract that covers the case, if any:
    its policy applies rather than the one the case's facts would choose, and its calendar,
    when it names one, rather than the policy's own.
    """

    case_id: UUID
    opened_at: datetime
    status: str
    priority: str | None = None
    channel: str | None = None
    request_type: str | None = None
    sla_policy_id: UUID | None = None
    calendar_id: UUID | None = None
    account_id: UUID | None = None
    contract_id: UUID | None = None
    number: str | None = None


@dataclass(frozen=True, kw_only=True)
class RecordStatusChange:
    """A case moved to `status`: waiting statuses stop its KPI clocks, working ones run them."""

    case_id: UUID
    at: datetime
    status: str


@dataclass(frozen=True, kw_only=True)
class RecordFirstResponse:
    """An agent answered the customer for the first time (or again)."""

    case_id: UUID
    at: datetime


@dataclass(frozen=True, kw_only=True)
class RecordCustomerMessage:
    """The customer wrote on the case (not an automatic answer)."""

    case_id: UUID
    at: datetime


@dataclass(frozen=True, kw_only=True)
class RecordResolution:
    """The case was resolved."""

    case_id: UUID
    at: datetime


@dataclass(frozen=True, kw_only=True)
class RecordCancellation:
    """The case was cancelled."""

    case_id: UUID
    at: datetime


@dataclass(frozen=True, kw_only=True)
class RecordReopening:
    """The resolved or cancelled case was opened again."""

    case_id: UUID
    at: datetime


@dataclass(frozen=True, kw_only=True)
class ReEvaluate:
    """Facts the policy was chosen on changed: a new priority or request type (given when
    changed), or another contract (`contract_changed`, with the contract's policy and calendar,
    all None when the case lost its contract). `reason` says what changed."""

    case_id: UUID
    at: datetime
    reason: str
    priority: str | None = None
    request_type: str | None = None
    request_type_changed: bool = False
    contract_changed: bool = False
    contract_id: UUID | None = None
    sla_policy_id: UUID | None = None
    calendar_id: UUID | None = None


CaseChange = (
    RecordStatusChange
    | RecordFirstResponse
    | RecordResolution
    | RecordCancellation
    | RecordReopening
)
"""A change to an open case that moves its KPIs."""


@dataclass(frozen=True, kw_only=True)
class CreateCalendar:
    """Add a business-hours calendar.

    `week` maps weekday numbers (0 is Monday) to working hours written "HH:MM-HH:MM";
    missing weekdays are closed. `special_days` replace the weekly hours of their date.
    """

    name: str
    time_zone: str
    week: Mapping[int, Sequence[str]]
    holidays: Sequence[date] = ()
    special_days: Mapping[date, Sequence[str]] = field(default_factory=dict)
