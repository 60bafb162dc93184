"""What happened to articles: the domain events the knowledge commands return.

Each event is a frozen, keyword-only dataclass named in the past tense; adapters turn them
into the published contracts of ``knowledge.article.v1``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID


@dataclass(frozen=True, kw_only=True)
class KnowledgeEvent:
    """Something that happened in the knowledge base at one moment."""

    occurred_at: datetime


@dataclass(frozen=True, kw_only=True)
class ArticlePublished(KnowledgeEvent):
    """A version of an article became visible to agents."""

    article_id: UUID
    number: str
    version: int
    title: str
    language: str
    keywords: tuple[str, ...]
    translation_group: UUID | None = None
    public: bool = False
    category: str | None = None


@dataclass(frozen=True, kw_only=True)
class ArticleVersioned(KnowledgeEvent):
    """A new version of an article was written, as a draft."""

    article_id: UUID
    number: str
    version: int
    based_on: int | None
    author: str | None


@dataclass(frozen=True, kw_only=True)
class ArticleArchived(KnowledgeEvent):
    """An article was taken out of readers' sight."""

    article_id: UUID
    number: str
    archived_by: str | None


@dataclass(frozen=True, kw_only=True)
class ArticleSent(KnowledgeEvent):
    """An article was sent to a case's customer, in one language."""

    case_id: UUID
    article_id: UUID
    number: str
    version: int
    language: str
    contact_id: UUID
    notification_id: UUID
    sent_by: UUID | None


@dataclass(frozen=True, kw_only=True)
class ArticleLinked(KnowledgeEvent):
    """An article was linked to a case."""

    case_id: UUID
    article_id: UUID
    number: str
    linked_by: UUID | None


@dataclass(frozen=True, kw_only=True)
class Suggestion:
    """One article proposed for a case, with how well it matched."""

    article_id: UUID
    number: str
    title: str
    score: float


@dataclass(frozen=True, kw_only=True)
class ArticlesSuggested(KnowledgeEvent):
    """Articles were proposed for a case, best first."""

    case_id: UUID
    suggestions: tuple[Suggestion, ...]
