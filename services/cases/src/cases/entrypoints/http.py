"""The cases HTTP API."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from caseflow_servicekit import Authenticator, NotFound, Role
from caseflow_servicekit.edge import Limit, Offset
from cases.adapters.uow import SqlCasesUnitOfWork
from cases.domain.case import Case


class ActivityView(BaseModel):
    activity_id: UUID
    kind: str
    subject: str
    duration_minutes: int
    billable: bool
    performed_by: UUID | None
    logged_at: datetime


class CaseView(BaseModel):
    """A case as the API shows it."""

    case_id: UUID
    number: str
    channel: str
    contact_id: UUID
    account_id: UUID | None
    subject: str
    description: str
    request_type: str | None
    parameters: dict[str, str]
    priority: str
    status: str
    opened_at: datetime
    billable_minutes: int
    escalation_level: int
    reopen_count: int
    activities: list[ActivityView]

    @classmethod
    def of(cls, case: Case) -> CaseView:
        return cls(
            case_id=case.case_id,
            number=case.number,
            channel=case.channel.value,
            contact_id=case.customer.contact_id,
            account_id=case.customer.account_id,
            subject=case.subject,
            description=case.description,
            request_type=case.request_type,
            parameters=dict(case.parameters),
            priority=case.priority.value,
            status=case.status.value,
            opened_at=case.opened_at,
            billable_minutes=case.billable_minutes,
            escalation_level=case.escalation_level,
            reopen_count=case.reopen_count,
            activities=[
                ActivityView(
                    activity_id=a.activity_id,
                    kind=a.kind.value,
                    subject=a.subject,
                    duration_minutes=a.duration_minutes,
                    billable=a.billable,
                    performed_by=a.performed_by,
                    logged_at=a.logged_at,
                )
                for a in case.activities
            ],
        )


class CaseSummary(BaseModel):
    case_id: UUID
    number: str
    channel: str
    contact_id: UUID
    subject: str
    priority: str
    status: str
    opened_at: datetime


class CasePage(BaseModel):
    items: list[CaseSummary]
    total: int
    limit: int
    offset: int


def router(*, uow_factory: Callable[[], SqlCasesUnitOfWork], auth: Authenticator) -> APIRouter:
    """Routes for reading cases."""
    api = APIRouter(prefix="/cases", tags=["cases"])
    agent = [Depends(auth.requires(Role.AGENT))]

    @api.get("/{case_id}", response_model=CaseView, dependencies=agent)
    async def get_case(case_id: UUID) -> CaseView:
        """One case with its activities."""
        async with uow_factory() as uow:
            case = await uow.cases.get(case_id)
        if case is None:
            raise NotFound(f"There is no case {case_id}.")
        return CaseView.of(case)

    @api.get("/by-number/{number}", response_model=CaseView, dependencies=agent)
    async def get_case_by_number(number: str) -> CaseView:
        """One case by its readable number."""
        async with uow_factory() as uow:
            case = await uow.cases.get_by_number(number.strip().upper())
        if case is None:
            raise NotFound(f"There is no case {number}.")
        return CaseView.of(case)

    @api.get("", response_model=CasePage, dependencies=agent)
    async def list_cases(
        status: str | None = None,
        contact_id: UUID | None = None,
        limit: Annotated[Limit, Query()] = 50,
        offset: Annotated[Offset, Query()] = 0,
    ) -> dict[str, Any]:
        """Cases, newest first, optionally by status or contact."""
        async with uow_factory() as uow:
            rows, total = await uow.cases.search(
                status=status, contact_id=contact_id, limit=limit, offset=offset
            )
        return {"items": rows, "total": total, "limit": limit, "offset": offset}

    return api
