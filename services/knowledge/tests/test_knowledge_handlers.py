"""The knowledge use cases with fakes: no database, no broker."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import Self
from uuid import UUID

import pytest

from knowledge.app.handlers import (
    DraftArticle,
    LinkArticle,
    PublishArticle,
    SuggestForCase,
    draft,
    link_to_case,
    publish,
    suggest_for_case,
)
from knowledge.domain import (
    Article,
    ArticleLinked,
    ArticlePublished,
    ArticlesSuggested,
    ArticleStateError,
    KnowledgeEvent,
    Match,
    UnknownArticle,
)

pytestmark = pytest.mark.unit

NOW = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)


class FakeArticleRepository:
    """Articles in memory; a match is any article whose title or body holds a term."""

    def __init__(self) -> None:
        self.items: dict[UUID, Article] = {}
        self.links: set[tuple[UUID, UUID]] = set()
        self.seq = 0
        self.asked: list[Sequence[str]] = []

    async def next_sequence(self) -> int:
        self.seq += 1
        return self.seq

    async def add(self, article: Article) -> None:
        self.items[article.article_id] = article

    async def get(self, article_id: UUID, *, for_update: bool = False) -> Article | None:
        return self.items.get(article_id)

    async def save(self, article: Article) -> None:
        self.items[article.article_id] = article

    async def search(self, text: str, *, limit: int) -> list[Match]:
        return await self.matching_any(text.lower().split(), limit=limit)

    async def matching_any(self, terms: Sequence[str], *, limit: int) -> list[Match]:
        self.asked.append(terms)
        found = []
        for a in self.items.values():
            words = f"{a.title} {a.body}".lower().split()
            hits = sum(1 for t in terms if t in words)
            if hits and a.is_published:
                found.append(Match(a, float(hits)))
        return sorted(found, key=lambda m: -m.score)[:limit]

    async def link(
        self, *, case_id: UUID, article_id: UUID, linked_by: UUID | None, at: datetime
    ) -> bool:
        if (case_id, article_id) in self.links:
            return False
        self.links.add((case_id, article_id))
        return True


class FakeKnowledgeUnitOfWork:
    def __init__(self) -> None:
        self.articles = FakeArticleRepository()
        self.emitted: list[KnowledgeEvent] = []
        self.committed = 0
        self._pending: list[KnowledgeEvent] = []

    async def __aenter__(self) -> Self:
        self._pending = []
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._pending = []

    def emit(self, events: Iterable[KnowledgeEvent]) -> None:
        self._pending.extend(events)

    async def commit(self) -> None:
        self.emitted.extend(self._pending)
        self._pending = []
        self.committed += 1


@pytest.fixture
def uow() -> FakeKnowledgeUnitOfWork:
    return FakeKnowledgeUnitOfWork()


async def _published(uow: FakeKnowledgeUnitOfWork, title: str, body: str) -> Article:
    article = await draft(DraftArticle(title=title, body=body), uow=uow, now=NOW)
    return await publish(PublishArticle(article_id=article.article_id), uow=uow, now=NOW)


async def test_draft_numbers_articles_in_order_and_publishes_nothing(
    uow: FakeKnowledgeUnitOfWork,
) -> None:
    first = await draft(DraftArticle(title="One", body="x"), uow=uow, now=NOW)
    second = await draft(DraftArticle(title="Two", body="y"), uow=uow, now=NOW)
    assert (first.number, second.number) == ("KA-00001", "KA-00002")
    assert uow.emitted == []


async def test_publish_emits_article_published(uow: FakeKnowledgeUnitOfWork) -> None:
    article = await _published(uow, "Refunds", "how refunds work")
    assert [type(e) for e in uow.emitted] == [ArticlePublished]
    assert uow.articles.items[article.article_id].is_published
    with pytest.raises(ArticleStateError):
        await publish(PublishArticle(article_id=article.article_id), uow=uow, now=NOW)
    with pytest.raises(UnknownArticle):
        await publish(PublishArticle(article_id=uuid.uuid4()), uow=uow, now=NOW)


async def test_linking_twice_publishes_one_article_linked(uow: FakeKnowledgeUnitOfWork) -> None:
    article = await _published(uow, "Refunds", "how refunds work")
    case_id = uuid.uuid4()
    cmd = LinkArticle(case_id=case_id, article_id=article.article_id)
    assert (await link_to_case(cmd, uow=uow, now=NOW)).created
    assert not (await link_to_case(cmd, uow=uow, now=NOW)).created
    linked = [e for e in uow.emitted if isinstance(e, ArticleLinked)]
    assert [(e.case_id, e.article_id) for e in linked] == [(case_id, article.article_id)]


async def test_a_draft_cannot_be_linked(uow: FakeKnowledgeUnitOfWork) -> None:
    article = await draft(DraftArticle(title="Secret", body="x"), uow=uow, now=NOW)
    with pytest.raises(ArticleStateError):
        await link_to_case(
            LinkArticle(case_id=uuid.uuid4(), article_id=article.article_id), uow=uow, now=NOW
        )
    assert uow.articles.links == set()


async def test_suggest_for_case_proposes_matches_best_first(uow: FakeKnowledgeUnitOfWork) -> None:
    refund = await _published(uow, "Refund for a card payment", "when a card payment is refunded")
    card = await _published(uow, "Card blocked", "unblock a card")
    await _published(uow, "Password reset", "reset steps")
    case_id = uuid.uuid4()
    suggested = await suggest_for_case(
        SuggestForCase(case_id=case_id, subject="Refund for my card payment?"), uow=uow, now=NOW
    )
    assert suggested is not None
    assert [s.article_id for s in suggested.suggestions] == [refund.article_id, card.article_id]
    assert uow.articles.asked[-1] == ("refund", "for", "my", "card", "payment")
    assert isinstance(uow.emitted[-1], ArticlesSuggested)


async def test_nothing_is_suggested_or_published_without_a_match(
    uow: FakeKnowledgeUnitOfWork,
) -> None:
    await _published(uow, "Password reset", "reset steps")
    before = list(uow.emitted)
    suggested = await suggest_for_case(
        SuggestForCase(case_id=uuid.uuid4(), subject="Invoice missing"), uow=uow, now=NOW
    )
    assert suggested is None
    assert uow.emitted == before
