"""versions, languages and feedback: every version of an article kept; a text search
configuration per language, unaccented where the language allows; trigram indexes on folded
titles and keywords; sentence embeddings; translations, feedback, stored suggestions, and what
knowledge keeps of cases and their customers' languages

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 17:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from pgvector.sqlalchemy import VECTOR
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_CONFIGS = {
    # name: (copied from, dictionaries for words with letters beyond ASCII)
    "kb_english": ("english", "unaccent, english_stem"),
    "kb_russian": ("russian", "unaccent, russian_stem"),
    "kb_portuguese": ("portuguese", "unaccent, portuguese_stem"),
    # The Lithuanian stemmer reads the letters unaccent would take away.
    "kb_lithuanian": ("lithuanian", "lithuanian_stem"),
    # PostgreSQL ships no Czech stemmer: words are lower-cased and unaccented.
    "kb_czech": ("simple", "unaccent, simple"),
    "kb_simple": ("simple", "unaccent, simple"),
}

_LANGUAGE_GROUP = (
    "CASE split_part(lower(language), '-', 1) "
    "WHEN 'en' THEN 'en' WHEN 'ru' THEN 'ru' WHEN 'lt' THEN 'lt' WHEN 'pt' THEN 'pt' "
    "WHEN 'cs' THEN 'cs' ELSE 'other' END"
)
_SEARCH_VECTOR = (
    "setweight(to_tsvector(kb_config(language), title), 'A') || "
    "setweight(to_tsvector(kb_config(language), keywords), 'A') || "
    "setweight(to_tsvector(kb_config(language), body), 'B')"
)
_OLD_SEARCH_VECTOR = (
    "setweight(to_tsvector(CASE WHEN split_part(language, '-', 1) = 'en' THEN 'english'::regconfig "
    "ELSE 'simple'::regconfig END, title), 'A') || setweight(to_tsvector(CASE WHEN "
    "split_part(language, '-', 1) = 'en' THEN 'english'::regconfig ELSE 'simple'::regconfig END, "
    "keywords), 'A') || setweight(to_tsvector(CASE WHEN split_part(language, '-', 1) = 'en' THEN "
    "'english'::regconfig ELSE 'simple'::regconfig END, body), 'B')"
)


def upgrade() -> None:
    for extension in ("unaccent", "pg_trgm", "vector"):
        op.execute(f"CREATE EXTENSION IF NOT EXISTS {extension}")
    for name, (source, dictionaries) in _CONFIGS.items():
        op.execute(f"CREATE TEXT SEARCH CONFIGURATION {name} (COPY = {source})")
        op.execute(
            f"ALTER TEXT SEARCH CONFIGURATION {name} "
            f"ALTER MAPPING FOR word, hword, hword_part WITH {dictionaries}"
        )
    op.execute(
        "CREATE FUNCTION kb_config(language text) RETURNS regconfig "
        "LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT CASE split_part(lower(language), '-', 1) "
        "WHEN 'en' THEN 'kb_english' WHEN 'ru' THEN 'kb_russian' WHEN 'lt' THEN 'kb_lithuanian' "
        "WHEN 'pt' THEN 'kb_portuguese' WHEN 'cs' THEN 'kb_czech' ELSE 'kb_simple' END::regconfig $$"
    )
    # unaccent() is only stable (it reads its dictionary by name); naming the dictionary makes
    # the fold immutable, as generated columns and indexes need.
    op.execute(
        "CREATE FUNCTION kb_fold(value text) RETURNS text "
        "LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT AS "
        "$$ SELECT lower(public.unaccent('public.unaccent'::regdictionary, value)) $$"
    )
    op.execute(
        "CREATE FUNCTION keywords_text(keywords jsonb) RETURNS text "
        "LANGUAGE sql IMMUTABLE PARALLEL SAFE AS "
        "$$ SELECT coalesce(string_agg(word, ' '), '') "
        "FROM jsonb_array_elements_text(keywords) AS word $$"
    )

    # A category and every category above it ("Network/Routers": "Network", "Network/Routers"),
    # so that a filter on a branch of the tree is an indexed containment.
    op.execute(
        "CREATE FUNCTION kb_category_paths(category text) RETURNS text[] "
        "LANGUAGE sql IMMUTABLE PARALLEL SAFE AS "
        "$$ SELECT coalesce(array_agg(array_to_string(parts[1:n], '/') ORDER BY n), '{}') "
        "FROM (SELECT string_to_array(category, '/') AS parts) AS p, "
        "generate_series(1, coalesce(array_length(p.parts, 1), 0)) AS n $$"
    )

    op.drop_index("ix_articles_search_vector", table_name="articles", postgresql_using="gin")
    op.drop_column("articles", "search_vector")
    op.add_column("articles", sa.Column("translation_group", sa.Uuid(), nullable=True))
    op.execute("UPDATE articles SET translation_group = article_id")
    op.alter_column("articles", "translation_group", nullable=False)
    op.create_index("ix_articles_translation_group", "articles", ["translation_group"])
    op.add_column(
        "articles",
        sa.Column(
            "language_group",
            sa.String(length=8),
            sa.Computed(_LANGUAGE_GROUP, persisted=True),
            nullable=False,
        ),
    )
    op.add_column("articles", sa.Column("category", sa.Text(), nullable=True))
    for name in ("products", "attachments"):
        op.add_column(
            "articles",
            sa.Column(
                name,
                postgresql.JSONB(astext_type=sa.Text()),
                server_default=sa.text("'[]'::jsonb"),
                nullable=False,
            ),
        )
    op.add_column(
        "articles",
        sa.Column("public", sa.Boolean(), server_default=sa.text("false"), nullable=False),
    )
    op.add_column("articles", sa.Column("review_on", sa.Date(), nullable=True))
    for name, default in (("latest_version", "1"), ("revision", "1")):
        op.add_column(
            "articles",
            sa.Column(name, sa.Integer(), server_default=sa.text(default), nullable=False),
        )
    op.execute("UPDATE articles SET latest_version = version")
    op.add_column("articles", sa.Column("created_by", sa.Text(), nullable=True))
    for name in ("views", "helpful", "unhelpful", "sent"):
        op.add_column(
            "articles",
            sa.Column(name, sa.Integer(), server_default=sa.text("0"), nullable=False),
        )
    op.add_column(
        "articles",
        sa.Column(
            "search_vector",
            postgresql.TSVECTOR(),
            sa.Computed(_SEARCH_VECTOR, persisted=True),
            nullable=False,
        ),
    )
    op.add_column(
        "articles",
        sa.Column(
            "folded_title", sa.Text(), sa.Computed("kb_fold(title)", persisted=True), nullable=False
        ),
    )
    op.add_column(
        "articles",
        sa.Column(
            "folded_keywords",
            sa.Text(),
            sa.Computed("kb_fold(keywords_text(keywords))", persisted=True),
            nullable=False,
        ),
    )
    op.add_column(
        "articles",
        sa.Column(
            "category_paths",
            postgresql.ARRAY(sa.Text()),
            sa.Computed("kb_category_paths(category)", persisted=True),
            nullable=False,
        ),
    )
    op.add_column("articles", sa.Column("embedding", VECTOR(384), nullable=True))
    op.create_index(
        "ix_articles_search_vector", "articles", ["search_vector"], postgresql_using="gin"
    )
    op.create_index(
        "ix_articles_folded_title_trgm",
        "articles",
        ["folded_title"],
        postgresql_using="gin",
        postgresql_ops={"folded_title": "gin_trgm_ops"},
    )
    op.create_index(
        "ix_articles_folded_keywords_trgm",
        "articles",
        ["folded_keywords"],
        postgresql_using="gin",
        postgresql_ops={"folded_keywords": "gin_trgm_ops"},
    )
    op.create_index(
        "ix_articles_folded_title_pattern",
        "articles",
        ["folded_title"],
        postgresql_ops={"folded_title": "text_pattern_ops"},
    )
    op.create_index(
        "ix_articles_category_paths", "articles", ["category_paths"], postgresql_using="gin"
    )
    op.create_index(
        "ix_articles_products",
        "articles",
        ["products"],
        postgresql_using="gin",
        postgresql_ops={"products": "jsonb_path_ops"},
    )

    op.create_table(
        "article_versions",
        sa.Column("article_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("keywords", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("category", sa.Text(), nullable=True),
        sa.Column("products", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("public", sa.Boolean(), nullable=False),
        sa.Column("review_on", sa.Date(), nullable=True),
        sa.Column("attachments", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("based_on", sa.Integer(), nullable=True),
        sa.Column("author", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reviewed_by", sa.Text(), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("review_note", sa.Text(), nullable=True),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["articles.article_id"],
            name=op.f("fk_article_versions_article_id_articles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("article_id", "version", name=op.f("pk_article_versions")),
    )
    # The articles written before: each is its own version 1.
    op.execute(
        "INSERT INTO article_versions (article_id, version, state, title, body, keywords, "
        "category, products, public, review_on, attachments, author, created_at, published_at) "
        "SELECT article_id, version, CASE status WHEN 'published' THEN 'published' "
        "ELSE 'draft' END, title, body, keywords, NULL, '[]'::jsonb, false, NULL, '[]'::jsonb, NULL, "
        "created_at, published_at FROM articles"
    )
    op.create_table(
        "article_feedback",
        sa.Column("feedback_id", sa.Uuid(), nullable=False),
        sa.Column("article_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("helpful", sa.Boolean(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("given_by", sa.Text(), nullable=True),
        sa.Column("case_id", sa.Uuid(), nullable=True),
        sa.Column("given_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["articles.article_id"],
            name=op.f("fk_article_feedback_article_id_articles"),
        ),
        sa.PrimaryKeyConstraint("feedback_id", name=op.f("pk_article_feedback")),
    )
    op.create_index("ix_article_feedback_article_id", "article_feedback", ["article_id"])
    op.create_table(
        "case_contexts",
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.String(length=64), nullable=False),
        sa.Column("contact_id", sa.Uuid(), nullable=False),
        sa.Column("interaction_id", sa.Uuid(), nullable=True),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("suggested_in", sa.String(length=35), nullable=True),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_case_contexts")),
    )
    op.create_index("ix_case_contexts_contact_id", "case_contexts", ["contact_id"])
    op.create_index("ix_case_contexts_interaction_id", "case_contexts", ["interaction_id"])
    op.create_table(
        "contact_languages",
        sa.Column("contact_id", sa.Uuid(), nullable=False),
        sa.Column("language", sa.String(length=35), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("contact_id", name=op.f("pk_contact_languages")),
    )
    op.create_table(
        "interaction_languages",
        sa.Column("interaction_id", sa.Uuid(), nullable=False),
        sa.Column("language", sa.String(length=35), nullable=False),
        sa.PrimaryKeyConstraint("interaction_id", name=op.f("pk_interaction_languages")),
    )
    op.create_table(
        "case_suggestions",
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("article_id", sa.Uuid(), nullable=False),
        sa.Column("rank", sa.SmallInteger(), nullable=False),
        sa.Column("score", sa.Double(), nullable=False),
        sa.Column("suggested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("verdict", sa.String(length=16), nullable=True),
        sa.Column("verdict_by", sa.Text(), nullable=True),
        sa.Column("verdict_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["articles.article_id"],
            name=op.f("fk_case_suggestions_article_id_articles"),
        ),
        sa.PrimaryKeyConstraint("case_id", "article_id", name=op.f("pk_case_suggestions")),
    )


def downgrade() -> None:
    op.drop_table("case_suggestions")
    op.drop_table("interaction_languages")
    op.drop_table("contact_languages")
    op.drop_index("ix_case_contexts_interaction_id", table_name="case_contexts")
    op.drop_index("ix_case_contexts_contact_id", table_name="case_contexts")
    op.drop_table("case_contexts")
    op.drop_index("ix_article_feedback_article_id", table_name="article_feedback")
    op.drop_table("article_feedback")
    op.drop_table("article_versions")
    for index in (
        "ix_articles_products",
        "ix_articles_category_paths",
        "ix_articles_folded_title_pattern",
        "ix_articles_folded_keywords_trgm",
        "ix_articles_folded_title_trgm",
        "ix_articles_search_vector",
        "ix_articles_translation_group",
    ):
        op.drop_index(index, table_name="articles")
    for column in (
        "embedding",
        "category_paths",
        "folded_keywords",
        "folded_title",
        "search_vector",
        "sent",
        "unhelpful",
        "helpful",
        "views",
        "created_by",
        "revision",
        "latest_version",
        "review_on",
        "public",
        "attachments",
        "products",
        "category",
        "language_group",
        "translation_group",
    ):
        op.drop_column("articles", column)
    op.add_column(
        "articles",
        sa.Column(
            "search_vector",
            postgresql.TSVECTOR(),
            sa.Computed(_OLD_SEARCH_VECTOR, persisted=True),
            nullable=False,
        ),
    )
    op.create_index(
        "ix_articles_search_vector", "articles", ["search_vector"], postgresql_using="gin"
    )
    op.execute("DROP FUNCTION kb_category_paths(text)")
    op.execute("DROP FUNCTION keywords_text(jsonb)")
    op.execute("DROP FUNCTION kb_fold(text)")
    op.execute("DROP FUNCTION kb_config(text)")
    for name in _CONFIGS:
        op.execute(f"DROP TEXT SEARCH CONFIGURATION {name}")
