"""The composition root of the cases service: the one place real adapters are wired in."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from caseflow_contracts import topics
from caseflow_servicekit import Clock, Kit, ServiceApp, ServiceSettings, SystemClock, run_service
from cases.adapters.tables import metadata
from cases.adapters.uow import SqlCasesUnitOfWork
from cases.domain.catalogue_errors import (
    CatalogueEntryExists,
    CatalogueEntryNotFound,
    InvalidCatalogueEntry,
)
from cases.domain.errors import (
    CaseClosedError,
    CaseError,
    CaseNotFoundError,
    CaseValidationError,
    InvalidTransitionError,
    StaleCaseError,
)
from cases.entrypoints import catalogue_http, consumers, http, projections, reports_http
from cases.settings import CasesSettings

MIGRATIONS = Path(__file__).parent / "adapters" / "migrations"

ERRORS: dict[type[Exception], int] = {
    CaseValidationError: 422,
    InvalidTransitionError: 409,
    CaseClosedError: 409,
    InvalidCatalogueEntry: 422,
    CatalogueEntryNotFound: 404,
    CatalogueEntryExists: 409,
    CaseNotFoundError: 404,
    StaleCaseError: 412,
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
    kit.publishes.append(topics.CATALOGUE)
    kit.publishes.append(topics.INTAKE_NOTIFICATIONS)
    kit.publishes.append(topics.INTAKE_REQUESTS)

    def uow_factory() -> SqlCasesUnitOfWork:
        return SqlCasesUnitOfWork(kit.sessions, kit.outbox)

    consumers.register(kit.consumers, uow_factory=uow_factory, clock=clock or SystemClock())
    projections.register(kit.consumers, uow_factory=uow_factory)
    return kit.http_app(
        routers=[
            http.router(uow_factory=uow_factory, auth=kit.auth, clock=clock or SystemClock()),
            catalogue_http.router(
                uow_factory=uow_factory, auth=kit.auth, clock=clock or SystemClock()
            ),
            reports_http.router(uow_factory=uow_factory, auth=kit.auth),
        ],
        errors=ERRORS,
        description="Cases: lifecycle, activities and time, resolutions, catalogues, reports.",
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
