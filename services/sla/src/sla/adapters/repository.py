"""SLA state in PostgreSQL: cases seen open, KPI instances, policies and calendars."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import RowMapping, and_, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from caseflow_servicekit.cache import TtlCache
from sla.adapters.tables import (
    calendars,
    case_slas,
    kpi_instances,
    parked_changes,
    policies,
    policy_kpis,
)
from sla.app.commands import (
    CaseChange,
    RecordCancellation,
    RecordFirstResponse,
    RecordReopening,
    RecordResolution,
    RecordStatusChange,
)
from sla.app.ports import CaseSla, KpiCompliance, NamedCalendar
from sla.domain import (
    AppliesTo,
    Calendar,
    KpiDefinition,
    KpiInstance,
    KpiStatus,
    SlaPolicy,
    WorkingInterval,
)


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
        return CaseSla(
            case_id=row["case_id"],
            policy_id=row["policy_id"],
            calendar_id=row["calendar_id"],
            opened_at=row["opened_at"],
        )

    async def add(self, sla: CaseSla) -> None:
        """Remember that a case opened, under which policy and calendar."""
        await self._session.execute(
            insert(case_slas).values(
                case_id=sla.case_id,
                policy_id=sla.policy_id,
                calendar_id=sla.calendar_id,
                opened_at=sla.opened_at,
            )
        )

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
        for key in ("instance_id", "case_id", "policy_id", "kpi", "started_at"):
            values.pop(key)
        await self._session.execute(
            update(kpi_instances)
            .where(kpi_instances.c.instance_id == instance.instance_id)
            .values(**values, updated_at=func.now())
        )

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
        met = and_(
            t.status == KpiStatus.SUCCEEDED.value,
            t.breached_at.is_(None),
            t.ended_at >= since,
            t.ended_at < until,
        )
        breached = and_(t.breached_at >= since, t.breached_at < until)
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
            KpiDefinition(row["name"], row["target"], row["warn_before"])
        )
    return [
        SlaPolicy(
            policy_id=row["policy_id"],
            name=row["name"],
            calendar_id=row["calendar_id"],
            kpis=tuple(definitions.get(row["policy_id"], ())),
            applies_to=_applies_to(row["applies_to"]),
            is_default=row["is_default"],
        )
        for row in policy_rows
    ]


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

    async def _one(self, stmt: Any) -> NamedCalendar | None:
        row = (await self._session.execute(stmt)).mappings().first()
        return None if row is None else _calendar(row)


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
    )


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
