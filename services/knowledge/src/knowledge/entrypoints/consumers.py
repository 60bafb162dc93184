"""Kafka subscribers of the knowledge service: thin, they translate and hand over."""

from __future__ import annotations

from collections.abc import Callable

import caseflow_contracts as c
from caseflow_contracts import topics
from caseflow_servicekit import Clock, EventConsumers
from knowledge.adapters.uow import SqlKnowledgeUnitOfWork
from knowledge.app.handlers import SuggestForCase, suggest_for_case


def register(
    consumers: EventConsumers,
    *,
    uow_factory: Callable[[], SqlKnowledgeUnitOfWork],
    clock: Clock,
) -> None:
    """Subscribe the knowledge service to the cases it suggests articles for."""

    async def on_case_opened(
        event: c.Event, envelope: c.Envelope, uow: SqlKnowledgeUnitOfWork
    ) -> None:
        assert isinstance(event, c.CaseOpened)
        await suggest_for_case(
            SuggestForCase(case_id=event.case_id, subject=event.subject), uow=uow, now=clock.now()
        )

    consumers.subscribe(
        topics.CASES, on_case_opened, uow_factory=uow_factory, events={"case.opened"}
    )
