"""The scheduling service's unit of work over PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncSession

import caseflow_contracts as c
from caseflow_servicekit import SqlUnitOfWork
from scheduling.adapters.published import to_contract
from scheduling.adapters.repository import SqlBookingRepository, SqlResourceRepository
from scheduling.domain.events import BookingEvent


class SqlSchedulingUnitOfWork(SqlUnitOfWork):
    """Resource and booking repositories and event publication in one transaction."""

    resources: SqlResourceRepository
    bookings: SqlBookingRepository

    async def on_open(self, session: AsyncSession) -> None:
        self.resources = SqlResourceRepository(session)
        self.bookings = SqlBookingRepository(session)

    def emit(self, events: Iterable[BookingEvent]) -> None:
        """Publish `events` when this unit of work commits."""
        for event in events:
            contract = to_contract(event)
            key = c.partition_key(contract)
            self.record(contract, key=key, subject=key)
