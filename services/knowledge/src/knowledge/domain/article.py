"""Knowledge articles: drafted, reviewed, published, archived; every version of their content
kept.

An `Article` is one article in one language. Its content lives in numbered `ArticleVersion`s:
editing a draft changes it in place, editing a published article writes a new draft version,
which replaces the published one when a reviewer approves it. The article carries the content
readers see: the published version's, or the latest version's while it was never published.

Commands change the article (and the versions they are given) and return the events that
describe the change.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from knowledge.domain.errors import (
    ArticleStateError,
    KnowledgeValidationError,
    StaleRevisionError,
)
from knowledge.domain.events import (
    ArticleArchived,
    ArticleLinked,
    ArticlePublished,
    ArticleVersioned,
    KnowledgeEvent,
)

MAX_TITLE_LENGTH = 300
MAX_BODY_LENGTH = 200_000
MAX_KEYWORDS = 20
MAX_KEYWORD_LENGTH = 100
MAX_PRODUCTS = 20
MAX_CATEGORY_DEPTH = 6
MAX_ATTACHMENTS = 20
# A BCP 47 tag, loosely: a primary language and optional subtags ("en", "en-GB", "pt-BR").
_LANGUAGE = re.compile(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*")


class ArticleStatus(StrEnum):
    """Where an article stands in its lifecycle."""

    DRAFT = "draft"
    IN_REVIEW = "in_review"
    PUBLISHED = "published"
    ARCHIVED = "archived"


class VersionState(StrEnum):
    """Where one version of an article's content stands."""

    DRAFT = "draft"
    IN_REVIEW = "in_review"
    PUBLISHED = "published"
    SUPERSEDED = "superseded"
    """Was published; a later version replaced it."""
    REJECTED = "rejected"
    """A reviewer sent it back; its author may edit and submit it again."""


_EDITABLE = frozenset({VersionState.DRAFT, VersionState.REJECTED})


@dataclass(frozen=True, kw_only=True)
class Attachment:
    """A file that goes with an article: a reference to a stored blob, never its bytes."""

    attachment_id: UUID
    filename: str
    content_type: str
    size: int
    sha256: str


@dataclass(frozen=True, kw_only=True)
class Content:
    """What one version of an article says, and how it is filed."""

    title: str
    body: str
    keywords: tuple[str, ...] = ()
    category: str | None = None
    """A path in the subject tree, such as ``Printers/Toner``."""
    products: tuple[str, ...] = ()
    public: bool = False
    """Whether the article may be sent to customers."""
    review_on: date | None = None
    """When the article should be reviewed again (or expires)."""
    attachments: tuple[Attachment, ...] = ()


CONTENT_FIELDS = frozenset(f.name for f in dataclasses.fields(Content))


def make_content(**fields: Any) -> Content:
    """Content with its fields checked and tidied."""
    unknown = set(fields) - CONTENT_FIELDS
    if unknown:
        raise KnowledgeValidationError(f"unknown fields: {', '.join(sorted(unknown))}")
    title = " ".join(str(fields.get("title") or "").split())
    if not title:
        raise KnowledgeValidationError("an article needs a title")
    if len(title) > MAX_TITLE_LENGTH:
        raise KnowledgeValidationError(f"a title has at most {MAX_TITLE_LENGTH} characters")
    body = str(fields.get("body") or "").strip()
    if len(body) > MAX_BODY_LENGTH:
        raise KnowledgeValidationError(f"a body has at most {MAX_BODY_LENGTH} characters")
    products = tidy_keywords(fields.get("products", ()), what="product", most=MAX_PRODUCTS)
    attachments = tuple(fields.get("attachments", ()))
    if len(attachments) > MAX_ATTACHMENTS:
        raise KnowledgeValidationError(f"an article has at most {MAX_ATTACHMENTS} attachments")
    return Content(
        title=title,
        body=body,
        keywords=tidy_keywords(fields.get("keywords", ())),
        category=tidy_category(fields.get("category")),
        products=products,
        public=bool(fields.get("public", False)),
        review_on=fields.get("review_on"),
        attachments=attachments,
    )


@dataclass(eq=False, kw_only=True)
class ArticleVersion:
    """One numbered version of an article's content, with who wrote and reviewed it."""

    version: int
    state: VersionState
    content: Content
    created_at: datetime
    author: str | None = None
    based_on: int | None = None
    """The version this one was written from (a rollback's: the version it brings back)."""
    submitted_at: datetime | None = None
    reviewed_by: str | None = None
    reviewed_at: datetime | None = None
    review_note: str | None = None
    published_at: datetime | None = None

    @property
    def was_published(self) -> bool:
        """Whether readers ever saw this version (a draft a rollback superseded they did not)."""
        return self.published_at is not None


@dataclass(eq=False, kw_only=True)
class Article:
    """A piece of knowledge in one language, that helps agents resolve cases."""

    article_id: UUID
    number: str
    language: str
    translation_group: UUID
    """The same article in other languages shares it (the first article's id)."""
    status: ArticleStatus
    content: Content
    version: int
    """The version whose content the article carries."""
    latest_version: int
    created_at: datetime
    created_by: str | None = None
    published_at: datetime | None = None
    revision: int = 1
    """Counts the changes to the article: what `If-Match` names."""
    published_version: int | None = field(default=None)
    """The version readers see, while the article is published or archived after it was."""

    @property
    def title(self) -> str:
        return self.content.title

    @property
    def body(self) -> str:
        return self.content.body

    @property
    def keywords(self) -> tuple[str, ...]:
        return self.content.keywords

    @property
    def is_published(self) -> bool:
        """Whether readers can find and use the article."""
        return self.status is ArticleStatus.PUBLISHED

    @property
    def can_be_sent(self) -> bool:
        """Whether the article may go to a customer."""
        return self.is_published and self.content.public

    def require_revision(self, expected: int) -> None:
        """Refuse a change made against an older revision than the article's."""
        if expected != self.revision:
            raise StaleRevisionError(
                f"article {self.number} is at revision {self.revision}, not {expected}"
            )

    def edit(
        self, latest: ArticleVersion, changes: dict[str, Any], *, author: str | None, now: datetime
    ) -> tuple[ArticleVersion, list[KnowledgeEvent]]:
        """Apply `changes` to the content: in place on an editable draft, else in a new draft
        version written from the latest one. Returns the version edited."""
        _require_aware(now)
        self._require_latest(latest)
        if self.status is ArticleStatus.ARCHIVED:
            raise ArticleStateError(f"article {self.number} is archived; restore it first")
        if latest.state is VersionState.IN_REVIEW:
            raise ArticleStateError(
                f"version {latest.version} of {self.number} is in review; "
                "a reviewer approves or rejects it first"
            )
        held = {name: getattr(latest.content, name) for name in CONTENT_FIELDS}
        content = make_content(**{**held, **changes})
        content = dataclasses.replace(content, attachments=_attachments(content.attachments))
        events: list[KnowledgeEvent] = []
        if latest.state in _EDITABLE:
            latest.content = content
            latest.state = VersionState.DRAFT
            latest.author = author or latest.author
            edited = latest
        else:
            edited = ArticleVersion(
                version=latest.version + 1,
                state=VersionState.DRAFT,
                content=content,
                created_at=now,
                author=author,
                based_on=latest.version,
            )
            self.latest_version = edited.version
            events.append(self._versioned(edited, now=now))
        if self.published_version is None:
            # Never published: the article shows its draft to those who may see drafts.
            self.content = content
            self.version = edited.version
        self.revision += 1
        return edited, events

    def submit(self, latest: ArticleVersion, *, now: datetime) -> list[KnowledgeEvent]:
        """Put the latest version up for review."""
        _require_aware(now)
        self._require_latest(latest)
        if self.status is ArticleStatus.ARCHIVED:
            raise ArticleStateError(f"article {self.number} is archived; restore it first")
        if latest.state not in _EDITABLE:
            raise ArticleStateError(
                f"version {latest.version} of {self.number} is {latest.state}, not a draft"
            )
        _require_body(self.number, latest.content)
        latest.state = VersionState.IN_REVIEW
        latest.submitted_at = now
        if self.published_version is None:
            self.status = ArticleStatus.IN_REVIEW
        self.revision += 1
        return []

    def approve(
        self,
        latest: ArticleVersion,
        *,
        published: ArticleVersion | None,
        reviewer: str | None,
        now: datetime,
        note: str | None = None,
    ) -> list[KnowledgeEvent]:
        """Publish the latest version (in review, or a draft a reviewer publishes at once);
        the version published before is superseded."""
        _require_aware(now)
        self._require_latest(latest)
        if self.status is ArticleStatus.ARCHIVED:
            raise ArticleStateError(f"article {self.number} is archived; restore it first")
        if latest.state not in (VersionState.IN_REVIEW, *_EDITABLE):
            raise ArticleStateError(
                f"version {latest.version} of {self.number} is {latest.state}: "
                "there is nothing to approve"
            )
        _require_body(self.number, latest.content)
        latest.reviewed_by = reviewer
        latest.reviewed_at = now
        latest.review_note = note
        return self._publish(latest, published=published, now=now)

    def reject(
        self, latest: ArticleVersion, *, reviewer: str | None, note: str | None, now: datetime
    ) -> list[KnowledgeEvent]:
        """Send the version in review back to its author."""
        _require_aware(now)
        self._require_latest(latest)
        if self.status is ArticleStatus.ARCHIVED:
            raise ArticleStateError(f"article {self.number} is archived; restore it first")
        if latest.state is not VersionState.IN_REVIEW:
            raise ArticleStateError(
                f"version {latest.version} of {self.number} is {latest.state}, not in review"
            )
        latest.state = VersionState.REJECTED
        latest.reviewed_by = reviewer
        latest.reviewed_at = now
        latest.review_note = note
        if self.published_version is None:
            self.status = ArticleStatus.DRAFT
        self.revision += 1
        return []

    def archive(self, *, by: str | None, now: datetime) -> list[KnowledgeEvent]:
        """Take the article out of readers' sight; its versions stay."""
        _require_aware(now)
        if self.status is ArticleStatus.ARCHIVED:
            raise ArticleStateError(f"article {self.number} is archived already")
        self.status = ArticleStatus.ARCHIVED
        self.revision += 1
        return [
            ArticleArchived(
                occurred_at=now, article_id=self.article_id, number=self.number, archived_by=by
            )
        ]

    def restore(self, latest: ArticleVersion, *, now: datetime) -> list[KnowledgeEvent]:
        """Bring an archived article back: published again if it was, else as it stood."""
        _require_aware(now)
        self._require_latest(latest)
        if self.status is not ArticleStatus.ARCHIVED:
            raise ArticleStateError(f"article {self.number} is {self.status}, not archived")
        self.revision += 1
        if self.published_version is not None:
            self.status = ArticleStatus.PUBLISHED
            return [self._published(now=now)]
        self.status = (
            ArticleStatus.IN_REVIEW
            if latest.state is VersionState.IN_REVIEW
            else ArticleStatus.DRAFT
        )
        return []

    def roll_back(
        self,
        target: ArticleVersion,
        *,
        latest: ArticleVersion,
        published: ArticleVersion | None,
        reviewer: str | None,
        now: datetime,
    ) -> tuple[ArticleVersion, list[KnowledgeEvent]]:
        """Publish an earlier version's content again, as a new version; a draft waiting
        above it is superseded with the version published before."""
        _require_aware(now)
        self._require_latest(latest)
        if self.status is ArticleStatus.ARCHIVED:
            raise ArticleStateError(f"article {self.number} is archived; restore it first")
        if not target.was_published:
            raise ArticleStateError(
                f"version {target.version} of {self.number} was never published"
            )
        if published is not None and target.version == published.version:
            raise ArticleStateError(f"version {target.version} of {self.number} is published")
        if latest.state in (*_EDITABLE, VersionState.IN_REVIEW):
            latest.state = VersionState.SUPERSEDED
        again = ArticleVersion(
            version=latest.version + 1,
            state=VersionState.DRAFT,
            content=target.content,
            created_at=now,
            author=reviewer,
            based_on=target.version,
            reviewed_by=reviewer,
            reviewed_at=now,
            review_note=f"rollback to version {target.version}",
        )
        self.latest_version = again.version
        events: list[KnowledgeEvent] = [self._versioned(again, now=now)]
        events += self._publish(again, published=published, now=now)
        return again, events

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

    def _publish(
        self, version: ArticleVersion, *, published: ArticleVersion | None, now: datetime
    ) -> list[KnowledgeEvent]:
        if published is not None and published is not version:
            published.state = VersionState.SUPERSEDED
        version.state = VersionState.PUBLISHED
        version.published_at = now
        self.status = ArticleStatus.PUBLISHED
        self.content = version.content
        self.version = version.version
        self.published_version = version.version
        self.published_at = now
        self.revision += 1
        return [self._published(now=now)]

    def _published(self, *, now: datetime) -> ArticlePublished:
        return ArticlePublished(
            occurred_at=now,
            article_id=self.article_id,
            number=self.number,
            version=self.version,
            title=self.content.title,
            language=self.language,
            keywords=self.content.keywords,
            translation_group=self.translation_group,
            public=self.content.public,
            category=self.content.category,
        )

    def _versioned(self, version: ArticleVersion, *, now: datetime) -> ArticleVersioned:
        return ArticleVersioned(
            occurred_at=now,
            article_id=self.article_id,
            number=self.number,
            version=version.version,
            based_on=version.based_on,
            author=version.author,
        )

    def _require_latest(self, latest: ArticleVersion) -> None:
        if latest.version != self.latest_version:
            msg = f"version {latest.version} is not the latest of {self.number}"
            raise AssertionError(msg)


def draft_article(
    *,
    article_id: UUID,
    number: str,
    language: str,
    content: Content,
    now: datetime,
    author: str | None = None,
    translation_group: UUID | None = None,
) -> tuple[Article, ArticleVersion]:
    """A new article and its first version, a draft."""
    _require_aware(now)
    first = ArticleVersion(
        version=1,
        state=VersionState.DRAFT,
        content=dataclasses.replace(content, attachments=_attachments(content.attachments)),
        created_at=now,
        author=author,
    )
    article = Article(
        article_id=article_id,
        number=number,
        language=normalize_language(language),
        translation_group=translation_group or article_id,
        status=ArticleStatus.DRAFT,
        content=first.content,
        version=1,
        latest_version=1,
        created_at=now,
        created_by=author,
    )
    return article, first


def nearest_translation(articles: list[Article], language: str | None) -> Article | None:
    """Of one article's translations that may be sent, the one for `language`: the same tag,
    else the same primary language, else the first written."""
    usable = [a for a in articles if a.can_be_sent]
    if not usable:
        return None
    if language:
        wanted = language.casefold()
        primary = wanted.split("-", 1)[0]
        same = [a for a in usable if a.language.casefold() == wanted]
        kin = [a for a in usable if a.language.casefold().split("-", 1)[0] == primary]
        if same or kin:
            return (same or kin)[0]
    original = [a for a in usable if a.article_id == a.translation_group]
    return (original or usable)[0]


def normalize_language(tag: str) -> str:
    """A language tag with a lower-case primary language: "EN-GB" becomes "en-GB"."""
    tag = tag.strip()
    if not _LANGUAGE.fullmatch(tag):
        raise KnowledgeValidationError(f"{tag!r} is not a language tag like 'en' or 'pt-BR'")
    primary, _, rest = tag.partition("-")
    return f"{primary.lower()}-{rest}" if rest else primary.lower()


def tidy_keywords(
    keywords: tuple[str, ...] | list[str], *, what: str = "keyword", most: int = MAX_KEYWORDS
) -> tuple[str, ...]:
    """Words without blanks or repeats (ignoring case), in the order given."""
    seen: set[str] = set()
    tidy: list[str] = []
    for keyword in keywords:
        word = " ".join(str(keyword).split())
        if not word or word.casefold() in seen:
            continue
        if len(word) > MAX_KEYWORD_LENGTH:
            raise KnowledgeValidationError(f"a {what} has at most {MAX_KEYWORD_LENGTH} characters")
        seen.add(word.casefold())
        tidy.append(word)
    if len(tidy) > most:
        raise KnowledgeValidationError(f"an article has at most {most} {what}s")
    return tuple(tidy)


def tidy_category(category: str | None) -> str | None:
    """A category path with its parts trimmed: `` Printers / Toner `` is ``Printers/Toner``."""
    if category is None:
        return None
    parts = [" ".join(part.split()) for part in str(category).split("/")]
    parts = [part for part in parts if part]
    if not parts:
        return None
    if len(parts) > MAX_CATEGORY_DEPTH or any(len(p) > MAX_KEYWORD_LENGTH for p in parts):
        raise KnowledgeValidationError(
            f"a category has at most {MAX_CATEGORY_DEPTH} levels of {MAX_KEYWORD_LENGTH} characters"
        )
    return "/".join(parts)


def _attachments(attachments: tuple[Attachment, ...]) -> tuple[Attachment, ...]:
    seen: set[UUID] = set()
    kept: list[Attachment] = []
    for attachment in attachments:
        if attachment.attachment_id not in seen:
            seen.add(attachment.attachment_id)
            kept.append(attachment)
    return tuple(kept)


def _require_body(number: str, content: Content) -> None:
    if not content.body.strip():
        raise KnowledgeValidationError(f"article {number} has no body to publish")


def _require_aware(now: datetime) -> None:
    if now.tzinfo is None or now.utcoffset() is None:
        raise KnowledgeValidationError("now must carry a timezone")
