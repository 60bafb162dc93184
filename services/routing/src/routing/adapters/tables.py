"""The routing service's tables (plus the kit's outbox and inbox)."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    SmallInteger,
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

teams = Table(
    "teams",
    metadata,
    Column("team_id", Uuid, primary_key=True),
    Column("name", String(200), nullable=False),
    # Who escalations and nearing breaches of the team's work go to.
    Column("manager_id", Uuid, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

queues = Table(
    "queues",
    metadata,
    Column("queue_id", Uuid, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("is_default", Boolean, nullable=False, server_default=text("false")),
    # The chain of strategies, tried in order.
    Column("strategies", ARRAY(Text), nullable=False, server_default=text("'{manual}'::text[]")),
    Column("skill_match", String(16), nullable=False, server_default=text("'exact'")),
    Column("team_id", Uuid, ForeignKey("teams.team_id", ondelete="RESTRICT"), nullable=True),
    Column("owner_id", Uuid, nullable=True),
    Column(
        "overflow_queue_id",
        Uuid,
        ForeignKey("queues.queue_id", ondelete="SET NULL"),
        nullable=True,
    ),
    Column("overflow_after_seconds", Integer, nullable=True),
    Column("overflow_max_length", Integer, nullable=True),
    Column("overflow_when_unstaffed", Boolean, nullable=False, server_default=text("false")),
    # Round robin's place in the ring: the agent who got the queue's last item.
    Column("last_assigned_agent", Uuid, nullable=True),
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
    # The account's tier and region, as intake's customer card says.
    Column("tiers", ARRAY(Text), nullable=False, server_default=text("'{}'::text[]")),
    Column("regions", ARRAY(Text), nullable=False, server_default=text("'{}'::text[]")),
    # Request parameters the case must carry, name → value.
    Column("parameters", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("active", Boolean, nullable=False, server_default=text("true")),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# Names are told apart regardless of letter case: "Billing" and "billing" are one queue.
Index("uq_queues_name_lower", func.lower(queues.c.name), unique=True)
Index("uq_routing_rules_name_lower", func.lower(routing_rules.c.name), unique=True)
Index("uq_teams_name_lower", func.lower(teams.c.name), unique=True)

agents = Table(
    "agents",
    metadata,
    # The identity subject of the agent's token.
    Column("agent_id", Uuid, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("email", String(320), nullable=True),
    Column("phone_extension", String(32), nullable=True),
    Column("manager_id", Uuid, nullable=True),
    Column("languages", ARRAY(Text), nullable=False, server_default=text("'{}'::text[]")),
    # Written forms, "printers:3" (a bare name is level 1).
    Column("skills", ARRAY(Text), nullable=False),
    Column("capacity", Integer, nullable=False),
    # Units of capacity each work type takes ("case:email", "case", "call"); 1 otherwise.
    Column("work_units", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    # Units of work in hand. Raised only by a statement that checks it stays within capacity
    # (`SqlAgentRepository.take_units`), so two assignments at once cannot overfill an agent.
    Column("load_units", Integer, nullable=False, server_default=text("0")),
    Column("presence", String(16), nullable=False),
    # Why the presence is what it is: set by a person, or a call in progress.
    Column("presence_reason", String(16), nullable=False, server_default=text("'set'")),
    Column("presence_since", DateTime(timezone=True), nullable=True),
    Column("active", Boolean, nullable=False, server_default=text("true")),
    # Raised by every change published on routing.agent.v1.
    Column("version", Integer, nullable=False, server_default=text("1")),
    # Whether the entry was filed in the directory, or only met at a first pick.
    Column("registered", Boolean, nullable=False, server_default=text("false")),
    Column("last_assigned_at", DateTime(timezone=True), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("load_units >= 0", name="ck_agents_load_not_negative"),
    CheckConstraint("capacity >= 0", name="ck_agents_capacity_not_negative"),
    Index(
        "uq_agents_phone_extension",
        "phone_extension",
        unique=True,
        postgresql_where=text("phone_extension IS NOT NULL"),
    ),
)

agent_teams = Table(
    "agent_teams",
    metadata,
    Column("agent_id", Uuid, ForeignKey("agents.agent_id", ondelete="CASCADE"), primary_key=True),
    Column("team_id", Uuid, ForeignKey("teams.team_id", ondelete="CASCADE"), primary_key=True),
    # The order the agent's teams were given in: the first one's manager is theirs.
    Column("position", SmallInteger, nullable=False, server_default=text("0")),
    Index("ix_agent_teams_team", "team_id"),
)

accounts = Table(
    "accounts",
    metadata,
    # What routing learnt of each account from intake's customer card.
    Column("account_id", Uuid, primary_key=True),
    Column("owner_id", Uuid, nullable=True),
    Column("tier", String(64), nullable=True),
    Column("region", String(64), nullable=True),
    Column("version", Integer, nullable=False),
)

case_kpis = Table(
    "case_kpis",
    metadata,
    # The SLA service's KPIs of each case: when they are due, and whether at risk.
    Column("kpi_instance_id", Uuid, primary_key=True),
    Column("case_id", Uuid, nullable=False, index=True),
    Column("due_at", DateTime(timezone=True), nullable=True),
    # running, paused, nearing, breached, done
    Column("state", String(16), nullable=False),
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
    Column("work_type", String(40), nullable=False, server_default=text("'case'")),
    Column("priority", String(16), nullable=False, server_default=text("'normal'")),
    # The order within a queue: priority rank, then the SLA due time, then age.
    Column("priority_rank", SmallInteger, nullable=False, server_default=text("2")),
    Column("sla_due_at", DateTime(timezone=True), nullable=True),
    Column("preferred_agent", Uuid, nullable=True),
    Column("last_worked_by", Uuid, nullable=True),
    Column("rule_name", String(200), nullable=True),
    # The units of the worker's capacity the item holds while worked.
    Column("units", Integer, nullable=False, server_default=text("0")),
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
        "ix_queue_items_waiting_order",
        "queue_id",
        "priority_rank",
        text("sla_due_at NULLS LAST"),
        "entered_at",
        postgresql_where=text("status IN ('waiting', 'released')"),
    ),
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
    Column("parameters", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
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
