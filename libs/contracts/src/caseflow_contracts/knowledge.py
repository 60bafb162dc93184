"""Events owned by knowledge, published on ``knowledge.article.v1``.

``ArticlePublished`` is keyed by ``article_id``; the events about a case by ``case_id``.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal
from uuid import UUID

from pydantic import Field

from caseflow_contracts.base import Event
from caseflow_contracts.values import ArticleNumber, ArticleSuggestion


class ArticlePublished(Event):
    """A version of a knowledge article was published in one language."""

    key_field: ClassVar[str] = "article_id"

    type: Literal["article.published"] = "article.published"
    article_id: UUID
    number: ArticleNumber
    version: Annotated[int, Field(ge=1)]
    title: str
    language: str
    keywords: list[str] = Field(default_factory=list)


class ArticlesSuggested(Event):
    """Knowledge articles were proposed for a case, best first."""

    key_field: ClassVar[str] = "case_id"

    type: Literal["articles.suggested"] = "articles.suggested"
    case_id: UUID
    suggestions: list[ArticleSuggestion]


class ArticleLinked(Event):
    """A knowledge article was linked to a case."""

    key_field: ClassVar[str] = "case_id"

    type: Literal["article.linked"] = "article.linked"
    case_id: UUID
    article_id: UUID
    number: ArticleNumber
    linked_by: UUID | None = None
