"""Kafka subscribers of the intake service: thin, they translate and hand over."""

from __future__ import annotations

from collections.abc import Callable

import caseflow_contracts as c
from caseflow_contracts import topics
from caseflow_servicekit import Clock, EventConsumers
from intake.adapters.uow import SqlIntakeUnitOfWork
from intake.app.handlers import SubmitRequest, submit_request
from intake.domain.errors import SubmissionRejected
from intake.domain.interactions import Channel


def register(
    consumers: EventConsumers,
    *,
    uow_factory: Callable[[], SqlIntakeUnitOfWork],
    clock: Clock,
) -> None:
    """Subscribe the intake service to what web channels submit."""

    async def on_web_submitted(
        event: c.Event, envelope: c.Envelope, uow: SqlIntakeUnitOfWork
    ) -> None:
        assert isinstance(event, c.WebSubmitted)
        await submit_request(
            SubmitRequest(
                channel=Channel.WEB,
                name=event.name,
                email=str(event.email),
                phone=event.phone,
                subject=event.subject,
                body=event.body,
                request_type=event.request_type,
                parameters=dict(event.parameters),
                locale=event.locale,
                submission_id=event.submission_id,
            ),
            uow=uow,
            now=clock.now(),
        )

    consumers.subscribe(
        topics.CHANNELS_WEB,
        on_web_submitted,
        uow_factory=uow_factory,
        events={"web.submitted"},
        # Retrying cannot mend a submission that breaks a rule: dead-letter it at once.
        permanent=(SubmissionRejected,),
    )
