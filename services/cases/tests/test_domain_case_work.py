"""Working a case: the steps an agent takes, time, answers, decisions, notifications."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest

from caseflow_forms import Form, Parameter, ParameterType
from cases.domain.case import (
    MAX_ACTIVITY_MINUTES,
    Case,
    Customer,
    next_steps,
    open_case,
    reply_kind,
)
from cases.domain.catalogue import Decision, RequestType
from cases.domain.errors import (
    CaseClosedError,
    CaseValidationError,
    InvalidParametersError,
    InvalidTransitionError,
    UnknownDecisionError,
    UnknownRequestTypeError,
)
from cases.domain.events import (
    ActivityLogged,
    CaseEscalated,
    CaseResolved,
    CaseStatusChanged,
    DecisionRecorded,
)
from cases.domain.notifications import RecipientKind, Template, notifications_for
from cases.domain.priority import PriorityRule, opening_priority
from cases.domain.requests import checked_decision, checked_parameters
from cases.domain.values import (
    ActivityKind,
    CaseStatus,
    Channel,
    DecisionOutcome,
    EscalationTarget,
    Priority,
)

pytestmark = pytest.mark.unit

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
AGENT = UUID(int=300)
OTHER = UUID(int=301)
MANAGER = UUID(int=500)
CONTACT = UUID(int=100)

NEW = CaseStatus.NEW
IN_PROGRESS = CaseStatus.IN_PROGRESS
ON_HOLD = CaseStatus.ON_HOLD
WAITING = CaseStatus.WAITING_FOR_CUSTOMER
RESOLVED = CaseStatus.RESOLVED
CANCELLED = CaseStatus.CANCELLED

FIXED = Decision(code="fixed", outcome=DecisionOutcome.ACCEPTED)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def new_case(channel: Channel = Channel.EMAIL, language: str | None = None) -> Case:
    case, _ = open_case(
        case_id=UUID(int=1),
        number="CAS-2026-000001",
        channel=channel,
        customer=Customer(CONTACT),
        subject="Printer jammed",
        description="",
        now=T0,
        language=language,
    )
    return case


def case_in(status: CaseStatus) -> Case:
    case = new_case()
    case.status = status
    return case


def work(
    case: Case, minutes: int, *, billable: bool, kind: ActivityKind = ActivityKind.TASK
) -> None:
    case.log_activity(
        activity_id=UUID(int=1000 + len(case.activities)),
        kind=kind,
        duration_minutes=minutes,
        billable=billable,
        now=at(len(case.activities)),
    )


# -- steps -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "steps"),
    [
        (NEW, ("accept", "resolve", "cancel")),
        (IN_PROGRESS, ("hold", "wait", "resolve", "cancel")),
        (ON_HOLD, ("resume", "wait", "resolve", "cancel")),
        (WAITING, ("resume", "hold", "resolve", "cancel")),
        (RESOLVED, ("reopen",)),
        (CANCELLED, ("reopen",)),
    ],
)
def test_next_steps(status: CaseStatus, steps: tuple[str, ...]) -> None:
    assert next_steps(status) == steps


def test_accept_takes_a_new_case_into_work_for_the_agent() -> None:
    case = new_case()
    events = case.accept(AGENT, now=at(1))
    assert (case.status, case.accepted_by) == (IN_PROGRESS, AGENT)
    assert events == [
        CaseStatusChanged(
            case_id=case.case_id,
            occurred_at=at(1),
            previous_status=NEW,
            status=IN_PROGRESS,
            reason=None,
            by=AGENT,
        )
    ]
    assert case.accept(AGENT, now=at(2)) == []


def test_accept_by_another_agent_or_of_a_case_on_hold_names_the_allowed_steps() -> None:
    case = new_case()
    case.accept(AGENT, now=at(1))
    with pytest.raises(InvalidTransitionError) as taken:
        case.accept(OTHER, now=at(2))
    assert taken.value.problem_members == {
        "case_status": "in_progress",
        "allowed": ["hold", "wait", "resolve", "cancel"],
    }
    case.hold(now=at(3))
    with pytest.raises(InvalidTransitionError):
        case.accept(AGENT, now=at(4))
    assert case.accepted_by == AGENT


@pytest.mark.parametrize("closed", [RESOLVED, CANCELLED])
def test_working_a_closed_case_names_reopen_as_the_way_back(closed: CaseStatus) -> None:
    case = case_in(closed)
    for step in (
        lambda: case.accept(AGENT, now=at(1)),
        lambda: case.hold(now=at(1)),
        lambda: case.resume(now=at(1)),
        lambda: case.reply("Hello", activity_id=UUID(int=9), now=at(1)),
        lambda: case.record_decision(FIXED, decision_id=UUID(int=9), text="", now=at(1)),
    ):
        with pytest.raises(CaseClosedError) as closed_error:
            step()
        assert closed_error.value.problem_members == {
            "case_status": closed.value,
            "allowed": ["reopen"],
        }


def test_hold_wait_and_resume_move_between_working_statuses_and_say_who() -> None:
    case = new_case()
    case.accept(AGENT, now=at(1))
    [held] = case.hold(now=at(2), reason="Waiting for a part", by=AGENT)
    assert isinstance(held, CaseStatusChanged)
    assert (held.status, held.reason, held.by) == (ON_HOLD, "Waiting for a part", AGENT)
    assert case.hold(now=at(3)) == []
    case.wait(now=at(4))
    assert case.status is WAITING
    case.resume(now=at(5))
    assert case.status is IN_PROGRESS
    assert case.resume(now=at(6)) == []


@pytest.mark.parametrize("step", ["hold", "wait", "resume"])
def test_a_new_case_is_accepted_before_anything_else(step: str) -> None:
    case = new_case()
    with pytest.raises(InvalidTransitionError) as refused:
        getattr(case, step)(now=at(1))
    assert refused.value.problem_members["allowed"] == ["accept", "resolve", "cancel"]
    assert case.status is NEW


# -- time ------------------------------------------------------------------------------


@pytest.mark.parametrize("minutes", [-1, MAX_ACTIVITY_MINUTES + 1, 10_000])
def test_an_activity_lasts_from_nothing_to_a_day(minutes: int) -> None:
    case = new_case()
    with pytest.raises(CaseValidationError):
        work(case, minutes, billable=True)
    work(case, MAX_ACTIVITY_MINUTES, billable=True)
    assert case.total_minutes == MAX_ACTIVITY_MINUTES


def test_time_totals_count_billable_all_and_telephone_minutes() -> None:
    case = new_case()
    work(case, 20, billable=True, kind=ActivityKind.CALL)
    work(case, 5, billable=False, kind=ActivityKind.NOTE)
    work(case, 10, billable=True, kind=ActivityKind.CALL)
    assert (case.billable_minutes, case.total_minutes, case.call_minutes) == (30, 35, 30)
    assert case.billed_minutes == 30


def test_an_activity_keeps_when_it_was_done_and_what() -> None:
    case = new_case()
    [event] = case.log_activity(
        activity_id=UUID(int=5),
        kind=ActivityKind.MEETING,
        duration_minutes=30,
        billable=True,
        now=at(60),
        subject="On site",
        description=" Replaced the drum ",
        performed_at=at(0),
        performed_by=AGENT,
    )
    assert isinstance(event, ActivityLogged)
    assert (event.performed_at, event.description, event.to_customer) == (
        at(0),
        "Replaced the drum",
        False,
    )
    with pytest.raises(CaseValidationError):
        case.log_activity(
            activity_id=UUID(int=6),
            kind=ActivityKind.TASK,
            duration_minutes=1,
            billable=False,
            now=at(61),
            performed_at=datetime(2026, 3, 2, 9, 0),
        )


def test_an_internal_note_is_never_to_the_customer() -> None:
    with pytest.raises(CaseValidationError):
        new_case().log_activity(
            activity_id=UUID(int=5),
            kind=ActivityKind.NOTE,
            duration_minutes=0,
            billable=False,
            now=at(1),
            to_customer=True,
        )


# -- replies ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("channel", "kind"),
    [
        (Channel.EMAIL, ActivityKind.EMAIL),
        (Channel.WEB, ActivityKind.EMAIL),
        (Channel.API, ActivityKind.EMAIL),
        (Channel.LETTER, ActivityKind.LETTER),
        (Channel.PHONE, ActivityKind.CALL),
        (Channel.VISIT, ActivityKind.MEETING),
    ],
)
def test_a_reply_goes_by_the_channel_the_customer_came_by(
    channel: Channel, kind: ActivityKind
) -> None:
    assert reply_kind(channel) is kind
    case = new_case(channel)
    [event] = case.reply(
        " We replace it. ",
        activity_id=UUID(int=7),
        now=at(1),
        performed_by=AGENT,
        duration_minutes=10,
        billable=True,
    )
    assert isinstance(event, ActivityLogged)
    assert (event.kind, event.to_customer, event.description) == (kind, True, "We replace it.")
    assert case.billable_minutes == 10


def test_a_reply_says_something() -> None:
    with pytest.raises(CaseValidationError):
        new_case().reply("  ", activity_id=UUID(int=7), now=at(1))


# -- decisions and resolution ----------------------------------------------------------


def test_a_decision_is_recorded_with_who_when_and_why() -> None:
    case = new_case()
    [event] = case.record_decision(
        FIXED, decision_id=UUID(int=8), text=" Under warranty ", now=at(3), recorded_by=AGENT
    )
    assert event == DecisionRecorded(
        case_id=case.case_id,
        occurred_at=at(3),
        decision_id=UUID(int=8),
        code="fixed",
        outcome=DecisionOutcome.ACCEPTED,
        text="Under warranty",
        recorded_by=AGENT,
    )
    assert [(d.code, d.recorded_by, d.recorded_at) for d in case.decisions] == [
        ("fixed", AGENT, at(3))
    ]


@pytest.mark.parametrize(
    ("decision", "text", "error"),
    [
        (None, "x", UnknownDecisionError),
        (Decision(code="old", retired=True), "x", UnknownDecisionError),
        (Decision(code="refused", requires_text=True), "  ", CaseValidationError),
    ],
)
def test_checked_decision_refuses(
    decision: Decision | None, text: str, error: type[Exception]
) -> None:
    with pytest.raises(error):
        checked_decision(decision, "code", text)


def test_checked_decision_takes_an_active_one() -> None:
    needs_text = Decision(code="refused", requires_text=True)
    assert checked_decision(needs_text, "refused", "Out of warranty") is needs_text


def test_resolve_may_correct_the_billable_time_with_a_reason() -> None:
    case = new_case()
    work(case, 30, billable=True)
    work(case, 10, billable=False)
    with pytest.raises(CaseValidationError):
        case.resolve(resolution_type="fixed", summary="Done", now=at(9), billable_minutes=20)
    assert case.status is NEW
    [event] = case.resolve(
        resolution_type="fixed",
        summary="Done",
        now=at(9),
        billable_minutes=20,
        correction_reason=" Training time ",
    )
    assert isinstance(event, CaseResolved)
    assert (event.billable_minutes, event.total_minutes) == (20, 40)
    assert (event.logged_billable_minutes, event.correction_reason) == (30, "Training time")
    assert (case.resolved_at, case.closed_at, case.billed_minutes) == (at(9), at(9), 20)


def test_resolve_with_the_logged_time_is_no_correction() -> None:
    case = new_case()
    work(case, 30, billable=True)
    [event] = case.resolve(resolution_type="fixed", summary="Done", now=at(9), billable_minutes=30)
    assert isinstance(event, CaseResolved)
    assert (event.logged_billable_minutes, event.correction_reason) == (None, None)


def test_reopen_forgets_when_it_closed_and_takes_work_again_with_new_totals() -> None:
    case = new_case()
    work(case, 30, billable=True)
    case.resolve(
        resolution_type="fixed",
        summary="Done",
        now=at(9),
        billable_minutes=0,
        correction_reason="Goodwill",
    )
    assert case.billed_minutes == 0
    case.reopen("Broken again", now=at(20))
    assert (case.resolved_at, case.closed_at, case.reopened_at) == (None, None, at(20))
    assert case.billed_minutes == 30
    work(case, 15, billable=True)
    [event] = case.resolve(resolution_type="fixed", summary="Again", now=at(30))
    assert isinstance(event, CaseResolved)
    assert (event.billable_minutes, event.total_minutes) == (45, 45)


def test_cancel_records_when_the_case_closed() -> None:
    case = new_case()
    case.cancel("Duplicate", now=at(4))
    assert case.closed_at == at(4)


# -- escalation ------------------------------------------------------------------------


def test_escalation_is_recorded_with_its_target_manager_and_claim() -> None:
    case = new_case()
    [event] = case.escalate(
        "Wants a refund",
        now=at(5),
        escalated_to=MANAGER,
        target=EscalationTarget.DEPARTMENT_HEAD,
        escalated_by=AGENT,
        escalation_id=UUID(int=44),
    )
    assert isinstance(event, CaseEscalated)
    assert (event.target, event.escalated_by, event.escalated_to) == (
        EscalationTarget.DEPARTMENT_HEAD,
        AGENT,
        MANAGER,
    )
    [escalation] = case.escalations
    assert (escalation.escalation_id, escalation.level, escalation.claim) == (
        UUID(int=44),
        1,
        "Wants a refund",
    )


# -- request types and priority --------------------------------------------------------

REPAIR = RequestType(
    code="repair",
    default_priority=Priority.HIGH,
    form=Form(
        (
            Parameter("warranty", ParameterType.CHOICE, choices=("yes", "no"), required=True),
            Parameter("serial", ParameterType.TEXT),
        )
    ),
)


def test_checked_parameters_normalises_answers_that_fit() -> None:
    assert checked_parameters(REPAIR, "repair", {"warranty": " yes "}) == {"warranty": "yes"}


def test_checked_parameters_names_every_wrong_answer() -> None:
    with pytest.raises(InvalidParametersError) as invalid:
        checked_parameters(REPAIR, "repair", {"warranty": "perhaps", "colour": "red"})
    assert set(invalid.value.problems) == {"warranty", "colour"}
    locations = [e["loc"] for e in invalid.value.problem_members["errors"]]  # type: ignore[attr-defined]
    assert locations == [["body", "parameters", "colour"], ["body", "parameters", "warranty"]]


def test_checked_parameters_refuses_unknown_and_inactive_types() -> None:
    with pytest.raises(UnknownRequestTypeError):
        checked_parameters(None, "nope", {})
    inactive = RequestType(code="old", active=False)
    with pytest.raises(UnknownRequestTypeError):
        checked_parameters(inactive, "old", {})
    assert checked_parameters(inactive, "old", {}, must_be_offered=False) == {}


@pytest.mark.parametrize(
    ("requested", "type_default", "expected"),
    [
        (Priority.LOW, Priority.HIGH, Priority.LOW),
        (None, Priority.HIGH, Priority.HIGH),
        (None, None, Priority.URGENT),
    ],
)
def test_opening_priority(
    requested: Priority | None, type_default: Priority | None, expected: Priority
) -> None:
    rules = [PriorityRule(priority=Priority.URGENT)]
    priority = opening_priority(
        requested=requested,
        type_default=type_default,
        request_type=None,
        parameters={},
        channel=Channel.PHONE,
        rules=rules,
    )
    assert priority is expected


# -- notifications ---------------------------------------------------------------------


def ids() -> Callable[[], UUID]:
    n = 0

    def new_id() -> UUID:
        nonlocal n
        n += 1
        return UUID(int=n)

    return new_id


def test_the_customer_is_told_of_acceptance_answers_resolution_and_cancellation() -> None:
    case = new_case(language="fr")
    events = case.accept(AGENT, now=at(1))
    events += case.hold(now=at(2))
    events += case.resume(now=at(3))
    events += case.reply("C'est réparé", activity_id=UUID(int=70), now=at(4))
    events += case.log_activity(
        activity_id=UUID(int=71),
        kind=ActivityKind.NOTE,
        duration_minutes=1,
        billable=False,
        now=at(5),
    )
    events += case.resolve(resolution_type="fixed", summary="Réparé", now=at(6))
    told = notifications_for(case, events, new_id=ids())
    assert [n.template for n in told] == [Template.ACCEPTED, Template.REPLY, Template.RESOLVED]
    assert {(n.recipient_kind, n.recipient_id, n.language) for n in told} == {
        (RecipientKind.CONTACT, CONTACT, "fr")
    }
    assert told[1].parameters == {
        "number": "CAS-2026-000001",
        "subject": "Printer jammed",
        "text": "C'est réparé",
    }
    assert [n.notification_id for n in told] == [UUID(int=1), UUID(int=2), UUID(int=3)]


def test_a_cancelled_case_is_told_in_english_by_default_and_an_escalation_to_the_manager() -> None:
    case = new_case()
    events = case.escalate("Refund!", now=at(1), escalated_to=MANAGER)
    events += case.cancel("Withdrawn", now=at(2))
    told = notifications_for(case, events, new_id=ids())
    assert [(n.recipient_kind, n.recipient_id, n.template) for n in told] == [
        (RecipientKind.MANAGER, MANAGER, Template.ESCALATED),
        (RecipientKind.CONTACT, CONTACT, Template.CANCELLED),
    ]
    assert told[1].language == "en"
    assert told[1].parameters["reason"] == "Withdrawn"
