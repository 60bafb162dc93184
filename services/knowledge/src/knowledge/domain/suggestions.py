"""Suggesting articles for a case: the terms to look for, and which matches to propose."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from knowledge.domain.article import Article
from knowledge.domain.events import ArticlesSuggested, Suggestion

MAX_SUGGESTIONS = 3


@dataclass(frozen=True)
class Match:
    """An article found by a search, with its relevance (higher is better)."""

    article: Article
    score: float


def suggest_articles(
    *, case_id: UUID, matches: Sequence[Match], now: datetime, limit: int = MAX_SUGGESTIONS
) -> ArticlesSuggested | None:
    """The best published matches for a case, or None when there is none to propose."""
    best = sorted(
        (m for m in matches if m.article.is_published),
        key=lambda m: (-m.score, m.article.number),
    )[:limit]
    if not best:
        return None
    return ArticlesSuggested(
        occurred_at=now,
        case_id=case_id,
        suggestions=tuple(
            Suggestion(
                article_id=m.article.article_id,
                number=m.article.number,
                title=m.article.title,
                score=m.score,
            )
            for m in best
        ),
    )
