"""Periods, free time and free slots: pure rules, no clock and no infrastructure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from scheduling.domain import Period, SchedulingValidationError, free_periods, free_slots

pytestmark = pytest.mark.unit

DAY = datetime(2026, 5, 4, tzinfo=UTC)


def at(hhmm: str) -> datetime:
    hours, minutes = hhmm.split(":")
    return DAY + timedelta(hours=int(hours), minutes=int(minutes))


def p(start: str, end: str) -> Period:
    return Period(at(start), at(end))


def minutes(n: int) -> timedelta:
    return timedelta(minutes=n)


@pytest.mark.parametrize(
    ("a", "b", "overlap"),
    [
        (p("09:00", "10:00"), p("09:30", "10:30"), True),
        (p("09:00", "10:00"), p("09:15", "09:45"), True),
        (p("09:00", "10:00"), p("10:00", "11:00"), False),  # half-open: touching is not overlapping
        (p("10:00", "11:00"), p("09:00", "10:00"), False),
        (p("09:00", "10:00"), p("11:00", "12:00"), False),
    ],
)
def test_periods_are_half_open(a: Period, b: Period, overlap: bool) -> None:
    assert a.overlaps(b) is overlap
    assert b.overlaps(a) is overlap


def test_a_period_must_end_after_it_starts_and_carry_a_timezone() -> None:
    with pytest.raises(SchedulingValidationError):
        p("10:00", "10:00")
    with pytest.raises(SchedulingValidationError):
        p("10:00", "09:00")
    with pytest.raises(SchedulingValidationError):
        Period(datetime(2026, 5, 4, 9), datetime(2026, 5, 4, 10))


@pytest.mark.parametrize(
    ("busy", "expected"),
    [
        ([], [p("09:00", "17:00")]),
        ([p("10:00", "11:00")], [p("09:00", "10:00"), p("11:00", "17:00")]),
        # Unordered, overlapping and adjacent busy periods merge.
        (
            [p("13:00", "14:00"), p("10:00", "11:00"), p("10:30", "12:00"), p("12:00", "12:30")],
            [p("09:00", "10:00"), p("12:30", "13:00"), p("14:00", "17:00")],
        ),
        # Busy time reaching over either edge of the window.
        ([p("08:00", "09:30"), p("16:00", "18:00")], [p("09:30", "16:00")]),
        ([p("08:00", "18:00")], []),
        ([p("06:00", "07:00"), p("18:00", "19:00")], [p("09:00", "17:00")]),
    ],
)
def test_free_periods(busy: list[Period], expected: list[Period]) -> None:
    assert free_periods(p("09:00", "17:00"), busy) == expected


def test_free_slots_fill_each_free_stretch_back_to_back() -> None:
    slots = free_slots(p("09:00", "12:00"), [p("10:00", "10:45")], duration=minutes(30))
    assert slots == [
        p("09:00", "09:30"),
        p("09:30", "10:00"),
        p("10:45", "11:15"),
        p("11:15", "11:45"),
    ]


def test_free_slots_can_start_at_a_finer_step() -> None:
    slots = free_slots(p("09:00", "10:30"), [], duration=minutes(60), step=minutes(15))
    assert slots == [p("09:00", "10:00"), p("09:15", "10:15"), p("09:30", "10:30")]


def test_free_slots_skip_stretches_shorter_than_the_duration() -> None:
    slots = free_slots(
        p("09:00", "11:00"), [p("09:20", "10:00"), p("10:50", "11:00")], duration=minutes(30)
    )
    assert slots == [p("10:00", "10:30")]


def test_no_slot_starts_in_the_past() -> None:
    slots = free_slots(p("09:00", "11:00"), [], duration=minutes(30), not_before=at("09:40"))
    assert slots == [p("09:40", "10:10"), p("10:10", "10:40")]
    assert free_slots(p("09:00", "11:00"), [], duration=minutes(30), not_before=at("12:00")) == []


@pytest.mark.parametrize(
    ("duration", "step", "message"),
    [(minutes(0), None, "duration"), (minutes(30), minutes(-5), "step")],
)
def test_free_slots_refuse_a_bad_duration_or_step(
    duration: timedelta, step: timedelta | None, message: str
) -> None:
    with pytest.raises(SchedulingValidationError, match=message):
        free_slots(p("09:00", "10:00"), [], duration=duration, step=step)


def test_an_availability_search_is_bounded() -> None:
    with pytest.raises(SchedulingValidationError, match="at most"):
        free_slots(Period(DAY, DAY + timedelta(days=32)), [], duration=minutes(30))
