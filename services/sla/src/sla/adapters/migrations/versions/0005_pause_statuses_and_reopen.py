"""per-KPI pause statuses and a reopen mode per policy item

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 04:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None



def _reopen() -> sa.Column[str]:
    return sa.Column("reopen", sa.String(length=16), nullable=False, server_default="continue")


def upgrade() -> None:
    op.add_column("sla_policies", _reopen())
    op.add_column(
        "sla_policy_kpis",
        sa.Column("pause_statuses", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    )
    op.add_column("sla_policy_items", _reopen())
    op.add_column(
        "kpi_instances",
        sa.Column("pause_statuses", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    )
    op.add_column("kpi_instances", _reopen())


def downgrade() -> None:
    op.drop_column("kpi_instances", "reopen")
    op.drop_column("kpi_instances", "pause_statuses")
    op.drop_column("sla_policy_items", "reopen")
    op.drop_column("sla_policy_kpis", "pause_statuses")
    op.drop_column("sla_policies", "reopen")
