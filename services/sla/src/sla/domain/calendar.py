"""Business-hours calendars and the working-time arithmetic that SLA deadlines are built on.

Working hours are written in the calendar's local wall-clock time, while durations are real
elapsed time: a working day that contains a daylight-saving change is an hour shorter or
longer. A wall-clock time the clocks skip (spring forward) is read as the moment the clocks
jumped; a wall-clock time that happens twice (fall back) is read as its first occurrence.
Both rules keep the mapping from wall-clock time to real time monotonic, so consecutive
working hours never overlap or leave holes.

All functions take and return aware datetimes. Results are given in the time zone of the
moment passed in, so a caller working in UTC gets UTC back.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import IntEnum
from types import MappingProxyType
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sla.domain.errors import InvalidCalendarError, InvalidTimeError, NoWorkingTimeError

_ZERO = timedelta(0)
_DAY = timedelta(days=1)
# Consecutive days without working time after which a search gives up: longer than any
# real closure, short enough to answer at once for a calendar that never opens.
_SEARCH_HORIZON_DAYS = 732

_Span = tuple[datetime, datetime]


class Weekday(IntEnum):
    """A day of the week, numbered like `date.weekday()`."""

    MONDAY = 0
    TUESDAY = 1
    WEDNESDAY = 2
    THURSDAY = 3
    FRIDAY = 4
    SATURDAY = 5
    SUNDAY = 6


WORKWEEK: frozenset[Weekday] = frozenset(
    {Weekday.MONDAY, Weekday.TUESDAY, Weekday.WEDNESDAY, Weekday.THURSDAY, Weekday.FRIDAY}
)


@dataclass(frozen=True, slots=True)
class WorkingInterval:
    """Working hours within one day, from `start` up to `end`; an `end` of 00:00 is midnight
    at the end of the day, so 00:00-00:00 is the whole day."""

    start: time
    end: time

    def __post_init__(self) -> None:
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise InvalidCalendarError(
                "working hours are local wall-clock times and carry no time zone"
            )
        if self.start_offset >= self.end_offset:
            raise InvalidCalendarError(f"working hours {self} end before they start")

    @classmethod
    def full_day(cls) -> WorkingInterval:
        """The whole day, 00:00-24:00."""
        return cls(time(0), time(0))

    @classmethod
    def parse(cls, text: str) -> WorkingInterval:
        """Working hours written as `HH:MM-HH:MM` (seconds allowed), with 24:00 as the end."""
        start_text, separator, end_text = text.strip().partition("-")
        if not separator:
            raise InvalidCalendarError(f"working hours {text!r} are not written as HH:MM-HH:MM")
        return cls(
            _parse_clock(start_text, allow_midnight=False),
            _parse_clock(end_text, allow_midnight=True),
        )

    @property
    def start_offset(self) -> timedelta:
        """How long after midnight the working hours begin."""
        return _since_midnight(self.start)

    @property
    def end_offset(self) -> timedelta:
        """How long after midnight the working hours end (24 hours for an end of 00:00)."""
        return _DAY if self.end == time(0) else _since_midnight(self.end)

    @property
    def length(self) -> timedelta:
        """The wall-clock length of the working hours."""
        return self.end_offset - self.start_offset

    def __str__(self) -> str:
        end = "24:00" if self.end == time(0) else _clock_text(self.end)
        return f"{_clock_text(self.start)}-{end}"


@dataclass(frozen=True, slots=True)
class Calendar:
    """When a service desk works: weekly hours in one time zone, holidays, special days.

    `week` holds seven entries, Monday first, each the working hours of that weekday
    (possibly several intervals, possibly none). A holiday is closed all day. A special day
    replaces the weekly hours of its date, for example a Saturday worked before a holiday.
    """

    time_zone: str
    week: tuple[tuple[WorkingInterval, ...], ...]
    holidays: frozenset[date] = frozenset()
    special_days: Mapping[date, tuple[WorkingInterval, ...]] = field(
        default_factory=lambda: MappingProxyType({}), hash=False
    )
    _zone: ZoneInfo = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        try:
            zone = ZoneInfo(self.time_zone)
        except (ZoneInfoNotFoundError, ValueError, OSError) as error:
            raise InvalidCalendarError(f"unknown time zone {self.time_zone!r}") from error
        if len(self.week) != len(Weekday):
            raise InvalidCalendarError(
                f"a week has {len(Weekday)} days of working hours, got {len(self.week)}"
            )
        holidays = frozenset(self.holidays)
        special_days = {day: _merge(hours) for day, hours in self.special_days.items()}
        for day in (*holidays, *special_days):
            if isinstance(day, datetime) or not isinstance(day, date):
                raise InvalidCalendarError(f"holidays and special days are dates, got {day!r}")
        clashes = holidays & special_days.keys()
        if clashes:
            listed = ", ".join(sorted(day.isoformat() for day in clashes))
            raise InvalidCalendarError(f"dates both holiday and special working day: {listed}")
        object.__setattr__(self, "_zone", zone)
        object.__setattr__(self, "week", tuple(_merge(hours) for hours in self.week))
        object.__setattr__(self, "holidays", holidays)
        object.__setattr__(self, "special_days", MappingProxyType(special_days))

    @classmethod
    def always_open(cls) -> Calendar:
        """A calendar open around the clock every day, in UTC."""
        return cls(time_zone="UTC", week=((WorkingInterval.full_day(),),) * len(Weekday))

    @classmethod
    def business_hours(
        cls,
        time_zone: str,
        *,
        start: time = time(9),
        end: time = time(17),
        weekdays: Iterable[int] = WORKWEEK,
        holidays: Iterable[date] = (),
    ) -> Calendar:
        """The same hours on each working weekday, closed on the other days and on holidays."""
        hours = (WorkingInterval(start, end),)
        return cls.weekly(time_zone, dict.fromkeys(weekdays, hours), holidays=holidays)

    @classmethod
    def weekly(
        cls,
        time_zone: str,
        hours: Mapping[int, Iterable[WorkingInterval]],
        *,
        holidays: Iterable[date] = (),
        special_days: Mapping[date, Iterable[WorkingInterval]] | None = None,
    ) -> Calendar:
        """A calendar from working hours per weekday (missing weekdays are closed)."""
        unknown = set(hours) - set(Weekday)
        if unknown:
            raise InvalidCalendarError(f"weekdays are numbered 0 (Monday) to 6, got {unknown}")
        return cls(
            time_zone=time_zone,
            week=tuple(tuple(hours.get(day, ())) for day in Weekday),
            holidays=frozenset(holidays),
            special_days={day: tuple(spans) for day, spans in (special_days or {}).items()},
        )

    @property
    def zone(self) -> ZoneInfo:
        """The time zone the working hours are written in."""
        return self._zone

    def hours_on(self, day: date) -> tuple[WorkingInterval, ...]:
        """The working hours of a local date, after holidays and special days."""
        if day in self.special_days:
            return self.special_days[day]
        if day in self.holidays:
            return ()
        return self.week[day.weekday()]

    def _spans_on(self, day: date) -> list[_Span]:
        """The working hours of a local date as real moments (UTC), in order."""
        spans = []
        for hours in self.hours_on(day):
            start = self._moment(day, hours.start_offset)
            end = self._moment(day, hours.end_offset)
            if start < end:
                spans.append((start, end))
        return spans

    def _moment(self, day: date, offset: timedelta) -> datetime:
        """The real moment (UTC) at which the local clock shows `offset` after midnight of `day`."""
        wall = datetime.combine(day, time(0)) + offset
        moment = wall.replace(tzinfo=self._zone).astimezone(UTC)
        if moment.astimezone(self._zone).replace(tzinfo=None) == wall:
            return moment
        return _jump_over(wall, self._zone)

    def _opens_on_or_after(self, day: date) -> bool:
        """Whether any working hours exist on `day` or later."""
        return any(self.week) or any(
            hours for special, hours in self.special_days.items() if special >= day
        )


def add_working_time(start: datetime, budget: timedelta, calendar: Calendar) -> datetime:
    """The moment `budget` of working time has passed after `start`."""
    require_aware(start, "start")
    if budget < _ZERO:
        raise InvalidTimeError(f"a working-time budget cannot be negative, got {budget}")
    if budget == _ZERO:
        return start
    remaining = budget
    for span_start, span_end in _spans_from(start, calendar):
        available = span_end - span_start
        if remaining <= available:
            return (span_start + remaining).astimezone(start.tzinfo)
        remaining -= available
    raise _no_working_time(start, calendar)


def working_time_between(a: datetime, b: datetime, calendar: Calendar) -> timedelta:
    """The working time from `a` to `b` (negative when `b` comes before `a`)."""
    require_aware(a, "a")
    require_aware(b, "b")
    if b < a:
        return -working_time_between(b, a, calendar)
    day = a.astimezone(calendar.zone).date()
    last_day = b.astimezone(calendar.zone).date()
    total = _ZERO
    while day <= last_day:
        for span_start, span_end in calendar._spans_on(day):
            overlap = min(span_end, b) - max(span_start, a)
            if overlap > _ZERO:
                total += overlap
        day += _DAY
    return total


def is_working(at: datetime, calendar: Calendar) -> bool:
    """Whether `at` falls within working hours."""
    require_aware(at, "at")
    day = at.astimezone(calendar.zone).date()
    return any(start <= at < end for start, end in calendar._spans_on(day))


def next_working_moment(at: datetime, calendar: Calendar) -> datetime:
    """`at` itself when it is working time, otherwise the moment working hours next begin."""
    require_aware(at, "at")
    for span_start, _ in _spans_from(at, calendar):
        return span_start.astimezone(at.tzinfo)
    raise _no_working_time(at, calendar)


def _spans_from(moment: datetime, calendar: Calendar) -> Iterator[_Span]:
    """Working spans (UTC) from `moment` on, the first one clipped to start at `moment`.

    Ends without raising when the search horizon passes without working time, so that the
    caller can say what it was looking for.
    """
    after = moment.astimezone(UTC)
    day = after.astimezone(calendar.zone).date()
    if not calendar._opens_on_or_after(day):
        return
    closed_days = 0
    while closed_days <= _SEARCH_HORIZON_DAYS:
        spans = [(max(start, after), end) for start, end in calendar._spans_on(day) if end > after]
        if spans:
            closed_days = 0
            yield from spans
        else:
            closed_days += 1
        if day == date.max:
            return
        day += _DAY


def _jump_over(wall: datetime, zone: ZoneInfo) -> datetime:
    """The moment (UTC) the clocks jumped over `wall`, a local time that never happens."""
    # Read with either offset, the skipped time lands on both sides of the jump; the jump
    # itself is found by halving that range (transitions fall on whole seconds).
    earlier, later = sorted(wall.replace(tzinfo=zone, fold=fold).astimezone(UTC) for fold in (0, 1))
    low, high = math.floor(earlier.timestamp()), math.ceil(later.timestamp())
    while high - low > 1:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, zone).replace(tzinfo=None) > wall:
            high = middle
        else:
            low = middle
    return datetime.fromtimestamp(high, UTC)


def require_aware(moment: datetime, name: str) -> None:
    """Refuse a moment that carries no time zone."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidTimeError(f"{name} must carry a time zone, got {moment.isoformat()}")


def _no_working_time(moment: datetime, calendar: Calendar) -> NoWorkingTimeError:
    return NoWorkingTimeError(
        f"calendar in {calendar.time_zone} has no working time within "
        f"{_SEARCH_HORIZON_DAYS} days after {moment.isoformat()}"
    )


def _merge(hours: Iterable[WorkingInterval]) -> tuple[WorkingInterval, ...]:
    """Working hours in order, with overlapping or touching intervals joined."""
    hours = list(hours)
    for interval in hours:
        if not isinstance(interval, WorkingInterval):
            raise InvalidCalendarError(f"expected working hours, got {interval!r}")
    joined: list[tuple[timedelta, timedelta]] = []
    for interval in sorted(hours, key=lambda interval: interval.start_offset):
        if joined and interval.start_offset <= joined[-1][1]:
            joined[-1] = (joined[-1][0], max(joined[-1][1], interval.end_offset))
        else:
            joined.append((interval.start_offset, interval.end_offset))
    return tuple(WorkingInterval(_clock_at(start), _clock_at(end)) for start, end in joined)


def _since_midnight(clock: time) -> timedelta:
    return timedelta(
        hours=clock.hour,
        minutes=clock.minute,
        seconds=clock.second,
        microseconds=clock.microsecond,
    )


def _clock_at(offset: timedelta) -> time:
    """The clock time `offset` after midnight, 24 hours being the midnight that ends the day."""
    return (datetime.min + offset).time() if offset < _DAY else time(0)


def _clock_text(clock: time) -> str:
    return clock.isoformat(
        timespec="minutes" if not (clock.second or clock.microsecond) else "auto"
    )


def _parse_clock(text: str, *, allow_midnight: bool) -> time:
    text = text.strip()
    if allow_midnight and text in {"24:00", "24:00:00"}:
        return time(0)
    try:
        clock = time.fromisoformat(text)
    except ValueError as error:
        raise InvalidCalendarError(f"{text!r} is not a clock time like 09:30") from error
    if clock.tzinfo is not None:
        raise InvalidCalendarError(f"{text!r}: working hours carry no time zone")
    return clock
