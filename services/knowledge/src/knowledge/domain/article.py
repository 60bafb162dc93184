"""Knowledge articles: written as drafts, published for agents, linked to cases.

Commands change the article and return the events that describe the change.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from knowledge.domain.errors import ArticleStateError, KnowledgeValidationError
from knowledge.domain.events import ArticleLinked, ArticlePublished, KnowledgeEvent

MAX_TITLE_LENGTH = 300
MAX_BODY_LENGTH = 200_000
MAX_KEYWORDS = 20
MAX_KEYWORD_LENGTH = 100
# A BCP 47 tag, loosely: a primary language and optional subtags ("en", "en-GB", "pt-BR").
_LANGUAGE = re.compile(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*")


class ArticleStatus(StrEnum):
    """Where an article stands in its lifecycle."""

    DRAFT = "draft"
    PUBLISHED = "published"
    ARCHIVED = "archived"


@dataclass(eq=False, kw_only=True)
class Article:
    """A piece of knowledge that helps agents resolve cases."""

    article_id: UUID
    number: str
    title: str
    body: str
    language: str
    keywords: tuple[str, ...]
    status: ArticleStatus
    version: int
    created_at: datetime
    published_at: datetime | None = None

    @property
    def is_published(self) -> bool:
        """Whether agents can find and use the article."""
        return self.status is ArticleStatus.PUBLISHED

    def publish(self, *, now: datetime) -> list[KnowledgeEvent]:
        """Make the draft visible to agents."""
        if self.status is not ArticleStatus.DRAFT:
            raise ArticleStateError(f"article {self.number} is {self.status}, not a draft")
        if not self.body.strip():
            raise KnowledgeValidationError(f"article {self.number} has no body to publish")
        _require_aware(now)
        self.status = ArticleStatus.PUBLISHED
        self.published_at = now
        return [
            ArticlePublished(
                occurred_at=now,
                article_id=self.article_id,
                number=self.number,
                version=self.version,
                title=self.title,
                language=self.language,
                keywords=self.keywords,
            )
        ]

    def link_to_case(
        self, *, case_id: UUID, linked_by: UUID | None, now: datetime
    ) -> list[KnowledgeEvent]:
        """Record that the article helps with a case."""
        if not self.is_published:
            raise ArticleStateError(
                f"article {self.number} is {self.status}; only published articles are linked"
            )
        _require_aware(now)
        return [
            ArticleLinked(
                occurred_at=now,
                case_id=case_id,
                article_id=self.article_id,
                number=self.number,
                linked_by=linked_by,
            )
        ]


def draft_article(
    *,
    article_id: UUID,
    number: str,
    title: str,
    body: str,
    language: str,
    keywords: tuple[str, ...] | list[str],
    now: datetime,
) -> Article:
    """A new draft, version 1, with its title, language and keywords tidied."""
    _require_aware(now)
    tidy_title = " ".join(title.split())
    if not tidy_title:
        raise KnowledgeValidationError("an article needs a title")
    if len(tidy_title) > MAX_TITLE_LENGTH:
        raise KnowledgeValidationError(f"a title has at most {MAX_TITLE_LENGTH} characters")
    if len(body) > MAX_BODY_LENGTH:
        raise KnowledgeValidationError(f"a body has at most {MAX_BODY_LENGTH} characters")
    return Article(
        article_id=article_id,
        number=number,
        title=tidy_title,
        body=body.strip(),
        language=normalize_language(language),
        keywords=tidy_keywords(keywords),
        status=ArticleStatus.DRAFT,
        version=1,
        created_at=now,
    )


def normalize_language(tag: str) -> str:
    """A language tag with a lower-case primary language: "EN-GB" becomes "en-GB"."""
    tag = tag.strip()
    if not _LANGUAGE.fullmatch(tag):
        raise KnowledgeValidationError(f"{tag!r} is not a language tag like 'en' or 'pt-BR'")
    primary, _, rest = tag.partition("-")
    return f"{primary.lower()}-{rest}" if rest else primary.lower()


def tidy_keywords(keywords: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """Keywords without blanks or repeats (ignoring case), in the order given."""
    seen: set[str] = set()
    tidy: list[str] = []
    for keyword in keywords:
        word = " ".join(keyword.split())
        if not word or word.casefold() in seen:
            continue
        if len(word) > MAX_KEYWORD_LENGTH:
            raise KnowledgeValidationError(f"a keyword has at most {MAX_KEYWORD_LENGTH} characters")
        seen.add(word.casefold())
        tidy.append(word)
    if len(tidy) > MAX_KEYWORDS:
        raise KnowledgeValidationError(f"an article has at most {MAX_KEYWORDS} keywords")
    return tuple(tidy)


def _require_aware(now: datetime) -> None:
    if now.tzinfo is None or now.utcoffset() is None:
        raise KnowledgeValidationError("now must carry a timezone")
