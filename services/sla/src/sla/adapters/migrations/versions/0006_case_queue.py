"""the queue each case was last placed in

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 04:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("case_assignees", sa.Column("queue_id", sa.Uuid(), nullable=True))


def downgrade() -> None:
    op.drop_column("case_assignees", "queue_id")
