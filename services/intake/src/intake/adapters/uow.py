"""The intake service's unit of work over PostgreSQL."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from caseflow_servicekit import SqlUnitOfWork
from intake.adapters.calls import SqlCallRepository, call_event
from intake.adapters.customers import SqlCaseSummaryRepository, SqlCustomerRepository
from intake.adapters.published import customer_contract, to_contract
from intake.adapters.repository import SqlIdempotencyStore, SqlInteractionRepository
from intake.adapters.request_types import SqlRequestTypeRepository
from intake.domain.calls import CallFinished, CallIdentified
from intake.domain.customer_events import CustomerEvent
from intake.domain.interactions import InteractionReceived


class SqlIntakeUnitOfWork(SqlUnitOfWork):
    """Customers, interactions, Idempotency-Keys, the catalogue's copy and event publication
    in one transaction."""

    customers: SqlCustomerRepository
    interactions: SqlInteractionRepository
    idempotency: SqlIdempotencyStore
    request_types: SqlRequestTypeRepository
    case_summaries: SqlCaseSummaryRepository
    calls: SqlCallRepository

    async def on_open(self, session: AsyncSession) -> None:
        self.customers = SqlCustomerRepository(session)
        self.interactions = SqlInteractionRepository(session)
        self.idempotency = SqlIdempotencyStore(session)
        self.request_types = SqlRequestTypeRepository(session)
        self.case_summaries = SqlCaseSummaryRepository(session)
        self.calls = SqlCallRepository(session)

    def emit(self, event: InteractionReceived) -> None:
        """Publish `event` when this unit of work commits."""
        # Keyed by the contact, so one customer's interactions are read in the order they came.
        self.record(to_contract(event), key=str(event.contact_id), subject=None)

    def emit_customer(self, event: CustomerEvent) -> None:
        """Publish a change of the customer card when this unit of work commits."""
        # Keyed by the account or contact, so each card's changes are read in order.
        contract = customer_contract(event)
        self.record(contract, key=contract.partition_key(), subject=None)

    def emit_call(self, event: CallIdentified | CallFinished) -> None:
        """Publish what intake made of a telephone call when this unit of work commits."""
        # Keyed by the call, so one call's events are read in the order they came.
        contract, key = call_event(event)
        self.record(contract, key=key, subject=None)
