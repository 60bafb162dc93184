"""policy items, retirement, and the accounts policy conditions look at

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 22:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "sla_policies", sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.create_table(
        "sla_policy_items",
        sa.Column("item_id", sa.Uuid(), nullable=False),
        sa.Column("policy_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column(
            "applies_to",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("calendar_id", sa.Uuid(), nullable=True),
        sa.Column("kpis", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.ForeignKeyConstraint(
            ["calendar_id"],
            ["calendars.calendar_id"],
            name=op.f("fk_sla_policy_items_calendar_id_calendars"),
        ),
        sa.ForeignKeyConstraint(
            ["policy_id"],
            ["sla_policies.policy_id"],
            name=op.f("fk_sla_policy_items_policy_id_sla_policies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("item_id", name=op.f("pk_sla_policy_items")),
        sa.UniqueConstraint(
            "policy_id", "position", name=op.f("uq_sla_policy_items_policy_id")
        ),
    )
    op.create_index(
        op.f("ix_sla_policy_items_policy_id"), "sla_policy_items", ["policy_id"], unique=False
    )
    op.create_table(
        "accounts",
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("tier", sa.String(length=64), nullable=True),
        sa.Column("region", sa.String(length=64), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_accounts")),
    )


def downgrade() -> None:
    op.drop_table("accounts")
    op.drop_index(op.f("ix_sla_policy_items_policy_id"), table_name="sla_policy_items")
    op.drop_table("sla_policy_items")
    op.drop_column("sla_policies", "retired_at")
