"""Bookings: appointments that hold one or more resources for a period.

``book`` makes a booking and ``Booking.reschedule`` moves one; both refuse a period that
overlaps an active booking of any of the same resources. Commands return the events that
describe the change; a command that changes nothing returns no events.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from scheduling.domain.errors import (
    BookingClosedError,
    BookingConflict,
    SchedulingValidationError,
)
from scheduling.domain.events import (
    BookingCancelled,
    BookingConfirmed,
    BookingEvent,
    BookingRescheduled,
)
from scheduling.domain.periods import Period, require_aware

MAX_REASON_LENGTH = 2000


class BookingStatus(StrEnum):
    """Whether a booking still holds its resources."""

    CONFIRMED = "confirmed"
    CANCELLED = "cancelled"

    @property
    def is_active(self) -> bool:
        """Whether a booking in this status holds its resources."""
        return self is BookingStatus.CONFIRMED


@dataclass(eq=False, kw_only=True)
class Booking:
    """An appointment for a service, holding its resources from `starts_at` to `ends_at`."""

    booking_id: UUID
    service_id: UUID
    resource_ids: tuple[UUID, ...]
    starts_at: datetime
    ends_at: datetime
    case_id: UUID | None
    status: BookingStatus
    booked_at: datetime
    cancellation_reason: str | None = None

    @property
    def period(self) -> Period:
        """The time the booking holds its resources."""
        return Period(self.starts_at, self.ends_at)

    @property
    def is_active(self) -> bool:
        """Whether the booking still holds its resources."""
        return self.status.is_active

    def reschedule(
        self, *, period: Period, others: Iterable[Booking], now: datetime
    ) -> list[BookingEvent]:
        """Move the booking to `period`, if its resources are free then."""
        self._require_active()
        require_aware(now, "now")
        if period == self.period:
            return []
        _require_future(period, now)
        _refuse_overlap(period, self.resource_ids, others, booking_id=self.booking_id)
        previous = self.period
        self.starts_at, self.ends_at = period.starts_at, period.ends_at
        return [
            BookingRescheduled(
                booking_id=self.booking_id,
                case_id=self.case_id,
                occurred_at=now,
                previous_starts_at=previous.starts_at,
                previous_ends_at=previous.ends_at,
                starts_at=period.starts_at,
                ends_at=period.ends_at,
            )
        ]

    def cancel(self, *, reason: str | None, now: datetime) -> list[BookingEvent]:
        """Call the booking off and free its resources."""
        self._require_active()
        require_aware(now, "now")
        if reason is not None:
            reason = reason.strip() or None
        if reason is not None and len(reason) > MAX_REASON_LENGTH:
            raise SchedulingValidationError(f"a reason has at most {MAX_REASON_LENGTH} characters")
        self.status = BookingStatus.CANCELLED
        self.cancellation_reason = reason
        return [
            BookingCancelled(
                booking_id=self.booking_id, case_id=self.case_id, occurred_at=now, reason=reason
            )
        ]

    def _require_active(self) -> None:
        if not self.is_active:
            raise BookingClosedError(f"booking {self.booking_id} is cancelled")


def book(
    *,
    booking_id: UUID,
    service_id: UUID,
    resource_ids: Sequence[UUID],
    period: Period,
    case_id: UUID | None,
    existing: Iterable[Booking],
    now: datetime,
) -> tuple[Booking, list[BookingEvent]]:
    """Book `resource_ids` for `period`, refusing any overlap with their active bookings."""
    require_aware(now, "now")
    if not resource_ids:
        raise SchedulingValidationError("a booking needs at least one resource")
    if len(set(resource_ids)) != len(resource_ids):
        raise SchedulingValidationError("a booking names each resource once")
    _require_future(period, now)
    _refuse_overlap(period, resource_ids, existing, booking_id=booking_id)
    booking = Booking(
        booking_id=booking_id,
        service_id=service_id,
        resource_ids=tuple(resource_ids),
        starts_at=period.starts_at,
        ends_at=period.ends_at,
        case_id=case_id,
        status=BookingStatus.CONFIRMED,
        booked_at=now,
    )
    confirmed = BookingConfirmed(
        booking_id=booking_id,
        case_id=case_id,
        occurred_at=now,
        service_id=service_id,
        resource_ids=booking.resource_ids,
        starts_at=period.starts_at,
        ends_at=period.ends_at,
    )
    return booking, [confirmed]


def _require_future(period: Period, now: datetime) -> None:
    if period.starts_at < now:
        raise SchedulingValidationError("an appointment cannot start in the past")


def _refuse_overlap(
    period: Period, resource_ids: Sequence[UUID], others: Iterable[Booking], *, booking_id: UUID
) -> None:
    for other in others:
        if other.booking_id == booking_id or not other.is_active:
            continue
        if not other.period.overlaps(period):
            continue
        held = set(other.resource_ids)
        shared = [r for r in resource_ids if r in held]
        if shared:
            raise BookingConflict(
                f"resource {shared[0]} is already booked from {other.starts_at.isoformat()} "
                f"to {other.ends_at.isoformat()}",
                resource_id=shared[0],
                booking_id=other.booking_id,
            )
