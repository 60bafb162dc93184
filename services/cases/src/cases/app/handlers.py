"""Use cases of the cases service that open cases: load, decide in the domain, record, commit."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID, uuid4

import structlog

from cases.app.contracts import coverage_of
from cases.app.ports import CasesUnitOfWork
from cases.domain.case import Case, Customer
from cases.domain.case import open_case as start_case
from cases.domain.catalogue import RequestType
from cases.domain.errors import (
    CaseNumberError,
    CaseValidationError,
    InvalidParametersError,
    UnknownRequestTypeError,
)
from cases.domain.events import CaseEvent
from cases.domain.new_customers import InteractionRequest, new_customer
from cases.domain.notifications import notifications_for
from cases.domain.numbers import format_case_number, normalize_case_number
from cases.domain.priority import PriorityRule, opening_priority
from cases.domain.requests import checked_parameters
from cases.domain.values import ActivityKind, Channel, Priority

log = structlog.get_logger(__name__)


@dataclass(frozen=True, kw_only=True)
class ReceiveInteraction:
    """A customer's interaction arrived from intake; open a case or add it to its case."""

    interaction_id: UUID
    channel: Channel
    contact_id: UUID
    account_id: UUID | None
    subject: str
    body: str
    request_type: str | None = None
    parameters: dict[str, str] = field(default_factory=dict)
    follow_up_of: str | None = None
    language: str | None = None
    first_contact: bool = False


@dataclass(frozen=True)
class Received:
    """What became of an interaction: the case it belongs to, and whether it opened it."""

    case_id: UUID
    opened: bool


@dataclass(frozen=True, kw_only=True)
class OpenCase:
    """An agent opens a case for a known customer (on the phone, at the desk, from a letter)."""

    channel: Channel
    contact_id: UUID
    account_id: UUID | None
    subject: str
    description: str
    opened_by: UUID
    request_type: str | None = None
    parameters: dict[str, str] = field(default_factory=dict)
    priority: Priority | None = None
    language: str | None = None
    call_id: str | None = None
    """The telephone call the agent is on with the customer, if any."""


@dataclass(frozen=True, kw_only=True)
class OpenCaseForNewCustomer:
    """An agent takes a request from a customer who may not be on file; intake identifies them
    and receives it, and the case opens from what intake publishes."""

    channel: Channel
    name: str
    email: str | None
    phone: str | None
    subject: str
    description: str
    requested_by: UUID
    request_type: str | None = None
    parameters: dict[str, str] = field(default_factory=dict)
    language: str | None = None


_ACTIVITY_OF_CHANNEL = {
    Channel.EMAIL: ActivityKind.EMAIL,
    Channel.PHONE: ActivityKind.CALL,
    Channel.WEB: ActivityKind.NOTE,
    Channel.API: ActivityKind.NOTE,
    Channel.LETTER: ActivityKind.LETTER,
    Channel.VISIT: ActivityKind.MEETING,
}


async def receive_interaction(
    cmd: ReceiveInteraction,
    *,
    uow: CasesUnitOfWork,
    now: datetime,
    priority_rules: Sequence[PriorityRule] = (),
    new_id: Callable[[], UUID] = uuid4,
) -> Received:
    """Open a case for a new request, or add a follow-up to the open case it names."""
    async with uow:
        known = await uow.cases.case_of_interaction(cmd.interaction_id)
        if known is not None:
            return Received(known, opened=False)
        if cmd.follow_up_of:
            try:
                number = normalize_case_number(cmd.follow_up_of)
            except CaseNumberError:
                number = None
            case = await uow.cases.get_by_number(number) if number else None
            if case is not None and case.is_open and case.customer.contact_id == cmd.contact_id:
                events = case.log_activity(
                    activity_id=new_id(),
                    kind=_ACTIVITY_OF_CHANNEL[cmd.channel],
                    duration_minutes=0,
                    billable=False,
                    subject=cmd.subject,
                    now=now,
                )
                await uow.cases.save(case)
                await uow.cases.attach_interaction(
                    interaction_id=cmd.interaction_id,
                    case_id=case.case_id,
                    channel=cmd.channel.value,
                    subject=cmd.subject,
                    at=now,
                )
                uow.emit(case, events)
                assignee = await uow.cases.assignee(case.case_id)
                for notification in notifications_for(
                    case, events, new_id=new_id, assignee_id=assignee
                ):
                    uow.notify(notification)
                await uow.commit()
                return Received(case.case_id, opened=False)
        request_type, parameters = await _request_from_intake(cmd, uow=uow)
        coverage = await coverage_of(
            uow=uow,
            account_id=cmd.account_id,
            contact_id=cmd.contact_id,
            channel=cmd.channel,
            request_type=cmd.request_type,
            now=now,
        )
        case, events = start_case(
            case_id=new_id(),
            number=format_case_number(now.year, await uow.cases.next_sequence()),
            channel=cmd.channel,
            customer=Customer(contact_id=cmd.contact_id, account_id=cmd.account_id),
            subject=cmd.subject,
            description=cmd.body,
            now=now,
            request_type=cmd.request_type,
            parameters=parameters,
            priority=opening_priority(
                requested=None,
                type_default=None if request_type is None else request_type.default_priority,
                request_type=cmd.request_type,
                parameters=parameters,
                channel=cmd.channel,
                rules=priority_rules,
            ),
            language=cmd.language,
            first_contact=cmd.first_contact,
            coverage=coverage,
        )
        await _add(case, events, uow=uow, interaction_id=cmd.interaction_id, new_id=new_id, now=now)
        await uow.commit()
        return Received(case.case_id, opened=True)


async def open_case(
    cmd: OpenCase,
    *,
    uow: CasesUnitOfWork,
    now: datetime,
    priority_rules: Sequence[PriorityRule] = (),
    new_id: Callable[[], UUID] = uuid4,
) -> Case:
    """Open a case an agent takes down; its request type and answers must fit the catalogue."""
    async with uow:
        request_type, parameters = await _request_in_catalogue(
            cmd.request_type, cmd.parameters, uow=uow
        )
        coverage = await coverage_of(
            uow=uow,
            account_id=cmd.account_id,
            contact_id=cmd.contact_id,
            channel=cmd.channel,
            request_type=cmd.request_type,
            now=now,
        )
        case, events = start_case(
            case_id=new_id(),
            number=format_case_number(now.year, await uow.cases.next_sequence()),
            channel=cmd.channel,
            customer=Customer(contact_id=cmd.contact_id, account_id=cmd.account_id),
            subject=cmd.subject,
            description=cmd.description,
            now=now,
            request_type=cmd.request_type,
            parameters=parameters,
            priority=opening_priority(
                requested=cmd.priority,
                type_default=None if request_type is None else request_type.default_priority,
                request_type=cmd.request_type,
                parameters=parameters,
                channel=cmd.channel,
                rules=priority_rules,
            ),
            language=cmd.language,
            coverage=coverage,
            opened_by=cmd.opened_by,
            call_id=cmd.call_id,
        )
        # What the agent took down is the interaction the case opened from: it gets an id of
        # its own, as one arriving through intake does, so `case.opened` says the same.
        await _add(case, events, uow=uow, interaction_id=new_id(), new_id=new_id, now=now)
        await uow.commit()
        return case


async def request_case_for_new_customer(
    cmd: OpenCaseForNewCustomer,
    *,
    uow: CasesUnitOfWork,
    now: datetime,
    new_id: Callable[[], UUID] = uuid4,
) -> InteractionRequest:
    """Ask intake to identify the customer and receive their request, which must fit the
    catalogue as for a known customer; the case opened from it is found by its interaction id."""
    async with uow:
        customer = new_customer(name=cmd.name, email=cmd.email, phone=cmd.phone)
        _, parameters = await _request_in_catalogue(cmd.request_type, cmd.parameters, uow=uow)
        request = InteractionRequest(
            interaction_id=new_id(),
            channel=cmd.channel,
            customer=customer,
            subject=cmd.subject,
            description=cmd.description,
            requested_by=cmd.requested_by,
            occurred_at=now,
            request_type=cmd.request_type,
            parameters=parameters,
            language=cmd.language,
        )
        uow.request_interaction(request)
        await uow.commit()
        return request


async def _request_in_catalogue(
    code: str | None, answers: dict[str, str], *, uow: CasesUnitOfWork
) -> tuple[RequestType | None, dict[str, str]]:
    # What an agent takes down must fit the catalogue: an offered type, answers to its form.
    if code is None:
        if answers:
            raise CaseValidationError("parameters are the answers of a request type; name it")
        return None, {}
    request_type = await uow.catalogue.request_type(code)
    return request_type, checked_parameters(request_type, code, answers)


async def _request_from_intake(
    cmd: ReceiveInteraction, *, uow: CasesUnitOfWork
) -> tuple[RequestType | None, dict[str, str]]:
    # Intake checked the answers at its edge against its copy of the catalogue; if ours
    # disagrees (a change in flight), the customer's request is still taken, and said so.
    if cmd.request_type is None:
        return None, dict(cmd.parameters)
    request_type = await uow.catalogue.request_type(cmd.request_type)
    try:
        return request_type, checked_parameters(request_type, cmd.request_type, cmd.parameters)
    except (UnknownRequestTypeError, InvalidParametersError) as error:
        log.warning(
            "case.request_not_in_catalogue",
            interaction_id=str(cmd.interaction_id),
            request_type=cmd.request_type,
            error=str(error),
        )
        known = request_type if request_type is not None and request_type.active else None
        return known, dict(cmd.parameters)


async def _add(
    case: Case,
    events: Sequence[CaseEvent],
    *,
    uow: CasesUnitOfWork,
    interaction_id: UUID,
    new_id: Callable[[], UUID],
    now: datetime,
) -> None:
    await uow.cases.add(case, interaction_id=interaction_id)
    await uow.cases.attach_interaction(
        interaction_id=interaction_id,
        case_id=case.case_id,
        channel=case.channel.value,
        subject=case.subject,
        at=now,
    )
    uow.emit(case, events, interaction_id=interaction_id)
    for notification in notifications_for(case, events, new_id=new_id):
        uow.notify(notification)
