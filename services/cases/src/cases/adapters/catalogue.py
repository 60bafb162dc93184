"""The catalogues in PostgreSQL: `SqlCatalogue` keeps request types and decisions in rows.

A request type's questions are stored as the list of parameter specs `cases.catalogue.v1`
carries, so what is kept and what is published have one shape.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

import caseflow_contracts as c
from cases.adapters.tables import decisions, request_types
from cases.app.catalogue import form_of, parameter_of, spec_of
from cases.domain.catalogue import Decision, RequestType
from cases.domain.values import DecisionOutcome, Priority


class SqlCatalogue:
    """Reads, lists, adds and replaces the entries of the request-type and decision catalogues."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def request_type(self, code: str, *, for_update: bool = False) -> RequestType | None:
        """The request type with `code` (active or not), or None."""
        stmt = select(request_types).where(request_types.c.code == code)
        if for_update:
            stmt = stmt.with_for_update()
        row = (await self._session.execute(stmt)).mappings().first()
        return None if row is None else _request_type(row)

    async def decision(self, code: str, *, for_update: bool = False) -> Decision | None:
        """The decision with `code` (retired or not), or None."""
        stmt = select(decisions).where(decisions.c.code == code)
        if for_update:
            stmt = stmt.with_for_update()
        row = (await self._session.execute(stmt)).mappings().first()
        return None if row is None else _decision(row)

    async def request_types(self, *, active: bool | None = None) -> list[RequestType]:
        """Request types by code, only the active (or inactive) ones when `active` says so."""
        stmt = select(request_types).order_by(request_types.c.code)
        if active is not None:
            stmt = stmt.where(request_types.c.active.is_(active))
        return [_request_type(row) for row in (await self._session.execute(stmt)).mappings()]

    async def decisions(self, *, include_retired: bool = False) -> list[Decision]:
        """Decisions by code; the retired ones too when asked."""
        stmt = select(decisions).order_by(decisions.c.code)
        if not include_retired:
            stmt = stmt.where(decisions.c.retired.is_(False))
        return [_decision(row) for row in (await self._session.execute(stmt)).mappings()]

    async def add_request_type(self, request_type: RequestType) -> bool:
        """Insert a new request type; False when its code is taken."""
        added = await self._session.scalar(
            pg_insert(request_types)
            .values(**_request_type_row(request_type))
            .on_conflict_do_nothing(index_elements=[request_types.c.code])
            .returning(request_types.c.code)
        )
        return added is not None

    async def save_request_type(self, request_type: RequestType) -> None:
        """Write a request type back over the row with its code."""
        values = _request_type_row(request_type)
        values.pop("code")
        await self._session.execute(
            update(request_types).where(request_types.c.code == request_type.code).values(**values)
        )

    async def add_decision(self, decision: Decision) -> bool:
        """Insert a new decision; False when its code is taken."""
        added = await self._session.scalar(
            pg_insert(decisions)
            .values(**_decision_row(decision))
            .on_conflict_do_nothing(index_elements=[decisions.c.code])
            .returning(decisions.c.code)
        )
        return added is not None

    async def save_decision(self, decision: Decision) -> None:
        """Write a decision back over the row with its code."""
        values = _decision_row(decision)
        values.pop("code")
        await self._session.execute(
            update(decisions).where(decisions.c.code == decision.code).values(**values)
        )


def _request_type(row: Any) -> RequestType:
    specs = [c.ParameterSpec.model_validate(p) for p in row["parameters"]]
    return RequestType(
        code=row["code"],
        names=dict(row["names"]),
        default_priority=Priority(row["default_priority"]),
        form=form_of([parameter_of(s) for s in specs]),
        active=row["active"],
        version=row["version"],
    )


def _request_type_row(request_type: RequestType) -> dict[str, Any]:
    return {
        "code": request_type.code,
        "names": dict(request_type.names),
        "default_priority": request_type.default_priority.value,
        "parameters": [spec_of(p).model_dump(mode="json") for p in request_type.form.parameters],
        "active": request_type.active,
        "version": request_type.version,
        "updated_at": func.now(),
    }


def _decision(row: Any) -> Decision:
    return Decision(
        code=row["code"],
        names=dict(row["names"]),
        outcome=DecisionOutcome(row["outcome"]),
        requires_text=row["requires_text"],
        retired=row["retired"],
        version=row["version"],
        creates_contract=row["creates_contract"],
        contract_template_id=row["contract_template_id"],
    )


def _decision_row(decision: Decision) -> dict[str, Any]:
    return {
        "code": decision.code,
        "names": dict(decision.names),
        "outcome": decision.outcome.value,
        "requires_text": decision.requires_text,
        "retired": decision.retired,
        "creates_contract": decision.creates_contract,
        "contract_template_id": decision.contract_template_id,
        "version": decision.version,
        "updated_at": func.now(),
    }
