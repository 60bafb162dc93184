"""What changed between two versions of an article: its fields and its body, line by line."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from itertools import islice
from typing import TypeVar

from knowledge.domain.article import ArticleVersion

_T = TypeVar("_T")


@dataclass(frozen=True)
class FieldChange:
    """A field other than the body whose value differs, both values shown as text."""

    field: str
    before: str
    after: str


@dataclass(frozen=True)
class VersionDiff:
    """The changed fields and the unified diff of the body between two versions."""

    from_version: int
    to_version: int
    changes: tuple[FieldChange, ...]
    body_diff: tuple[str, ...]


def diff_versions(older: ArticleVersion, newer: ArticleVersion) -> VersionDiff:
    """Compare two versions of an article."""
    before, after = older.content, newer.content
    candidates = (
        _change("title", before.title, after.title, str),
        _change("keywords", before.keywords, after.keywords, _joined),
        _change("category", before.category, after.category, _optional),
        _change("products", before.products, after.products, _joined),
        _change("public", before.public, after.public, _yes_no),
        _change("review_on", before.review_on, after.review_on, _iso_date),
    )
    return VersionDiff(
        from_version=older.version,
        to_version=newer.version,
        changes=tuple(change for change in candidates if change is not None),
        body_diff=_body_diff(before.body, after.body),
    )


def _change(field: str, before: _T, after: _T, show: Callable[[_T], str]) -> FieldChange | None:
    """The change of one field, or None when its value is the same."""
    return None if before == after else FieldChange(field, show(before), show(after))


def _body_diff(before: str, after: str) -> tuple[str, ...]:
    """Unified-diff lines of the body, hunk headers kept, file headers left out."""
    lines = difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="")
    return tuple(islice(lines, 2, None))


def _joined(values: tuple[str, ...]) -> str:
    """Several values as one comma-separated line."""
    return ", ".join(values)


def _optional(value: str | None) -> str:
    """A missing value as an empty string."""
    return value or ""


def _yes_no(value: bool) -> str:
    """A flag as "yes" or "no"."""
    return "yes" if value else "no"


def _iso_date(value: date | None) -> str:
    """A date in ISO form, a missing one as an empty string."""
    return value.isoformat() if value else ""
