"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-23 19:03:28.195256
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
    # The exclusion constraint on booking_resources compares uuids with `=` inside a GiST index.
    op.execute('CREATE EXTENSION IF NOT EXISTS btree_gist')
    op.create_table('bookings',
    sa.Column('booking_id', sa.Uuid(), nullable=False),
    sa.Column('service_id', sa.Uuid(), nullable=False),
    sa.Column('case_id', sa.Uuid(), nullable=True),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('cancellation_reason', sa.Text(), nullable=True),
    sa.Column('booked_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('ends_at > starts_at', name=op.f('ck_bookings_ends_after_start')),
    sa.PrimaryKeyConstraint('booking_id', name=op.f('pk_bookings'))
    )
    op.create_index(op.f('ix_bookings_case_id'), 'bookings', ['case_id'], unique=False)
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
    op.create_table('resources',
    sa.Column('resource_id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('capacity', sa.Integer(), server_default='1', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('capacity = 1', name=op.f('ck_resources_single_capacity')),
    sa.PrimaryKeyConstraint('resource_id', name=op.f('pk_resources'))
    )
    op.create_table('booking_resources',
    sa.Column('booking_id', sa.Uuid(), nullable=False),
    sa.Column('resource_id', sa.Uuid(), nullable=False),
    sa.Column('position', sa.SmallInteger(), nullable=False),
    sa.Column('period', postgresql.TSTZRANGE(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    postgresql.ExcludeConstraint((sa.column('resource_id'), '='), (sa.column('period'), '&&'), where=sa.text('active'), using='gist', name='booking_resources_no_overlap'),
    sa.ForeignKeyConstraint(['booking_id'], ['bookings.booking_id'], name=op.f('fk_booking_resources_booking_id_bookings'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['resource_id'], ['resources.resource_id'], name=op.f('fk_booking_resources_resource_id_resources')),
    sa.PrimaryKeyConstraint('booking_id', 'resource_id', name=op.f('pk_booking_resources'))
    )


def downgrade() -> None:
    op.drop_table('booking_resources')
    op.drop_table('resources')
    op.drop_table('outbox')
    op.execute("DROP FUNCTION IF EXISTS caseflow_outbox_notify()")
    op.drop_table('inbox')
    op.drop_index(op.f('ix_bookings_case_id'), table_name='bookings')
    op.drop_table('bookings')
    # btree_gist stays installed: dropping an extension is a database administrator's call.
