"""The SLA HTTP API: KPI state per case, calendars, policies and the compliance report."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal
from uuid import UUID, uuid4

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from caseflow_contracts import Channel, Priority
from caseflow_servicekit import Authenticator, Clock, NotFound, Role
from caseflow_servicekit.negotiation import CSV, wants_csv
from sla.adapters.uow import SqlSlaUnitOfWork
from sla.app.commands import CreateCalendar
from sla.app.handlers import (
    KpiState,
    compliance,
    compliance_by,
    create_calendar,
    kpis_of_case,
)
from sla.app.policies import (
    check_calendar,
    clear_queue_manager,
    create_policy,
    replace_calendar,
    replace_policy,
    retire_policy,
    set_holidays,
    set_queue_manager,
)
from sla.app.ports import COMPLIANCE_GROUPS, ComplianceRow, NamedCalendar
from sla.domain import (
    DEFAULT_LADDER,
    DEFAULT_PAUSE_STATUSES,
    AppliesTo,
    EscalationStep,
    EscalationTarget,
    InvalidPolicyError,
    KpiDefinition,
    PolicyItem,
    ReopenMode,
    SlaPolicy,
    Weekday,
)

WeekdayName = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


def _seconds(value: timedelta | None) -> int | None:
    return None if value is None else int(value.total_seconds())


class KpiLogEntry(BaseModel):
    """One change of a KPI: started, paused, resumed, warned, breached, met, cancelled."""

    state: str
    at: datetime
    reason: str | None = None


class KpiView(BaseModel):
    """One KPI of a case; durations are seconds of working time on its calendar."""

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
    pause_statuses: list[str]
    reopen: ReopenMode
    calendar_id: UUID
    escalation_level: int
    """How many steps of its escalation ladder it has climbed since its breach."""
    log: list[KpiLogEntry]

    @classmethod
    def of(cls, state: KpiState, log: list[KpiLogEntry] | None = None) -> KpiView:
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
            pause_statuses=sorted(kpi.pause_statuses),
            reopen=kpi.reopen_mode,
            calendar_id=state.calendar_id,
            escalation_level=kpi.escalated,
            log=log or [],
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


class CalendarCheckView(BaseModel):
    """A moment as a calendar sees it."""

    calendar_id: UUID
    at: datetime
    working: bool
    next_working_at: datetime
    """`at` itself when it is working time, else when working time next begins."""
    work_seconds: int | None
    due_at: datetime | None
    """`work_seconds` of working time counted from `at`: a KPI's deadline."""


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
    pause_statuses: list[str]
    calendar_id: UUID | None = None


class AppliesToView(BaseModel):
    priorities: list[str]
    channels: list[str]
    request_types: list[str]
    tiers: list[str]
    regions: list[str]
    contract_ids: list[UUID]
    queue_ids: list[UUID]

    @classmethod
    def of(cls, condition: AppliesTo) -> AppliesToView:
        return cls(
            priorities=sorted(condition.priorities),
            channels=sorted(condition.channels),
            request_types=sorted(condition.request_types),
            tiers=sorted(condition.tiers),
            regions=sorted(condition.regions),
            contract_ids=sorted(condition.contract_ids),
            queue_ids=sorted(condition.queue_ids),
        )


class PolicyItemView(BaseModel):
    name: str
    applies_to: AppliesToView
    calendar_id: UUID | None
    kpis: list[KpiDefinitionView]
    reopen: ReopenMode


class EscalationStepView(BaseModel):
    after_seconds: int
    to: EscalationTarget
    agent_id: UUID | None = None

    @classmethod
    def of(cls, step: EscalationStep) -> EscalationStepView:
        return cls(
            after_seconds=int(step.after.total_seconds()), to=step.to, agent_id=step.agent_id
        )


class PolicyView(BaseModel):
    """An SLA policy: the cases it covers, and the KPIs it measures on which calendar, by
    its items (the first that matches a case applies) or for all its cases."""

    policy_id: UUID
    name: str
    calendar_id: UUID
    is_default: bool
    retired: bool
    applies_to: AppliesToView
    kpis: list[KpiDefinitionView]
    items: list[PolicyItemView]
    reopen: ReopenMode
    escalation: list[EscalationStepView]

    @classmethod
    def of(cls, policy: SlaPolicy) -> PolicyView:
        return cls(
            policy_id=policy.policy_id,
            name=policy.name,
            calendar_id=policy.calendar_id,
            is_default=policy.is_default,
            retired=policy.retired,
            applies_to=AppliesToView.of(policy.applies_to),
            kpis=[_kpi_view(kpi) for kpi in policy.kpis],
            items=[
                PolicyItemView(
                    name=item.name,
                    applies_to=AppliesToView.of(item.applies_to),
                    calendar_id=item.calendar_id,
                    kpis=[_kpi_view(kpi) for kpi in item.kpis],
                    reopen=item.reopen,
                )
                for item in policy.items
            ],
            reopen=policy.reopen,
            escalation=[EscalationStepView.of(step) for step in policy.escalation],
        )


def _kpi_view(kpi: KpiDefinition) -> KpiDefinitionView:
    return KpiDefinitionView(
        name=kpi.name,
        target_seconds=int(kpi.target.total_seconds()),
        warn_before_seconds=_seconds(kpi.warn_before),
        pause_statuses=sorted(kpi.pause_statuses),
        calendar_id=kpi.calendar_id,
    )


Short = Annotated[str, Field(min_length=1, max_length=100)]
Seconds = Annotated[int, Field(ge=1, le=10 * 365 * 24 * 3600)]


class ConditionIn(BaseModel):
    """Which cases: every listed set must hold the case's value; an empty one holds always."""

    model_config = ConfigDict(extra="forbid")

    priorities: list[Priority] = []
    channels: list[Channel] = []
    request_types: list[Short] = []
    tiers: list[Short] = []
    regions: list[Short] = []
    contract_ids: list[UUID] = []
    queue_ids: list[UUID] = Field(
        default=[], description="Routing's queues: the case's terms follow it as it is queued."
    )

    def domain(self) -> AppliesTo:
        return AppliesTo(
            priorities=frozenset(p.value for p in self.priorities),
            channels=frozenset(c.value for c in self.channels),
            request_types=frozenset(self.request_types),
            tiers=frozenset(self.tiers),
            regions=frozenset(self.regions),
            contract_ids=frozenset(self.contract_ids),
            queue_ids=frozenset(self.queue_ids),
        )


PausableStatus = Literal["new", "in_progress", "waiting_for_customer", "on_hold"]


class KpiIn(BaseModel):
    """A KPI: its target in working seconds, a warning either `warn_before_seconds` before
    the deadline or once `warn_at_share` (0–1) of the target is used, and the case statuses
    that stop its clock (`pause_statuses`; by default waiting_for_customer and on_hold, and
    an empty list for a clock that never stops)."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,99}$", examples=["first_response"])]
    target_seconds: Seconds
    warn_before_seconds: Seconds | None = None
    warn_at_share: Annotated[float, Field(gt=0, lt=1)] | None = None
    pause_statuses: Annotated[list[PausableStatus], Field(max_length=4)] | None = None
    calendar_id: UUID | None = Field(
        default=None,
        description="The calendar this KPI counts on, when not its item's or policy's (or "
        "the contract's): a first response round the clock, a resolution in office hours.",
    )

    def domain(self) -> KpiDefinition:
        pausing = (
            DEFAULT_PAUSE_STATUSES
            if self.pause_statuses is None
            else frozenset(self.pause_statuses)
        )
        target = timedelta(seconds=self.target_seconds)
        if self.warn_before_seconds is not None and self.warn_at_share is not None:
            raise InvalidPolicyError(
                f"KPI {self.name!r}: give warn_before_seconds or warn_at_share, not both"
            )
        if self.warn_at_share is not None:
            return KpiDefinition.with_warning_share(
                self.name,
                target,
                elapsed=self.warn_at_share,
                pause_statuses=pausing,
                calendar_id=self.calendar_id,
            )
        warn = (
            None
            if self.warn_before_seconds is None
            else timedelta(seconds=self.warn_before_seconds)
        )
        return KpiDefinition(self.name, target, warn, pausing, self.calendar_id)


class PolicyItemIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=200)]
    applies_to: ConditionIn = ConditionIn()
    calendar_id: UUID | None = None
    kpis: Annotated[list[KpiIn], Field(min_length=1, max_length=20)]
    reopen: ReopenMode = ReopenMode.CONTINUE
    """What reopening a case does to its resolution: continue with the time used, or restart."""


class EscalationStepIn(BaseModel):
    """A step of the escalation ladder: `after_seconds` after the breach (elapsed time), the
    case goes up a level, to the assignee's `manager`, that manager's own
    (`department_head`), the queue's configured manager (`queue_owner`), or a named `agent`."""

    model_config = ConfigDict(extra="forbid")

    after_seconds: Annotated[int, Field(ge=0, le=365 * 24 * 3600)] = 0
    to: EscalationTarget
    agent_id: UUID | None = None

    def domain(self) -> EscalationStep:
        return EscalationStep(timedelta(seconds=self.after_seconds), self.to, self.agent_id)


class PolicyIn(BaseModel):
    """An SLA policy: the cases it covers (`applies_to`), its calendar, and either `kpis` for
    all its cases or ordered `items` (the first whose condition matches a case applies; the
    last must have none, so that no case of the policy is left without KPIs)."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=200)]
    calendar_id: UUID
    is_default: bool = False
    applies_to: ConditionIn = ConditionIn()
    kpis: Annotated[list[KpiIn], Field(max_length=20)] = []
    items: Annotated[list[PolicyItemIn], Field(max_length=50)] = []
    reopen: ReopenMode = ReopenMode.CONTINUE
    """For a policy without items: what reopening a case does to its resolution."""
    escalation: Annotated[list[EscalationStepIn], Field(max_length=10)] | None = Field(
        default=None,
        description="Who hears of a breached KPI, and when, in order; by default the "
        "assignee's manager at the breach. An empty list escalates nothing.",
    )

    def domain(self, policy_id: UUID) -> SlaPolicy:
        return SlaPolicy(
            policy_id=policy_id,
            name=self.name.strip(),
            calendar_id=self.calendar_id,
            kpis=tuple(kpi.domain() for kpi in self.kpis),
            applies_to=self.applies_to.domain(),
            is_default=self.is_default,
            items=tuple(
                PolicyItem(
                    name=item.name.strip(),
                    kpis=tuple(kpi.domain() for kpi in item.kpis),
                    applies_to=item.applies_to.domain(),
                    calendar_id=item.calendar_id,
                    reopen=item.reopen,
                )
                for item in self.items
            ),
            reopen=self.reopen,
            escalation=(
                DEFAULT_LADDER
                if self.escalation is None
                else tuple(step.domain() for step in self.escalation)
            ),
        )


class QueueManagerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    manager_id: UUID


class QueueManagerView(BaseModel):
    """The manager configured for one of routing's queues: whom a breach of a case in it goes
    to when the agent directory names no manager, and a ladder's `queue_owner`."""

    queue_id: UUID
    manager_id: UUID


class HolidaysIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    holidays: Annotated[list[date], Field(max_length=366)]


class KpiComplianceView(BaseModel):
    kpi: str
    met: int
    breached: int
    compliance: float | None = Field(description="met / (met + breached); null without outcomes")


class ComplianceRowView(BaseModel):
    """One group: its values (by the names grouped by), KPIs met in time, breached and still in
    progress, and the median and 90th percentile of the share of the target the met ones used."""

    group: dict[str, str | None]
    met: int
    breached: int
    in_progress: int
    compliance: float | None = Field(description="met / (met + breached); null without outcomes")
    median_consumed_share: float | None
    p90_consumed_share: float | None

    @classmethod
    def of(cls, row: ComplianceRow) -> ComplianceRowView:
        outcomes = row.met + row.breached
        return cls(
            group=row.group,
            met=row.met,
            breached=row.breached,
            in_progress=row.in_progress,
            compliance=row.met / outcomes if outcomes else None,
            median_consumed_share=_rounded(row.median_share),
            p90_consumed_share=_rounded(row.p90_share),
        )


def _rounded(share: float | None) -> float | None:
    return None if share is None else round(share, 4)


class ComplianceReport(BaseModel):
    """KPIs met in time and breached within a period, per KPI; and `rows` grouped as asked."""

    model_config = ConfigDict(populate_by_name=True)

    since: datetime = Field(serialization_alias="from")
    until: datetime = Field(serialization_alias="to")
    kpis: list[KpiComplianceView]
    group_by: list[str]
    rows: list[ComplianceRowView]


def _compliance_csv(group_by: list[str], rows: list[ComplianceRowView]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    fields = [
        "met",
        "breached",
        "in_progress",
        "compliance",
        "median_consumed_share",
        "p90_consumed_share",
    ]
    writer.writerow([*group_by, *fields])
    for row in rows:
        values = [getattr(row, name) for name in fields]
        writer.writerow(
            [
                *(row.group[name] or "" for name in group_by),
                *("" if v is None else v for v in values),
            ]
        )
    return out.getvalue()


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
        async with uow_factory() as uow:
            entries = await uow.cases.log(case_id)
        logs: dict[UUID, list[KpiLogEntry]] = {}
        for entry in entries:
            logs.setdefault(entry["instance_id"], []).append(
                KpiLogEntry(state=entry["state"], at=entry["at"], reason=entry["reason"])
            )
        return [KpiView.of(state, logs.get(state.instance.instance_id)) for state in states]

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
        named = await create_calendar(_calendar_command(body), uow=uow_factory())
        return CalendarView.of(named)

    @api.put(
        "/calendars/{calendar_id}",
        response_model=CalendarView,
        tags=["calendars"],
        dependencies=admin,
    )
    async def put_calendar(calendar_id: UUID, body: CalendarIn) -> CalendarView:
        """Rewrite a calendar whole; KPIs keep the deadlines they were given until their next
        change."""
        named = await replace_calendar(calendar_id, _calendar_command(body), uow=uow_factory())
        return CalendarView.of(named)

    @api.put(
        "/calendars/{calendar_id}/holidays/{year}",
        response_model=CalendarView,
        tags=["calendars"],
        dependencies=admin,
    )
    async def put_holidays(
        calendar_id: UUID, year: Annotated[int, Path(ge=1970, le=2200)], body: HolidaysIn
    ) -> CalendarView:
        """Replace a calendar's holidays of one year."""
        named = await set_holidays(calendar_id, year, body.holidays, uow=uow_factory())
        return CalendarView.of(named)

    @api.get(
        "/calendars/{calendar_id}/check",
        response_model=CalendarCheckView,
        tags=["calendars"],
        dependencies=agent,
    )
    async def check(
        calendar_id: UUID,
        at: Annotated[AwareDatetime | None, Query()] = None,
        work_seconds: Annotated[int | None, Query(ge=0, le=10 * 365 * 24 * 3600)] = None,
    ) -> CalendarCheckView:
        """Whether a moment (now, unless `at`) is working time on the calendar, when working
        time next begins, and with `work_seconds` the deadline that much working time counted
        from it gives: a calendar's hours and holidays checked before a policy counts on it."""
        moment = at or clock.now()
        work = None if work_seconds is None else timedelta(seconds=work_seconds)
        found = await check_calendar(calendar_id, moment, work=work, uow=uow_factory())
        return CalendarCheckView(
            calendar_id=calendar_id,
            at=found.at,
            working=found.working,
            next_working_at=found.next_working_at,
            work_seconds=work_seconds,
            due_at=found.due_at,
        )

    @api.get("/policies", response_model=list[PolicyView], tags=["policies"], dependencies=agent)
    async def list_policies() -> list[PolicyView]:
        """Every SLA policy, in the order they are tried on a new case (retired ones too)."""
        async with uow_factory() as uow:
            policies = await uow.policies.list()
        return [PolicyView.of(policy) for policy in policies]

    @api.post(
        "/policies",
        response_model=PolicyView,
        status_code=201,
        tags=["policies"],
        dependencies=admin,
    )
    async def add_policy(body: PolicyIn) -> PolicyView:
        """Add a policy, tried after the others."""
        policy = await create_policy(body.domain(uuid4()), uow=uow_factory())
        return PolicyView.of(policy)

    @api.get(
        "/policies/{policy_id}", response_model=PolicyView, tags=["policies"], dependencies=agent
    )
    async def get_policy(policy_id: UUID) -> PolicyView:
        """One policy."""
        async with uow_factory() as uow:
            policy = await uow.policies.get(policy_id)
        if policy is None:
            raise NotFound(f"There is no policy {policy_id}.")
        return PolicyView.of(policy)

    @api.put(
        "/policies/{policy_id}", response_model=PolicyView, tags=["policies"], dependencies=admin
    )
    async def put_policy(policy_id: UUID, body: PolicyIn) -> PolicyView:
        """Write a policy whole under this id (created if new); cases already under it keep
        the KPIs they started with."""
        policy = await replace_policy(body.domain(policy_id), uow=uow_factory())
        return PolicyView.of(policy)

    @api.post(
        "/policies/{policy_id}/retire",
        response_model=PolicyView,
        tags=["policies"],
        dependencies=admin,
    )
    async def retire(policy_id: UUID) -> PolicyView:
        """Choose the policy for no new case; the KPIs it started run on."""
        policy = await retire_policy(policy_id, uow=uow_factory(), now=clock.now())
        return PolicyView.of(policy)

    @api.get(
        "/queue-managers",
        response_model=list[QueueManagerView],
        tags=["escalation"],
        dependencies=agent,
    )
    async def list_queue_managers() -> list[QueueManagerView]:
        """The manager configured for each queue that has one."""
        async with uow_factory() as uow:
            kept = await uow.queue_managers.all()
        return [QueueManagerView(queue_id=q, manager_id=m) for q, m in sorted(kept.items())]

    @api.get(
        "/queue-managers/{queue_id}",
        response_model=QueueManagerView,
        tags=["escalation"],
        dependencies=agent,
    )
    async def get_queue_manager(queue_id: UUID) -> QueueManagerView:
        """The manager configured for a queue."""
        async with uow_factory() as uow:
            manager_id = await uow.queue_managers.get(queue_id)
        if manager_id is None:
            raise NotFound(f"Queue {queue_id} has no manager configured.")
        return QueueManagerView(queue_id=queue_id, manager_id=manager_id)

    @api.put(
        "/queue-managers/{queue_id}",
        response_model=QueueManagerView,
        tags=["escalation"],
        dependencies=supervisor,
    )
    async def put_queue_manager(queue_id: UUID, body: QueueManagerIn) -> QueueManagerView:
        """Name the manager of a queue (routing's queue id)."""
        await set_queue_manager(queue_id, body.manager_id, uow=uow_factory())
        return QueueManagerView(queue_id=queue_id, manager_id=body.manager_id)

    @api.delete(
        "/queue-managers/{queue_id}",
        status_code=204,
        tags=["escalation"],
        dependencies=supervisor,
    )
    async def delete_queue_manager(queue_id: UUID) -> Response:
        """Forget a queue's manager."""
        if not await clear_queue_manager(queue_id, uow=uow_factory()):
            raise NotFound(f"Queue {queue_id} has no manager configured.")
        return Response(status_code=204)

    @api.get(
        "/reports/compliance",
        response_model=ComplianceReport,
        response_model_by_alias=True,
        tags=["reports"],
        dependencies=supervisor,
    )
    async def compliance_report(
        request: Request,
        since: Annotated[AwareDatetime, Query(alias="from")],
        until: Annotated[AwareDatetime, Query(alias="to")],
        group_by: Annotated[
            str,
            Query(
                max_length=200,
                description="Comma-separated, among " + ", ".join(COMPLIANCE_GROUPS) + ".",
                examples=["policy,kpi"],
            ),
        ] = "kpi",
    ) -> Any:
        """Per KPI, how many were met in time and how many breached in [from, to); and `rows`
        grouped by `group_by` (policy, kpi, priority, account, agent), each with its KPIs met,
        breached and in progress and the median and 90th percentile of the share of the
        target the met ones used. `Accept: text/csv` gives the rows as CSV."""
        groups = [name.strip() for name in group_by.split(",") if name.strip()]
        grouped = [
            ComplianceRowView.of(row)
            for row in await compliance_by(
                uow=uow_factory(), since=since, until=until, group_by=groups
            )
        ]
        if wants_csv(request.headers.get("accept")):
            return Response(_compliance_csv(groups, grouped), media_type=f"{CSV}; charset=utf-8")
        rows = await compliance(uow=uow_factory(), since=since, until=until)
        return ComplianceReport(
            since=since,
            until=until,
            group_by=groups,
            rows=grouped,
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


def _calendar_command(body: CalendarIn) -> CreateCalendar:
    return CreateCalendar(
        name=body.name,
        time_zone=body.time_zone,
        week={_DAY_NUMBERS[day]: hours for day, hours in body.week.items()},
        holidays=body.holidays,
        special_days=body.special_days,
    )
