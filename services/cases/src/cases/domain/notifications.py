"""What the people around a case are told, and when: notifications asked of intake.

The customer hears when the case is received, accepted, answered, resolved and cancelled; the
manager a case is escalated to hears of it. Each follows from an event of the case, so every
way a case changes tells the same people the same things. Intake renders and sends them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from cases.domain.case import Case
from cases.domain.events import (
    ActivityLogged,
    CaseCancelled,
    CaseEscalated,
    CaseEvent,
    CaseOpened,
    CaseResolved,
    CaseStatusChanged,
)
from cases.domain.values import CaseStatus

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


@dataclass(frozen=True, kw_only=True)
class Notification:
    """Someone must be told something about a case."""

    notification_id: UUID
    recipient_kind: RecipientKind
    recipient_id: UUID
    template: Template
    language: str
    case_id: UUID
    occurred_at: datetime
    parameters: Mapping[str, str] = field(default_factory=dict)


def notifications_for(
    case: Case, events: Iterable[CaseEvent], *, new_id: Callable[[], UUID]
) -> list[Notification]:
    """The notifications `events` on `case` call for, in order."""
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
                )
            )
        if isinstance(event, CaseEscalated) and event.escalated_to is not None:
            found.append(
                Notification(
                    notification_id=new_id(),
                    recipient_kind=RecipientKind.MANAGER,
                    recipient_id=event.escalated_to,
                    template=Template.ESCALATED,
                    # The manager's own language lives in the agent directory, not here.
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
            )
    return found


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
