"""Domain events of a booking, translated to the published contracts of `scheduling.booking.v1`."""

from __future__ import annotations

import caseflow_contracts as c
from scheduling.domain import events as d


def to_contract(event: d.BookingEvent) -> c.Event:
    """The contract event that tells other services about `event`."""
    match event:
        case d.BookingConfirmed():
            return c.BookingConfirmed(
                booking_id=event.booking_id,
                case_id=event.case_id,
                occurred_at=event.occurred_at,
                service_id=event.service_id,
                resource_ids=list(event.resource_ids),
                starts_at=event.starts_at,
                ends_at=event.ends_at,
            )
        case d.BookingRescheduled():
            return c.BookingRescheduled(
                booking_id=event.booking_id,
                case_id=event.case_id,
                occurred_at=event.occurred_at,
                previous_starts_at=event.previous_starts_at,
                previous_ends_at=event.previous_ends_at,
                starts_at=event.starts_at,
                ends_at=event.ends_at,
            )
        case d.BookingCancelled():
            return c.BookingCancelled(
                booking_id=event.booking_id,
                case_id=event.case_id,
                occurred_at=event.occurred_at,
                reason=event.reason,
            )
    msg = f"no contract for {type(event).__name__}"
    raise TypeError(msg)
