"""What the people around a case are told, and when: notifications asked of intake.

The customer hears when the case is received, accepted, answered, resolved and cancelled; the
manager a case is escalated to hears of it, and so does the agent it is assigned to (unless
they raised it themselves); that agent also hears when the customer comes back on the case
(new work for them), unless it is only an automatic answer (an out-of-office). Each follows
from an event of the case, so every way a case changes tells the same people the same things.
Intake renders and sends them; an answer to the customer goes with the files the agent
attached to it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from cases.domain.case import Case
from cases.domain.contracts import (
    AllotmentExhausted,
    AllotmentLow,
    Contract,
    ContractEndingSoon,
    ContractEvent,
)
from cases.domain.events import (
    ActivityLogged,
    CaseCancelled,
    CaseEscalated,
    CaseEvent,
    CaseOpened,
    CaseResolved,
    CaseStatusChanged,
)
from cases.domain.values import Attachment, CaseStatus

DEFAULT_LANGUAGE = "en"


class RecipientKind(StrEnum):
    """Who a notification is for (the values of the published contract)."""

    CONTACT = "contact"
    AGENT = "agent"
    MANAGER = "manager"


class Template(StrEnum):
    """What a notification says, as intake's templates name it."""

    RECEIVED = "case.received"
    ACCEPTED = "case.accepted"
    REPLY = "case.reply"
    RESOLVED = "case.resolved"
    CANCELLED = "case.cancelled"
    ESCALATED = "case.escalated"
    FOLLOW_UP = "case.follow_up"
    ALLOTMENT_LOW = "contract.allotment_low"
    ALLOTMENT_EXHAUSTED = "contract.allotment_exhausted"
    CONTRACT_ENDING = "contract.ending_soon"


@dataclass(frozen=True, kw_only=True)
class Notification:
    """Someone must be told something about a case."""

    notification_id: UUID
    recipient_kind: RecipientKind
    recipient_id: UUID
    template: Template
    language: str
    case_id: UUID | None
    occurred_at: datetime
    parameters: Mapping[str, str] = field(default_factory=dict)
    attachments: tuple[Attachment, ...] = ()
    """Files intake holds that go with the message."""
    interaction_id: UUID | None = None
    """The customer's interaction it answers (the request an acknowledgement confirms), so
    that it goes out as a reply to it."""


def notifications_for(
    case: Case,
    events: Iterable[CaseEvent],
    *,
    new_id: Callable[[], UUID],
    assignee_id: UUID | None = None,
    interaction_id: UUID | None = None,
) -> list[Notification]:
    """The notifications `events` on `case` call for, in order.

    `assignee_id` is the agent routing assigned the case to, if known; `interaction_id` the
    customer's interaction the events answer, if they answer one.
    """
    found: list[Notification] = []
    for event in events:
        told = _customer_notice(case, event)
        if told is not None:
            template, extra = told
            found.append(
                Notification(
                    notification_id=new_id(),
                    recipient_kind=RecipientKind.CONTACT,
                    recipient_id=case.customer.contact_id,
                    template=template,
                    language=case.language or DEFAULT_LANGUAGE,
                    case_id=case.case_id,
                    occurred_at=event.occurred_at,
                    parameters={"number": case.number, "subject": case.subject, **extra},
                    attachments=event.attachments if isinstance(event, ActivityLogged) else (),
                    interaction_id=interaction_id,
                )
            )
        if (
            isinstance(event, ActivityLogged)
            and event.performed_by is None
            and not event.auto_reply
            and assignee_id is not None
        ):
            # Work logged by nobody on the desk is the customer's own message on the case; an
            # out-of-office answer is kept there but is no new work for anyone.
            found.append(
                Notification(
                    notification_id=new_id(),
                    recipient_kind=RecipientKind.AGENT,
                    recipient_id=assignee_id,
                    template=Template.FOLLOW_UP,
                    language=DEFAULT_LANGUAGE,
                    case_id=case.case_id,
                    occurred_at=event.occurred_at,
                    parameters={"number": case.number, "subject": event.subject},
                )
            )
        if isinstance(event, CaseEscalated):
            found.extend(
                _escalation_notice(case, event, kind=kind, recipient=recipient, new_id=new_id)
                for kind, recipient in _told_of_escalation(event, assignee_id)
            )
    return found


def _told_of_escalation(
    event: CaseEscalated, assignee_id: UUID | None
) -> list[tuple[RecipientKind, UUID]]:
    told: list[tuple[RecipientKind, UUID]] = []
    if event.escalated_to is not None:
        told.append((RecipientKind.MANAGER, event.escalated_to))
    # The assignee learns that their case went over their head; not when they raised it
    # themselves, and not twice when they are the manager it went to.
    if assignee_id is not None and assignee_id not in (event.escalated_by, event.escalated_to):
        told.append((RecipientKind.AGENT, assignee_id))
    return told


def _escalation_notice(
    case: Case,
    event: CaseEscalated,
    *,
    kind: RecipientKind,
    recipient: UUID,
    new_id: Callable[[], UUID],
) -> Notification:
    return Notification(
        notification_id=new_id(),
        recipient_kind=kind,
        recipient_id=recipient,
        template=Template.ESCALATED,
        # An agent's or manager's own language lives in the agent directory, not here.
        language=DEFAULT_LANGUAGE,
        case_id=case.case_id,
        occurred_at=event.occurred_at,
        parameters={
            "number": case.number,
            "subject": case.subject,
            "claim": event.reason,
            "target": event.target.value,
            "level": str(event.level),
        },
    )


def _customer_notice(case: Case, event: CaseEvent) -> tuple[Template, dict[str, str]] | None:
    match event:
        case CaseOpened():
            return Template.RECEIVED, {}
        case CaseStatusChanged(previous_status=CaseStatus.NEW, status=CaseStatus.IN_PROGRESS):
            return Template.ACCEPTED, {}
        case ActivityLogged(to_customer=True):
            return Template.REPLY, {"text": event.description}
        case CaseResolved():
            return Template.RESOLVED, {"resolution": event.summary}
        case CaseCancelled():
            return Template.CANCELLED, {"reason": event.reason}
    return None


def contract_notices(
    contract: Contract,
    events: Iterable[ContractEvent],
    *,
    new_id: Callable[[], UUID],
    case_id: UUID | None = None,
) -> list[Notification]:
    """What the contract's owner is told of: a line running low or used up, the contract
    ending soon. `case_id` is the case whose resolution caused it, if one did."""
    if contract.owner_id is None:
        return []
    found: list[Notification] = []
    for event in events:
        parameters = {"contract_number": contract.number, "contract_name": contract.name}
        match event:
            case AllotmentLow() | AllotmentExhausted():
                line = contract.line(event.line_id)
                template = (
                    Template.ALLOTMENT_LOW
                    if isinstance(event, AllotmentLow)
                    else Template.ALLOTMENT_EXHAUSTED
                )
                parameters |= {
                    "line_number": str(line.number),
                    "line_name": line.name,
                    "allocation": line.allocation.value,
                    "allotment": str(line.allotment),
                    "remaining": str(event.remaining),
                }
            case ContractEndingSoon():
                template = Template.CONTRACT_ENDING
                parameters |= {
                    "ends_on": event.ends_on.isoformat(),
                    "days_left": str(event.days_left),
                }
            case _:
                continue
        found.append(
            Notification(
                notification_id=new_id(),
                recipient_kind=RecipientKind.AGENT,
                recipient_id=contract.owner_id,
                template=template,
                # An agent's own language lives in the agent directory, not here.
                language=DEFAULT_LANGUAGE,
                case_id=case_id,
                occurred_at=event.occurred_at,
                parameters=parameters,
            )
        )
    return found
