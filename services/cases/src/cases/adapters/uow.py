"""The cases service's unit of work over PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterable
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from caseflow_servicekit import SqlUnitOfWork
from cases.adapters.catalogue import SqlCatalogue
from cases.adapters.projections import SqlCaseProjections
from cases.adapters.published import (
    interaction_request_contract,
    notification_contract,
    to_contract,
)
from cases.adapters.reports import SqlCaseReports
from cases.adapters.repository import SqlCaseRepository
from cases.domain.case import Case
from cases.domain.events import CaseEvent
from cases.domain.new_customers import InteractionRequest
from cases.domain.notifications import Notification


class SqlCasesUnitOfWork(SqlUnitOfWork):
    """Cases repository and event publication in one transaction."""

    cases: SqlCaseRepository
    catalogue: SqlCatalogue
    projections: SqlCaseProjections
    reports: SqlCaseReports

    async def on_open(self, session: AsyncSession) -> None:
        self.cases = SqlCaseRepository(session)
        self.catalogue = SqlCatalogue(session)
        self.projections = SqlCaseProjections(session)
        self.reports = SqlCaseReports(session)

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

    def notify(self, notification: Notification) -> None:
        """Ask intake to send `notification` when this unit of work commits."""
        self.record(
            notification_contract(notification),
            key=str(notification.notification_id),
            subject=str(notification.case_id),
        )

    def request_interaction(self, request: InteractionRequest) -> None:
        """Ask intake to identify a customer and receive their request when this commits."""
        # Keyed by the interaction: nothing else about it is ordered before intake receives it.
        self.record(interaction_request_contract(request), key=str(request.interaction_id))
