"""The case reports over HTTP: JSON by default, CSV for `Accept: text/csv`."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import AwareDatetime, BaseModel, Field, StringConstraints
from pydantic_core import to_json

from caseflow_servicekit import Authenticator, Role
from caseflow_servicekit.edge import Text
from caseflow_servicekit.negotiation import CSV, JSON, wants_csv
from cases.adapters.uow import SqlCasesUnitOfWork
from cases.app.reports import (
    FIGURES,
    CaseReportFilters,
    CaseReportQuery,
    CaseReportRow,
    Dimension,
    case_report,
)
from cases.domain.values import CaseStatus, Channel

Code = Annotated[Text, StringConstraints(min_length=1, max_length=100)]
"""A code of the catalogues (request type, resolution)."""
GroupBy = Annotated[Text, StringConstraints(max_length=200)]
"""A dimension, or several separated by commas."""


class ReportRowView(BaseModel):
    """One group of the report: its values by dimension, and its figures."""

    group: dict[str, str | None] = Field(
        description="The group's value for each dimension asked for (null: none)."
    )
    opened: int = Field(description="Cases opened in the period.")
    resolved: int = Field(description="Cases resolved in the period.")
    cancelled: int = Field(description="Cases cancelled in the period.")
    reopened: int = Field(description="Cases reopened in the period.")
    overdue: int = Field(description="Of the cases opened in the period, those overdue.")
    median_resolve_seconds: float | None = Field(
        description="Median of resolved_at - opened_at over the cases resolved in the period."
    )
    p90_resolve_seconds: float | None = Field(
        description="90th percentile of the same (interpolated)."
    )
    billable_minutes: int = Field(description="Billable minutes of the cases resolved.")
    total_minutes: int = Field(description="All minutes logged on the cases resolved.")
    call_minutes: int = Field(description="Minutes of calls on the cases resolved.")


class CaseReportView(BaseModel):
    """A case report: the period `[from, to)`, the grouping, and a row per group."""

    since: datetime = Field(serialization_alias="from")
    until: datetime = Field(serialization_alias="to")
    group_by: list[str]
    rows: list[ReportRowView]


def as_csv(dimensions: Sequence[Dimension], rows: Sequence[CaseReportRow]) -> str:
    """The rows as CSV: a header, then a line per group (an empty cell for null)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([*(d.value for d in dimensions), *FIGURES])
    for row in rows:
        figures = [getattr(row, name) for name in FIGURES]
        writer.writerow(
            [*(row.group[d] for d in dimensions), *("" if f is None else f for f in figures)]
        )
    return out.getvalue()


_CSV_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The report; CSV (a header row, then a row per group) for "
        "`Accept: text/csv`.",
        "content": {
            CSV: {
                "schema": {"type": "string"},
                "example": "status,opened,resolved,cancelled,reopened,overdue,"
                "median_resolve_seconds,p90_resolve_seconds,billable_minutes,"
                "total_minutes,call_minutes\r\nresolved,12,10,0,1,2,3600.0,7200.0,90,120,30\r\n",
            }
        },
    }
}


def router(*, uow_factory: Callable[[], SqlCasesUnitOfWork], auth: Authenticator) -> APIRouter:
    """Routes for the case reports."""
    api = APIRouter(prefix="/reports", tags=["reports"])
    supervisor = [Depends(auth.requires(Role.SUPERVISOR))]

    @api.get(
        "/cases",
        response_model=CaseReportView,
        response_model_by_alias=True,
        responses=_CSV_RESPONSE,
        dependencies=supervisor,
    )
    async def cases_report(
        request: Request,
        since: Annotated[AwareDatetime, Query(alias="from", description="Start (inclusive).")],
        until: Annotated[AwareDatetime, Query(alias="to", description="End (exclusive).")],
        group_by: Annotated[
            list[GroupBy] | None,
            Query(
                description="Dimensions to group by, comma-separated or repeated: "
                + ", ".join(d.value for d in Dimension)
                + ". None gives one row for the whole period.",
                max_length=len(Dimension),
            ),
        ] = None,
        channel: Channel | None = None,
        request_type: Annotated[Code | None, Query()] = None,
        status: CaseStatus | None = None,
        account_id: UUID | None = None,
        contact_id: UUID | None = None,
        agent_id: UUID | None = None,
        resolution: Annotated[Code | None, Query(description="A resolution code.")] = None,
    ) -> Any:
        """Cases opened, resolved, cancelled, reopened and overdue in `[from, to)`, time to
        resolve (median, 90th percentile) and minutes, by the dimensions asked for."""
        query = CaseReportQuery.of(
            since=since,
            until=until,
            group_by=group_by or (),
            filters=CaseReportFilters(
                channel=channel,
                request_type=request_type,
                status=status,
                account_id=account_id,
                contact_id=contact_id,
                agent_id=agent_id,
                resolution=resolution,
            ),
        )
        rows = await case_report(query, uow=uow_factory())
        if wants_csv(request.headers.get("accept")):
            return Response(as_csv(query.group_by, rows), media_type=f"{CSV}; charset=utf-8")
        # Serialised straight from the rows: a report of thousands of groups would spend
        # more time building and checking response models than PostgreSQL spent on it.
        report = {
            "from": since,
            "to": until,
            "group_by": [d.value for d in query.group_by],
            "rows": [row._asdict() for row in rows],
        }
        return Response(to_json(report), media_type=JSON)

    return api
