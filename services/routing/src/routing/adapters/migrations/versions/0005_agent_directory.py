"""agent directory, teams, strategy chains, overflow, queue order and the projections routing
assigns by (accounts, SLA due times)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 22:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_EMPTY_TEXTS = sa.text("'{}'::text[]")
_EMPTY_JSON = sa.text("'{}'::jsonb")


def upgrade() -> None:
    op.create_table(
        "teams",
        sa.Column("team_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("manager_id", sa.Uuid(), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("team_id", name=op.f("pk_teams")),
    )
    op.create_index("uq_teams_name_lower", "teams", [sa.text("lower(name)")], unique=True)

    # Queues: a chain of strategies instead of one, a team or an owner, overflow.
    op.add_column(
        "queues",
        sa.Column(
            "strategies",
            postgresql.ARRAY(sa.Text()),
            server_default=sa.text("'{manual}'::text[]"),
            nullable=False,
        ),
    )
    op.execute("UPDATE queues SET strategies = ARRAY[strategy]")
    op.drop_column("queues", "strategy")
    # Private queues had no members to enforce: they become public, and an admin gives each
    # the team it is meant for.
    op.execute("UPDATE queues SET kind = 'public' WHERE kind = 'private'")
    op.add_column(
        "queues",
        sa.Column("skill_match", sa.String(length=16), server_default="exact", nullable=False),
    )
    op.add_column("queues", sa.Column("team_id", sa.Uuid(), nullable=True))
    op.add_column("queues", sa.Column("owner_id", sa.Uuid(), nullable=True))
    op.add_column("queues", sa.Column("overflow_queue_id", sa.Uuid(), nullable=True))
    op.add_column("queues", sa.Column("overflow_after_seconds", sa.Integer(), nullable=True))
    op.add_column("queues", sa.Column("overflow_max_length", sa.Integer(), nullable=True))
    op.add_column(
        "queues",
        sa.Column(
            "overflow_when_unstaffed", sa.Boolean(), server_default=sa.false(), nullable=False
        ),
    )
    op.add_column("queues", sa.Column("last_assigned_agent", sa.Uuid(), nullable=True))
    op.create_foreign_key(
        op.f("fk_queues_team_id_teams"),
        "queues",
        "teams",
        ["team_id"],
        ["team_id"],
        ondelete="RESTRICT",
    )
    op.create_foreign_key(
        op.f("fk_queues_overflow_queue_id_queues"),
        "queues",
        "queues",
        ["overflow_queue_id"],
        ["queue_id"],
        ondelete="SET NULL",
    )

    # Rules: the account's tier and region, and request parameters.
    op.add_column(
        "routing_rules",
        sa.Column("tiers", postgresql.ARRAY(sa.Text()), server_default=_EMPTY_TEXTS, nullable=False),
    )
    op.add_column(
        "routing_rules",
        sa.Column(
            "regions", postgresql.ARRAY(sa.Text()), server_default=_EMPTY_TEXTS, nullable=False
        ),
    )
    op.add_column(
        "routing_rules",
        sa.Column(
            "parameters",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=_EMPTY_JSON,
            nullable=False,
        ),
    )

    # Agents: the directory entry, units of work, load, presence's reason, version.
    for column in (
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("phone_extension", sa.String(length=32), nullable=True),
        sa.Column("manager_id", sa.Uuid(), nullable=True),
        sa.Column(
            "languages", postgresql.ARRAY(sa.Text()), server_default=_EMPTY_TEXTS, nullable=False
        ),
        sa.Column(
            "work_units",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=_EMPTY_JSON,
            nullable=False,
        ),
        sa.Column("load_units", sa.Integer(), server_default="0", nullable=False),
        sa.Column("presence_reason", sa.String(length=16), server_default="set", nullable=False),
        sa.Column("presence_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("registered", sa.Boolean(), server_default=sa.false(), nullable=False),
    ):
        op.add_column("agents", column)
    op.create_check_constraint("ck_agents_load_not_negative", "agents", "load_units >= 0")
    op.create_check_constraint("ck_agents_capacity_not_negative", "agents", "capacity >= 0")
    op.create_index(
        "uq_agents_phone_extension",
        "agents",
        ["phone_extension"],
        unique=True,
        postgresql_where=sa.text("phone_extension IS NOT NULL"),
    )
    op.create_table(
        "agent_teams",
        sa.Column("agent_id", sa.Uuid(), nullable=False),
        sa.Column("team_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.SmallInteger(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["agents.agent_id"],
            name=op.f("fk_agent_teams_agent_id_agents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["team_id"],
            ["teams.team_id"],
            name=op.f("fk_agent_teams_team_id_teams"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("agent_id", "team_id", name=op.f("pk_agent_teams")),
    )
    op.create_index("ix_agent_teams_team", "agent_teams", ["team_id"])

    # Queue items: work type, order, preference, units held.
    for column in (
        sa.Column("work_type", sa.String(length=40), server_default="case", nullable=False),
        sa.Column("priority", sa.String(length=16), server_default="normal", nullable=False),
        sa.Column("priority_rank", sa.SmallInteger(), server_default="2", nullable=False),
        sa.Column("sla_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("preferred_agent", sa.Uuid(), nullable=True),
        sa.Column("last_worked_by", sa.Uuid(), nullable=True),
        sa.Column("rule_name", sa.String(length=200), nullable=True),
        sa.Column("units", sa.Integer(), server_default="0", nullable=False),
    ):
        op.add_column("queue_items", column)
    op.execute(
        """
        UPDATE queue_items AS i
           SET priority = f.priority,
               priority_rank = CASE f.priority
                   WHEN 'urgent' THEN 0 WHEN 'high' THEN 1 WHEN 'normal' THEN 2 ELSE 3 END,
               work_type = 'case:' || f.channel
          FROM case_facts AS f
         WHERE f.case_id = i.case_id
        """
    )
    # What agents work today holds one unit each, as routing counted it so far.
    op.execute("UPDATE queue_items SET units = 1 WHERE status = 'assigned'")
    op.execute(
        """
        UPDATE agents AS a
           SET load_units = n.units
          FROM (SELECT worked_by, sum(units) AS units FROM queue_items
                 WHERE status = 'assigned' GROUP BY worked_by) AS n
         WHERE n.worked_by = a.agent_id
        """
    )
    op.create_index(
        "ix_queue_items_waiting_order",
        "queue_items",
        ["queue_id", "priority_rank", sa.text("sla_due_at NULLS LAST"), "entered_at"],
        postgresql_where=sa.text("status IN ('waiting', 'released')"),
    )
    op.add_column(
        "case_facts",
        sa.Column(
            "parameters",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=_EMPTY_JSON,
            nullable=False,
        ),
    )

    op.create_table(
        "accounts",
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=True),
        sa.Column("tier", sa.String(length=64), nullable=True),
        sa.Column("region", sa.String(length=64), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_accounts")),
    )
    op.create_table(
        "case_kpis",
        sa.Column("kpi_instance_id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("kpi_instance_id", name=op.f("pk_case_kpis")),
    )
    op.create_index(op.f("ix_case_kpis_case_id"), "case_kpis", ["case_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_case_kpis_case_id"), table_name="case_kpis")
    op.drop_table("case_kpis")
    op.drop_table("accounts")
    op.drop_column("case_facts", "parameters")
    op.drop_index("ix_queue_items_waiting_order", table_name="queue_items")
    for name in (
        "units",
        "rule_name",
        "last_worked_by",
        "preferred_agent",
        "sla_due_at",
        "priority_rank",
        "priority",
        "work_type",
    ):
        op.drop_column("queue_items", name)
    op.drop_index("ix_agent_teams_team", table_name="agent_teams")
    op.drop_table("agent_teams")
    op.drop_index("uq_agents_phone_extension", table_name="agents")
    op.drop_constraint("ck_agents_capacity_not_negative", "agents", type_="check")
    op.drop_constraint("ck_agents_load_not_negative", "agents", type_="check")
    for name in (
        "registered",
        "version",
        "active",
        "presence_since",
        "presence_reason",
        "load_units",
        "work_units",
        "languages",
        "manager_id",
        "phone_extension",
        "email",
    ):
        op.drop_column("agents", name)
    for name in ("parameters", "regions", "tiers"):
        op.drop_column("routing_rules", name)
    op.drop_constraint(op.f("fk_queues_overflow_queue_id_queues"), "queues", type_="foreignkey")
    op.drop_constraint(op.f("fk_queues_team_id_teams"), "queues", type_="foreignkey")
    for name in (
        "last_assigned_agent",
        "overflow_when_unstaffed",
        "overflow_max_length",
        "overflow_after_seconds",
        "overflow_queue_id",
        "owner_id",
        "team_id",
        "skill_match",
    ):
        op.drop_column("queues", name)
    op.add_column(
        "queues",
        sa.Column("strategy", sa.String(length=32), server_default="manual", nullable=False),
    )
    op.execute("UPDATE queues SET strategy = strategies[1]")
    op.drop_column("queues", "strategies")
    op.drop_index("uq_teams_name_lower", table_name="teams")
    op.drop_table("teams")
