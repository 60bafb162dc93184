"""What the knowledge use cases need from the outside world."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, Protocol, Self
from uuid import UUID

import caseflow_contracts as c
from knowledge.domain.article import Article, ArticleVersion
from knowledge.domain.events import KnowledgeEvent


class ArticleRepository(Protocol):
    """Where articles, their versions, links, views and feedback are kept."""

    async def next_sequence(self) -> int: ...
    async def add(self, article: Article, first: ArticleVersion) -> None: ...
    async def get(self, article_id: UUID, *, for_update: bool = False) -> Article | None: ...
    async def many(self, article_ids: Sequence[UUID]) -> list[Article]: ...
    async def by_number(self, number: str) -> Article | None: ...
    async def save(self, article: Article) -> None: ...
    async def translations(self, translation_group: UUID) -> list[Article]: ...
    async def version(
        self, article_id: UUID, version: int, *, for_update: bool = False
    ) -> ArticleVersion | None: ...
    async def versions(self, article_id: UUID) -> list[ArticleVersion]: ...
    async def add_version(self, article_id: UUID, version: ArticleVersion) -> None: ...
    async def save_version(self, article_id: UUID, version: ArticleVersion) -> None: ...
    async def set_embedding(self, article_id: UUID, embedding: Sequence[float] | None) -> None: ...
    async def link(
        self, *, case_id: UUID, article_id: UUID, linked_by: UUID | None, at: datetime
    ) -> bool: ...
    async def count(self, article_id: UUID, figure: str) -> None: ...
    async def add_feedback(
        self,
        *,
        feedback_id: UUID,
        article_id: UUID,
        version: int,
        helpful: bool,
        comment: str | None,
        given_by: str | None,
        case_id: UUID | None,
        at: datetime,
    ) -> None: ...


class CaseContexts(Protocol):
    """What knowledge keeps of cases, their customers' languages and their suggestions."""

    async def remember_case(
        self,
        *,
        case_id: UUID,
        number: str,
        contact_id: UUID,
        interaction_id: UUID | None,
        subject: str,
        at: datetime,
    ) -> None: ...
    async def case(self, case_id: UUID, *, for_update: bool = False) -> dict[str, Any] | None: ...
    async def change_subject(self, case_id: UUID, subject: str) -> bool: ...
    async def learn_contact_language(
        self, contact_id: UUID, language: str | None, version: int
    ) -> list[UUID]: ...
    async def learn_interaction_language(
        self, interaction_id: UUID, language: str
    ) -> list[UUID]: ...
    async def replace_suggestions(
        self,
        case_id: UUID,
        suggested: Sequence[tuple[UUID, float]],
        *,
        language: str | None,
        at: datetime,
    ) -> None: ...
    async def judge(
        self, case_id: UUID, article_id: UUID, *, verdict: str, by: str | None, at: datetime
    ) -> bool: ...


class ArticleSearch(Protocol):
    """Finds published articles."""

    async def similar(
        self, text: str, *, language: str | None, limit: int
    ) -> list[tuple[UUID, float]]: ...


class TextEmbedder(Protocol):
    """Turns texts into sentence embeddings (unit vectors)."""

    @property
    def dimensions(self) -> int: ...
    def encode(self, texts: Sequence[str]) -> list[list[float]]: ...


class KnowledgeUnitOfWork(Protocol):
    """One transaction over articles, cases and the events their changes imply."""

    @property
    def articles(self) -> ArticleRepository: ...
    @property
    def cases(self) -> CaseContexts: ...
    @property
    def search(self) -> ArticleSearch: ...

    async def __aenter__(self) -> Self: ...
    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...
    def emit(self, events: Iterable[KnowledgeEvent]) -> None: ...
    def request(self, notification: c.NotificationRequested) -> None: ...
    async def commit(self) -> None: ...
