"""The composition root of the routing service: the one place real adapters are wired in."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Gauge

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
from caseflow_servicekit.cache import TtlCache
from routing.adapters.races import settled
from routing.adapters.tables import metadata
from routing.adapters.uow import SqlRoutingUnitOfWork
from routing.app.errors import (
    AgentExistsError,
    AgentNotFound,
    ExtensionTakenError,
    NameTakenError,
    NotPermittedError,
    QueueItemNotFound,
    QueueNotFound,
    QueueNotVisibleError,
    RuleNotFound,
    TeamNotFound,
    VersionConflictError,
)
from routing.app.upkeep import upkeep
from routing.domain import (
    AgentAtCapacityError,
    AgentUnavailableError,
    ItemAlreadyWorkedError,
    ItemNotWorkedError,
    QueueItemRemovedError,
    RoutingError,
    RoutingValidationError,
    SameQueueError,
)
from routing.entrypoints import consumers, directory_http, http
from routing.settings import RoutingSettings

MIGRATIONS = Path(__file__).parent / "adapters" / "migrations"

ERRORS: dict[type[Exception], int] = {
    QueueNotFound: 404,
    QueueItemNotFound: 404,
    AgentNotFound: 404,
    TeamNotFound: 404,
    RuleNotFound: 404,
    NotPermittedError: 403,
    QueueNotVisibleError: 403,
    NameTakenError: 409,
    AgentExistsError: 409,
    ExtensionTakenError: 409,
    VersionConflictError: 412,
    QueueItemRemovedError: 409,
    ItemAlreadyWorkedError: 409,
    ItemNotWorkedError: 409,
    SameQueueError: 409,
    AgentAtCapacityError: 409,
    AgentUnavailableError: 409,
    RoutingValidationError: 422,
    RoutingError: 400,
}


def build(
    settings: ServiceSettings, *, clock: Clock | None = None, configure_process: bool = True
) -> ServiceApp:
    """The routing service, wired."""
    kit = Kit(
        service="routing", settings=settings, metadata=metadata, configure_process=configure_process
    )
    kit.publishes.extend([topics.ROUTING, topics.ROUTING_AGENTS, topics.INTAKE_NOTIFICATIONS])
    clock = clock or clock_from(settings)
    gauges = QueueGauges(kit.metrics.registry)

    # Queues and rules change rarely and every case needs them: kept for a few seconds.
    cache: TtlCache[Any] = TtlCache(5.0)

    def uow_factory() -> SqlRoutingUnitOfWork:
        return SqlRoutingUnitOfWork(kit.sessions, kit.outbox, cache=cache)

    async def tick(now: datetime) -> int:
        done = await upkeep(uow_factory=uow_factory, now=now, settle=settled)
        async with uow_factory() as uow:
            gauges.update(await uow.queue_items.figures(now=now))
        return done

    job = PeriodicJob(
        name="routing.upkeep",
        tick=tick,
        clock=clock,
        interval=getattr(settings, "upkeep_seconds", 5.0),
    )
    consumers.register(kit.consumers, uow_factory=uow_factory, clock=clock)
    app = kit.http_app(
        routers=[
            http.router(uow_factory=uow_factory, auth=kit.auth, clock=clock),
            directory_http.router(uow_factory=uow_factory, auth=kit.auth, clock=clock),
        ],
        errors=ERRORS,
        description="Routing: the agent directory and teams, queues and their strategies, "
        "routing rules, assignment, overflow, pick, release and transfer.",
        on_startup=[job.start],
        on_shutdown=[job.stop],
    )
    # At hand for operations and tests, which run single passes.
    app.fastapi.state.upkeep = job
    return app


class QueueGauges:
    """Each queue's figures as Prometheus gauges, labelled by the queue's name."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.depth = Gauge(
            "caseflow_queue_depth", "Items waiting in the queue.", ["queue"], registry=registry
        )
        self.assigned = Gauge(
            "caseflow_queue_assigned",
            "Items of the queue agents work.",
            ["queue"],
            registry=registry,
        )
        self.oldest = Gauge(
            "caseflow_queue_oldest_waiting_seconds",
            "How long the queue's longest-waiting item has waited.",
            ["queue"],
            registry=registry,
        )
        self.at_risk = Gauge(
            "caseflow_queue_items_at_sla_risk",
            "Items of the queue whose case has a KPI nearing or past its deadline.",
            ["queue"],
            registry=registry,
        )

    def update(self, figures: list[dict[str, Any]]) -> None:
        for row in figures:
            name = str(row["name"])
            self.depth.labels(name).set(row["waiting"])
            self.assigned.labels(name).set(row["assigned"])
            self.oldest.labels(name).set(row["oldest_waiting_seconds"])
            self.at_risk.labels(name).set(row["at_sla_risk"])


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m routing`."""
    return run_service(
        service="routing",
        settings_factory=RoutingSettings,  # type: ignore[arg-type]
        app_factory=build,
        migrations=MIGRATIONS,
        argv=argv,
    )
