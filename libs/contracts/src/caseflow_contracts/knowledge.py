"""Events owned by knowledge, published on ``knowledge.article.v1``.

The events about one article (published, versioned, archived) are keyed by ``article_id``;
the events about a case (suggested, linked, sent) by ``case_id``.
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
    translation_group: UUID | None = None
    """The articles that are this one in other languages share it."""
    public: bool = False
    """The article may be sent to customers."""
    category: str | None = None
    """Its place in the subject tree, such as ``Printers/Toner``."""


class ArticleVersioned(Event):
    """A new version of an article's content was written, as a draft."""

    key_field: ClassVar[str] = "article_id"

    type: Literal["article.versioned"] = "article.versioned"
    article_id: UUID
    number: ArticleNumber
    version: Annotated[int, Field(ge=1)]
    based_on: int | None = None
    """The version it was written from (a rollback's: the version it brings back)."""
    author: str | None = None


class ArticleArchived(Event):
    """An article was taken out of readers' sight; its versions are kept."""

    key_field: ClassVar[str] = "article_id"

    type: Literal["article.archived"] = "article.archived"
    article_id: UUID
    number: ArticleNumber
    archived_by: str | None = None


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


class ArticleSent(Event):
    """An article was sent to a case's customer; intake delivers it (`notification_id`)."""

    key_field: ClassVar[str] = "case_id"

    type: Literal["article.sent"] = "article.sent"
    case_id: UUID
    article_id: UUID
    """The translation that was sent."""
    number: ArticleNumber
    version: Annotated[int, Field(ge=1)]
    language: str
    contact_id: UUID
    notification_id: UUID
    sent_by: UUID | None = None
