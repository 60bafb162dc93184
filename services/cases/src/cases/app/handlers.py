"""Use cases of the cases service: load, decide in the domain, record, commit."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID, uuid4

from cases.app.ports import CasesUnitOfWork
from cases.domain.case import Customer, open_case
from cases.domain.errors import CaseNumberError
from cases.domain.numbers import format_case_number, normalize_case_number
from cases.domain.priority import PriorityRule, initial_priority
from cases.domain.values import ActivityKind, Channel


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


@dataclass(frozen=True)
class Received:
    """What became of an interaction: the case it belongs to, and whether it opened it."""

    case_id: UUID
    opened: bool


_ACTIVITY_OF_CHANNEL = {
    Channel.EMAIL: ActivityKind.EMAIL,
    Channel.PHONE: ActivityKind.CALL,
    Channel.WEB: ActivityKind.NOTE,
    Channel.API: ActivityKind.NOTE,
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
                await uow.commit()
                return Received(case.case_id, opened=False)
        number = format_case_number(now.year, await uow.cases.next_sequence())
        case, events = open_case(
            case_id=new_id(),
            number=number,
            channel=cmd.channel,
            customer=Customer(contact_id=cmd.contact_id, account_id=cmd.account_id),
            subject=cmd.subject,
            description=cmd.body,
            now=now,
            request_type=cmd.request_type,
            parameters=cmd.parameters,
            priority=initial_priority(
                request_type=cmd.request_type,
                parameters=cmd.parameters,
                channel=cmd.channel,
                rules=priority_rules,
            ),
        )
        await uow.cases.add(case, interaction_id=cmd.interaction_id)
        await uow.cases.attach_interaction(
            interaction_id=cmd.interaction_id,
            case_id=case.case_id,
            channel=cmd.channel.value,
            subject=cmd.subject,
            at=now,
        )
        uow.emit(case, events, interaction_id=cmd.interaction_id)
        await uow.commit()
        return Received(case.case_id, opened=True)
