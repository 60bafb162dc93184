"""The composition root of the intake service: the one place real adapters are wired in."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from caseflow_contracts import topics
from caseflow_servicekit import Clock, Kit, ServiceApp, ServiceSettings, SystemClock, run_service
from intake.adapters.tables import metadata
from intake.adapters.uow import SqlIntakeUnitOfWork
from intake.domain.errors import (
    AccountRejected,
    DomainTaken,
    IdempotencyKeyInUse,
    IdempotencyKeyReused,
    IntakeError,
    SubmissionRejected,
)
from intake.entrypoints import consumers, http
from intake.settings import IntakeSettings

MIGRATIONS = Path(__file__).parent / "adapters" / "migrations"

ERRORS: dict[type[Exception], int] = {
    SubmissionRejected: 422,
    AccountRejected: 422,
    DomainTaken: 409,
    IdempotencyKeyReused: 409,
    IdempotencyKeyInUse: 409,
    IntakeError: 400,
}


def build(
    settings: ServiceSettings, *, clock: Clock | None = None, configure_process: bool = True
) -> ServiceApp:
    """The intake service, wired."""
    kit = Kit(
        service="intake", settings=settings, metadata=metadata, configure_process=configure_process
    )
    kit.publishes.append(topics.INTAKE_INTERACTIONS)
    clock = clock or SystemClock()

    def uow_factory() -> SqlIntakeUnitOfWork:
        return SqlIntakeUnitOfWork(kit.sessions, kit.outbox)

    consumers.register(kit.consumers, uow_factory=uow_factory, clock=clock)
    return kit.http_app(
        routers=[http.router(uow_factory=uow_factory, auth=kit.auth, clock=clock)],
        errors=ERRORS,
        description="Intake: inbound requests, customer identification, accounts and contacts.",
    )


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m intake`."""
    return run_service(
        service="intake",
        settings_factory=IntakeSettings,  # type: ignore[arg-type]
        app_factory=build,
        migrations=MIGRATIONS,
        argv=argv,
    )
