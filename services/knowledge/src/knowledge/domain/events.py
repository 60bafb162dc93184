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
