"""The routing and SLA facts of cases in PostgreSQL: columns of `cases`, and its `sla` JSONB.

`sla` holds one entry per KPI, by KPI name::

    {"first_response": {"status": "breached", "due_at": "2026-05-04T12:00:00+00:00",
                        "breached": true, "at": "2026-05-04T12:00:00+00:00",
                        "instance_id": "…"}}

and, under the reserved key `_routing`, when each routing fact was learnt and the names of the
queues the case has been in (`{"queue_at": …, "assignee_at": …, "queues": {id: name}}`), which
order-tolerance needs and the columns have no room for. A KPI called `_routing` is not kept.
Times are ISO 8601 in UTC.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import structlog
from sqlalchemy import DateTime, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cases.adapters.tables import cases
from cases.app.projections import CaseProjection, KpiState, KpiStatus, RoutingState

log = structlog.get_logger(__name__)

ROUTING_KEY = "_routing"
"""The key of `sla` that holds the routing clocks rather than a KPI."""


class SqlCaseProjections:
    """Reads and writes the projected facts of a case, and nothing else of its row."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, case_id: UUID) -> CaseProjection | None:
        """The facts of a case, its row locked (against other projections, not readers)."""
        c = cases.c
        row = (
            await self._session.execute(
                select(c.queue_id, c.queue_name, c.assignee_id, c.sla)
                .where(c.case_id == case_id)
                .with_for_update(key_share=True)
            )
        ).first()
        if row is None:
            return None
        return _projection(row.queue_id, row.queue_name, row.assignee_id, row.sla or {})

    async def save(self, case_id: UUID, projection: CaseProjection) -> None:
        """Write the facts of a case (neither its version nor its `updated_at`: they are the
        case's own, and a projection is not an edit of it)."""
        routing = projection.routing
        await self._session.execute(
            update(cases)
            .where(cases.c.case_id == case_id)
            .values(
                queue_id=routing.queue_id,
                queue_name=routing.queue_name,
                assignee_id=routing.assignee_id,
                sla=_document(projection),
                overdue=projection.overdue,
            )
        )

    async def queue_name(self, queue_id: UUID) -> str | None:
        """The name of `queue_id` as the case that most recently entered it has it."""
        c = cases.c
        learnt = c.sla[ROUTING_KEY]["queue_at"].astext.cast(DateTime(timezone=True))
        # No index on queue_id: a scan, but only for a transfer to a queue this case has
        # never been in.
        return await self._session.scalar(
            select(c.queue_name)
            .where(c.queue_id == queue_id, c.queue_name.is_not(None))
            .order_by(learnt.desc().nulls_last())
            .limit(1)
        )


def _time(value: Any) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat()


def _projection(
    queue_id: UUID | None, queue_name: str | None, assignee_id: UUID | None, doc: Mapping[str, Any]
) -> CaseProjection:
    clocks = doc.get(ROUTING_KEY) or {}
    routing = RoutingState(
        queue_id=queue_id,
        queue_name=queue_name,
        queue_at=_time(clocks.get("queue_at")),
        assignee_id=assignee_id,
        assignee_at=_time(clocks.get("assignee_at")),
        queue_names={UUID(k): v for k, v in (clocks.get("queues") or {}).items()},
    )
    kpis = {
        name: KpiState(
            status=KpiStatus(entry["status"]),
            due_at=_time(entry.get("due_at")),
            breached=bool(entry.get("breached")),
            at=datetime.fromisoformat(entry["at"]),
            instance_id=UUID(entry["instance_id"]) if entry.get("instance_id") else None,
        )
        for name, entry in doc.items()
        if name != ROUTING_KEY
    }
    return CaseProjection(routing=routing, kpis=kpis)


def _document(projection: CaseProjection) -> dict[str, Any]:
    doc: dict[str, Any] = {}
    for name, kpi in projection.kpis.items():
        if name == ROUTING_KEY:
            log.warning("projection.reserved_kpi_name_skipped", kpi=name)
            continue
        doc[name] = {
            "status": kpi.status.value,
            "due_at": _iso(kpi.due_at),
            "breached": kpi.breached,
            "at": _iso(kpi.at),
            "instance_id": None if kpi.instance_id is None else str(kpi.instance_id),
        }
    routing = projection.routing
    doc[ROUTING_KEY] = {
        "queue_at": _iso(routing.queue_at),
        "assignee_at": _iso(routing.assignee_at),
        "queues": {str(k): v for k, v in routing.queue_names.items()},
    }
    return doc
