"""small raw messages kept in their row

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 04:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("mail_messages", sa.Column("raw", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    op.drop_column("mail_messages", "raw")
