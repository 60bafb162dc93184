"""Articles in PostgreSQL: `SqlArticleRepository` stores them and searches them by full text."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Select,
    and_,
    case,
    func,
    insert,
    literal_column,
    not_,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import TSQUERY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from knowledge.adapters.tables import IS_ENGLISH, article_links, article_number_seq, articles
from knowledge.domain.article import Article, ArticleStatus
from knowledge.domain.suggestions import Match

TsQuery = Callable[[ColumnElement[Any]], ColumnElement[Any]]
"""Builds a text search query for a given configuration."""


class SqlArticleRepository:
    """Loads, saves and searches articles; records their links to cases."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def next_sequence(self) -> int:
        """The next article-number sequence value."""
        value = await self._session.scalar(select(article_number_seq.next_value()))
        assert value is not None
        return int(value)

    async def add(self, article: Article) -> None:
        """Insert a new article."""
        await self._session.execute(
            insert(articles).values(
                **_row(article), created_at=article.created_at, updated_at=func.now()
            )
        )

    async def save(self, article: Article) -> None:
        """Write a loaded article back."""
        await self._session.execute(
            update(articles)
            .where(articles.c.article_id == article.article_id)
            .values(**_row(article), updated_at=func.now())
        )

    async def get(self, article_id: UUID, *, for_update: bool = False) -> Article | None:
        """The article with `article_id`, or None."""
        stmt = select(*_COLUMNS).where(articles.c.article_id == article_id)
        if for_update:
            stmt = stmt.with_for_update()
        row = (await self._session.execute(stmt)).mappings().first()
        return None if row is None else _article(row)

    async def search(self, text: str, *, limit: int) -> list[Match]:
        """Published articles matching a query typed by an agent, best first.

        The query reads like a web search: words must all appear, "quoted phrases" in order,
        `or` between alternatives, `-word` to exclude.
        """
        return await self._ranked(lambda config: func.websearch_to_tsquery(config, text), limit)

    async def matching_any(self, terms: Sequence[str], *, limit: int) -> list[Match]:
        """Published articles containing any of `terms`, those matching more and better first."""
        if not terms:
            return []

        def any_term(config: ColumnElement[Any]) -> ColumnElement[Any]:
            combined: ColumnElement[Any] = func.plainto_tsquery(config, terms[0])
            for term in terms[1:]:
                combined = combined.op("||", return_type=TSQUERY)(
                    func.plainto_tsquery(config, term)
                )
            return combined

        return await self._ranked(any_term, limit)

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

    async def _ranked(self, query_in: TsQuery, limit: int) -> list[Match]:
        # Each article is matched and ranked by the query read in its own configuration:
        # stemmed English for English articles, plain words for the others. Each arm of the
        # OR tests the GIN-indexed vector against a query independent of the row, so the
        # index serves both.
        english = literal_column(f"({IS_ENGLISH})", Boolean)
        in_english = query_in(_config("english"))
        in_words = query_in(_config("simple"))
        vector = articles.c.search_vector
        rank = case(
            (english, func.ts_rank(vector, in_english)), else_=func.ts_rank(vector, in_words)
        ).label("score")
        stmt: Select[Any] = (
            select(*_COLUMNS, rank)
            .where(
                articles.c.status == ArticleStatus.PUBLISHED.value,
                or_(
                    and_(english, vector.op("@@")(in_english)),
                    and_(not_(english), vector.op("@@")(in_words)),
                ),
            )
            .order_by(rank.desc(), articles.c.number)
            .limit(limit)
        )
        rows = (await self._session.execute(stmt)).mappings()
        return [Match(_article(r), float(r["score"])) for r in rows]


_COLUMNS = (
    articles.c.article_id,
    articles.c.number,
    articles.c.title,
    articles.c.body,
    articles.c.language,
    articles.c.keywords,
    articles.c.status,
    articles.c.version,
    articles.c.created_at,
    articles.c.published_at,
)


def _config(name: str) -> ColumnElement[Any]:
    # A constant, written into the statement so the planner folds the query and uses the index.
    return literal_column(f"'{name}'::regconfig")


def _row(article: Article) -> dict[str, Any]:
    return {
        "article_id": article.article_id,
        "number": article.number,
        "title": article.title,
        "body": article.body,
        "language": article.language,
        "keywords": list(article.keywords),
        "status": article.status.value,
        "version": article.version,
        "published_at": article.published_at,
    }


def _article(row: Any) -> Article:
    return Article(
        article_id=row["article_id"],
        number=row["number"],
        title=row["title"],
        body=row["body"],
        language=row["language"],
        keywords=tuple(row["keywords"]),
        status=ArticleStatus(row["status"]),
        version=row["version"],
        created_at=row["created_at"],
        published_at=row["published_at"],
    )
