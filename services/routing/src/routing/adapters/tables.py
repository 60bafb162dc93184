"""The routing service's tables (plus the kit's outbox and inbox)."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    String,
    Table,
    Text,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from caseflow_servicekit import new_metadata

DEFAULT_QUEUE_ID = UUID("5e0a1c2d-0000-4000-8000-00000000d0f1")
"""The id of the "Default" queue migration 0001 seeds."""

metadata = new_metadata()

queues = Table(
    "queues",
    metadata,
    Column("queue_id", Uuid, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("is_default", Boolean, nullable=False, server_default=text("false")),
    Column("strategy", String(32), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # Exactly one queue takes the cases no rule places.
    Index("uq_queues_default", "is_default", unique=True, postgresql_where=text("is_default")),
)

routing_rules = Table(
    "routing_rules",
    metadata,
    Column("rule_id", Uuid, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("order", Integer, nullable=False),
    Column(
        "queue_id",
        Uuid,
        ForeignKey("queues.queue_id", ondelete="RESTRICT"),
        nullable=False,
        index=True,
    ),
    Column("channels", ARRAY(Text), nullable=False),
    Column("priorities", ARRAY(Text), nullable=False),
    Column("request_types", ARRAY(Text), nullable=False),
    Column("subject_keywords", ARRAY(Text), nullable=False),
    Column("account_ids", ARRAY(Uuid), nullable=False),
    Column("required_skills", ARRAY(Text), nullable=False),
    # Rules from before contracts ask nothing of entitlement (an empty list holds always).
    Column("entitlement", ARRAY(Text), nullable=False, server_default=text("'{}'::text[]")),
    Column("active", Boolean, nullable=False, server_default=text("true")),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# Names are told apart regardless of letter case: "Billing" and "billing" are one queue.
Index("uq_queues_name_lower", func.lower(queues.c.name), unique=True)
Index("uq_routing_rules_name_lower", func.lower(routing_rules.c.name), unique=True)

agents = Table(
    "agents",
    metadata,
    Column("agent_id", Uuid, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("skills", ARRAY(Text), nullable=False),
    Column("capacity", Integer, nullable=False),
    Column("presence", String(16), nullable=False),
    Column("last_assigned_at", DateTime(timezone=True), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

queue_items = Table(
    "queue_items",
    metadata,
    Column("queue_item_id", Uuid, primary_key=True),
    Column("case_id", Uuid, nullable=False),
    Column(
        "queue_id",
        Uuid,
        ForeignKey("queues.queue_id", ondelete="RESTRICT"),
        nullable=False,
    ),
    Column("status", String(16), nullable=False),
    Column("worked_by", Uuid, ForeignKey("agents.agent_id"), nullable=True),
    Column("worked_since", DateTime(timezone=True), nullable=True),
    Column("entered_at", DateTime(timezone=True), nullable=False),
    Column("required_skills", ARRAY(Text), nullable=False),
    # The order items were created in: a case's last item is the one with the highest.
    Column("seq", BigInteger, Identity(), nullable=False),
    # A case is in a queue at most once while its item is active, whatever delivered it.
    Index(
        "uq_queue_items_active_case_queue",
        "case_id",
        "queue_id",
        unique=True,
        postgresql_where=text("status <> 'removed'"),
    ),
    Index("ix_queue_items_queue_status_entered", "queue_id", "status", "entered_at"),
    Index(
        "ix_queue_items_worked_by",
        "worked_by",
        postgresql_where=text("worked_by IS NOT NULL"),
    ),
    Index("ix_queue_items_case_id", "case_id"),
)

case_facts = Table(
    "case_facts",
    metadata,
    # What routing learnt about each case from the cases service's events.
    Column("case_id", Uuid, primary_key=True),
    Column("number", String(64), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("priority", String(16), nullable=False),
    Column("subject", Text, nullable=False),
    Column("request_type", String(100), nullable=True),
    Column("account_id", Uuid, nullable=True),
    Column("opened_at", DateTime(timezone=True), nullable=False),
    # Null: the case said nothing of contracts (it opened before they existed).
    Column("entitled", Boolean, nullable=True),
    Column("not_entitled", String(32), nullable=True),
)

parked_case_events = Table(
    "parked_case_events",
    metadata,
    # Case events about a case routing has not yet seen open; applied once it opens.
    Column("parked_id", BigInteger, Identity(), primary_key=True),
    Column("case_id", Uuid, nullable=False, index=True),
    Column("kind", String(32), nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("payload", JSONB, nullable=False),
    Column("parked_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
