"""SLA state in PostgreSQL: cases seen open, KPI instances, policies and calendars."""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import RowMapping, and_, bindparam, delete, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from caseflow_servicekit.cache import TtlCache
from sla.adapters.tables import (
    accounts,
    agents,
    calendars,
    case_assignees,
    case_slas,
    kpi_instances,
    kpi_state_log,
    parked_changes,
    policies,
    policy_items,
    policy_kpis,
    queue_managers,
)
from sla.app.commands import (
    CaseChange,
    RecordCancellation,
    RecordFirstResponse,
    RecordReopening,
    RecordResolution,
    RecordStatusChange,
)
from sla.app.ports import CaseSla, ComplianceRow, KpiCompliance, NamedCalendar
from sla.domain import (
    DEFAULT_LADDER,
    DEFAULT_PAUSE_STATUSES,
    AppliesTo,
    Calendar,
    EscalationStep,
    EscalationTarget,
    KpiDefinition,
    KpiInstance,
    KpiStatus,
    PolicyItem,
    ReopenMode,
    SlaPolicy,
    WorkingInterval,
)

_CASE_SLA_FIELDS = (
    "case_id",
    "policy_id",
    "calendar_id",
    "opened_at",
    "number",
    "priority",
    "channel",
    "request_type",
    "account_id",
    "contract_id",
    "sla_policy_id",
    "contract_calendar_id",
)


_SAVED_COLUMNS = tuple(
    column.name
    for column in kpi_instances.c
    # What a KPI is and when it started never change; the time of the write is the database's.
    if column.name not in {"instance_id", "case_id", "kpi", "started_at", "updated_at"}
)
_SAVE_INSTANCE = (
    update(kpi_instances)
    .where(kpi_instances.c.instance_id == bindparam("key"))
    .values({**{name: bindparam(name) for name in _SAVED_COLUMNS}, "updated_at": func.now()})
)
"""A KPI instance written back: the statement built once, run for many."""


class SqlCaseSlaRepository:
    """Cases SLA has seen open, and changes parked until their case opens."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, case_id: UUID) -> CaseSla | None:
        """The SLA record of a case, or None before its opening arrived."""
        row = (
            (await self._session.execute(select(case_slas).where(case_slas.c.case_id == case_id)))
            .mappings()
            .first()
        )
        if row is None:
            return None
        return CaseSla(**{name: row[name] for name in _CASE_SLA_FIELDS})

    async def add(self, sla: CaseSla) -> None:
        """Remember that a case opened, under which policy and calendar, and on what facts."""
        await self._session.execute(
            insert(case_slas).values(**{name: getattr(sla, name) for name in _CASE_SLA_FIELDS})
        )

    async def save(self, sla: CaseSla) -> None:
        """Write a case's SLA record back (its policy, calendar and facts)."""
        values = {name: getattr(sla, name) for name in _CASE_SLA_FIELDS}
        values.pop("case_id")
        await self._session.execute(
            update(case_slas).where(case_slas.c.case_id == sla.case_id).values(**values)
        )

    async def set_assignee(self, case_id: UUID, agent_id: UUID | None) -> None:
        """Record who works the case now (None: nobody), whether or not it has opened here."""
        await self._session.execute(
            pg_insert(case_assignees)
            .values(case_id=case_id, agent_id=agent_id)
            .on_conflict_do_update(
                index_elements=[case_assignees.c.case_id], set_={"agent_id": agent_id}
            )
        )

    async def get_many(self, case_ids: Collection[UUID]) -> dict[UUID, CaseSla]:
        """The SLA records of those of the cases that have opened here."""
        if not case_ids:
            return {}
        rows = await self._session.execute(
            select(case_slas).where(case_slas.c.case_id.in_(list(case_ids)))
        )
        return {
            row["case_id"]: CaseSla(**{name: row[name] for name in _CASE_SLA_FIELDS})
            for row in rows.mappings()
        }

    async def set_queue(self, case_id: UUID, queue_id: UUID) -> None:
        """Record the queue the case was placed in, whether or not it has opened here."""
        await self._session.execute(
            pg_insert(case_assignees)
            .values(case_id=case_id, queue_id=queue_id)
            .on_conflict_do_update(
                index_elements=[case_assignees.c.case_id], set_={"queue_id": queue_id}
            )
        )

    async def queue_of(self, case_id: UUID) -> UUID | None:
        """The queue routing last placed the case in, if any."""
        found: UUID | None = await self._session.scalar(
            select(case_assignees.c.queue_id).where(case_assignees.c.case_id == case_id)
        )
        return found

    async def placements(
        self, case_ids: Collection[UUID]
    ) -> dict[UUID, tuple[UUID | None, UUID | None]]:
        """Who works each of the cases now and the queue it was last placed in, for those
        of the cases routing has placed or assigned."""
        if not case_ids:
            return {}
        c = case_assignees.c
        rows = await self._session.execute(
            select(c.case_id, c.agent_id, c.queue_id).where(c.case_id.in_(list(case_ids)))
        )
        return {row.case_id: (row.agent_id, row.queue_id) for row in rows}

    async def assignees(self, case_ids: Collection[UUID]) -> dict[UUID, UUID]:
        """Who works each of the cases now (cases nobody works are left out)."""
        placed = await self.placements(case_ids)
        return {case_id: agent for case_id, (agent, _) in placed.items() if agent is not None}

    async def people(
        self, agent_ids: Collection[UUID]
    ) -> dict[UUID, tuple[str | None, UUID | None]]:
        """Each agent's name and manager, as the agent directory said."""
        if not agent_ids:
            return {}
        rows = await self._session.execute(
            select(agents.c.agent_id, agents.c.name, agents.c.manager_id).where(
                agents.c.agent_id.in_(list(agent_ids))
            )
        )
        return {row.agent_id: (row.name, row.manager_id) for row in rows}

    async def keep_agent(
        self, agent_id: UUID, *, name: str, manager_id: UUID | None, version: int
    ) -> None:
        """Keep the agent's name and manager unless a later version is kept already."""
        values = {"name": name, "manager_id": manager_id, "version": version}
        await self._session.execute(
            pg_insert(agents)
            .values(agent_id=agent_id, **values)
            .on_conflict_do_update(
                index_elements=[agents.c.agent_id], set_=values, where=agents.c.version < version
            )
        )

    async def log(self, case_id: UUID) -> list[dict[str, Any]]:
        """Every KPI state change of the case, oldest first."""
        t = kpi_state_log.c
        rows = await self._session.execute(
            select(t.instance_id, t.kpi, t.state, t.at, t.reason)
            .where(t.case_id == case_id)
            .order_by(t.at, t.entry_id)
        )
        return [dict(row) for row in rows.mappings()]

    async def park(self, change: CaseChange) -> None:
        """Keep a change to a case whose opening has not arrived."""
        kind, payload = _change_row(change)
        await self._session.execute(
            insert(parked_changes).values(
                case_id=change.case_id, kind=kind, occurred_at=change.at, payload=payload
            )
        )

    async def take_parked(self, case_id: UUID) -> list[CaseChange]:
        """The changes parked for a case, oldest first, removed from the parking."""
        rows = (
            await self._session.execute(
                delete(parked_changes)
                .where(parked_changes.c.case_id == case_id)
                .returning(
                    parked_changes.c.parked_id,
                    parked_changes.c.kind,
                    parked_changes.c.occurred_at,
                    parked_changes.c.payload,
                )
            )
        ).all()
        return [
            _change_of(case_id, row.kind, row.occurred_at, row.payload)
            for row in sorted(rows, key=lambda row: (row.occurred_at, row.parked_id))
        ]


class SqlKpiRepository:
    """KPI instances, one row each."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def of_case(self, case_id: UUID, *, for_update: bool = False) -> list[KpiInstance]:
        """The KPI instances of a case, in the order they started."""
        stmt = (
            select(kpi_instances)
            .where(kpi_instances.c.case_id == case_id)
            .order_by(kpi_instances.c.started_at, kpi_instances.c.kpi)
        )
        if for_update:
            stmt = stmt.with_for_update()
        rows = (await self._session.execute(stmt)).mappings().all()
        return [_instance(row) for row in rows]

    async def add(self, instance: KpiInstance) -> None:
        """Insert a new KPI instance; a second instance of one KPI for one case is refused."""
        await self._session.execute(insert(kpi_instances).values(**_instance_row(instance)))

    async def save(self, instance: KpiInstance) -> None:
        """Write a loaded KPI instance back."""
        values = _instance_row(instance)
        # The policy may change (a re-evaluation); what the KPI is and when it started never.
        for key in ("instance_id", "case_id", "kpi", "started_at"):
            values.pop(key)
        await self._session.execute(
            update(kpi_instances)
            .where(kpi_instances.c.instance_id == instance.instance_id)
            .values(**values, updated_at=func.now())
        )

    async def save_many(self, instances: Sequence[KpiInstance]) -> None:
        """Write loaded KPI instances back, with one statement."""
        if not instances:
            return
        rows = []
        for instance in instances:
            values = _instance_row(instance)
            for key in ("case_id", "kpi", "started_at"):
                values.pop(key)
            values["key"] = values.pop("instance_id")
            rows.append(values)
        await self._session.execute(_SAVE_INSTANCE, rows)

    async def next_check(self) -> datetime | None:
        """When the timer next has something to fire (None: nothing is pending)."""
        found: datetime | None = await self._session.scalar(
            select(func.min(kpi_instances.c.next_check_at))
        )
        return found

    async def claim_due(self, now: datetime, *, limit: int) -> list[KpiInstance]:
        """Lock up to `limit` KPIs whose next check has come, skipping ones locked elsewhere."""
        stmt = (
            select(kpi_instances)
            .where(kpi_instances.c.next_check_at <= now)
            .order_by(kpi_instances.c.next_check_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        rows = (await self._session.execute(stmt)).mappings().all()
        return [_instance(row) for row in rows]

    async def compliance(self, *, since: datetime, until: datetime) -> list[KpiCompliance]:
        """Per KPI: met in time (ended in the period) and breached (deadline in the period)."""
        t = kpi_instances.c
        met, breached = _outcomes(since, until)
        stmt = (
            select(
                t.kpi,
                func.count().filter(met).label("met"),
                func.count().filter(breached).label("breached"),
            )
            .where(met | breached)
            .group_by(t.kpi)
            .order_by(t.kpi)
        )
        rows = (await self._session.execute(stmt)).all()
        return [KpiCompliance(kpi=row.kpi, met=row.met, breached=row.breached) for row in rows]

    async def compliance_rows(
        self, *, since: datetime, until: datetime, group_by: Sequence[str]
    ) -> list[ComplianceRow]:
        """Per group: met in time (ended in the period), breached (deadline in the period), in
        progress (started before the period's end, open and not breached), and the median and
        90th percentile of the share of the target the met ones used."""
        t = kpi_instances.c
        dimensions = {
            "policy": t.policy_id,
            "kpi": t.kpi,
            "priority": case_slas.c.priority,
            "account": case_slas.c.account_id,
            "agent": case_assignees.c.agent_id,
            "queue": case_assignees.c.queue_id,
        }
        columns = [dimensions[name].label(name) for name in group_by]
        met, breached = _outcomes(since, until)
        in_progress = and_(
            t.status.in_([s.value for s in _OPEN_UNBREACHED]),
            t.started_at < until,
        )
        # Only KPIs whose clocks were settled at their end have their used time as a figure.
        share = func.extract("epoch", t.consumed) / func.nullif(func.extract("epoch", t.target), 0)
        measured = and_(met, t.running_since.is_(None))
        stmt = (
            select(
                *columns,
                func.count().filter(met).label("met"),
                func.count().filter(breached).label("breached"),
                func.count().filter(in_progress).label("in_progress"),
                func.percentile_cont(0.5).within_group(share).filter(measured).label("median"),
                func.percentile_cont(0.9).within_group(share).filter(measured).label("p90"),
            )
            .select_from(
                kpi_instances.join(case_slas, case_slas.c.case_id == t.case_id).outerjoin(
                    case_assignees, case_assignees.c.case_id == t.case_id
                )
            )
            .where(met | breached | in_progress)
            .group_by(*columns)
            .order_by(*columns)
        )
        rows = (await self._session.execute(stmt)).mappings().all()
        return [
            ComplianceRow(
                group={name: None if row[name] is None else str(row[name]) for name in group_by},
                met=row["met"],
                breached=row["breached"],
                in_progress=row["in_progress"],
                median_share=None if row["median"] is None else float(row["median"]),
                p90_share=None if row["p90"] is None else float(row["p90"]),
            )
            for row in rows
        ]


_OPEN_UNBREACHED = (KpiStatus.IN_PROGRESS, KpiStatus.NEARING_BREACH, KpiStatus.PAUSED)


def _outcomes(since: datetime, until: datetime) -> tuple[Any, Any]:
    """KPIs met in time (ended in [since, until)) and breached (deadline in it)."""
    t = kpi_instances.c
    met = and_(
        t.status == KpiStatus.SUCCEEDED.value,
        t.breached_at.is_(None),
        t.ended_at >= since,
        t.ended_at < until,
    )
    return met, and_(t.breached_at >= since, t.breached_at < until)


class ReferenceCache:
    """Policies and calendars, kept per process for a few seconds (see `TtlCache`)."""

    def __init__(self, ttl: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._policies: TtlCache[list[SlaPolicy]] = TtlCache(ttl, clock=clock)
        self._calendars: TtlCache[NamedCalendar] = TtlCache(ttl, clock=clock)

    def policies(self) -> list[SlaPolicy] | None:
        """The policies, if still fresh."""
        return self._policies.get("all")

    def keep_policies(self, value: list[SlaPolicy]) -> None:
        self._policies.put("all", value)

    def calendar(self, calendar_id: UUID) -> NamedCalendar | None:
        """The calendar, if still fresh."""
        return self._calendars.get(calendar_id)

    def keep_calendar(self, value: NamedCalendar) -> None:
        self._calendars.put(value.calendar_id, value)

    def clear(self) -> None:
        """Forget everything, after a change."""
        self._policies.clear()
        self._calendars.clear()


class SqlPolicyRepository:
    """SLA policies with their KPI definitions."""

    def __init__(self, session: AsyncSession, cache: ReferenceCache | None = None) -> None:
        self._session = session
        self._cache = cache

    async def list(self) -> list[SlaPolicy]:
        """Every policy, in the order they are tried."""
        if self._cache is not None and (kept := self._cache.policies()) is not None:
            return kept
        loaded = await _load_policies(self._session)
        if self._cache is not None:
            self._cache.keep_policies(loaded)
        return loaded

    async def get(self, policy_id: UUID) -> SlaPolicy | None:
        """The policy with `policy_id`, retired or not."""
        return next(
            (p for p in await _load_policies(self._session) if p.policy_id == policy_id), None
        )

    async def find_by_name(self, name: str) -> SlaPolicy | None:
        """The policy named `name`, whatever the letter case."""
        wanted = name.strip().casefold()
        return next(
            (p for p in await _load_policies(self._session) if p.name.casefold() == wanted), None
        )

    async def next_position(self) -> int:
        """A position after every policy's: where a new policy is tried."""
        last = await self._session.scalar(select(func.max(policies.c.position)))
        return 0 if last is None else int(last) + 1

    async def add(self, policy: SlaPolicy, *, position: int) -> None:
        """Insert a new policy with its items."""
        if self._cache is not None:
            self._cache.clear()
        await self._session.execute(
            insert(policies).values(
                policy_id=policy.policy_id, position=position, **_policy_values(policy)
            )
        )
        await self._write_terms(policy)

    async def save(self, policy: SlaPolicy) -> None:
        """Overwrite a policy, its KPIs and its items (its place in the order stays)."""
        if self._cache is not None:
            self._cache.clear()
        await self._session.execute(
            update(policies)
            .where(policies.c.policy_id == policy.policy_id)
            .values(**_policy_values(policy))
        )
        await self._session.execute(
            delete(policy_kpis).where(policy_kpis.c.policy_id == policy.policy_id)
        )
        await self._session.execute(
            delete(policy_items).where(policy_items.c.policy_id == policy.policy_id)
        )
        await self._write_terms(policy)

    async def retire(self, policy_id: UUID, *, at: datetime) -> None:
        """Choose the policy for no new case from now on."""
        if self._cache is not None:
            self._cache.clear()
        await self._session.execute(
            update(policies)
            .where(policies.c.policy_id == policy_id, policies.c.retired_at.is_(None))
            .values(retired_at=at)
        )

    async def _write_terms(self, policy: SlaPolicy) -> None:
        if policy.kpis:
            await self._session.execute(
                insert(policy_kpis),
                [
                    {
                        "kpi_definition_id": uuid4(),
                        "policy_id": policy.policy_id,
                        "name": kpi.name,
                        "target": kpi.target,
                        "warn_before": kpi.warn_before,
                        "pause_statuses": _statuses_json(kpi.pause_statuses),
                        "calendar_id": kpi.calendar_id,
                        "position": n,
                    }
                    for n, kpi in enumerate(policy.kpis)
                ],
            )
        if policy.items:
            await self._session.execute(
                insert(policy_items),
                [
                    {
                        "item_id": uuid4(),
                        "policy_id": policy.policy_id,
                        "position": n,
                        "name": item.name,
                        "applies_to": _applies_to_json(item.applies_to),
                        "calendar_id": item.calendar_id,
                        "kpis": [_kpi_json(kpi) for kpi in item.kpis],
                        "reopen": item.reopen.value,
                    }
                    for n, item in enumerate(policy.items)
                ],
            )


class SqlQueueManagerRepository:
    """The manager configured for each queue."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, queue_id: UUID) -> UUID | None:
        found: UUID | None = await self._session.scalar(
            select(queue_managers.c.manager_id).where(queue_managers.c.queue_id == queue_id)
        )
        return found

    async def put(self, queue_id: UUID, manager_id: UUID) -> None:
        await self._session.execute(
            pg_insert(queue_managers)
            .values(queue_id=queue_id, manager_id=manager_id)
            .on_conflict_do_update(
                index_elements=[queue_managers.c.queue_id],
                set_={"manager_id": manager_id, "updated_at": func.now()},
            )
        )

    async def delete(self, queue_id: UUID) -> bool:
        """Forget the queue's manager; whether it had one."""
        gone = await self._session.execute(
            delete(queue_managers)
            .where(queue_managers.c.queue_id == queue_id)
            .returning(queue_managers.c.queue_id)
        )
        return gone.first() is not None

    async def all(self) -> dict[UUID, UUID]:
        rows = await self._session.execute(
            select(queue_managers.c.queue_id, queue_managers.c.manager_id)
        )
        return {row.queue_id: row.manager_id for row in rows}

    async def of_queues(self, queue_ids: Collection[UUID]) -> dict[UUID, UUID]:
        """The managers of those of the queues that have one."""
        if not queue_ids:
            return {}
        rows = await self._session.execute(
            select(queue_managers.c.queue_id, queue_managers.c.manager_id).where(
                queue_managers.c.queue_id.in_(list(queue_ids))
            )
        )
        return {row.queue_id: row.manager_id for row in rows}


class SqlAccountRepository:
    """What SLA knows of accounts: tier and region, for policy conditions."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def keep(
        self, account_id: UUID, *, tier: str | None, region: str | None, version: int
    ) -> None:
        """Keep the account's card unless a later version is kept already."""
        values = {"tier": tier, "region": region, "version": version}
        await self._session.execute(
            pg_insert(accounts)
            .values(account_id=account_id, **values)
            .on_conflict_do_update(
                index_elements=[accounts.c.account_id],
                set_=values,
                where=accounts.c.version < version,
            )
        )

    async def tier_and_region(self, account_id: UUID) -> tuple[str | None, str | None]:
        row = (
            await self._session.execute(
                select(accounts.c.tier, accounts.c.region).where(
                    accounts.c.account_id == account_id
                )
            )
        ).first()
        return (None, None) if row is None else (row.tier, row.region)


async def _load_policies(session: AsyncSession) -> list[SlaPolicy]:
    """Every policy with its KPI definitions, in the order they are tried."""
    policy_rows = (
        (await session.execute(select(policies).order_by(policies.c.position, policies.c.name)))
        .mappings()
        .all()
    )
    kpi_rows = (
        (
            await session.execute(
                select(policy_kpis).order_by(policy_kpis.c.position, policy_kpis.c.name)
            )
        )
        .mappings()
        .all()
    )
    definitions: dict[UUID, list[KpiDefinition]] = {}
    for row in kpi_rows:
        definitions.setdefault(row["policy_id"], []).append(
            KpiDefinition(
                row["name"],
                row["target"],
                row["warn_before"],
                _statuses_of(row["pause_statuses"]),
                row["calendar_id"],
            )
        )
    item_rows = (
        (await session.execute(select(policy_items).order_by(policy_items.c.position)))
        .mappings()
        .all()
    )
    items: dict[UUID, list[PolicyItem]] = {}
    for row in item_rows:
        items.setdefault(row["policy_id"], []).append(
            PolicyItem(
                name=row["name"],
                kpis=tuple(_kpi_of(kpi) for kpi in row["kpis"]),
                applies_to=_applies_to(row["applies_to"]),
                calendar_id=row["calendar_id"],
                reopen=ReopenMode(row["reopen"]),
            )
        )
    return [
        SlaPolicy(
            policy_id=row["policy_id"],
            name=row["name"],
            calendar_id=row["calendar_id"],
            kpis=tuple(definitions.get(row["policy_id"], ())),
            applies_to=_applies_to(row["applies_to"]),
            is_default=row["is_default"],
            items=tuple(items.get(row["policy_id"], ())),
            retired=row["retired_at"] is not None,
            reopen=ReopenMode(row["reopen"]),
            escalation=_ladder_of(row["escalation"]),
        )
        for row in policy_rows
    ]


def _policy_values(policy: SlaPolicy) -> dict[str, Any]:
    return {
        "name": policy.name,
        "calendar_id": policy.calendar_id,
        "is_default": policy.is_default,
        "applies_to": _applies_to_json(policy.applies_to),
        "reopen": policy.reopen.value,
        "escalation": _ladder_json(policy.escalation),
    }


def _applies_to_json(condition: AppliesTo) -> dict[str, list[str]]:
    return {
        "priorities": sorted(condition.priorities),
        "channels": sorted(condition.channels),
        "request_types": sorted(condition.request_types),
        "tiers": sorted(condition.tiers),
        "regions": sorted(condition.regions),
        "contract_ids": sorted(str(c) for c in condition.contract_ids),
        "queue_ids": sorted(str(q) for q in condition.queue_ids),
    }


def _kpi_json(kpi: KpiDefinition) -> dict[str, Any]:
    return {
        "name": kpi.name,
        "target_seconds": kpi.target.total_seconds(),
        "warn_before_seconds": (
            None if kpi.warn_before is None else kpi.warn_before.total_seconds()
        ),
        "pause_statuses": _statuses_json(kpi.pause_statuses),
        "calendar_id": None if kpi.calendar_id is None else str(kpi.calendar_id),
    }


def _kpi_of(value: Mapping[str, Any]) -> KpiDefinition:
    warn = value.get("warn_before_seconds")
    calendar_id = value.get("calendar_id")
    return KpiDefinition(
        str(value["name"]),
        timedelta(seconds=float(value["target_seconds"])),
        None if warn is None else timedelta(seconds=float(warn)),
        _statuses_of(value.get("pause_statuses")),
        None if calendar_id is None else UUID(calendar_id),
    )


class SqlCalendarRepository:
    """Business-hours calendars."""

    def __init__(self, session: AsyncSession, cache: ReferenceCache | None = None) -> None:
        self._session = session
        self._cache = cache

    async def get(self, calendar_id: UUID) -> NamedCalendar | None:
        """The calendar with `calendar_id`, or None."""
        if self._cache is not None and (kept := self._cache.calendar(calendar_id)) is not None:
            return kept
        found = await self._one(select(calendars).where(calendars.c.calendar_id == calendar_id))
        if found is not None and self._cache is not None:
            self._cache.keep_calendar(found)
        return found

    async def get_by_name(self, name: str) -> NamedCalendar | None:
        """The calendar named `name`, or None."""
        return await self._one(select(calendars).where(calendars.c.name == name))

    async def list(self) -> list[NamedCalendar]:
        """Every calendar, by name."""
        rows = (
            (await self._session.execute(select(calendars).order_by(calendars.c.name)))
            .mappings()
            .all()
        )
        return [_calendar(row) for row in rows]

    async def add(self, calendar: NamedCalendar) -> None:
        """Insert a new calendar."""
        if self._cache is not None:
            self._cache.clear()
        cal = calendar.calendar
        await self._session.execute(
            insert(calendars).values(
                calendar_id=calendar.calendar_id,
                name=calendar.name,
                time_zone=cal.time_zone,
                week=[_hours_text(hours) for hours in cal.week],
                holidays=sorted(day.isoformat() for day in cal.holidays),
                special_days={
                    day.isoformat(): _hours_text(hours)
                    for day, hours in sorted(cal.special_days.items())
                },
            )
        )

    async def save(self, calendar: NamedCalendar) -> None:
        """Overwrite a calendar: its name, zone, week, holidays and special days."""
        if self._cache is not None:
            self._cache.clear()
        await self._session.execute(
            update(calendars)
            .where(calendars.c.calendar_id == calendar.calendar_id)
            .values(name=calendar.name, **_calendar_values(calendar.calendar))
        )

    async def _one(self, stmt: Any) -> NamedCalendar | None:
        row = (await self._session.execute(stmt)).mappings().first()
        return None if row is None else _calendar(row)


def _calendar_values(cal: Calendar) -> dict[str, Any]:
    return {
        "time_zone": cal.time_zone,
        "week": [_hours_text(hours) for hours in cal.week],
        "holidays": sorted(day.isoformat() for day in cal.holidays),
        "special_days": {
            day.isoformat(): _hours_text(hours) for day, hours in sorted(cal.special_days.items())
        },
    }


def _calendar(row: RowMapping) -> NamedCalendar:
    return NamedCalendar(
        calendar_id=row["calendar_id"],
        name=row["name"],
        calendar=Calendar(
            time_zone=row["time_zone"],
            week=tuple(_hours(texts) for texts in row["week"]),
            holidays=frozenset(date.fromisoformat(text) for text in row["holidays"]),
            special_days={
                date.fromisoformat(day): _hours(texts) for day, texts in row["special_days"].items()
            },
        ),
    )


def _hours(texts: Sequence[str]) -> tuple[WorkingInterval, ...]:
    return tuple(WorkingInterval.parse(text) for text in texts)


def _hours_text(hours: Sequence[WorkingInterval]) -> list[str]:
    return [str(interval) for interval in hours]


def _applies_to(value: Mapping[str, Sequence[str]]) -> AppliesTo:
    return AppliesTo(
        priorities=frozenset(value.get("priorities", ())),
        channels=frozenset(value.get("channels", ())),
        request_types=frozenset(value.get("request_types", ())),
        tiers=frozenset(value.get("tiers", ())),
        regions=frozenset(value.get("regions", ())),
        contract_ids=frozenset(UUID(c) for c in value.get("contract_ids", ())),
        queue_ids=frozenset(UUID(q) for q in value.get("queue_ids", ())),
    )


def _instance_row(instance: KpiInstance) -> dict[str, Any]:
    return {
        "instance_id": instance.instance_id,
        "case_id": instance.case_id,
        "policy_id": instance.policy_id,
        "kpi": instance.kpi,
        "target": instance.target,
        "warn_after": instance.warn_after,
        "started_at": instance.started_at,
        "status": instance.status.value,
        "consumed": instance.consumed,
        "running_since": instance.running_since,
        "due_at": instance.due_at,
        "warn_at": instance.warn_at,
        "paused_at": instance.paused_at,
        "warned_at": instance.warned_at,
        "breached_at": instance.breached_at,
        "ended_at": instance.ended_at,
        "next_check_at": instance.next_check_at,
        "pause_statuses": _statuses_json(instance.pause_statuses),
        "reopen": instance.reopen_mode.value,
        "ladder": _ladder_json(instance.ladder),
        "escalated": instance.escalated,
        "calendar_id": instance.calendar_id,
    }


def _instance(row: RowMapping) -> KpiInstance:
    return KpiInstance(
        instance_id=row["instance_id"],
        case_id=row["case_id"],
        policy_id=row["policy_id"],
        kpi=row["kpi"],
        target=row["target"],
        warn_after=row["warn_after"],
        started_at=row["started_at"],
        status=KpiStatus(row["status"]),
        consumed=row["consumed"],
        running_since=row["running_since"],
        due_at=row["due_at"],
        warn_at=row["warn_at"],
        paused_at=row["paused_at"],
        warned_at=row["warned_at"],
        breached_at=row["breached_at"],
        ended_at=row["ended_at"],
        pause_statuses=_statuses_of(row["pause_statuses"]),
        reopen_mode=ReopenMode(row["reopen"]),
        ladder=_ladder_of(row["ladder"]),
        escalated=row["escalated"],
        calendar_id=row["calendar_id"],
    )


def _ladder_json(ladder: tuple[EscalationStep, ...]) -> list[dict[str, Any]] | None:
    """An escalation ladder as kept: null for the default one."""
    if ladder == DEFAULT_LADDER:
        return None
    return [
        {
            "after_seconds": step.after.total_seconds(),
            "to": step.to.value,
            "agent_id": None if step.agent_id is None else str(step.agent_id),
        }
        for step in ladder
    ]


def _ladder_of(value: Sequence[Mapping[str, Any]] | None) -> tuple[EscalationStep, ...]:
    if value is None:
        return DEFAULT_LADDER
    return tuple(
        EscalationStep(
            timedelta(seconds=float(step["after_seconds"])),
            EscalationTarget(step["to"]),
            None if step.get("agent_id") is None else UUID(step["agent_id"]),
        )
        for step in value
    )


def _statuses_json(statuses: frozenset[str]) -> list[str] | None:
    """Pause statuses as kept: null for the default ones."""
    return None if statuses == DEFAULT_PAUSE_STATUSES else sorted(statuses)


def _statuses_of(value: Sequence[str] | None) -> frozenset[str]:
    return DEFAULT_PAUSE_STATUSES if value is None else frozenset(value)


def _change_row(change: CaseChange) -> tuple[str, dict[str, Any]]:
    match change:
        case RecordStatusChange():
            return "status_changed", {"status": change.status}
        case RecordFirstResponse():
            return "first_response", {}
        case RecordResolution():
            return "resolved", {}
        case RecordCancellation():
            return "cancelled", {}
        case RecordReopening():
            return "reopened", {}
    msg = f"cannot park {type(change).__name__}"
    raise TypeError(msg)


def _change_of(case_id: UUID, kind: str, at: datetime, payload: Mapping[str, Any]) -> CaseChange:
    match kind:
        case "status_changed":
            return RecordStatusChange(case_id=case_id, at=at, status=str(payload["status"]))
        case "first_response":
            return RecordFirstResponse(case_id=case_id, at=at)
        case "resolved":
            return RecordResolution(case_id=case_id, at=at)
        case "cancelled":
            return RecordCancellation(case_id=case_id, at=at)
        case "reopened":
            return RecordReopening(case_id=case_id, at=at)
    msg = f"unknown parked change {kind!r}"
    raise ValueError(msg)
