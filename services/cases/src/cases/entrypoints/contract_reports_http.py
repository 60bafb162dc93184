"""The contract report over HTTP: JSON by default, CSV for `Accept: text/csv`."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from datetime import UTC, date
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field
from pydantic_core import to_json

from caseflow_servicekit import Authenticator, Clock, Role
from caseflow_servicekit.edge import Limit, Offset
from caseflow_servicekit.negotiation import CSV, JSON, wants_csv
from cases.adapters.uow import SqlCasesUnitOfWork
from cases.app.contract_reports import (
    COLUMNS,
    MAX_ENDING_WITHIN_DAYS,
    ContractReportFilters,
    ContractReportQuery,
    ContractReportRow,
    contract_report,
)
from cases.domain.contracts import Allocation, ContractStatus

TOTAL_HEADER = "X-Total-Count"
"""Carries the report's total with a CSV page (the JSON page has it in its body)."""


class ContractLineRowView(BaseModel):
    """One line of one contract and what it has used; line fields null for a contract with
    no lines."""

    contract_id: UUID
    contract_number: str
    contract_name: str
    account_id: UUID
    status: ContractStatus
    starts_on: date
    ends_on: date
    days_to_expiry: int = Field(description="ends_on less today: 0 on its last day, < 0 after.")
    line_id: UUID | None
    line_number: int | None
    line_name: str | None
    allocation: Allocation | None
    allotment: int | None
    used: int | None = Field(description="What the line's ledger has drawn, net of restores.")
    remaining: int | None = Field(description="allotment - used; < 0 only with overdraft.")
    cases_drawn: int | None = Field(description="Cases whose net draw on the line is above 0.")
    minutes_drawn: int | None = Field(
        description="A minutes line: its used; a cases line: billable minutes of its cases."
    )
    overage: int | None = Field(description="What the line could not cover, net.")


class ContractReportView(BaseModel):
    """A page of the contract report: a row per contract line."""

    as_of: date = Field(description="The day days_to_expiry and ending_within_days count from.")
    total: int = Field(description="Rows of the whole report, on every page.")
    limit: int
    offset: int
    rows: list[ContractLineRowView]


def as_csv(rows: Sequence[ContractReportRow]) -> str:
    """The rows as CSV: a header, then a line per contract line (an empty cell for null)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    writer.writerows(["" if value is None else value for value in row] for row in rows)
    return out.getvalue()


_CSV_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "A page of the report; CSV (a header row, then a row per contract "
        f"line, the total in `{TOTAL_HEADER}`) for `Accept: text/csv`.",
        "headers": {
            TOTAL_HEADER: {
                "description": "Rows of the whole report (CSV only).",
                "schema": {"type": "integer"},
            }
        },
        "content": {
            CSV: {
                "schema": {"type": "string"},
                "example": ",".join(COLUMNS) + "\r\n"
                "3f0c2a1e-8d5b-4c1e-9a7f-2b6d8e4f1a3c,CON-2026-000001,Gold support,"
                "9b1d4e7a-2c3f-4a5b-8e6d-1f0a9c8b7d6e,active,2026-01-01,2026-12-31,31,"
                "7c2e9f1a-4b3d-4e8c-a1f5-6d0b2c9e8a7f,1,Repairs,cases,100,42,58,42,1260,0\r\n",
            }
        },
    }
}


def router(
    *, uow_factory: Callable[[], SqlCasesUnitOfWork], auth: Authenticator, clock: Clock
) -> APIRouter:
    """Routes for the contract report."""
    api = APIRouter(prefix="/reports", tags=["reports"])
    supervisor = [Depends(auth.requires(Role.SUPERVISOR))]

    @api.get(
        "/contracts",
        response_model=ContractReportView,
        responses=_CSV_RESPONSE,
        dependencies=supervisor,
    )
    async def contracts_report(
        request: Request,
        account_id: UUID | None = None,
        status: ContractStatus | None = None,
        ending_within_days: Annotated[
            int | None,
            Query(
                ge=0,
                le=MAX_ENDING_WITHIN_DAYS,
                description="Contracts ending between today and this many days from today.",
            ),
        ] = None,
        contract_id: UUID | None = None,
        limit: Annotated[Limit, Query()] = 50,
        offset: Annotated[Offset, Query()] = 0,
    ) -> Any:
        """Every line of every contract: its allotment, what its ledger has used and what
        remains, the cases and minutes drawn on it, its overage, and how many days the
        contract has left; by contract number then line number, a page at a time."""
        # Contract dates are days of the service's calendar, which is UTC.
        today = clock.now().astimezone(UTC).date()
        query = ContractReportQuery.of(
            today=today,
            filters=ContractReportFilters(
                account_id=account_id,
                status=status,
                ending_within_days=ending_within_days,
                contract_id=contract_id,
            ),
            limit=limit,
            offset=offset,
        )
        page = await contract_report(query, uow=uow_factory())
        if wants_csv(request.headers.get("accept")):
            return Response(
                as_csv(page.rows),
                media_type=f"{CSV}; charset=utf-8",
                headers={TOTAL_HEADER: str(page.total)},
            )
        # Serialised straight from the rows, as the case report is.
        report = {
            "as_of": today,
            "total": page.total,
            "limit": limit,
            "offset": offset,
            "rows": [row._asdict() for row in page.rows],
        }
        return Response(to_json(report), media_type=JSON)

    return api
