"""Kafka subscribers of the knowledge service: thin, they translate and hand over."""

from __future__ import annotations

from collections.abc import Callable

import caseflow_contracts as c
from caseflow_contracts import topics
from caseflow_servicekit import Clock, EventConsumers
from knowledge.adapters.uow import SqlKnowledgeUnitOfWork
from knowledge.app import handlers


def register(
    consumers: EventConsumers,
    *,
    uow_factory: Callable[[], SqlKnowledgeUnitOfWork],
    clock: Clock,
) -> None:
    """Subscribe the knowledge service to the cases it suggests articles for, and to the
    languages their customers write in."""

    async def on_case(event: c.Event, envelope: c.Envelope, uow: SqlKnowledgeUnitOfWork) -> None:
        if isinstance(event, c.CaseOpened):
            await handlers.case_opened(event, uow=uow, now=clock.now())
        elif isinstance(event, c.CaseUpdated) and event.subject is not None:
            await handlers.subject_changed(event.case_id, event.subject, uow=uow, now=clock.now())

    async def on_contact(event: c.Event, envelope: c.Envelope, uow: SqlKnowledgeUnitOfWork) -> None:
        assert isinstance(event, c.ContactRegistered | c.ContactChanged)
        await handlers.language_learnt(
            contact=(event.contact_id, event.language, event.version), uow=uow, now=clock.now()
        )

    async def on_interaction(
        event: c.Event, envelope: c.Envelope, uow: SqlKnowledgeUnitOfWork
    ) -> None:
        assert isinstance(event, c.InteractionReceived)
        if event.language:
            await handlers.language_learnt(
                interaction=(event.interaction_id, event.language), uow=uow, now=clock.now()
            )

    consumers.subscribe(
        topics.CASES, on_case, uow_factory=uow_factory, events={"case.opened", "case.updated"}
    )
    consumers.subscribe(
        topics.INTAKE_CUSTOMERS,
        on_contact,
        uow_factory=uow_factory,
        events={"contact.registered", "contact.changed"},
    )
    consumers.subscribe(
        topics.INTAKE_INTERACTIONS,
        on_interaction,
        uow_factory=uow_factory,
        events={"interaction.received"},
    )
