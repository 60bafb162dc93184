"""the customers' accounts as intake announces them (their owners hear of contracts)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 16:50:55.366654
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "customer_accounts",
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("tier", sa.String(length=32), nullable=True),
        sa.Column("owner_id", sa.Uuid(), nullable=True),
        sa.Column("credit_hold", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_customer_accounts")),
    )


def downgrade() -> None:
    op.drop_table("customer_accounts")
