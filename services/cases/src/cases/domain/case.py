"""The case aggregate: a customer's request, the work logged on it and how it ended.

Commands change the case and return the events that describe the change; a command that
changes nothing returns no events. Which status may follow which is the table
``ALLOWED_TRANSITIONS``; each closing or reopening status change has its own command
(``resolve``, ``cancel``, ``reopen``), the working statuses go through ``change_status``.
What a customer's message on an existing case does to it (added, reopening it, or a new case
that refers to it) is ``follow_up``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from types import MappingProxyType
from uuid import UUID, uuid5

from cases.domain.catalogue import Decision
from cases.domain.contracts import Coverage
from cases.domain.errors import (
    CaseClosedError,
    CaseValidationError,
    InvalidTransitionError,
)
from cases.domain.events import (
    ActivityLogged,
    CaseCancelled,
    CaseEntitlementChanged,
    CaseEscalated,
    CaseEvent,
    CaseOpened,
    CaseReopened,
    CaseResolved,
    CaseStatusChanged,
    CaseUpdated,
    DecisionRecorded,
)
from cases.domain.numbers import normalize_case_number
from cases.domain.values import (
    ActivityKind,
    Attachment,
    CaseStatus,
    Channel,
    DecisionOutcome,
    EscalationTarget,
    Priority,
)

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


MAX_ACTIVITY_MINUTES = 24 * 60
"""The longest piece of work one activity may record: a day."""

DEFAULT_REOPEN_WINDOW = timedelta(days=7)
"""How long after its resolution a customer's message still reopens a case."""

CUSTOMER_WROTE_AGAIN = "The customer wrote again"
"""Why a case reopens when the customer writes on it after its resolution."""


def can_transition(current: CaseStatus, target: CaseStatus) -> bool:
    """Whether a case in `current` status may move to `target`."""
    return target in ALLOWED_TRANSITIONS[current]


# The step (the agent's command) that moves a case from a status to a target status.
_STEP_ORDER = ("accept", "resume", "hold", "wait", "resolve", "cancel", "reopen")


def _step(current: CaseStatus, target: CaseStatus) -> str:
    if target is _IN_PROGRESS:
        if current is _NEW:
            return "accept"
        return "reopen" if current.is_closed else "resume"
    return {_ON_HOLD: "hold", _WAITING: "wait", _RESOLVED: "resolve", _CANCELLED: "cancel"}[target]


def next_steps(status: CaseStatus) -> tuple[str, ...]:
    """The steps an agent may take on a case in `status`: accept, hold, wait, resume, ..."""
    steps = {_step(status, target) for target in ALLOWED_TRANSITIONS[status]}
    if status is _NEW:
        # A new case is accepted (taken into work) before it can be put on hold or wait.
        steps -= {"hold", "wait"}
    return tuple(step for step in _STEP_ORDER if step in steps)


def reply_kind(channel: Channel) -> ActivityKind:
    """The kind of activity an answer to a customer who came by `channel` is."""
    return {
        Channel.PHONE: ActivityKind.CALL,
        Channel.LETTER: ActivityKind.LETTER,
        Channel.VISIT: ActivityKind.MEETING,
    }.get(channel, ActivityKind.EMAIL)


def message_kind(channel: Channel) -> ActivityKind:
    """The kind of activity a customer's message that came by `channel` is logged as."""
    return {
        Channel.EMAIL: ActivityKind.EMAIL,
        Channel.PHONE: ActivityKind.CALL,
        Channel.LETTER: ActivityKind.LETTER,
        Channel.VISIT: ActivityKind.MEETING,
    }.get(channel, ActivityKind.NOTE)


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
    performed_at: datetime | None = None
    description: str = ""
    to_customer: bool = False
    attachments: tuple[Attachment, ...] = ()
    """The files sent with it, or received with it."""
    interaction_id: UUID | None = None
    """The customer's interaction it records, when it is a message of theirs."""
    contact_id: UUID | None = None
    """Who wrote, when it is a message from the customer's side."""
    from_other_contact: bool = False
    """The message came from someone other than the case's contact (it is kept all the same)."""
    auto_reply: bool = False
    """The message was an automatic answer (an out-of-office), not the customer writing."""


@dataclass(frozen=True, kw_only=True)
class Resolution:
    """How a case was resolved, and the time spent on it.

    ``billable_minutes`` is what is billed; when the agent corrected it,
    ``logged_billable_minutes`` is what the billable activities added up to, and
    ``correction_reason`` says why they differ.
    """

    resolution_type: str
    summary: str
    billable_minutes: int
    total_minutes: int
    resolved_by: UUID | None
    resolved_at: datetime
    logged_billable_minutes: int | None = None
    correction_reason: str | None = None


@dataclass(frozen=True, kw_only=True)
class RecordedDecision:
    """A decision of the catalogue taken on a case: which, why, by whom and when."""

    decision_id: UUID
    code: str
    outcome: DecisionOutcome
    text: str
    recorded_by: UUID | None
    recorded_at: datetime


@dataclass(frozen=True, kw_only=True)
class Escalation:
    """A case raised to a manager: where, to whom, the customer's claim, by whom, when."""

    escalation_id: UUID
    level: int
    target: EscalationTarget
    manager_id: UUID | None
    claim: str
    escalated_by: UUID | None
    escalated_at: datetime


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
    """The contract line that covers the case, which its resolution draws on."""
    contract_id: UUID | None = None
    not_entitled: str | None = None
    """Why no line covers the case, when none does."""
    entitlement_rule: str | None = None
    """How the line was chosen when several applied, or that an agent chose it."""
    version: int = 1
    """Raised by every stored change; the HTTP API's ETag."""
    first_contact: bool = False
    language: str | None = None
    opened_by: UUID | None = None
    """The agent who took the request down, when one did (not for requests from intake)."""
    call_id: str | None = None
    """The telephone call during which the case was opened."""
    accepted_by: UUID | None = None
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    reopened_at: datetime | None = None
    decisions: list[RecordedDecision] = field(default_factory=list)
    escalations: list[Escalation] = field(default_factory=list)
    attachments: tuple[Attachment, ...] = ()
    """The files the request came with."""
    related_case_id: UUID | None = None
    """The earlier case this one continues: the customer wrote on it after it was closed."""
    related_number: str | None = None

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

    @property
    def call_minutes(self) -> int:
        """Minutes spent on the telephone for the case."""
        return sum(a.duration_minutes for a in self.activities if a.kind is ActivityKind.CALL)

    @property
    def billed_minutes(self) -> int:
        """What the case bills: the resolution's figure once resolved, else the logged one."""
        return (
            self.billable_minutes if self.resolution is None else self.resolution.billable_minutes
        )

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
        self,
        status: CaseStatus,
        *,
        now: datetime,
        reason: str | None = None,
        by: UUID | None = None,
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
                "resolve or cancel a case with their own commands",
                status=self.status,
                allowed=next_steps(self.status),
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
                by=by,
            )
        ]

    def accept(self, agent_id: UUID, *, now: datetime) -> list[CaseEvent]:
        """An agent takes a new case into work; it is theirs and in progress."""
        self._require_open()
        if self.status is _IN_PROGRESS and self.accepted_by == agent_id:
            return []  # accepted twice by the same agent: nothing new
        self._require_step("accept", _IN_PROGRESS)
        events = self.change_status(_IN_PROGRESS, now=now, by=agent_id)
        self.accepted_by = agent_id
        return events

    def hold(
        self, *, now: datetime, reason: str | None = None, by: UUID | None = None
    ) -> list[CaseEvent]:
        """Put the case on hold: work waits on something other than the customer."""
        return self._move("hold", _ON_HOLD, now=now, reason=reason, by=by)

    def wait(
        self, *, now: datetime, reason: str | None = None, by: UUID | None = None
    ) -> list[CaseEvent]:
        """Wait for the customer to answer."""
        return self._move("wait", _WAITING, now=now, reason=reason, by=by)

    def resume(
        self, *, now: datetime, reason: str | None = None, by: UUID | None = None
    ) -> list[CaseEvent]:
        """Take a case on hold or waiting for the customer back into work."""
        return self._move("resume", _IN_PROGRESS, now=now, reason=reason, by=by)

    def _move(
        self,
        step: str,
        target: CaseStatus,
        *,
        now: datetime,
        reason: str | None,
        by: UUID | None,
    ) -> list[CaseEvent]:
        self._require_open()
        if self.status is target:
            return []
        self._require_step(step, target)
        return self.change_status(target, now=now, reason=reason, by=by)

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
        description: str = "",
        performed_at: datetime | None = None,
        to_customer: bool = False,
        attachments: Sequence[Attachment] = (),
    ) -> list[CaseEvent]:
        """Record a finished piece of work on an open case (at most a day of it), with the
        files that went with it."""
        self._require_open()
        _require_aware(now)
        if performed_at is not None:
            _require_aware(performed_at)
        if isinstance(duration_minutes, bool) or not 0 <= duration_minutes <= MAX_ACTIVITY_MINUTES:
            raise CaseValidationError(
                f"duration_minutes must be within 0..{MAX_ACTIVITY_MINUTES}, not {duration_minutes}"
            )
        if to_customer and kind is ActivityKind.NOTE:
            raise CaseValidationError("an internal note is never an answer to the customer")
        return self._record(
            Activity(
                activity_id=activity_id,
                kind=kind,
                subject=subject.strip(),
                duration_minutes=duration_minutes,
                billable=billable,
                performed_by=performed_by,
                logged_at=now,
                performed_at=performed_at,
                description=description.strip(),
                to_customer=to_customer,
                attachments=tuple(attachments),
            )
        )

    def add_message(
        self,
        *,
        activity_id: UUID,
        interaction_id: UUID,
        channel: Channel,
        contact_id: UUID,
        subject: str,
        body: str,
        now: datetime,
        attachments: Sequence[Attachment] = (),
        auto_reply: bool = False,
    ) -> list[CaseEvent]:
        """Record what the customer's side wrote on an open case: from its contact, or marked
        as from someone else; an automatic answer is marked as one."""
        self._require_open()
        _require_aware(now)
        return self._record(
            Activity(
                activity_id=activity_id,
                kind=message_kind(channel),
                subject=subject.strip(),
                duration_minutes=0,
                billable=False,
                performed_by=None,
                logged_at=now,
                description=body.strip(),
                attachments=tuple(attachments),
                interaction_id=interaction_id,
                contact_id=contact_id,
                from_other_contact=contact_id != self.customer.contact_id,
                auto_reply=auto_reply,
            )
        )

    def _record(self, activity: Activity) -> list[CaseEvent]:
        if any(a.activity_id == activity.activity_id for a in self.activities):
            raise CaseValidationError(
                f"activity {activity.activity_id} is already logged on this case"
            )
        self.activities.append(activity)
        return [
            ActivityLogged(
                case_id=self.case_id,
                occurred_at=activity.logged_at,
                activity_id=activity.activity_id,
                kind=activity.kind,
                subject=activity.subject,
                duration_minutes=activity.duration_minutes,
                billable=activity.billable,
                performed_by=activity.performed_by,
                description=activity.description,
                performed_at=activity.performed_at,
                to_customer=activity.to_customer,
                attachments=activity.attachments,
                interaction_id=activity.interaction_id,
                contact_id=activity.contact_id,
                from_other_contact=activity.from_other_contact,
                auto_reply=activity.auto_reply,
            )
        ]

    def reply(
        self,
        text: str,
        *,
        activity_id: UUID,
        now: datetime,
        performed_by: UUID | None = None,
        duration_minutes: int = 0,
        billable: bool = False,
        attachments: Sequence[Attachment] = (),
    ) -> list[CaseEvent]:
        """Answer the customer, by the channel they came by, with files if any; the answer is
        logged as work."""
        return self.log_activity(
            activity_id=activity_id,
            kind=reply_kind(self.channel),
            duration_minutes=duration_minutes,
            billable=billable,
            now=now,
            subject=f"Re: {self.subject}",
            description=_required_text(text, "text"),
            performed_by=performed_by,
            to_customer=True,
            attachments=attachments,
        )

    def record_decision(
        self,
        decision: Decision,
        *,
        decision_id: UUID,
        text: str,
        now: datetime,
        recorded_by: UUID | None = None,
    ) -> list[CaseEvent]:
        """Take a decision of the catalogue on the request, saying why."""
        self._require_open()
        _require_aware(now)
        if decision.retired:
            raise CaseValidationError(f"decision {decision.code!r} is retired")
        why = text.strip()
        if decision.requires_text and not why:
            raise CaseValidationError(f"decision {decision.code!r} needs a text saying why")
        recorded = RecordedDecision(
            decision_id=decision_id,
            code=decision.code,
            outcome=decision.outcome,
            text=why,
            recorded_by=recorded_by,
            recorded_at=now,
        )
        self.decisions.append(recorded)
        return [
            DecisionRecorded(
                case_id=self.case_id,
                occurred_at=now,
                decision_id=decision_id,
                code=recorded.code,
                outcome=recorded.outcome,
                text=why,
                recorded_by=recorded_by,
            )
        ]

    def resolve(
        self,
        *,
        resolution_type: str,
        summary: str,
        now: datetime,
        resolved_by: UUID | None = None,
        billable_minutes: int | None = None,
        correction_reason: str | None = None,
    ) -> list[CaseEvent]:
        """Close the case as resolved; billable time is the sum of its billable activities,
        unless the agent corrects it and says why."""
        self._require_open()
        _require_aware(now)
        self._require_transition(_RESOLVED)
        logged = self.billable_minutes
        billed, why = logged, None
        if billable_minutes is not None and billable_minutes != logged:
            if isinstance(billable_minutes, bool) or billable_minutes < 0:
                raise CaseValidationError(
                    f"billable_minutes must be 0 or more, not {billable_minutes}"
                )
            if correction_reason is None or not correction_reason.strip():
                raise CaseValidationError(
                    f"billable_minutes {billable_minutes} differ from the {logged} logged; "
                    "a correction_reason must say why"
                )
            billed, why = billable_minutes, correction_reason.strip()
        resolution = Resolution(
            resolution_type=_required_text(resolution_type, "resolution_type"),
            summary=_required_text(summary, "summary"),
            billable_minutes=billed,
            total_minutes=self.total_minutes,
            resolved_by=resolved_by,
            resolved_at=now,
            logged_billable_minutes=None if why is None else logged,
            correction_reason=why,
        )
        previous, self.status, self.resolution = self.status, _RESOLVED, resolution
        self.resolved_at = self.closed_at = now
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
                logged_billable_minutes=resolution.logged_billable_minutes,
                correction_reason=resolution.correction_reason,
            )
        ]

    def cancel(self, reason: str, *, now: datetime) -> list[CaseEvent]:
        """Close the case without a resolution, saying why."""
        self._require_open()
        _require_aware(now)
        text = _required_text(reason, "reason")
        self._require_transition(_CANCELLED)
        previous, self.status, self.cancellation_reason = self.status, _CANCELLED, text
        self.closed_at = now
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
                f"case {self.number} is {self.status}; only resolved or cancelled cases reopen",
                status=self.status,
                allowed=next_steps(self.status),
            )
        self._require_transition(_IN_PROGRESS)
        previous = self.status
        self.status = _IN_PROGRESS
        self.resolution = None
        self.cancellation_reason = None
        self.resolved_at = self.closed_at = None
        self.reopened_at = now
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

    def change_entitlement(
        self, coverage: Coverage, *, now: datetime, by: UUID | None
    ) -> list[CaseEvent]:
        """Put an open case under another contract line, or under none."""
        self._require_open()
        _require_aware(now)
        if (
            coverage.line_id == self.entitlement_id
            and coverage.not_entitled == self.not_entitled
            and coverage.rule == self.entitlement_rule
        ):
            return []
        self._cover(coverage)
        return [
            CaseEntitlementChanged(
                case_id=self.case_id,
                occurred_at=now,
                entitlement_id=self.entitlement_id,
                contract_id=self.contract_id,
                not_entitled=self.not_entitled,
                rule=self.entitlement_rule,
                sla_policy_id=coverage.sla_policy_id,
                calendar_id=coverage.calendar_id,
                by=by,
            )
        ]

    def _cover(self, coverage: Coverage) -> None:
        self.entitlement_id = coverage.line_id
        self.contract_id = coverage.contract_id
        self.not_entitled = None if coverage.not_entitled is None else coverage.not_entitled.value
        self.entitlement_rule = coverage.rule

    def escalate(
        self,
        reason: str,
        *,
        now: datetime,
        escalated_to: UUID | None = None,
        target: EscalationTarget = EscalationTarget.NEXT_LEVEL,
        escalated_by: UUID | None = None,
        escalation_id: UUID | None = None,
    ) -> list[CaseEvent]:
        """Raise an open case one escalation level, with the customer's claim (`reason`),
        to the next level or the department head, and optionally to a manager in person."""
        self._require_open()
        _require_aware(now)
        text = _required_text(reason, "reason")
        level = self.escalation_level + 1
        escalation = Escalation(
            # Derived when not given, so the same escalation always has the same id.
            escalation_id=escalation_id or uuid5(self.case_id, f"escalation-{level}"),
            level=level,
            target=target,
            manager_id=escalated_to,
            claim=text,
            escalated_by=escalated_by,
            escalated_at=now,
        )
        self.escalation_level = level
        self.escalations.append(escalation)
        return [
            CaseEscalated(
                case_id=self.case_id,
                occurred_at=now,
                reason=text,
                level=level,
                escalated_to=escalated_to,
                target=target,
                escalated_by=escalated_by,
            )
        ]

    def _require_open(self) -> None:
        if not self.is_open:
            raise CaseClosedError(
                f"case {self.number} is {self.status}; reopen it first",
                status=self.status,
                allowed=next_steps(self.status),
            )

    def _require_transition(self, target: CaseStatus) -> None:
        if not can_transition(self.status, target):
            raise InvalidTransitionError(
                f"case {self.number} cannot move from {self.status} to {target}",
                status=self.status,
                allowed=next_steps(self.status),
            )

    def _require_step(self, step: str, target: CaseStatus) -> None:
        # The transition table alone would let "resume" take a new case into work, or
        # "accept" take back a case on hold: each step has its own starting statuses.
        if step not in next_steps(self.status) or not can_transition(self.status, target):
            raise InvalidTransitionError(
                f"case {self.number} is {self.status}; it cannot {step}",
                status=self.status,
                allowed=next_steps(self.status),
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
    coverage: Coverage | None = None,
    language: str | None = None,
    first_contact: bool = False,
    opened_by: UUID | None = None,
    call_id: str | None = None,
    attachments: Sequence[Attachment] = (),
    related: Case | None = None,
) -> tuple[Case, list[CaseEvent]]:
    """Open a new case for a customer's request, with the files it came with; `related` is
    the earlier, closed case it continues, if any."""
    _require_aware(now)
    covered = coverage or Coverage()
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
        entitlement_id=covered.line_id,
        contract_id=covered.contract_id,
        not_entitled=None if covered.not_entitled is None else covered.not_entitled.value,
        entitlement_rule=covered.rule,
        language=(language or "").strip() or None,
        first_contact=first_contact,
        opened_by=opened_by,
        call_id=(call_id or "").strip() or None,
        attachments=tuple(attachments),
        related_case_id=None if related is None else related.case_id,
        related_number=None if related is None else related.number,
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
        contract_id=case.contract_id,
        not_entitled=case.not_entitled,
        entitlement_rule=case.entitlement_rule,
        sla_policy_id=covered.sla_policy_id,
        calendar_id=covered.calendar_id,
        first_contact=case.first_contact,
        call_id=case.call_id,
        attachments=case.attachments,
        related_case_id=case.related_case_id,
        related_number=case.related_number,
    )
    return case, [opened]


class FollowUp(StrEnum):
    """What a customer's message on an existing case does."""

    ADD = "add"
    """The case is open: the message is added to it."""
    REOPEN = "reopen"
    """The case was resolved lately: it reopens and the message is added to it."""
    OPEN_RELATED = "open_related"
    """The case was cancelled, or resolved long ago: a new case opens that refers to it."""
    RECORD = "record"
    """An automatic answer on a closed case: kept against it, and nothing more."""


def follow_up(
    case: Case, *, now: datetime, reopen_window: timedelta, auto_reply: bool = False
) -> FollowUp:
    """What a message on `case` arriving at `now` does: a case resolved no longer than
    `reopen_window` ago reopens, an older or cancelled one is continued by a new case; an
    automatic answer never reopens nor opens anything."""
    _require_aware(now)
    if case.is_open:
        return FollowUp.ADD
    if auto_reply:
        return FollowUp.RECORD
    resolved_at = case.resolved_at or (
        None if case.resolution is None else case.resolution.resolved_at
    )
    if case.status is _RESOLVED and resolved_at is not None and now - resolved_at <= reopen_window:
        return FollowUp.REOPEN
    return FollowUp.OPEN_RELATED


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
