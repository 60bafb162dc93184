"""Telephone calls on cases: a call that ended is logged, with its duration, on the cases the
agent opened or worked during it, so call time counts in the case's totals and reports."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID, uuid4, uuid5

import structlog

from cases.app.ports import CasesUnitOfWork
from cases.domain.case import MAX_ACTIVITY_MINUTES
from cases.domain.notifications import notifications_for
from cases.domain.values import ActivityKind

log = structlog.get_logger(__name__)


@dataclass(frozen=True, kw_only=True)
class CallFinished:
    """An answered call intake recorded: who took it, when, and for how long."""

    call_id: str
    agent_id: UUID | None
    caller: str
    answered_at: datetime
    ended_at: datetime
    duration_seconds: int


async def log_call(
    call: CallFinished,
    *,
    uow: CasesUnitOfWork,
    now: datetime,
    billable: bool = True,
    new_id: Callable[[], UUID] = uuid4,
) -> list[UUID]:
    """Log the call as phone work on each open case it was about; returns those cases.

    A case is about the call when it was opened for it (`call_id`), or when the agent who took
    the call opened it or logged work on it while the call lasted. Each case gets the call
    once, however often the event comes.
    """
    logged: list[UUID] = []
    async with uow:
        case_ids = await uow.cases.cases_of_call(
            call.call_id, agent_id=call.agent_id, start=call.answered_at, end=call.ended_at
        )
        minutes = min(MAX_ACTIVITY_MINUTES, math.ceil(call.duration_seconds / 60))
        for case_id in case_ids:
            case = await uow.cases.get(case_id, for_update=True)
            if case is None:
                continue
            activity_id = uuid5(case_id, f"call:{call.call_id}")
            if any(a.activity_id == activity_id for a in case.activities):
                continue
            if not case.is_open:
                log.info("case.call_on_closed_case", case_id=str(case_id), call_id=call.call_id)
                continue
            events = case.log_activity(
                activity_id=activity_id,
                kind=ActivityKind.CALL,
                duration_minutes=minutes,
                billable=billable,
                now=now,
                subject=f"Call with {call.caller}",
                performed_by=call.agent_id,
                performed_at=call.answered_at,
            )
            await uow.cases.save(case)
            uow.emit(case, events)
            for notification in notifications_for(case, events, new_id=new_id):
                uow.notify(notification)
            logged.append(case_id)
        await uow.commit()
    return logged
