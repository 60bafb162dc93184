"""The composition root of the knowledge service: the one place real adapters are wired in."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from caseflow_contracts import topics
from caseflow_servicekit import Clock, Kit, ServiceApp, ServiceSettings, clock_from, run_service
from knowledge.adapters.embeddings import load_embedder
from knowledge.adapters.tables import metadata
from knowledge.adapters.uow import SqlKnowledgeUnitOfWork
from knowledge.domain.errors import (
    ArticleStateError,
    KnowledgeError,
    KnowledgeValidationError,
    StaleRevisionError,
    UnknownArticle,
    UnknownCase,
)
from knowledge.entrypoints import consumers, http
from knowledge.settings import KnowledgeSettings

MIGRATIONS = Path(__file__).parent / "adapters" / "migrations"

ERRORS: dict[type[Exception], int] = {
    StaleRevisionError: 412,
    UnknownArticle: 404,
    UnknownCase: 404,
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
    kit.publishes.extend([topics.KNOWLEDGE, topics.INTAKE_NOTIFICATIONS])
    clock = clock or clock_from(settings)
    embedder = load_embedder() if getattr(settings, "semantic", "auto") == "auto" else None

    def uow_factory() -> SqlKnowledgeUnitOfWork:
        return SqlKnowledgeUnitOfWork(kit.sessions, kit.outbox, embedder=embedder)

    consumers.register(kit.consumers, uow_factory=uow_factory, clock=clock)
    return kit.http_app(
        routers=[
            http.router(uow_factory=uow_factory, auth=kit.auth, clock=clock, embedder=embedder)
        ],
        errors=ERRORS,
        description="Knowledge: the article lifecycle with versions and translations, search in "
        "five languages, suggestions for cases, sending to customers, and feedback.",
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
