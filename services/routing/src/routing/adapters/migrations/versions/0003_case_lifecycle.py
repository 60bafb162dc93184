"""case lifecycle: items ordered by creation, case events parked until the case opens

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 14:00:00.000000
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
    # Existing rows are numbered as the column is added (in no particular order: until now a
    # case had only ever one item, so their relative order does not matter).
    op.add_column(
        "queue_items",
        sa.Column("seq", sa.BigInteger(), sa.Identity(always=False), nullable=False),
    )
    op.create_table(
        "parked_case_events",
        sa.Column("parked_id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "parked_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.PrimaryKeyConstraint("parked_id", name=op.f("pk_parked_case_events")),
    )
    op.create_index(
        op.f("ix_parked_case_events_case_id"), "parked_case_events", ["case_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_parked_case_events_case_id"), table_name="parked_case_events")
    op.drop_table("parked_case_events")
    op.drop_column("queue_items", "seq")
