"""The composition root of the knowledge service: the one place real adapters are wired in."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from caseflow_contracts import topics
from caseflow_servicekit import Clock, Kit, ServiceApp, ServiceSettings, clock_from, run_service
from knowledge.adapters.tables import metadata
from knowledge.adapters.uow import SqlKnowledgeUnitOfWork
from knowledge.domain.errors import (
    ArticleStateError,
    KnowledgeError,
    KnowledgeValidationError,
    UnknownArticle,
)
from knowledge.entrypoints import consumers, http
from knowledge.settings import KnowledgeSettings

MIGRATIONS = Path(__file__).parent / "adapters" / "migrations"

ERRORS: dict[type[Exception], int] = {
    UnknownArticle: 404,
    KnowledgeValidationError: 422,
    ArticleStateError: 409,
    KnowledgeError: 400,
}


def build(
    settings: ServiceSettings, *, clock: Clock | None = None, configure_process: bool = True
) -> ServiceApp:
    """The knowledge service, wired."""
    kit = Kit(
        service="knowledge",
        settings=settings,
        metadata=metadata,
        configure_process=configure_process,
    )
    kit.publishes.append(topics.KNOWLEDGE)
    clock = clock or clock_from(settings)

    def uow_factory() -> SqlKnowledgeUnitOfWork:
        return SqlKnowledgeUnitOfWork(kit.sessions, kit.outbox)

    consumers.register(kit.consumers, uow_factory=uow_factory, clock=clock)
    return kit.http_app(
        routers=[http.router(uow_factory=uow_factory, auth=kit.auth, clock=clock)],
        errors=ERRORS,
        description="Knowledge: article lifecycle, full-text search, suggestions and case links.",
    )


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m knowledge`."""
    return run_service(
        service="knowledge",
        settings_factory=KnowledgeSettings,  # type: ignore[arg-type]
        app_factory=build,
        migrations=MIGRATIONS,
        argv=argv,
    )
