"""contracts and entitlements: templates, contracts, lines, the ledger; cases know their line

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 15:26:38.675208
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
    op.execute(sa.schema.CreateSequence(sa.Sequence("contract_number_seq", start=1)))
    op.create_table(
        "contract_templates",
        sa.Column("template_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("allocation", sa.String(length=16), nullable=False),
        sa.Column("default_allotment", sa.Integer(), nullable=False),
        sa.Column("default_duration_days", sa.Integer(), nullable=False),
        sa.Column(
            "channels", postgresql.JSONB(astext_type=sa.Text()), server_default="[]", nullable=False
        ),
        sa.Column(
            "request_types",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="[]",
            nullable=False,
        ),
        sa.Column("sla_policy_id", sa.Uuid(), nullable=True),
        sa.Column("calendar_id", sa.Uuid(), nullable=True),
        sa.Column("allow_overdraft", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("warn_below_percent", sa.Integer(), server_default="20", nullable=False),
        sa.Column("active", sa.Boolean(), server_default="true", nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "default_allotment >= 0",
            name=op.f("ck_contract_templates_default_allotment_not_negative"),
        ),
        sa.CheckConstraint(
            "default_duration_days > 0",
            name=op.f("ck_contract_templates_default_duration_positive"),
        ),
        sa.PrimaryKeyConstraint("template_id", name=op.f("pk_contract_templates")),
        sa.UniqueConstraint("name", name=op.f("uq_contract_templates_name")),
    )
    op.create_table(
        "contracts",
        sa.Column("contract_id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column(
            "contacts", postgresql.JSONB(astext_type=sa.Text()), server_default="[]", nullable=False
        ),
        sa.Column("owner_id", sa.Uuid(), nullable=True),
        sa.Column("template_id", sa.Uuid(), nullable=True),
        sa.Column("sla_policy_id", sa.Uuid(), nullable=True),
        sa.Column("calendar_id", sa.Uuid(), nullable=True),
        sa.Column("origin_case_id", sa.Uuid(), nullable=True),
        sa.Column("renewed_from", sa.Uuid(), nullable=True),
        sa.Column("renewed_to", sa.Uuid(), nullable=True),
        sa.Column("hold_reason", sa.Text(), nullable=True),
        sa.Column("cancel_reason", sa.Text(), nullable=True),
        sa.Column("ending_warned_on", sa.Date(), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("ends_on >= starts_on", name=op.f("ck_contracts_ends_after_start")),
        sa.PrimaryKeyConstraint("contract_id", name=op.f("pk_contracts")),
        sa.UniqueConstraint("number", name=op.f("uq_contracts_number")),
    )
    op.create_index("ix_contracts_account", "contracts", ["account_id", "status"], unique=False)
    op.create_index("ix_contracts_status_ends", "contracts", ["status", "ends_on"], unique=False)
    op.create_table(
        "contract_lines",
        sa.Column("line_id", sa.Uuid(), nullable=False),
        sa.Column("contract_id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("allocation", sa.String(length=16), nullable=False),
        sa.Column("allotment", sa.Integer(), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column(
            "channels", postgresql.JSONB(astext_type=sa.Text()), server_default="[]", nullable=False
        ),
        sa.Column(
            "request_types",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="[]",
            nullable=False,
        ),
        sa.Column("allow_overdraft", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("warn_below_percent", sa.Integer(), server_default="20", nullable=False),
        sa.CheckConstraint("allotment >= 0", name=op.f("ck_contract_lines_allotment_not_negative")),
        sa.CheckConstraint(
            "ends_on >= starts_on", name=op.f("ck_contract_lines_line_ends_after_start")
        ),
        sa.ForeignKeyConstraint(
            ["contract_id"],
            ["contracts.contract_id"],
            name=op.f("fk_contract_lines_contract_id_contracts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("line_id", name=op.f("pk_contract_lines")),
        sa.UniqueConstraint("contract_id", "number", name=op.f("uq_contract_lines_contract_id")),
    )
    op.create_index(
        op.f("ix_contract_lines_contract_id"), "contract_lines", ["contract_id"], unique=False
    )
    op.create_table(
        "contract_ledger",
        sa.Column("entry_id", sa.Uuid(), nullable=False),
        sa.Column("line_id", sa.Uuid(), nullable=False),
        sa.Column("contract_id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.Column("overage", sa.Integer(), server_default="0", nullable=False),
        sa.Column("by", sa.Uuid(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["line_id"],
            ["contract_lines.line_id"],
            name=op.f("fk_contract_ledger_line_id_contract_lines"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("entry_id", name=op.f("pk_contract_ledger")),
    )
    op.create_index("ix_contract_ledger_case", "contract_ledger", ["case_id"], unique=False)
    op.create_index("ix_contract_ledger_line", "contract_ledger", ["line_id", "at"], unique=False)
    op.add_column("cases", sa.Column("contract_id", sa.Uuid(), nullable=True))
    op.add_column("cases", sa.Column("not_entitled", sa.String(length=32), nullable=True))
    op.add_column("cases", sa.Column("entitlement_rule", sa.Text(), nullable=True))
    op.create_index("ix_cases_entitlement", "cases", ["entitlement_id"], unique=False)
    op.add_column(
        "decisions",
        sa.Column("creates_contract", sa.Boolean(), server_default="false", nullable=False),
    )
    op.add_column("decisions", sa.Column("contract_template_id", sa.Uuid(), nullable=True))


def downgrade() -> None:
    op.drop_column("decisions", "contract_template_id")
    op.drop_column("decisions", "creates_contract")
    op.drop_index("ix_cases_entitlement", table_name="cases")
    op.drop_column("cases", "entitlement_rule")
    op.drop_column("cases", "not_entitled")
    op.drop_column("cases", "contract_id")
    op.drop_index("ix_contract_ledger_line", table_name="contract_ledger")
    op.drop_index("ix_contract_ledger_case", table_name="contract_ledger")
    op.drop_table("contract_ledger")
    op.drop_index(op.f("ix_contract_lines_contract_id"), table_name="contract_lines")
    op.drop_table("contract_lines")
    op.drop_index("ix_contracts_status_ends", table_name="contracts")
    op.drop_index("ix_contracts_account", table_name="contracts")
    op.drop_table("contracts")
    op.drop_table("contract_templates")
    op.execute(sa.schema.DropSequence(sa.Sequence("contract_number_seq")))
