"""Booking, rescheduling and cancelling: pure rules returning events."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest

from scheduling.domain import (
    Booking,
    BookingCancelled,
    BookingClosedError,
    BookingConfirmed,
    BookingConflict,
    BookingRescheduled,
    BookingStatus,
    Period,
    ResourceKind,
    SchedulingValidationError,
    book,
    new_resource,
)

pytestmark = pytest.mark.unit

NOW = datetime(2026, 5, 4, 8, 0, tzinfo=UTC)
ROOM = uuid.uuid4()
ENGINEER = uuid.uuid4()
VAN = uuid.uuid4()
SERVICE = uuid.uuid4()


def at(hhmm: str) -> datetime:
    hours, minutes = hhmm.split(":")
    return NOW.replace(hour=int(hours), minute=int(minutes))


def p(start: str, end: str) -> Period:
    return Period(at(start), at(end))


def make(
    resources: Sequence[UUID],
    period: Period,
    existing: Sequence[Booking] = (),
    case_id: UUID | None = None,
) -> Booking:
    booking, _ = book(
        booking_id=uuid.uuid4(),
        service_id=SERVICE,
        resource_ids=resources,
        period=period,
        case_id=case_id,
        existing=existing,
        now=NOW,
    )
    return booking


def test_book_confirms_the_booking_and_says_so() -> None:
    case_id = uuid.uuid4()
    booking_id = uuid.uuid4()
    booking, events = book(
        booking_id=booking_id,
        service_id=SERVICE,
        resource_ids=[ENGINEER, VAN],
        period=p("09:00", "10:30"),
        case_id=case_id,
        existing=[],
        now=NOW,
    )
    assert booking.status is BookingStatus.CONFIRMED
    assert booking.resource_ids == (ENGINEER, VAN)
    assert events == [
        BookingConfirmed(
            booking_id=booking_id,
            case_id=case_id,
            occurred_at=NOW,
            service_id=SERVICE,
            resource_ids=(ENGINEER, VAN),
            starts_at=at("09:00"),
            ends_at=at("10:30"),
        )
    ]


def test_book_refuses_an_overlap_on_a_shared_resource() -> None:
    first = make([ENGINEER], p("09:00", "10:00"))
    with pytest.raises(BookingConflict) as refused:
        make([VAN, ENGINEER], p("09:30", "10:30"), existing=[first])
    assert refused.value.resource_id == ENGINEER
    assert refused.value.booking_id == first.booking_id


@pytest.mark.parametrize(
    ("resources", "period"),
    [
        ([ENGINEER], p("10:00", "11:00")),  # starts when the other ends
        ([ENGINEER], p("08:30", "09:00")),  # ends when the other starts
        ([VAN], p("09:00", "10:00")),  # same time, another resource
    ],
)
def test_book_allows_what_does_not_overlap(resources: list[UUID], period: Period) -> None:
    first = make([ENGINEER], p("09:00", "10:00"))
    assert make(resources, period, existing=[first]).is_active


def test_a_cancelled_booking_frees_its_resources() -> None:
    first = make([ENGINEER], p("09:00", "10:00"))
    first.cancel(reason=None, now=NOW)
    assert make([ENGINEER], p("09:00", "10:00"), existing=[first]).is_active


@pytest.mark.parametrize(
    ("resources", "period", "message"),
    [
        ([], p("09:00", "10:00"), "at least one resource"),
        ([ROOM, ROOM], p("09:00", "10:00"), "each resource once"),
        ([ROOM], p("07:00", "09:00"), "past"),
    ],
)
def test_book_refuses_bad_requests(resources: list[UUID], period: Period, message: str) -> None:
    with pytest.raises(SchedulingValidationError, match=message):
        make(resources, period)


def test_reschedule_moves_the_booking_ignoring_its_own_old_period() -> None:
    booking = make([ROOM], p("09:00", "10:00"), case_id=uuid.uuid4())
    events = booking.reschedule(period=p("09:30", "10:30"), others=[booking], now=NOW)
    assert (booking.starts_at, booking.ends_at) == (at("09:30"), at("10:30"))
    assert events == [
        BookingRescheduled(
            booking_id=booking.booking_id,
            case_id=booking.case_id,
            occurred_at=NOW,
            previous_starts_at=at("09:00"),
            previous_ends_at=at("10:00"),
            starts_at=at("09:30"),
            ends_at=at("10:30"),
        )
    ]


def test_reschedule_refuses_an_overlap_and_leaves_the_booking_as_it_was() -> None:
    other = make([ROOM], p("11:00", "12:00"))
    booking = make([ROOM, ENGINEER], p("09:00", "10:00"), existing=[other])
    with pytest.raises(BookingConflict):
        booking.reschedule(period=p("10:30", "11:30"), others=[other, booking], now=NOW)
    assert booking.period == p("09:00", "10:00")


def test_reschedule_to_the_same_period_changes_nothing() -> None:
    booking = make([ROOM], p("09:00", "10:00"))
    assert booking.reschedule(period=p("09:00", "10:00"), others=[], now=NOW) == []


def test_cancel_frees_the_booking_once() -> None:
    booking = make([ROOM], p("09:00", "10:00"))
    events = booking.cancel(reason="  customer away  ", now=NOW)
    assert events == [
        BookingCancelled(
            booking_id=booking.booking_id, case_id=None, occurred_at=NOW, reason="customer away"
        )
    ]
    assert booking.status is BookingStatus.CANCELLED and not booking.is_active
    with pytest.raises(BookingClosedError):
        booking.cancel(reason=None, now=NOW)
    with pytest.raises(BookingClosedError):
        booking.reschedule(period=p("11:00", "12:00"), others=[], now=NOW + timedelta(minutes=1))


def test_new_resource_tidies_its_name() -> None:
    resource = new_resource(resource_id=ROOM, name="  Meeting   room 2 ", kind=ResourceKind.ROOM)
    assert (resource.name, resource.capacity) == ("Meeting room 2", 1)
    with pytest.raises(SchedulingValidationError):
        new_resource(resource_id=ROOM, name="   ", kind=ResourceKind.ROOM)
