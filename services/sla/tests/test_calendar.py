"""Working-time arithmetic on business-hours calendars."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from sla.domain import (
    Calendar,
    InvalidCalendarError,
    InvalidTimeError,
    NoWorkingTimeError,
    SlaError,
    Weekday,
    WorkingInterval,
    add_working_time,
    is_working,
    next_working_moment,
    working_time_between,
)

pytestmark = pytest.mark.unit

VILNIUS = ZoneInfo("Europe/Vilnius")
NEW_YORK = ZoneInfo("America/New_York")
# Monday of a week without holidays or clock changes; "next Mon" is the Monday after.
WEEK = date(2025, 6, 2)
DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")

NINE_TO_FIVE = Calendar.business_hours("Europe/Vilnius")


def at(text: str, zone: ZoneInfo = VILNIUS) -> datetime:
    """A local moment: "Fri 16:00" in the reference week, "next Mon 10:00", "2025-03-30 12:00"."""
    words = text.split()
    shift = timedelta(0)
    if words[0] == "next":
        shift = timedelta(weeks=1)
        words = words[1:]
    day_text, clock_text = words
    if day_text in DAY_NAMES:
        day = WEEK + timedelta(days=DAY_NAMES.index(day_text)) + shift
    else:
        day = date.fromisoformat(day_text)
    return datetime.combine(day, time.fromisoformat(clock_text), tzinfo=zone)


def hours(amount: float) -> timedelta:
    return timedelta(hours=amount)


def minutes(amount: float) -> timedelta:
    return timedelta(minutes=amount)


def every_day(zone: str, *spans: str) -> Calendar:
    """A calendar with the same working hours on all seven days."""
    intervals = tuple(WorkingInterval.parse(span) for span in spans)
    return Calendar.weekly(zone, dict.fromkeys(Weekday, intervals))


def on_day(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The local midnights that begin and end `day`."""
    return (
        datetime.combine(day, time(0), tzinfo=zone),
        datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone),
    )


@pytest.mark.parametrize(
    ("start", "budget", "expected"),
    [
        (at("Mon 10:00"), hours(2), at("Mon 12:00")),
        (at("Mon 09:00"), hours(8), at("Mon 17:00")),
        (at("Mon 16:00"), hours(2), at("Tue 10:00")),
        (at("Fri 16:00"), hours(2), at("next Mon 10:00")),
        (at("Sat 12:00"), hours(1), at("next Mon 10:00")),
        (at("Sun 23:59"), hours(1), at("next Mon 10:00")),
        (at("Mon 07:00"), hours(1), at("Mon 10:00")),
        (at("Mon 17:00"), hours(1), at("Tue 10:00")),
        (at("Mon 18:00"), minutes(30), at("Tue 09:30")),
        (at("Wed 12:30"), minutes(5), at("Wed 12:35")),
        (at("Mon 09:00"), hours(40), at("Fri 17:00")),
        (at("Mon 09:00"), hours(40) + minutes(1), at("next Mon 09:01")),
        (at("Tue 16:59:30"), timedelta(seconds=45), at("Wed 09:00:15")),
    ],
)
def test_add_working_time_on_nine_to_five(
    start: datetime, budget: timedelta, expected: datetime
) -> None:
    assert add_working_time(start, budget, NINE_TO_FIVE) == expected


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (at("Fri 16:00"), at("next Mon 10:00"), hours(2)),
        (at("Mon 00:00"), at("next Mon 00:00"), hours(40)),
        (at("Mon 08:00"), at("Mon 09:30"), minutes(30)),
        (at("Mon 16:30"), at("Tue 08:00"), minutes(30)),
        (at("Sat 10:00"), at("Sun 20:00"), timedelta(0)),
        (at("Wed 12:00"), at("Wed 12:00"), timedelta(0)),
        (at("Tue 10:00"), at("Mon 16:00"), -hours(2)),
    ],
)
def test_working_time_between_on_nine_to_five(
    a: datetime, b: datetime, expected: timedelta
) -> None:
    assert working_time_between(a, b, NINE_TO_FIVE) == expected


@pytest.mark.parametrize(
    "moment",
    [at("Mon 09:00"), at("Wed 13:00"), at("Sat 12:00"), at("Fri 17:00"), at("Sun 03:00")],
)
def test_zero_budget_is_the_start_itself(moment: datetime) -> None:
    assert add_working_time(moment, timedelta(0), NINE_TO_FIVE) == moment


@pytest.mark.parametrize(
    ("moment", "working"),
    [
        (at("Mon 08:59:59"), False),
        (at("Mon 09:00"), True),
        (at("Wed 12:00"), True),
        (at("Fri 16:59:59"), True),
        (at("Fri 17:00"), False),
        (at("Sat 12:00"), False),
        (at("Sun 10:00"), False),
    ],
)
def test_is_working_on_nine_to_five(moment: datetime, working: bool) -> None:
    assert is_working(moment, NINE_TO_FIVE) is working


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (at("Mon 08:00"), at("Mon 09:00")),
        (at("Mon 09:00"), at("Mon 09:00")),
        (at("Wed 12:34"), at("Wed 12:34")),
        (at("Wed 17:00"), at("Thu 09:00")),
        (at("Fri 18:00"), at("next Mon 09:00")),
        (at("Sun 23:59"), at("next Mon 09:00")),
    ],
)
def test_next_working_moment_on_nine_to_five(moment: datetime, expected: datetime) -> None:
    assert next_working_moment(moment, NINE_TO_FIVE) == expected


def test_results_come_in_the_time_zone_of_the_moment_given() -> None:
    start = at("Fri 16:00").astimezone(UTC)

    deadline = add_working_time(start, hours(2), NINE_TO_FIVE)
    opening = next_working_moment(at("Sat 12:00").astimezone(UTC), NINE_TO_FIVE)

    assert deadline.tzinfo is UTC
    assert deadline == at("next Mon 10:00")
    assert opening.tzinfo is UTC
    assert opening == at("next Mon 09:00")


HOLIDAY_WEEK = Calendar.business_hours(
    "Europe/Vilnius", holidays=[at("Wed 00:00").date(), at("Fri 00:00").date()]
)


@pytest.mark.parametrize(
    ("start", "budget", "expected"),
    [
        (at("Tue 16:00"), hours(2), at("Thu 10:00")),
        (at("Wed 10:00"), hours(1), at("Thu 10:00")),
        (at("Thu 16:00"), hours(2), at("next Mon 10:00")),
        (at("Mon 09:00"), hours(24), at("Thu 17:00")),
    ],
)
def test_holidays_are_closed_all_day(
    start: datetime, budget: timedelta, expected: datetime
) -> None:
    assert add_working_time(start, budget, HOLIDAY_WEEK) == expected
    assert working_time_between(start, expected, HOLIDAY_WEEK) == budget


def test_holidays_do_not_count_and_are_not_working() -> None:
    assert working_time_between(at("Mon 00:00"), at("next Mon 00:00"), HOLIDAY_WEEK) == hours(24)
    assert not is_working(at("Wed 12:00"), HOLIDAY_WEEK)
    assert next_working_moment(at("Wed 12:00"), HOLIDAY_WEEK) == at("Thu 09:00")


WORKING_SATURDAY = Calendar.weekly(
    "Europe/Vilnius",
    dict.fromkeys(
        [Weekday.MONDAY, Weekday.TUESDAY, Weekday.WEDNESDAY, Weekday.THURSDAY],
        (WorkingInterval(time(9), time(17)),),
    ),
    holidays=[at("Thu 00:00").date()],
    special_days={
        at("Sat 00:00").date(): [WorkingInterval(time(10), time(14))],
        at("Mon 00:00").date(): [WorkingInterval(time(12), time(14))],
    },
)


@pytest.mark.parametrize(
    ("start", "budget", "expected"),
    [
        (at("Wed 16:00"), hours(2), at("Sat 11:00")),
        (at("Sat 13:00"), hours(2), at("next Mon 10:00")),
        (at("Mon 09:00"), hours(1), at("Mon 13:00")),
        (at("Mon 13:00"), hours(2), at("Tue 10:00")),
    ],
)
def test_special_days_replace_the_weekly_hours(
    start: datetime, budget: timedelta, expected: datetime
) -> None:
    assert add_working_time(start, budget, WORKING_SATURDAY) == expected


def test_special_day_hours_are_reported_for_their_date() -> None:
    saturday = at("Sat 00:00").date()

    assert WORKING_SATURDAY.hours_on(saturday) == (WorkingInterval(time(10), time(14)),)
    assert WORKING_SATURDAY.hours_on(at("Thu 00:00").date()) == ()
    assert WORKING_SATURDAY.hours_on(at("next Sat 00:00").date()) == ()
    assert is_working(at("Sat 12:00"), WORKING_SATURDAY)
    assert not is_working(at("next Sat 12:00"), WORKING_SATURDAY)


SPLIT_SHIFTS = Calendar.weekly(
    "Europe/Vilnius",
    dict.fromkeys(
        [Weekday.MONDAY, Weekday.TUESDAY, Weekday.WEDNESDAY, Weekday.THURSDAY, Weekday.FRIDAY],
        (WorkingInterval.parse("13:00-17:00"), WorkingInterval.parse("08:00-12:00")),
    ),
)


@pytest.mark.parametrize(
    ("start", "budget", "expected"),
    [
        (at("Mon 11:00"), hours(2), at("Mon 14:00")),
        (at("Mon 11:30"), minutes(30), at("Mon 12:00")),
        (at("Mon 12:30"), minutes(30), at("Mon 13:30")),
        (at("Mon 16:00"), hours(2), at("Tue 09:00")),
        (at("Mon 08:00"), hours(8), at("Mon 17:00")),
    ],
)
def test_several_intervals_per_day(start: datetime, budget: timedelta, expected: datetime) -> None:
    assert add_working_time(start, budget, SPLIT_SHIFTS) == expected
    assert working_time_between(start, expected, SPLIT_SHIFTS) == budget


def test_lunch_break_is_not_working() -> None:
    assert not is_working(at("Mon 12:15"), SPLIT_SHIFTS)
    assert next_working_moment(at("Mon 12:15"), SPLIT_SHIFTS) == at("Mon 13:00")


def test_always_open_counts_every_hour() -> None:
    calendar = Calendar.always_open()
    start = at("Fri 16:00")

    assert add_working_time(start, hours(100), calendar) == start + hours(100)
    assert working_time_between(start, at("next Mon 10:00"), calendar) == hours(66)
    assert is_working(at("Sun 03:00"), calendar)
    assert next_working_moment(at("Sat 23:59"), calendar) == at("Sat 23:59")


def test_thirty_working_days_skip_weekends_and_a_holiday() -> None:
    calendar = Calendar.business_hours("Europe/Vilnius", holidays=[date(2025, 6, 24)])
    start = at("2025-06-02 09:00")

    deadline = add_working_time(start, hours(8 * 30), calendar)

    # Six weeks of five days end on Friday 11 July; the holiday pushes it to Monday.
    assert deadline == at("2025-07-14 17:00")
    assert working_time_between(start, deadline, calendar) == hours(8 * 30)


def test_years_of_working_time_are_counted_day_by_day_not_minute_by_minute() -> None:
    start = at("Mon 09:00")

    deadline = add_working_time(start, hours(8 * 5 * 400), NINE_TO_FIVE)

    friday_of_week_400 = WEEK + timedelta(weeks=399, days=4)
    assert deadline == datetime.combine(friday_of_week_400, time(17), tzinfo=VILNIUS)


def test_a_year_of_holidays_is_not_mistaken_for_a_closed_calendar() -> None:
    year_2025 = [date(2025, 1, 1) + timedelta(days=n) for n in range(365)]
    calendar = Calendar.business_hours("Europe/Vilnius", holidays=year_2025)

    assert add_working_time(at("2025-01-01 12:00"), hours(1), calendar) == at("2026-01-01 10:00")


FULL_DAYS_VILNIUS = every_day("Europe/Vilnius", "00:00-24:00")
FULL_DAYS_NEW_YORK = every_day("America/New_York", "00:00-24:00")


@pytest.mark.parametrize(
    ("calendar", "zone", "day", "length"),
    [
        (FULL_DAYS_VILNIUS, VILNIUS, date(2025, 3, 30), hours(23)),
        (FULL_DAYS_VILNIUS, VILNIUS, date(2025, 10, 26), hours(25)),
        (FULL_DAYS_VILNIUS, VILNIUS, date(2025, 6, 1), hours(24)),
        (FULL_DAYS_NEW_YORK, NEW_YORK, date(2025, 3, 9), hours(23)),
        (FULL_DAYS_NEW_YORK, NEW_YORK, date(2025, 11, 2), hours(25)),
        (every_day("America/New_York", "00:00-06:00"), NEW_YORK, date(2025, 3, 9), hours(5)),
        (every_day("America/New_York", "00:00-06:00"), NEW_YORK, date(2025, 11, 2), hours(7)),
        (every_day("Europe/Vilnius", "00:00-06:00"), VILNIUS, date(2025, 3, 30), hours(5)),
        (every_day("Europe/Vilnius", "09:00-17:00"), VILNIUS, date(2025, 3, 30), hours(8)),
    ],
)
def test_a_full_day_lasts_as_long_as_the_clocks_allow(
    calendar: Calendar, zone: ZoneInfo, day: date, length: timedelta
) -> None:
    assert working_time_between(*on_day(day, zone), calendar) == length


@pytest.mark.parametrize(
    ("zone_name", "day"),
    [
        ("Africa/Cairo", date(2025, 4, 25)),
        ("America/Santiago", date(2025, 9, 7)),
    ],
)
def test_a_day_whose_midnight_is_skipped_is_23_hours(zone_name: str, day: date) -> None:
    calendar = every_day(zone_name, "00:00-24:00")

    assert working_time_between(*on_day(day, ZoneInfo(zone_name)), calendar) == hours(23)


@pytest.mark.parametrize(
    ("calendar", "start", "budget", "expected"),
    [
        (FULL_DAYS_VILNIUS, at("2025-03-29 12:00"), hours(24), at("2025-03-30 13:00")),
        (FULL_DAYS_VILNIUS, at("2025-10-25 12:00"), hours(24), at("2025-10-26 11:00")),
        (NINE_TO_FIVE, at("2025-03-28 16:00"), hours(2), at("2025-03-31 10:00")),
        (NINE_TO_FIVE, at("2025-10-24 16:00"), hours(2), at("2025-10-27 10:00")),
        (
            Calendar.business_hours("America/New_York"),
            at("2025-03-07 16:00", NEW_YORK),
            hours(2),
            at("2025-03-10 10:00", NEW_YORK),
        ),
        (
            every_day("America/New_York", "00:00-06:00"),
            at("2025-03-09 00:00", NEW_YORK),
            hours(3),
            at("2025-03-09 04:00", NEW_YORK),
        ),
        (
            every_day("America/New_York", "00:00-06:00"),
            at("2025-11-02 00:00", NEW_YORK),
            hours(3),
            at("2025-11-02 02:00", NEW_YORK),
        ),
    ],
)
def test_deadlines_across_clock_changes(
    calendar: Calendar, start: datetime, budget: timedelta, expected: datetime
) -> None:
    deadline = add_working_time(start, budget, calendar)

    assert deadline.astimezone(UTC) == expected.astimezone(UTC)
    assert deadline.utcoffset() == expected.utcoffset()
    assert working_time_between(start, deadline, calendar) == budget


def test_hours_ending_in_the_skipped_hour_end_when_the_clocks_jump() -> None:
    # 02:30 never happens in New York on 9 March 2025: the clocks jump from 02:00 to 03:00.
    calendar = every_day("America/New_York", "01:00-02:30")
    spring_day = date(2025, 3, 9)
    after_jump = datetime(2025, 3, 9, 3, 15, tzinfo=NEW_YORK)

    assert working_time_between(*on_day(spring_day, NEW_YORK), calendar) == hours(1)
    assert working_time_between(*on_day(date(2025, 3, 10), NEW_YORK), calendar) == hours(1.5)
    assert is_working(datetime(2025, 3, 9, 1, 59, tzinfo=NEW_YORK), calendar)
    assert not is_working(after_jump, calendar)
    assert next_working_moment(after_jump, calendar) == datetime(2025, 3, 10, 1, tzinfo=NEW_YORK)


def test_hours_inside_the_skipped_hour_give_no_working_time() -> None:
    calendar = every_day("America/New_York", "02:10-02:50")

    assert working_time_between(*on_day(date(2025, 3, 9), NEW_YORK), calendar) == timedelta(0)
    assert add_working_time(
        datetime(2025, 3, 9, 0, tzinfo=NEW_YORK), minutes(10), calendar
    ) == datetime(2025, 3, 10, 2, 20, tzinfo=NEW_YORK)


def test_hours_across_the_repeated_hour_include_both_occurrences() -> None:
    # 01:00-02:00 happens twice in New York on 2 November 2025.
    calendar = every_day("America/New_York", "01:30-03:00")
    first_half_past_one = datetime(2025, 11, 2, 1, 30, tzinfo=NEW_YORK)
    second_half_past_one = datetime(2025, 11, 2, 1, 30, fold=1, tzinfo=NEW_YORK)

    assert working_time_between(*on_day(date(2025, 11, 2), NEW_YORK), calendar) == hours(2.5)
    assert is_working(first_half_past_one, calendar)
    assert is_working(second_half_past_one, calendar)
    assert add_working_time(first_half_past_one, hours(1), calendar).astimezone(
        UTC
    ) == second_half_past_one.astimezone(UTC)


CALENDARS_FOR_PROPERTIES = {
    "nine-to-five with holidays": Calendar.business_hours(
        "Europe/Vilnius", holidays=[date(2025, 6, 24), date(2025, 12, 24), date(2025, 12, 25)]
    ),
    "split shifts in New York": Calendar.weekly(
        "America/New_York",
        {
            Weekday.MONDAY: [
                WorkingInterval.parse("08:00-12:00"),
                WorkingInterval.parse("13:00-17:30"),
            ],
            Weekday.WEDNESDAY: [
                WorkingInterval.parse("00:00-02:30"),
                WorkingInterval.parse("22:00-24:00"),
            ],
            Weekday.SATURDAY: [WorkingInterval.parse("01:15-03:45")],
            Weekday.SUNDAY: [WorkingInterval.parse("00:30-02:45")],
        },
    ),
    "round the clock in Vilnius": FULL_DAYS_VILNIUS,
    "always open": Calendar.always_open(),
}


def _inverse_cases(count: int = 50) -> Iterator[object]:
    rng = random.Random(20250309)
    year_start = datetime(2025, 1, 1, tzinfo=UTC)
    for name in CALENDARS_FOR_PROPERTIES:
        for number in range(count):
            start = year_start + timedelta(seconds=rng.randrange(365 * 24 * 3600))
            budget = timedelta(seconds=rng.randrange(160 * 3600))
            yield pytest.param(name, start, budget, id=f"{name}-{number}")


@pytest.mark.parametrize(("name", "start", "budget"), list(_inverse_cases()))
def test_working_time_between_undoes_add_working_time(
    name: str, start: datetime, budget: timedelta
) -> None:
    calendar = CALENDARS_FOR_PROPERTIES[name]

    deadline = add_working_time(start, budget, calendar)

    assert deadline >= start
    assert working_time_between(start, deadline, calendar) == budget
    if budget:
        # The deadline is the earliest such moment: a second before, budget is not yet spent.
        before = deadline - timedelta(seconds=1)
        assert working_time_between(start, before, calendar) < budget
        assert is_working(before, calendar)


@pytest.mark.parametrize(("name", "start", "budget"), list(_inverse_cases(20)))
def test_add_working_time_undoes_working_time_between(
    name: str, start: datetime, budget: timedelta
) -> None:
    calendar = CALENDARS_FOR_PROPERTIES[name]
    end = start + budget * 2  # a wall-time span, whatever working time it holds

    spent = working_time_between(start, end, calendar)
    reached = add_working_time(start, spent, calendar)

    assert reached <= end
    assert working_time_between(reached, end, calendar) == timedelta(0)
    assert working_time_between(end, start, calendar) == -spent


def test_naive_moments_are_refused() -> None:
    naive = datetime(2025, 6, 2, 10, 0)

    with pytest.raises(InvalidTimeError, match="time zone"):
        add_working_time(naive, hours(1), NINE_TO_FIVE)
    with pytest.raises(InvalidTimeError):
        working_time_between(at("Mon 10:00"), naive, NINE_TO_FIVE)
    with pytest.raises(InvalidTimeError):
        is_working(naive, NINE_TO_FIVE)
    with pytest.raises(InvalidTimeError):
        next_working_moment(naive, NINE_TO_FIVE)


def test_negative_budget_is_refused() -> None:
    with pytest.raises(InvalidTimeError, match="negative"):
        add_working_time(at("Mon 10:00"), -minutes(1), NINE_TO_FIVE)


@pytest.mark.parametrize(
    "calendar",
    [
        Calendar.weekly("Europe/Vilnius", {}),
        Calendar.business_hours("Europe/Vilnius", weekdays=[]),
        Calendar.weekly(
            "Europe/Vilnius", {}, special_days={date(2025, 1, 4): [WorkingInterval.full_day()]}
        ),
    ],
    ids=["no hours", "no weekdays", "only a past special day"],
)
def test_a_calendar_that_never_opens_gives_a_clear_error(calendar: Calendar) -> None:
    with pytest.raises(NoWorkingTimeError, match="no working time"):
        add_working_time(at("Mon 10:00"), hours(1), calendar)
    with pytest.raises(NoWorkingTimeError):
        next_working_moment(at("Mon 10:00"), calendar)
    assert working_time_between(at("Mon 10:00"), at("next Mon 10:00"), calendar) == timedelta(0)
    assert not is_working(at("Mon 10:00"), calendar)


def test_a_closed_calendar_with_a_future_special_day_opens_on_it() -> None:
    calendar = Calendar.weekly(
        "Europe/Vilnius",
        {},
        special_days={date(2026, 5, 1): [WorkingInterval.parse("10:00-11:00")]},
    )

    assert add_working_time(at("Mon 10:00"), minutes(30), calendar) == at("2026-05-01 10:30")


def test_working_intervals_read_and_write_24_hour_clock_times() -> None:
    assert WorkingInterval.parse("00:00-24:00") == WorkingInterval.full_day()
    assert WorkingInterval.parse(" 09:30 - 17:00 ") == WorkingInterval(time(9, 30), time(17))
    assert str(WorkingInterval.full_day()) == "00:00-24:00"
    assert str(WorkingInterval(time(8), time(12, 30, 15))) == "08:00-12:30:15"
    assert WorkingInterval.full_day().length == hours(24)


@pytest.mark.parametrize("text", ["17:00-09:00", "09:00", "24:00-24:00", "9-17", "10:00-10:00"])
def test_unreadable_or_backwards_hours_are_refused(text: str) -> None:
    with pytest.raises(InvalidCalendarError):
        WorkingInterval.parse(text)


def test_overlapping_or_touching_hours_are_joined() -> None:
    calendar = Calendar.weekly(
        "Europe/Vilnius",
        {
            Weekday.MONDAY: [
                WorkingInterval.parse("12:00-17:00"),
                WorkingInterval.parse("09:00-12:00"),
                WorkingInterval.parse("10:00-11:00"),
                WorkingInterval.parse("18:00-19:00"),
            ]
        },
    )

    assert calendar.hours_on(at("Mon 00:00").date()) == (
        WorkingInterval.parse("09:00-17:00"),
        WorkingInterval.parse("18:00-19:00"),
    )
    assert working_time_between(at("Mon 00:00"), at("Tue 00:00"), calendar) == hours(9)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: Calendar.business_hours("Mars/Olympus_Mons"), "time zone"),
        (lambda: Calendar.business_hours("Europe"), "time zone"),
        (lambda: Calendar(time_zone="UTC", week=((),) * 6), "7 days"),
        (lambda: Calendar.weekly("UTC", {7: [WorkingInterval.full_day()]}), "weekdays"),
        (
            lambda: Calendar.weekly(
                "UTC",
                {},
                holidays=[date(2025, 1, 1)],
                special_days={date(2025, 1, 1): [WorkingInterval.full_day()]},
            ),
            "2025-01-01",
        ),
        (
            lambda: Calendar.business_hours("UTC", holidays=[datetime(2025, 1, 1, tzinfo=UTC)]),
            "dates",
        ),
        (lambda: Calendar.business_hours("UTC", start=time(18)), "end before they start"),
    ],
    ids=[
        "unknown zone",
        "zone folder",
        "six days",
        "weekday 7",
        "holiday and special",
        "datetime",
        "backwards",
    ],
)
def test_unusable_calendars_are_refused(build: Callable[[], object], message: str) -> None:
    with pytest.raises(InvalidCalendarError, match=message):
        build()


def test_calendar_errors_belong_to_the_sla_family() -> None:
    with pytest.raises(SlaError):
        Calendar.business_hours("Nowhere/Nothing")
    with pytest.raises(ValueError, match="negative"):
        add_working_time(at("Mon 10:00"), -hours(1), NINE_TO_FIVE)


def test_equal_calendars_compare_and_hash_equal() -> None:
    first = Calendar.business_hours("Europe/Vilnius", holidays=[date(2025, 6, 24)])
    second = Calendar.weekly(
        "Europe/Vilnius",
        dict.fromkeys(range(5), (WorkingInterval(time(9), time(17)),)),
        holidays={date(2025, 6, 24)},
    )

    assert first == second
    assert hash(first) == hash(second)
    assert first != NINE_TO_FIVE
