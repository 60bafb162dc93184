"""initial schema, with the 24x7 calendar and the default SLA policy

Revision ID: 0001
Revises: 
Create Date: 2026-11-23 18:58:41.093433
"""

from collections.abc import Sequence
from datetime import timedelta
from uuid import UUID

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# Seeded rows have fixed ids, so other services, tests and operators can name them.
CALENDAR_24X7_ID = UUID("1c2d0001-5a1a-4c00-8000-000000000001")
DEFAULT_POLICY_ID = UUID("1c2d0002-5a1a-4c00-8000-000000000001")
FIRST_RESPONSE_KPI_ID = UUID("1c2d0003-5a1a-4c00-8000-000000000001")
RESOLUTION_KPI_ID = UUID("1c2d0003-5a1a-4c00-8000-000000000002")

revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('calendars',
    sa.Column('calendar_id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('time_zone', sa.String(length=64), nullable=False),
    sa.Column('week', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('holidays', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'::jsonb"), nullable=False),
    sa.Column('special_days', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('calendar_id', name=op.f('pk_calendars')),
    sa.UniqueConstraint('name', name=op.f('uq_calendars_name'))
    )
    op.create_table('case_slas',
    sa.Column('case_id', sa.Uuid(), nullable=False),
    sa.Column('policy_id', sa.Uuid(), nullable=True),
    sa.Column('calendar_id', sa.Uuid(), nullable=True),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('case_id', name=op.f('pk_case_slas'))
    )
    op.create_table('inbox',
    sa.Column('consumer', sa.String(length=200), nullable=False),
    sa.Column('event_id', sa.String(length=200), nullable=False),
    sa.Column('topic', sa.String(length=255), nullable=False),
    sa.Column('partition', sa.Integer(), nullable=True),
    sa.Column('offset', sa.BigInteger(), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('consumer', 'event_id', name=op.f('pk_inbox'))
    )
    op.create_table('kpi_instances',
    sa.Column('instance_id', sa.Uuid(), nullable=False),
    sa.Column('case_id', sa.Uuid(), nullable=False),
    sa.Column('policy_id', sa.Uuid(), nullable=False),
    sa.Column('kpi', sa.String(length=100), nullable=False),
    sa.Column('target', sa.Interval(), nullable=False),
    sa.Column('warn_after', sa.Interval(), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('consumed', sa.Interval(), nullable=False),
    sa.Column('running_since', sa.DateTime(timezone=True), nullable=True),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('warn_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('paused_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('warned_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('breached_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('next_check_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('instance_id', name=op.f('pk_kpi_instances')),
    sa.UniqueConstraint('case_id', 'kpi', name=op.f('uq_kpi_instances_case_id'))
    )
    op.create_index('ix_kpi_instances_kpi_breached_at', 'kpi_instances', ['kpi', 'breached_at'], unique=False, postgresql_where=sa.text('breached_at IS NOT NULL'))
    op.create_index('ix_kpi_instances_kpi_ended_at', 'kpi_instances', ['kpi', 'ended_at'], unique=False)
    op.create_index('ix_kpi_instances_next_check_at', 'kpi_instances', ['next_check_at'], unique=False, postgresql_where=sa.text('next_check_at IS NOT NULL'))
    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("topic", sa.String(length=255), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("headers", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
    )
    op.execute(
        "CREATE OR REPLACE FUNCTION caseflow_outbox_notify() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN PERFORM pg_notify('caseflow_outbox', ''); RETURN NULL; END $$"
    )
    op.execute(
        "CREATE TRIGGER outbox_notify AFTER INSERT ON outbox "
        "FOR EACH STATEMENT EXECUTE FUNCTION caseflow_outbox_notify()"
    )
    op.create_table('parked_case_changes',
    sa.Column('parked_id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('case_id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('payload', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('parked_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('parked_id', name=op.f('pk_parked_case_changes'))
    )
    op.create_index(op.f('ix_parked_case_changes_case_id'), 'parked_case_changes', ['case_id'], unique=False)
    op.create_table('sla_policies',
    sa.Column('policy_id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('calendar_id', sa.Uuid(), nullable=False),
    sa.Column('position', sa.Integer(), server_default='0', nullable=False),
    sa.Column('is_default', sa.Boolean(), server_default='false', nullable=False),
    sa.Column('applies_to', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['calendar_id'], ['calendars.calendar_id'], name=op.f('fk_sla_policies_calendar_id_calendars')),
    sa.PrimaryKeyConstraint('policy_id', name=op.f('pk_sla_policies')),
    sa.UniqueConstraint('name', name=op.f('uq_sla_policies_name'))
    )
    op.create_index('uq_sla_policies_default', 'sla_policies', ['is_default'], unique=True, postgresql_where=sa.text('is_default'))
    op.create_table('sla_policy_kpis',
    sa.Column('kpi_definition_id', sa.Uuid(), nullable=False),
    sa.Column('policy_id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('target', sa.Interval(), nullable=False),
    sa.Column('warn_before', sa.Interval(), nullable=True),
    sa.Column('position', sa.Integer(), server_default='0', nullable=False),
    sa.ForeignKeyConstraint(['policy_id'], ['sla_policies.policy_id'], name=op.f('fk_sla_policy_kpis_policy_id_sla_policies'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('kpi_definition_id', name=op.f('pk_sla_policy_kpis')),
    sa.UniqueConstraint('policy_id', 'name', name=op.f('uq_sla_policy_kpis_policy_id'))
    )

    _seed()


def _seed() -> None:
    calendars = sa.table(
        "calendars",
        sa.column("calendar_id", sa.Uuid()),
        sa.column("name", sa.String()),
        sa.column("time_zone", sa.String()),
        sa.column("week", postgresql.JSONB()),
        sa.column("holidays", postgresql.JSONB()),
        sa.column("special_days", postgresql.JSONB()),
    )
    policies = sa.table(
        "sla_policies",
        sa.column("policy_id", sa.Uuid()),
        sa.column("name", sa.String()),
        sa.column("calendar_id", sa.Uuid()),
        sa.column("position", sa.Integer()),
        sa.column("is_default", sa.Boolean()),
        sa.column("applies_to", postgresql.JSONB()),
    )
    policy_kpis = sa.table(
        "sla_policy_kpis",
        sa.column("kpi_definition_id", sa.Uuid()),
        sa.column("policy_id", sa.Uuid()),
        sa.column("name", sa.String()),
        sa.column("target", sa.Interval()),
        sa.column("warn_before", sa.Interval()),
        sa.column("position", sa.Integer()),
    )
    op.bulk_insert(
        calendars,
        [
            {
                "calendar_id": CALENDAR_24X7_ID,
                "name": "24x7",
                "time_zone": "UTC",
                "week": [["00:00-24:00"]] * 7,
                "holidays": [],
                "special_days": {},
            }
        ],
    )
    op.bulk_insert(
        policies,
        [
            {
                "policy_id": DEFAULT_POLICY_ID,
                "name": "Default",
                "calendar_id": CALENDAR_24X7_ID,
                "position": 0,
                "is_default": True,
                "applies_to": {"priorities": [], "channels": [], "request_types": []},
            }
        ],
    )
    op.bulk_insert(
        policy_kpis,
        [
            {
                "kpi_definition_id": FIRST_RESPONSE_KPI_ID,
                "policy_id": DEFAULT_POLICY_ID,
                "name": "first_response",
                "target": timedelta(hours=8),
                "warn_before": timedelta(hours=2),
                "position": 0,
            },
            {
                "kpi_definition_id": RESOLUTION_KPI_ID,
                "policy_id": DEFAULT_POLICY_ID,
                "name": "resolution",
                "target": timedelta(days=5),
                "warn_before": None,
                "position": 1,
            },
        ],
    )


def downgrade() -> None:
    op.drop_table('sla_policy_kpis')
    op.drop_index('uq_sla_policies_default', table_name='sla_policies', postgresql_where=sa.text('is_default'))
    op.drop_table('sla_policies')
    op.drop_index(op.f('ix_parked_case_changes_case_id'), table_name='parked_case_changes')
    op.drop_table('parked_case_changes')
    op.drop_table('outbox')
    op.execute("DROP FUNCTION IF EXISTS caseflow_outbox_notify()")
    op.drop_index('ix_kpi_instances_next_check_at', table_name='kpi_instances', postgresql_where=sa.text('next_check_at IS NOT NULL'))
    op.drop_index('ix_kpi_instances_kpi_ended_at', table_name='kpi_instances')
    op.drop_index('ix_kpi_instances_kpi_breached_at', table_name='kpi_instances', postgresql_where=sa.text('breached_at IS NOT NULL'))
    op.drop_table('kpi_instances')
    op.drop_table('inbox')
    op.drop_table('case_slas')
    op.drop_table('calendars')
