"""Resources and bookings in PostgreSQL: `SqlResourceRepository` and `SqlBookingRepository`."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from uuid import UUID

from sqlalchemy import Select, func, insert, select, update
from sqlalchemy.dialects.postgresql import Range
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from scheduling.adapters.tables import booking_resources, bookings, resources
from scheduling.domain.booking import Booking, BookingStatus
from scheduling.domain.errors import BookingConflict
from scheduling.domain.periods import Period
from scheduling.domain.resources import Resource, ResourceKind

EXCLUSION_VIOLATION = "23P01"


class SqlResourceRepository:
    """Loads and saves resources."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, resource: Resource) -> None:
        """Insert a new resource."""
        await self._session.execute(
            insert(resources).values(
                resource_id=resource.resource_id,
                name=resource.name,
                kind=resource.kind.value,
                capacity=resource.capacity,
                created_at=func.now(),
            )
        )

    async def get(self, resource_id: UUID) -> Resource | None:
        """The resource with `resource_id`, or None."""
        found = await self.get_many([resource_id])
        return found.get(resource_id)

    async def get_many(
        self, resource_ids: Iterable[UUID], *, for_update: bool = False
    ) -> dict[UUID, Resource]:
        """The resources among `resource_ids` that exist, by id.

        With `for_update`, each row is locked until the transaction ends, in id order, so
        that bookings of a shared resource take turns: the later one reads the earlier one's
        booking instead of racing it into the exclusion constraint, where two concurrent
        overlapping inserts wait on each other and one dies as a deadlock.
        """
        ids = list(resource_ids)
        if not ids:
            return {}
        stmt = select(resources).where(resources.c.resource_id.in_(ids))
        if for_update:
            # NO KEY UPDATE: does not block the foreign-key checks of other inserts.
            stmt = stmt.order_by(resources.c.resource_id).with_for_update(key_share=True)
        rows = await self._session.execute(stmt)
        return {row.resource_id: _resource(row._mapping) for row in rows}

    async def list(self) -> list[Resource]:
        """Every resource, by name."""
        rows = await self._session.execute(
            select(resources).order_by(resources.c.name, resources.c.resource_id)
        )
        return [_resource(row._mapping) for row in rows]


class SqlBookingRepository:
    """Loads and saves bookings with the resource rows the exclusion constraint guards."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, booking: Booking) -> None:
        """Insert a new booking; BookingConflict if a resource is taken meanwhile."""
        with _conflicts_refused(booking):
            await self._session.execute(
                insert(bookings).values(
                    **_row(booking), booked_at=booking.booked_at, updated_at=func.now()
                )
            )
            await self._session.execute(insert(booking_resources), _resource_rows(booking))

    async def save(self, booking: Booking) -> None:
        """Write a loaded booking back; BookingConflict if its new period is taken."""
        with _conflicts_refused(booking):
            await self._session.execute(
                update(bookings)
                .where(bookings.c.booking_id == booking.booking_id)
                .values(**_row(booking), updated_at=func.now())
            )
            await self._session.execute(
                update(booking_resources)
                .where(booking_resources.c.booking_id == booking.booking_id)
                .values(period=_range(booking.period), active=booking.is_active)
            )

    async def get(self, booking_id: UUID, *, for_update: bool = False) -> Booking | None:
        """The booking with `booking_id`, or None."""
        stmt = select(bookings).where(bookings.c.booking_id == booking_id)
        if for_update:
            stmt = stmt.with_for_update()
        found = await self._load(stmt)
        return found[0] if found else None

    async def overlapping(self, resource_ids: Sequence[UUID], period: Period) -> list[Booking]:
        """The active bookings of any of `resource_ids` that overlap `period`, by start."""
        if not resource_ids:
            return []
        taking = (
            select(booking_resources.c.booking_id)
            .where(
                booking_resources.c.resource_id.in_(list(resource_ids)),
                booking_resources.c.active,
                booking_resources.c.period.overlaps(_range(period)),
            )
            .distinct()
        )
        return await self._load(select(bookings).where(bookings.c.booking_id.in_(taking)))

    async def _load(self, stmt: Select[Any]) -> list[Booking]:
        rows = [
            r._mapping
            for r in await self._session.execute(
                stmt.order_by(bookings.c.starts_at, bookings.c.booking_id)
            )
        ]
        if not rows:
            return []
        held: dict[UUID, list[UUID]] = {r["booking_id"]: [] for r in rows}
        taken = await self._session.execute(
            select(booking_resources.c.booking_id, booking_resources.c.resource_id)
            .where(booking_resources.c.booking_id.in_(list(held)))
            .order_by(booking_resources.c.booking_id, booking_resources.c.position)
        )
        for booking_id, resource_id in taken:
            held[booking_id].append(resource_id)
        return [_booking(r, tuple(held[r["booking_id"]])) for r in rows]


@contextmanager
def _conflicts_refused(booking: Booking) -> Iterator[None]:
    """Turn the database's exclusion violation into the domain's BookingConflict."""
    try:
        yield
    except IntegrityError as exc:
        if getattr(exc.orig, "sqlstate", None) != EXCLUSION_VIOLATION:
            raise
        raise BookingConflict(
            f"one of the resources {', '.join(map(str, booking.resource_ids))} is already "
            f"booked between {booking.starts_at.isoformat()} and {booking.ends_at.isoformat()}",
            resource_id=booking.resource_ids[0],
        ) from exc


def _range(period: Period) -> Range[Any]:
    return Range(period.starts_at, period.ends_at, bounds="[)")


def _row(booking: Booking) -> dict[str, Any]:
    return {
        "booking_id": booking.booking_id,
        "service_id": booking.service_id,
        "case_id": booking.case_id,
        "starts_at": booking.starts_at,
        "ends_at": booking.ends_at,
        "status": booking.status.value,
        "cancellation_reason": booking.cancellation_reason,
    }


def _resource_rows(booking: Booking) -> list[dict[str, Any]]:
    rows = [
        {
            "booking_id": booking.booking_id,
            "resource_id": resource_id,
            "position": position,
            "period": _range(booking.period),
            "active": booking.is_active,
        }
        for position, resource_id in enumerate(booking.resource_ids)
    ]
    # Inserted in one order whatever the order booked, so two bookings racing for the same
    # resources wait for each other instead of deadlocking.
    return sorted(rows, key=lambda row: row["resource_id"])


def _resource(row: Any) -> Resource:
    return Resource(
        resource_id=row["resource_id"],
        name=row["name"],
        kind=ResourceKind(row["kind"]),
        capacity=row["capacity"],
    )


def _booking(row: Any, resource_ids: tuple[UUID, ...]) -> Booking:
    return Booking(
        booking_id=row["booking_id"],
        service_id=row["service_id"],
        resource_ids=resource_ids,
        starts_at=row["starts_at"],
        ends_at=row["ends_at"],
        case_id=row["case_id"],
        status=BookingStatus(row["status"]),
        booked_at=row["booked_at"],
        cancellation_reason=row["cancellation_reason"],
    )
