"""Use cases of SLA policy administration: write, replace and retire policies, keep what the
conditions look at (accounts' tiers and regions), and change calendars."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from uuid import UUID

from sla.app.commands import CreateCalendar
from sla.app.handlers import CalendarNameTaken, CalendarNotFound, calendar_of
from sla.app.ports import NamedCalendar, SlaUnitOfWork
from sla.domain import (
    InvalidCalendarError,
    InvalidPolicyError,
    InvalidTimeError,
    SlaError,
    SlaPolicy,
    add_working_time,
    is_working,
    next_working_moment,
)


class PolicyNotFound(SlaError):
    """No policy has the id asked for."""


class PolicyNameTaken(SlaError):
    """Another policy already has the name asked for."""


class UnknownCalendarError(InvalidPolicyError):
    """A policy or one of its items counts on a calendar SLA does not have."""


async def create_policy(
    policy: SlaPolicy,
    *,
    uow: SlaUnitOfWork,
    position: int | None = None,
) -> SlaPolicy:
    """Add a policy, tried after the others unless `position` says where."""
    async with uow:
        if await uow.policies.find_by_name(policy.name) is not None:
            raise PolicyNameTaken(f"There is already a policy named {policy.name!r}.")
        await _check(policy, uow)
        where = await uow.policies.next_position() if position is None else position
        await uow.policies.add(policy, position=where)
        await uow.commit()
    return policy


async def replace_policy(policy: SlaPolicy, *, uow: SlaUnitOfWork) -> SlaPolicy:
    """Write a policy whole under its id (created if new). Cases already under it keep the
    KPIs they started with; new cases get the new terms."""
    async with uow:
        current = await uow.policies.get(policy.policy_id)
        other = await uow.policies.find_by_name(policy.name)
        if other is not None and other.policy_id != policy.policy_id:
            raise PolicyNameTaken(f"There is already a policy named {policy.name!r}.")
        await _check(policy, uow)
        if current is None:
            await uow.policies.add(policy, position=await uow.policies.next_position())
        else:
            if current.retired:
                policy = dataclasses.replace(policy, retired=True)
            await uow.policies.save(policy)
        await uow.commit()
    return policy


async def retire_policy(policy_id: UUID, *, uow: SlaUnitOfWork, now: datetime) -> SlaPolicy:
    """Choose the policy for no new case; the cases under it keep their KPIs running on it."""
    async with uow:
        policy = await uow.policies.get(policy_id)
        if policy is None:
            raise PolicyNotFound(f"There is no policy {policy_id}.")
        if policy.is_default:
            raise InvalidPolicyError(
                f"{policy.name!r} is the default policy: name another the default first"
            )
        await uow.policies.retire(policy_id, at=now)
        await uow.commit()
    return dataclasses.replace(policy, retired=True)


async def keep_account(
    account_id: UUID,
    *,
    tier: str | None,
    region: str | None,
    version: int,
    uow: SlaUnitOfWork,
) -> None:
    """Keep an account's tier and region (the highest version wins, in any order)."""
    async with uow:
        await uow.accounts.keep(account_id, tier=tier, region=region, version=version)
        await uow.commit()


async def replace_calendar(
    calendar_id: UUID, cmd: CreateCalendar, *, uow: SlaUnitOfWork
) -> NamedCalendar:
    """Rewrite a calendar whole. KPIs already running keep the deadlines they were given;
    what they are told next (a pause, a resumption) counts on the new hours."""
    named = NamedCalendar(calendar_id=calendar_id, name=_name(cmd.name), calendar=calendar_of(cmd))
    async with uow:
        if await uow.calendars.get(calendar_id) is None:
            raise CalendarNotFound(f"There is no calendar {calendar_id}.")
        other = await uow.calendars.get_by_name(named.name)
        if other is not None and other.calendar_id != calendar_id:
            raise CalendarNameTaken(f"There is already a calendar named {named.name!r}.")
        await uow.calendars.save(named)
        await uow.commit()
    return named


async def set_holidays(
    calendar_id: UUID, year: int, days: Iterable[date], *, uow: SlaUnitOfWork
) -> NamedCalendar:
    """Replace a calendar's holidays of one year, leaving the other years' as they are."""
    chosen = frozenset(days)
    if any(day.year != year for day in chosen):
        raise InvalidCalendarError(f"every holiday of {year} must fall in {year}")
    async with uow:
        named = await uow.calendars.get(calendar_id)
        if named is None:
            raise CalendarNotFound(f"There is no calendar {calendar_id}.")
        kept = {day for day in named.calendar.holidays if day.year != year}
        named = dataclasses.replace(
            named, calendar=dataclasses.replace(named.calendar, holidays=frozenset(kept | chosen))
        )
        await uow.calendars.save(named)
        await uow.commit()
    return named


_EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
_LATEST = datetime(2200, 1, 1, tzinfo=UTC)


@dataclasses.dataclass(frozen=True)
class CalendarCheck:
    """A moment as a calendar sees it."""

    at: datetime
    working: bool
    next_working_at: datetime
    """`at` itself when it is working time, else when working time next begins."""
    due_at: datetime | None
    """The deadline of the working time asked about, counted from `at`."""


async def check_calendar(
    calendar_id: UUID, at: datetime, *, work: timedelta | None, uow: SlaUnitOfWork
) -> CalendarCheck:
    """Whether `at` is working time on the calendar, when its working time next begins, and
    the deadline a KPI of `work` started at `at` would get: how an administrator checks a
    calendar's hours and holidays before a policy counts on them."""
    if not _EARLIEST <= at <= _LATEST:
        raise InvalidTimeError(f"a calendar is checked between 1970 and 2200, not at {at}")
    async with uow:
        named = await uow.calendars.get(calendar_id)
    if named is None:
        raise CalendarNotFound(f"There is no calendar {calendar_id}.")
    calendar = named.calendar
    return CalendarCheck(
        at=at,
        working=is_working(at, calendar),
        next_working_at=next_working_moment(at, calendar),
        due_at=None if work is None else add_working_time(at, work, calendar),
    )


async def _check(policy: SlaPolicy, uow: SlaUnitOfWork) -> None:
    missing = [
        str(calendar_id)
        for calendar_id in sorted(policy.calendar_ids)
        if await uow.calendars.get(calendar_id) is None
    ]
    if missing:
        raise UnknownCalendarError(f"there is no calendar {', '.join(missing)}")
    if policy.is_default:
        for other in await uow.policies.list():
            if other.is_default and other.policy_id != policy.policy_id:
                raise InvalidPolicyError(
                    f"{other.name!r} is the default policy already; there is only one"
                )


async def set_queue_manager(queue_id: UUID, manager_id: UUID, *, uow: SlaUnitOfWork) -> None:
    """Name the manager a breach of a case in the queue goes to when the directory names no
    manager, and whom a ladder's queue-owner step goes to."""
    async with uow:
        await uow.queue_managers.put(queue_id, manager_id)
        await uow.commit()


async def clear_queue_manager(queue_id: UUID, *, uow: SlaUnitOfWork) -> bool:
    """Forget a queue's manager; whether it had one."""
    async with uow:
        gone = await uow.queue_managers.delete(queue_id)
        await uow.commit()
    return gone


def _name(name: str) -> str:
    text = name.strip()
    if not text:
        raise InvalidCalendarError("a calendar needs a name")
    return text
