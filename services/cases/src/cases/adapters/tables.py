"""The cases service's tables (plus the kit's outbox and inbox)."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Sequence,
    String,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.dialects.postgresql import JSONB

from caseflow_servicekit import new_metadata

metadata = new_metadata()

case_number_seq = Sequence("case_number_seq", metadata=metadata, start=1)

cases = Table(
    "cases",
    metadata,
    Column("case_id", Uuid, primary_key=True),
    Column("number", String(64), nullable=False, unique=True),
    Column("channel", String(16), nullable=False),
    Column("contact_id", Uuid, nullable=False),
    Column("account_id", Uuid, nullable=True),
    Column("interaction_id", Uuid, nullable=True, unique=True),
    Column("subject", Text, nullable=False),
    Column("description", Text, nullable=False),
    Column("request_type", String(100), nullable=True),
    Column("parameters", JSONB, nullable=False),
    Column("priority", String(16), nullable=False),
    Column("status", String(32), nullable=False),
    Column("opened_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("resolution", JSONB, nullable=True),
    Column("cancellation_reason", Text, nullable=True),
    Column("reopen_count", Integer, nullable=False, server_default="0"),
    Column("escalation_level", Integer, nullable=False, server_default="0"),
    # The contract line that covers the case, the contract, why none does, and how it was
    # chosen when several applied.
    Column("entitlement_id", Uuid, nullable=True),
    Column("contract_id", Uuid, nullable=True),
    Column("not_entitled", String(32), nullable=True),
    Column("entitlement_rule", Text, nullable=True),
    # Optimistic concurrency: the ETag of the case; every change increments it.
    Column("version", Integer, nullable=False, server_default="1"),
    Column("first_contact", Boolean, nullable=False, server_default="false"),
    # The customer's language, for what the customer is told.
    Column("language", String(16), nullable=True),
    Column("accepted_by", Uuid, nullable=True),
    # Who took the request down (an agent opening it), and during which telephone call.
    Column("opened_by", Uuid, nullable=True),
    Column("call_id", String(200), nullable=True),
    Column("resolved_at", DateTime(timezone=True), nullable=True),
    Column("closed_at", DateTime(timezone=True), nullable=True),
    Column("reopened_at", DateTime(timezone=True), nullable=True),
    Column("resolution_code", String(100), nullable=True),
    # Time totals kept with every activity (and with the resolution), for reports.
    Column("billable_minutes", Integer, nullable=False, server_default="0"),
    Column("total_minutes", Integer, nullable=False, server_default="0"),
    Column("call_minutes", Integer, nullable=False, server_default="0"),
    # What cases last learnt from routing and SLA events (projections, never calls).
    Column("queue_id", Uuid, nullable=True),
    Column("queue_name", Text, nullable=True),
    Column("assignee_id", Uuid, nullable=True),
    Column("sla", JSONB, nullable=False, server_default="{}"),
    Column("overdue", Boolean, nullable=False, server_default="false"),
    # The files the request came with: references to what intake holds, never the bytes.
    Column("attachments", JSONB, nullable=False, server_default="[]"),
    # The earlier case this one continues (the customer wrote on it after it was closed).
    Column("related_case_id", Uuid, nullable=True),
    Column("related_number", String(64), nullable=True),
    Index("ix_cases_contact_status", "contact_id", "status"),
    Index("ix_cases_status_opened", "status", "opened_at"),
    Index("ix_cases_opened_case", "opened_at", "case_id"),
    Index("ix_cases_account_opened", "account_id", "opened_at"),
    Index("ix_cases_assignee_opened", "assignee_id", "opened_at"),
    Index("ix_cases_entitlement", "entitlement_id"),
    Index("ix_cases_call", "call_id"),
    Index("ix_cases_opened_by", "opened_by", "opened_at"),
)

activities = Table(
    "case_activities",
    metadata,
    Column("activity_id", Uuid, primary_key=True),
    Column(
        "case_id", Uuid, ForeignKey("cases.case_id", ondelete="CASCADE"), nullable=False, index=True
    ),
    Column("kind", String(32), nullable=False),
    Column("subject", Text, nullable=False),
    Column("duration_minutes", Integer, nullable=False),
    Column("billable", Boolean, nullable=False),
    Column("performed_by", Uuid, nullable=True),
    Column("logged_at", DateTime(timezone=True), nullable=False),
    # When the work was done, as the agent says (logged_at is when it was recorded).
    Column("performed_at", DateTime(timezone=True), nullable=True),
    Column("description", Text, nullable=False, server_default=""),
    # An answer sent to the customer (it meets first response); an internal note is not.
    Column("to_customer", Boolean, nullable=False, server_default="false"),
    # The files sent or received with it: references to what intake holds.
    Column("attachments", JSONB, nullable=False, server_default="[]"),
    # A message from the customer's side: its interaction, who wrote, whether it was someone
    # other than the case's contact, and whether it was only an automatic answer.
    Column("interaction_id", Uuid, nullable=True),
    Column("contact_id", Uuid, nullable=True),
    Column("from_other_contact", Boolean, nullable=False, server_default="false"),
    Column("auto_reply", Boolean, nullable=False, server_default="false"),
)

interactions = Table(
    "case_interactions",
    metadata,
    # Every interaction that opened or followed up a case, so a redelivered one is recognised.
    Column("interaction_id", Uuid, primary_key=True),
    Column(
        "case_id", Uuid, ForeignKey("cases.case_id", ondelete="CASCADE"), nullable=False, index=True
    ),
    Column("channel", String(16), nullable=False),
    Column("subject", Text, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
)

request_types = Table(
    "request_types",
    metadata,
    Column("code", String(100), primary_key=True),
    Column("names", JSONB, nullable=False),
    Column("default_priority", String(16), nullable=False),
    # The questions it asks: a list of parameter specs, as `cases.catalogue.v1` carries them.
    Column("parameters", JSONB, nullable=False),
    Column("active", Boolean, nullable=False, server_default="true"),
    Column("version", Integer, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

decisions = Table(
    "decisions",
    metadata,
    Column("code", String(100), primary_key=True),
    Column("names", JSONB, nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("requires_text", Boolean, nullable=False, server_default="false"),
    # Retired, never deleted: the cases that recorded it keep a readable history.
    Column("retired", Boolean, nullable=False, server_default="false"),
    Column("version", Integer, nullable=False),
    # Taking it draws up a draft contract for the case's account, from this template if named.
    Column("creates_contract", Boolean, nullable=False, server_default="false"),
    Column("contract_template_id", Uuid, nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

case_decisions = Table(
    "case_decisions",
    metadata,
    Column("decision_id", Uuid, primary_key=True),
    Column(
        "case_id", Uuid, ForeignKey("cases.case_id", ondelete="CASCADE"), nullable=False, index=True
    ),
    Column("code", String(100), nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("text", Text, nullable=False),
    Column("recorded_by", Uuid, nullable=True),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
)

escalations = Table(
    "case_escalations",
    metadata,
    Column("escalation_id", Uuid, primary_key=True),
    Column(
        "case_id", Uuid, ForeignKey("cases.case_id", ondelete="CASCADE"), nullable=False, index=True
    ),
    Column("level", Integer, nullable=False),
    Column("target", String(32), nullable=False),
    Column("manager_id", Uuid, nullable=True),
    Column("claim", Text, nullable=False),
    Column("escalated_by", Uuid, nullable=True),
    Column("escalated_at", DateTime(timezone=True), nullable=False),
)


contract_number_seq = Sequence("contract_number_seq", metadata=metadata, start=1)

contract_templates = Table(
    "contract_templates",
    metadata,
    Column("template_id", Uuid, primary_key=True),
    Column("name", Text, nullable=False, unique=True),
    Column("allocation", String(16), nullable=False),
    Column("default_allotment", Integer, nullable=False),
    Column("default_duration_days", Integer, nullable=False),
    Column("channels", JSONB, nullable=False, server_default="[]"),
    Column("request_types", JSONB, nullable=False, server_default="[]"),
    Column("sla_policy_id", Uuid, nullable=True),
    Column("calendar_id", Uuid, nullable=True),
    Column("allow_overdraft", Boolean, nullable=False, server_default="false"),
    Column("warn_below_percent", Integer, nullable=False, server_default="20"),
    Column("active", Boolean, nullable=False, server_default="true"),
    Column("version", Integer, nullable=False, server_default="1"),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    CheckConstraint("default_allotment >= 0", name="default_allotment_not_negative"),
    CheckConstraint("default_duration_days > 0", name="default_duration_positive"),
)

contracts = Table(
    "contracts",
    metadata,
    Column("contract_id", Uuid, primary_key=True),
    Column("number", String(64), nullable=False, unique=True),
    Column("account_id", Uuid, nullable=False),
    Column("name", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("starts_on", Date, nullable=False),
    Column("ends_on", Date, nullable=False),
    # The contacts it covers; empty: everyone at the account.
    Column("contacts", JSONB, nullable=False, server_default="[]"),
    Column("owner_id", Uuid, nullable=True),
    Column("template_id", Uuid, nullable=True),
    Column("sla_policy_id", Uuid, nullable=True),
    Column("calendar_id", Uuid, nullable=True),
    Column("origin_case_id", Uuid, nullable=True),
    Column("renewed_from", Uuid, nullable=True),
    Column("renewed_to", Uuid, nullable=True),
    Column("hold_reason", Text, nullable=True),
    Column("cancel_reason", Text, nullable=True),
    # The day the owner was told the end is near, so they are told once.
    Column("ending_warned_on", Date, nullable=True),
    Column("version", Integer, nullable=False, server_default="1"),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    CheckConstraint("ends_on >= starts_on", name="ends_after_start"),
    Index("ix_contracts_account", "account_id", "status"),
    Index("ix_contracts_status_ends", "status", "ends_on"),
)

contract_lines = Table(
    "contract_lines",
    metadata,
    Column("line_id", Uuid, primary_key=True),
    Column(
        "contract_id",
        Uuid,
        ForeignKey("contracts.contract_id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("number", Integer, nullable=False),
    Column("name", Text, nullable=False),
    Column("allocation", String(16), nullable=False),
    Column("allotment", Integer, nullable=False),
    Column("starts_on", Date, nullable=False),
    Column("ends_on", Date, nullable=False),
    Column("channels", JSONB, nullable=False, server_default="[]"),
    Column("request_types", JSONB, nullable=False, server_default="[]"),
    Column("allow_overdraft", Boolean, nullable=False, server_default="false"),
    Column("warn_below_percent", Integer, nullable=False, server_default="20"),
    UniqueConstraint("contract_id", "number"),
    CheckConstraint("allotment >= 0", name="allotment_not_negative"),
    CheckConstraint("ends_on >= starts_on", name="line_ends_after_start"),
)

contract_ledger = Table(
    "contract_ledger",
    metadata,
    # Every movement on a line: a resolved case drawing on it (amount > 0), or a reopened
    # case giving back what it drew (amount < 0). A line's remaining is its allotment less
    # the sum of its amounts: there is no counter to drift.
    Column("entry_id", Uuid, primary_key=True),
    Column(
        "line_id",
        Uuid,
        ForeignKey("contract_lines.line_id", ondelete="RESTRICT"),
        nullable=False,
    ),
    Column("contract_id", Uuid, nullable=False),
    Column("case_id", Uuid, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("amount", Integer, nullable=False),
    # What the line could not cover (used up, no overdraft), billed outside the contract.
    Column("overage", Integer, nullable=False, server_default="0"),
    Column("by", Uuid, nullable=True),
    Column("reason", Text, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Index("ix_contract_ledger_line", "line_id", "at"),
    Index("ix_contract_ledger_case", "case_id"),
)

customer_accounts = Table(
    "customer_accounts",
    metadata,
    # What cases knows of the customers' accounts, from intake.customer.v1: per account, the
    # highest version announced.
    Column("account_id", Uuid, primary_key=True),
    Column("name", Text, nullable=False),
    Column("tier", String(32), nullable=True),
    # The specialist attached to the customer: who hears of the account's contracts.
    Column("owner_id", Uuid, nullable=True),
    Column("credit_hold", Boolean, nullable=False, server_default="false"),
    Column("version", Integer, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
