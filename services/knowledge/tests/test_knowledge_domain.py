"""Articles, their numbers and suggestions: pure rules, no clock and no infrastructure."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from knowledge.domain import (
    Article,
    ArticleLinked,
    ArticlePublished,
    ArticleStateError,
    ArticleStatus,
    KnowledgeValidationError,
    Match,
    Suggestion,
    draft_article,
    format_article_number,
    normalize_language,
    search_terms,
    suggest_articles,
    tidy_keywords,
)

pytestmark = pytest.mark.unit

NOW = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)


def article(
    number: str = "KA-00001", title: str = "Refunds", body: str = "How refunds work."
) -> Article:
    return draft_article(
        article_id=uuid.uuid4(),
        number=number,
        title=title,
        body=body,
        language="en",
        keywords=["refund"],
        now=NOW,
    )


def published(number: str, title: str = "Refunds") -> Article:
    a = article(number, title)
    a.publish(now=NOW)
    return a


@pytest.mark.parametrize(
    ("seq", "number"),
    [(1, "KA-00001"), (42, "KA-00042"), (99999, "KA-99999"), (100000, "KA-100000")],
)
def test_article_numbers(seq: int, number: str) -> None:
    assert format_article_number(seq) == number


def test_an_article_number_needs_a_positive_sequence() -> None:
    with pytest.raises(KnowledgeValidationError):
        format_article_number(0)


def test_a_draft_is_version_one_with_tidy_fields() -> None:
    a = draft_article(
        article_id=uuid.uuid4(),
        number="KA-00007",
        title="  Reset   a password ",
        body="  Steps.  ",
        language="EN-GB",
        keywords=["Password", " password ", "", "login  reset"],
        now=NOW,
    )
    assert (a.title, a.body, a.language) == ("Reset a password", "Steps.", "en-GB")
    assert a.keywords == ("Password", "login reset")
    assert (a.status, a.version, a.published_at) == (ArticleStatus.DRAFT, 1, None)


@pytest.mark.parametrize("tag", ["", "e", "english!", "en_GB", "en-", "12"])
def test_unreadable_language_tags_are_refused(tag: str) -> None:
    with pytest.raises(KnowledgeValidationError):
        normalize_language(tag)


def test_too_many_keywords_are_refused() -> None:
    with pytest.raises(KnowledgeValidationError):
        tidy_keywords([f"k{i}" for i in range(21)])


def test_a_draft_needs_a_title() -> None:
    with pytest.raises(KnowledgeValidationError):
        article(title="   ")


def test_publish_makes_the_draft_visible_once() -> None:
    a = article()
    events = a.publish(now=NOW)
    assert events == [
        ArticlePublished(
            occurred_at=NOW,
            article_id=a.article_id,
            number="KA-00001",
            version=1,
            title="Refunds",
            language="en",
            keywords=("refund",),
        )
    ]
    assert a.is_published and a.published_at == NOW
    with pytest.raises(ArticleStateError):
        a.publish(now=NOW)


def test_an_empty_draft_cannot_be_published() -> None:
    with pytest.raises(KnowledgeValidationError, match="no body"):
        article(body="   ").publish(now=NOW)


def test_only_published_articles_are_linked_to_cases() -> None:
    case_id, agent = uuid.uuid4(), uuid.uuid4()
    draft = article()
    with pytest.raises(ArticleStateError):
        draft.link_to_case(case_id=case_id, linked_by=agent, now=NOW)
    draft.publish(now=NOW)
    assert draft.link_to_case(case_id=case_id, linked_by=agent, now=NOW) == [
        ArticleLinked(
            occurred_at=NOW,
            case_id=case_id,
            article_id=draft.article_id,
            number="KA-00001",
            linked_by=agent,
        )
    ]


@pytest.mark.parametrize(
    ("text", "terms"),
    [
        ("My card was charged TWICE!", ("my", "card", "was", "charged", "twice")),
        ("Re: re: invoice_2024 / invoice", ("re", "invoice", "2024")),
        ("Rückerstattung für Bestellung", ("rückerstattung", "für", "bestellung")),
        ("a ? !", ()),
    ],
)
def test_search_terms(text: str, terms: tuple[str, ...]) -> None:
    assert search_terms(text) == terms


def test_search_terms_are_bounded() -> None:
    assert len(search_terms(" ".join(f"w{i}" for i in range(100)))) == 32


def test_suggest_the_three_best_published_matches() -> None:
    case_id = uuid.uuid4()
    a, b, c, d = (published(f"KA-0000{i}", f"Article {i}") for i in range(1, 5))
    draft = article("KA-00009")
    matches = [Match(a, 0.2), Match(b, 0.9), Match(draft, 1.0), Match(c, 0.5), Match(d, 0.5)]
    suggested = suggest_articles(case_id=case_id, matches=matches, now=NOW)
    assert suggested is not None and suggested.case_id == case_id
    assert suggested.suggestions == (
        Suggestion(article_id=b.article_id, number="KA-00002", title="Article 2", score=0.9),
        Suggestion(article_id=c.article_id, number="KA-00003", title="Article 3", score=0.5),
        Suggestion(article_id=d.article_id, number="KA-00004", title="Article 4", score=0.5),
    )


def test_nothing_is_suggested_without_a_published_match() -> None:
    assert suggest_articles(case_id=uuid.uuid4(), matches=[], now=NOW) is None
    assert suggest_articles(case_id=uuid.uuid4(), matches=[Match(article(), 1.0)], now=NOW) is None
