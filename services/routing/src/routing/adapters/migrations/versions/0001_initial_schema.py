"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-23 19:05:52.418934
"""

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The queue that takes every case no routing rule places; its id is fixed so that
# deployments and tests can name it (routing.adapters.tables.DEFAULT_QUEUE_ID).
DEFAULT_QUEUE_ID = uuid.UUID("5e0a1c2d-0000-4000-8000-00000000d0f1")


def upgrade() -> None:
    op.create_table(
        "agents",
        sa.Column("agent_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("skills", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("presence", sa.String(length=16), nullable=False),
        sa.Column("last_assigned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("agent_id", name=op.f("pk_agents")),
    )
    op.create_table(
        "case_facts",
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("priority", sa.String(length=16), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("request_type", sa.String(length=100), nullable=True),
        sa.Column("account_id", sa.Uuid(), nullable=True),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_case_facts")),
    )
    op.create_table(
        "inbox",
        sa.Column("consumer", sa.String(length=200), nullable=False),
        sa.Column("event_id", sa.String(length=200), nullable=False),
        sa.Column("topic", sa.String(length=255), nullable=False),
        sa.Column("partition", sa.Integer(), nullable=True),
        sa.Column("offset", sa.BigInteger(), nullable=True),
        sa.Column(
            "received_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("consumer", "event_id", name=op.f("pk_inbox")),
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
    op.create_table(
        "queues",
        sa.Column("queue_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("is_default", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("strategy", sa.String(length=32), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("queue_id", name=op.f("pk_queues")),
    )
    op.create_index(
        "uq_queues_default",
        "queues",
        ["is_default"],
        unique=True,
        postgresql_where=sa.text("is_default"),
    )
    op.create_index(
        "uq_queues_name_lower", "queues", [sa.literal_column("lower(name)")], unique=True
    )
    op.bulk_insert(
        sa.table(
            "queues",
            sa.column("queue_id", sa.Uuid()),
            sa.column("name", sa.String()),
            sa.column("kind", sa.String()),
            sa.column("is_default", sa.Boolean()),
            sa.column("strategy", sa.String()),
        ),
        [
            {
                "queue_id": DEFAULT_QUEUE_ID,
                "name": "Default",
                "kind": "public",
                "is_default": True,
                "strategy": "manual",
            }
        ],
    )
    op.create_table(
        "queue_items",
        sa.Column("queue_item_id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("queue_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("worked_by", sa.Uuid(), nullable=True),
        sa.Column("worked_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("entered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("required_skills", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.ForeignKeyConstraint(
            ["queue_id"],
            ["queues.queue_id"],
            name=op.f("fk_queue_items_queue_id_queues"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["worked_by"], ["agents.agent_id"], name=op.f("fk_queue_items_worked_by_agents")
        ),
        sa.PrimaryKeyConstraint("queue_item_id", name=op.f("pk_queue_items")),
    )
    op.create_index("ix_queue_items_case_id", "queue_items", ["case_id"], unique=False)
    op.create_index(
        "ix_queue_items_queue_status_entered",
        "queue_items",
        ["queue_id", "status", "entered_at"],
        unique=False,
    )
    op.create_index(
        "ix_queue_items_worked_by",
        "queue_items",
        ["worked_by"],
        unique=False,
        postgresql_where=sa.text("worked_by IS NOT NULL"),
    )
    op.create_index(
        "uq_queue_items_active_case_queue",
        "queue_items",
        ["case_id", "queue_id"],
        unique=True,
        postgresql_where=sa.text("status <> 'removed'"),
    )
    op.create_table(
        "routing_rules",
        sa.Column("rule_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("order", sa.Integer(), nullable=False),
        sa.Column("queue_id", sa.Uuid(), nullable=False),
        sa.Column("channels", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("priorities", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("request_types", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("subject_keywords", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("account_ids", postgresql.ARRAY(sa.Uuid()), nullable=False),
        sa.Column("required_skills", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["queue_id"],
            ["queues.queue_id"],
            name=op.f("fk_routing_rules_queue_id_queues"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("rule_id", name=op.f("pk_routing_rules")),
    )
    op.create_index(op.f("ix_routing_rules_queue_id"), "routing_rules", ["queue_id"], unique=False)
    op.create_index(
        "uq_routing_rules_name_lower",
        "routing_rules",
        [sa.literal_column("lower(name)")],
        unique=True,
    )


def downgrade() -> None:
    op.drop_index("uq_routing_rules_name_lower", table_name="routing_rules")
    op.drop_index(op.f("ix_routing_rules_queue_id"), table_name="routing_rules")
    op.drop_table("routing_rules")
    op.drop_index(
        "uq_queue_items_active_case_queue",
        table_name="queue_items",
        postgresql_where=sa.text("status <> 'removed'"),
    )
    op.drop_index(
        "ix_queue_items_worked_by",
        table_name="queue_items",
        postgresql_where=sa.text("worked_by IS NOT NULL"),
    )
    op.drop_index("ix_queue_items_queue_status_entered", table_name="queue_items")
    op.drop_index("ix_queue_items_case_id", table_name="queue_items")
    op.drop_table("queue_items")
    op.drop_index("uq_queues_name_lower", table_name="queues")
    op.drop_index("uq_queues_default", table_name="queues", postgresql_where=sa.text("is_default"))
    op.drop_table("queues")
    op.drop_table("outbox")
    op.execute("DROP FUNCTION IF EXISTS caseflow_outbox_notify()")
    op.drop_table("inbox")
    op.drop_table("case_facts")
    op.drop_table("agents")
