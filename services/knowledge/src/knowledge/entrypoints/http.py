"""The knowledge HTTP API: article lifecycle, search, and links to cases.

No `from __future__ import annotations` here: FastAPI reads each route's annotations, and the
role dependencies they name are local to `router`, so they must be evaluated where defined.
"""

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Self
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from caseflow_servicekit import Authenticator, Clock, NotFound, Principal, Role
from knowledge.adapters.uow import SqlKnowledgeUnitOfWork
from knowledge.app.handlers import (
    DraftArticle,
    LinkArticle,
    PublishArticle,
    draft,
    link_to_case,
    publish,
)
from knowledge.domain.article import Article
from knowledge.domain.suggestions import Match

UowFactory = Callable[[], SqlKnowledgeUnitOfWork]


class NewArticle(BaseModel):
    """A draft article to write."""

    model_config = ConfigDict(extra="forbid")

    title: Annotated[str, Field(min_length=1, max_length=300)]
    body: Annotated[str, Field(max_length=200_000)] = ""
    language: Annotated[str, Field(min_length=2, max_length=35)] = "en"
    keywords: Annotated[list[str], Field(max_length=20)] = []


class ArticleView(BaseModel):
    """An article as the API shows it."""

    article_id: UUID
    number: str
    title: str
    body: str
    language: str
    keywords: list[str]
    status: str
    version: int
    created_at: datetime
    published_at: datetime | None

    @classmethod
    def of(cls, article: Article) -> Self:
        return cls(
            article_id=article.article_id,
            number=article.number,
            title=article.title,
            body=article.body,
            language=article.language,
            keywords=list(article.keywords),
            status=article.status.value,
            version=article.version,
            created_at=article.created_at,
            published_at=article.published_at,
        )


class ArticleHit(BaseModel):
    """An article found by a search, with its relevance."""

    article_id: UUID
    number: str
    title: str
    language: str
    keywords: list[str]
    version: int
    score: float

    @classmethod
    def of(cls, match: Match) -> Self:
        a = match.article
        return cls(
            article_id=a.article_id,
            number=a.number,
            title=a.title,
            language=a.language,
            keywords=list(a.keywords),
            version=a.version,
            score=match.score,
        )


class SearchResult(BaseModel):
    """Published articles matching a query, best first."""

    query: str
    items: list[ArticleHit]


class CaseLink(BaseModel):
    """An article linked to a case."""

    case_id: UUID
    article_id: UUID
    number: str
    created: bool


def router(*, uow_factory: UowFactory, auth: Authenticator, clock: Clock) -> APIRouter:
    """Routes for articles and their links to cases."""
    api = APIRouter(tags=["knowledge"])
    agent = Depends(auth.requires(Role.AGENT))
    supervisor = Depends(auth.requires(Role.SUPERVISOR))

    @api.post("/articles", status_code=201, response_model=ArticleView)
    async def create_article(body: NewArticle, _: Annotated[Principal, supervisor]) -> ArticleView:
        """Write a draft article; it gets the next article number."""
        article = await draft(
            DraftArticle(
                title=body.title,
                body=body.body,
                language=body.language,
                keywords=tuple(body.keywords),
            ),
            uow=uow_factory(),
            now=clock.now(),
        )
        return ArticleView.of(article)

    @api.post("/articles/{article_id}/publish", response_model=ArticleView)
    async def publish_article(article_id: UUID, _: Annotated[Principal, supervisor]) -> ArticleView:
        """Publish a draft so agents can find it."""
        article = await publish(
            PublishArticle(article_id=article_id), uow=uow_factory(), now=clock.now()
        )
        return ArticleView.of(article)

    @api.get("/articles/{article_id}", response_model=ArticleView)
    async def get_article(article_id: UUID, principal: Annotated[Principal, agent]) -> ArticleView:
        """One article; drafts and archived ones only for supervisors."""
        async with uow_factory() as uow:
            article = await uow.articles.get(article_id)
        if article is None or not (article.is_published or principal.has(Role.SUPERVISOR)):
            raise NotFound(f"There is no article {article_id}.")
        return ArticleView.of(article)

    @api.get("/articles", response_model=SearchResult)
    async def search_articles(
        q: Annotated[str, Query(min_length=1, max_length=500)],
        _: Annotated[Principal, agent],
        limit: Annotated[int, Query(ge=1, le=50)] = 10,
    ) -> SearchResult:
        """Published articles matching `q` (web-search syntax), best first."""
        async with uow_factory() as uow:
            found = await uow.articles.search(q, limit=limit)
        return SearchResult(query=q, items=[ArticleHit.of(m) for m in found])

    @api.post(
        "/cases/{case_id}/articles/{article_id}",
        response_model=CaseLink,
        responses={201: {"description": "Linked"}, 200: {"description": "Already linked"}},
    )
    async def link_article(
        case_id: UUID,
        article_id: UUID,
        principal: Annotated[Principal, agent],
        response: Response,
    ) -> CaseLink:
        """Link a published article to a case (201); linking it again is a no-op (200)."""
        linked = await link_to_case(
            LinkArticle(case_id=case_id, article_id=article_id, linked_by=_person(principal)),
            uow=uow_factory(),
            now=clock.now(),
        )
        response.status_code = 201 if linked.created else 200
        return CaseLink(
            case_id=case_id,
            article_id=article_id,
            number=linked.article.number,
            created=linked.created,
        )

    return api


def _person(principal: Principal) -> UUID | None:
    """The caller's user id, when their token names one."""
    try:
        return UUID(principal.subject)
    except ValueError:
        return None
