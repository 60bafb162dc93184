"""The composition root of the routing service: the one place real adapters are wired in."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from caseflow_contracts import topics
from caseflow_servicekit import Clock, Kit, ServiceApp, ServiceSettings, SystemClock, run_service
from caseflow_servicekit.cache import TtlCache
from routing.adapters.tables import metadata
from routing.adapters.uow import SqlRoutingUnitOfWork
from routing.app.errors import (
    NameTakenError,
    NotPermittedError,
    QueueItemNotFound,
    QueueNotFound,
)
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
from routing.entrypoints import consumers, http
from routing.settings import RoutingSettings

MIGRATIONS = Path(__file__).parent / "adapters" / "migrations"

ERRORS: dict[type[Exception], int] = {
    QueueNotFound: 404,
    QueueItemNotFound: 404,
    NotPermittedError: 403,
    NameTakenError: 409,
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
    kit.publishes.append(topics.ROUTING)
    clock = clock or SystemClock()

    # Queues and rules change rarely and every case needs them: kept for a few seconds.
    cache: TtlCache[Any] = TtlCache(5.0)

    def uow_factory() -> SqlRoutingUnitOfWork:
        return SqlRoutingUnitOfWork(kit.sessions, kit.outbox, cache=cache)

    consumers.register(kit.consumers, uow_factory=uow_factory, clock=clock)
    return kit.http_app(
        routers=[http.router(uow_factory=uow_factory, auth=kit.auth, clock=clock)],
        errors=ERRORS,
        description="Routing: queues, routing rules, queue items, pick, release and transfer.",
    )


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m routing`."""
    return run_service(
        service="routing",
        settings_factory=RoutingSettings,  # type: ignore[arg-type]
        app_factory=build,
        migrations=MIGRATIONS,
        argv=argv,
    )
