"""Differences between article versions: changed fields and the body's unified diff."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

import pytest

from knowledge.domain.article import ArticleVersion, Content, VersionState
from knowledge.domain.diff import FieldChange, diff_versions

pytestmark = pytest.mark.unit

CONTENT = Content(
    title="Refunds",
    body="How refunds work.\nAsk the customer for the order.\nRefund within 14 days.",
    keywords=("refund", "money"),
    category="Billing",
    products=("Shop",),
    public=True,
    review_on=date(2026, 9, 1),
)


def v(version: int = 1, **changes: Any) -> ArticleVersion:
    """Version `version` of the article, its content changed by `changes`."""
    return ArticleVersion(
        version=version,
        state=VersionState.DRAFT,
        content=replace(CONTENT, **changes),
        created_at=datetime(2026, 5, 4, tzinfo=UTC),
    )


V1 = v()


def test_unchanged_content_has_no_changes_and_no_body_diff() -> None:
    diff = diff_versions(V1, v(2))

    assert (diff.from_version, diff.to_version) == (1, 2)
    assert diff.changes == ()
    assert diff.body_diff == ()


def test_a_new_title_is_a_field_change() -> None:
    diff = diff_versions(V1, v(2, title="Refunds and returns"))

    assert diff.changes == (FieldChange("title", "Refunds", "Refunds and returns"),)
    assert diff.body_diff == ()


def test_a_changed_body_line_shows_as_removed_and_added() -> None:
    body = CONTENT.body.replace("14 days", "30 days")

    diff = diff_versions(V1, v(2, body=body))

    assert diff.changes == ()
    assert diff.body_diff[0].startswith("@@")
    assert "-Refund within 14 days." in diff.body_diff
    assert "+Refund within 30 days." in diff.body_diff
    assert " Ask the customer for the order." in diff.body_diff
    assert not any(line.startswith(("---", "+++")) for line in diff.body_diff)


def test_a_removed_line_that_looks_like_a_header_is_kept() -> None:
    diff = diff_versions(v(1, body="text\n-- signature"), v(1, body="text"))

    assert diff.body_diff == ("@@ -1,2 +1 @@", " text", "--- signature")


def test_keywords_are_compared_and_shown_joined() -> None:
    diff = diff_versions(V1, v(1, keywords=("refund", "returns", "money")))

    assert diff.changes == (FieldChange("keywords", "refund, money", "refund, returns, money"),)


def test_the_other_fields_are_shown_as_text_in_order() -> None:
    after = v(1, category=None, products=("Shop", "App"), public=False, review_on=None)

    diff = diff_versions(V1, after)

    assert diff.changes == (
        FieldChange("category", "Billing", ""),
        FieldChange("products", "Shop", "Shop, App"),
        FieldChange("public", "yes", "no"),
        FieldChange("review_on", "2026-09-01", ""),
    )
