"""Kafka subscribers of the cases service: thin, they translate and hand over."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta

import caseflow_contracts as c
from caseflow_contracts import topics
from caseflow_servicekit import Clock, EventConsumers
from cases.adapters.published import attachment_of
from cases.adapters.uow import SqlCasesUnitOfWork
from cases.app.calls import CallFinished, log_call
from cases.app.handlers import ReceiveInteraction, receive_interaction
from cases.domain.case import DEFAULT_REOPEN_WINDOW
from cases.domain.priority import PriorityRule
from cases.domain.values import Channel


def register(
    consumers: EventConsumers,
    *,
    uow_factory: Callable[[], SqlCasesUnitOfWork],
    clock: Clock,
    priority_rules: Sequence[PriorityRule] = (),
    calls_billable: bool = True,
    reopen_window: timedelta = DEFAULT_REOPEN_WINDOW,
) -> None:
    """Subscribe the cases service to the interactions and calls intake publishes."""

    async def on_interaction(event: c.Event, envelope: c.Envelope, uow: SqlCasesUnitOfWork) -> None:
        assert isinstance(event, c.InteractionReceived)
        await receive_interaction(
            ReceiveInteraction(
                interaction_id=event.interaction_id,
                channel=Channel(event.channel.value),
                contact_id=event.contact_id,
                account_id=event.account_id,
                subject=event.subject,
                body=event.body,
                request_type=event.request_type,
                parameters=dict(event.parameters),
                follow_up_of=event.follow_up_of,
                language=event.language,
                first_contact=event.first_contact,
                attachments=tuple(attachment_of(ref) for ref in event.attachments),
                auto_reply=event.auto_reply,
            ),
            uow=uow,
            now=clock.now(),
            priority_rules=priority_rules,
            reopen_window=reopen_window,
        )

    consumers.subscribe(
        topics.INTAKE_INTERACTIONS,
        on_interaction,
        uow_factory=uow_factory,
        events={"interaction.received"},
    )

    async def on_call_finished(
        event: c.Event, envelope: c.Envelope, uow: SqlCasesUnitOfWork
    ) -> None:
        assert isinstance(event, c.CallFinished)
        if not event.answered or event.answered_at is None:
            return  # nobody talked: no work to log
        await log_call(
            CallFinished(
                call_id=event.call_id,
                agent_id=event.agent_id,
                caller=event.caller_e164 or event.caller_number or "the customer",
                answered_at=event.answered_at,
                ended_at=event.ended_at,
                duration_seconds=event.duration_seconds,
            ),
            uow=uow,
            now=clock.now(),
            billable=calls_billable,
        )

    consumers.subscribe(
        topics.INTAKE_CALLS,
        on_call_finished,
        uow_factory=uow_factory,
        events={"call.finished"},
    )
