"""The knowledge service's tables (plus the kit's outbox and inbox).

Articles carry a generated `search_vector` for PostgreSQL's built-in full-text search, under a
GIN index: title and keywords weigh more (A) than the body (B). English articles are stemmed
with the `english` configuration; articles in other languages use `simple`, which only
lower-cases words, rather than being stemmed by rules of the wrong language.
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    Computed,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Sequence,
    String,
    Table,
    Text,
    Uuid,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, TSVECTOR

from caseflow_servicekit import new_metadata

metadata = new_metadata()

article_number_seq = Sequence("article_number_seq", metadata=metadata, start=1)

IS_ENGLISH = "split_part(language, '-', 1) = 'en'"
"""Whether an article is in English ("en", "en-GB", ...), as an SQL expression."""

TEXT_SEARCH_CONFIG = (
    f"CASE WHEN {IS_ENGLISH} THEN 'english'::regconfig ELSE 'simple'::regconfig END"
)
"""The text search configuration of an article, from its language (an SQL expression)."""

_SEARCH_VECTOR = (
    f"setweight(to_tsvector({TEXT_SEARCH_CONFIG}, title), 'A') || "
    f"setweight(to_tsvector({TEXT_SEARCH_CONFIG}, keywords), 'A') || "
    f"setweight(to_tsvector({TEXT_SEARCH_CONFIG}, body), 'B')"
)

articles = Table(
    "articles",
    metadata,
    Column("article_id", Uuid, primary_key=True),
    Column("number", String(32), nullable=False, unique=True),
    Column("title", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("language", String(35), nullable=False),
    # A JSON array of strings: to_tsvector reads its string values, and stays immutable as a
    # generated column needs (array_to_string over text[] would not).
    Column("keywords", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    Column("status", String(16), nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("published_at", DateTime(timezone=True), nullable=True),
    Column("search_vector", TSVECTOR, Computed(_SEARCH_VECTOR, persisted=True), nullable=False),
    Index("ix_articles_search_vector", "search_vector", postgresql_using="gin"),
)

article_links = Table(
    "article_links",
    metadata,
    Column("case_id", Uuid, primary_key=True),
    Column("article_id", Uuid, ForeignKey("articles.article_id"), primary_key=True),
    Column("linked_at", DateTime(timezone=True), nullable=False),
    Column("linked_by", Uuid, nullable=True),
)
