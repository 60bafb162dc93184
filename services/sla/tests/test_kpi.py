"""The KPI instance state machine: start, tick, pause, resume, succeed, cancel, reopen."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest

from sla.domain import (
    Calendar,
    EscalationStep,
    EscalationTarget,
    InvalidPolicyError,
    InvalidTimeError,
    InvalidTransitionError,
    KpiBreached,
    KpiCancelled,
    KpiDefinition,
    KpiEscalated,
    KpiInstance,
    KpiNearingBreach,
    KpiPaused,
    KpiResumed,
    KpiStarted,
    KpiStatus,
    KpiSucceeded,
    ReopenMode,
    SlaError,
    start_kpi,
    working_time_between,
)

pytestmark = pytest.mark.unit

VILNIUS = ZoneInfo("Europe/Vilnius")
WEEK = date(2025, 6, 2)  # a Monday; "next Mon" is the Monday after
DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
NINE_TO_FIVE = Calendar.business_hours("Europe/Vilnius")

INSTANCE_ID = UUID("5e1a0000-0000-0000-0000-000000000001")
CASE_ID = UUID("ca5e0000-0000-0000-0000-000000000001")
POLICY_ID = UUID("9011c400-0000-0000-0000-000000000001")

FIRST_RESPONSE = KpiDefinition("first_response", timedelta(hours=4), timedelta(hours=1))
RESOLUTION = KpiDefinition("resolution", timedelta(hours=16), timedelta(hours=2))
NO_WARNING = KpiDefinition("callback", timedelta(hours=2))


def at(text: str) -> datetime:
    """A Vilnius moment of the reference week: "Mon 10:00", or "next Mon 10:00"."""
    words = text.split()
    shift = timedelta(0)
    if words[0] == "next":
        shift = timedelta(weeks=1)
        words = words[1:]
    day_text, clock_text = words
    day = WEEK + timedelta(days=DAY_NAMES.index(day_text)) + shift
    return datetime.combine(day, time.fromisoformat(clock_text), tzinfo=VILNIUS)


def hours(amount: float) -> timedelta:
    return timedelta(hours=amount)


def started(definition: KpiDefinition = RESOLUTION, now: str = "Mon 10:00") -> KpiInstance:
    instance, _ = start_kpi(
        instance_id=INSTANCE_ID,
        case_id=CASE_ID,
        policy_id=POLICY_ID,
        definition=definition,
        calendar=NINE_TO_FIVE,
        now=at(now),
        ladder=(),  # the deadlines alone: the escalation ladder is tested on its own
    )
    return instance


def kinds(events: Sequence[object]) -> list[type]:
    return [type(event) for event in events]


@pytest.mark.parametrize(
    ("definition", "start", "due", "warn"),
    [
        (FIRST_RESPONSE, "Mon 10:00", "Mon 14:00", "Mon 13:00"),
        (RESOLUTION, "Mon 10:00", "Wed 10:00", "Tue 16:00"),
        (FIRST_RESPONSE, "Fri 15:00", "next Mon 11:00", "next Mon 10:00"),
        (FIRST_RESPONSE, "Fri 13:00", "Fri 17:00", "Fri 16:00"),
        (RESOLUTION, "Sat 12:00", "next Tue 17:00", "next Tue 15:00"),
    ],
)
def test_starting_a_kpi_sets_its_deadline_and_warning_on_the_calendar(
    definition: KpiDefinition, start: str, due: str, warn: str
) -> None:
    instance, events = start_kpi(
        instance_id=INSTANCE_ID,
        case_id=CASE_ID,
        policy_id=POLICY_ID,
        definition=definition,
        calendar=NINE_TO_FIVE,
        now=at(start),
    )

    assert instance.status is KpiStatus.IN_PROGRESS
    assert instance.due_at == at(due)
    assert instance.warn_at == at(warn)
    assert events == [
        KpiStarted(
            instance_id=INSTANCE_ID,
            case_id=CASE_ID,
            kpi=definition.name,
            occurred_at=at(start),
            policy_id=POLICY_ID,
            target=definition.target,
            due_at=at(due),
            warn_at=at(warn),
        )
    ]


def test_a_kpi_without_warning_has_no_warning_moment() -> None:
    instance = started(NO_WARNING)

    assert instance.warn_at is None
    assert instance.next_check_at == at("Mon 12:00")
    assert kinds(instance.tick(at("Mon 11:59"))) == []
    assert kinds(instance.tick(at("Mon 12:00"))) == [KpiBreached]


def test_ticks_fire_the_warning_then_the_breach_once_each() -> None:
    instance = started(FIRST_RESPONSE)
    timeline = [
        ("Mon 12:59", [], KpiStatus.IN_PROGRESS),
        ("Mon 13:00", [KpiNearingBreach], KpiStatus.NEARING_BREACH),
        ("Mon 13:30", [], KpiStatus.NEARING_BREACH),
        ("Mon 13:59", [], KpiStatus.NEARING_BREACH),
        ("Mon 14:00", [KpiBreached], KpiStatus.BREACHED),
        ("Mon 15:00", [], KpiStatus.BREACHED),
        ("Tue 10:00", [], KpiStatus.BREACHED),
    ]

    for moment, expected, status in timeline:
        assert kinds(instance.tick(at(moment))) == expected, moment
        assert instance.status is status, moment

    assert instance.warned_at == at("Mon 13:00")
    assert instance.breached_at == at("Mon 14:00")
    assert instance.breached


def test_a_tick_after_a_long_gap_fires_the_warning_and_the_breach_in_order() -> None:
    instance = started(FIRST_RESPONSE)

    events = instance.tick(at("Wed 09:00"))

    assert events == [
        KpiNearingBreach(
            instance_id=INSTANCE_ID,
            case_id=CASE_ID,
            kpi="first_response",
            occurred_at=at("Mon 13:00"),
            due_at=at("Mon 14:00"),
        ),
        KpiBreached(
            instance_id=INSTANCE_ID,
            case_id=CASE_ID,
            kpi="first_response",
            occurred_at=at("Mon 14:00"),
        ),
    ]
    assert instance.status is KpiStatus.BREACHED
    assert instance.tick(at("Wed 10:00")) == []


def test_the_next_check_follows_the_pending_moments() -> None:
    instance = started(FIRST_RESPONSE)
    assert instance.next_check_at == at("Mon 13:00")

    instance.tick(at("Mon 13:00"))
    assert instance.next_check_at == at("Mon 14:00")

    instance.pause(at("Mon 13:30"), NINE_TO_FIVE)
    assert instance.next_check_at is None

    instance.resume(at("Tue 09:00"), NINE_TO_FIVE)
    assert instance.next_check_at == at("Tue 09:30")

    instance.tick(at("Tue 09:30"))
    assert instance.next_check_at is None


@pytest.mark.parametrize(
    ("pause_at", "resume_at", "due"),
    [
        ("Mon 12:00", "Mon 13:00", "Wed 11:00"),
        ("Mon 12:00", "Tue 12:00", "Thu 10:00"),
        ("Mon 16:00", "Tue 09:00", "Wed 11:00"),
        ("Mon 17:30", "Tue 08:00", "Wed 10:00"),
        ("Mon 12:00", "Sat 12:00", "next Tue 15:00"),
        ("Mon 10:00", "Mon 10:00", "Wed 10:00"),
    ],
)
def test_pause_and_resume_move_the_deadline_by_the_working_time_paused(
    pause_at: str, resume_at: str, due: str
) -> None:
    instance = started(RESOLUTION)
    original_due = instance.due_at
    assert original_due is not None

    paused = instance.pause(at(pause_at), NINE_TO_FIVE)
    resumed = instance.resume(at(resume_at), NINE_TO_FIVE)

    assert kinds(paused) == [KpiPaused]
    assert kinds(resumed) == [KpiResumed]
    assert instance.status is KpiStatus.IN_PROGRESS
    assert instance.due_at == at(due)
    shift = working_time_between(original_due, at(due), NINE_TO_FIVE)
    assert shift == working_time_between(at(pause_at), at(resume_at), NINE_TO_FIVE)
    assert instance.warn_at is not None
    assert working_time_between(instance.warn_at, at(due), NINE_TO_FIVE) == hours(2)


def test_pausing_keeps_the_working_time_used_so_far() -> None:
    instance = started(RESOLUTION)

    events = instance.pause(at("Mon 15:30"), NINE_TO_FIVE)

    assert events == [
        KpiPaused(
            instance_id=INSTANCE_ID,
            case_id=CASE_ID,
            kpi="resolution",
            occurred_at=at("Mon 15:30"),
            consumed=hours(5.5),
            remaining=hours(10.5),
        )
    ]
    assert instance.status is KpiStatus.PAUSED
    assert instance.due_at is None
    assert instance.warn_at is None
    assert instance.consumed_at(at("Wed 12:00"), NINE_TO_FIVE) == hours(5.5)
    assert instance.tick(at("Fri 12:00")) == []


def test_working_time_used_and_left_follow_the_clock() -> None:
    instance = started(RESOLUTION)

    assert instance.consumed_at(at("Mon 09:00"), NINE_TO_FIVE) == timedelta(0)
    assert instance.consumed_at(at("Mon 12:00"), NINE_TO_FIVE) == hours(2)
    assert instance.remaining_at(at("Mon 12:00"), NINE_TO_FIVE) == hours(14)
    assert instance.remaining_at(at("Tue 12:00"), NINE_TO_FIVE) == hours(6)
    assert instance.remaining_at(at("Thu 12:00"), NINE_TO_FIVE) == -hours(10)


def test_resuming_after_the_warning_keeps_it_fired() -> None:
    instance = started(FIRST_RESPONSE)
    instance.tick(at("Mon 13:15"))

    instance.pause(at("Mon 13:30"), NINE_TO_FIVE)
    status_while_paused = instance.status
    resumed = instance.resume(at("Tue 09:00"), NINE_TO_FIVE)

    assert status_while_paused is KpiStatus.PAUSED
    assert instance.status is KpiStatus.NEARING_BREACH
    assert resumed == [
        KpiResumed(
            instance_id=INSTANCE_ID,
            case_id=CASE_ID,
            kpi="first_response",
            occurred_at=at("Tue 09:00"),
            due_at=at("Tue 09:30"),
            warn_at=at("Mon 13:00"),
        )
    ]
    assert kinds(instance.tick(at("Tue 09:30"))) == [KpiBreached]


def test_resuming_before_the_warning_reschedules_it() -> None:
    instance = started(FIRST_RESPONSE)
    instance.pause(at("Mon 11:00"), NINE_TO_FIVE)

    instance.resume(at("Tue 09:00"), NINE_TO_FIVE)

    assert instance.warn_at == at("Tue 11:00")
    assert instance.due_at == at("Tue 12:00")
    assert kinds(instance.tick(at("Tue 11:00"))) == [KpiNearingBreach]


def test_pausing_after_an_unnoticed_deadline_reports_the_breach_instead() -> None:
    instance = started(FIRST_RESPONSE)

    events = instance.pause(at("Mon 15:00"), NINE_TO_FIVE)

    assert kinds(events) == [KpiNearingBreach, KpiBreached]
    assert instance.status is KpiStatus.BREACHED
    assert instance.pause(at("Mon 16:00"), NINE_TO_FIVE) == []
    assert instance.resume(at("Tue 09:00"), NINE_TO_FIVE) == []
    assert instance.status is KpiStatus.BREACHED


def test_succeeding_in_time_is_not_a_breach() -> None:
    instance = started(FIRST_RESPONSE)
    instance.tick(at("Mon 13:00"))

    events = instance.succeed(at("Mon 13:45"))

    assert events == [
        KpiSucceeded(
            instance_id=INSTANCE_ID,
            case_id=CASE_ID,
            kpi="first_response",
            occurred_at=at("Mon 13:45"),
            breached=False,
        )
    ]
    assert instance.status is KpiStatus.SUCCEEDED
    assert instance.ended_at == at("Mon 13:45")
    assert not instance.breached
    assert instance.consumed_at(at("Fri 12:00"), NINE_TO_FIVE) == hours(3.75)


def test_succeeding_after_the_breach_records_it() -> None:
    instance = started(FIRST_RESPONSE)
    instance.tick(at("Mon 14:05"))

    events = instance.succeed(at("Mon 16:00"))

    assert kinds(events) == [KpiSucceeded]
    assert isinstance(events[0], KpiSucceeded)
    assert events[0].breached
    assert instance.status is KpiStatus.SUCCEEDED
    assert instance.breached_at == at("Mon 14:00")


def test_succeeding_at_the_deadline_itself_is_late_even_without_a_tick() -> None:
    instance = started(FIRST_RESPONSE)

    events = instance.succeed(at("Mon 14:00"))

    assert kinds(events) == [KpiNearingBreach, KpiBreached, KpiSucceeded]
    assert isinstance(events[-1], KpiSucceeded)
    assert events[-1].breached


def test_succeeding_while_paused_is_in_time() -> None:
    instance = started(FIRST_RESPONSE)
    instance.pause(at("Mon 11:00"), NINE_TO_FIVE)

    events = instance.succeed(at("Wed 11:00"))

    assert kinds(events) == [KpiSucceeded]
    assert isinstance(events[0], KpiSucceeded)
    assert not events[0].breached
    assert instance.consumed_at(at("Wed 11:00"), NINE_TO_FIVE) == hours(1)


@pytest.mark.parametrize(
    ("prepare", "cancel_at", "expected"),
    [
        (lambda kpi: [], "Mon 12:00", [KpiCancelled]),
        (lambda kpi: kpi.pause(at("Mon 11:00"), NINE_TO_FIVE), "Wed 12:00", [KpiCancelled]),
        (lambda kpi: kpi.tick(at("Mon 15:00")), "Mon 16:00", [KpiCancelled]),
    ],
    ids=["in progress", "paused", "breached"],
)
def test_an_open_kpi_can_be_cancelled(
    prepare: Callable[[KpiInstance], object], cancel_at: str, expected: list[type]
) -> None:
    instance = started(FIRST_RESPONSE)
    prepare(instance)

    events = instance.cancel(at(cancel_at))

    assert kinds(events) == expected
    assert instance.status is KpiStatus.CANCELLED
    assert instance.ended_at == at(cancel_at)
    assert not instance.is_open
    assert instance.tick(at("Tue 12:00")) == []


def test_cancelling_after_an_unnoticed_deadline_reports_the_breach_first() -> None:
    instance = started(FIRST_RESPONSE)

    events = instance.cancel(at("Tue 12:00"))

    assert kinds(events) == [KpiNearingBreach, KpiBreached, KpiCancelled]
    assert instance.breached


# -- reopen: an ended KPI continues with the working time it had used ---------------------------


def _resolved(
    at_text: str, *, prepare: Callable[[KpiInstance], object] = lambda kpi: []
) -> KpiInstance:
    """The resolution KPI started Mon 10:00 (16 h, warning after 14 h), met at `at_text`."""
    instance = started(RESOLUTION)
    prepare(instance)
    instance.succeed(at(at_text))
    return instance


@pytest.mark.parametrize("end", ["succeed", "cancel"])
def test_reopening_continues_with_the_time_used_and_runs_from_the_reopening(end: str) -> None:
    instance = started(RESOLUTION)
    getattr(instance, end)(at("Mon 15:00"))  # 5 working hours used

    events = instance.reopen(at("Wed 10:00"), NINE_TO_FIVE)

    # 11 h left from Wed 10:00: Wed 10-17 and Thu 9-13; the warning 9 h in, Thu 11:00.
    assert events == [
        KpiResumed(
            instance_id=INSTANCE_ID,
            case_id=CASE_ID,
            kpi="resolution",
            occurred_at=at("Wed 10:00"),
            due_at=at("Thu 13:00"),
            warn_at=at("Thu 11:00"),
        )
    ]
    assert (instance.status, instance.ended_at, instance.instance_id) == (
        KpiStatus.IN_PROGRESS,
        None,
        INSTANCE_ID,
    )
    assert instance.is_open and instance.is_running
    assert instance.started_at == at("Mon 10:00")
    # The two days between the end and the reopening do not count.
    assert instance.consumed_at(at("Wed 12:00"), NINE_TO_FIVE) == hours(7)
    assert instance.next_check_at == at("Thu 11:00")


def test_a_reopened_kpi_can_breach_and_be_met_again() -> None:
    instance = _resolved("Mon 15:00")
    instance.reopen(at("Wed 10:00"), NINE_TO_FIVE)

    assert kinds(instance.tick(at("Thu 13:00"))) == [KpiNearingBreach, KpiBreached]
    events = instance.succeed(at("Thu 15:00"))

    assert kinds(events) == [KpiSucceeded]
    assert isinstance(events[0], KpiSucceeded) and events[0].breached
    assert instance.breached_at == at("Thu 13:00")
    # Mon 10-15, then Wed 10-17 and Thu 9-15 after the reopening.
    assert instance.consumed_at(at("Fri 12:00"), NINE_TO_FIVE) == hours(5 + 7 + 6)


def test_a_reopened_kpi_met_in_time_again_is_not_breached() -> None:
    instance = _resolved("Mon 15:00")
    instance.reopen(at("Wed 10:00"), NINE_TO_FIVE)

    events = instance.succeed(at("Wed 16:00"))

    assert isinstance(events[-1], KpiSucceeded) and not events[-1].breached
    assert instance.consumed_at(at("Fri 12:00"), NINE_TO_FIVE) == hours(11)


def test_reopening_after_the_warning_keeps_it_fired() -> None:
    instance = _resolved("Tue 16:30", prepare=lambda kpi: kpi.tick(at("Tue 16:00")))

    [resumed] = instance.reopen(at("Wed 10:00"), NINE_TO_FIVE)

    assert isinstance(resumed, KpiResumed)
    assert (resumed.due_at, resumed.warn_at) == (at("Wed 11:30"), at("Tue 16:00"))
    assert instance.status is KpiStatus.NEARING_BREACH
    assert instance.tick(at("Wed 11:00")) == []
    assert kinds(instance.tick(at("Wed 11:30"))) == [KpiBreached]


def test_a_kpi_met_late_is_still_breached_once_reopened() -> None:
    instance = _resolved("Wed 12:00", prepare=lambda kpi: kpi.tick(at("Wed 10:00")))

    [resumed] = instance.reopen(at("Thu 10:00"), NINE_TO_FIVE)

    assert isinstance(resumed, KpiResumed) and resumed.due_at == at("Wed 10:00")
    assert instance.status is KpiStatus.BREACHED and instance.is_open
    assert instance.next_check_at is None
    assert instance.tick(at("Fri 12:00")) == []
    events = instance.succeed(at("Fri 12:00"))
    assert isinstance(events[-1], KpiSucceeded) and events[-1].breached
    # Wed 10-12 before the first end, then Thu 10-17 and Fri 9-12 after the reopening.
    assert instance.consumed_at(at("Fri 12:00"), NINE_TO_FIVE) == hours(16 + 2 + 7 + 3)


def test_a_kpi_met_while_paused_reopens_with_the_time_used_before_the_pause() -> None:
    instance = _resolved("Wed 11:00", prepare=lambda kpi: kpi.pause(at("Mon 11:00"), NINE_TO_FIVE))

    [resumed] = instance.reopen(at("Thu 09:00"), NINE_TO_FIVE)

    # 1 h used, 15 h left: Thu 9-17 and Fri 9-16.
    assert isinstance(resumed, KpiResumed) and resumed.due_at == at("Fri 16:00")
    assert (instance.status, instance.paused_at) == (KpiStatus.IN_PROGRESS, None)


def test_reopening_before_the_end_is_refused() -> None:
    instance = _resolved("Mon 15:00")
    with pytest.raises(InvalidTimeError):
        instance.reopen(at("Mon 14:00"), NINE_TO_FIVE)
    assert instance.status is KpiStatus.SUCCEEDED


def _succeeded() -> KpiInstance:
    instance = started(FIRST_RESPONSE)
    instance.succeed(at("Mon 11:00"))
    return instance


def _cancelled() -> KpiInstance:
    instance = started(FIRST_RESPONSE)
    instance.cancel(at("Mon 11:00"))
    return instance


def _paused() -> KpiInstance:
    instance = started(FIRST_RESPONSE)
    instance.pause(at("Mon 11:00"), NINE_TO_FIVE)
    return instance


@pytest.mark.parametrize(
    ("make", "command"),
    [
        (_paused, lambda kpi: kpi.pause(at("Mon 12:00"), NINE_TO_FIVE)),
        (started, lambda kpi: kpi.resume(at("Mon 12:00"), NINE_TO_FIVE)),
        (_succeeded, lambda kpi: kpi.succeed(at("Mon 12:00"))),
        (_succeeded, lambda kpi: kpi.cancel(at("Mon 12:00"))),
        (_succeeded, lambda kpi: kpi.pause(at("Mon 12:00"), NINE_TO_FIVE)),
        (_cancelled, lambda kpi: kpi.resume(at("Mon 12:00"), NINE_TO_FIVE)),
        (_cancelled, lambda kpi: kpi.succeed(at("Mon 12:00"))),
        (started, lambda kpi: kpi.reopen(at("Mon 12:00"), NINE_TO_FIVE)),
        (_paused, lambda kpi: kpi.reopen(at("Mon 12:00"), NINE_TO_FIVE)),
    ],
    ids=[
        "pause paused",
        "resume running",
        "succeed succeeded",
        "cancel succeeded",
        "pause succeeded",
        "resume cancelled",
        "succeed cancelled",
        "reopen running",
        "reopen paused",
    ],
)
def test_invalid_transitions_are_refused_and_change_nothing(
    make: Callable[[], KpiInstance], command: Callable[[KpiInstance], object]
) -> None:
    instance = make()
    before = instance.status

    with pytest.raises(InvalidTransitionError, match=before.value):
        command(instance)

    assert instance.status is before


def test_commands_dated_before_the_last_change_are_refused() -> None:
    instance = _paused()

    with pytest.raises(InvalidTimeError, match="last changed"):
        instance.resume(at("Mon 10:30"), NINE_TO_FIVE)
    with pytest.raises(InvalidTimeError):
        instance.succeed(at("Mon 09:00"))
    assert instance.status is KpiStatus.PAUSED


def test_naive_now_is_refused() -> None:
    instance = started(FIRST_RESPONSE)

    with pytest.raises(InvalidTimeError):
        instance.tick(datetime(2025, 6, 2, 12, 0))
    with pytest.raises(SlaError):
        start_kpi(
            instance_id=INSTANCE_ID,
            case_id=CASE_ID,
            policy_id=POLICY_ID,
            definition=FIRST_RESPONSE,
            calendar=NINE_TO_FIVE,
            now=datetime(2025, 6, 2, 12, 0),
        )


def test_moments_in_other_time_zones_are_compared_as_instants() -> None:
    instance = started(FIRST_RESPONSE)

    assert instance.tick(at("Mon 12:59").astimezone(UTC)) == []
    assert kinds(instance.tick(at("Mon 13:00").astimezone(UTC))) == [KpiNearingBreach]


def test_a_kpi_that_restarts_on_reopening_is_measured_afresh_after_a_breach() -> None:
    instance = _resolved("Wed 12:00", prepare=lambda kpi: kpi.tick(at("Wed 10:00")))
    instance.reopen_mode = ReopenMode.RESTART
    assert instance.breached

    [resumed] = instance.reopen(at("Thu 10:00"), NINE_TO_FIVE)

    # The whole 16 h from Thu 10:00: Thu 10-17, Fri 9-17 and next Mon 9-10; the warning 14 h
    # in, Fri 16:00.
    assert isinstance(resumed, KpiResumed)
    assert resumed.due_at == at("next Mon 10:00")
    assert resumed.warn_at == at("Fri 16:00")
    assert (instance.status, instance.breached_at, instance.warned_at) == (
        KpiStatus.IN_PROGRESS,
        None,
        None,
    )
    assert instance.consumed_at(at("Thu 12:00"), NINE_TO_FIVE) == hours(2)
    # It warns and breaches again, on its new clock.
    assert kinds(instance.tick(at("Fri 16:00"))) == [KpiNearingBreach]
    assert kinds(instance.tick(at("next Mon 10:00"))) == [KpiBreached]


def test_a_kpi_pauses_in_the_statuses_its_definition_names() -> None:
    strict = KpiDefinition("resolution", hours(16), hours(2), pause_statuses=frozenset({"on_hold"}))
    instance = started(strict)

    assert instance.pauses_in("on_hold")
    assert not instance.pauses_in("waiting_for_customer")
    assert started(RESOLUTION).pauses_in("waiting_for_customer")
    assert not KpiDefinition("never", hours(1), pause_statuses=frozenset()).pause_statuses


@pytest.mark.parametrize("status", ["resolved", "cancelled", "sleeping", ""])
def test_a_kpi_cannot_pause_in_a_closing_or_unknown_status(status: str) -> None:
    with pytest.raises(InvalidPolicyError, match="can pause only in"):
        KpiDefinition("resolution", hours(1), pause_statuses=frozenset({status}))


def test_a_settled_kpi_keeps_the_time_it_used_and_reopens_the_same() -> None:
    settled, unsettled = started(RESOLUTION), started(RESOLUTION)
    for instance in (settled, unsettled):
        instance.succeed(at("Mon 15:00"))  # 5 working hours used
    settled.settle(NINE_TO_FIVE)

    assert (settled.consumed, settled.running_since) == (hours(5), None)
    assert settled.consumed_at(at("Wed 12:00"), NINE_TO_FIVE) == hours(5)
    assert settled.reopen(at("Wed 10:00"), NINE_TO_FIVE) == unsettled.reopen(
        at("Wed 10:00"), NINE_TO_FIVE
    )
    with pytest.raises(InvalidTransitionError):
        started(RESOLUTION).settle(NINE_TO_FIVE)  # it has not ended


# -- the escalation ladder -------------------------------------------------------------------

LADDER = (
    EscalationStep(timedelta(0), EscalationTarget.MANAGER),
    EscalationStep(hours(2), EscalationTarget.DEPARTMENT_HEAD),
    EscalationStep(hours(26), EscalationTarget.QUEUE_OWNER),
)


def laddered(ladder: tuple[EscalationStep, ...] = LADDER) -> KpiInstance:
    """The resolution KPI started Mon 10:00 (16 h, warning after 14 h: Tue 16:00, deadline
    Wed 10:00), climbing `ladder` once breached."""
    instance, _ = start_kpi(
        instance_id=INSTANCE_ID,
        case_id=CASE_ID,
        policy_id=POLICY_ID,
        definition=RESOLUTION,
        calendar=NINE_TO_FIVE,
        now=at("Mon 10:00"),
        ladder=ladder,
    )
    return instance


def test_a_breached_kpi_climbs_its_ladder_a_step_at_a_time_in_elapsed_time() -> None:
    instance = laddered()
    assert kinds(instance.tick(at("Tue 16:00"))) == [KpiNearingBreach]

    breach, first = instance.tick(at("Wed 10:00"))

    assert isinstance(breach, KpiBreached)
    assert first == KpiEscalated(
        instance_id=INSTANCE_ID,
        case_id=CASE_ID,
        kpi="resolution",
        occurred_at=at("Wed 10:00"),
        level=1,
        step=LADDER[0],
        breached_at=at("Wed 10:00"),
    )
    # Two hours later by the clock on the wall, whatever the calendar says.
    assert instance.next_check_at == at("Wed 12:00")
    assert instance.tick(at("Wed 11:59")) == []
    [second] = instance.tick(at("Wed 12:00"))
    assert isinstance(second, KpiEscalated)
    assert (second.level, second.step.to, second.occurred_at) == (
        2,
        EscalationTarget.DEPARTMENT_HEAD,
        at("Wed 12:00"),
    )
    assert instance.next_check_at == at("Thu 12:00")
    [third] = instance.tick(at("Thu 12:00"))
    assert isinstance(third, KpiEscalated) and third.level == 3
    assert (instance.escalated, instance.next_check_at) == (3, None)
    assert instance.tick(at("next Mon 09:00")) == []
    assert instance.status is KpiStatus.BREACHED  # climbing does not end it


def test_a_late_tick_climbs_every_step_that_came_due_in_order() -> None:
    instance = laddered()

    events = instance.tick(at("Fri 09:00"))

    assert kinds(events) == [KpiNearingBreach, KpiBreached, *[KpiEscalated] * 3]
    steps = [e for e in events if isinstance(e, KpiEscalated)]
    assert [(e.level, e.occurred_at) for e in steps] == [
        (1, at("Wed 10:00")),
        (2, at("Wed 12:00")),
        (3, at("Thu 12:00")),
    ]


def test_a_kpi_met_after_its_breach_climbs_no_further() -> None:
    instance = laddered()
    instance.tick(at("Wed 10:00"))

    assert kinds(instance.succeed(at("Wed 11:00"))) == [KpiSucceeded]
    assert instance.next_check_at is None
    assert instance.tick(at("Fri 09:00")) == []


def test_a_kpi_met_after_steps_came_due_is_not_escalated_late() -> None:
    instance = laddered()
    instance.tick(at("Tue 16:00"))

    # The deadline passed unnoticed; the breach is caught up, but a met case escalates nothing.
    assert kinds(instance.succeed(at("Thu 13:00"))) == [KpiBreached, KpiSucceeded]
    assert instance.escalated == 0


def test_a_breached_kpi_reopened_goes_on_from_the_next_step_to_come() -> None:
    instance = laddered()
    instance.tick(at("Wed 10:00"))
    instance.succeed(at("Wed 11:00"))

    instance.reopen(at("Thu 09:00"), NINE_TO_FIVE)

    # The step of Wed 12:00 fell due while the case was closed: it is not climbed late.
    assert (instance.status, instance.escalated) == (KpiStatus.BREACHED, 2)
    assert instance.next_check_at == at("Thu 12:00")
    [step] = instance.tick(at("Thu 12:00"))
    assert isinstance(step, KpiEscalated) and step.level == 3


def test_a_kpi_measured_afresh_climbs_its_ladder_afresh() -> None:
    instance = laddered()
    instance.tick(at("Wed 12:00"))
    instance.succeed(at("Wed 13:00"))
    instance.reopen_mode = ReopenMode.RESTART

    instance.reopen(at("Thu 10:00"), NINE_TO_FIVE)

    assert (instance.escalated, instance.breached_at) == (0, None)
    events = instance.tick(at("next Mon 10:00"))
    assert kinds(events) == [KpiNearingBreach, KpiBreached, KpiEscalated]


def test_a_kpi_without_a_ladder_breaches_and_escalates_nothing() -> None:
    instance = laddered(ladder=())

    assert kinds(instance.tick(at("Fri 09:00"))) == [KpiNearingBreach, KpiBreached]
    assert instance.next_check_at is None
