"""Use cases of the scheduling service: load, decide in the domain, record, commit."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID, uuid4

from scheduling.app.ports import SchedulingUnitOfWork
from scheduling.domain.booking import Booking, book
from scheduling.domain.errors import UnknownBooking, UnknownResource
from scheduling.domain.periods import Period, free_slots
from scheduling.domain.resources import Resource, ResourceKind, new_resource


@dataclass(frozen=True, kw_only=True)
class AddResource:
    """Make a person, room or piece of equipment bookable."""

    name: str
    kind: ResourceKind


@dataclass(frozen=True, kw_only=True)
class MakeBooking:
    """Book resources for a service appointment, for a case if one is named."""

    service_id: UUID
    resource_ids: tuple[UUID, ...]
    starts_at: datetime
    ends_at: datetime
    case_id: UUID | None = None


@dataclass(frozen=True, kw_only=True)
class RescheduleBooking:
    """Move a booking to another period."""

    booking_id: UUID
    starts_at: datetime
    ends_at: datetime


@dataclass(frozen=True, kw_only=True)
class CancelBooking:
    """Call a booking off."""

    booking_id: UUID
    reason: str | None = None


@dataclass(frozen=True, kw_only=True)
class FindAvailability:
    """Free slots of `duration` for one resource within [starts_at, ends_at)."""

    resource_id: UUID
    starts_at: datetime
    ends_at: datetime
    duration: timedelta
    step: timedelta | None = None


async def add_resource(
    cmd: AddResource, *, uow: SchedulingUnitOfWork, new_id: Callable[[], UUID] = uuid4
) -> Resource:
    """Register a new bookable resource."""
    resource = new_resource(resource_id=new_id(), name=cmd.name, kind=cmd.kind)
    async with uow:
        await uow.resources.add(resource)
        await uow.commit()
    return resource


async def make_booking(
    cmd: MakeBooking,
    *,
    uow: SchedulingUnitOfWork,
    now: datetime,
    new_id: Callable[[], UUID] = uuid4,
) -> Booking:
    """Book the resources if each exists and is free for the whole period."""
    period = Period(cmd.starts_at, cmd.ends_at)
    async with uow:
        known = await uow.resources.get_many(cmd.resource_ids, for_update=True)
        missing = [r for r in cmd.resource_ids if r not in known]
        if missing:
            raise UnknownResource(f"There is no resource {missing[0]}.")
        existing = await uow.bookings.overlapping(cmd.resource_ids, period)
        booking, events = book(
            booking_id=new_id(),
            service_id=cmd.service_id,
            resource_ids=cmd.resource_ids,
            period=period,
            case_id=cmd.case_id,
            existing=existing,
            now=now,
        )
        await uow.bookings.add(booking)
        uow.emit(events)
        await uow.commit()
    return booking


async def reschedule_booking(
    cmd: RescheduleBooking, *, uow: SchedulingUnitOfWork, now: datetime
) -> Booking:
    """Move a booking, if its resources are free at the new time."""
    period = Period(cmd.starts_at, cmd.ends_at)
    async with uow:
        booking = await _booking(uow, cmd.booking_id)
        # Locked, so that a concurrent booking of the same resources waits for this one.
        await uow.resources.get_many(booking.resource_ids, for_update=True)
        others = await uow.bookings.overlapping(booking.resource_ids, period)
        events = booking.reschedule(period=period, others=others, now=now)
        if events:
            await uow.bookings.save(booking)
            uow.emit(events)
            await uow.commit()
    return booking


async def cancel_booking(
    cmd: CancelBooking, *, uow: SchedulingUnitOfWork, now: datetime
) -> Booking:
    """Call a booking off and free its resources."""
    async with uow:
        booking = await _booking(uow, cmd.booking_id)
        events = booking.cancel(reason=cmd.reason, now=now)
        await uow.bookings.save(booking)
        uow.emit(events)
        await uow.commit()
    return booking


async def find_availability(
    query: FindAvailability, *, uow: SchedulingUnitOfWork, now: datetime
) -> list[Period]:
    """The slots in which the resource could still be booked for the duration."""
    within = Period(query.starts_at, query.ends_at)
    async with uow:
        if await uow.resources.get(query.resource_id) is None:
            raise UnknownResource(f"There is no resource {query.resource_id}.")
        bookings = await uow.bookings.overlapping((query.resource_id,), within)
    return free_slots(
        within,
        (b.period for b in bookings),
        duration=query.duration,
        step=query.step,
        not_before=now,
    )


async def _booking(uow: SchedulingUnitOfWork, booking_id: UUID) -> Booking:
    booking = await uow.bookings.get(booking_id, for_update=True)
    if booking is None:
        raise UnknownBooking(f"There is no booking {booking_id}.")
    return booking
