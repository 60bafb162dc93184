"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-23 19:07:54.917327
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(sa.schema.CreateSequence(sa.Sequence('article_number_seq', start=1)))
    op.create_table('articles',
    sa.Column('article_id', sa.Uuid(), nullable=False),
    sa.Column('number', sa.String(length=32), nullable=False),
    sa.Column('title', sa.Text(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('language', sa.String(length=35), nullable=False),
    sa.Column('keywords', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'::jsonb"), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('search_vector', postgresql.TSVECTOR(), sa.Computed("setweight(to_tsvector(CASE WHEN split_part(language, '-', 1) = 'en' THEN 'english'::regconfig ELSE 'simple'::regconfig END, title), 'A') || setweight(to_tsvector(CASE WHEN split_part(language, '-', 1) = 'en' THEN 'english'::regconfig ELSE 'simple'::regconfig END, keywords), 'A') || setweight(to_tsvector(CASE WHEN split_part(language, '-', 1) = 'en' THEN 'english'::regconfig ELSE 'simple'::regconfig END, body), 'B')", persisted=True), nullable=False),
    sa.PrimaryKeyConstraint('article_id', name=op.f('pk_articles')),
    sa.UniqueConstraint('number', name=op.f('uq_articles_number'))
    )
    op.create_index('ix_articles_search_vector', 'articles', ['search_vector'], unique=False, postgresql_using='gin')
    op.create_table('inbox',
    sa.Column('consumer', sa.String(length=200), nullable=False),
    sa.Column('event_id', sa.String(length=200), nullable=False),
    sa.Column('topic', sa.String(length=255), nullable=False),
    sa.Column('partition', sa.Integer(), nullable=True),
    sa.Column('offset', sa.BigInteger(), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('consumer', 'event_id', name=op.f('pk_inbox'))
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("topic", sa.String(length=255), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("headers", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
    )
    op.execute(
        "CREATE OR REPLACE FUNCTION caseflow_outbox_notify() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN PERFORM pg_notify('caseflow_outbox', ''); RETURN NULL; END $$"
    )
    op.execute(
        "CREATE TRIGGER outbox_notify AFTER INSERT ON outbox "
        "FOR EACH STATEMENT EXECUTE FUNCTION caseflow_outbox_notify()"
    )
    op.create_table('article_links',
    sa.Column('case_id', sa.Uuid(), nullable=False),
    sa.Column('article_id', sa.Uuid(), nullable=False),
    sa.Column('linked_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('linked_by', sa.Uuid(), nullable=True),
    sa.ForeignKeyConstraint(['article_id'], ['articles.article_id'], name=op.f('fk_article_links_article_id_articles')),
    sa.PrimaryKeyConstraint('case_id', 'article_id', name=op.f('pk_article_links'))
    )


def downgrade() -> None:
    op.drop_table('article_links')
    op.drop_table('outbox')
    op.execute("DROP FUNCTION IF EXISTS caseflow_outbox_notify()")
    op.drop_table('inbox')
    op.drop_index('ix_articles_search_vector', table_name='articles', postgresql_using='gin')
    op.drop_table('articles')
    op.execute(sa.schema.DropSequence(sa.Sequence('article_number_seq')))
