"""The composition root of the cases service: the one place real adapters are wired in."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from caseflow_contracts import topics
from caseflow_servicekit import Clock, Kit, ServiceApp, ServiceSettings, SystemClock, run_service
from cases.adapters.tables import metadata
from cases.adapters.uow import SqlCasesUnitOfWork
from cases.domain.errors import (
    CaseClosedError,
    CaseError,
    CaseValidationError,
    InvalidTransitionError,
)
from cases.entrypoints import consumers, http
from cases.settings import CasesSettings

MIGRATIONS = Path(__file__).parent / "adapters" / "migrations"

ERRORS: dict[type[Exception], int] = {
    CaseValidationError: 422,
    InvalidTransitionError: 409,
    CaseClosedError: 409,
    CaseError: 400,
}


def build(
    settings: ServiceSettings, *, clock: Clock | None = None, configure_process: bool = True
) -> ServiceApp:
    """The cases service, wired."""
    kit = Kit(
        service="cases", settings=settings, metadata=metadata, configure_process=configure_process
    )
    kit.publishes.append(topics.CASES)

    def uow_factory() -> SqlCasesUnitOfWork:
        return SqlCasesUnitOfWork(kit.sessions, kit.outbox)

    consumers.register(kit.consumers, uow_factory=uow_factory, clock=clock or SystemClock())
    return kit.http_app(
        routers=[http.router(uow_factory=uow_factory, auth=kit.auth)],
        errors=ERRORS,
        description="Cases: lifecycle, activities and time, resolutions, contracts, entitlements.",
    )


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m cases`."""
    return run_service(
        service="cases",
        settings_factory=CasesSettings,  # type: ignore[arg-type]
        app_factory=build,
        migrations=MIGRATIONS,
        argv=argv,
    )
