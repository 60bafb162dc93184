"""The SLA service's tables (plus the kit's outbox and inbox)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    Interval,
    String,
    Table,
    UniqueConstraint,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

from caseflow_servicekit import new_metadata

metadata = new_metadata()

calendars = Table(
    "calendars",
    metadata,
    Column("calendar_id", Uuid, primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("time_zone", String(64), nullable=False),
    # Seven lists, Monday first, of working hours written "HH:MM-HH:MM" in local time.
    Column("week", JSONB, nullable=False),
    # ISO dates closed all day, and ISO dates -> working hours replacing the weekly ones.
    Column("holidays", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    Column("special_days", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

policies = Table(
    "sla_policies",
    metadata,
    Column("policy_id", Uuid, primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("calendar_id", Uuid, ForeignKey("calendars.calendar_id"), nullable=False),
    # Policies are tried in this order; the first that applies to a case is chosen.
    Column("position", Integer, nullable=False, server_default="0"),
    Column("is_default", Boolean, nullable=False, server_default="false"),
    # {"priorities": [...], "channels": [...], "request_types": [...]}; empty lists accept all.
    Column("applies_to", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # A retired policy is chosen for no new case; the KPIs it started run on.
    Column("retired_at", DateTime(timezone=True), nullable=True),
    # What reopening a case does to its resolution KPI (a policy without items): continue, or
    # restart.
    Column("reopen", String(16), nullable=False, server_default="continue"),
    # The escalation ladder: null for the default one (the assignee's manager at the breach).
    Column("escalation", JSONB, nullable=True),
    # At most one default policy.
    Index(
        "uq_sla_policies_default",
        "is_default",
        unique=True,
        postgresql_where=text("is_default"),
    ),
)

policy_kpis = Table(
    "sla_policy_kpis",
    metadata,
    Column("kpi_definition_id", Uuid, primary_key=True),
    Column(
        "policy_id",
        Uuid,
        ForeignKey("sla_policies.policy_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("name", String(100), nullable=False),
    Column("target", Interval, nullable=False),
    Column("warn_before", Interval, nullable=True),
    # The case statuses that stop its clock; null: waiting_for_customer and on_hold.
    Column("pause_statuses", JSONB, nullable=True),
    # The calendar the KPI counts on, when not the policy's.
    Column("calendar_id", Uuid, ForeignKey("calendars.calendar_id"), nullable=True),
    Column("position", Integer, nullable=False, server_default="0"),
    UniqueConstraint("policy_id", "name"),
)

policy_items = Table(
    "sla_policy_items",
    metadata,
    Column("item_id", Uuid, primary_key=True),
    Column(
        "policy_id",
        Uuid,
        ForeignKey("sla_policies.policy_id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    # Items are tried in this order; the first that matches a case gives its KPIs.
    Column("position", Integer, nullable=False),
    Column("name", String(200), nullable=False),
    Column("applies_to", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("calendar_id", Uuid, ForeignKey("calendars.calendar_id"), nullable=True),
    # [{"name": ..., "target_seconds": ..., "warn_before_seconds": ...,
    #   "pause_statuses": [...]}, ...]
    Column("kpis", JSONB, nullable=False),
    Column("reopen", String(16), nullable=False, server_default="continue"),
    UniqueConstraint("policy_id", "position"),
)

accounts = Table(
    "accounts",
    metadata,
    # What SLA learnt of each account from intake's customer card, for policy conditions.
    Column("account_id", Uuid, primary_key=True),
    Column("tier", String(64), nullable=True),
    Column("region", String(64), nullable=True),
    Column("version", Integer, nullable=False),
)

case_slas = Table(
    "case_slas",
    metadata,
    # Every case SLA has seen open, with the policy and calendar its KPIs are measured on
    # (both null when no policy applied to it).
    Column("case_id", Uuid, primary_key=True),
    Column("policy_id", Uuid, nullable=True),
    Column("calendar_id", Uuid, nullable=True),
    Column("opened_at", DateTime(timezone=True), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("number", String(64), nullable=True),
    # The facts the policy was chosen on, kept so that a change re-evaluates it.
    Column("priority", String(16), nullable=True),
    Column("channel", String(16), nullable=True),
    Column("request_type", String(100), nullable=True),
    Column("account_id", Uuid, nullable=True),
    Column("contract_id", Uuid, nullable=True),
    Column("sla_policy_id", Uuid, nullable=True),
    Column("contract_calendar_id", Uuid, nullable=True),
)

case_assignees = Table(
    "case_assignees",
    metadata,
    # Who works each case (from routing's events, which may come before the case's opening):
    # told when a KPI nears its deadline; their manager when it passes.
    Column("case_id", Uuid, primary_key=True),
    Column("agent_id", Uuid, nullable=True),
    # The queue the case was last placed in (from routing's events), for the reports.
    Column("queue_id", Uuid, nullable=True),
)

kpi_state_log = Table(
    "kpi_state_log",
    metadata,
    # Every change of every KPI, with when and why: what `GET /cases/{id}/kpis` shows.
    Column("entry_id", BigInteger, Identity(), primary_key=True),
    Column("instance_id", Uuid, nullable=False),
    Column("case_id", Uuid, nullable=False, index=True),
    Column("kpi", String(100), nullable=False),
    # started, paused, resumed, warned, breached, met, cancelled, reopened, re_evaluated
    Column("state", String(16), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("reason", String(200), nullable=True),
)

agents = Table(
    "agents",
    metadata,
    # Managers from the agent directory (routing.agent.v1): whom a breach is escalated to.
    Column("agent_id", Uuid, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("manager_id", Uuid, nullable=True),
    Column("version", Integer, nullable=False),
)

parked_changes = Table(
    "parked_case_changes",
    metadata,
    # Changes to a case that arrived before its opening; applied when the opening arrives.
    Column("parked_id", BigInteger, Identity(), primary_key=True),
    Column("case_id", Uuid, nullable=False, index=True),
    Column("kind", String(32), nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("payload", JSONB, nullable=False),
    Column("parked_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

kpi_instances = Table(
    "kpi_instances",
    metadata,
    Column("instance_id", Uuid, primary_key=True),
    Column("case_id", Uuid, nullable=False),
    Column("policy_id", Uuid, nullable=False),
    Column("kpi", String(100), nullable=False),
    Column("target", Interval, nullable=False),
    Column("warn_after", Interval, nullable=True),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("status", String(32), nullable=False),
    Column("consumed", Interval, nullable=False),
    Column("running_since", DateTime(timezone=True), nullable=True),
    Column("due_at", DateTime(timezone=True), nullable=True),
    Column("warn_at", DateTime(timezone=True), nullable=True),
    Column("paused_at", DateTime(timezone=True), nullable=True),
    Column("warned_at", DateTime(timezone=True), nullable=True),
    Column("breached_at", DateTime(timezone=True), nullable=True),
    Column("ended_at", DateTime(timezone=True), nullable=True),
    # When the timer next has something to fire for this KPI; null when nothing is pending.
    Column("next_check_at", DateTime(timezone=True), nullable=True),
    # The case statuses that stop its clock (null: waiting_for_customer and on_hold), and what
    # reopening the case does to it.
    Column("pause_statuses", JSONB, nullable=True),
    Column("reopen", String(16), nullable=False, server_default="continue"),
    # Its policy's escalation ladder (null: the default one), and how many steps have fired.
    Column("ladder", JSONB, nullable=True),
    Column("escalated", Integer, nullable=False, server_default="0"),
    # The calendar its definition names; null when it counts on the case's.
    Column("calendar_id", Uuid, nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # A case has each KPI once, however often its opening is delivered.
    UniqueConstraint("case_id", "kpi"),
    Index(
        "ix_kpi_instances_next_check_at",
        "next_check_at",
        postgresql_where=text("next_check_at IS NOT NULL"),
    ),
    Index("ix_kpi_instances_kpi_ended_at", "kpi", "ended_at"),
    Index(
        "ix_kpi_instances_kpi_breached_at",
        "kpi",
        "breached_at",
        postgresql_where=text("breached_at IS NOT NULL"),
    ),
)

queue_managers = Table(
    "queue_managers",
    metadata,
    # The manager configured for one of routing's queues: whom a breach of a case in the queue
    # goes to when the agent directory names nobody, and an escalation ladder's queue owner.
    Column("queue_id", Uuid, primary_key=True),
    Column("manager_id", Uuid, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
