"""Use cases of the knowledge service: load, decide in the domain, record, commit."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID, uuid4

from knowledge.app.ports import KnowledgeUnitOfWork
from knowledge.domain.article import Article, draft_article
from knowledge.domain.errors import UnknownArticle
from knowledge.domain.events import ArticlesSuggested
from knowledge.domain.numbers import format_article_number
from knowledge.domain.suggestions import MAX_SUGGESTIONS, search_terms, suggest_articles


@dataclass(frozen=True, kw_only=True)
class DraftArticle:
    """Write a new article, not yet visible to agents."""

    title: str
    body: str
    language: str = "en"
    keywords: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True, kw_only=True)
class PublishArticle:
    """Make a draft visible to agents."""

    article_id: UUID


@dataclass(frozen=True, kw_only=True)
class LinkArticle:
    """Link a published article to a case."""

    case_id: UUID
    article_id: UUID
    linked_by: UUID | None = None


@dataclass(frozen=True)
class Linked:
    """The article linked, and whether this request made the link (False: it existed)."""

    article: Article
    created: bool


@dataclass(frozen=True, kw_only=True)
class SuggestForCase:
    """A case was opened; propose the articles that match its subject."""

    case_id: UUID
    subject: str


async def draft(
    cmd: DraftArticle,
    *,
    uow: KnowledgeUnitOfWork,
    now: datetime,
    new_id: Callable[[], UUID] = uuid4,
) -> Article:
    """Create a draft article with the next article number."""
    async with uow:
        number = format_article_number(await uow.articles.next_sequence())
        article = draft_article(
            article_id=new_id(),
            number=number,
            title=cmd.title,
            body=cmd.body,
            language=cmd.language,
            keywords=cmd.keywords,
            now=now,
        )
        await uow.articles.add(article)
        await uow.commit()
    return article


async def publish(cmd: PublishArticle, *, uow: KnowledgeUnitOfWork, now: datetime) -> Article:
    """Publish a draft so agents can find it."""
    async with uow:
        article = await _article(uow, cmd.article_id)
        events = article.publish(now=now)
        await uow.articles.save(article)
        uow.emit(events)
        await uow.commit()
    return article


async def link_to_case(cmd: LinkArticle, *, uow: KnowledgeUnitOfWork, now: datetime) -> Linked:
    """Link a published article to a case once; linking it again changes nothing."""
    async with uow:
        article = await _article(uow, cmd.article_id, for_update=False)
        events = article.link_to_case(case_id=cmd.case_id, linked_by=cmd.linked_by, now=now)
        created = await uow.articles.link(
            case_id=cmd.case_id, article_id=article.article_id, linked_by=cmd.linked_by, at=now
        )
        if created:
            uow.emit(events)
            await uow.commit()
    return Linked(article, created)


async def suggest_for_case(
    cmd: SuggestForCase, *, uow: KnowledgeUnitOfWork, now: datetime
) -> ArticlesSuggested | None:
    """Propose up to three published articles matching the case's subject, if any match."""
    async with uow:
        terms = search_terms(cmd.subject)
        matches = await uow.articles.matching_any(terms, limit=MAX_SUGGESTIONS) if terms else []
        suggested = suggest_articles(case_id=cmd.case_id, matches=matches, now=now)
        if suggested is not None:
            uow.emit([suggested])
            await uow.commit()
    return suggested


async def _article(
    uow: KnowledgeUnitOfWork, article_id: UUID, *, for_update: bool = True
) -> Article:
    article = await uow.articles.get(article_id, for_update=for_update)
    if article is None:
        raise UnknownArticle(f"There is no article {article_id}.")
    return article
