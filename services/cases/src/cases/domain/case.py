"""The case aggregate: a customer's request, the work logged on it and how it ended.

Commands change the case and return the events that describe the change; a command that
changes nothing returns no events. Which status may follow which is the table
``ALLOWED_TRANSITIONS``; each closing or reopening status change has its own command
(``resolve``, ``cancel``, ``reopen``), the working statuses go through ``change_status``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from uuid import UUID

from cases.domain.errors import (
    CaseClosedError,
    CaseValidationError,
    InvalidTransitionError,
)
from cases.domain.events import (
    ActivityLogged,
    CaseCancelled,
    CaseEscalated,
    CaseEvent,
    CaseOpened,
    CaseReopened,
    CaseResolved,
    CaseStatusChanged,
    CaseUpdated,
)
from cases.domain.numbers import normalize_case_number
from cases.domain.values import ActivityKind, CaseStatus, Channel, Priority

_NEW = CaseStatus.NEW
_IN_PROGRESS = CaseStatus.IN_PROGRESS
_ON_HOLD = CaseStatus.ON_HOLD
_WAITING = CaseStatus.WAITING_FOR_CUSTOMER
_RESOLVED = CaseStatus.RESOLVED
_CANCELLED = CaseStatus.CANCELLED

ALLOWED_TRANSITIONS: Mapping[CaseStatus, frozenset[CaseStatus]] = MappingProxyType(
    {
        _NEW: frozenset({_IN_PROGRESS, _ON_HOLD, _WAITING, _RESOLVED, _CANCELLED}),
        _IN_PROGRESS: frozenset({_ON_HOLD, _WAITING, _RESOLVED, _CANCELLED}),
        _ON_HOLD: frozenset({_IN_PROGRESS, _WAITING, _RESOLVED, _CANCELLED}),
        _WAITING: frozenset({_IN_PROGRESS, _ON_HOLD, _RESOLVED, _CANCELLED}),
        # A closed case only comes back to work by being reopened.
        _RESOLVED: frozenset({_IN_PROGRESS}),
        _CANCELLED: frozenset({_IN_PROGRESS}),
    }
)
"""For each status, the statuses a case may move to next."""

WORKING_STATUSES: frozenset[CaseStatus] = frozenset({_IN_PROGRESS, _ON_HOLD, _WAITING})
"""The statuses ``change_status`` moves a case between."""


def can_transition(current: CaseStatus, target: CaseStatus) -> bool:
    """Whether a case in `current` status may move to `target`."""
    return target in ALLOWED_TRANSITIONS[current]


@dataclass(frozen=True)
class Customer:
    """Who the case is for: a contact, and the account it belongs to when known."""

    contact_id: UUID
    account_id: UUID | None = None


@dataclass(frozen=True, kw_only=True)
class Activity:
    """A finished piece of work on a case, with the minutes it took."""

    activity_id: UUID
    kind: ActivityKind
    subject: str
    duration_minutes: int
    billable: bool
    performed_by: UUID | None
    logged_at: datetime


@dataclass(frozen=True, kw_only=True)
class Resolution:
    """How a case was resolved, and the time spent on it."""

    resolution_type: str
    summary: str
    billable_minutes: int
    total_minutes: int
    resolved_by: UUID | None
    resolved_at: datetime


@dataclass(eq=False, kw_only=True)
class Case:
    """A customer's request worked by the service desk, from opening to resolution."""

    case_id: UUID
    number: str
    channel: Channel
    customer: Customer
    subject: str
    description: str
    request_type: str | None
    parameters: dict[str, str]
    priority: Priority
    status: CaseStatus
    opened_at: datetime
    activities: list[Activity] = field(default_factory=list)
    resolution: Resolution | None = None
    cancellation_reason: str | None = None
    reopen_count: int = 0
    escalation_level: int = 0
    entitlement_id: UUID | None = None

    @property
    def is_open(self) -> bool:
        """Whether the case is still being worked (neither resolved nor cancelled)."""
        return not self.status.is_closed

    @property
    def billable_minutes(self) -> int:
        """Minutes of billable work logged on the case."""
        return sum(a.duration_minutes for a in self.activities if a.billable)

    @property
    def total_minutes(self) -> int:
        """Minutes of all work logged on the case, billable or not."""
        return sum(a.duration_minutes for a in self.activities)

    def update_details(
        self,
        *,
        now: datetime,
        subject: str | None = None,
        description: str | None = None,
        request_type: str | None = None,
        parameters: Mapping[str, str] | None = None,
        priority: Priority | None = None,
    ) -> list[CaseEvent]:
        """Correct what the case is about; arguments left as None stay as they are."""
        self._require_open()
        _require_aware(now)
        new_subject = self.subject if subject is None else _required_text(subject, "subject")
        new_description = self.description if description is None else description
        new_type = self.request_type if request_type is None else _request_type(request_type)
        new_parameters = self.parameters if parameters is None else _parameters(parameters)
        new_priority = self.priority if priority is None else priority
        changed = tuple(
            name
            for name, before, after in (
                ("subject", self.subject, new_subject),
                ("description", self.description, new_description),
                ("request_type", self.request_type, new_type),
                ("parameters", self.parameters, new_parameters),
                ("priority", self.priority, new_priority),
            )
            if before != after
        )
        if not changed:
            return []
        self.subject = new_subject
        self.description = new_description
        self.request_type = new_type
        self.parameters = dict(new_parameters)
        self.priority = new_priority
        return [
            CaseUpdated(
                case_id=self.case_id,
                occurred_at=now,
                changed=changed,
                subject=self.subject,
                description=self.description,
                request_type=self.request_type,
                parameters=dict(self.parameters),
                priority=self.priority,
            )
        ]

    def change_status(
        self, status: CaseStatus, *, now: datetime, reason: str | None = None
    ) -> list[CaseEvent]:
        """Move an open case to another working status (in progress, on hold, waiting)."""
        self._require_open()
        _require_aware(now)
        why = None if reason is None else reason.strip() or None
        if status == self.status:
            return []
        if status not in WORKING_STATUSES:
            raise InvalidTransitionError(
                f"change_status cannot move a case to {status}; "
                "resolve or cancel a case with their own commands"
            )
        self._require_transition(status)
        previous, self.status = self.status, status
        return [
            CaseStatusChanged(
                case_id=self.case_id,
                occurred_at=now,
                previous_status=previous,
                status=status,
                reason=why,
            )
        ]

    def log_activity(
        self,
        *,
        activity_id: UUID,
        kind: ActivityKind,
        duration_minutes: int,
        billable: bool,
        now: datetime,
        subject: str = "",
        performed_by: UUID | None = None,
    ) -> list[CaseEvent]:
        """Record a finished piece of work on an open case."""
        self._require_open()
        _require_aware(now)
        if isinstance(duration_minutes, bool) or duration_minutes < 0:
            raise CaseValidationError(f"duration_minutes must be 0 or more, not {duration_minutes}")
        if any(a.activity_id == activity_id for a in self.activities):
            raise CaseValidationError(f"activity {activity_id} is already logged on this case")
        activity = Activity(
            activity_id=activity_id,
            kind=kind,
            subject=subject.strip(),
            duration_minutes=duration_minutes,
            billable=billable,
            performed_by=performed_by,
            logged_at=now,
        )
        self.activities.append(activity)
        return [
            ActivityLogged(
                case_id=self.case_id,
                occurred_at=now,
                activity_id=activity.activity_id,
                kind=activity.kind,
                subject=activity.subject,
                duration_minutes=activity.duration_minutes,
                billable=activity.billable,
                performed_by=activity.performed_by,
            )
        ]

    def resolve(
        self,
        *,
        resolution_type: str,
        summary: str,
        now: datetime,
        resolved_by: UUID | None = None,
    ) -> list[CaseEvent]:
        """Close the case as resolved; billable time is the sum of its billable activities."""
        self._require_open()
        _require_aware(now)
        self._require_transition(_RESOLVED)
        resolution = Resolution(
            resolution_type=_required_text(resolution_type, "resolution_type"),
            summary=_required_text(summary, "summary"),
            billable_minutes=self.billable_minutes,
            total_minutes=self.total_minutes,
            resolved_by=resolved_by,
            resolved_at=now,
        )
        previous, self.status, self.resolution = self.status, _RESOLVED, resolution
        return [
            CaseResolved(
                case_id=self.case_id,
                occurred_at=now,
                previous_status=previous,
                resolution_type=resolution.resolution_type,
                summary=resolution.summary,
                billable_minutes=resolution.billable_minutes,
                total_minutes=resolution.total_minutes,
                resolved_by=resolved_by,
                entitlement_id=self.entitlement_id,
            )
        ]

    def cancel(self, reason: str, *, now: datetime) -> list[CaseEvent]:
        """Close the case without a resolution, saying why."""
        self._require_open()
        _require_aware(now)
        text = _required_text(reason, "reason")
        self._require_transition(_CANCELLED)
        previous, self.status, self.cancellation_reason = self.status, _CANCELLED, text
        return [
            CaseCancelled(
                case_id=self.case_id, occurred_at=now, previous_status=previous, reason=text
            )
        ]

    def reopen(self, reason: str, *, now: datetime) -> list[CaseEvent]:
        """Take a resolved or cancelled case up again; it goes back to in progress."""
        _require_aware(now)
        text = _required_text(reason, "reason")
        if self.is_open:
            raise InvalidTransitionError(
                f"case {self.number} is {self.status}; only resolved or cancelled cases reopen"
            )
        self._require_transition(_IN_PROGRESS)
        previous = self.status
        self.status = _IN_PROGRESS
        self.resolution = None
        self.cancellation_reason = None
        self.reopen_count += 1
        return [
            CaseReopened(
                case_id=self.case_id,
                occurred_at=now,
                previous_status=previous,
                reason=text,
                reopen_count=self.reopen_count,
            )
        ]

    def escalate(
        self, reason: str, *, now: datetime, escalated_to: UUID | None = None
    ) -> list[CaseEvent]:
        """Raise an open case one escalation level, saying why and optionally to whom."""
        self._require_open()
        _require_aware(now)
        text = _required_text(reason, "reason")
        self.escalation_level += 1
        return [
            CaseEscalated(
                case_id=self.case_id,
                occurred_at=now,
                reason=text,
                level=self.escalation_level,
                escalated_to=escalated_to,
            )
        ]

    def _require_open(self) -> None:
        if not self.is_open:
            raise CaseClosedError(f"case {self.number} is {self.status}; reopen it first")

    def _require_transition(self, target: CaseStatus) -> None:
        if not can_transition(self.status, target):
            raise InvalidTransitionError(
                f"case {self.number} cannot move from {self.status} to {target}"
            )


def open_case(
    *,
    case_id: UUID,
    number: str,
    channel: Channel,
    customer: Customer,
    subject: str,
    description: str,
    now: datetime,
    request_type: str | None = None,
    parameters: Mapping[str, str] | None = None,
    priority: Priority = Priority.NORMAL,
    entitlement_id: UUID | None = None,
) -> tuple[Case, list[CaseEvent]]:
    """Open a new case for a customer's request."""
    _require_aware(now)
    case = Case(
        case_id=case_id,
        number=normalize_case_number(number),
        channel=channel,
        customer=customer,
        subject=_required_text(subject, "subject"),
        description=description,
        request_type=None if request_type is None else _request_type(request_type),
        parameters=_parameters(parameters or {}),
        priority=priority,
        status=_NEW,
        opened_at=now,
        entitlement_id=entitlement_id,
    )
    opened = CaseOpened(
        case_id=case.case_id,
        occurred_at=now,
        number=case.number,
        channel=case.channel,
        contact_id=customer.contact_id,
        account_id=customer.account_id,
        subject=case.subject,
        description=case.description,
        request_type=case.request_type,
        parameters=dict(case.parameters),
        priority=case.priority,
        entitlement_id=case.entitlement_id,
    )
    return case, [opened]


def _require_aware(now: datetime) -> None:
    # Naive datetimes would silently shift by the server's offset once stored.
    if now.tzinfo is None or now.utcoffset() is None:
        raise CaseValidationError("now must be a timezone-aware datetime")


def _required_text(value: str, name: str) -> str:
    text = value.strip()
    if not text:
        raise CaseValidationError(f"{name} must not be blank")
    return text


def _request_type(code: str) -> str:
    return _required_text(code, "request_type")


def _parameters(parameters: Mapping[str, str]) -> dict[str, str]:
    if any(not key.strip() for key in parameters):
        raise CaseValidationError("parameter names must not be blank")
    return dict(parameters)
