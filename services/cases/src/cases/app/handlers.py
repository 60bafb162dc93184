"""Use cases of the cases service that open cases: load, decide in the domain, record, commit."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from uuid import UUID, uuid4

import structlog

from cases.app.contracts import coverage_of, restore_for_reopening
from cases.app.ports import CasesUnitOfWork
from cases.domain.case import (
    CUSTOMER_WROTE_AGAIN,
    DEFAULT_REOPEN_WINDOW,
    Case,
    Customer,
    FollowUp,
    follow_up,
)
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
from cases.domain.values import Attachment, Channel, Priority

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
    """The number of the case it continues, as intake recognised it."""
    language: str | None = None
    first_contact: bool = False
    attachments: tuple[Attachment, ...] = ()
    auto_reply: bool = False
    """An automatic answer (an out-of-office) to the desk's mail: it asks for nothing."""


@dataclass(frozen=True)
class Received:
    """What became of an interaction: the case it belongs to, and whether it opened it.

    No case when it was an automatic answer that belongs to none (nothing was recorded)."""

    case_id: UUID | None
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


async def receive_interaction(
    cmd: ReceiveInteraction,
    *,
    uow: CasesUnitOfWork,
    now: datetime,
    priority_rules: Sequence[PriorityRule] = (),
    reopen_window: timedelta = DEFAULT_REOPEN_WINDOW,
    new_id: Callable[[], UUID] = uuid4,
) -> Received:
    """Open a case for a new request, or take a follow-up to the case it names: added to it
    while open, reopening it when resolved within `reopen_window`, else opening a new case
    that refers to it. An automatic answer never reopens nor opens a case."""
    async with uow:
        known = await uow.cases.case_of_interaction(cmd.interaction_id)
        if known is not None:
            return Received(known, opened=False)
        earlier = await _case_followed_up(cmd, uow=uow)
        if earlier is not None:
            step = follow_up(
                earlier, now=now, reopen_window=reopen_window, auto_reply=cmd.auto_reply
            )
            if step is not FollowUp.OPEN_RELATED:
                await _follow_up(earlier, step, cmd, uow=uow, now=now, new_id=new_id)
                await uow.commit()
                return Received(earlier.case_id, opened=False)
        elif cmd.auto_reply:
            # Intake keeps automatic answers that thread to no case to itself; one that comes
            # all the same opens nothing, and a redelivery of it again does nothing.
            log.info(
                "case.auto_reply_ignored",
                interaction_id=str(cmd.interaction_id),
                follow_up_of=cmd.follow_up_of,
            )
            return Received(None, opened=False)
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
            attachments=cmd.attachments,
            related=earlier,
        )
        await _add(
            case,
            events,
            uow=uow,
            interaction_id=cmd.interaction_id,
            new_id=new_id,
            now=now,
            from_intake=True,
        )
        await uow.commit()
        return Received(case.case_id, opened=True)


async def _case_followed_up(cmd: ReceiveInteraction, *, uow: CasesUnitOfWork) -> Case | None:
    # The case the interaction names, locked: the message may change it. A number that is no
    # case number, or names no case, makes the interaction a new request.
    if not cmd.follow_up_of:
        return None
    try:
        number = normalize_case_number(cmd.follow_up_of)
    except CaseNumberError:
        return None
    return await uow.cases.get_by_number(number, for_update=True)


async def _follow_up(
    case: Case,
    step: FollowUp,
    cmd: ReceiveInteraction,
    *,
    uow: CasesUnitOfWork,
    now: datetime,
    new_id: Callable[[], UUID],
) -> None:
    await uow.cases.attach_interaction(
        interaction_id=cmd.interaction_id,
        case_id=case.case_id,
        channel=cmd.channel.value,
        subject=cmd.subject,
        at=now,
    )
    if step is FollowUp.RECORD:
        return
    events: list[CaseEvent] = []
    if step is FollowUp.REOPEN:
        events += case.reopen(CUSTOMER_WROTE_AGAIN, now=now)
        # As when an agent reopens it: what the case drew is given back, and its next
        # resolution draws its new total.
        await restore_for_reopening(
            case, uow=uow, now=now, by=None, reason=CUSTOMER_WROTE_AGAIN, new_id=new_id
        )
    events += case.add_message(
        activity_id=new_id(),
        interaction_id=cmd.interaction_id,
        channel=cmd.channel,
        contact_id=cmd.contact_id,
        subject=cmd.subject,
        body=cmd.body,
        now=now,
        attachments=cmd.attachments,
        auto_reply=cmd.auto_reply,
    )
    await uow.cases.save(case)
    uow.emit(case, events)
    assignee = await uow.cases.assignee(case.case_id)
    for notification in notifications_for(case, events, new_id=new_id, assignee_id=assignee):
        uow.notify(notification)


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
    from_intake: bool = False,
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
    # The acknowledgement answers the customer's message, as a reply to it; an interaction an
    # agent took down has no message of the customer's to answer.
    answered = interaction_id if from_intake else None
    for notification in notifications_for(case, events, new_id=new_id, interaction_id=answered):
        uow.notify(notification)
