"""The composition root of the SLA service: the one place real adapters are wired in."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from caseflow_contracts import topics
from caseflow_servicekit import Clock, Kit, PeriodicJob, ServiceApp, clock_from, run_service
from sla.adapters.metrics import SlaMetrics
from sla.adapters.repository import ReferenceCache
from sla.adapters.tables import metadata
from sla.adapters.uow import SqlSlaUnitOfWork
from sla.app.handlers import (
    CalendarNameTaken,
    CalendarNotFound,
    CaseNotKnown,
    InvalidPeriodError,
    UnknownGroupError,
    next_check,
    tick_kpis,
)
from sla.app.policies import PolicyNameTaken, PolicyNotFound
from sla.domain import (
    InvalidCalendarError,
    InvalidPolicyError,
    InvalidTimeError,
    InvalidTransitionError,
    NoWorkingTimeError,
    SlaError,
)
from sla.entrypoints import consumers, http
from sla.settings import SlaSettings

MIGRATIONS = Path(__file__).parent / "adapters" / "migrations"

ERRORS: dict[type[Exception], int] = {
    CaseNotKnown: 404,
    CalendarNotFound: 404,
    CalendarNameTaken: 409,
    PolicyNotFound: 404,
    PolicyNameTaken: 409,
    InvalidCalendarError: 422,
    InvalidPolicyError: 422,
    InvalidTimeError: 422,
    InvalidPeriodError: 422,
    UnknownGroupError: 422,
    InvalidTransitionError: 409,
    NoWorkingTimeError: 422,
    SlaError: 400,
}


def build(
    settings: SlaSettings, *, clock: Clock | None = None, configure_process: bool = True
) -> ServiceApp:
    """The SLA service, wired."""
    kit = Kit(
        service="sla", settings=settings, metadata=metadata, configure_process=configure_process
    )
    clock = clock or clock_from(settings)
    kit.publishes.extend([topics.SLA, topics.INTAKE_NOTIFICATIONS])

    metrics = SlaMetrics.create(kit.registry)
    cache = ReferenceCache(settings.reference_cache_seconds)

    def uow_factory() -> SqlSlaUnitOfWork:
        return SqlSlaUnitOfWork(kit.sessions, kit.outbox, metrics=metrics, cache=cache)

    async def tick(now: datetime) -> int:
        return await tick_kpis(uow=uow_factory(), now=now, limit=settings.timer_batch_size)

    # Replicas may all run it: each batch claims its due KPIs with `FOR UPDATE SKIP LOCKED`,
    # and the events carry the moment a warning or breach fell due, however late the pass.
    async def due() -> datetime | None:
        return await next_check(uow=uow_factory())

    # After a pass the timer waits only until the next warning or deadline falls due (at most
    # the interval), so it fires about on time rather than up to an interval late.
    timer = PeriodicJob(
        name="sla.kpi_timer",
        tick=tick,
        clock=clock,
        interval=settings.timer_interval_seconds,
        next_due=due,
    )
    consumers.register(kit.consumers, uow_factory=uow_factory)
    app = kit.http_app(
        routers=[http.router(uow_factory=uow_factory, auth=kit.auth, clock=clock)],
        errors=ERRORS,
        description="SLA: policies, calendars, KPI instances and timers, compliance.",
        on_startup=[timer.start],
        on_shutdown=[timer.stop],
    )
    # At hand for operations and tests, which run single passes with a clock they move.
    app.fastapi.state.kpi_timer = timer
    return app


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m sla`."""
    return run_service(
        service="sla",
        settings_factory=SlaSettings,  # type: ignore[arg-type]
        app_factory=build,  # type: ignore[arg-type]
        migrations=MIGRATIONS,
        argv=argv,
    )
