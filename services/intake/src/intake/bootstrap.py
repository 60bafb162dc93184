"""The composition root of the intake service: the one place real adapters are wired in."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

from caseflow_contracts import topics
from caseflow_servicekit import Clock, Kit, PeriodicJob, ServiceApp, SystemClock, run_service
from intake.adapters.rate_limits import SqlRateLimitCounter
from intake.adapters.screen_pops import PgScreenPopHub
from intake.adapters.tables import metadata
from intake.adapters.uow import SqlIntakeUnitOfWork
from intake.app.calls import CallRules, close_overdue_calls
from intake.domain.calls import CallRejected
from intake.domain.customer_errors import (
    ContactRejected,
    CustomerConflict,
    CustomerNotFound,
    StaleCard,
)
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
from intake.entrypoints import consumers, cti_http, customers_http, http
from intake.settings import IntakeSettings

MIGRATIONS = Path(__file__).parent / "adapters" / "migrations"

CALL_TIMEOUT_BATCH = 50
"""Calls the switch never ended, closed per pass of the timeout job's batches."""

ERRORS: dict[type[Exception], int] = {
    RateLimited: 429,
    SubmissionRejected: 422,
    CallRejected: 422,
    AccountRejected: 422,
    ContactRejected: 422,
    CustomerNotFound: 404,
    DomainTaken: 409,
    CustomerConflict: 409,
    StaleCard: 412,
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
    kit.publishes.append(topics.INTAKE_CUSTOMERS)
    kit.retention.add(
        "idempotency_keys",
        "created_at",
        timedelta(seconds=settings.idempotency_retention_seconds),
    )
    clock = clock or SystemClock()

    def uow_factory() -> SqlIntakeUnitOfWork:
        return SqlIntakeUnitOfWork(kit.sessions, kit.outbox)

    # The phone channel: calls from the CTI topic and webhook, timeouts, screen-pops.
    kit.publishes.append(topics.INTAKE_CALLS)
    call_rules = CallRules(
        region=settings.default_phone_region,
        timeout=timedelta(seconds=settings.call_timeout_seconds),
        callback_on_missed=settings.callback_on_missed,
    )
    screen_pops = PgScreenPopHub(settings.database_url)

    async def call_timeouts(now: datetime) -> int:
        return await close_overdue_calls(
            uow=uow_factory(), rules=call_rules, now=now, limit=CALL_TIMEOUT_BATCH
        )

    call_timeout_job = PeriodicJob(
        name="intake.call_timeouts",
        tick=call_timeouts,
        clock=clock,
        interval=settings.call_timeout_check_seconds,
    )
    consumers.register(
        kit.consumers,
        uow_factory=uow_factory,
        clock=clock,
        call_rules=call_rules,
        phone_region=settings.default_phone_region,
    )
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
        phone_region=settings.default_phone_region,
    )
    customers = customers_http.router(
        uow_factory=uow_factory,
        auth=kit.auth,
        clock=clock,
        phone_region=settings.default_phone_region,
    )
    phone = cti_http.router(
        uow_factory=uow_factory,
        auth=kit.auth,
        clock=clock,
        rules=call_rules,
        hub=screen_pops,
        keepalive_seconds=settings.screen_pop_keepalive_seconds,
    )
    app = kit.http_app(
        routers=[router, customers, phone],
        errors=ERRORS,
        description="Intake: inbound requests, customer identification, accounts and contacts, "
        "the phone channel (CTI webhook, screen-pops).",
        on_startup=[screen_pops.start, call_timeout_job.start],
        on_shutdown=[call_timeout_job.stop, screen_pops.stop],
    )
    # At hand for operations and tests, which run single passes with a clock they move, and
    # start the hub when they serve the app without its lifespan.
    app.fastapi.state.call_timeouts = call_timeout_job
    app.fastapi.state.screen_pops = screen_pops
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
