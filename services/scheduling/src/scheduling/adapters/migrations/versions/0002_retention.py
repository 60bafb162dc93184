"""retention: relayed outbox rows are kept and marked; inbox rows expire by age

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("outbox", sa.Column("relayed_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("outbox", sa.Column("cluster_id", sa.String(length=255), nullable=True))
    op.create_index(
        "ix_outbox_unrelayed",
        "outbox",
        ["id"],
        unique=False,
        postgresql_where=sa.text("relayed_at IS NULL"),
    )
    op.create_index("ix_inbox_received_at", "inbox", ["received_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_inbox_received_at", table_name="inbox")
    # Rows kept after relaying would be sent again by an older relay: drop them first.
    op.execute("DELETE FROM outbox WHERE relayed_at IS NOT NULL")
    op.drop_index("ix_outbox_unrelayed", table_name="outbox")
    op.drop_column("outbox", "cluster_id")
    op.drop_column("outbox", "relayed_at")
