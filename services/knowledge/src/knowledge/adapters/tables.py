"""The knowledge service's tables (plus the kit's outbox and inbox).

An article is one row of `articles` in one language, and every version of its content is a row
of `article_versions`. The article row carries the content readers search: the published
version's, or the latest version's while it was never published.

Search runs on PostgreSQL. A generated `search_vector` holds the title and keywords (weight A)
and the body (B), each stemmed by the text search configuration of the article's language
(`kb_config`): `kb_english`, `kb_russian`, `kb_portuguese` (each unaccented, then stemmed),
`kb_lithuanian` (stemmed, its letters kept: the stemmer needs them), and `kb_czech` (unaccented
words, as PostgreSQL has no Czech stemmer). Titles and keywords, folded to lower case without
accents (`kb_fold`), carry trigram indexes for typos and prefixes. `embedding` holds the
article's sentence embedding when semantic ranking is on.
"""

from __future__ import annotations

from pgvector.sqlalchemy import VECTOR
from sqlalchemy import (
    Boolean,
    Column,
    Computed,
    Date,
    DateTime,
    Double,
    ForeignKey,
    Index,
    Integer,
    Sequence,
    SmallInteger,
    String,
    Table,
    Text,
    Uuid,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TSVECTOR

from caseflow_servicekit import new_metadata

metadata = new_metadata()

article_number_seq = Sequence("article_number_seq", metadata=metadata, start=1)

EMBEDDING_DIMENSIONS = 384
"""The length of a sentence embedding (all-MiniLM-L6-v2)."""

LANGUAGE_GROUP = (
    "CASE split_part(lower(language), '-', 1) "
    "WHEN 'en' THEN 'en' WHEN 'ru' THEN 'ru' WHEN 'lt' THEN 'lt' WHEN 'pt' THEN 'pt' "
    "WHEN 'cs' THEN 'cs' ELSE 'other' END"
)
"""Which text search configuration an article's language takes, as an SQL expression."""

_SEARCH_VECTOR = (
    "setweight(to_tsvector(kb_config(language), title), 'A') || "
    "setweight(to_tsvector(kb_config(language), keywords), 'A') || "
    "setweight(to_tsvector(kb_config(language), body), 'B')"
)

articles = Table(
    "articles",
    metadata,
    Column("article_id", Uuid, primary_key=True),
    Column("number", String(32), nullable=False, unique=True),
    Column("translation_group", Uuid, nullable=False, index=True),
    Column("title", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("language", String(35), nullable=False),
    Column("language_group", String(8), Computed(LANGUAGE_GROUP, persisted=True), nullable=False),
    # A JSON array of strings: to_tsvector reads its string values, and stays immutable as a
    # generated column needs (array_to_string over text[] would not).
    Column("keywords", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    Column("category", Text, nullable=True),
    Column("products", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    Column("public", Boolean, nullable=False, server_default=text("false")),
    Column("review_on", Date, nullable=True),
    Column("attachments", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    Column("status", String(16), nullable=False),
    # The version whose content the row carries.
    Column("version", Integer, nullable=False),
    Column("latest_version", Integer, nullable=False, server_default=text("1")),
    # Counts the article's changes: its ETag.
    Column("revision", Integer, nullable=False, server_default=text("1")),
    Column("created_by", Text, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("published_at", DateTime(timezone=True), nullable=True),
    Column("views", Integer, nullable=False, server_default=text("0")),
    Column("helpful", Integer, nullable=False, server_default=text("0")),
    Column("unhelpful", Integer, nullable=False, server_default=text("0")),
    Column("sent", Integer, nullable=False, server_default=text("0")),
    Column("search_vector", TSVECTOR, Computed(_SEARCH_VECTOR, persisted=True), nullable=False),
    Column("folded_title", Text, Computed("kb_fold(title)", persisted=True), nullable=False),
    Column(
        "folded_keywords",
        Text,
        Computed("kb_fold(keywords_text(keywords))", persisted=True),
        nullable=False,
    ),
    Column(
        "category_paths",
        ARRAY(Text),
        Computed("kb_category_paths(category)", persisted=True),
        nullable=False,
    ),
    Column("embedding", VECTOR(EMBEDDING_DIMENSIONS), nullable=True),
    Index("ix_articles_search_vector", "search_vector", postgresql_using="gin"),
    Index(
        "ix_articles_folded_title_trgm",
        "folded_title",
        postgresql_using="gin",
        postgresql_ops={"folded_title": "gin_trgm_ops"},
    ),
    Index(
        "ix_articles_folded_keywords_trgm",
        "folded_keywords",
        postgresql_using="gin",
        postgresql_ops={"folded_keywords": "gin_trgm_ops"},
    ),
    Index("ix_articles_category_paths", "category_paths", postgresql_using="gin"),
    Index(
        "ix_articles_products",
        "products",
        postgresql_using="gin",
        postgresql_ops={"products": "jsonb_path_ops"},
    ),
    # Exact and prefix matches of folded titles.
    Index(
        "ix_articles_folded_title_pattern",
        "folded_title",
        postgresql_ops={"folded_title": "text_pattern_ops"},
    ),
)

article_versions = Table(
    "article_versions",
    metadata,
    Column(
        "article_id", Uuid, ForeignKey("articles.article_id", ondelete="CASCADE"), primary_key=True
    ),
    Column("version", Integer, primary_key=True),
    Column("state", String(16), nullable=False),
    Column("title", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("keywords", JSONB, nullable=False),
    Column("category", Text, nullable=True),
    Column("products", JSONB, nullable=False),
    Column("public", Boolean, nullable=False),
    Column("review_on", Date, nullable=True),
    Column("attachments", JSONB, nullable=False),
    # The version this one was written from (a rollback's: the version it brings back).
    Column("based_on", Integer, nullable=True),
    Column("author", Text, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("submitted_at", DateTime(timezone=True), nullable=True),
    Column("reviewed_by", Text, nullable=True),
    Column("reviewed_at", DateTime(timezone=True), nullable=True),
    Column("review_note", Text, nullable=True),
    Column("published_at", DateTime(timezone=True), nullable=True),
)

article_links = Table(
    "article_links",
    metadata,
    Column("case_id", Uuid, primary_key=True),
    Column("article_id", Uuid, ForeignKey("articles.article_id"), primary_key=True),
    Column("linked_at", DateTime(timezone=True), nullable=False),
    Column("linked_by", Uuid, nullable=True),
)

article_feedback = Table(
    "article_feedback",
    metadata,
    Column("feedback_id", Uuid, primary_key=True),
    Column("article_id", Uuid, ForeignKey("articles.article_id"), nullable=False, index=True),
    Column("version", Integer, nullable=False),
    Column("helpful", Boolean, nullable=False),
    Column("comment", Text, nullable=True),
    Column("given_by", Text, nullable=True),
    Column("case_id", Uuid, nullable=True),
    Column("given_at", DateTime(timezone=True), nullable=False),
)

case_contexts = Table(
    "case_contexts",
    metadata,
    Column("case_id", Uuid, primary_key=True),
    Column("number", String(64), nullable=False),
    Column("contact_id", Uuid, nullable=False, index=True),
    Column("interaction_id", Uuid, nullable=True, index=True),
    Column("subject", Text, nullable=False),
    # The language the stored suggestions were chosen in (none: any).
    Column("suggested_in", String(35), nullable=True),
    Column("opened_at", DateTime(timezone=True), nullable=False),
)
"""What knowledge keeps of each case (from `cases.case.v1`): to suggest and to send."""

contact_languages = Table(
    "contact_languages",
    metadata,
    Column("contact_id", Uuid, primary_key=True),
    Column("language", String(35), nullable=True),
    Column("version", Integer, nullable=False),
)
"""Each contact's language, from their card on `intake.customer.v1`."""

interaction_languages = Table(
    "interaction_languages",
    metadata,
    Column("interaction_id", Uuid, primary_key=True),
    Column("language", String(35), nullable=False),
)
"""The language a request was written in, from `intake.interaction.v1`."""

case_suggestions = Table(
    "case_suggestions",
    metadata,
    Column("case_id", Uuid, primary_key=True),
    Column("article_id", Uuid, ForeignKey("articles.article_id"), primary_key=True),
    Column("rank", SmallInteger, nullable=False),
    Column("score", Double, nullable=False),
    Column("suggested_at", DateTime(timezone=True), nullable=False),
    # `used` or `not_useful`, once an agent said.
    Column("verdict", String(16), nullable=True),
    Column("verdict_by", Text, nullable=True),
    Column("verdict_at", DateTime(timezone=True), nullable=True),
)
