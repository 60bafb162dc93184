"""Re-evaluating a KPI instance when the facts its policy was chosen on change: the working
time used so far stays, the new target, warning and calendar apply from the change on."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from datetime import date, datetime, time, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest

from sla.domain import (
    Calendar,
    InvalidTimeError,
    KpiBreached,
    KpiDefinition,
    KpiEvent,
    KpiInstance,
    KpiNearingBreach,
    KpiReEvaluated,
    KpiResumed,
    KpiStatus,
    add_working_time,
    start_kpi,
    working_time_between,
)

pytestmark = pytest.mark.unit

VILNIUS = ZoneInfo("Europe/Vilnius")
WEEK = date(2025, 6, 2)  # a Monday; "next Mon" is the Monday after
DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
NINE_TO_FIVE = Calendar.business_hours("Europe/Vilnius")
EIGHT_TO_EIGHT = Calendar.business_hours("Europe/Vilnius", start=time(8), end=time(20))

INSTANCE_ID = UUID("5e1a0000-0000-0000-0000-000000000002")
CASE_ID = UUID("ca5e0000-0000-0000-0000-000000000002")
POLICY_ID = UUID("9011c400-0000-0000-0000-000000000002")
NEW_POLICY_ID = UUID("9011c400-0000-0000-0000-00000000000b")
REASON = "priority changed to urgent"

FIRST_RESPONSE = KpiDefinition("first_response", timedelta(hours=4), timedelta(hours=1))
"""Due 4 working hours after the start, warned after 3."""
RESOLUTION = KpiDefinition("resolution", timedelta(hours=16), timedelta(hours=2))
"""Due 16 working hours after the start, warned after 14."""


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


def re_evaluate(
    instance: KpiInstance,
    definition: KpiDefinition,
    now: str,
    *,
    calendar: Calendar = NINE_TO_FIVE,
    was: Calendar = NINE_TO_FIVE,
) -> list[KpiEvent]:
    return instance.re_evaluate(
        definition,
        at(now),
        was=was,
        calendar=calendar,
        policy_id=NEW_POLICY_ID,
        reason=REASON,
    )


def kinds(events: Sequence[object]) -> list[type]:
    return [type(event) for event in events]


def re_evaluated(
    kpi: str,
    now: str,
    *,
    target: timedelta,
    status: KpiStatus,
    due_at: datetime | None,
    warn_at: datetime | None,
) -> KpiReEvaluated:
    return KpiReEvaluated(
        instance_id=INSTANCE_ID,
        case_id=CASE_ID,
        kpi=kpi,
        occurred_at=at(now),
        policy_id=NEW_POLICY_ID,
        target=target,
        status=status,
        due_at=due_at,
        warn_at=warn_at,
        reason=REASON,
    )


# --- A running KPI ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("definition", "due", "warn"),
    [
        # 5 hours used by Mon 15:00; 3 left of 8, the warning after 7 (2 hours on).
        (KpiDefinition("resolution", hours(8), hours(1)), "Tue 10:00", "Mon 17:00"),
        # 19 hours left of 24, the warning after 22 (17 hours on).
        (KpiDefinition("resolution", hours(24), hours(2)), "Thu 10:00", "Wed 16:00"),
    ],
    ids=["shorter", "longer"],
)
def test_a_running_kpi_keeps_the_time_used_and_moves_its_deadline_and_warning(
    definition: KpiDefinition, due: str, warn: str
) -> None:
    instance = started(RESOLUTION)
    now = at("Mon 15:00")
    used = hours(5)
    assert definition.warn_after is not None

    events = re_evaluate(instance, definition, "Mon 15:00")

    expected_due = add_working_time(now, definition.target - used, NINE_TO_FIVE)
    expected_warn = add_working_time(now, definition.warn_after - used, NINE_TO_FIVE)
    assert (expected_due, expected_warn) == (at(due), at(warn))
    assert events == [
        re_evaluated(
            "resolution",
            "Mon 15:00",
            target=definition.target,
            status=KpiStatus.IN_PROGRESS,
            due_at=expected_due,
            warn_at=expected_warn,
        )
    ]
    assert instance.status is KpiStatus.IN_PROGRESS
    assert (instance.target, instance.warn_after) == (definition.target, definition.warn_after)
    assert (instance.due_at, instance.warn_at) == (expected_due, expected_warn)
    assert instance.policy_id == NEW_POLICY_ID
    assert (instance.consumed, instance.running_since) == (used, now)
    assert instance.consumed_at(now, NINE_TO_FIVE) == used
    assert instance.consumed_at(at("Tue 12:00"), NINE_TO_FIVE) == used + hours(2 + 3)
    assert instance.remaining_at(now, NINE_TO_FIVE) == definition.target - used
    assert instance.next_check_at == expected_warn
    assert instance.started_at == at("Mon 10:00")  # still the same instance, continued


def test_the_new_deadline_is_what_the_ticks_then_fire_at() -> None:
    instance = started(RESOLUTION)
    re_evaluate(instance, KpiDefinition("resolution", hours(8), hours(1)), "Mon 15:00")

    assert instance.tick(at("Mon 16:59")) == []
    assert kinds(instance.tick(at("Mon 17:00"))) == [KpiNearingBreach]
    assert instance.tick(at("Tue 09:59")) == []
    assert instance.tick(at("Tue 10:00")) == [
        KpiBreached(
            instance_id=INSTANCE_ID, case_id=CASE_ID, kpi="resolution", occurred_at=at("Tue 10:00")
        )
    ]
    assert instance.breached_at == at("Tue 10:00")
    assert instance.tick(at("Wed 10:00")) == []  # the old deadline fires nothing


def test_a_new_definition_without_warning_leaves_no_warning_moment() -> None:
    instance = started(RESOLUTION)

    events = re_evaluate(instance, KpiDefinition("resolution", hours(10)), "Mon 15:00")

    assert events == [
        re_evaluated(
            "resolution",
            "Mon 15:00",
            target=hours(10),
            status=KpiStatus.IN_PROGRESS,
            due_at=at("Tue 12:00"),
            warn_at=None,
        )
    ]
    assert (instance.warn_after, instance.warn_at) == (None, None)
    # 5 hours used by Mon 15:00; 5 left: 2 on Monday, 3 on Tuesday.
    assert instance.next_check_at == at("Tue 12:00")
    assert instance.tick(at("Tue 11:59")) == []
    assert kinds(instance.tick(at("Tue 12:00"))) == [KpiBreached]


def test_only_the_running_time_counts_after_a_pause() -> None:
    instance = started(RESOLUTION)
    instance.pause(at("Mon 11:00"), NINE_TO_FIVE)
    instance.resume(at("Mon 14:00"), NINE_TO_FIVE)

    re_evaluate(instance, KpiDefinition("resolution", hours(8)), "Mon 16:00")

    # 1 hour before the pause, 2 since the resumption: 5 of 8 are left.
    assert instance.consumed == hours(3)
    assert instance.due_at == add_working_time(at("Mon 16:00"), hours(5), NINE_TO_FIVE)
    assert instance.due_at == at("Tue 13:00")


# --- Another calendar ---------------------------------------------------------------------


def test_on_another_calendar_the_time_used_is_counted_on_the_old_one_and_the_rest_on_the_new() -> (
    None
):
    instance = started(RESOLUTION)  # Mon 10:00, on nine to five
    now = at("Mon 19:00")  # after nine to five has closed, before eight to eight does
    used = working_time_between(at("Mon 10:00"), now, NINE_TO_FIVE)
    assert used == hours(7)
    assert working_time_between(at("Mon 10:00"), now, EIGHT_TO_EIGHT) == hours(9)

    events = re_evaluate(
        instance, RESOLUTION, "Mon 19:00", was=NINE_TO_FIVE, calendar=EIGHT_TO_EIGHT
    )

    # 9 hours left: one on Monday evening, eight on Tuesday from 08:00.
    expected_due = add_working_time(now, hours(16) - used, EIGHT_TO_EIGHT)
    expected_warn = add_working_time(now, hours(14) - used, EIGHT_TO_EIGHT)
    assert (expected_due, expected_warn) == (at("Tue 16:00"), at("Tue 14:00"))
    assert instance.consumed == used
    assert (instance.due_at, instance.warn_at) == (expected_due, expected_warn)
    [event] = events
    assert isinstance(event, KpiReEvaluated)
    assert (event.due_at, event.warn_at, event.target) == (expected_due, expected_warn, hours(16))
    # From now on the time used is counted on the new calendar.
    assert instance.consumed_at(at("Tue 10:00"), EIGHT_TO_EIGHT) == used + hours(1 + 2)


# --- A paused KPI -------------------------------------------------------------------------


def test_a_paused_kpi_gets_the_new_target_without_a_deadline_until_it_resumes() -> None:
    instance = started(RESOLUTION)
    instance.pause(at("Mon 12:00"), NINE_TO_FIVE)  # 2 hours used
    shorter = KpiDefinition("resolution", hours(8), hours(1))

    events = re_evaluate(instance, shorter, "Tue 10:00")

    assert events == [
        re_evaluated(
            "resolution",
            "Tue 10:00",
            target=hours(8),
            status=KpiStatus.PAUSED,
            due_at=None,
            warn_at=None,
        )
    ]
    assert instance.status is KpiStatus.PAUSED
    assert (instance.due_at, instance.warn_at, instance.next_check_at) == (None, None, None)
    assert (instance.target, instance.consumed, instance.policy_id) == (
        hours(8),
        hours(2),
        NEW_POLICY_ID,
    )
    assert instance.paused_at == at("Mon 12:00")
    assert instance.tick(at("next Mon 10:00")) == []

    resumed = instance.resume(at("Wed 09:00"), NINE_TO_FIVE)

    # 6 hours of the new 8 are left, the warning 5 hours on.
    assert kinds(resumed) == [KpiResumed]
    assert (instance.due_at, instance.warn_at) == (at("Wed 15:00"), at("Wed 14:00"))
    assert instance.due_at == add_working_time(at("Wed 09:00"), hours(6), NINE_TO_FIVE)


def test_a_paused_kpi_is_re_evaluated_on_the_new_calendar_when_it_resumes() -> None:
    instance = started(RESOLUTION)
    instance.pause(at("Mon 12:00"), NINE_TO_FIVE)

    re_evaluate(instance, RESOLUTION, "Mon 19:00", was=NINE_TO_FIVE, calendar=EIGHT_TO_EIGHT)
    instance.resume(at("Mon 19:00"), EIGHT_TO_EIGHT)

    # Only the 2 hours before the pause were used: 14 are left on eight to eight (one on
    # Monday evening, 12 on Tuesday, one on Wednesday).
    assert instance.consumed == hours(2)
    assert instance.due_at == add_working_time(at("Mon 19:00"), hours(14), EIGHT_TO_EIGHT)
    assert instance.due_at == at("Wed 09:00")


# --- A target already used up -------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [hours(4), hours(5)],
    ids=["overrun", "exactly-used"],
)
def test_a_target_already_used_up_is_due_now_and_breaches_at_the_next_tick(
    target: timedelta,
) -> None:
    instance = started(RESOLUTION)  # 5 hours used by Mon 15:00
    now = at("Mon 15:00")

    events = re_evaluate(instance, KpiDefinition("resolution", target, hours(1)), "Mon 15:00")

    assert events == [
        re_evaluated(
            "resolution",
            "Mon 15:00",
            target=target,
            status=KpiStatus.IN_PROGRESS,
            due_at=now,
            warn_at=now,
        )
    ]
    assert (instance.due_at, instance.warn_at) == (now, now)
    assert instance.status is KpiStatus.IN_PROGRESS
    assert instance.next_check_at == now
    assert instance.remaining_at(now, NINE_TO_FIVE) == target - hours(5)

    fired = instance.tick(now)

    assert kinds(fired) == [KpiNearingBreach, KpiBreached]
    assert [event.occurred_at for event in fired] == [now, now]
    assert (instance.status, instance.breached_at) == (KpiStatus.BREACHED, now)


# --- KPIs that keep their outcome ---------------------------------------------------------


def _breached() -> KpiInstance:
    instance = started(FIRST_RESPONSE)
    instance.tick(at("Mon 14:00"))
    assert instance.status is KpiStatus.BREACHED
    return instance


def _succeeded() -> KpiInstance:
    instance = started(FIRST_RESPONSE)
    instance.succeed(at("Mon 11:00"))
    return instance


def _succeeded_late() -> KpiInstance:
    instance = started(FIRST_RESPONSE)
    instance.succeed(at("Mon 14:30"))
    return instance


def _cancelled() -> KpiInstance:
    instance = started(FIRST_RESPONSE)
    instance.cancel(at("Mon 11:00"))
    return instance


def _breached_while_running_on() -> KpiInstance:
    instance = started(FIRST_RESPONSE)
    instance.tick(at("Mon 14:00"))
    instance.pause(at("Mon 15:00"), NINE_TO_FIVE)  # ignored: the deadline has passed
    return instance


@pytest.mark.parametrize(
    "make",
    [_breached, _succeeded, _succeeded_late, _cancelled, _breached_while_running_on],
    ids=["breached", "succeeded", "succeeded-late", "cancelled", "breached-after-pause"],
)
def test_a_breached_or_ended_kpi_is_left_as_it_was(make: Callable[[], KpiInstance]) -> None:
    instance = make()
    before = dataclasses.replace(instance)

    events = re_evaluate(
        instance,
        KpiDefinition("first_response", hours(40), hours(1)),
        "Tue 10:00",
        calendar=EIGHT_TO_EIGHT,
    )

    assert events == []
    assert instance == before
    assert instance.policy_id == POLICY_ID
    assert instance.target == hours(4)


# --- Warnings -----------------------------------------------------------------------------


def test_a_warning_already_given_stays_given() -> None:
    instance = started(FIRST_RESPONSE)  # warned at Mon 13:00, due Mon 14:00
    instance.tick(at("Mon 13:00"))
    longer = KpiDefinition("first_response", hours(8), hours(1))  # warned after 7

    events = re_evaluate(instance, longer, "Mon 13:30")

    # 3.5 hours used; 4.5 left: 3.5 on Monday, 1 on Tuesday.
    assert events == [
        re_evaluated(
            "first_response",
            "Mon 13:30",
            target=hours(8),
            status=KpiStatus.NEARING_BREACH,
            due_at=at("Tue 10:00"),
            warn_at=at("Mon 13:00"),
        )
    ]
    assert instance.status is KpiStatus.NEARING_BREACH
    assert (instance.warned_at, instance.warn_at) == (at("Mon 13:00"), at("Mon 13:00"))
    assert instance.next_check_at == at("Tue 10:00")
    # No second warning at the new warning point (7 hours used: Mon 17:00), only the breach.
    assert instance.tick(at("Mon 17:00")) == []
    assert instance.tick(at("Tue 09:59")) == []
    assert kinds(instance.tick(at("Tue 10:00"))) == [KpiBreached]


def test_a_warning_given_before_a_pause_stays_given_through_the_re_evaluation() -> None:
    instance = started(FIRST_RESPONSE)
    instance.tick(at("Mon 13:00"))
    instance.pause(at("Mon 13:30"), NINE_TO_FIVE)

    events = re_evaluate(instance, KpiDefinition("first_response", hours(8), hours(1)), "Tue 10:00")

    assert events == [
        re_evaluated(
            "first_response",
            "Tue 10:00",
            target=hours(8),
            status=KpiStatus.PAUSED,
            due_at=None,
            warn_at=at("Mon 13:00"),
        )
    ]
    resumed = instance.resume(at("Tue 10:00"), NINE_TO_FIVE)
    assert instance.status is KpiStatus.NEARING_BREACH
    assert resumed[0].occurred_at == at("Tue 10:00")
    assert instance.due_at == at("Tue 14:30")  # 4.5 of 8 hours left
    assert instance.tick(at("Tue 14:29")) == []


def test_a_warning_due_before_the_change_is_fired_first() -> None:
    instance = started(FIRST_RESPONSE)  # warning at Mon 13:00 not yet fired

    events = re_evaluate(instance, KpiDefinition("first_response", hours(8), hours(1)), "Mon 13:30")

    assert events == [
        KpiNearingBreach(
            instance_id=INSTANCE_ID,
            case_id=CASE_ID,
            kpi="first_response",
            occurred_at=at("Mon 13:00"),
            due_at=at("Mon 14:00"),  # the deadline the warning was given for
        ),
        re_evaluated(
            "first_response",
            "Mon 13:30",
            target=hours(8),
            status=KpiStatus.NEARING_BREACH,
            due_at=at("Tue 10:00"),
            warn_at=at("Mon 13:00"),
        ),
    ]
    assert instance.warned_at == at("Mon 13:00")
    assert instance.tick(at("Mon 17:00")) == []


def test_a_breach_due_before_the_change_is_fired_and_the_outcome_stands() -> None:
    instance = started(FIRST_RESPONSE)  # warning at Mon 13:00, deadline Mon 14:00

    events = re_evaluate(instance, KpiDefinition("first_response", hours(8), hours(1)), "Mon 14:30")

    assert kinds(events) == [KpiNearingBreach, KpiBreached]
    assert [event.occurred_at for event in events] == [at("Mon 13:00"), at("Mon 14:00")]
    assert instance.status is KpiStatus.BREACHED
    assert instance.breached_at == at("Mon 14:00")
    # The old terms stand: the KPI breached under them.
    assert (instance.target, instance.policy_id, instance.due_at) == (
        hours(4),
        POLICY_ID,
        at("Mon 14:00"),
    )
    assert re_evaluate(instance, KpiDefinition("first_response", hours(9)), "Mon 15:00") == []


# --- Refusals -----------------------------------------------------------------------------


def test_a_moment_before_the_last_change_is_refused_and_changes_nothing() -> None:
    instance = started(RESOLUTION)
    instance.pause(at("Mon 12:00"), NINE_TO_FIVE)
    before = dataclasses.replace(instance)

    with pytest.raises(InvalidTimeError):
        re_evaluate(instance, KpiDefinition("resolution", hours(8)), "Mon 11:00")
    with pytest.raises(InvalidTimeError):
        instance.re_evaluate(
            KpiDefinition("resolution", hours(8)),
            datetime(2025, 6, 3, 10, 0),  # naive: refused
            was=NINE_TO_FIVE,
            calendar=NINE_TO_FIVE,
            policy_id=NEW_POLICY_ID,
            reason=REASON,
        )

    assert instance == before
