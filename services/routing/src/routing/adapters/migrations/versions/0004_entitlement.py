"""entitlement: routing rules may ask for it, known cases remember it

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 15:29:00.377367
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Cases routed before contracts keep null: they said nothing of entitlement.
    op.add_column("case_facts", sa.Column("entitled", sa.Boolean(), nullable=True))
    op.add_column("case_facts", sa.Column("not_entitled", sa.String(length=32), nullable=True))
    # Existing rules get an empty condition, which holds for every case: they route as before.
    op.add_column(
        "routing_rules",
        sa.Column(
            "entitlement",
            postgresql.ARRAY(sa.Text()),
            server_default=sa.text("'{}'::text[]"),
            nullable=False,
        ),
    )


def downgrade() -> None:
    op.drop_column("routing_rules", "entitlement")
    op.drop_column("case_facts", "not_entitled")
    op.drop_column("case_facts", "entitled")
