"""What happened to a booking: the domain events the booking commands return.

Each event is a frozen, keyword-only dataclass named in the past tense; adapters turn them
into the published contracts of ``scheduling.booking.v1``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID


@dataclass(frozen=True, kw_only=True)
class BookingEvent:
    """Something that happened to one booking at one moment."""

    booking_id: UUID
    case_id: UUID | None
    occurred_at: datetime


@dataclass(frozen=True, kw_only=True)
class BookingConfirmed(BookingEvent):
    """An appointment was booked with its resources."""

    service_id: UUID
    resource_ids: tuple[UUID, ...]
    starts_at: datetime
    ends_at: datetime


@dataclass(frozen=True, kw_only=True)
class BookingRescheduled(BookingEvent):
    """A booking moved to another time."""

    previous_starts_at: datetime
    previous_ends_at: datetime
    starts_at: datetime
    ends_at: datetime


@dataclass(frozen=True, kw_only=True)
class BookingCancelled(BookingEvent):
    """A booking was called off."""

    reason: str | None
