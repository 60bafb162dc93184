"""The cases service's unit of work over PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterable
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from caseflow_servicekit import SqlUnitOfWork
from cases.adapters.published import to_contract
from cases.adapters.repository import SqlCaseRepository
from cases.domain.case import Case
from cases.domain.events import CaseEvent


class SqlCasesUnitOfWork(SqlUnitOfWork):
    """Cases repository and event publication in one transaction."""

    cases: SqlCaseRepository

    async def on_open(self, session: AsyncSession) -> None:
        self.cases = SqlCaseRepository(session)

    def emit(
        self, case: Case, events: Iterable[CaseEvent], *, interaction_id: UUID | None = None
    ) -> None:
        """Publish `events` about `case` when this unit of work commits."""
        for event in events:
            self.record(
                to_contract(event, case=case, interaction_id=interaction_id),
                key=str(case.case_id),
                subject=str(case.case_id),
            )
