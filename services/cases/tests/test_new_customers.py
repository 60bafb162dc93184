"""Rules for a case an agent takes for a customer not on file, and who hears of an escalation."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from itertools import count
from uuid import UUID

import pytest

from cases.domain.case import Case, Customer, open_case
from cases.domain.errors import CaseValidationError
from cases.domain.events import CaseEvent
from cases.domain.new_customers import NewCustomer, new_customer
from cases.domain.notifications import RecipientKind, Template, notifications_for
from cases.domain.values import Channel, Priority

pytestmark = pytest.mark.unit

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
AGENT = UUID(int=300)
ASSIGNEE = UUID(int=301)
MANAGER = UUID(int=500)
CONTACT = UUID(int=100)


def ids() -> Callable[[], UUID]:
    numbers = count(1)
    return lambda: UUID(int=next(numbers))


# -- the customer an agent names -----------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (
            {"name": " Jan Novák ", "email": " jan@example.cz "},
            NewCustomer(name="Jan Novák", email="jan@example.cz"),
        ),
        ({"name": "Jan", "phone": "+420 601 123"}, NewCustomer(name="Jan", phone="+420 601 123")),
        (
            {"name": "Jan", "email": "", "phone": "601"},
            NewCustomer(name="Jan", email=None, phone="601"),
        ),
        (
            {"name": "Jan", "email": "jan@example.cz", "phone": "  "},
            NewCustomer(name="Jan", email="jan@example.cz", phone=None),
        ),
    ],
)
def test_a_customer_is_known_by_an_email_or_a_phone(
    given: dict[str, str], expected: NewCustomer
) -> None:
    assert new_customer(**given) == expected


@pytest.mark.parametrize(
    ("given", "where"),
    [
        ({"name": "Jan"}, "email"),
        ({"name": "Jan", "email": " ", "phone": ""}, "email"),
        ({"name": "  ", "email": "jan@example.cz"}, "name"),
        ({"name": "Jan", "email": "jan.example.cz"}, "email"),
        ({"name": "Jan", "email": "@example.cz"}, "email"),
        ({"name": "Jan", "email": "jan@"}, "email"),
        ({"name": "Jan", "phone": "call me"}, "phone"),
    ],
)
def test_a_customer_nobody_could_find_again_is_refused_naming_the_field(
    given: dict[str, str], where: str
) -> None:
    with pytest.raises(CaseValidationError) as raised:
        new_customer(**given)
    errors = raised.value.problem_members["errors"]
    assert isinstance(errors, list)
    assert ["body", "customer", where] in [e["loc"] for e in errors]


# -- who hears of an escalation ------------------------------------------------------------


def _case_escalated(*, by: UUID | None, to: UUID | None) -> tuple[Case, list[CaseEvent]]:
    case, _ = open_case(
        case_id=UUID(int=1),
        number="CAS-2026-000001",
        channel=Channel.PHONE,
        customer=Customer(contact_id=CONTACT),
        subject="Printer jammed",
        description="",
        now=T0,
        priority=Priority.NORMAL,
    )
    events = case.escalate("Refund!", now=T0, escalated_to=to, escalated_by=by)
    return case, events


@pytest.mark.parametrize(
    ("assignee", "by", "to", "told"),
    [
        (
            ASSIGNEE,
            AGENT,
            MANAGER,
            [(RecipientKind.MANAGER, MANAGER), (RecipientKind.AGENT, ASSIGNEE)],
        ),
        (
            ASSIGNEE,
            None,
            MANAGER,
            [(RecipientKind.MANAGER, MANAGER), (RecipientKind.AGENT, ASSIGNEE)],
        ),
        (ASSIGNEE, ASSIGNEE, MANAGER, [(RecipientKind.MANAGER, MANAGER)]),
        (MANAGER, AGENT, MANAGER, [(RecipientKind.MANAGER, MANAGER)]),
        (None, AGENT, MANAGER, [(RecipientKind.MANAGER, MANAGER)]),
        (ASSIGNEE, AGENT, None, [(RecipientKind.AGENT, ASSIGNEE)]),
    ],
    ids=["assignee", "no-escalator", "self", "assignee-is-manager", "unassigned", "no-manager"],
)
def test_an_escalation_tells_the_manager_and_the_assignee_unless_they_raised_it(
    assignee: UUID | None,
    by: UUID | None,
    to: UUID | None,
    told: list[tuple[RecipientKind, UUID]],
) -> None:
    case, events = _case_escalated(by=by, to=to)
    notices = notifications_for(case, events, new_id=ids(), assignee_id=assignee)
    assert [(n.recipient_kind, n.recipient_id) for n in notices] == told
    assert {n.template for n in notices} == {Template.ESCALATED}
    assert {n.parameters["claim"] for n in notices} == {"Refund!"}
    assert len({n.notification_id for n in notices}) == len(notices)
