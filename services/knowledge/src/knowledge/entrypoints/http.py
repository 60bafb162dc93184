"""The knowledge HTTP API: the article lifecycle and its versions, translations, search,
suggestions for cases, sending to customers, and feedback.

Authors (agents) write drafts and put them up for review; reviewers (supervisors) approve,
reject, archive, restore and roll back. Readers see published articles only; an author also
sees their own drafts. Every article answers with its `ETag` (its revision, quoted); `PATCH`
needs `If-Match`.

No `from __future__ import annotations` here: FastAPI reads each route's annotations, and the
role dependencies they name are local to `router`, so they must be evaluated where defined.
"""

from collections.abc import Callable
from datetime import date, datetime
from typing import Annotated, Any, Literal, Self
from uuid import UUID

from fastapi import APIRouter, Depends, Header, Path, Query, Response
from pydantic import BaseModel, Field

from caseflow_servicekit import Authenticator, Clock, Forbidden, NotFound, Principal, Role
from caseflow_servicekit.edge import (
    EdgeModel,
    Limit,
    Offset,
    Text,
    if_match_responses,
    if_match_version,
)
from knowledge.adapters.rendering import to_html, to_text
from knowledge.adapters.search import Hit, SearchResults
from knowledge.adapters.uow import SqlKnowledgeUnitOfWork
from knowledge.app import handlers
from knowledge.app.ports import TextEmbedder
from knowledge.domain.article import Article, ArticleVersion, Attachment, Content, make_content
from knowledge.domain.diff import diff_versions
from knowledge.domain.errors import KnowledgeValidationError
from knowledge.domain.query import Ranking, SearchFilters, parse_query

UowFactory = Callable[[], SqlKnowledgeUnitOfWork]

Title = Annotated[Text, Field(min_length=1, max_length=300)]
Body = Annotated[Text, Field(max_length=200_000)]
Word = Annotated[Text, Field(min_length=1, max_length=100)]
Note = Annotated[Text, Field(max_length=2_000)]
Language = Annotated[Text, Field(min_length=2, max_length=35)]
IfMatch = Annotated[str | None, Header(alias="If-Match")]


class AttachmentIn(EdgeModel):
    """A file that goes with the article: a reference to a blob intake (or this service)
    stores."""

    attachment_id: UUID
    filename: Annotated[Text, Field(min_length=1, max_length=255)]
    content_type: Annotated[Text, Field(min_length=1, max_length=255)]
    size: Annotated[int, Field(ge=0, le=2**53)]
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


class NewArticle(EdgeModel):
    """A draft article to write; with `translation_of`, the same article in another language."""

    title: Title
    body: Body = ""
    language: Language = "en"
    keywords: Annotated[list[Word], Field(max_length=20)] = []
    category: Annotated[Text, Field(max_length=600)] | None = None
    products: Annotated[list[Word], Field(max_length=20)] = []
    public: bool = False
    review_on: date | None = None
    attachments: Annotated[list[AttachmentIn], Field(max_length=20)] = []
    translation_of: UUID | None = None


class ArticleChanges(EdgeModel):
    """The fields to change; those left out stay as they are."""

    title: Title | None = None
    body: Body | None = None
    keywords: Annotated[list[Word], Field(max_length=20)] | None = None
    category: Annotated[Text, Field(max_length=600)] | None = None
    products: Annotated[list[Word], Field(max_length=20)] | None = None
    public: bool | None = None
    review_on: date | None = None
    attachments: Annotated[list[AttachmentIn], Field(max_length=20)] | None = None


class Review(EdgeModel):
    """A reviewer's note on an approval or rejection."""

    note: Note | None = None


class Rollback(EdgeModel):
    """The earlier version to publish again."""

    version: Annotated[int, Field(ge=1, le=2**31 - 1)]


class Feedback(EdgeModel):
    """Whether an article helped, and why."""

    helpful: bool
    comment: Note | None = None
    case_id: UUID | None = None


class Sending(EdgeModel):
    """A few words to the customer above the article."""

    text: Annotated[Text, Field(max_length=5_000)] | None = None


class Verdict(EdgeModel):
    """What an agent made of a suggestion."""

    verdict: Literal["used", "not_useful"]


class AttachmentView(BaseModel):
    attachment_id: UUID
    filename: str
    content_type: str
    size: int
    sha256: str


class ContentView(BaseModel):
    """What one version of an article says."""

    title: str
    body: str
    body_html: str
    keywords: list[str]
    category: str | None
    products: list[str]
    public: bool
    review_on: date | None
    attachments: list[AttachmentView]

    @classmethod
    def of(cls, content: Content) -> Self:
        return cls(
            title=content.title,
            body=content.body,
            body_html=to_html(content.body),
            keywords=list(content.keywords),
            category=content.category,
            products=list(content.products),
            public=content.public,
            review_on=content.review_on,
            attachments=[AttachmentView(**vars(a)) for a in content.attachments],
        )


class ArticleView(ContentView):
    """An article as the API shows it: the content readers see, and where it stands."""

    article_id: UUID
    number: str
    language: str
    translation_group: UUID
    status: str
    version: int
    published_version: int | None
    latest_version: int
    revision: int
    created_by: str | None
    created_at: datetime
    published_at: datetime | None

    @classmethod
    def of_article(cls, article: Article) -> Self:
        return cls(
            **ContentView.of(article.content).model_dump(),
            article_id=article.article_id,
            number=article.number,
            language=article.language,
            translation_group=article.translation_group,
            status=article.status.value,
            version=article.version,
            published_version=article.published_version,
            latest_version=article.latest_version,
            revision=article.revision,
            created_by=article.created_by,
            created_at=article.created_at,
            published_at=article.published_at,
        )


class ArticleList(BaseModel):
    """A page of articles."""

    items: list[ArticleView]


class VersionView(ContentView):
    """One version of an article, with who wrote and reviewed it."""

    version: int
    state: str
    based_on: int | None
    author: str | None
    created_at: datetime
    submitted_at: datetime | None
    reviewed_by: str | None
    reviewed_at: datetime | None
    review_note: str | None
    published_at: datetime | None

    @classmethod
    def of_version(cls, v: ArticleVersion) -> Self:
        return cls(
            **ContentView.of(v.content).model_dump(),
            version=v.version,
            state=v.state.value,
            based_on=v.based_on,
            author=v.author,
            created_at=v.created_at,
            submitted_at=v.submitted_at,
            reviewed_by=v.reviewed_by,
            reviewed_at=v.reviewed_at,
            review_note=v.review_note,
            published_at=v.published_at,
        )


class VersionSummary(BaseModel):
    version: int
    state: str
    title: str
    based_on: int | None
    author: str | None
    created_at: datetime
    published_at: datetime | None


class VersionList(BaseModel):
    article_id: UUID
    number: str
    items: list[VersionSummary]


class FieldChangeView(BaseModel):
    field: str
    before: str
    after: str


class DiffView(BaseModel):
    """What changed from one version to another: fields, and the body line by line."""

    article_id: UUID
    from_version: int
    to_version: int
    changes: list[FieldChangeView]
    body_diff: list[str]


class Translation(BaseModel):
    article_id: UUID
    number: str
    language: str
    status: str
    title: str
    public: bool


class TranslationList(BaseModel):
    translation_group: UUID
    items: list[Translation]


class HitView(BaseModel):
    """An article found, with why and how well it matched."""

    article_id: UUID
    number: str
    title: str
    language: str
    keywords: list[str]
    category: str | None
    products: list[str]
    status: str
    public: bool
    version: int
    score: float
    matched: str
    snippet: str
    """A piece of the body, HTML-escaped, the words found in `<mark>`."""

    @classmethod
    def of(cls, hit: Hit) -> Self:
        return cls(
            article_id=hit.article_id,
            number=hit.number,
            title=hit.title,
            language=hit.language,
            keywords=list(hit.keywords),
            category=hit.category,
            products=list(hit.products),
            status=hit.status,
            public=hit.public,
            version=hit.version,
            score=hit.score,
            matched=hit.matched,
            snippet=hit.snippet,
        )


class SearchView(BaseModel):
    """Articles matching a query, best first, with counts by category and language."""

    query: str
    kind: str
    ranking: str
    total: int
    items: list[HitView]
    facets: dict[str, dict[str, int]]

    @classmethod
    def of(cls, query: str, ranking: Ranking, found: SearchResults) -> Self:
        return cls(
            query=query,
            kind=found.kind.value,
            ranking=ranking.value,
            total=found.total,
            items=[HitView.of(h) for h in found.hits],
            facets=found.facets,
        )


class CaseLink(BaseModel):
    """An article linked to a case."""

    case_id: UUID
    article_id: UUID
    number: str
    created: bool


class SentView(BaseModel):
    """An article on its way to a case's customer."""

    case_id: UUID
    article_id: UUID
    """The translation sent."""
    number: str
    language: str
    notification_id: UUID


class SuggestionView(BaseModel):
    article_id: UUID
    number: str
    title: str
    language: str
    public: bool
    status: str
    rank: int
    score: float
    suggested_at: datetime
    verdict: str | None
    verdict_by: str | None
    verdict_at: datetime | None


class SuggestionList(BaseModel):
    case_id: UUID
    items: list[SuggestionView]


class FeedbackView(BaseModel):
    feedback_id: UUID
    version: int
    helpful: bool
    comment: str | None
    given_by: str | None
    case_id: UUID | None
    given_at: datetime


class FeedbackList(BaseModel):
    article_id: UUID
    items: list[FeedbackView]


class Figures(BaseModel):
    """How an article is used: reads, verdicts, sendings, links, suggestions."""

    article_id: UUID
    views: int
    helpful: int
    unhelpful: int
    sent: int
    linked: int
    suggested: int
    used: int
    not_useful: int


class RankFigures(BaseModel):
    rank: int
    suggested: int
    used: int
    not_useful: int
    precision: float | None
    """Of the suggestions judged, the share used."""


class SuggestionFigures(BaseModel):
    items: list[RankFigures]


def router(
    *,
    uow_factory: UowFactory,
    auth: Authenticator,
    clock: Clock,
    embedder: TextEmbedder | None = None,
) -> APIRouter:
    """Routes for articles, search, and articles on cases."""
    api = APIRouter(tags=["knowledge"])
    agent = Depends(auth.requires(Role.AGENT))
    supervisor = Depends(auth.requires(Role.SUPERVISOR))
    Agent = Annotated[Principal, agent]
    Reviewer = Annotated[Principal, supervisor]
    # Boosted by default: the semantic rerank finds better (bench/knowledge.py) but takes longer
    # than a search box may; it is asked for, and suggestions use it.
    default_ranking = Ranking.BOOSTED

    def shown(article: Article, response: Response) -> ArticleView:
        response.headers["ETag"] = f'"{article.revision}"'
        return ArticleView.of_article(article)

    async def readable(uow: SqlKnowledgeUnitOfWork, article_id: UUID, who: Principal) -> Article:
        article = await uow.articles.get(article_id)
        if article is None or not _may_read(article, who):
            raise NotFound(f"There is no article {article_id}.")
        return article

    @api.post("/articles", status_code=201, response_model=ArticleView)
    async def create_article(body: NewArticle, who: Agent, response: Response) -> ArticleView:
        """Write a draft article; it gets the next article number."""
        article = await handlers.draft(
            _content(body.model_dump(exclude={"language", "translation_of"})),
            language=body.language,
            author=who.subject,
            translation_of=body.translation_of,
            uow=uow_factory(),
            now=clock.now(),
        )
        return shown(article, response)

    @api.get("/articles/search", response_model=SearchView)
    async def search_articles(
        q: Annotated[Text, Query(min_length=1, max_length=500)],
        who: Agent,
        language: Annotated[Language | None, Query()] = None,
        category: Annotated[Text | None, Query(max_length=600)] = None,
        product: Annotated[Text | None, Query(max_length=100)] = None,
        state: Annotated[
            list[Literal["draft", "in_review", "published", "archived"]] | None, Query()
        ] = None,
        ranking: Ranking | None = None,
        limit: Annotated[int, Query(ge=1, le=50)] = 10,
        offset: Annotated[int, Query(ge=0, le=1_000)] = 0,
    ) -> SearchView:
        """Articles by number (`KA-00042` or `42`), title (exact and prefix first), keywords
        and full text, typos tolerated; `state` other than published is for reviewers."""
        states = tuple(state or ("published",))
        if states != ("published",) and not who.has(Role.SUPERVISOR):
            raise Forbidden("Only reviewers search articles that are not published.")
        chosen = ranking or default_ranking
        if chosen is Ranking.SEMANTIC and embedder is None:
            chosen = Ranking.BOOSTED  # the model is not installed, or turned off
        filters = SearchFilters(
            language=language, category=category, product=product, states=states
        )
        async with uow_factory() as uow:
            found = await uow.search.search(
                parse_query(q), filters, ranking=chosen, limit=limit, offset=offset
            )
        return SearchView.of(q, chosen, found)

    @api.get("/articles", response_model=SearchView)
    async def search_published(
        q: Annotated[Text, Query(min_length=1, max_length=500)],
        _: Agent,
        limit: Annotated[int, Query(ge=1, le=50)] = 10,
    ) -> SearchView:
        """Published articles matching `q`, as `/articles/search` finds them."""
        async with uow_factory() as uow:
            found = await uow.search.search(
                parse_query(q), SearchFilters(), ranking=default_ranking, limit=limit
            )
        return SearchView.of(q, default_ranking, found)

    @api.get("/articles/due-for-review", response_model=ArticleList)
    async def due_for_review(
        _: Reviewer,
        on: date | None = None,
        limit: Annotated[Limit, Query()] = 50,
        offset: Annotated[Offset, Query()] = 0,
    ) -> ArticleList:
        """Published articles whose review date has come (by `on`, today by default), the
        most overdue first."""
        day = on or clock.now().date()
        async with uow_factory() as uow:
            found = await uow.articles.due_for_review(day, limit=limit, offset=offset)
        return ArticleList(items=[ArticleView.of_article(a) for a in found])

    @api.get("/articles/by-number/{number}", response_model=ArticleView)
    async def by_number(
        number: Annotated[str, Path(max_length=64)], who: Agent, response: Response
    ) -> ArticleView:
        """The article with this number: `KA-00042`, or just `42`."""
        parsed = parse_query(number)
        async with uow_factory() as uow:
            article = await uow.articles.by_number(parsed.number or number.strip().upper())
            if article is None or not _may_read(article, who):
                raise NotFound(f"There is no article {number}.")
            if article.is_published:
                await uow.articles.count(article.article_id, "views")
                await uow.commit()
        return shown(article, response)

    @api.get("/articles/{article_id}", response_model=ArticleView)
    async def get_article(article_id: UUID, who: Agent, response: Response) -> ArticleView:
        """One article; drafts only for reviewers and their author. A read counts a view."""
        async with uow_factory() as uow:
            article = await readable(uow, article_id, who)
            if article.is_published:
                await uow.articles.count(article_id, "views")
                await uow.commit()
        return shown(article, response)

    @api.patch(
        "/articles/{article_id}",
        response_model=ArticleView,
        responses=if_match_responses("article"),
    )
    async def change_article(
        article_id: UUID,
        body: ArticleChanges,
        who: Agent,
        response: Response,
        if_match: IfMatch = None,
    ) -> ArticleView:
        """Change a draft in place, or write a new draft version of a published article."""
        revision = if_match_version(if_match, of="article", required=True)
        assert revision is not None
        changes = _changes(body)
        # One transaction: who may see the article is checked on what the change then locks.
        async with uow_factory() as uow:
            await readable(uow, article_id, who)
            article, _ = await handlers.edit(
                article_id, changes, revision=revision, author=who.subject, uow=uow, now=clock.now()
            )
        return shown(article, response)

    @api.post("/articles/{article_id}/submit", response_model=ArticleView)
    async def submit(
        article_id: UUID, who: Agent, response: Response, if_match: IfMatch = None
    ) -> ArticleView:
        """Put the latest version up for review."""
        revision = if_match_version(if_match, of="article")
        async with uow_factory() as uow:
            await readable(uow, article_id, who)
            article = await handlers.submit(article_id, revision=revision, uow=uow, now=clock.now())
        return shown(article, response)

    async def approve(
        article_id: UUID,
        who: Principal,
        response: Response,
        body: Review | None,
        if_match: str | None,
    ) -> ArticleView:
        article = await handlers.approve(
            article_id,
            reviewer=who.subject,
            note=None if body is None else body.note,
            revision=if_match_version(if_match, of="article"),
            uow=uow_factory(),
            now=clock.now(),
            embedder=embedder,
        )
        return shown(article, response)

    @api.post("/articles/{article_id}/approve", response_model=ArticleView)
    async def approve_article(
        article_id: UUID,
        who: Reviewer,
        response: Response,
        body: Review | None = None,
        if_match: IfMatch = None,
    ) -> ArticleView:
        """Publish the version in review (a reviewer may also publish a draft at once); the
        version published before is superseded."""
        return await approve(article_id, who, response, body, if_match)

    @api.post("/articles/{article_id}/publish", response_model=ArticleView)
    async def publish_article(
        article_id: UUID,
        who: Reviewer,
        response: Response,
        body: Review | None = None,
        if_match: IfMatch = None,
    ) -> ArticleView:
        """The same as approve."""
        return await approve(article_id, who, response, body, if_match)

    @api.post("/articles/{article_id}/reject", response_model=ArticleView)
    async def reject_article(
        article_id: UUID, who: Reviewer, response: Response, body: Review | None = None
    ) -> ArticleView:
        """Send the version in review back to its author."""
        article = await handlers.reject(
            article_id,
            reviewer=who.subject,
            note=None if body is None else body.note,
            uow=uow_factory(),
            now=clock.now(),
        )
        return shown(article, response)

    @api.post("/articles/{article_id}/archive", response_model=ArticleView)
    async def archive_article(article_id: UUID, who: Reviewer, response: Response) -> ArticleView:
        """Take the article out of readers' sight; its versions stay."""
        article = await handlers.archive(
            article_id, by=who.subject, uow=uow_factory(), now=clock.now()
        )
        return shown(article, response)

    @api.post("/articles/{article_id}/restore", response_model=ArticleView)
    async def restore_article(article_id: UUID, _: Reviewer, response: Response) -> ArticleView:
        """Bring an archived article back: published again if it was."""
        article = await handlers.restore(article_id, uow=uow_factory(), now=clock.now())
        return shown(article, response)

    @api.post("/articles/{article_id}/rollback", response_model=ArticleView)
    async def roll_back(
        article_id: UUID, body: Rollback, who: Reviewer, response: Response
    ) -> ArticleView:
        """Publish an earlier version again, as a new version."""
        article, _ = await handlers.roll_back(
            article_id,
            body.version,
            reviewer=who.subject,
            uow=uow_factory(),
            now=clock.now(),
            embedder=embedder,
        )
        return shown(article, response)

    @api.get("/articles/{article_id}/versions", response_model=VersionList)
    async def versions(article_id: UUID, who: Agent) -> VersionList:
        """Every version, oldest first; readers see the ones that were published."""
        async with uow_factory() as uow:
            article = await readable(uow, article_id, who)
            found = await uow.articles.versions(article_id)
        items = [
            VersionSummary(
                version=v.version,
                state=v.state.value,
                title=v.content.title,
                based_on=v.based_on,
                author=v.author,
                created_at=v.created_at,
                published_at=v.published_at,
            )
            for v in found
            if v.was_published or _may_see_drafts(article, who)
        ]
        return VersionList(article_id=article_id, number=article.number, items=items)

    @api.get("/articles/{article_id}/versions/{version}", response_model=VersionView)
    async def version(
        article_id: UUID, version: Annotated[int, Path(ge=1, le=2**31 - 1)], who: Agent
    ) -> VersionView:
        """One version, as it was written."""
        async with uow_factory() as uow:
            article = await readable(uow, article_id, who)
            found = await uow.articles.version(article_id, version)
        if found is None or not (found.was_published or _may_see_drafts(article, who)):
            raise NotFound(f"Article {article.number} has no version {version}.")
        return VersionView.of_version(found)

    @api.get("/articles/{article_id}/diff", response_model=DiffView)
    async def diff(
        article_id: UUID,
        who: Agent,
        from_: Annotated[int, Query(alias="from", ge=1, le=2**31 - 1)],
        to: Annotated[int, Query(ge=1, le=2**31 - 1)],
    ) -> DiffView:
        """What changed between two versions."""
        async with uow_factory() as uow:
            article = await readable(uow, article_id, who)
            before = await uow.articles.version(article_id, from_)
            after = await uow.articles.version(article_id, to)
        for wanted, found in ((from_, before), (to, after)):
            if found is None or not (found.was_published or _may_see_drafts(article, who)):
                raise NotFound(f"Article {article.number} has no version {wanted}.")
        assert before is not None and after is not None
        changed = diff_versions(before, after)
        return DiffView(
            article_id=article_id,
            from_version=changed.from_version,
            to_version=changed.to_version,
            changes=[FieldChangeView(**vars(c)) for c in changed.changes],
            body_diff=list(changed.body_diff),
        )

    @api.get("/articles/{article_id}/translations", response_model=TranslationList)
    async def translations(article_id: UUID, who: Agent) -> TranslationList:
        """The same article in other languages (those the caller may read)."""
        async with uow_factory() as uow:
            article = await readable(uow, article_id, who)
            group = await uow.articles.translations(article.translation_group)
        return TranslationList(
            translation_group=article.translation_group,
            items=[
                Translation(
                    article_id=a.article_id,
                    number=a.number,
                    language=a.language,
                    status=a.status.value,
                    title=a.title,
                    public=a.content.public,
                )
                for a in group
                if _may_read(a, who)
            ],
        )

    @api.post("/articles/{article_id}/feedback", status_code=201, response_model=FeedbackView)
    async def give_feedback(article_id: UUID, body: Feedback, who: Agent) -> FeedbackView:
        """Say whether a published article helped, with a comment."""
        given = await handlers.give_feedback(
            article_id,
            helpful=body.helpful,
            comment=body.comment,
            given_by=who.subject,
            case_id=body.case_id,
            uow=uow_factory(),
            now=clock.now(),
        )
        return FeedbackView(**vars(given))

    @api.get("/articles/{article_id}/feedback", response_model=FeedbackList)
    async def feedback(
        article_id: UUID, _: Reviewer, limit: Annotated[Limit, Query()] = 50
    ) -> FeedbackList:
        """An article's feedback, the newest first."""
        async with uow_factory() as uow:
            if await uow.articles.get(article_id) is None:
                raise NotFound(f"There is no article {article_id}.")
            found = await uow.articles.feedback(article_id, limit=limit)
        return FeedbackList(article_id=article_id, items=[FeedbackView(**f) for f in found])

    @api.get("/articles/{article_id}/figures", response_model=Figures)
    async def figures(article_id: UUID, who: Agent) -> Figures:
        """How the article is used: views, feedback, sendings, links and suggestions."""
        async with uow_factory() as uow:
            await readable(uow, article_id, who)
            counted = await uow.articles.figures(article_id)
        return Figures(article_id=article_id, **counted)

    @api.post(
        "/cases/{case_id}/articles/{article_id}",
        response_model=CaseLink,
        responses={201: {"description": "Linked"}, 200: {"description": "Already linked"}},
    )
    async def link_article(
        case_id: UUID, article_id: UUID, who: Agent, response: Response
    ) -> CaseLink:
        """Link a published article to a case (201); linking it again is a no-op (200)."""
        linked = await handlers.link_to_case(
            case_id, article_id, linked_by=_person(who), uow=uow_factory(), now=clock.now()
        )
        response.status_code = 201 if linked.created else 200
        return CaseLink(
            case_id=case_id,
            article_id=article_id,
            number=linked.article.number,
            created=linked.created,
        )

    @api.post(
        "/cases/{case_id}/articles/{article_id}/send", status_code=202, response_model=SentView
    )
    async def send_article(
        case_id: UUID, article_id: UUID, who: Agent, body: Sending | None = None
    ) -> SentView:
        """Send a public article to the case's customer by e-mail, in their language or the
        nearest translation; the article is linked to the case."""
        sent = await handlers.send_to_case(
            case_id,
            article_id,
            sent_by=_person(who),
            text=None if body is None else body.text,
            uow=uow_factory(),
            now=clock.now(),
            as_text=to_text,
        )
        return SentView(
            case_id=case_id,
            article_id=sent.article.article_id,
            number=sent.article.number,
            language=sent.language,
            notification_id=sent.notification_id,
        )

    @api.get("/cases/{case_id}/suggestions", response_model=SuggestionList)
    async def suggestions(case_id: UUID, _: Agent) -> SuggestionList:
        """The articles suggested for a case, best first, with what agents made of them."""
        async with uow_factory() as uow:
            if await uow.cases.case(case_id) is None:
                raise NotFound(f"The knowledge base has not heard of case {case_id}.")
            found = await uow.cases.suggestions(case_id)
        return SuggestionList(case_id=case_id, items=[SuggestionView(**s) for s in found])

    @api.post("/cases/{case_id}/suggestions/{article_id}", response_model=SuggestionList)
    async def judge(case_id: UUID, article_id: UUID, body: Verdict, who: Agent) -> SuggestionList:
        """Mark a suggestion used or not useful."""
        await handlers.judge_suggestion(
            case_id,
            article_id,
            verdict=body.verdict,
            by=who.subject,
            uow=uow_factory(),
            now=clock.now(),
        )
        async with uow_factory() as uow:
            found = await uow.cases.suggestions(case_id)
        return SuggestionList(case_id=case_id, items=[SuggestionView(**s) for s in found])

    @api.get("/suggestions/figures", response_model=SuggestionFigures)
    async def suggestion_figures(_: Reviewer) -> SuggestionFigures:
        """How suggestions fared by rank: suggested, used, not useful, and the share used."""
        async with uow_factory() as uow:
            rows = await uow.cases.suggestion_figures()
        return SuggestionFigures(
            items=[
                RankFigures(
                    **row,
                    precision=row["used"] / (row["used"] + row["not_useful"])
                    if row["used"] + row["not_useful"]
                    else None,
                )
                for row in rows
            ]
        )

    return api


def _may_see_drafts(article: Article, who: Principal) -> bool:
    return who.has(Role.SUPERVISOR) or (
        article.created_by is not None and article.created_by == who.subject
    )


def _may_read(article: Article, who: Principal) -> bool:
    return article.is_published or _may_see_drafts(article, who)


def _content(fields: dict[str, Any]) -> Content:
    attachments = [Attachment(**a) for a in fields.pop("attachments", [])]
    return make_content(**fields, attachments=attachments)


def _changes(body: ArticleChanges) -> dict[str, Any]:
    changes = body.model_dump(exclude_unset=True)
    for name in ("title", "body", "keywords", "products", "public", "attachments"):
        if name in changes and changes[name] is None:
            raise KnowledgeValidationError(f"{name} cannot be null")
    if "attachments" in changes:
        changes["attachments"] = tuple(Attachment(**a) for a in changes["attachments"])
    return changes


def _person(principal: Principal) -> UUID | None:
    """The caller's user id, when their token names one."""
    try:
        return UUID(principal.subject)
    except ValueError:
        return None
