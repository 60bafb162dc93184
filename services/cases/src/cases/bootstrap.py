"""The composition root of the cases service: the one place real adapters are wired in."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

from caseflow_contracts import topics
from caseflow_servicekit import (
    Clock,
    Kit,
    PeriodicJob,
    ServiceApp,
    ServiceSettings,
    clock_from,
    run_service,
)
from cases.adapters.tables import metadata
from cases.adapters.uow import SqlCasesUnitOfWork
from cases.app.contracts import upkeep
from cases.domain.catalogue_errors import (
    CatalogueEntryExists,
    CatalogueEntryNotFound,
    InvalidCatalogueEntry,
)
from cases.domain.contracts import (
    ENDING_NOTICE_DAYS,
    ContractConflictError,
    ContractError,
    ContractNotFoundError,
    InvalidContractError,
    StaleContractError,
)
from cases.domain.errors import (
    CaseClosedError,
    CaseError,
    CaseNotFoundError,
    CaseValidationError,
    InvalidTransitionError,
    StaleCaseError,
)
from cases.entrypoints import (
    catalogue_http,
    consumers,
    contract_reports_http,
    contracts_http,
    http,
    projections,
    reports_http,
)
from cases.settings import CasesSettings

MIGRATIONS = Path(__file__).parent / "adapters" / "migrations"

UPKEEP_BATCH = 100
"""Contracts looked at per upkeep transaction."""

ERRORS: dict[type[Exception], int] = {
    CaseValidationError: 422,
    InvalidTransitionError: 409,
    CaseClosedError: 409,
    InvalidCatalogueEntry: 422,
    CatalogueEntryNotFound: 404,
    CatalogueEntryExists: 409,
    CaseNotFoundError: 404,
    StaleCaseError: 412,
    InvalidContractError: 422,
    ContractConflictError: 409,
    ContractNotFoundError: 404,
    StaleContractError: 412,
    ContractError: 400,
    CaseError: 400,
}


def build(
    settings: ServiceSettings, *, clock: Clock | None = None, configure_process: bool = True
) -> ServiceApp:
    """The cases service, wired."""
    kit = Kit(
        service="cases", settings=settings, metadata=metadata, configure_process=configure_process
    )
    clock = clock or clock_from(settings)
    kit.publishes.append(topics.CASES)
    kit.publishes.append(topics.CATALOGUE)
    kit.publishes.append(topics.CONTRACTS)
    kit.publishes.append(topics.INTAKE_NOTIFICATIONS)
    kit.publishes.append(topics.INTAKE_REQUESTS)

    def uow_factory() -> SqlCasesUnitOfWork:
        return SqlCasesUnitOfWork(kit.sessions, kit.outbox)

    async def contract_upkeep(now: datetime) -> int:
        return await upkeep(
            uow=uow_factory(), now=now, notice_days=ENDING_NOTICE_DAYS, limit=UPKEEP_BATCH
        )

    job = PeriodicJob(
        name="cases.contract_upkeep",
        tick=contract_upkeep,
        clock=clock,
        interval=getattr(settings, "contract_upkeep_seconds", 300.0),
    )
    consumers.register(
        kit.consumers,
        uow_factory=uow_factory,
        clock=clock,
        calls_billable=getattr(settings, "calls_billable", True),
        reopen_window=timedelta(days=getattr(settings, "reopen_window_days", 7)),
    )
    projections.register(kit.consumers, uow_factory=uow_factory)
    app = kit.http_app(
        routers=[
            http.router(uow_factory=uow_factory, auth=kit.auth, clock=clock),
            catalogue_http.router(uow_factory=uow_factory, auth=kit.auth, clock=clock),
            contracts_http.router(uow_factory=uow_factory, auth=kit.auth, clock=clock),
            reports_http.router(uow_factory=uow_factory, auth=kit.auth),
            contract_reports_http.router(uow_factory=uow_factory, auth=kit.auth, clock=clock),
        ],
        errors=ERRORS,
        description="Cases: lifecycle, activities and time, resolutions, catalogues, service "
        "contracts and their entitlements, reports.",
        on_startup=[job.start],
        on_shutdown=[job.stop],
    )
    # At hand for operations and tests, which run single passes with a clock they move.
    app.fastapi.state.contract_upkeep = job
    return app


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m cases`."""
    return run_service(
        service="cases",
        settings_factory=CasesSettings,  # type: ignore[arg-type]
        app_factory=build,
        migrations=MIGRATIONS,
        argv=argv,
    )
