"""The scheduling domain: resources, bookings and free time, as pure Python."""

from scheduling.domain.booking import Booking, BookingStatus, book
from scheduling.domain.errors import (
    BookingClosedError,
    BookingConflict,
    SchedulingError,
    SchedulingValidationError,
    UnknownBooking,
    UnknownResource,
)
from scheduling.domain.events import (
    BookingCancelled,
    BookingConfirmed,
    BookingEvent,
    BookingRescheduled,
)
from scheduling.domain.periods import MAX_SEARCH_WINDOW, Period, free_periods, free_slots
from scheduling.domain.resources import Resource, ResourceKind, new_resource

__all__ = [
    "MAX_SEARCH_WINDOW",
    "Booking",
    "BookingCancelled",
    "BookingClosedError",
    "BookingConfirmed",
    "BookingConflict",
    "BookingEvent",
    "BookingRescheduled",
    "BookingStatus",
    "Period",
    "Resource",
    "ResourceKind",
    "SchedulingError",
    "SchedulingValidationError",
    "UnknownBooking",
    "UnknownResource",
    "book",
    "free_periods",
    "free_slots",
    "new_resource",
]
