"""The composition root of the intake service: the one place real adapters are wired in."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

from caseflow_contracts import topics
from caseflow_servicekit import Clock, Kit, ServiceApp, SystemClock, run_service
from intake.adapters.rate_limits import SqlRateLimitCounter
from intake.adapters.tables import metadata
from intake.adapters.uow import SqlIntakeUnitOfWork
from intake.domain.errors import (
    AccountRejected,
    DomainTaken,
    IdempotencyKeyInUse,
    IdempotencyKeyReused,
    IntakeError,
    RateLimited,
    SubmissionRejected,
)
from intake.domain.rate_limits import RateLimits
from intake.entrypoints import consumers, http
from intake.settings import IntakeSettings

MIGRATIONS = Path(__file__).parent / "adapters" / "migrations"

ERRORS: dict[type[Exception], int] = {
    RateLimited: 429,
    SubmissionRejected: 422,
    AccountRejected: 422,
    DomainTaken: 409,
    IdempotencyKeyReused: 409,
    IdempotencyKeyInUse: 409,
    IntakeError: 400,
}


def build(
    settings: IntakeSettings, *, clock: Clock | None = None, configure_process: bool = True
) -> ServiceApp:
    """The intake service, wired."""
    kit = Kit(
        service="intake", settings=settings, metadata=metadata, configure_process=configure_process
    )
    kit.publishes.append(topics.INTAKE_INTERACTIONS)
    kit.retention.add(
        "idempotency_keys",
        "created_at",
        timedelta(seconds=settings.idempotency_retention_seconds),
    )
    clock = clock or SystemClock()

    def uow_factory() -> SqlIntakeUnitOfWork:
        return SqlIntakeUnitOfWork(kit.sessions, kit.outbox)

    consumers.register(kit.consumers, uow_factory=uow_factory, clock=clock)
    router = http.router(
        uow_factory=uow_factory,
        auth=kit.auth,
        clock=clock,
        rate_limit_counter=SqlRateLimitCounter(kit.engine),
        rate_limits=RateLimits(
            per_address=settings.rate_limit_per_address,
            per_key=settings.rate_limit_per_key,
            window=timedelta(seconds=settings.rate_limit_window_seconds),
        ),
        trusted_proxies=settings.trusted_proxy_networks(),
    )
    app = kit.http_app(
        routers=[router],
        errors=ERRORS,
        description="Intake: inbound requests, customer identification, accounts and contacts.",
    )
    return app


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m intake`."""
    return run_service(
        service="intake",
        settings_factory=IntakeSettings,  # type: ignore[arg-type]
        app_factory=build,  # type: ignore[arg-type]
        migrations=MIGRATIONS,
        argv=argv,
    )
