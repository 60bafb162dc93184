"""The scheduling use cases with fakes: no database, no broker."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Self
from uuid import UUID

import pytest

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
from scheduling.domain import (
    Booking,
    BookingCancelled,
    BookingConfirmed,
    BookingConflict,
    BookingEvent,
    BookingRescheduled,
    Period,
    Resource,
    ResourceKind,
    UnknownBooking,
    UnknownResource,
)

pytestmark = pytest.mark.unit

NOW = datetime(2026, 5, 4, 8, 0, tzinfo=UTC)
SERVICE = uuid.uuid4()


def at(hhmm: str) -> datetime:
    hours, minutes = hhmm.split(":")
    return NOW.replace(hour=int(hours), minute=int(minutes))


class FakeResourceRepository:
    def __init__(self) -> None:
        self.items: dict[UUID, Resource] = {}

    async def add(self, resource: Resource) -> None:
        self.items[resource.resource_id] = resource

    async def get(self, resource_id: UUID) -> Resource | None:
        return self.items.get(resource_id)

    async def get_many(
        self, resource_ids: Iterable[UUID], *, for_update: bool = False
    ) -> dict[UUID, Resource]:
        return {r: self.items[r] for r in resource_ids if r in self.items}

    async def list(self) -> list[Resource]:
        return sorted(self.items.values(), key=lambda r: r.name)


class FakeBookingRepository:
    def __init__(self) -> None:
        self.items: dict[UUID, Booking] = {}

    async def add(self, booking: Booking) -> None:
        self.items[booking.booking_id] = booking

    async def get(self, booking_id: UUID, *, for_update: bool = False) -> Booking | None:
        return self.items.get(booking_id)

    async def save(self, booking: Booking) -> None:
        self.items[booking.booking_id] = booking

    async def overlapping(self, resource_ids: Sequence[UUID], period: Period) -> list[Booking]:
        return [
            b
            for b in self.items.values()
            if b.is_active and set(b.resource_ids) & set(resource_ids) and b.period.overlaps(period)
        ]


class FakeSchedulingUnitOfWork:
    def __init__(self) -> None:
        self.resources = FakeResourceRepository()
        self.bookings = FakeBookingRepository()
        self.emitted: list[BookingEvent] = []
        self.committed = 0
        self._pending: list[BookingEvent] = []

    async def __aenter__(self) -> Self:
        self._pending = []
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._pending = []

    def emit(self, events: Iterable[BookingEvent]) -> None:
        self._pending.extend(events)

    async def commit(self) -> None:
        self.emitted.extend(self._pending)
        self._pending = []
        self.committed += 1


@pytest.fixture
def uow() -> FakeSchedulingUnitOfWork:
    return FakeSchedulingUnitOfWork()


async def _resource(uow: FakeSchedulingUnitOfWork, name: str = "Engineer") -> UUID:
    resource = await add_resource(AddResource(name=name, kind=ResourceKind.PERSON), uow=uow)
    return resource.resource_id


async def _book(
    uow: FakeSchedulingUnitOfWork, resources: Sequence[UUID], start: str, end: str
) -> Booking:
    return await make_booking(
        MakeBooking(
            service_id=SERVICE, resource_ids=tuple(resources), starts_at=at(start), ends_at=at(end)
        ),
        uow=uow,
        now=NOW,
    )


async def test_make_booking_stores_it_and_publishes_confirmation(
    uow: FakeSchedulingUnitOfWork,
) -> None:
    engineer = await _resource(uow)
    booking = await _book(uow, [engineer], "09:00", "10:00")
    assert uow.bookings.items == {booking.booking_id: booking}
    [confirmed] = uow.emitted
    assert isinstance(confirmed, BookingConfirmed)
    assert (confirmed.booking_id, confirmed.resource_ids) == (booking.booking_id, (engineer,))


async def test_make_booking_refuses_unknown_resources(uow: FakeSchedulingUnitOfWork) -> None:
    engineer = await _resource(uow)
    with pytest.raises(UnknownResource):
        await _book(uow, [engineer, uuid.uuid4()], "09:00", "10:00")
    assert uow.bookings.items == {} and uow.emitted == []


async def test_an_overlapping_booking_is_refused_and_nothing_is_published(
    uow: FakeSchedulingUnitOfWork,
) -> None:
    engineer = await _resource(uow)
    await _book(uow, [engineer], "09:00", "10:00")
    with pytest.raises(BookingConflict):
        await _book(uow, [engineer], "09:59", "10:30")
    assert len(uow.bookings.items) == 1 and len(uow.emitted) == 1


async def test_reschedule_and_cancel(uow: FakeSchedulingUnitOfWork) -> None:
    engineer = await _resource(uow)
    booking = await _book(uow, [engineer], "09:00", "10:00")
    moved = await reschedule_booking(
        RescheduleBooking(
            booking_id=booking.booking_id, starts_at=at("09:30"), ends_at=at("10:30")
        ),
        uow=uow,
        now=NOW,
    )
    assert moved.period == Period(at("09:30"), at("10:30"))
    await cancel_booking(
        CancelBooking(booking_id=booking.booking_id, reason="no-show"), uow=uow, now=NOW
    )
    assert [type(e) for e in uow.emitted] == [
        BookingConfirmed,
        BookingRescheduled,
        BookingCancelled,
    ]
    # The freed time can be booked again.
    await _book(uow, [engineer], "09:30", "10:30")


async def test_rescheduling_to_the_same_time_publishes_nothing(
    uow: FakeSchedulingUnitOfWork,
) -> None:
    engineer = await _resource(uow)
    booking = await _book(uow, [engineer], "09:00", "10:00")
    await reschedule_booking(
        RescheduleBooking(
            booking_id=booking.booking_id, starts_at=at("09:00"), ends_at=at("10:00")
        ),
        uow=uow,
        now=NOW,
    )
    assert len(uow.emitted) == 1


async def test_unknown_bookings_are_refused(uow: FakeSchedulingUnitOfWork) -> None:
    with pytest.raises(UnknownBooking):
        await cancel_booking(CancelBooking(booking_id=uuid.uuid4()), uow=uow, now=NOW)


async def test_availability_leaves_out_booked_and_past_time(uow: FakeSchedulingUnitOfWork) -> None:
    engineer = await _resource(uow)
    other = await _resource(uow, "Other engineer")
    await _book(uow, [engineer], "10:00", "11:00")
    await _book(uow, [other], "11:00", "12:00")  # another resource's booking does not count
    slots = await find_availability(
        FindAvailability(
            resource_id=engineer,
            starts_at=at("07:00"),
            ends_at=at("12:00"),
            duration=timedelta(hours=1),
        ),
        uow=uow,
        now=at("08:30"),
    )
    assert slots == [Period(at("08:30"), at("09:30")), Period(at("11:00"), at("12:00"))]


async def test_availability_of_an_unknown_resource(uow: FakeSchedulingUnitOfWork) -> None:
    with pytest.raises(UnknownResource):
        await find_availability(
            FindAvailability(
                resource_id=uuid.uuid4(),
                starts_at=at("09:00"),
                ends_at=at("12:00"),
                duration=timedelta(hours=1),
            ),
            uow=uow,
            now=NOW,
        )
