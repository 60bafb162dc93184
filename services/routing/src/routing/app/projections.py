"""What routing learns from other services' events: accounts (owner, tier, region) from
intake's customer card, and the SLA deadlines of each case, which order its queue."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from routing.app.ports import RoutingUnitOfWork

KPI_STATES = frozenset({"running", "paused", "nearing", "breached", "done"})
"""A KPI's state as routing keeps it: it counts (running, nearing, breached), waits (paused),
or ended (done)."""


async def keep_account(
    account_id: UUID,
    *,
    owner_id: UUID | None,
    tier: str | None,
    region: str | None,
    version: int,
    uow: RoutingUnitOfWork,
) -> None:
    """Keep an account's card (the highest version wins, whatever order events come in)."""
    async with uow:
        await uow.cases.keep_account(
            account_id, owner_id=owner_id, tier=tier, region=region, version=version
        )
        await uow.commit()


async def track_kpi(
    kpi_instance_id: UUID,
    *,
    case_id: UUID,
    state: str,
    due_at: datetime | None,
    uow: RoutingUnitOfWork,
) -> None:
    """Keep a KPI's state and deadline; the case's items are ordered by the earliest
    deadline among its KPIs that still count."""
    if state not in KPI_STATES:
        msg = f"unknown KPI state {state!r}"
        raise ValueError(msg)
    async with uow:
        await uow.cases.keep_kpi(kpi_instance_id, case_id=case_id, state=state, due_at=due_at)
        await uow.queue_items.set_sla_due(case_id, await uow.cases.sla_due(case_id))
        await uow.commit()
