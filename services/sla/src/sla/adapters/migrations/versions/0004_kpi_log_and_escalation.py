"""the KPI state log, the facts a case's policy was chosen on, assignees and managers

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 22:55:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_CASE_COLUMNS = (
    ("number", sa.String(length=64)),
    ("priority", sa.String(length=16)),
    ("channel", sa.String(length=16)),
    ("request_type", sa.String(length=100)),
    ("account_id", sa.Uuid()),
    ("contract_id", sa.Uuid()),
    ("sla_policy_id", sa.Uuid()),
    ("contract_calendar_id", sa.Uuid()),
)


def upgrade() -> None:
    for name, kind in _CASE_COLUMNS:
        op.add_column("case_slas", sa.Column(name, kind, nullable=True))
    op.create_table(
        "kpi_state_log",
        sa.Column("entry_id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("instance_id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("kpi", sa.String(length=100), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("entry_id", name=op.f("pk_kpi_state_log")),
    )
    op.create_index(op.f("ix_kpi_state_log_case_id"), "kpi_state_log", ["case_id"])
    op.create_table(
        "case_assignees",
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("agent_id", sa.Uuid(), nullable=True),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_case_assignees")),
    )
    op.create_table(
        "agents",
        sa.Column("agent_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("manager_id", sa.Uuid(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("agent_id", name=op.f("pk_agents")),
    )


def downgrade() -> None:
    op.drop_table("agents")
    op.drop_table("case_assignees")
    op.drop_index(op.f("ix_kpi_state_log_case_id"), table_name="kpi_state_log")
    op.drop_table("kpi_state_log")
    for name, _ in reversed(_CASE_COLUMNS):
        op.drop_column("case_slas", name)
