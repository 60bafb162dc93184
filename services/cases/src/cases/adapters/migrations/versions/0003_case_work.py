"""case work: versions, time totals, projections, catalogues, decisions, escalations

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 13:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_CASE_COLUMNS: tuple[sa.Column[object], ...] = (
    sa.Column("version", sa.Integer(), server_default="1", nullable=False),
    sa.Column("first_contact", sa.Boolean(), server_default="false", nullable=False),
    sa.Column("language", sa.String(length=16), nullable=True),
    sa.Column("accepted_by", sa.Uuid(), nullable=True),
    sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("reopened_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("resolution_code", sa.String(length=100), nullable=True),
    sa.Column("billable_minutes", sa.Integer(), server_default="0", nullable=False),
    sa.Column("total_minutes", sa.Integer(), server_default="0", nullable=False),
    sa.Column("call_minutes", sa.Integer(), server_default="0", nullable=False),
    sa.Column("queue_id", sa.Uuid(), nullable=True),
    sa.Column("queue_name", sa.Text(), nullable=True),
    sa.Column("assignee_id", sa.Uuid(), nullable=True),
    sa.Column(
        "sla", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False
    ),
    sa.Column("overdue", sa.Boolean(), server_default="false", nullable=False),
)


def upgrade() -> None:
    for column in _CASE_COLUMNS:
        op.add_column("cases", column)
    # Time totals of the cases that exist already.
    op.execute(
        "UPDATE cases SET "
        "billable_minutes = t.billable, total_minutes = t.total, call_minutes = t.calls "
        "FROM (SELECT case_id, "
        "COALESCE(SUM(duration_minutes) FILTER (WHERE billable), 0) AS billable, "
        "COALESCE(SUM(duration_minutes), 0) AS total, "
        "COALESCE(SUM(duration_minutes) FILTER (WHERE kind = 'call'), 0) AS calls "
        "FROM case_activities GROUP BY case_id) AS t WHERE t.case_id = cases.case_id"
    )
    op.create_index("ix_cases_opened_case", "cases", ["opened_at", "case_id"], unique=False)
    op.create_index("ix_cases_account_opened", "cases", ["account_id", "opened_at"], unique=False)
    op.create_index(
        "ix_cases_assignee_opened", "cases", ["assignee_id", "opened_at"], unique=False
    )
    op.add_column(
        "case_activities", sa.Column("performed_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column(
        "case_activities",
        sa.Column("description", sa.Text(), server_default="", nullable=False),
    )
    op.add_column(
        "case_activities",
        sa.Column("to_customer", sa.Boolean(), server_default="false", nullable=False),
    )
    op.create_table(
        "request_types",
        sa.Column("code", sa.String(length=100), nullable=False),
        sa.Column("names", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("default_priority", sa.String(length=16), nullable=False),
        sa.Column("parameters", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("active", sa.Boolean(), server_default="true", nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_request_types")),
    )
    op.create_table(
        "decisions",
        sa.Column("code", sa.String(length=100), nullable=False),
        sa.Column("names", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("requires_text", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("retired", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_decisions")),
    )
    op.create_table(
        "case_decisions",
        sa.Column("decision_id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.String(length=100), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("recorded_by", sa.Uuid(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.case_id"],
            name=op.f("fk_case_decisions_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("decision_id", name=op.f("pk_case_decisions")),
    )
    op.create_index(
        op.f("ix_case_decisions_case_id"), "case_decisions", ["case_id"], unique=False
    )
    op.create_table(
        "case_escalations",
        sa.Column("escalation_id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("target", sa.String(length=32), nullable=False),
        sa.Column("manager_id", sa.Uuid(), nullable=True),
        sa.Column("claim", sa.Text(), nullable=False),
        sa.Column("escalated_by", sa.Uuid(), nullable=True),
        sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.case_id"],
            name=op.f("fk_case_escalations_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("escalation_id", name=op.f("pk_case_escalations")),
    )
    op.create_index(
        op.f("ix_case_escalations_case_id"), "case_escalations", ["case_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_case_escalations_case_id"), table_name="case_escalations")
    op.drop_table("case_escalations")
    op.drop_index(op.f("ix_case_decisions_case_id"), table_name="case_decisions")
    op.drop_table("case_decisions")
    op.drop_table("decisions")
    op.drop_table("request_types")
    for name in ("to_customer", "description", "performed_at"):
        op.drop_column("case_activities", name)
    op.drop_index("ix_cases_assignee_opened", table_name="cases")
    op.drop_index("ix_cases_account_opened", table_name="cases")
    op.drop_index("ix_cases_opened_case", table_name="cases")
    for column in reversed(_CASE_COLUMNS):
        op.drop_column("cases", column.name)
