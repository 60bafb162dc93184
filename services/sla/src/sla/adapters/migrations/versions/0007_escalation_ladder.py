"""escalation ladders on policies and KPIs, a manager per queue, and calendars per KPI

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 11:40:00
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
    op.add_column("sla_policies", sa.Column("escalation", postgresql.JSONB(), nullable=True))
    op.add_column("kpi_instances", sa.Column("ladder", postgresql.JSONB(), nullable=True))
    op.add_column(
        "kpi_instances",
        sa.Column("escalated", sa.Integer(), nullable=False, server_default="0"),
    )
    # A breach already fired under the old rule told the manager then: its first step is done.
    op.execute("UPDATE kpi_instances SET escalated = 1 WHERE breached_at IS NOT NULL")
    op.add_column(
        "sla_policy_kpis",
        sa.Column(
            "calendar_id", sa.Uuid(), sa.ForeignKey("calendars.calendar_id"), nullable=True
        ),
    )
    op.add_column("kpi_instances", sa.Column("calendar_id", sa.Uuid(), nullable=True))
    op.create_table(
        "queue_managers",
        sa.Column("queue_id", sa.Uuid(), primary_key=True),
        sa.Column("manager_id", sa.Uuid(), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.func.now(),
        ),
    )


def downgrade() -> None:
    op.drop_table("queue_managers")
    op.drop_column("kpi_instances", "calendar_id")
    op.drop_column("sla_policy_kpis", "calendar_id")
    op.drop_column("kpi_instances", "escalated")
    op.drop_column("kpi_instances", "ladder")
    op.drop_column("sla_policies", "escalation")
