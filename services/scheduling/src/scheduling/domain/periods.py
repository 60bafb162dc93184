"""Periods of time and the free time left between bookings.

A period is half-open, ``[starts_at, ends_at)``: an appointment ending at 10:00 and the next
one starting at 10:00 do not overlap. Every moment is timezone-aware.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from scheduling.domain.errors import SchedulingValidationError

MAX_SEARCH_WINDOW = timedelta(days=31)
"""The longest window an availability search may cover."""


def require_aware(moment: datetime, name: str) -> None:
    """Refuse a moment without a timezone: it names no single instant."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise SchedulingValidationError(f"{name} must carry a timezone")


@dataclass(frozen=True)
class Period:
    """A stretch of time from `starts_at` (included) to `ends_at` (excluded)."""

    starts_at: datetime
    ends_at: datetime

    def __post_init__(self) -> None:
        require_aware(self.starts_at, "starts_at")
        require_aware(self.ends_at, "ends_at")
        if self.ends_at <= self.starts_at:
            raise SchedulingValidationError("a period must end after it starts")

    @property
    def duration(self) -> timedelta:
        """How long the period lasts."""
        return self.ends_at - self.starts_at

    def overlaps(self, other: Period) -> bool:
        """Whether the two periods share any moment."""
        return self.starts_at < other.ends_at and other.starts_at < self.ends_at


def free_periods(within: Period, busy: Iterable[Period]) -> list[Period]:
    """The parts of `within` that none of the `busy` periods cover, in time order."""
    free: list[Period] = []
    cursor = within.starts_at
    for taken in sorted(busy, key=lambda p: p.starts_at):
        if taken.ends_at <= cursor:
            continue
        if taken.starts_at >= within.ends_at:
            break
        if taken.starts_at > cursor:
            free.append(Period(cursor, taken.starts_at))
        cursor = max(cursor, taken.ends_at)
    if cursor < within.ends_at:
        free.append(Period(cursor, within.ends_at))
    return free


def free_slots(
    within: Period,
    busy: Iterable[Period],
    *,
    duration: timedelta,
    step: timedelta | None = None,
    not_before: datetime | None = None,
) -> list[Period]:
    """Every period of `duration` inside `within`, free of `busy`, starting `step` apart.

    Slots start at the beginning of each free stretch and every `step` (by default
    `duration`) after it; none starts before `not_before`, as time gone cannot be booked.
    """
    if duration <= timedelta(0):
        raise SchedulingValidationError("the duration must be positive")
    step = duration if step is None else step
    if step <= timedelta(0):
        raise SchedulingValidationError("the step must be positive")
    if within.duration > MAX_SEARCH_WINDOW:
        raise SchedulingValidationError(
            f"an availability search covers at most {MAX_SEARCH_WINDOW.days} days"
        )
    if not_before is not None:
        require_aware(not_before, "not_before")
        if not_before >= within.ends_at:
            return []
        if not_before > within.starts_at:
            within = Period(not_before, within.ends_at)
    slots: list[Period] = []
    for stretch in free_periods(within, busy):
        start = stretch.starts_at
        while start + duration <= stretch.ends_at:
            slots.append(Period(start, start + duration))
            start += step
    return slots
