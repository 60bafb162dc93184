"""Kafka subscribers of the intake service: thin, they translate and hand over."""

from __future__ import annotations

from collections.abc import Callable

import caseflow_contracts as c
from caseflow_contracts import topics
from caseflow_servicekit import Clock, EventConsumers
from intake.adapters.uow import SqlIntakeUnitOfWork
from intake.app.handlers import (
    ReceiveRequestedInteraction,
    RecordRequestType,
    SubmitRequest,
    receive_requested_interaction,
    record_request_type,
    submit_request,
)
from intake.domain.errors import SubmissionRejected
from intake.domain.interactions import Channel
from intake.domain.request_types import AskedWhen, ParameterDefinition, RequestType


def register(
    consumers: EventConsumers,
    *,
    uow_factory: Callable[[], SqlIntakeUnitOfWork],
    clock: Clock,
) -> None:
    """Subscribe the intake service to what web channels submit, to the requests agents took
    from customers not on file, and to the request-type catalogue it checks submissions
    against."""

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
            # The channel took the submission from its customer already: refusing it here would
            # only bury it in the dead-letter topic, so its request type is not checked again.
            check_request_type=False,
        )

    async def on_interaction_requested(
        event: c.Event, envelope: c.Envelope, uow: SqlIntakeUnitOfWork
    ) -> None:
        assert isinstance(event, c.InteractionRequested)
        await receive_requested_interaction(
            ReceiveRequestedInteraction(
                interaction_id=event.interaction_id,
                channel=Channel(event.channel.value),
                name=event.name,
                email=event.email,
                phone=event.phone,
                subject=event.subject,
                body=event.body,
                request_type=event.request_type,
                parameters=dict(event.parameters),
                language=event.language,
                requested_by=event.requested_by,
            ),
            uow=uow,
            now=clock.now(),
        )

    async def on_request_type_defined(
        event: c.Event, envelope: c.Envelope, uow: SqlIntakeUnitOfWork
    ) -> None:
        assert isinstance(event, c.CatalogueRequestTypeDefined)
        await record_request_type(RecordRequestType(request_type=request_type_of(event)), uow=uow)

    consumers.subscribe(
        topics.CHANNELS_WEB,
        on_web_submitted,
        uow_factory=uow_factory,
        events={"web.submitted"},
        # Retrying cannot mend a submission that breaks a rule: dead-letter it at once.
        permanent=(SubmissionRejected,),
    )
    consumers.subscribe(
        topics.INTAKE_REQUESTS,
        on_interaction_requested,
        uow_factory=uow_factory,
        events={"interaction.requested"},
        # The requesting service checked what intake checks; one that still breaks a rule
        # cannot be mended by retrying, and waits in the dead-letter topic to be replayed.
        permanent=(SubmissionRejected,),
    )
    consumers.subscribe(
        topics.CATALOGUE,
        on_request_type_defined,
        uow_factory=uow_factory,
        events={"catalogue.request_type_defined"},
    )


def request_type_of(event: c.CatalogueRequestTypeDefined) -> RequestType:
    """The catalogue's announcement as intake keeps the request type."""
    return RequestType(
        code=event.code,
        version=event.version,
        names=dict(event.names),
        default_priority=event.default_priority.value,
        parameters=tuple(
            ParameterDefinition(
                name=spec.name,
                type=spec.type.value,
                labels=dict(spec.labels),
                choices=tuple(spec.choices),
                required=spec.required,
                when=None
                if spec.when is None
                else AskedWhen(parameter=spec.when.parameter, equals=tuple(spec.when.equals)),
            )
            for spec in event.parameters
        ),
        active=event.active,
    )
