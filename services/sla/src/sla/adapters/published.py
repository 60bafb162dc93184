"""Domain KPI events, translated to the published contracts of `sla.kpi.v1`."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import caseflow_contracts as c
from sla.domain import kpi as d


def to_contract(
    event: d.KpiEvent, *, calendar_id: UUID | None = None, due_at: datetime | None = None
) -> c.Event:
    """The contract event that tells other services about `event`.

    `calendar_id` is the calendar a started KPI is measured on; `due_at` the deadline
    reported with a met KPI.
    """
    common = {
        "kpi_instance_id": event.instance_id,
        "case_id": event.case_id,
        "kpi": event.kpi,
        "occurred_at": event.occurred_at,
    }
    match event:
        case d.KpiStarted():
            if calendar_id is None:
                msg = "a started KPI cannot be published without its calendar"
                raise ValueError(msg)
            return c.KpiStarted(
                **common,
                policy_id=event.policy_id,
                calendar_id=calendar_id,
                started_at=event.occurred_at,
                due_at=event.due_at,
                warn_at=event.warn_at,
            )
        case d.KpiPaused():
            return c.KpiPaused(**common, paused_at=event.occurred_at)
        case d.KpiResumed():
            return c.KpiResumed(**common, resumed_at=event.occurred_at, due_at=event.due_at)
        case d.KpiNearingBreach():
            return c.KpiNearingBreach(**common, due_at=event.due_at)
        case d.KpiBreached():
            return c.KpiBreached(**common, due_at=event.occurred_at)
        case d.KpiSucceeded():
            if due_at is None:
                msg = "a met KPI cannot be published without its deadline"
                raise ValueError(msg)
            return c.KpiSucceeded(**common, succeeded_at=event.occurred_at, due_at=due_at)
        case d.KpiCancelled():
            return c.KpiCancelled(**common)
        case d.KpiReEvaluated():
            if calendar_id is None:
                msg = "a re-evaluated KPI cannot be published without its calendar"
                raise ValueError(msg)
            return c.KpiReEvaluated(
                **common,
                policy_id=event.policy_id,
                calendar_id=calendar_id,
                target_seconds=max(1, int(event.target.total_seconds())),
                status=event.status.value,  # type: ignore[arg-type]
                due_at=event.due_at,
                warn_at=event.warn_at,
                reason=event.reason[:200],
            )
    msg = f"no contract for {type(event).__name__}"
    raise TypeError(msg)
