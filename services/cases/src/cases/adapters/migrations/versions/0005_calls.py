"""cases know who opened them and during which telephone call

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 16:11:11.130868
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("cases", sa.Column("opened_by", sa.Uuid(), nullable=True))
    op.add_column("cases", sa.Column("call_id", sa.String(length=200), nullable=True))
    op.create_index("ix_cases_call", "cases", ["call_id"], unique=False)
    op.create_index("ix_cases_opened_by", "cases", ["opened_by", "opened_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_cases_opened_by", table_name="cases")
    op.drop_index("ix_cases_call", table_name="cases")
    op.drop_column("cases", "call_id")
    op.drop_column("cases", "opened_by")
