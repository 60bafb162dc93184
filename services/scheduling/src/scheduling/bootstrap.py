"""The composition root of the scheduling service: the one place real adapters are wired in."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from caseflow_contracts import topics
from caseflow_servicekit import Clock, Kit, ServiceApp, ServiceSettings, clock_from, run_service
from scheduling.adapters.tables import metadata
from scheduling.adapters.uow import SqlSchedulingUnitOfWork
from scheduling.domain.errors import (
    BookingClosedError,
    BookingConflict,
    SchedulingError,
    SchedulingValidationError,
    UnknownBooking,
    UnknownResource,
)
from scheduling.entrypoints import http
from scheduling.settings import SchedulingSettings

MIGRATIONS = Path(__file__).parent / "adapters" / "migrations"

ERRORS: dict[type[Exception], int] = {
    UnknownResource: 404,
    UnknownBooking: 404,
    SchedulingValidationError: 422,
    BookingConflict: 409,
    BookingClosedError: 409,
    SchedulingError: 400,
}


def build(
    settings: ServiceSettings, *, clock: Clock | None = None, configure_process: bool = True
) -> ServiceApp:
    """The scheduling service, wired."""
    kit = Kit(
        service="scheduling",
        settings=settings,
        metadata=metadata,
        configure_process=configure_process,
    )
    kit.publishes.append(topics.SCHEDULING)
    clock = clock or clock_from(settings)

    def uow_factory() -> SqlSchedulingUnitOfWork:
        return SqlSchedulingUnitOfWork(kit.sessions, kit.outbox)

    return kit.http_app(
        routers=[http.router(uow_factory=uow_factory, auth=kit.auth, clock=clock)],
        errors=ERRORS,
        description="Scheduling: resources, bookings that never overlap, and availability.",
    )


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m scheduling`."""
    return run_service(
        service="scheduling",
        settings_factory=SchedulingSettings,  # type: ignore[arg-type]
        app_factory=build,
        migrations=MIGRATIONS,
        argv=argv,
    )
