"""What the scheduling use cases need from the outside world."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from types import TracebackType
from typing import Protocol, Self
from uuid import UUID

from scheduling.domain.booking import Booking
from scheduling.domain.events import BookingEvent
from scheduling.domain.periods import Period
from scheduling.domain.resources import Resource


class ResourceRepository(Protocol):
    """Where resources are kept."""

    async def add(self, resource: Resource) -> None: ...
    async def get(self, resource_id: UUID) -> Resource | None: ...
    async def get_many(
        self, resource_ids: Iterable[UUID], *, for_update: bool = False
    ) -> dict[UUID, Resource]: ...
    async def list(self) -> list[Resource]: ...


class BookingRepository(Protocol):
    """Where bookings are kept; `add` and `save` refuse overlaps with `BookingConflict`."""

    async def add(self, booking: Booking) -> None: ...
    async def get(self, booking_id: UUID, *, for_update: bool = False) -> Booking | None: ...
    async def save(self, booking: Booking) -> None: ...
    async def overlapping(self, resource_ids: Sequence[UUID], period: Period) -> list[Booking]: ...


class SchedulingUnitOfWork(Protocol):
    """One transaction over resources, bookings and the events their changes imply."""

    @property
    def resources(self) -> ResourceRepository: ...
    @property
    def bookings(self) -> BookingRepository: ...

    async def __aenter__(self) -> Self: ...
    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...
    def emit(self, events: Iterable[BookingEvent]) -> None: ...
    async def commit(self) -> None: ...
