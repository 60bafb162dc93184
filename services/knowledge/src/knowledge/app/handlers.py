"""Use cases of the knowledge service: load, decide in the domain, record, commit."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

import caseflow_contracts as c
from knowledge.app.ports import KnowledgeUnitOfWork, TextEmbedder
from knowledge.domain.article import (
    Article,
    ArticleVersion,
    Content,
    draft_article,
    nearest_translation,
    normalize_language,
)
from knowledge.domain.errors import (
    ArticleStateError,
    KnowledgeValidationError,
    UnknownArticle,
    UnknownCase,
)
from knowledge.domain.events import ArticleSent, ArticlesSuggested
from knowledge.domain.numbers import format_article_number
from knowledge.domain.suggestions import MAX_SUGGESTIONS, Match, suggest_articles


@dataclass(frozen=True)
class Linked:
    """The article linked, and whether this request made the link (False: it existed)."""

    article: Article
    created: bool


@dataclass(frozen=True, kw_only=True)
class Given:
    """Feedback recorded on the version of an article readers saw."""

    feedback_id: UUID
    version: int
    helpful: bool
    comment: str | None
    given_by: str | None
    case_id: UUID | None
    given_at: datetime


@dataclass(frozen=True)
class Sent:
    """The translation sent to a case's customer, and the notification that carries it."""

    article: Article
    notification_id: UUID
    language: str


async def draft(
    content: Content,
    *,
    language: str,
    author: str | None,
    uow: KnowledgeUnitOfWork,
    now: datetime,
    translation_of: UUID | None = None,
    new_id: Callable[[], UUID] = uuid4,
) -> Article:
    """Write a new article, version 1 a draft, with the next article number; as a translation
    of another article when `translation_of` names it."""
    async with uow:
        group = None
        if translation_of is not None:
            original = await _article(uow, translation_of, for_update=False)
            group = original.translation_group
            tag = normalize_language(language)
            taken = await uow.articles.translations(group)
            if any(a.language.casefold() == tag.casefold() for a in taken):
                raise ArticleStateError(
                    f"article {original.number} already has a translation in {tag}"
                )
        number = format_article_number(await uow.articles.next_sequence())
        article, first = draft_article(
            article_id=new_id(),
            number=number,
            language=language,
            content=content,
            now=now,
            author=author,
            translation_group=group,
        )
        await uow.articles.add(article, first)
        await uow.commit()
    return article


async def edit(
    article_id: UUID,
    changes: dict[str, Any],
    *,
    revision: int,
    author: str | None,
    uow: KnowledgeUnitOfWork,
    now: datetime,
) -> tuple[Article, ArticleVersion]:
    """Change an article's content as of `revision`: its draft in place, or a new draft
    version of a published article."""
    async with uow:
        article = await _article(uow, article_id)
        article.require_revision(revision)
        latest = await _latest(uow, article)
        edited, events = article.edit(latest, changes, author=author, now=now)
        if edited is latest:
            await uow.articles.save_version(article_id, edited)
        else:
            await uow.articles.add_version(article_id, edited)
        await uow.articles.save(article)
        uow.emit(events)
        await uow.commit()
    return article, edited


async def submit(
    article_id: UUID, *, revision: int | None, uow: KnowledgeUnitOfWork, now: datetime
) -> Article:
    """Put an article's latest version up for review."""
    async with uow:
        article = await _article(uow, article_id)
        if revision is not None:
            article.require_revision(revision)
        latest = await _latest(uow, article)
        uow.emit(article.submit(latest, now=now))
        await uow.articles.save_version(article_id, latest)
        await uow.articles.save(article)
        await uow.commit()
    return article


async def approve(
    article_id: UUID,
    *,
    reviewer: str | None,
    note: str | None,
    revision: int | None,
    uow: KnowledgeUnitOfWork,
    now: datetime,
    embedder: TextEmbedder | None = None,
) -> Article:
    """Publish an article's latest version; the one published before is superseded."""
    async with uow:
        article = await _article(uow, article_id)
        if revision is not None:
            article.require_revision(revision)
        latest = await _latest(uow, article)
        published = await _published(uow, article, latest)
        events = article.approve(latest, published=published, reviewer=reviewer, now=now, note=note)
        await _save_published(uow, article, latest, published, embedder=embedder)
        uow.emit(events)
        await uow.commit()
    return article


async def reject(
    article_id: UUID,
    *,
    reviewer: str | None,
    note: str | None,
    uow: KnowledgeUnitOfWork,
    now: datetime,
) -> Article:
    """Send the version in review back to its author, with why."""
    async with uow:
        article = await _article(uow, article_id)
        latest = await _latest(uow, article)
        uow.emit(article.reject(latest, reviewer=reviewer, note=note, now=now))
        await uow.articles.save_version(article_id, latest)
        await uow.articles.save(article)
        await uow.commit()
    return article


async def archive(
    article_id: UUID, *, by: str | None, uow: KnowledgeUnitOfWork, now: datetime
) -> Article:
    """Take an article out of readers' sight."""
    async with uow:
        article = await _article(uow, article_id)
        uow.emit(article.archive(by=by, now=now))
        await uow.articles.save(article)
        await uow.commit()
    return article


async def restore(article_id: UUID, *, uow: KnowledgeUnitOfWork, now: datetime) -> Article:
    """Bring an archived article back."""
    async with uow:
        article = await _article(uow, article_id)
        latest = await _latest(uow, article)
        uow.emit(article.restore(latest, now=now))
        await uow.articles.save(article)
        await uow.commit()
    return article


async def roll_back(
    article_id: UUID,
    version: int,
    *,
    reviewer: str | None,
    uow: KnowledgeUnitOfWork,
    now: datetime,
    embedder: TextEmbedder | None = None,
) -> tuple[Article, ArticleVersion]:
    """Publish an earlier version's content again, as a new version."""
    async with uow:
        article = await _article(uow, article_id)
        target = await uow.articles.version(article_id, version)
        if target is None:
            raise UnknownArticle(f"Article {article.number} has no version {version}.")
        latest = await _latest(uow, article)
        published = await _published(uow, article, latest)
        again, events = article.roll_back(
            target, latest=latest, published=published, reviewer=reviewer, now=now
        )
        if latest is not published:
            await uow.articles.save_version(article_id, latest)
        await uow.articles.add_version(article_id, again)
        await _save_published(uow, article, again, published, embedder=embedder, new=True)
        uow.emit(events)
        await uow.commit()
    return article, again


async def link_to_case(
    case_id: UUID,
    article_id: UUID,
    *,
    linked_by: UUID | None,
    uow: KnowledgeUnitOfWork,
    now: datetime,
) -> Linked:
    """Link a published article to a case once; linking it again changes nothing."""
    async with uow:
        article = await _article(uow, article_id, for_update=False)
        created = await _link(uow, article, case_id=case_id, linked_by=linked_by, now=now)
        await uow.commit()
    return Linked(article, created)


async def send_to_case(
    case_id: UUID,
    article_id: UUID,
    *,
    sent_by: UUID | None,
    text: str | None,
    uow: KnowledgeUnitOfWork,
    now: datetime,
    as_text: Callable[[str], str],
    new_id: Callable[[], UUID] = uuid4,
) -> Sent:
    """Send a public article to a case's customer, in their language or the nearest
    translation: linked to the case, and a notification requested of intake."""
    async with uow:
        chosen = await _article(uow, article_id, for_update=False)
        if not chosen.can_be_sent:
            raise ArticleStateError(
                f"article {chosen.number} is not a published public article; "
                "only those are sent to customers"
            )
        known = await uow.cases.case(case_id)
        if known is None:
            raise UnknownCase(f"The knowledge base has not heard of case {case_id} yet.")
        language = known["language"]
        group = await uow.articles.translations(chosen.translation_group)
        article = nearest_translation(group, language) or chosen
        await _link(uow, chosen, case_id=case_id, linked_by=sent_by, now=now)
        notification_id = new_id()
        parameters = {
            "number": known["number"],
            "title": article.title,
            "article_number": article.number,
            "body": as_text(article.body),
        }
        if text:
            parameters["text"] = text
        uow.request(
            c.NotificationRequested(
                occurred_at=now,
                notification_id=notification_id,
                recipient=c.Recipient(kind=c.RecipientKind.CONTACT, id=known["contact_id"]),
                template="article.sent",
                language=article.language,
                case_id=case_id,
                parameters=parameters,
                attachments=[
                    c.AttachmentRef(
                        attachment_id=a.attachment_id,
                        filename=a.filename,
                        content_type=a.content_type,
                        size=a.size,
                        sha256=a.sha256,
                    )
                    for a in article.content.attachments
                ],
            )
        )
        uow.emit(
            [
                ArticleSent(
                    occurred_at=now,
                    case_id=case_id,
                    article_id=article.article_id,
                    number=article.number,
                    version=article.version,
                    language=article.language,
                    contact_id=known["contact_id"],
                    notification_id=notification_id,
                    sent_by=sent_by,
                )
            ]
        )
        await uow.articles.count(article.article_id, "sent")
        await uow.commit()
    return Sent(article, notification_id, article.language)


async def give_feedback(
    article_id: UUID,
    *,
    helpful: bool,
    comment: str | None,
    given_by: str | None,
    case_id: UUID | None,
    uow: KnowledgeUnitOfWork,
    now: datetime,
    new_id: Callable[[], UUID] = uuid4,
) -> Given:
    """Record whether a published article helped, with an optional comment."""
    async with uow:
        article = await _article(uow, article_id, for_update=False)
        if not article.is_published:
            raise ArticleStateError(f"article {article.number} is {article.status}, not published")
        given = Given(
            feedback_id=new_id(),
            version=article.version,
            helpful=helpful,
            comment=(comment or "").strip() or None,
            given_by=given_by,
            case_id=case_id,
            given_at=now,
        )
        await uow.articles.add_feedback(
            feedback_id=given.feedback_id,
            article_id=article_id,
            version=given.version,
            helpful=helpful,
            comment=given.comment,
            given_by=given_by,
            case_id=case_id,
            at=now,
        )
        await uow.commit()
    return given


async def case_opened(
    event: c.CaseOpened, *, uow: KnowledgeUnitOfWork, now: datetime
) -> ArticlesSuggested | None:
    """Keep what the suggestions and sending need of a new case, and suggest articles."""
    async with uow:
        await uow.cases.remember_case(
            case_id=event.case_id,
            number=event.number,
            contact_id=event.contact_id,
            interaction_id=event.interaction_id,
            subject=event.subject,
            at=event.occurred_at,
        )
        suggested = await _suggest(uow, await _known(uow, event.case_id), now=now)
        await uow.commit()
    return suggested


async def subject_changed(
    case_id: UUID, subject: str, *, uow: KnowledgeUnitOfWork, now: datetime
) -> ArticlesSuggested | None:
    """Suggest again for a case whose subject changed."""
    async with uow:
        if not await uow.cases.change_subject(case_id, subject):
            return None
        suggested = await _suggest(uow, await _known(uow, case_id), now=now)
        await uow.commit()
    return suggested


async def language_learnt(
    *,
    uow: KnowledgeUnitOfWork,
    now: datetime,
    contact: tuple[UUID, str | None, int] | None = None,
    interaction: tuple[UUID, str] | None = None,
) -> int:
    """Keep a customer's or a request's language; suggest again, in it, for the cases whose
    suggestions were chosen in another. How many cases were suggested for again."""
    async with uow:
        if contact is not None:
            cases = await uow.cases.learn_contact_language(*contact)
        elif interaction is not None:
            cases = await uow.cases.learn_interaction_language(*interaction)
        else:
            return 0
        again = 0
        for case_id in cases:
            known = await uow.cases.case(case_id, for_update=True)
            if known is not None and (known["suggested_in"] or None) != known["language"]:
                await _suggest(uow, known, now=now)
                again += 1
        await uow.commit()
    return again


async def judge_suggestion(
    case_id: UUID,
    article_id: UUID,
    *,
    verdict: str,
    by: str | None,
    uow: KnowledgeUnitOfWork,
    now: datetime,
) -> None:
    """Record whether an article suggested for a case was used or not useful."""
    if verdict not in ("used", "not_useful"):
        raise KnowledgeValidationError("a verdict is 'used' or 'not_useful'")
    async with uow:
        if not await uow.cases.judge(case_id, article_id, verdict=verdict, by=by, at=now):
            raise UnknownArticle(f"Article {article_id} was not suggested for case {case_id}.")
        await uow.commit()


async def _suggest(
    uow: KnowledgeUnitOfWork, known: dict[str, Any], *, now: datetime
) -> ArticlesSuggested | None:
    """Store (and publish) the best articles for a case as knowledge knows it, in its
    customer's language."""
    case_id, language = known["case_id"], known["language"]
    found = await uow.search.similar(known["subject"], language=language, limit=MAX_SUGGESTIONS)
    articles = {a.article_id: a for a in await uow.articles.many([i for i, _ in found])}
    matches = [Match(articles[i], score) for i, score in found if i in articles]
    suggested = suggest_articles(case_id=case_id, matches=matches, now=now)
    best = [] if suggested is None else suggested.suggestions
    await uow.cases.replace_suggestions(
        case_id, [(s.article_id, s.score) for s in best], language=language, at=now
    )
    if suggested is not None:
        uow.emit([suggested])
    return suggested


async def _known(uow: KnowledgeUnitOfWork, case_id: UUID) -> dict[str, Any]:
    known = await uow.cases.case(case_id)
    assert known is not None, f"case {case_id} was just kept"
    return known


async def _link(
    uow: KnowledgeUnitOfWork,
    article: Article,
    *,
    case_id: UUID,
    linked_by: UUID | None,
    now: datetime,
) -> bool:
    events = article.link_to_case(case_id=case_id, linked_by=linked_by, now=now)
    created = await uow.articles.link(
        case_id=case_id, article_id=article.article_id, linked_by=linked_by, at=now
    )
    if created:
        uow.emit(events)
    return created


async def _save_published(
    uow: KnowledgeUnitOfWork,
    article: Article,
    version: ArticleVersion,
    published: ArticleVersion | None,
    *,
    embedder: TextEmbedder | None,
    new: bool = False,
) -> None:
    if not new:
        await uow.articles.save_version(article.article_id, version)
    if published is not None and published is not version:
        await uow.articles.save_version(article.article_id, published)
    await uow.articles.save(article)
    vector = None
    if embedder is not None:
        texts = [f"{article.title}\n{article.body}"]
        vector = (await asyncio.to_thread(embedder.encode, texts))[0]
    await uow.articles.set_embedding(article.article_id, vector)


async def _published(
    uow: KnowledgeUnitOfWork, article: Article, latest: ArticleVersion
) -> ArticleVersion | None:
    if article.published_version is None:
        return None
    if article.published_version == latest.version:
        return latest
    return await uow.articles.version(
        article.article_id, article.published_version, for_update=True
    )


async def _latest(uow: KnowledgeUnitOfWork, article: Article) -> ArticleVersion:
    latest = await uow.articles.version(article.article_id, article.latest_version, for_update=True)
    assert latest is not None, f"{article.number} lacks its version {article.latest_version}"
    return latest


async def _article(
    uow: KnowledgeUnitOfWork, article_id: UUID, *, for_update: bool = True
) -> Article:
    article = await uow.articles.get(article_id, for_update=for_update)
    if article is None:
        raise UnknownArticle(f"There is no article {article_id}.")
    return article
