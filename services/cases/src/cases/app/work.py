"""Use cases of an agent working a case: edit it, move it, log work, answer, decide, close.

Each loads the case locked for the change, checks the version the caller read when they say
which, lets the domain decide, and stores the case, its events and the notifications they
call for in one unit of work. A command that changes nothing stores nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID, uuid4, uuid5

import structlog

from cases.app.contracts import (
    chosen_coverage,
    contract_from_decision,
    draw_for_resolution,
    restore_for_reopening,
)
from cases.app.ports import CasesUnitOfWork
from cases.domain.case import Activity, Case, Escalation, RecordedDecision
from cases.domain.errors import CaseNotFoundError, CaseValidationError, StaleCaseError
from cases.domain.events import CaseEvent
from cases.domain.notifications import notifications_for
from cases.domain.requests import checked_decision, checked_parameters
from cases.domain.values import ActivityKind, Attachment, EscalationTarget, Priority

NewId = Callable[[], UUID]

log = structlog.get_logger(__name__)


@dataclass(frozen=True, kw_only=True)
class CaseCommand:
    """Something an agent does to one case; `expected_version` is the version they read."""

    case_id: UUID
    agent_id: UUID
    expected_version: int | None = None


@dataclass(frozen=True, kw_only=True)
class UpdateCase(CaseCommand):
    """Correct what the case is about; fields left None stay as they are."""

    subject: str | None = None
    description: str | None = None
    request_type: str | None = None
    parameters: dict[str, str] | None = None
    priority: Priority | None = None


@dataclass(frozen=True, kw_only=True)
class AcceptCase(CaseCommand):
    """The agent takes the case into work."""


@dataclass(frozen=True, kw_only=True)
class MoveCase(CaseCommand):
    """Put the case on hold, wait for the customer, or resume work."""

    step: str
    reason: str | None = None


@dataclass(frozen=True, kw_only=True)
class LogActivity(CaseCommand):
    """Record a finished piece of work on the case."""

    kind: ActivityKind
    subject: str
    description: str = ""
    performed_by: UUID | None = None
    performed_at: datetime | None = None
    duration_minutes: int = 0
    billable: bool = False
    attachments: tuple[Attachment, ...] = ()
    """Files the agent put in intake's keeping first."""


@dataclass(frozen=True, kw_only=True)
class ReplyToCustomer(CaseCommand):
    """Answer the customer."""

    text: str
    duration_minutes: int = 0
    billable: bool = False
    attachments: tuple[Attachment, ...] = ()
    """Files sent with the answer, which the agent put in intake's keeping first."""


@dataclass(frozen=True, kw_only=True)
class RecordDecision(CaseCommand):
    """Take a decision of the catalogue on the request."""

    code: str
    text: str = ""


@dataclass(frozen=True, kw_only=True)
class ResolveCase(CaseCommand):
    """Resolve the case with a decision of the catalogue; optionally correct the billable time."""

    code: str
    text: str
    billable_minutes: int | None = None
    correction_reason: str | None = None


@dataclass(frozen=True, kw_only=True)
class CancelCase(CaseCommand):
    """Close the case without a resolution."""

    reason: str


@dataclass(frozen=True, kw_only=True)
class ReopenCase(CaseCommand):
    """Take a resolved or cancelled case up again."""

    reason: str


@dataclass(frozen=True, kw_only=True)
class ChangeEntitlement(CaseCommand):
    """Put the case under another contract line, or (None) under none."""

    line_id: UUID | None


@dataclass(frozen=True, kw_only=True)
class EscalateCase(CaseCommand):
    """Raise the case to a manager with the customer's claim."""

    target: EscalationTarget
    claim: str
    manager_id: UUID


async def update_case(
    cmd: UpdateCase, *, uow: CasesUnitOfWork, now: datetime, new_id: NewId = uuid4
) -> Case:
    """Correct the subject, description, request type and answers, or priority of a case."""
    async with uow:
        case = await _load(cmd, uow=uow)
        parameters = cmd.parameters
        if cmd.request_type is not None or cmd.parameters is not None:
            code = cmd.request_type if cmd.request_type is not None else case.request_type
            if code is None:
                raise CaseValidationError("parameters are the answers of a request type; name it")
            answers = cmd.parameters if cmd.parameters is not None else case.parameters
            # A case keeps the type it has even once the catalogue stops offering it.
            parameters = checked_parameters(
                await uow.catalogue.request_type(code),
                code,
                answers,
                must_be_offered=code != case.request_type,
            )
        events = case.update_details(
            now=now,
            subject=cmd.subject,
            description=cmd.description,
            request_type=cmd.request_type,
            parameters=parameters,
            priority=cmd.priority,
        )
        await _store(case, events, uow=uow, new_id=new_id)
        return case


async def accept_case(
    cmd: AcceptCase, *, uow: CasesUnitOfWork, now: datetime, new_id: NewId = uuid4
) -> Case:
    """The calling agent takes the case into work."""
    async with uow:
        case = await _load(cmd, uow=uow)
        await _store(case, case.accept(cmd.agent_id, now=now), uow=uow, new_id=new_id)
        return case


async def move_case(
    cmd: MoveCase, *, uow: CasesUnitOfWork, now: datetime, new_id: NewId = uuid4
) -> Case:
    """Put the case on hold, make it wait for the customer, or resume work on it."""
    async with uow:
        case = await _load(cmd, uow=uow)
        step = {"hold": case.hold, "wait": case.wait, "resume": case.resume}[cmd.step]
        events = step(now=now, reason=cmd.reason, by=cmd.agent_id)
        await _store(case, events, uow=uow, new_id=new_id)
        return case


async def log_activity(
    cmd: LogActivity, *, uow: CasesUnitOfWork, now: datetime, new_id: NewId = uuid4
) -> tuple[Case, Activity]:
    """Record work on the case; its time totals follow."""
    async with uow:
        case = await _load(cmd, uow=uow)
        events = case.log_activity(
            activity_id=new_id(),
            kind=cmd.kind,
            duration_minutes=cmd.duration_minutes,
            billable=cmd.billable,
            now=now,
            subject=cmd.subject,
            description=cmd.description,
            performed_by=cmd.performed_by or cmd.agent_id,
            performed_at=cmd.performed_at or now,
            attachments=cmd.attachments,
        )
        await _store(case, events, uow=uow, new_id=new_id)
        return case, case.activities[-1]


async def reply_to_customer(
    cmd: ReplyToCustomer, *, uow: CasesUnitOfWork, now: datetime, new_id: NewId = uuid4
) -> tuple[Case, Activity]:
    """Send the customer an answer (intake delivers it) and log it as work on the case."""
    async with uow:
        case = await _load(cmd, uow=uow)
        events = case.reply(
            cmd.text,
            activity_id=new_id(),
            now=now,
            performed_by=cmd.agent_id,
            duration_minutes=cmd.duration_minutes,
            billable=cmd.billable,
            attachments=cmd.attachments,
        )
        await _store(case, events, uow=uow, new_id=new_id)
        return case, case.activities[-1]


async def record_decision(
    cmd: RecordDecision, *, uow: CasesUnitOfWork, now: datetime, new_id: NewId = uuid4
) -> tuple[Case, RecordedDecision]:
    """Take a decision of the catalogue on the case's request."""
    async with uow:
        case = await _load(cmd, uow=uow)
        decision = checked_decision(await uow.catalogue.decision(cmd.code), cmd.code, cmd.text)
        events = case.record_decision(
            decision, decision_id=new_id(), text=cmd.text, now=now, recorded_by=cmd.agent_id
        )
        await contract_from_decision(
            case, decision, uow=uow, now=now, by=cmd.agent_id, new_id=new_id
        )
        await _store(case, events, uow=uow, new_id=new_id)
        return case, case.decisions[-1]


async def resolve_case(
    cmd: ResolveCase, *, uow: CasesUnitOfWork, now: datetime, new_id: NewId = uuid4
) -> Case:
    """Resolve the case with a decision of the catalogue and the time it took."""
    async with uow:
        case = await _load(cmd, uow=uow)
        decision = checked_decision(await uow.catalogue.decision(cmd.code), cmd.code, cmd.text)
        events = case.resolve(
            resolution_type=decision.code,
            summary=cmd.text,
            now=now,
            resolved_by=cmd.agent_id,
            billable_minutes=cmd.billable_minutes,
            correction_reason=cmd.correction_reason,
        )
        await contract_from_decision(
            case, decision, uow=uow, now=now, by=cmd.agent_id, new_id=new_id
        )
        await draw_for_resolution(case, uow=uow, now=now, by=cmd.agent_id, new_id=new_id)
        await _store(case, events, uow=uow, new_id=new_id)
        return case


async def cancel_case(
    cmd: CancelCase, *, uow: CasesUnitOfWork, now: datetime, new_id: NewId = uuid4
) -> Case:
    """Close the case without a resolution."""
    async with uow:
        case = await _load(cmd, uow=uow)
        await _store(case, case.cancel(cmd.reason, now=now), uow=uow, new_id=new_id)
        return case


async def reopen_case(
    cmd: ReopenCase, *, uow: CasesUnitOfWork, now: datetime, new_id: NewId = uuid4
) -> Case:
    """Take a resolved or cancelled case back into work."""
    async with uow:
        case = await _load(cmd, uow=uow)
        events = case.reopen(cmd.reason, now=now)
        await restore_for_reopening(
            case, uow=uow, now=now, by=cmd.agent_id, reason=cmd.reason.strip(), new_id=new_id
        )
        await _store(case, events, uow=uow, new_id=new_id)
        return case


async def change_entitlement(
    cmd: ChangeEntitlement, *, uow: CasesUnitOfWork, now: datetime, new_id: NewId = uuid4
) -> Case:
    """Put an open case under another line of its account's contracts, or under none; its
    resolution draws on that line."""
    async with uow:
        case = await _load(cmd, uow=uow)
        coverage = await chosen_coverage(case, cmd.line_id, uow=uow, now=now)
        events = case.change_entitlement(coverage, now=now, by=cmd.agent_id)
        await _store(case, events, uow=uow, new_id=new_id)
        return case


async def escalate_case(
    cmd: EscalateCase, *, uow: CasesUnitOfWork, now: datetime, new_id: NewId = uuid4
) -> tuple[Case, Escalation]:
    """Raise the case to a manager, who is told, as is the agent it is assigned to."""
    async with uow:
        case = await _load(cmd, uow=uow)
        events = case.escalate(
            cmd.claim,
            now=now,
            escalated_to=cmd.manager_id,
            target=cmd.target,
            escalated_by=cmd.agent_id,
            escalation_id=new_id(),
        )
        assignee = await uow.cases.assignee(case.case_id)
        await _store(case, events, uow=uow, new_id=new_id, assignee_id=assignee)
        return case, case.escalations[-1]


@dataclass(frozen=True, kw_only=True)
class EscalateOverdue:
    """SLA's escalation ladder reached a step for a breached KPI of the case (`kpi.escalated`):
    raise the case a level, to `manager_id` when SLA found someone."""

    case_id: UUID
    kpi_instance_id: UUID
    step: int
    target: EscalationTarget
    manager_id: UUID | None
    reason: str
    at: datetime


async def escalate_overdue(
    cmd: EscalateOverdue, *, uow: CasesUnitOfWork, new_id: NewId = uuid4
) -> Escalation | None:
    """Record an escalation SLA asked for, told to the manager and the assignee like one an
    agent raised. The same step asked for again (a replay) records nothing twice; a case that
    closed meanwhile, or that this service does not have, is not escalated."""
    escalation_id = uuid5(cmd.kpi_instance_id, f"escalation-step-{cmd.step}")
    async with uow:
        case = await uow.cases.get(cmd.case_id, for_update=True)
        if case is None or not case.is_open:
            log.info(
                "cases.overdue_escalation_skipped",
                case_id=str(cmd.case_id),
                reason="unknown case" if case is None else f"case is {case.status}",
            )
            return None
        if any(e.escalation_id == escalation_id for e in case.escalations):
            return None
        events = case.escalate(
            cmd.reason,
            now=cmd.at,
            escalated_to=cmd.manager_id,
            target=cmd.target,
            escalation_id=escalation_id,
        )
        assignee = await uow.cases.assignee(case.case_id)
        await _store(case, events, uow=uow, new_id=new_id, assignee_id=assignee)
        return case.escalations[-1]


async def _load(cmd: CaseCommand, *, uow: CasesUnitOfWork) -> Case:
    case = await uow.cases.get(cmd.case_id, for_update=True)
    if case is None:
        raise CaseNotFoundError(f"There is no case {cmd.case_id}.")
    if cmd.expected_version is not None and cmd.expected_version != case.version:
        raise StaleCaseError(
            f"case {case.number} is at version {case.version}, not {cmd.expected_version}; "
            "read it again",
            current_version=case.version,
        )
    return case


async def _store(
    case: Case,
    events: Sequence[CaseEvent],
    *,
    uow: CasesUnitOfWork,
    new_id: NewId,
    assignee_id: UUID | None = None,
) -> None:
    if not events:
        return  # nothing changed: the version stays, nothing is published
    await uow.cases.save(case)
    uow.emit(case, events)
    for notification in notifications_for(case, events, new_id=new_id, assignee_id=assignee_id):
        uow.notify(notification)
    await uow.commit()
