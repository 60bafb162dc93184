"""The intake service's unit of work over PostgreSQL."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from caseflow_servicekit import SqlUnitOfWork
from intake.adapters.attachments import SqlAttachmentRepository
from intake.adapters.calls import SqlCallRepository, call_event
from intake.adapters.customers import SqlCaseSummaryRepository, SqlCustomerRepository
from intake.adapters.mail import SqlAgentRepository, SqlMailRepository, SqlOutboundRepository
from intake.adapters.published import customer_contract, message_contract, to_contract
from intake.adapters.repository import SqlIdempotencyStore, SqlInteractionRepository
from intake.adapters.request_types import SqlRequestTypeRepository
from intake.domain.calls import CallFinished, CallIdentified
from intake.domain.customer_events import CustomerEvent
from intake.domain.interactions import InteractionReceived
from intake.domain.outbound import OutboundMessage


class SqlIntakeUnitOfWork(SqlUnitOfWork):
    """Customers, interactions, Idempotency-Keys, the catalogue's copy and event publication
    in one transaction."""

    customers: SqlCustomerRepository
    interactions: SqlInteractionRepository
    idempotency: SqlIdempotencyStore
    request_types: SqlRequestTypeRepository
    case_summaries: SqlCaseSummaryRepository
    calls: SqlCallRepository
    mail: SqlMailRepository
    outbound: SqlOutboundRepository
    agents: SqlAgentRepository
    attachments: SqlAttachmentRepository

    async def on_open(self, session: AsyncSession) -> None:
        self.customers = SqlCustomerRepository(session)
        self.interactions = SqlInteractionRepository(session)
        self.idempotency = SqlIdempotencyStore(session)
        self.request_types = SqlRequestTypeRepository(session)
        self.case_summaries = SqlCaseSummaryRepository(session)
        self.calls = SqlCallRepository(session)
        self.mail = SqlMailRepository(session)
        self.outbound = SqlOutboundRepository(session)
        self.agents = SqlAgentRepository(session)
        self.attachments = SqlAttachmentRepository(session)

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

    def emit_message(
        self, message: OutboundMessage, *, reason: str | None = None, status: str | None = None
    ) -> None:
        """Publish how an outbound message's delivery ended when this unit of work commits."""
        self.record(
            message_contract(message, reason=reason, status=status),
            key=str(message.outbound_id),
            subject=None,
        )
