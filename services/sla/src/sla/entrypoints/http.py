"""The SLA HTTP API: KPI state per case, calendars, policies and the compliance report."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Query
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from caseflow_servicekit import Authenticator, Clock, Role
from sla.adapters.uow import SqlSlaUnitOfWork
from sla.app.commands import CreateCalendar
from sla.app.handlers import KpiState, compliance, create_calendar, kpis_of_case
from sla.app.ports import NamedCalendar
from sla.domain import SlaPolicy, Weekday

WeekdayName = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


def _seconds(value: timedelta | None) -> int | None:
    return None if value is None else int(value.total_seconds())


class KpiView(BaseModel):
    """One KPI of a case; durations are seconds of working time on the policy's calendar."""

    instance_id: UUID
    kpi: str
    policy_id: UUID
    status: str
    started_at: datetime
    due_at: datetime | None
    warn_at: datetime | None
    paused_at: datetime | None
    warned_at: datetime | None
    breached_at: datetime | None
    ended_at: datetime | None
    breached: bool
    target_seconds: int
    consumed_seconds: int
    remaining_seconds: int
    paused_seconds: int

    @classmethod
    def of(cls, state: KpiState) -> KpiView:
        kpi = state.instance
        return cls(
            instance_id=kpi.instance_id,
            kpi=kpi.kpi,
            policy_id=kpi.policy_id,
            status=kpi.status.value,
            started_at=kpi.started_at,
            due_at=kpi.due_at,
            warn_at=kpi.warn_at,
            paused_at=kpi.paused_at,
            warned_at=kpi.warned_at,
            breached_at=kpi.breached_at,
            ended_at=kpi.ended_at,
            breached=kpi.breached,
            target_seconds=int(kpi.target.total_seconds()),
            consumed_seconds=int(state.consumed.total_seconds()),
            remaining_seconds=int(state.remaining.total_seconds()),
            paused_seconds=int(state.paused.total_seconds()),
        )


class CalendarIn(BaseModel):
    """A new business-hours calendar; working hours are local times "HH:MM-HH:MM"."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=200)]
    time_zone: Annotated[str, Field(min_length=1, max_length=64, examples=["Europe/Paris"])]
    week: dict[WeekdayName, list[str]] = Field(
        examples=[{"monday": ["09:00-12:30", "13:30-17:00"], "friday": ["09:00-15:00"]}]
    )
    holidays: list[date] = Field(default_factory=list)
    special_days: dict[date, list[str]] = Field(default_factory=dict)


class CalendarView(BaseModel):
    """A business-hours calendar."""

    calendar_id: UUID
    name: str
    time_zone: str
    week: dict[WeekdayName, list[str]]
    holidays: list[date]
    special_days: dict[date, list[str]]

    @classmethod
    def of(cls, named: NamedCalendar) -> CalendarView:
        cal = named.calendar
        return cls(
            calendar_id=named.calendar_id,
            name=named.name,
            time_zone=cal.time_zone,
            week={_DAY_NAMES[day]: [str(hours) for hours in cal.week[day]] for day in Weekday},
            holidays=sorted(cal.holidays),
            special_days={
                day: [str(hours) for hours in spans]
                for day, spans in sorted(cal.special_days.items())
            },
        )


_DAY_NAMES: dict[Weekday, WeekdayName] = {
    Weekday.MONDAY: "monday",
    Weekday.TUESDAY: "tuesday",
    Weekday.WEDNESDAY: "wednesday",
    Weekday.THURSDAY: "thursday",
    Weekday.FRIDAY: "friday",
    Weekday.SATURDAY: "saturday",
    Weekday.SUNDAY: "sunday",
}
_DAY_NUMBERS: dict[WeekdayName, int] = {name: int(day) for day, name in _DAY_NAMES.items()}


class KpiDefinitionView(BaseModel):
    name: str
    target_seconds: int
    warn_before_seconds: int | None


class AppliesToView(BaseModel):
    priorities: list[str]
    channels: list[str]
    request_types: list[str]


class PolicyView(BaseModel):
    """An SLA policy: the KPIs it measures, on which calendar, for which cases."""

    policy_id: UUID
    name: str
    calendar_id: UUID
    is_default: bool
    applies_to: AppliesToView
    kpis: list[KpiDefinitionView]

    @classmethod
    def of(cls, policy: SlaPolicy) -> PolicyView:
        return cls(
            policy_id=policy.policy_id,
            name=policy.name,
            calendar_id=policy.calendar_id,
            is_default=policy.is_default,
            applies_to=AppliesToView(
                priorities=sorted(policy.applies_to.priorities),
                channels=sorted(policy.applies_to.channels),
                request_types=sorted(policy.applies_to.request_types),
            ),
            kpis=[
                KpiDefinitionView(
                    name=kpi.name,
                    target_seconds=int(kpi.target.total_seconds()),
                    warn_before_seconds=_seconds(kpi.warn_before),
                )
                for kpi in policy.kpis
            ],
        )


class KpiComplianceView(BaseModel):
    kpi: str
    met: int
    breached: int
    compliance: float | None = Field(description="met / (met + breached); null without outcomes")


class ComplianceReport(BaseModel):
    """KPIs met in time and breached within a period, per KPI."""

    model_config = ConfigDict(populate_by_name=True)

    since: datetime = Field(serialization_alias="from")
    until: datetime = Field(serialization_alias="to")
    kpis: list[KpiComplianceView]


def router(
    *, uow_factory: Callable[[], SqlSlaUnitOfWork], auth: Authenticator, clock: Clock
) -> APIRouter:
    """Routes of the SLA service."""
    api = APIRouter()
    # Role checks go in `dependencies`: the routes do not use the caller, and a dependency
    # named in an annotation would not resolve under postponed annotations.
    agent = [Depends(auth.requires(Role.AGENT))]
    supervisor = [Depends(auth.requires(Role.SUPERVISOR))]
    admin = [Depends(auth.requires(Role.ADMIN))]

    @api.get(
        "/cases/{case_id}/kpis", response_model=list[KpiView], tags=["kpis"], dependencies=agent
    )
    async def case_kpis(case_id: UUID) -> list[KpiView]:
        """The KPIs of a case and where each stands now."""
        states = await kpis_of_case(case_id, uow=uow_factory(), now=clock.now())
        return [KpiView.of(state) for state in states]

    @api.get(
        "/calendars", response_model=list[CalendarView], tags=["calendars"], dependencies=agent
    )
    async def list_calendars() -> list[CalendarView]:
        """Every business-hours calendar, by name."""
        async with uow_factory() as uow:
            calendars = await uow.calendars.list()
        return [CalendarView.of(named) for named in calendars]

    @api.post(
        "/calendars",
        response_model=CalendarView,
        status_code=201,
        tags=["calendars"],
        dependencies=admin,
    )
    async def add_calendar(body: CalendarIn) -> CalendarView:
        """Add a business-hours calendar."""
        named = await create_calendar(
            CreateCalendar(
                name=body.name,
                time_zone=body.time_zone,
                week={_DAY_NUMBERS[day]: hours for day, hours in body.week.items()},
                holidays=body.holidays,
                special_days=body.special_days,
            ),
            uow=uow_factory(),
        )
        return CalendarView.of(named)

    @api.get("/policies", response_model=list[PolicyView], tags=["policies"], dependencies=agent)
    async def list_policies() -> list[PolicyView]:
        """Every SLA policy, in the order they are tried on a new case."""
        async with uow_factory() as uow:
            policies = await uow.policies.list()
        return [PolicyView.of(policy) for policy in policies]

    @api.get(
        "/reports/compliance",
        response_model=ComplianceReport,
        response_model_by_alias=True,
        tags=["reports"],
        dependencies=supervisor,
    )
    async def compliance_report(
        since: Annotated[AwareDatetime, Query(alias="from")],
        until: Annotated[AwareDatetime, Query(alias="to")],
    ) -> ComplianceReport:
        """Per KPI, how many were met in time and how many breached in [from, to)."""
        rows = await compliance(uow=uow_factory(), since=since, until=until)
        return ComplianceReport(
            since=since,
            until=until,
            kpis=[
                KpiComplianceView(
                    kpi=row.kpi,
                    met=row.met,
                    breached=row.breached,
                    compliance=(
                        row.met / (row.met + row.breached) if row.met + row.breached else None
                    ),
                )
                for row in rows
            ],
        )

    return api
