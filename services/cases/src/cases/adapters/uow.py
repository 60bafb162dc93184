"""The cases service's unit of work over PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterable
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from caseflow_servicekit import SqlUnitOfWork
from cases.adapters.catalogue import SqlCatalogue
from cases.adapters.contract_reports import SqlContractReports
from cases.adapters.contracts import SqlContracts
from cases.adapters.customer_accounts import SqlCustomerAccounts
from cases.adapters.projections import SqlCaseProjections
from cases.adapters.published import (
    contract_event,
    interaction_request_contract,
    notification_contract,
    to_contract,
)
from cases.adapters.reports import SqlCaseReports
from cases.adapters.repository import SqlCaseRepository
from cases.domain.case import Case
from cases.domain.contracts import Contract, ContractEvent
from cases.domain.events import CaseEvent
from cases.domain.new_customers import InteractionRequest
from cases.domain.notifications import Notification


class SqlCasesUnitOfWork(SqlUnitOfWork):
    """Cases repository and event publication in one transaction."""

    cases: SqlCaseRepository
    catalogue: SqlCatalogue
    contracts: SqlContracts
    accounts: SqlCustomerAccounts
    projections: SqlCaseProjections
    reports: SqlCaseReports
    contract_reports: SqlContractReports

    async def on_open(self, session: AsyncSession) -> None:
        self.cases = SqlCaseRepository(session)
        self.catalogue = SqlCatalogue(session)
        self.contracts = SqlContracts(session)
        self.accounts = SqlCustomerAccounts(session)
        self.projections = SqlCaseProjections(session)
        self.reports = SqlCaseReports(session)
        self.contract_reports = SqlContractReports(session)

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

    def emit_contract(self, contract: Contract, events: Iterable[ContractEvent]) -> None:
        """Publish `events` about `contract` when this unit of work commits."""
        for event in events:
            self.record(
                contract_event(event, contract=contract),
                key=str(contract.contract_id),
                subject=str(contract.contract_id),
            )

    def notify(self, notification: Notification) -> None:
        """Ask intake to send `notification` when this unit of work commits."""
        self.record(
            notification_contract(notification),
            key=str(notification.notification_id),
            subject=None if notification.case_id is None else str(notification.case_id),
        )

    def request_interaction(self, request: InteractionRequest) -> None:
        """Ask intake to identify a customer and receive their request when this commits."""
        # Keyed by the interaction: nothing else about it is ordered before intake receives it.
        self.record(interaction_request_contract(request), key=str(request.interaction_id))
