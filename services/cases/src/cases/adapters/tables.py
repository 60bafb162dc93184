"""The cases service's tables (plus the kit's outbox and inbox)."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Sequence,
    String,
    Table,
    Text,
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
    Column("entitlement_id", Uuid, nullable=True),
    Index("ix_cases_contact_status", "contact_id", "status"),
    Index("ix_cases_status_opened", "status", "opened_at"),
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
