"""mail follow-ups: attachments on cases and activities, who wrote, related cases

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql


revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "case_activities",
        sa.Column(
            "attachments",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="[]",
            nullable=False,
        ),
    )
    op.add_column("case_activities", sa.Column("interaction_id", sa.Uuid(), nullable=True))
    op.add_column("case_activities", sa.Column("contact_id", sa.Uuid(), nullable=True))
    op.add_column(
        "case_activities",
        sa.Column("from_other_contact", sa.Boolean(), server_default="false", nullable=False),
    )
    op.add_column(
        "case_activities",
        sa.Column("auto_reply", sa.Boolean(), server_default="false", nullable=False),
    )
    op.add_column(
        "cases",
        sa.Column(
            "attachments",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="[]",
            nullable=False,
        ),
    )
    op.add_column("cases", sa.Column("related_case_id", sa.Uuid(), nullable=True))
    op.add_column("cases", sa.Column("related_number", sa.String(length=64), nullable=True))


def downgrade() -> None:
    op.drop_column("cases", "related_number")
    op.drop_column("cases", "related_case_id")
    op.drop_column("cases", "attachments")
    op.drop_column("case_activities", "auto_reply")
    op.drop_column("case_activities", "from_other_contact")
    op.drop_column("case_activities", "contact_id")
    op.drop_column("case_activities", "interaction_id")
    op.drop_column("case_activities", "attachments")
