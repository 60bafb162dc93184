"""Use cases of the SLA service: load, decide in the domain, record, commit."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID, uuid4

import structlog

from sla.app.commands import (
    CaseChange,
    CreateCalendar,
    RecordCancellation,
    RecordFirstResponse,
    RecordReopening,
    RecordResolution,
    RecordStatusChange,
    StartKpis,
)
from sla.app.ports import CaseSla, KpiCompliance, NamedCalendar, SlaUnitOfWork
from sla.domain import (
    Calendar,
    CaseFacts,
    InvalidCalendarError,
    KpiEvent,
    KpiInstance,
    KpiStatus,
    NoApplicablePolicyError,
    SlaError,
    SlaPolicy,
    WorkingInterval,
    add_working_time,
    choose_policy,
    start_kpi,
    working_time_between,
)

log = structlog.get_logger(__name__)

FIRST_RESPONSE = "first_response"
"""The KPI met by an agent's first answer to the customer."""

RESOLUTION = "resolution"
"""The KPI met by resolving the case; it continues where it stopped when the case reopens."""

WAITING_STATUSES = frozenset({"waiting_for_customer", "on_hold"})
"""Case statuses in which the KPI clocks stop: the case waits on someone outside the desk."""

CLOSED_STATUSES = frozenset({"resolved", "cancelled"})
"""Case statuses whose own events (resolved, cancelled) end the KPIs."""

_ZERO = timedelta(0)


class CaseNotKnown(SlaError):
    """SLA has not seen the case open."""


class CalendarNotFound(SlaError):
    """No calendar has the id asked for."""


class CalendarNameTaken(SlaError):
    """Another calendar already has the name asked for."""


class InvalidPeriodError(SlaError, ValueError):
    """A report period that ends before it starts."""


def is_first_response(*, to_customer: bool, agent_id: UUID | None) -> bool:
    """Whether logged work answers the customer: an agent's reply sent to them.

    An internal note is no answer, even an agent's; nor is work logged without an agent (a
    customer's follow-up, an automatic acknowledgement).
    """
    return to_customer and agent_id is not None


async def start_kpis(
    cmd: StartKpis,
    *,
    uow: SlaUnitOfWork,
    new_id: Callable[[], UUID] = uuid4,
) -> list[KpiInstance]:
    """Start the KPIs of the policy that applies to a newly opened case, from its opening.

    The policy of the contract covering the case applies, on the contract's calendar if it
    names one. A policy SLA does not know gives way to the one the case's facts choose, an
    unknown calendar to the policy's own: a case is never left unmeasured for a bad reference.
    """
    async with uow:
        if await uow.cases.get(cmd.case_id) is not None:
            return []  # a redelivered or replayed opening starts nothing twice
        try:
            policy = await _policy_for(cmd, uow)
        except NoApplicablePolicyError:
            log.warning("sla.no_policy_applies", case_id=str(cmd.case_id))
            await uow.cases.add(
                CaseSla(
                    case_id=cmd.case_id, policy_id=None, calendar_id=None, opened_at=cmd.opened_at
                )
            )
            await uow.cases.take_parked(cmd.case_id)  # nothing is measured, so nothing moves
            await uow.commit()
            return []
        named = await _calendar_for(cmd, policy, uow)
        await uow.cases.add(
            CaseSla(
                case_id=cmd.case_id,
                policy_id=policy.policy_id,
                calendar_id=named.calendar_id,
                opened_at=cmd.opened_at,
            )
        )
        instances: list[KpiInstance] = []
        for definition in policy.kpis:
            instance, events = start_kpi(
                instance_id=new_id(),
                case_id=cmd.case_id,
                policy_id=policy.policy_id,
                definition=definition,
                calendar=named.calendar,
                now=cmd.opened_at,
            )
            uow.emit(events, calendar_id=named.calendar_id)
            instances.append(instance)
        if cmd.status in WAITING_STATUSES:
            _apply(
                RecordStatusChange(case_id=cmd.case_id, at=cmd.opened_at, status=cmd.status),
                instances,
                named.calendar,
                uow,
            )
        # Changes that arrived before the opening are applied now, in the order they happened.
        for change in sorted(await uow.cases.take_parked(cmd.case_id), key=lambda c: c.at):
            _apply(change, instances, named.calendar, uow)
        for instance in instances:
            await uow.kpis.add(instance)
        await uow.commit()
        return instances


async def _policy_for(cmd: StartKpis, uow: SlaUnitOfWork) -> SlaPolicy:
    """The policy of the case's contract if SLA has it, else the one the case's facts choose.

    Raises `NoApplicablePolicyError` when it comes to choosing and no policy applies.
    """
    policies = await uow.policies.list()
    if cmd.sla_policy_id is not None:
        contracted = next((p for p in policies if p.policy_id == cmd.sla_policy_id), None)
        if contracted is not None:
            return contracted
        # A contract may name a policy SLA does not (or no longer) have; the case is measured
        # all the same, on the policy it would have had without a contract.
        log.warning(
            "sla.contract_policy_unknown",
            case_id=str(cmd.case_id),
            sla_policy_id=str(cmd.sla_policy_id),
        )
    facts = CaseFacts(priority=cmd.priority, channel=cmd.channel, request_type=cmd.request_type)
    return choose_policy(facts, policies)


async def _calendar_for(cmd: StartKpis, policy: SlaPolicy, uow: SlaUnitOfWork) -> NamedCalendar:
    """The calendar a case's KPIs count on: its contract's, when the contract's policy
    applies and SLA has that calendar; else the policy's own."""
    if cmd.calendar_id is not None and policy.policy_id == cmd.sla_policy_id:
        contracted = await uow.calendars.get(cmd.calendar_id)
        if contracted is not None:
            return contracted
        log.warning(
            "sla.contract_calendar_unknown",
            case_id=str(cmd.case_id),
            calendar_id=str(cmd.calendar_id),
            policy_id=str(policy.policy_id),
        )
    named = await uow.calendars.get(policy.calendar_id)
    if named is None:
        raise CalendarNotFound(
            f"SLA policy {policy.name!r} names calendar {policy.calendar_id}, which is missing"
        )
    return named


async def apply_case_change(change: CaseChange, *, uow: SlaUnitOfWork) -> list[KpiInstance]:
    """Move a case's KPIs on a change to the case: pause, resume, meet, cancel or reopen them."""
    async with uow:
        sla = await uow.cases.get(change.case_id)
        if sla is None:
            # The case's opening has not arrived yet (events about one case may come in any
            # order, e.g. when a dead-lettered opening is replayed later). The change is
            # parked, not dropped: dropping a resolution would leave the KPIs to breach once
            # the opening arrives. `start_kpis` applies parked changes after starting KPIs.
            await uow.cases.park(change)
            await uow.commit()
            return []
        if sla.calendar_id is None:
            return []  # no policy applied to the case: it has no KPIs to move
        instances = await uow.kpis.of_case(change.case_id, for_update=True)
        calendar = await _calendar(uow, sla.calendar_id)
        changed = _apply(change, instances, calendar, uow)
        for instance in changed:
            await uow.kpis.save(instance)
        await uow.commit()
        return changed


async def tick_kpis(*, uow: SlaUnitOfWork, now: datetime, limit: int = 200) -> int:
    """Fire the warnings and breaches that have come by `now`; returns how many KPIs it looked at.

    Each claimed KPI's next check moves past `now` (or away), so calling again until this
    returns 0 drains everything due.
    """
    async with uow:
        due = await uow.kpis.claim_due(now, limit=limit)
        for instance in due:
            uow.emit(instance.tick(now))
            await uow.kpis.save(instance)
        await uow.commit()
    return len(due)


async def create_calendar(
    cmd: CreateCalendar,
    *,
    uow: SlaUnitOfWork,
    new_id: Callable[[], UUID] = uuid4,
) -> NamedCalendar:
    """Add a business-hours calendar under a name no other calendar has."""
    name = cmd.name.strip()
    if not name:
        raise InvalidCalendarError("a calendar needs a name")
    calendar = Calendar.weekly(
        cmd.time_zone,
        {day: [WorkingInterval.parse(text) for text in hours] for day, hours in cmd.week.items()},
        holidays=cmd.holidays,
        special_days={
            day: [WorkingInterval.parse(text) for text in hours]
            for day, hours in cmd.special_days.items()
        },
    )
    async with uow:
        if await uow.calendars.get_by_name(name) is not None:
            raise CalendarNameTaken(f"There is already a calendar named {name!r}.")
        named = NamedCalendar(calendar_id=new_id(), name=name, calendar=calendar)
        await uow.calendars.add(named)
        await uow.commit()
    return named


@dataclass(frozen=True, kw_only=True)
class KpiState:
    """A KPI instance with the working time it has used, has left, and spent paused."""

    instance: KpiInstance
    consumed: timedelta
    remaining: timedelta
    paused: timedelta


async def kpis_of_case(case_id: UUID, *, uow: SlaUnitOfWork, now: datetime) -> list[KpiState]:
    """Where each KPI of a case stands at `now`."""
    async with uow:
        sla = await uow.cases.get(case_id)
        if sla is None:
            raise CaseNotKnown(f"SLA has not seen case {case_id} open.")
        if sla.calendar_id is None:
            return []
        instances = await uow.kpis.of_case(case_id)
        calendar = await _calendar(uow, sla.calendar_id)
    states = []
    for instance in instances:
        until = instance.ended_at or max(now, instance.started_at)
        consumed = instance.consumed_at(until, calendar)
        elapsed = working_time_between(instance.started_at, until, calendar)
        states.append(
            KpiState(
                instance=instance,
                consumed=consumed,
                remaining=instance.target - consumed,
                paused=max(elapsed - consumed, _ZERO),
            )
        )
    return states


async def compliance(
    *, uow: SlaUnitOfWork, since: datetime, until: datetime
) -> list[KpiCompliance]:
    """Per KPI, how many were met in time and how many breached between `since` and `until`."""
    if until <= since:
        raise InvalidPeriodError(f"the period ends ({until}) before it starts ({since})")
    async with uow:
        return await uow.kpis.compliance(since=since, until=until)


def _apply(
    change: CaseChange,
    instances: Sequence[KpiInstance],
    calendar: Calendar,
    uow: SlaUnitOfWork,
) -> list[KpiInstance]:
    """Apply `change` to the KPIs of one case, emitting what happened; the ones it moved."""
    changed = []
    for instance in instances:
        if not instance.is_open and not isinstance(change, RecordReopening):
            continue
        at = _not_before_last_change(instance, change.at)
        events: list[KpiEvent] = []
        due_at: datetime | None = None
        match change:
            case RecordStatusChange(status=status) if status in WAITING_STATUSES:
                if instance.is_running:
                    events = instance.pause(at, calendar)
            case RecordStatusChange(status=status) if status not in CLOSED_STATUSES:
                if instance.status is KpiStatus.PAUSED:
                    events = instance.resume(at, calendar)
            case RecordFirstResponse():
                if instance.kpi == FIRST_RESPONSE:
                    due_at = _deadline_when_met(instance, at, calendar)
                    events = instance.succeed(at)
            case RecordResolution():
                # A resolved case has met whatever it was still measured on.
                due_at = _deadline_when_met(instance, at, calendar)
                events = instance.succeed(at)
            case RecordCancellation():
                events = instance.cancel(at)
            case RecordReopening():
                # The resolution runs again where it stopped; the first response stays as it
                # ended. A KPI still open (a reopening delivered twice) is left alone.
                if instance.kpi == RESOLUTION and not instance.is_open:
                    events = instance.reopen(at, calendar)
        if events:
            uow.emit(events, due_at=due_at)
            changed.append(instance)
    return changed


def _not_before_last_change(instance: KpiInstance, at: datetime) -> datetime:
    """`at`, or the KPI's last change if that came later.

    Case events carry the cases service's clock, and parked changes are applied after the
    opening; a change stamped a moment before the KPI's last change is applied at that
    change rather than refused, so no case event is lost to clock differences.
    """
    moments = (instance.started_at, instance.running_since, instance.paused_at, instance.ended_at)
    return max(at, *(moment for moment in moments if moment is not None))


def _deadline_when_met(instance: KpiInstance, at: datetime, calendar: Calendar) -> datetime:
    """The deadline reported with a KPI met at `at`: a paused KPI has none, so it is the one
    it would have had if its clock had run again from `at`."""
    if instance.due_at is not None:
        return instance.due_at
    return add_working_time(at, max(instance.remaining_at(at, calendar), _ZERO), calendar)


async def _calendar(uow: SlaUnitOfWork, calendar_id: UUID) -> Calendar:
    named = await uow.calendars.get(calendar_id)
    if named is None:
        raise CalendarNotFound(f"There is no calendar {calendar_id}.")
    return named.calendar
