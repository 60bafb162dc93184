"""The scheduling HTTP API: resources, bookings and availability.

No `from __future__ import annotations` here: FastAPI reads each route's annotations, and the
role dependencies they name are local to `router`, so they must be evaluated where defined.
"""

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Annotated, Self
from uuid import UUID

from fastapi import APIRouter, Depends, Query
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from caseflow_servicekit import Authenticator, Clock, NotFound, Principal, Role
from scheduling.adapters.uow import SqlSchedulingUnitOfWork
from scheduling.app.handlers import (
    AddResource,
    CancelBooking,
    FindAvailability,
    MakeBooking,
    RescheduleBooking,
    add_resource,
    cancel_booking,
    find_availability,
    make_booking,
    reschedule_booking,
)
from scheduling.domain.booking import Booking
from scheduling.domain.periods import Period
from scheduling.domain.resources import Resource, ResourceKind

UowFactory = Callable[[], SqlSchedulingUnitOfWork]


class NewResource(BaseModel):
    """A resource to register."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=200)]
    kind: ResourceKind


class ResourceView(BaseModel):
    """A resource as the API shows it."""

    resource_id: UUID
    name: str
    kind: ResourceKind
    capacity: int

    @classmethod
    def of(cls, resource: Resource) -> Self:
        return cls(
            resource_id=resource.resource_id,
            name=resource.name,
            kind=resource.kind,
            capacity=resource.capacity,
        )


class NewBooking(BaseModel):
    """An appointment to book."""

    model_config = ConfigDict(extra="forbid")

    service_id: UUID
    resource_ids: Annotated[list[UUID], Field(min_length=1, max_length=20)]
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    case_id: UUID | None = None


class NewPeriod(BaseModel):
    """The period a booking moves to."""

    model_config = ConfigDict(extra="forbid")

    starts_at: AwareDatetime
    ends_at: AwareDatetime


class Cancellation(BaseModel):
    """Why a booking is called off."""

    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str | None, Field(max_length=2000)] = None


class BookingView(BaseModel):
    """A booking as the API shows it."""

    booking_id: UUID
    service_id: UUID
    resource_ids: list[UUID]
    starts_at: datetime
    ends_at: datetime
    case_id: UUID | None
    status: str
    booked_at: datetime
    cancellation_reason: str | None

    @classmethod
    def of(cls, booking: Booking) -> Self:
        return cls(
            booking_id=booking.booking_id,
            service_id=booking.service_id,
            resource_ids=list(booking.resource_ids),
            starts_at=booking.starts_at,
            ends_at=booking.ends_at,
            case_id=booking.case_id,
            status=booking.status.value,
            booked_at=booking.booked_at,
            cancellation_reason=booking.cancellation_reason,
        )


class Slot(BaseModel):
    """A free period a booking could take."""

    starts_at: datetime
    ends_at: datetime

    @classmethod
    def of(cls, period: Period) -> Self:
        return cls(starts_at=period.starts_at, ends_at=period.ends_at)


class Availability(BaseModel):
    """The free slots of one resource within a window."""

    resource_id: UUID
    duration_minutes: int
    slots: list[Slot]


def router(*, uow_factory: UowFactory, auth: Authenticator, clock: Clock) -> APIRouter:
    """Routes for resources, bookings and availability."""
    api = APIRouter(tags=["scheduling"])
    agent = Depends(auth.requires(Role.AGENT))
    admin = Depends(auth.requires(Role.ADMIN))

    @api.post("/resources", status_code=201, response_model=ResourceView)
    async def create_resource(body: NewResource, _: Annotated[Principal, admin]) -> ResourceView:
        """Register a person, room or piece of equipment that can be booked."""
        resource = await add_resource(
            AddResource(name=body.name, kind=body.kind), uow=uow_factory()
        )
        return ResourceView.of(resource)

    @api.get("/resources", response_model=list[ResourceView])
    async def list_resources(_: Annotated[Principal, agent]) -> list[ResourceView]:
        """Every resource, by name."""
        async with uow_factory() as uow:
            found = await uow.resources.list()
        return [ResourceView.of(r) for r in found]

    @api.get("/resources/{resource_id}", response_model=ResourceView)
    async def get_resource(resource_id: UUID, _: Annotated[Principal, agent]) -> ResourceView:
        """One resource."""
        async with uow_factory() as uow:
            resource = await uow.resources.get(resource_id)
        if resource is None:
            raise NotFound(f"There is no resource {resource_id}.")
        return ResourceView.of(resource)

    @api.get("/resources/{resource_id}/bookings", response_model=list[BookingView])
    async def resource_bookings(
        resource_id: UUID,
        starts_at: Annotated[AwareDatetime, Query(alias="from")],
        ends_at: Annotated[AwareDatetime, Query(alias="to")],
        _: Annotated[Principal, agent],
    ) -> list[BookingView]:
        """The active bookings of one resource that overlap [from, to), by start."""
        window = Period(starts_at, ends_at)
        async with uow_factory() as uow:
            if await uow.resources.get(resource_id) is None:
                raise NotFound(f"There is no resource {resource_id}.")
            found = await uow.bookings.overlapping((resource_id,), window)
        return [BookingView.of(b) for b in found]

    @api.post("/bookings", status_code=201, response_model=BookingView)
    async def create_booking(body: NewBooking, _: Annotated[Principal, agent]) -> BookingView:
        """Book resources for an appointment; 409 if one of them is taken."""
        booking = await make_booking(
            MakeBooking(
                service_id=body.service_id,
                resource_ids=tuple(body.resource_ids),
                starts_at=body.starts_at,
                ends_at=body.ends_at,
                case_id=body.case_id,
            ),
            uow=uow_factory(),
            now=clock.now(),
        )
        return BookingView.of(booking)

    @api.get("/bookings/{booking_id}", response_model=BookingView)
    async def get_booking(booking_id: UUID, _: Annotated[Principal, agent]) -> BookingView:
        """One booking."""
        async with uow_factory() as uow:
            booking = await uow.bookings.get(booking_id)
        if booking is None:
            raise NotFound(f"There is no booking {booking_id}.")
        return BookingView.of(booking)

    @api.post("/bookings/{booking_id}/reschedule", response_model=BookingView)
    async def reschedule(
        booking_id: UUID, body: NewPeriod, _: Annotated[Principal, agent]
    ) -> BookingView:
        """Move a booking to another period; 409 if a resource is taken then."""
        booking = await reschedule_booking(
            RescheduleBooking(
                booking_id=booking_id, starts_at=body.starts_at, ends_at=body.ends_at
            ),
            uow=uow_factory(),
            now=clock.now(),
        )
        return BookingView.of(booking)

    @api.post("/bookings/{booking_id}/cancel", response_model=BookingView)
    async def cancel(
        booking_id: UUID, _: Annotated[Principal, agent], body: Cancellation | None = None
    ) -> BookingView:
        """Call a booking off and free its resources."""
        booking = await cancel_booking(
            CancelBooking(booking_id=booking_id, reason=body.reason if body else None),
            uow=uow_factory(),
            now=clock.now(),
        )
        return BookingView.of(booking)

    @api.get("/availability", response_model=Availability)
    async def availability(
        resource_id: UUID,
        starts_at: Annotated[AwareDatetime, Query(alias="from")],
        ends_at: Annotated[AwareDatetime, Query(alias="to")],
        duration_minutes: Annotated[int, Query(ge=1, le=24 * 60)],
        _: Annotated[Principal, agent],
        step_minutes: Annotated[int | None, Query(ge=1, le=24 * 60)] = None,
    ) -> Availability:
        """Free slots of `duration_minutes` for the resource within [from, to)."""
        slots = await find_availability(
            FindAvailability(
                resource_id=resource_id,
                starts_at=starts_at,
                ends_at=ends_at,
                duration=timedelta(minutes=duration_minutes),
                step=None if step_minutes is None else timedelta(minutes=step_minutes),
            ),
            uow=uow_factory(),
            now=clock.now(),
        )
        return Availability(
            resource_id=resource_id,
            duration_minutes=duration_minutes,
            slots=[Slot.of(s) for s in slots],
        )

    return api
