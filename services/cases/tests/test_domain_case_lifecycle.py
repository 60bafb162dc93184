"""The case aggregate: opening, status changes, activities, resolution, reopening."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest

from cases.domain import (
    ALLOWED_TRANSITIONS,
    WORKING_STATUSES,
    ActivityKind,
    ActivityLogged,
    Case,
    CaseCancelled,
    CaseClosedError,
    CaseError,
    CaseEscalated,
    CaseNumberError,
    CaseOpened,
    CaseReopened,
    CaseResolved,
    CaseStatus,
    CaseStatusChanged,
    CaseUpdated,
    CaseValidationError,
    Channel,
    Coverage,
    Customer,
    InvalidTransitionError,
    Priority,
    can_transition,
    open_case,
)

pytestmark = pytest.mark.unit

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
CASE_ID = UUID(int=1)
CONTACT = UUID(int=100)
ACCOUNT = UUID(int=200)
AGENT = UUID(int=300)
ENTITLEMENT = UUID(int=400)
CONTRACT = UUID(int=401)
POLICY = UUID(int=402)

NEW = CaseStatus.NEW
IN_PROGRESS = CaseStatus.IN_PROGRESS
ON_HOLD = CaseStatus.ON_HOLD
WAITING = CaseStatus.WAITING_FOR_CUSTOMER
RESOLVED = CaseStatus.RESOLVED
CANCELLED = CaseStatus.CANCELLED


def minutes(n: int) -> datetime:
    return T0 + timedelta(minutes=n)


def new_case(**overrides: object) -> Case:
    arguments: dict[str, object] = {
        "case_id": CASE_ID,
        "number": "CAS-2026-000123",
        "channel": Channel.EMAIL,
        "customer": Customer(CONTACT, ACCOUNT),
        "subject": "Printer jammed",
        "description": "The printer on floor 2 jams on every page.",
        "now": T0,
    }
    arguments.update(overrides)
    case, _ = open_case(**arguments)  # type: ignore[arg-type]
    return case


def case_in(status: CaseStatus) -> Case:
    """A case placed straight in `status`, as a repository would load it."""
    case = new_case()
    case.status = status
    return case


# -- opening -----------------------------------------------------------------------------


def test_open_case_starts_new_and_reports_what_was_opened() -> None:
    case, events = open_case(
        case_id=CASE_ID,
        number=" cas-2026-000123 ",
        channel=Channel.WEB,
        customer=Customer(CONTACT, ACCOUNT),
        subject="  Printer jammed ",
        description="Jams on every page.",
        now=T0,
        request_type="hardware.printer",
        parameters={"floor": "2"},
        priority=Priority.HIGH,
        coverage=Coverage(line_id=ENTITLEMENT, contract_id=CONTRACT, sla_policy_id=POLICY),
    )

    assert case.status is NEW
    assert (case.entitlement_id, case.contract_id, case.not_entitled) == (
        ENTITLEMENT,
        CONTRACT,
        None,
    )
    assert case.number == "CAS-2026-000123"
    assert case.subject == "Printer jammed"
    assert case.opened_at == T0
    assert (case.reopen_count, case.escalation_level) == (0, 0)
    assert case.activities == []
    assert case.resolution is None
    assert events == [
        CaseOpened(
            case_id=CASE_ID,
            occurred_at=T0,
            number="CAS-2026-000123",
            channel=Channel.WEB,
            contact_id=CONTACT,
            account_id=ACCOUNT,
            subject="Printer jammed",
            description="Jams on every page.",
            request_type="hardware.printer",
            parameters={"floor": "2"},
            priority=Priority.HIGH,
            entitlement_id=ENTITLEMENT,
            contract_id=CONTRACT,
            sla_policy_id=POLICY,
        )
    ]


def test_open_case_defaults_to_normal_priority_without_request_type() -> None:
    case = new_case()
    assert case.priority is Priority.NORMAL
    assert case.request_type is None
    assert case.parameters == {}
    assert case.customer.account_id == ACCOUNT


def test_open_case_keeps_its_own_copy_of_the_parameters() -> None:
    parameters = {"floor": "2"}
    case, events = open_case(
        case_id=CASE_ID,
        number="CAS-2026-000123",
        channel=Channel.EMAIL,
        customer=Customer(CONTACT),
        subject="Printer",
        description="",
        now=T0,
        parameters=parameters,
    )
    parameters["floor"] = "9"
    case.parameters["room"] = "12"

    assert case.parameters == {"floor": "2", "room": "12"}
    assert isinstance(events[0], CaseOpened)
    assert events[0].parameters == {"floor": "2"}


@pytest.mark.parametrize(
    ("override", "error"),
    [
        ({"subject": "   "}, CaseValidationError),
        ({"number": "CAS-2026-12"}, CaseNumberError),
        ({"number": "INC-2026-000123"}, CaseNumberError),
        ({"request_type": " "}, CaseValidationError),
        ({"parameters": {" ": "x"}}, CaseValidationError),
        ({"now": datetime(2026, 3, 2, 9, 0)}, CaseValidationError),
    ],
)
def test_open_case_refuses_bad_input(override: dict[str, object], error: type[Exception]) -> None:
    with pytest.raises(error):
        new_case(**override)


# -- the transition table ----------------------------------------------------------------


def test_every_status_has_a_row_and_new_is_only_a_start() -> None:
    assert set(ALLOWED_TRANSITIONS) == set(CaseStatus)
    assert all(NEW not in targets for targets in ALLOWED_TRANSITIONS.values())
    assert all(status not in ALLOWED_TRANSITIONS[status] for status in CaseStatus)


@pytest.mark.parametrize("closed", [RESOLVED, CANCELLED])
def test_a_closed_case_only_leads_back_to_work(closed: CaseStatus) -> None:
    assert ALLOWED_TRANSITIONS[closed] == {IN_PROGRESS}


@pytest.mark.parametrize(
    ("current", "target", "allowed"),
    [
        (NEW, IN_PROGRESS, True),
        (NEW, RESOLVED, True),
        (IN_PROGRESS, NEW, False),
        (ON_HOLD, WAITING, True),
        (WAITING, CANCELLED, True),
        (RESOLVED, CANCELLED, False),
        (CANCELLED, RESOLVED, False),
        (RESOLVED, IN_PROGRESS, True),
    ],
)
def test_can_transition(current: CaseStatus, target: CaseStatus, allowed: bool) -> None:
    assert can_transition(current, target) is allowed


# -- change_status -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (NEW, IN_PROGRESS),
        (NEW, ON_HOLD),
        (NEW, WAITING),
        (IN_PROGRESS, ON_HOLD),
        (IN_PROGRESS, WAITING),
        (ON_HOLD, IN_PROGRESS),
        (ON_HOLD, WAITING),
        (WAITING, IN_PROGRESS),
        (WAITING, ON_HOLD),
    ],
)
def test_change_status_between_working_statuses(current: CaseStatus, target: CaseStatus) -> None:
    case = case_in(current)

    events = case.change_status(target, now=minutes(5))

    assert case.status is target
    assert events == [
        CaseStatusChanged(
            case_id=CASE_ID,
            occurred_at=minutes(5),
            previous_status=current,
            status=target,
            reason=None,
        )
    ]


@pytest.mark.parametrize(
    ("reason", "recorded"),
    [(" Asked for the logs ", "Asked for the logs"), ("   ", None), (None, None)],
)
def test_a_status_change_may_say_why(reason: str | None, recorded: str | None) -> None:
    case = new_case()
    (event,) = case.change_status(WAITING, now=minutes(5), reason=reason)
    assert isinstance(event, CaseStatusChanged)
    assert event.reason == recorded


@pytest.mark.parametrize("status", [NEW, IN_PROGRESS, ON_HOLD, WAITING])
def test_change_status_to_the_current_status_changes_nothing(status: CaseStatus) -> None:
    case = case_in(status)
    assert case.change_status(status, now=minutes(5)) == []
    assert case.status is status


@pytest.mark.parametrize(
    ("current", "target", "error"),
    [
        (IN_PROGRESS, NEW, InvalidTransitionError),
        (WAITING, NEW, InvalidTransitionError),
        (IN_PROGRESS, RESOLVED, InvalidTransitionError),  # resolve() does that
        (NEW, CANCELLED, InvalidTransitionError),  # cancel() does that
        (RESOLVED, IN_PROGRESS, CaseClosedError),  # reopen() does that
        (CANCELLED, ON_HOLD, CaseClosedError),
        (RESOLVED, RESOLVED, CaseClosedError),
    ],
)
def test_change_status_refuses(
    current: CaseStatus, target: CaseStatus, error: type[CaseError]
) -> None:
    case = case_in(current)
    with pytest.raises(error):
        case.change_status(target, now=minutes(5))
    assert case.status is current


def test_working_statuses_are_the_open_ones_after_new() -> None:
    assert {s for s in CaseStatus if not s.is_closed} - {NEW} == WORKING_STATUSES


# -- activities ------------------------------------------------------------------------


def test_log_activity_records_finished_work() -> None:
    case = new_case()

    events = case.log_activity(
        activity_id=UUID(int=11),
        kind=ActivityKind.CALL,
        duration_minutes=25,
        billable=True,
        now=minutes(30),
        subject=" Called back ",
        performed_by=AGENT,
    )

    assert [a.activity_id for a in case.activities] == [UUID(int=11)]
    assert case.activities[0].logged_at == minutes(30)
    assert events == [
        ActivityLogged(
            case_id=CASE_ID,
            occurred_at=minutes(30),
            activity_id=UUID(int=11),
            kind=ActivityKind.CALL,
            subject="Called back",
            duration_minutes=25,
            billable=True,
            performed_by=AGENT,
        )
    ]


@pytest.mark.parametrize("duration", [-1, -60])
def test_log_activity_refuses_negative_minutes(duration: int) -> None:
    case = new_case()
    with pytest.raises(CaseValidationError):
        case.log_activity(
            activity_id=UUID(int=11),
            kind=ActivityKind.TASK,
            duration_minutes=duration,
            billable=False,
            now=minutes(1),
        )
    assert case.activities == []


def test_log_activity_refuses_the_same_activity_twice() -> None:
    case = new_case()
    log = {"activity_id": UUID(int=11), "kind": ActivityKind.NOTE, "billable": False}
    case.log_activity(duration_minutes=0, now=minutes(1), **log)  # type: ignore[arg-type]
    with pytest.raises(CaseValidationError):
        case.log_activity(duration_minutes=5, now=minutes(2), **log)  # type: ignore[arg-type]
    assert len(case.activities) == 1


@pytest.mark.parametrize("closed", [RESOLVED, CANCELLED])
def test_log_activity_refuses_a_closed_case(closed: CaseStatus) -> None:
    case = case_in(closed)
    with pytest.raises(CaseClosedError):
        case.log_activity(
            activity_id=UUID(int=11),
            kind=ActivityKind.EMAIL,
            duration_minutes=5,
            billable=True,
            now=minutes(1),
        )


# -- resolve ---------------------------------------------------------------------------


def log_all(case: Case, work: list[tuple[int, bool]]) -> None:
    for n, (duration, billable) in enumerate(work):
        case.log_activity(
            activity_id=UUID(int=1000 + n),
            kind=ActivityKind.TASK,
            duration_minutes=duration,
            billable=billable,
            now=minutes(n),
        )


@pytest.mark.parametrize(
    ("work", "billable", "total"),
    [
        ([], 0, 0),
        ([(30, True)], 30, 30),
        ([(30, True), (15, False), (45, True)], 75, 90),
        ([(20, False), (10, False)], 0, 30),
        ([(0, True), (5, True)], 5, 5),
    ],
)
def test_resolve_bills_the_sum_of_billable_activities(
    work: list[tuple[int, bool]], billable: int, total: int
) -> None:
    case = new_case(coverage=Coverage(line_id=ENTITLEMENT, contract_id=CONTRACT))
    case.change_status(IN_PROGRESS, now=minutes(1))
    log_all(case, work)

    events = case.resolve(
        resolution_type="fixed",
        summary=" Cleared the paper path ",
        now=minutes(90),
        resolved_by=AGENT,
    )

    assert case.status is RESOLVED
    assert case.resolution is not None
    assert (case.resolution.billable_minutes, case.resolution.total_minutes) == (billable, total)
    assert case.resolution.resolved_at == minutes(90)
    assert events == [
        CaseResolved(
            case_id=CASE_ID,
            occurred_at=minutes(90),
            previous_status=IN_PROGRESS,
            resolution_type="fixed",
            summary="Cleared the paper path",
            billable_minutes=billable,
            total_minutes=total,
            resolved_by=AGENT,
            entitlement_id=ENTITLEMENT,
        )
    ]


@pytest.mark.parametrize("status", [NEW, IN_PROGRESS, ON_HOLD, WAITING])
def test_resolve_from_every_open_status(status: CaseStatus) -> None:
    case = case_in(status)
    events = case.resolve(resolution_type="answered", summary="Explained", now=minutes(3))
    assert case.status is RESOLVED
    assert [type(e) for e in events] == [CaseResolved]
    assert isinstance(events[0], CaseResolved)
    assert events[0].previous_status is status


@pytest.mark.parametrize(
    ("resolution_type", "summary"), [("", "Explained"), ("answered", "  "), (" ", " ")]
)
def test_resolve_needs_a_type_and_a_summary(resolution_type: str, summary: str) -> None:
    case = new_case()
    with pytest.raises(CaseValidationError):
        case.resolve(resolution_type=resolution_type, summary=summary, now=minutes(3))
    assert case.status is NEW
    assert case.resolution is None


@pytest.mark.parametrize("closed", [RESOLVED, CANCELLED])
def test_resolve_refuses_a_closed_case(closed: CaseStatus) -> None:
    case = case_in(closed)
    with pytest.raises(CaseClosedError):
        case.resolve(resolution_type="fixed", summary="Again", now=minutes(3))


# -- cancel, reopen, escalate ----------------------------------------------------------


@pytest.mark.parametrize("status", [NEW, IN_PROGRESS, ON_HOLD, WAITING])
def test_cancel_closes_an_open_case_with_its_reason(status: CaseStatus) -> None:
    case = case_in(status)

    events = case.cancel(" Duplicate of CAS-2026-000122 ", now=minutes(4))

    assert case.status is CANCELLED
    assert case.cancellation_reason == "Duplicate of CAS-2026-000122"
    assert events == [
        CaseCancelled(
            case_id=CASE_ID,
            occurred_at=minutes(4),
            previous_status=status,
            reason="Duplicate of CAS-2026-000122",
        )
    ]


def test_cancel_needs_a_reason() -> None:
    case = new_case()
    with pytest.raises(CaseValidationError):
        case.cancel("  ", now=minutes(4))
    assert case.status is NEW


@pytest.mark.parametrize("closed", [RESOLVED, CANCELLED])
def test_cancel_refuses_a_closed_case(closed: CaseStatus) -> None:
    with pytest.raises(CaseClosedError):
        case_in(closed).cancel("Twice", now=minutes(4))


def test_reopen_a_resolved_case_takes_it_back_to_work() -> None:
    case = new_case()
    case.resolve(resolution_type="fixed", summary="Cleared", now=minutes(10))

    events = case.reopen("Jammed again", now=minutes(60))

    assert case.status is IN_PROGRESS
    assert case.resolution is None
    assert case.reopen_count == 1
    assert events == [
        CaseReopened(
            case_id=CASE_ID,
            occurred_at=minutes(60),
            previous_status=RESOLVED,
            reason="Jammed again",
            reopen_count=1,
        )
    ]


def test_reopen_a_cancelled_case_forgets_the_cancellation() -> None:
    case = new_case()
    case.cancel("Sent by mistake", now=minutes(1))

    case.reopen("It was not a mistake", now=minutes(2))

    assert case.status is IN_PROGRESS
    assert case.cancellation_reason is None


def test_each_reopening_is_counted_and_billing_covers_all_work() -> None:
    case = new_case()
    log_all(case, [(10, True)])
    case.resolve(resolution_type="fixed", summary="First try", now=minutes(10))
    case.reopen("Back", now=minutes(20))
    case.log_activity(
        activity_id=UUID(int=77),
        kind=ActivityKind.CALL,
        duration_minutes=15,
        billable=True,
        now=minutes(25),
    )
    case.resolve(resolution_type="fixed", summary="Second try", now=minutes(30))
    events = case.reopen("Back again", now=minutes(40))

    assert case.reopen_count == 2
    assert isinstance(events[0], CaseReopened)
    assert events[0].reopen_count == 2
    assert case.billable_minutes == 25


@pytest.mark.parametrize("status", [NEW, IN_PROGRESS, ON_HOLD, WAITING])
def test_reopen_refuses_an_open_case(status: CaseStatus) -> None:
    case = case_in(status)
    with pytest.raises(InvalidTransitionError):
        case.reopen("Why not", now=minutes(1))
    assert case.reopen_count == 0


def test_reopen_needs_a_reason() -> None:
    case = case_in(RESOLVED)
    with pytest.raises(CaseValidationError):
        case.reopen("", now=minutes(1))
    assert case.status is RESOLVED


def test_escalate_raises_the_level_each_time() -> None:
    case = new_case()

    first = case.escalate("Customer called twice", now=minutes(1))
    second = case.escalate("Outage widened", now=minutes(2), escalated_to=AGENT)

    assert case.escalation_level == 2
    assert first == [
        CaseEscalated(
            case_id=CASE_ID,
            occurred_at=minutes(1),
            reason="Customer called twice",
            level=1,
            escalated_to=None,
        )
    ]
    assert isinstance(second[0], CaseEscalated)
    assert (second[0].level, second[0].escalated_to) == (2, AGENT)


@pytest.mark.parametrize(
    ("status", "reason", "error"),
    [
        (RESOLVED, "Late", CaseClosedError),
        (CANCELLED, "Late", CaseClosedError),
        (NEW, " ", CaseValidationError),
    ],
)
def test_escalate_refuses(status: CaseStatus, reason: str, error: type[CaseError]) -> None:
    case = case_in(status)
    with pytest.raises(error):
        case.escalate(reason, now=minutes(1))
    assert case.escalation_level == 0


# -- update_details --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "changed"),
    [
        ({"subject": "Printer on fire"}, ("subject",)),
        ({"priority": Priority.URGENT}, ("priority",)),
        (
            {"request_type": "hardware.printer", "parameters": {"floor": "2"}},
            ("request_type", "parameters"),
        ),
        ({"description": "Smoke", "subject": "Printer on fire"}, ("subject", "description")),
    ],
)
def test_update_details_reports_the_fields_that_changed(
    changes: dict[str, object], changed: tuple[str, ...]
) -> None:
    case = new_case()

    events = case.update_details(now=minutes(2), **changes)  # type: ignore[arg-type]

    assert len(events) == 1
    event = events[0]
    assert isinstance(event, CaseUpdated)
    assert event.changed == changed
    for name, value in changes.items():
        assert getattr(case, name) == value
        assert getattr(event, name) == value


def test_update_details_with_the_same_values_changes_nothing() -> None:
    case = new_case()
    assert case.update_details(now=minutes(2), subject=" Printer jammed ") == []
    assert case.update_details(now=minutes(2)) == []


@pytest.mark.parametrize(
    ("status", "changes", "error"),
    [
        (RESOLVED, {"subject": "Late edit"}, CaseClosedError),
        (NEW, {"subject": "  "}, CaseValidationError),
        (NEW, {"request_type": ""}, CaseValidationError),
    ],
)
def test_update_details_refuses(
    status: CaseStatus, changes: dict[str, object], error: type[CaseError]
) -> None:
    case = case_in(status)
    with pytest.raises(error):
        case.update_details(now=minutes(2), **changes)  # type: ignore[arg-type]
    assert case.subject == "Printer jammed"


# -- time and events -------------------------------------------------------------------


def test_commands_refuse_a_naive_now() -> None:
    case = new_case()
    with pytest.raises(CaseValidationError):
        case.change_status(IN_PROGRESS, now=datetime(2026, 3, 2, 10, 0))
    assert case.status is NEW


def test_events_are_immutable() -> None:
    case = new_case()
    event = case.escalate("Loud customer", now=minutes(1))[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.occurred_at = minutes(2)  # type: ignore[misc]


@pytest.mark.parametrize(
    "error", [CaseValidationError, CaseNumberError, InvalidTransitionError, CaseClosedError]
)
def test_every_error_is_a_case_error(error: type[Exception]) -> None:
    assert issubclass(error, CaseError)
