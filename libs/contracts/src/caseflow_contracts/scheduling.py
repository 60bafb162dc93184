"""Events owned by scheduling, published on ``scheduling.booking.v1`` keyed by ``booking_id``."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal, Self
from uuid import UUID

from pydantic import AwareDatetime, Field, model_validator

from caseflow_contracts.base import Event


class BookingEventBase(Event):
    """Base of every event about one booking; ``case_id`` when it serves a case."""

    key_field: ClassVar[str] = "booking_id"

    booking_id: UUID
    case_id: UUID | None = None

    def partition_key(self) -> str:
        """The case when the booking serves one, so it stays in order with the case; else
        the booking (a booking's case never changes, so its own events stay in order too)."""
        return str(self.case_id or self.booking_id)


class BookingConfirmed(BookingEventBase):
    """A service appointment was booked with its resources."""

    type: Literal["booking.confirmed"] = "booking.confirmed"
    service_id: UUID
    resource_ids: Annotated[list[UUID], Field(min_length=1)]
    starts_at: AwareDatetime
    ends_at: AwareDatetime

    @model_validator(mode="after")
    def _ends_after_start(self) -> Self:
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


class BookingRescheduled(BookingEventBase):
    """A booking moved to another time."""

    type: Literal["booking.rescheduled"] = "booking.rescheduled"
    previous_starts_at: AwareDatetime
    previous_ends_at: AwareDatetime
    starts_at: AwareDatetime
    ends_at: AwareDatetime

    @model_validator(mode="after")
    def _ends_after_start(self) -> Self:
        if self.previous_ends_at <= self.previous_starts_at or self.ends_at <= self.starts_at:
            raise ValueError("each period must end after it starts")
        return self


class BookingCancelled(BookingEventBase):
    """A booking was called off."""

    type: Literal["booking.cancelled"] = "booking.cancelled"
    reason: str | None = None
