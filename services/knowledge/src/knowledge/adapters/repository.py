"""Articles in PostgreSQL: `SqlArticleRepository` keeps articles, their versions, their links
to cases and their feedback; `SqlCaseContexts` keeps what knowledge knows of cases, their
customers' languages, and the articles suggested for them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import and_, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from knowledge.adapters.tables import (
    article_feedback,
    article_links,
    article_number_seq,
    article_versions,
    articles,
    case_contexts,
    case_suggestions,
    contact_languages,
    interaction_languages,
)
from knowledge.domain.article import (
    Article,
    ArticleStatus,
    ArticleVersion,
    Attachment,
    Content,
    VersionState,
)


class SqlArticleRepository:
    """Loads and saves articles and their versions; records links, views and feedback."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def next_sequence(self) -> int:
        """The next article-number sequence value."""
        value = await self._session.scalar(select(article_number_seq.next_value()))
        assert value is not None
        return int(value)

    async def add(self, article: Article, first: ArticleVersion) -> None:
        """Insert a new article with its first version."""
        await self._session.execute(
            insert(articles).values(
                **_article_row(article),
                created_at=article.created_at,
                created_by=article.created_by,
                updated_at=func.now(),
            )
        )
        await self.add_version(article.article_id, first)

    async def save(self, article: Article) -> None:
        """Write a loaded article back."""
        await self._session.execute(
            update(articles)
            .where(articles.c.article_id == article.article_id)
            .values(**_article_row(article), updated_at=func.now())
        )

    async def get(self, article_id: UUID, *, for_update: bool = False) -> Article | None:
        """The article with `article_id`, or None."""
        stmt = select(*_COLUMNS, _PUBLISHED_VERSION).where(articles.c.article_id == article_id)
        if for_update:
            stmt = stmt.with_for_update(of=articles)
        row = (await self._session.execute(stmt)).mappings().first()
        return None if row is None else _article(row)

    async def many(self, article_ids: Sequence[UUID]) -> list[Article]:
        """The articles with these ids (those that exist), in no particular order."""
        if not article_ids:
            return []
        stmt = select(*_COLUMNS, _PUBLISHED_VERSION).where(
            articles.c.article_id.in_(list(article_ids))
        )
        return [_article(r) for r in (await self._session.execute(stmt)).mappings()]

    async def by_number(self, number: str) -> Article | None:
        """The article numbered `number`, or None."""
        stmt = select(*_COLUMNS, _PUBLISHED_VERSION).where(articles.c.number == number)
        row = (await self._session.execute(stmt)).mappings().first()
        return None if row is None else _article(row)

    async def due_for_review(self, on: date, *, limit: int, offset: int) -> list[Article]:
        """Published articles whose review date is `on` or before, the most overdue first."""
        stmt = (
            select(*_COLUMNS, _PUBLISHED_VERSION)
            .where(
                articles.c.status == ArticleStatus.PUBLISHED.value,
                articles.c.review_on <= on,
            )
            .order_by(articles.c.review_on, articles.c.number)
            .limit(limit)
            .offset(offset)
        )
        return [_article(r) for r in (await self._session.execute(stmt)).mappings()]

    async def translations(self, translation_group: UUID) -> list[Article]:
        """The articles of one translation group, the first written first."""
        stmt = (
            select(*_COLUMNS, _PUBLISHED_VERSION)
            .where(articles.c.translation_group == translation_group)
            .order_by(articles.c.created_at, articles.c.number)
        )
        return [_article(r) for r in (await self._session.execute(stmt)).mappings()]

    async def version(
        self, article_id: UUID, version: int, *, for_update: bool = False
    ) -> ArticleVersion | None:
        """One version of an article, or None."""
        stmt = select(article_versions).where(
            article_versions.c.article_id == article_id, article_versions.c.version == version
        )
        if for_update:
            stmt = stmt.with_for_update()
        row = (await self._session.execute(stmt)).mappings().first()
        return None if row is None else _version(row)

    async def versions(self, article_id: UUID) -> list[ArticleVersion]:
        """Every version of an article, oldest first."""
        stmt = (
            select(article_versions)
            .where(article_versions.c.article_id == article_id)
            .order_by(article_versions.c.version)
        )
        return [_version(r) for r in (await self._session.execute(stmt)).mappings()]

    async def add_version(self, article_id: UUID, version: ArticleVersion) -> None:
        """Insert a new version of an article."""
        await self._session.execute(
            insert(article_versions).values(article_id=article_id, **_version_row(version))
        )

    async def save_version(self, article_id: UUID, version: ArticleVersion) -> None:
        """Write a loaded version back."""
        await self._session.execute(
            update(article_versions)
            .where(
                article_versions.c.article_id == article_id,
                article_versions.c.version == version.version,
            )
            .values(**_version_row(version))
        )

    async def set_embedding(self, article_id: UUID, embedding: Sequence[float] | None) -> None:
        """Store the sentence embedding of the content the article carries."""
        await self._session.execute(
            update(articles)
            .where(articles.c.article_id == article_id)
            .values(embedding=None if embedding is None else list(embedding))
        )

    async def link(
        self, *, case_id: UUID, article_id: UUID, linked_by: UUID | None, at: datetime
    ) -> bool:
        """Link the article to the case; False if it already was."""
        result = await self._session.execute(
            pg_insert(article_links)
            .values(case_id=case_id, article_id=article_id, linked_by=linked_by, linked_at=at)
            .on_conflict_do_nothing()
            .returning(article_links.c.case_id)
        )
        return result.first() is not None

    async def count(self, article_id: UUID, figure: str) -> None:
        """Add one to a figure of the article: `views` or `sent`."""
        column = articles.c[figure]
        await self._session.execute(
            update(articles).where(articles.c.article_id == article_id).values({column: column + 1})
        )

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
    ) -> None:
        """Record an agent's verdict on an article, and count it."""
        await self._session.execute(
            insert(article_feedback).values(
                feedback_id=feedback_id,
                article_id=article_id,
                version=version,
                helpful=helpful,
                comment=comment,
                given_by=given_by,
                case_id=case_id,
                given_at=at,
            )
        )
        await self.count(article_id, "helpful" if helpful else "unhelpful")

    async def feedback(self, article_id: UUID, *, limit: int) -> list[dict[str, Any]]:
        """An article's feedback, the newest first."""
        stmt = (
            select(article_feedback)
            .where(article_feedback.c.article_id == article_id)
            .order_by(article_feedback.c.given_at.desc(), article_feedback.c.feedback_id)
            .limit(limit)
        )
        return [dict(r) for r in (await self._session.execute(stmt)).mappings()]

    async def figures(self, article_id: UUID) -> dict[str, int]:
        """An article's figures: views, feedback, sendings, links and suggestions."""
        counted = select(
            articles.c.views,
            articles.c.helpful,
            articles.c.unhelpful,
            articles.c.sent,
            select(func.count())
            .where(article_links.c.article_id == article_id)
            .scalar_subquery()
            .label("linked"),
        ).where(articles.c.article_id == article_id)
        row = (await self._session.execute(counted)).mappings().one()
        verdicts = select(
            func.count().label("suggested"),
            func.count().filter(case_suggestions.c.verdict == "used").label("used"),
            func.count().filter(case_suggestions.c.verdict == "not_useful").label("not_useful"),
        ).where(case_suggestions.c.article_id == article_id)
        suggested = (await self._session.execute(verdicts)).mappings().one()
        return {**dict(row), **dict(suggested)}


class SqlCaseContexts:
    """What knowledge keeps of cases and their customers, and the suggestions made for them."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def remember_case(
        self,
        *,
        case_id: UUID,
        number: str,
        contact_id: UUID,
        interaction_id: UUID | None,
        subject: str,
        at: datetime,
    ) -> None:
        """Keep a case as it opened (a repeat of the event changes nothing)."""
        await self._session.execute(
            pg_insert(case_contexts)
            .values(
                case_id=case_id,
                number=number,
                contact_id=contact_id,
                interaction_id=interaction_id,
                subject=subject,
                opened_at=at,
            )
            .on_conflict_do_nothing()
        )

    async def case(self, case_id: UUID, *, for_update: bool = False) -> dict[str, Any] | None:
        """A case as knowledge knows it, with its customer's language; None if unknown."""
        stmt = (
            select(
                case_contexts,
                func.coalesce(interaction_languages.c.language, contact_languages.c.language).label(
                    "language"
                ),
            )
            .outerjoin(
                interaction_languages,
                interaction_languages.c.interaction_id == case_contexts.c.interaction_id,
            )
            .outerjoin(
                contact_languages, contact_languages.c.contact_id == case_contexts.c.contact_id
            )
            .where(case_contexts.c.case_id == case_id)
        )
        if for_update:
            stmt = stmt.with_for_update(of=case_contexts)
        row = (await self._session.execute(stmt)).mappings().first()
        return None if row is None else dict(row)

    async def change_subject(self, case_id: UUID, subject: str) -> bool:
        """A case's new subject; False when the case is not known."""
        result = await self._session.execute(
            update(case_contexts)
            .where(case_contexts.c.case_id == case_id)
            .values(subject=subject)
            .returning(case_contexts.c.case_id)
        )
        return result.first() is not None

    async def learn_contact_language(
        self, contact_id: UUID, language: str | None, version: int
    ) -> list[UUID]:
        """Keep a contact's language unless a later card was kept; the cases of the contact
        whose language this may change."""
        stmt = pg_insert(contact_languages).values(
            contact_id=contact_id, language=language, version=version
        )
        kept = stmt.on_conflict_do_update(
            index_elements=[contact_languages.c.contact_id],
            set_={"language": stmt.excluded.language, "version": stmt.excluded.version},
            where=contact_languages.c.version < stmt.excluded.version,
        ).returning(contact_languages.c.contact_id)
        if (await self._session.execute(kept)).first() is None:
            return []
        cases = select(case_contexts.c.case_id).where(case_contexts.c.contact_id == contact_id)
        return list((await self._session.execute(cases)).scalars())

    async def learn_interaction_language(self, interaction_id: UUID, language: str) -> list[UUID]:
        """Keep the language a request was written in; the cases it opened."""
        await self._session.execute(
            pg_insert(interaction_languages)
            .values(interaction_id=interaction_id, language=language)
            .on_conflict_do_nothing()
        )
        cases = select(case_contexts.c.case_id).where(
            case_contexts.c.interaction_id == interaction_id
        )
        return list((await self._session.execute(cases)).scalars())

    async def replace_suggestions(
        self,
        case_id: UUID,
        suggested: Sequence[tuple[UUID, float]],
        *,
        language: str | None,
        at: datetime,
    ) -> None:
        """Store a case's suggestions, best first, in place of those no agent judged yet."""
        await self._session.execute(
            case_suggestions.delete().where(
                case_suggestions.c.case_id == case_id, case_suggestions.c.verdict.is_(None)
            )
        )
        if suggested:
            stmt = pg_insert(case_suggestions).values(
                [
                    {
                        "case_id": case_id,
                        "article_id": article_id,
                        "rank": rank,
                        "score": score,
                        "suggested_at": at,
                    }
                    for rank, (article_id, score) in enumerate(suggested, start=1)
                ]
            )
            await self._session.execute(stmt.on_conflict_do_nothing())
        await self._session.execute(
            update(case_contexts)
            .where(case_contexts.c.case_id == case_id)
            .values(suggested_in=language or "")
        )

    async def suggestions(self, case_id: UUID) -> list[dict[str, Any]]:
        """A case's suggestions with their articles, best first."""
        stmt = (
            select(
                case_suggestions.c.article_id,
                case_suggestions.c.rank,
                case_suggestions.c.score,
                case_suggestions.c.suggested_at,
                case_suggestions.c.verdict,
                case_suggestions.c.verdict_by,
                case_suggestions.c.verdict_at,
                articles.c.number,
                articles.c.title,
                articles.c.language,
                articles.c.public,
                articles.c.status,
            )
            .join(articles, articles.c.article_id == case_suggestions.c.article_id)
            .where(case_suggestions.c.case_id == case_id)
            .order_by(case_suggestions.c.rank, articles.c.number)
        )
        return [dict(r) for r in (await self._session.execute(stmt)).mappings()]

    async def judge(
        self, case_id: UUID, article_id: UUID, *, verdict: str, by: str | None, at: datetime
    ) -> bool:
        """Record an agent's verdict on a suggestion; False if it was not suggested."""
        result = await self._session.execute(
            update(case_suggestions)
            .where(
                case_suggestions.c.case_id == case_id,
                case_suggestions.c.article_id == article_id,
            )
            .values(verdict=verdict, verdict_by=by, verdict_at=at)
            .returning(case_suggestions.c.case_id)
        )
        return result.first() is not None

    async def suggestion_figures(self) -> list[dict[str, Any]]:
        """How suggestions fared, by rank: how many, used, not useful."""
        stmt = (
            select(
                case_suggestions.c.rank,
                func.count().label("suggested"),
                func.count().filter(case_suggestions.c.verdict == "used").label("used"),
                func.count().filter(case_suggestions.c.verdict == "not_useful").label("not_useful"),
            )
            .group_by(case_suggestions.c.rank)
            .order_by(case_suggestions.c.rank)
        )
        return [dict(r) for r in (await self._session.execute(stmt)).mappings()]


_PUBLISHED_VERSION = (
    select(func.max(article_versions.c.version))
    .where(
        and_(
            article_versions.c.article_id == articles.c.article_id,
            article_versions.c.state == VersionState.PUBLISHED.value,
        )
    )
    .scalar_subquery()
    .label("published_version")
)

_COLUMNS = (
    articles.c.article_id,
    articles.c.number,
    articles.c.translation_group,
    articles.c.title,
    articles.c.body,
    articles.c.language,
    articles.c.keywords,
    articles.c.category,
    articles.c.products,
    articles.c.public,
    articles.c.review_on,
    articles.c.attachments,
    articles.c.status,
    articles.c.version,
    articles.c.latest_version,
    articles.c.revision,
    articles.c.created_by,
    articles.c.created_at,
    articles.c.published_at,
)


def _content_row(content: Content) -> dict[str, Any]:
    return {
        "title": content.title,
        "body": content.body,
        "keywords": list(content.keywords),
        "category": content.category,
        "products": list(content.products),
        "public": content.public,
        "review_on": content.review_on,
        "attachments": [
            {
                "attachment_id": str(a.attachment_id),
                "filename": a.filename,
                "content_type": a.content_type,
                "size": a.size,
                "sha256": a.sha256,
            }
            for a in content.attachments
        ],
    }


def _content(row: Any) -> Content:
    review_on = row["review_on"]
    return Content(
        title=row["title"],
        body=row["body"],
        keywords=tuple(row["keywords"]),
        category=row["category"],
        products=tuple(row["products"]),
        public=row["public"],
        review_on=review_on if isinstance(review_on, date) else None,
        attachments=tuple(
            Attachment(
                attachment_id=UUID(a["attachment_id"]),
                filename=a["filename"],
                content_type=a["content_type"],
                size=a["size"],
                sha256=a["sha256"],
            )
            for a in row["attachments"]
        ),
    )


def _article_row(article: Article) -> dict[str, Any]:
    return {
        "article_id": article.article_id,
        "number": article.number,
        "translation_group": article.translation_group,
        "language": article.language,
        "status": article.status.value,
        "version": article.version,
        "latest_version": article.latest_version,
        "revision": article.revision,
        "published_at": article.published_at,
        **_content_row(article.content),
    }


def _article(row: Any) -> Article:
    return Article(
        article_id=row["article_id"],
        number=row["number"],
        language=row["language"],
        translation_group=row["translation_group"],
        status=ArticleStatus(row["status"]),
        content=_content(row),
        version=row["version"],
        latest_version=row["latest_version"],
        created_at=row["created_at"],
        created_by=row["created_by"],
        published_at=row["published_at"],
        revision=row["revision"],
        published_version=row["published_version"],
    )


def _version_row(version: ArticleVersion) -> dict[str, Any]:
    return {
        "version": version.version,
        "state": version.state.value,
        "based_on": version.based_on,
        "author": version.author,
        "created_at": version.created_at,
        "submitted_at": version.submitted_at,
        "reviewed_by": version.reviewed_by,
        "reviewed_at": version.reviewed_at,
        "review_note": version.review_note,
        "published_at": version.published_at,
        **_content_row(version.content),
    }


def _version(row: Any) -> ArticleVersion:
    return ArticleVersion(
        version=row["version"],
        state=VersionState(row["state"]),
        content=_content(row),
        created_at=row["created_at"],
        author=row["author"],
        based_on=row["based_on"],
        submitted_at=row["submitted_at"],
        reviewed_by=row["reviewed_by"],
        reviewed_at=row["reviewed_at"],
        review_note=row["review_note"],
        published_at=row["published_at"],
    )
