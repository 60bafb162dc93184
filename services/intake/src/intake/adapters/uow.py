"""The intake service's unit of work over PostgreSQL."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from caseflow_servicekit import SqlUnitOfWork
from intake.adapters.published import to_contract
from intake.adapters.repository import (
    SqlCustomerRepository,
    SqlIdempotencyStore,
    SqlInteractionRepository,
)
from intake.adapters.request_types import SqlRequestTypeRepository
from intake.domain.interactions import InteractionReceived


class SqlIntakeUnitOfWork(SqlUnitOfWork):
    """Customers, interactions, Idempotency-Keys, the catalogue's copy and event publication
    in one transaction."""

    customers: SqlCustomerRepository
    interactions: SqlInteractionRepository
    idempotency: SqlIdempotencyStore
    request_types: SqlRequestTypeRepository

    async def on_open(self, session: AsyncSession) -> None:
        self.customers = SqlCustomerRepository(session)
        self.interactions = SqlInteractionRepository(session)
        self.idempotency = SqlIdempotencyStore(session)
        self.request_types = SqlRequestTypeRepository(session)

    def emit(self, event: InteractionReceived) -> None:
        """Publish `event` when this unit of work commits."""
        # Keyed by the contact, so one customer's interactions are read in the order they came.
        self.record(to_contract(event), key=str(event.contact_id), subject=None)
