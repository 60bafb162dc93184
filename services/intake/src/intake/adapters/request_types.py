"""Intake's copy of the request-type catalogue in PostgreSQL."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from intake.adapters.tables import request_types
from intake.domain.request_types import AskedWhen, ParameterDefinition, RequestType


class SqlRequestTypeRepository:
    """Request types by code, each at the highest version seen."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, code: str) -> RequestType | None:
        """The request type with `code`, or None."""
        row = (
            (await self._session.execute(select(request_types).where(request_types.c.code == code)))
            .mappings()
            .first()
        )
        if row is None:
            return None
        return RequestType(
            code=row["code"],
            version=row["version"],
            names=dict(row["names"]),
            default_priority=row["default_priority"],
            parameters=tuple(_definition(item) for item in row["parameters"]),
            active=row["active"],
        )

    async def save(self, request_type: RequestType) -> None:
        """Keep `request_type` unless the entry held for its code is of the same or a later
        version."""
        values = {
            "code": request_type.code,
            "version": request_type.version,
            "names": dict(request_type.names),
            "default_priority": request_type.default_priority,
            "parameters": [_document(p) for p in request_type.parameters],
            "active": request_type.active,
        }
        statement = pg_insert(request_types).values(**values)
        # The version guard in the statement itself: two writers racing on one code (replicas
        # during a rebalance) still leave the later version, whichever commits last.
        await self._session.execute(
            statement.on_conflict_do_update(
                index_elements=[request_types.c.code],
                set_={name: statement.excluded[name] for name in values if name != "code"},
                where=request_types.c.version < statement.excluded.version,
            )
        )


def _document(definition: ParameterDefinition) -> dict[str, Any]:
    when = definition.when
    return {
        "name": definition.name,
        "type": definition.type,
        "labels": dict(definition.labels),
        "choices": list(definition.choices),
        "required": definition.required,
        "when": None
        if when is None
        else {"parameter": when.parameter, "equals": list(when.equals)},
    }


def _definition(document: Mapping[str, Any]) -> ParameterDefinition:
    when = document.get("when")
    return ParameterDefinition(
        name=document["name"],
        type=document["type"],
        labels=dict(document.get("labels") or {}),
        choices=tuple(document.get("choices") or ()),
        required=bool(document.get("required")),
        when=None
        if when is None
        else AskedWhen(parameter=when["parameter"], equals=tuple(when["equals"])),
    )
