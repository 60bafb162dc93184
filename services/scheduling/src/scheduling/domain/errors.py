"""Errors raised by the scheduling domain.

All of them derive from one base, so callers can catch the family at once::

    SchedulingError
    ├── SchedulingValidationError   bad input: naive time, a period ending before it starts, ...
    ├── BookingConflict             a resource is already booked for part of the period
    ├── BookingClosedError          the booking is cancelled and can no longer change
    ├── UnknownResource             no resource has the id asked for
    └── UnknownBooking              no booking has the id asked for

``SchedulingValidationError`` is also a ``ValueError``: it is the caller's input that is wrong.
"""

from __future__ import annotations

from uuid import UUID


class SchedulingError(Exception):
    """Base of every error the scheduling domain raises."""


class SchedulingValidationError(SchedulingError, ValueError):
    """Input that breaks a rule of the scheduling model."""


class BookingConflict(SchedulingError):
    """A resource is already booked for part of the period asked for."""

    def __init__(self, detail: str, *, resource_id: UUID, booking_id: UUID | None = None) -> None:
        super().__init__(detail)
        self.resource_id = resource_id
        self.booking_id = booking_id


class BookingClosedError(SchedulingError):
    """A change to a cancelled booking."""


class UnknownResource(SchedulingError):
    """No resource has the id asked for."""


class UnknownBooking(SchedulingError):
    """No booking has the id asked for."""
