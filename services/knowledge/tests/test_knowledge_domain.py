"""Articles, their versions, numbers and suggestions: pure rules, no clock and no
infrastructure."""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from knowledge.domain import (
    Article,
    ArticleArchived,
    ArticleLinked,
    ArticlePublished,
    ArticleStateError,
    ArticleStatus,
    ArticleVersion,
    ArticleVersioned,
    Attachment,
    KnowledgeError,
    KnowledgeValidationError,
    Match,
    StaleRevisionError,
    Suggestion,
    VersionState,
    draft_article,
    format_article_number,
    make_content,
    nearest_translation,
    normalize_language,
    suggest_articles,
    tidy_category,
    tidy_keywords,
)

pytestmark = pytest.mark.unit

NOW = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
LATER = NOW + timedelta(hours=1)
NAIVE = datetime(2026, 5, 4, 9, 0)


@dataclass
class Story:
    """An article with all its versions, as a repository would keep them."""

    article: Article
    versions: dict[int, ArticleVersion] = field(default_factory=dict)

    @property
    def latest(self) -> ArticleVersion:
        return self.versions[self.article.latest_version]

    @property
    def published(self) -> ArticleVersion | None:
        n = self.article.published_version
        return None if n is None else self.versions[n]

    def edit(self, **changes: Any) -> list[Any]:
        edited, events = self.article.edit(self.latest, changes, author="ann", now=NOW)
        self.versions[edited.version] = edited
        return events

    def submit(self) -> list[Any]:
        return self.article.submit(self.latest, now=NOW)

    def approve(self, note: str | None = None) -> list[Any]:
        return self.article.approve(
            self.latest, published=self.published, reviewer="rev", now=LATER, note=note
        )

    def reject(self, note: str | None = "needs work") -> list[Any]:
        return self.article.reject(self.latest, reviewer="rev", note=note, now=LATER)

    def roll_back(self, to: int) -> list[Any]:
        again, events = self.article.roll_back(
            self.versions[to],
            latest=self.latest,
            published=self.published,
            reviewer="rev",
            now=LATER,
        )
        self.versions[again.version] = again
        return events


def draft(
    number: str = "KA-00001",
    title: str = "Refunds",
    body: str = "How refunds work.",
    *,
    language: str = "en",
    public: bool = False,
    article_id: uuid.UUID | None = None,
    translation_group: uuid.UUID | None = None,
    **fields: Any,
) -> Story:
    article, first = draft_article(
        article_id=article_id or uuid.uuid4(),
        number=number,
        language=language,
        content=make_content(title=title, body=body, keywords=["refund"], public=public, **fields),
        now=NOW,
        author="ann",
        translation_group=translation_group,
    )
    return Story(article, {1: first})


def published(number: str = "KA-00001", title: str = "Refunds", **kwargs: Any) -> Story:
    story = draft(number, title, **kwargs)
    story.approve()
    return story


def three_published_versions() -> Story:
    """v1 and v2 superseded, v3 published, each with its own title."""
    story = published(title="One")
    story.edit(title="Two")
    story.approve()
    story.edit(title="Three")
    story.approve()
    return story


# --- numbers, languages, keywords ------------------------------------------------------


@pytest.mark.parametrize(
    ("seq", "number"),
    [(1, "KA-00001"), (42, "KA-00042"), (99999, "KA-99999"), (100000, "KA-100000")],
)
def test_article_numbers(seq: int, number: str) -> None:
    assert format_article_number(seq) == number


def test_an_article_number_needs_a_positive_sequence() -> None:
    with pytest.raises(KnowledgeValidationError):
        format_article_number(0)


@pytest.mark.parametrize(
    ("tag", "normal"), [("EN", "en"), (" EN-GB ", "en-GB"), ("pt-BR", "pt-BR"), ("fil", "fil")]
)
def test_language_tags_are_normalised(tag: str, normal: str) -> None:
    assert normalize_language(tag) == normal


@pytest.mark.parametrize("tag", ["", "e", "english!", "en_GB", "en-", "12"])
def test_unreadable_language_tags_are_refused(tag: str) -> None:
    with pytest.raises(KnowledgeValidationError):
        normalize_language(tag)


def test_keywords_lose_blanks_and_repeats_in_order() -> None:
    assert tidy_keywords(["Password", " password ", "", "login  reset"]) == (
        "Password",
        "login reset",
    )


def test_too_many_keywords_are_refused() -> None:
    with pytest.raises(KnowledgeValidationError):
        tidy_keywords([f"k{i}" for i in range(21)])


def test_a_keyword_too_long_is_refused() -> None:
    with pytest.raises(KnowledgeValidationError):
        tidy_keywords(["k" * 101])


def test_knowledge_validation_errors_are_value_errors() -> None:
    assert issubclass(KnowledgeValidationError, ValueError)
    assert issubclass(KnowledgeValidationError, KnowledgeError)
    assert issubclass(StaleRevisionError, ArticleStateError)


# --- content --------------------------------------------------------------------------


def test_make_content_tidies_its_fields() -> None:
    content = make_content(
        title="  Reset   a password ",
        body="  Steps.  ",
        keywords=["Password", " password ", "", "login  reset"],
        category="  Printers / Toner ",
        products=["Laser 5", "laser 5", " Ink "],
        public=True,
        review_on=date(2026, 12, 1),
    )
    assert (content.title, content.body) == ("Reset a password", "Steps.")
    assert content.keywords == ("Password", "login reset")
    assert content.category == "Printers/Toner"
    assert content.products == ("Laser 5", "Ink")
    assert content.public is True and content.review_on == date(2026, 12, 1)


def test_content_defaults() -> None:
    content = make_content(title="T")
    assert (content.body, content.keywords, content.category, content.products) == (
        "",
        (),
        None,
        (),
    )
    assert content.public is False and content.attachments == ()


@pytest.mark.parametrize(
    ("category", "tidy"),
    [
        ("  Printers / Toner ", "Printers/Toner"),
        ("Printers//Toner/", "Printers/Toner"),
        ("a  b / c", "a b/c"),
        (" / ", None),
        (None, None),
    ],
)
def test_category_paths_are_tidied(category: str | None, tidy: str | None) -> None:
    assert tidy_category(category) == tidy


def test_a_category_too_deep_is_refused() -> None:
    with pytest.raises(KnowledgeValidationError):
        tidy_category("/".join("abcdefg"))


@pytest.mark.parametrize(
    "fields",
    [
        {"title": "   "},
        {},
        {"title": "T" * 301},
        {"title": "T", "body": "b" * 200_001},
        {"title": "T", "keywords": [f"k{i}" for i in range(21)]},
        {"title": "T", "products": [f"p{i}" for i in range(21)]},
        {"title": "T", "colour": "red"},
    ],
    ids=["blank-title", "no-title", "long-title", "long-body", "keywords", "products", "unknown"],
)
def test_bad_content_is_refused(fields: dict[str, Any]) -> None:
    with pytest.raises(KnowledgeValidationError):
        make_content(**fields)


# --- drafting -------------------------------------------------------------------------


def test_a_new_article_is_a_draft_at_version_one() -> None:
    article_id = uuid.uuid4()
    article, first = draft_article(
        article_id=article_id,
        number="KA-00007",
        language="EN-GB",
        content=make_content(title="  Reset   a password ", body=" Steps. ", keywords=["pw"]),
        now=NOW,
        author="ann",
    )
    assert (article.status, article.version, article.latest_version) == (
        ArticleStatus.DRAFT,
        1,
        1,
    )
    assert (first.version, first.state, first.author, first.based_on) == (
        1,
        VersionState.DRAFT,
        "ann",
        None,
    )
    assert article.content is first.content
    assert (article.title, article.body, article.keywords) == (
        "Reset a password",
        "Steps.",
        ("pw",),
    )
    assert article.language == "en-GB"
    assert article.translation_group == article_id
    assert (article.published_at, article.published_version, article.revision) == (None, None, 1)
    assert (article.created_at, article.created_by) == (NOW, "ann")
    assert not article.is_published and not article.can_be_sent


def test_a_translation_joins_the_group_given() -> None:
    group = uuid.uuid4()
    story = draft(language="de", translation_group=group)
    assert story.article.translation_group == group
    assert story.article.translation_group != story.article.article_id


def test_a_draft_drops_repeated_attachments() -> None:
    attachment = Attachment(
        attachment_id=uuid.uuid4(),
        filename="a.pdf",
        content_type="application/pdf",
        size=10,
        sha256="0" * 64,
    )
    story = draft(attachments=(attachment, attachment))
    assert story.latest.content.attachments == (attachment,)


def test_a_draft_needs_an_aware_clock() -> None:
    with pytest.raises(KnowledgeValidationError):
        draft_article(
            article_id=uuid.uuid4(),
            number="KA-00001",
            language="en",
            content=make_content(title="T"),
            now=NAIVE,
        )


def test_a_draft_needs_a_readable_language() -> None:
    with pytest.raises(KnowledgeValidationError):
        draft(language="english!")


# --- editing --------------------------------------------------------------------------


def test_editing_a_draft_changes_it_in_place() -> None:
    story = draft()
    first = story.latest
    edited, events = story.article.edit(
        first, {"title": "  Refunds  and returns ", "keywords": ["a", "A"]}, author="bob", now=NOW
    )
    assert events == []
    assert edited is first
    assert (edited.version, edited.state, edited.author) == (1, VersionState.DRAFT, "bob")
    assert edited.content.title == "Refunds and returns"
    assert edited.content.keywords == ("a",)
    assert edited.content.body == "How refunds work."  # untouched fields are kept
    assert story.article.revision == 2
    # never published: the article shows its draft
    assert story.article.content is edited.content
    assert (story.article.version, story.article.latest_version) == (1, 1)


def test_editing_a_draft_keeps_its_author_when_none_is_given() -> None:
    story = draft()
    edited, _ = story.article.edit(story.latest, {"body": "New."}, author=None, now=NOW)
    assert edited.author == "ann"


def test_editing_a_published_article_writes_a_new_draft_version() -> None:
    story = published()
    v1 = story.latest
    revision = story.article.revision
    edited, events = story.article.edit(v1, {"title": "Refunds v2"}, author="bob", now=LATER)
    assert edited is not v1
    assert (edited.version, edited.state, edited.based_on, edited.author, edited.created_at) == (
        2,
        VersionState.DRAFT,
        1,
        "bob",
        LATER,
    )
    assert events == [
        ArticleVersioned(
            occurred_at=LATER,
            article_id=story.article.article_id,
            number="KA-00001",
            version=2,
            based_on=1,
            author="bob",
        )
    ]
    assert v1.state is VersionState.PUBLISHED and v1.content.title == "Refunds"
    # readers keep seeing the published version
    assert story.article.status is ArticleStatus.PUBLISHED
    assert (story.article.title, story.article.version, story.article.published_version) == (
        "Refunds",
        1,
        1,
    )
    assert story.article.latest_version == 2
    assert story.article.revision == revision + 1


def test_editing_a_pending_version_of_a_published_article_keeps_it_in_place() -> None:
    story = published()
    story.edit(title="Second")
    pending = story.latest
    assert story.edit(title="Second, again") == []
    assert story.latest is pending and pending.version == 2
    assert pending.content.title == "Second, again"
    assert story.article.title == "Refunds"


def test_an_unknown_field_is_refused_when_editing() -> None:
    story = draft()
    with pytest.raises(KnowledgeValidationError):
        story.edit(colour="red")
    assert story.article.revision == 1


def test_a_version_in_review_cannot_be_edited() -> None:
    story = draft()
    story.submit()
    with pytest.raises(ArticleStateError):
        story.edit(title="Sneaky")


def test_an_archived_article_cannot_be_edited() -> None:
    story = published()
    story.article.archive(by="ann", now=NOW)
    with pytest.raises(ArticleStateError):
        story.edit(title="Too late")


def test_editing_keeps_the_attachments() -> None:
    attachment = Attachment(
        attachment_id=uuid.uuid4(),
        filename="a.pdf",
        content_type="application/pdf",
        size=10,
        sha256="0" * 64,
    )
    story = draft(attachments=(attachment,))
    story.edit(title="Renamed")
    assert story.latest.content.attachments == (attachment,)


def test_a_stale_revision_is_refused() -> None:
    story = draft()
    story.article.require_revision(1)
    story.edit(body="Changed.")
    story.article.require_revision(2)
    with pytest.raises(StaleRevisionError):
        story.article.require_revision(1)
    with pytest.raises(ArticleStateError):
        story.article.require_revision(3)


# --- review ---------------------------------------------------------------------------


def test_submitting_a_draft_puts_it_in_review() -> None:
    story = draft()
    assert story.submit() == []
    assert story.latest.state is VersionState.IN_REVIEW
    assert story.latest.submitted_at == NOW
    assert story.article.status is ArticleStatus.IN_REVIEW
    assert story.article.revision == 2


def test_a_published_article_stays_published_while_a_version_is_in_review() -> None:
    story = published()
    story.edit(title="Second")
    story.submit()
    assert story.latest.state is VersionState.IN_REVIEW
    assert story.article.status is ArticleStatus.PUBLISHED
    assert story.article.title == "Refunds"


def test_an_empty_body_cannot_be_submitted() -> None:
    story = draft(body="   ")
    with pytest.raises(KnowledgeValidationError, match="no body"):
        story.submit()
    assert story.latest.state is VersionState.DRAFT


def test_a_version_is_submitted_once() -> None:
    story = draft()
    story.submit()
    with pytest.raises(ArticleStateError):
        story.submit()


def test_a_published_version_cannot_be_submitted() -> None:
    story = published()
    with pytest.raises(ArticleStateError):
        story.submit()


def test_approving_publishes_the_version_in_review() -> None:
    story = draft(public=True, category=" Billing / Refunds ")
    story.submit()
    events = story.approve(note="fine")
    v1 = story.latest
    assert (v1.state, v1.reviewed_by, v1.reviewed_at, v1.review_note, v1.published_at) == (
        VersionState.PUBLISHED,
        "rev",
        LATER,
        "fine",
        LATER,
    )
    a = story.article
    assert events == [
        ArticlePublished(
            occurred_at=LATER,
            article_id=a.article_id,
            number="KA-00001",
            version=1,
            title="Refunds",
            language="en",
            keywords=("refund",),
            translation_group=a.article_id,
            public=True,
            category="Billing/Refunds",
        )
    ]
    assert a.status is ArticleStatus.PUBLISHED and a.is_published and a.can_be_sent
    assert (a.published_at, a.published_version, a.version) == (LATER, 1, 1)
    assert a.content is v1.content


def test_approving_a_new_version_supersedes_the_published_one() -> None:
    story = published()
    v1 = story.latest
    story.edit(title="Refunds, revised", body="Better.")
    story.submit()
    events = story.approve()
    v2 = story.latest
    assert v1.state is VersionState.SUPERSEDED and v1.was_published
    assert v2.state is VersionState.PUBLISHED and v2.was_published
    assert (story.article.version, story.article.published_version) == (2, 2)
    assert (story.article.title, story.article.body) == ("Refunds, revised", "Better.")
    assert story.article.content is v2.content
    assert [type(e) for e in events] == [ArticlePublished]
    assert isinstance(events[0], ArticlePublished)
    assert (events[0].version, events[0].title) == (2, "Refunds, revised")


def test_a_reviewer_may_approve_a_draft_at_once() -> None:
    story = draft()
    events = story.approve()
    assert story.latest.state is VersionState.PUBLISHED
    assert story.latest.submitted_at is None and story.latest.reviewed_by == "rev"
    assert story.article.is_published
    assert len(events) == 1 and isinstance(events[0], ArticlePublished)


def test_there_is_nothing_to_approve_on_a_published_version() -> None:
    story = published()
    with pytest.raises(ArticleStateError):
        story.approve()


def test_an_empty_draft_cannot_be_approved() -> None:
    story = draft(body="")
    with pytest.raises(KnowledgeValidationError):
        story.approve()
    assert story.article.status is ArticleStatus.DRAFT


def test_an_archived_article_cannot_be_approved() -> None:
    story = draft()
    story.submit()
    story.article.archive(by="ann", now=NOW)
    with pytest.raises(ArticleStateError):
        story.approve()


def test_rejecting_sends_the_version_back_to_its_author() -> None:
    story = draft()
    story.submit()
    assert story.reject("too short") == []
    v1 = story.latest
    assert (v1.state, v1.reviewed_by, v1.reviewed_at, v1.review_note) == (
        VersionState.REJECTED,
        "rev",
        LATER,
        "too short",
    )
    assert story.article.status is ArticleStatus.DRAFT
    assert not v1.was_published


def test_rejecting_a_pending_version_keeps_the_article_published() -> None:
    story = published()
    story.edit(title="Second")
    story.submit()
    story.reject()
    assert story.latest.state is VersionState.REJECTED
    assert story.article.status is ArticleStatus.PUBLISHED
    assert story.published is not None and story.published.state is VersionState.PUBLISHED


def test_a_rejected_version_is_edited_and_submitted_again() -> None:
    story = draft()
    story.submit()
    story.reject()
    rejected = story.latest
    assert story.edit(body="Longer, better steps.") == []
    assert story.latest is rejected
    assert (rejected.version, rejected.state) == (1, VersionState.DRAFT)
    assert story.article.body == "Longer, better steps."
    story.submit()
    assert rejected.state is VersionState.IN_REVIEW
    assert story.article.status is ArticleStatus.IN_REVIEW
    story.approve()
    assert story.article.is_published and story.article.body == "Longer, better steps."


def test_only_a_version_in_review_is_rejected() -> None:
    story = draft()
    with pytest.raises(ArticleStateError):
        story.reject()
    story.approve()
    with pytest.raises(ArticleStateError):
        story.reject()


def test_rejecting_does_not_bring_an_archived_article_back() -> None:
    story = draft()
    story.submit()
    story.article.archive(by="ann", now=NOW)
    with contextlib.suppress(ArticleStateError):
        story.reject()
    assert story.article.status is ArticleStatus.ARCHIVED


# --- archiving ------------------------------------------------------------------------


def test_archiving_takes_the_article_out_of_sight() -> None:
    story = published(public=True)
    revision = story.article.revision
    assert story.article.archive(by="ann", now=LATER) == [
        ArticleArchived(
            occurred_at=LATER,
            article_id=story.article.article_id,
            number="KA-00001",
            archived_by="ann",
        )
    ]
    assert story.article.status is ArticleStatus.ARCHIVED
    assert not story.article.is_published and not story.article.can_be_sent
    assert story.article.published_version == 1
    assert story.article.revision == revision + 1
    with pytest.raises(ArticleStateError):
        story.article.archive(by="ann", now=LATER)


def test_restoring_a_published_article_publishes_it_again() -> None:
    story = published()
    story.edit(title="Pending")
    story.article.archive(by="ann", now=NOW)
    events = story.article.restore(story.latest, now=LATER)
    assert story.article.status is ArticleStatus.PUBLISHED
    assert events == [
        ArticlePublished(
            occurred_at=LATER,
            article_id=story.article.article_id,
            number="KA-00001",
            version=1,
            title="Refunds",
            language="en",
            keywords=("refund",),
            translation_group=story.article.article_id,
            public=False,
            category=None,
        )
    ]


def test_restoring_a_never_published_draft_makes_it_a_draft_again() -> None:
    story = draft()
    story.article.archive(by="ann", now=NOW)
    assert story.article.restore(story.latest, now=LATER) == []
    assert story.article.status is ArticleStatus.DRAFT


def test_restoring_a_never_published_article_in_review_puts_it_back_in_review() -> None:
    story = draft()
    story.submit()
    story.article.archive(by="ann", now=NOW)
    assert story.article.restore(story.latest, now=LATER) == []
    assert story.article.status is ArticleStatus.IN_REVIEW


def test_only_an_archived_article_is_restored() -> None:
    story = published()
    with pytest.raises(ArticleStateError):
        story.article.restore(story.latest, now=NOW)


# --- rolling back ---------------------------------------------------------------------


def test_rolling_back_publishes_an_earlier_version_as_a_new_one() -> None:
    story = three_published_versions()
    v1, v3 = story.versions[1], story.versions[3]
    assert story.published is v3
    events = story.roll_back(to=1)
    v4 = story.latest
    assert (v4.version, v4.state, v4.based_on, v4.published_at) == (
        4,
        VersionState.PUBLISHED,
        1,
        LATER,
    )
    assert v4.content == v1.content and v4.content.title == "One"
    assert (v4.author, v4.reviewed_by, v4.reviewed_at) == ("rev", "rev", LATER)
    assert v4.review_note == "rollback to version 1"
    assert v3.state is VersionState.SUPERSEDED
    assert v1.state is VersionState.SUPERSEDED  # it comes back as v4, not itself
    a = story.article
    assert (a.version, a.latest_version, a.published_version, a.title) == (4, 4, 4, "One")
    assert a.status is ArticleStatus.PUBLISHED
    assert [type(e) for e in events] == [ArticleVersioned, ArticlePublished]
    versioned, published_event = events
    assert (versioned.version, versioned.based_on, versioned.author) == (4, 1, "rev")
    assert (published_event.version, published_event.title) == (4, "One")


def test_rolling_back_supersedes_a_pending_draft() -> None:
    story = three_published_versions()
    story.edit(title="Four, pending")
    pending = story.latest
    assert pending.version == 4
    story.roll_back(to=2)
    v5 = story.latest
    assert (v5.version, v5.based_on, v5.content.title) == (5, 2, "Two")
    assert pending.state is VersionState.SUPERSEDED
    assert story.versions[3].state is VersionState.SUPERSEDED
    assert story.article.published_version == 5


def test_rolling_back_to_a_never_published_version_is_refused() -> None:
    story = published(title="One")
    story.edit(title="Two")
    story.submit()
    story.reject()
    story.edit(title="Two, again")
    with pytest.raises(ArticleStateError):
        story.roll_back(to=2)


def test_rolling_back_to_the_published_version_is_refused() -> None:
    story = three_published_versions()
    with pytest.raises(ArticleStateError):
        story.roll_back(to=3)


def test_an_archived_article_is_not_rolled_back() -> None:
    story = three_published_versions()
    story.article.archive(by="ann", now=NOW)
    with pytest.raises(ArticleStateError):
        story.roll_back(to=1)


def test_a_draft_superseded_by_a_rollback_was_never_published() -> None:
    story = three_published_versions()
    story.edit(title="Four, never reviewed")
    story.roll_back(to=2)
    pending = story.versions[4]
    assert pending.published_at is None
    assert not pending.was_published
    with pytest.raises(ArticleStateError):
        story.roll_back(to=4)


# --- cases, translations, clocks ------------------------------------------------------


def test_only_published_articles_are_linked_to_cases() -> None:
    case_id, agent = uuid.uuid4(), uuid.uuid4()
    story = draft()
    with pytest.raises(ArticleStateError):
        story.article.link_to_case(case_id=case_id, linked_by=agent, now=NOW)
    story.submit()
    with pytest.raises(ArticleStateError):
        story.article.link_to_case(case_id=case_id, linked_by=agent, now=NOW)
    story.approve()
    assert story.article.link_to_case(case_id=case_id, linked_by=agent, now=NOW) == [
        ArticleLinked(
            occurred_at=NOW,
            case_id=case_id,
            article_id=story.article.article_id,
            number="KA-00001",
            linked_by=agent,
        )
    ]
    story.article.archive(by=None, now=NOW)
    with pytest.raises(ArticleStateError):
        story.article.link_to_case(case_id=case_id, linked_by=agent, now=NOW)


def test_can_be_sent_needs_published_and_public() -> None:
    assert not draft(public=True).article.can_be_sent
    assert not published(public=False).article.can_be_sent
    assert published(public=True).article.can_be_sent


def translations() -> dict[str, Article]:
    """An English original and its translations, all published and public."""
    original = published("KA-00001", language="en", public=True).article
    group = original.translation_group
    return {
        "en": original,
        **{
            tag: published(
                f"KA-0000{i}", language=tag, public=True, translation_group=group
            ).article
            for i, tag in enumerate(["pt", "de-AT", "fr"], start=2)
        },
    }


@pytest.mark.parametrize(
    ("wanted", "found"),
    [
        ("pt", "pt"),
        ("pt-BR", "pt"),
        ("PT-br", "pt"),
        ("de-AT", "de-AT"),
        ("de", "de-AT"),
        ("fr-CA", "fr"),
        ("en", "en"),
        ("ja", "en"),
        (None, "en"),
        ("", "en"),
    ],
)
def test_the_nearest_translation(wanted: str | None, found: str) -> None:
    by_tag = translations()
    # the original comes last, to show it is chosen for being the original
    articles = [by_tag["fr"], by_tag["de-AT"], by_tag["pt"], by_tag["en"]]
    assert nearest_translation(articles, wanted) is by_tag[found]


def test_the_exact_tag_wins_over_the_primary_language() -> None:
    group = uuid.uuid4()
    pt = published("KA-00002", language="pt", public=True, translation_group=group).article
    pt_br = published("KA-00003", language="pt-BR", public=True, translation_group=group).article
    assert nearest_translation([pt, pt_br], "pt-BR") is pt_br
    assert nearest_translation([pt_br, pt], "pt") is pt


def test_translations_that_cannot_be_sent_are_skipped() -> None:
    by_tag = translations()
    hidden_pt = published(
        "KA-00008", language="pt-BR", public=False, translation_group=by_tag["en"].article_id
    ).article
    draft_pt = draft(
        "KA-00009", language="pt-BR", public=True, translation_group=by_tag["en"].article_id
    ).article
    assert nearest_translation([hidden_pt, draft_pt, by_tag["en"]], "pt-BR") is by_tag["en"]
    by_tag["en"].archive(by=None, now=NOW)
    assert nearest_translation([hidden_pt, draft_pt, by_tag["en"]], "pt-BR") is None
    assert nearest_translation([], "en") is None


def test_without_the_original_the_first_usable_translation_is_chosen() -> None:
    by_tag = translations()
    articles = [by_tag["fr"], by_tag["de-AT"]]
    assert nearest_translation(articles, "ja") is by_tag["fr"]


def naive_commands() -> list[Any]:
    def edit(s: Story) -> Any:
        return s.article.edit(s.latest, {"title": "X"}, author=None, now=NAIVE)

    def submit(s: Story) -> Any:
        return s.article.submit(s.latest, now=NAIVE)

    def approve(s: Story) -> Any:
        return s.article.approve(s.latest, published=None, reviewer=None, now=NAIVE)

    def reject(s: Story) -> Any:
        s.submit()
        return s.article.reject(s.latest, reviewer=None, note=None, now=NAIVE)

    def archive(s: Story) -> Any:
        return s.article.archive(by=None, now=NAIVE)

    def restore(s: Story) -> Any:
        s.article.archive(by=None, now=NOW)
        return s.article.restore(s.latest, now=NAIVE)

    def link(s: Story) -> Any:
        s.approve()
        return s.article.link_to_case(case_id=uuid.uuid4(), linked_by=None, now=NAIVE)

    return [
        pytest.param(f, id=f.__name__)
        for f in (edit, submit, approve, reject, archive, restore, link)
    ]


@pytest.mark.parametrize("command", naive_commands())
def test_commands_need_an_aware_clock(command: Any) -> None:
    with pytest.raises(KnowledgeValidationError, match="timezone"):
        command(draft())


def test_rolling_back_needs_an_aware_clock() -> None:
    story = three_published_versions()
    with pytest.raises(KnowledgeValidationError, match="timezone"):
        story.article.roll_back(
            story.versions[1],
            latest=story.latest,
            published=story.published,
            reviewer=None,
            now=NAIVE,
        )


# --- suggestions ----------------------------------------------------------------------


def test_suggest_the_three_best_published_matches() -> None:
    case_id = uuid.uuid4()
    a, b, c, d = (published(f"KA-0000{i}", f"Article {i}").article for i in range(1, 5))
    unpublished = draft("KA-00009").article
    matches = [
        Match(a, 0.2),
        Match(b, 0.9),
        Match(unpublished, 1.0),
        Match(d, 0.5),
        Match(c, 0.5),
    ]
    suggested = suggest_articles(case_id=case_id, matches=matches, now=NOW)
    assert suggested is not None and suggested.case_id == case_id
    assert suggested.occurred_at == NOW
    assert suggested.suggestions == (
        Suggestion(article_id=b.article_id, number="KA-00002", title="Article 2", score=0.9),
        Suggestion(article_id=c.article_id, number="KA-00003", title="Article 3", score=0.5),
        Suggestion(article_id=d.article_id, number="KA-00004", title="Article 4", score=0.5),
    )


def test_nothing_is_suggested_without_a_published_match() -> None:
    assert suggest_articles(case_id=uuid.uuid4(), matches=[], now=NOW) is None
    unpublished = draft().article
    assert (
        suggest_articles(case_id=uuid.uuid4(), matches=[Match(unpublished, 1.0)], now=NOW) is None
    )
    archived = published().article
    archived.archive(by=None, now=NOW)
    assert suggest_articles(case_id=uuid.uuid4(), matches=[Match(archived, 1.0)], now=NOW) is None
