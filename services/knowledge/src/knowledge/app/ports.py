"""What the knowledge use cases need from the outside world."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self
from uuid import UUID

from knowledge.domain.article import Article
from knowledge.domain.events import KnowledgeEvent
from knowledge.domain.suggestions import Match


class ArticleRepository(Protocol):
    """Where articles and their links to cases are kept, and searched."""

    async def next_sequence(self) -> int: ...
    async def add(self, article: Article) -> None: ...
    async def get(self, article_id: UUID, *, for_update: bool = False) -> Article | None: ...
    async def save(self, article: Article) -> None: ...
    async def search(self, text: str, *, limit: int) -> list[Match]: ...
    async def matching_any(self, terms: Sequence[str], *, limit: int) -> list[Match]: ...
    async def link(
        self, *, case_id: UUID, article_id: UUID, linked_by: UUID | None, at: datetime
    ) -> bool: ...


class KnowledgeUnitOfWork(Protocol):
    """One transaction over articles and the events their changes imply."""

    @property
    def articles(self) -> ArticleRepository: ...

    async def __aenter__(self) -> Self: ...
    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...
    def emit(self, events: Iterable[KnowledgeEvent]) -> None: ...
    async def commit(self) -> None: ...
