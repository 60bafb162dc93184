"""the customer card (accounts, contacts, phones in E.164), case and contract projections, calls

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 16:09:26.734847
"""

import os
import unicodedata
from collections.abc import Sequence

import phonenumbers
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Trigram indexes for searching names (a trusted extension: no superuser needed).
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.create_table(
        "account_contracts",
        sa.Column("contract_id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.String(length=64), nullable=False),
        sa.Column("name", sa.Text(), server_default="", nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=True),
        sa.Column("ends_on", sa.Date(), nullable=True),
        sa.Column(
            "lines", postgresql.JSONB(astext_type=sa.Text()), server_default="[]", nullable=False
        ),
        sa.Column("version", sa.Integer(), server_default="0", nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("contract_id", name=op.f("pk_account_contracts")),
    )
    op.create_index(
        op.f("ix_account_contracts_account_id"), "account_contracts", ["account_id"], unique=False
    )
    op.create_table(
        "calls",
        sa.Column("call_id", sa.String(length=200), nullable=False),
        sa.Column("caller_number", sa.String(length=64), server_default="", nullable=False),
        sa.Column("caller_e164", sa.String(length=32), nullable=True),
        sa.Column("dialled_number", sa.String(length=64), server_default="", nullable=False),
        sa.Column("extension", sa.String(length=64), nullable=True),
        sa.Column("agent_id", sa.Uuid(), nullable=True),
        sa.Column("match", sa.String(length=16), nullable=True),
        sa.Column("contact_id", sa.Uuid(), nullable=True),
        sa.Column("account_id", sa.Uuid(), nullable=True),
        sa.Column(
            "candidates",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="[]",
            nullable=False,
        ),
        sa.Column("first_contact", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("ringing_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("missed", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("duration_seconds", sa.Integer(), nullable=True),
        sa.Column("timed_out", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("interaction_id", sa.Uuid(), nullable=True),
        sa.Column("first_heard_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("call_id", name=op.f("pk_calls")),
    )
    op.create_index("ix_calls_extension", "calls", ["extension", "first_heard_at"], unique=False)
    op.create_index("ix_calls_open", "calls", ["interaction_id", "first_heard_at"], unique=False)
    op.create_table(
        "case_summaries",
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.String(length=64), nullable=False),
        sa.Column("contact_id", sa.Uuid(), nullable=True),
        sa.Column("account_id", sa.Uuid(), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=True),
        sa.Column("subject", sa.Text(), server_default="", nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("entitlement_id", sa.Uuid(), nullable=True),
        sa.Column("not_entitled", sa.String(length=32), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_case_summaries")),
    )
    op.create_index(
        "ix_case_summaries_account_opened",
        "case_summaries",
        ["account_id", "opened_at"],
        unique=False,
    )
    op.create_index(
        "ix_case_summaries_contact_opened",
        "case_summaries",
        ["contact_id", "opened_at"],
        unique=False,
    )
    op.create_table(
        "cti_rejected",
        sa.Column("rejected_id", sa.Uuid(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("rejected_id", name=op.f("pk_cti_rejected")),
    )
    op.create_index(
        op.f("ix_cti_rejected_received_at"), "cti_rejected", ["received_at"], unique=False
    )
    op.create_table(
        "extension_agents",
        sa.Column("extension", sa.String(length=64), nullable=False),
        sa.Column("agent_id", sa.Uuid(), nullable=False),
        sa.Column("bound_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("extension", name=op.f("pk_extension_agents")),
    )
    op.add_column("accounts", sa.Column("region", sa.Text(), nullable=True))
    op.add_column("accounts", sa.Column("industry", sa.Text(), nullable=True))
    op.add_column("accounts", sa.Column("tier", sa.String(length=32), nullable=True))
    op.add_column("accounts", sa.Column("owner_id", sa.Uuid(), nullable=True))
    op.add_column(
        "accounts", sa.Column("credit_hold", sa.Boolean(), server_default="false", nullable=False)
    )
    op.add_column("accounts", sa.Column("credit_hold_reason", sa.Text(), nullable=True))
    op.add_column("accounts", sa.Column("notes", sa.Text(), server_default="", nullable=False))
    op.add_column(
        "accounts", sa.Column("version", sa.Integer(), server_default="1", nullable=False)
    )
    op.add_column("accounts", sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column(
        "accounts", sa.Column("search_name", sa.Text(), server_default="", nullable=False)
    )
    op.create_index("ix_accounts_region", "accounts", ["region"], unique=False)
    op.create_index(
        "ix_accounts_search_name",
        "accounts",
        ["search_name"],
        unique=False,
        postgresql_using="gin",
        postgresql_ops={"search_name": "gin_trgm_ops"},
    )
    op.add_column(
        "contact_emails",
        sa.Column("kind", sa.String(length=16), server_default="work", nullable=False),
    )
    op.add_column("contact_phones", sa.Column("raw", sa.String(length=64), nullable=True))
    op.add_column(
        "contact_phones", sa.Column("valid", sa.Boolean(), server_default="true", nullable=False)
    )
    op.add_column(
        "contact_phones",
        sa.Column("kind", sa.String(length=16), server_default="work", nullable=False),
    )
    op.add_column(
        "contact_phones", sa.Column("verified", sa.Boolean(), server_default="true", nullable=False)
    )
    op.add_column("contacts", sa.Column("position", sa.Text(), nullable=True))
    op.add_column("contacts", sa.Column("language", sa.String(length=16), nullable=True))
    op.add_column("contacts", sa.Column("preferred_channel", sa.String(length=16), nullable=True))
    op.add_column(
        "contacts", sa.Column("version", sa.Integer(), server_default="1", nullable=False)
    )
    op.add_column("contacts", sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column(
        "contacts", sa.Column("search_name", sa.Text(), server_default="", nullable=False)
    )
    op.add_column("contacts", sa.Column("merged_into", sa.Uuid(), nullable=True))
    op.add_column("contacts", sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        "ix_contacts_search_name",
        "contacts",
        ["search_name"],
        unique=False,
        postgresql_using="gin",
        postgresql_ops={"search_name": "gin_trgm_ops"},
    )
    op.add_column("interactions", sa.Column("call_id", sa.String(length=200), nullable=True))
    op.add_column("interactions", sa.Column("duration_seconds", sa.Integer(), nullable=True))
    op.add_column("interactions", sa.Column("agent_id", sa.Uuid(), nullable=True))
    op.create_unique_constraint(op.f("uq_interactions_call_id"), "interactions", ["call_id"])
    _backfill()


def downgrade() -> None:
    op.drop_constraint(op.f("uq_interactions_call_id"), "interactions", type_="unique")
    op.drop_column("interactions", "agent_id")
    op.drop_column("interactions", "duration_seconds")
    op.drop_column("interactions", "call_id")
    op.drop_index(
        "ix_contacts_search_name",
        table_name="contacts",
        postgresql_using="gin",
        postgresql_ops={"search_name": "gin_trgm_ops"},
    )
    op.drop_column("contacts", "erased_at")
    op.drop_column("contacts", "merged_into")
    op.drop_column("contacts", "search_name")
    op.drop_column("contacts", "updated_at")
    op.drop_column("contacts", "version")
    op.drop_column("contacts", "preferred_channel")
    op.drop_column("contacts", "language")
    op.drop_column("contacts", "position")
    op.drop_column("contact_phones", "verified")
    op.drop_column("contact_phones", "kind")
    op.drop_column("contact_phones", "valid")
    op.drop_column("contact_phones", "raw")
    op.drop_column("contact_emails", "kind")
    op.drop_index(
        "ix_accounts_search_name",
        table_name="accounts",
        postgresql_using="gin",
        postgresql_ops={"search_name": "gin_trgm_ops"},
    )
    op.drop_index("ix_accounts_region", table_name="accounts")
    op.drop_column("accounts", "search_name")
    op.drop_column("accounts", "updated_at")
    op.drop_column("accounts", "version")
    op.drop_column("accounts", "notes")
    op.drop_column("accounts", "credit_hold_reason")
    op.drop_column("accounts", "credit_hold")
    op.drop_column("accounts", "owner_id")
    op.drop_column("accounts", "tier")
    op.drop_column("accounts", "industry")
    op.drop_column("accounts", "region")
    op.drop_table("extension_agents")
    op.drop_index(op.f("ix_cti_rejected_received_at"), table_name="cti_rejected")
    op.drop_table("cti_rejected")
    op.drop_index("ix_case_summaries_contact_opened", table_name="case_summaries")
    op.drop_index("ix_case_summaries_account_opened", table_name="case_summaries")
    op.drop_table("case_summaries")
    op.drop_index("ix_calls_open", table_name="calls")
    op.drop_index("ix_calls_extension", table_name="calls")
    op.drop_table("calls")
    op.drop_index(op.f("ix_account_contracts_account_id"), table_name="account_contracts")
    op.drop_table("account_contracts")


def _fold(text: str) -> str:
    # As intake.domain.customers.fold: no accents, lower case, single spaces.
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(bare.casefold().split())


def _backfill() -> None:
    bind = op.get_bind()
    for statement, update in (
        (
            "SELECT account_id, name FROM accounts",
            "UPDATE accounts SET search_name = :folded WHERE account_id = :id",
        ),
        (
            "SELECT contact_id, name FROM contacts",
            "UPDATE contacts SET search_name = :folded WHERE contact_id = :id",
        ),
    ):
        for row_id, name in bind.execute(sa.text(statement)).all():
            bind.execute(sa.text(update), {"folded": _fold(name), "id": row_id})
    # Numbers kept before were their digits (with a leading + if given): read them again as
    # E.164, national ones in the service's default region, so they match the new keys.
    region = os.environ.get("INTAKE_DEFAULT_PHONE_REGION", "DE").upper()
    rows = bind.execute(sa.text("SELECT contact_id, phone FROM contact_phones")).all()
    for contact_id, number in rows:
        key = _e164(number, region)
        params = {"contact_id": contact_id, "old": number, "new": key or number}
        taken = key is not None and key != number and bind.execute(
            sa.text(
                "SELECT 1 FROM contact_phones WHERE contact_id = :contact_id AND phone = :new"
            ),
            params,
        ).first()
        if taken:
            # The contact has the number twice, in two forms: one is enough.
            bind.execute(
                sa.text("DELETE FROM contact_phones WHERE contact_id = :contact_id AND phone = :old"),
                params,
            )
            continue
        bind.execute(
            sa.text(
                "UPDATE contact_phones SET phone = :new, raw = :old, valid = :valid "
                "WHERE contact_id = :contact_id AND phone = :old"
            ),
            {**params, "valid": key is not None},
        )


def _e164(number: str, region: str) -> str | None:
    try:
        parsed = phonenumbers.parse(number, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
