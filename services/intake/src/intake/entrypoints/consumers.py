"""Kafka subscribers of the intake service: thin, they translate and hand over."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import caseflow_contracts as c
from caseflow_contracts import topics
from caseflow_servicekit import Clock, EventConsumers
from intake.adapters.calls import contract_news, signal_of
from intake.adapters.uow import SqlIntakeUnitOfWork
from intake.app.calls import CallRules, apply_call_signal, keep_contract
from intake.app.customers import RecordCaseFacts, record_case_facts
from intake.app.delivery import Desk, Notify, Renderer, queue_notification
from intake.app.handlers import (
    ReceiveRequestedInteraction,
    RecordRequestType,
    SubmitRequest,
    receive_requested_interaction,
    record_request_type,
    submit_request,
)
from intake.app.mail import link_mail_to_case
from intake.domain.attachments import StoredAttachment
from intake.domain.calls import CallRejected
from intake.domain.errors import SubmissionRejected
from intake.domain.history import (
    CaseFacts,
)
from intake.domain.interactions import Channel
from intake.domain.outbound import AgentAddress
from intake.domain.request_types import AskedWhen, ParameterDefinition, RequestType


def register(
    consumers: EventConsumers,
    *,
    uow_factory: Callable[[], SqlIntakeUnitOfWork],
    clock: Clock,
    call_rules: CallRules,
    phone_region: str | None,
) -> None:
    """Subscribe the intake service to what web channels submit, to the requests agents took
    from customers not on file, to the request-type catalogue it checks submissions
    against, to the phone channel's events (`register_calls`) and to the cases, for its
    customers' history (`register_case_summaries`). Senders' numbers are read in
    `phone_region` when national."""
    register_calls(consumers, uow_factory=uow_factory, clock=clock, rules=call_rules)
    register_case_summaries(consumers, uow_factory=uow_factory)

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
            region=phone_region,
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
            region=phone_region,
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


def register_calls(
    consumers: EventConsumers,
    *,
    uow_factory: Callable[[], SqlIntakeUnitOfWork],
    clock: Clock,
    rules: CallRules,
) -> None:
    """Subscribe the phone channel to what the telephone switch says about calls, and to the
    contract events the screen-pop's copy of the accounts' contracts is kept from."""

    async def on_call_event(event: c.Event, envelope: c.Envelope, uow: SqlIntakeUnitOfWork) -> None:
        await apply_call_signal(signal_of(event), uow=uow, rules=rules, now=clock.now())

    async def on_contract_event(
        event: c.Event, envelope: c.Envelope, uow: SqlIntakeUnitOfWork
    ) -> None:
        await keep_contract(contract_news(event), uow=uow, now=clock.now())

    consumers.subscribe(
        topics.CHANNELS_CTI,
        on_call_event,
        uow_factory=uow_factory,
        events={
            "call.ringing",
            "call.answered",
            "call.ended",
            "call.missed",
            "call.transferred",
        },
        # An event whose call id or extension cannot be kept stays unreadable however often
        # it is tried: dead-letter it at once, with the reason.
        permanent=(CallRejected, SubmissionRejected),
    )
    consumers.subscribe(topics.CONTRACTS, on_contract_event, uow_factory=uow_factory)


# The case events intake's copy of the cases is kept from, for its customers' history.
CASE_SUMMARY_EVENTS = frozenset(
    {
        "case.opened",
        "case.updated",
        "case.status_changed",
        "case.resolved",
        "case.reopened",
        "case.cancelled",
        "case.entitlement_changed",
    }
)


def register_case_summaries(
    consumers: EventConsumers, *, uow_factory: Callable[[], SqlIntakeUnitOfWork]
) -> None:
    """Subscribe intake to the cases' lifecycle, kept as its customers' history."""

    async def on_case_event(event: c.Event, envelope: c.Envelope, uow: SqlIntakeUnitOfWork) -> None:
        facts = case_facts_of(event)
        if facts is not None:
            await record_case_facts(RecordCaseFacts(facts=facts), uow=uow)
        if isinstance(event, c.CaseOpened):
            # The case a message opened: replies to the desk's mail about it thread back.
            async with uow:
                await link_mail_to_case(
                    interaction_id=event.interaction_id,
                    case_id=event.case_id,
                    number=event.number,
                    uow=uow,
                )
                await uow.commit()

    consumers.subscribe(
        topics.CASES, on_case_event, uow_factory=uow_factory, events=CASE_SUMMARY_EVENTS
    )


def case_facts_of(event: c.Event) -> CaseFacts | None:
    """What a case event tells intake's copy of the case; None for one it does not keep."""
    match event:
        case c.CaseOpened():
            return CaseFacts(
                case_id=event.case_id,
                number=event.number,
                occurred_at=event.occurred_at,
                contact_id=event.contact_id,
                account_id=event.account_id,
                channel=event.channel.value,
                opened_at=event.occurred_at,
                subject=event.subject,
                status=event.status.value,
                entitlement=(
                    event.entitlement_id,
                    None if event.not_entitled is None else event.not_entitled.value,
                ),
            )
        case c.CaseUpdated():
            subject = event.subject
            if subject is None and isinstance(event.changes.get("subject"), str):
                subject = str(event.changes["subject"])
            return _facts(event, subject=subject)
        case c.CaseStatusChanged():
            return _facts(event, status=event.to_status.value)
        case c.CaseResolved():
            return _facts(
                event,
                status=c.CaseStatus.RESOLVED.value,
                ends=True,
                resolved_at=event.occurred_at,
                closed_at=event.occurred_at,
            )
        case c.CaseCancelled():
            return _facts(
                event, status=c.CaseStatus.CANCELLED.value, ends=True, closed_at=event.occurred_at
            )
        case c.CaseReopened():
            # A case reopens into work (the cases service's rule); resolved and closed no more.
            return _facts(event, status=c.CaseStatus.IN_PROGRESS.value, ends=True)
        case c.CaseEntitlementChanged():
            reason = None if event.not_entitled is None else event.not_entitled.value
            return _facts(event, entitlement=(event.entitlement_id, reason))
    return None


def _facts(event: c.CaseEvent, **said: Any) -> CaseFacts:
    return CaseFacts(
        case_id=event.case_id, number=event.number, occurred_at=event.occurred_at, **said
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


def register_mail(
    consumers: EventConsumers,
    *,
    uow_factory: Callable[[], SqlIntakeUnitOfWork],
    clock: Clock,
    renderer: Renderer,
    desk: Desk,
    on_queued: Callable[[], None],
) -> None:
    """Subscribe intake to the notifications any service asks for (rendered and queued for
    delivery; `on_queued` wakes the sender once they are committed) and to the agent
    directory, for agents' and managers' addresses."""

    async def on_notification(
        event: c.Event, envelope: c.Envelope, uow: SqlIntakeUnitOfWork
    ) -> None:
        assert isinstance(event, c.NotificationRequested)
        await queue_notification(
            Notify(
                notification_id=event.notification_id,
                recipient_kind=event.recipient.kind.value,
                recipient_id=event.recipient.id,
                address=event.recipient.address,
                template=event.template,
                language=event.language,
                case_id=event.case_id,
                parameters=dict(event.parameters),
                attachments=tuple(stored_attachment(a) for a in event.attachments),
                interaction_id=event.interaction_id,
            ),
            uow=uow,
            renderer=renderer,
            desk=desk,
            now=clock.now(),
        )
        uow.after_commit(on_queued)

    async def on_agent(event: c.Event, envelope: c.Envelope, uow: SqlIntakeUnitOfWork) -> None:
        assert isinstance(event, c.AgentRegistered | c.AgentChanged | c.AgentPresenceChanged)
        async with uow:
            await uow.agents.keep(
                AgentAddress(
                    agent_id=event.agent_id,
                    name=event.name,
                    email=event.email,
                    language=event.languages[0] if event.languages else None,
                    manager_id=event.manager_id,
                    active=event.active,
                    version=event.version,
                ),
                now=clock.now(),
            )
            await uow.commit()

    consumers.subscribe(
        topics.INTAKE_NOTIFICATIONS,
        on_notification,
        uow_factory=uow_factory,
        events={"notification.requested"},
    )
    consumers.subscribe(
        topics.ROUTING_AGENTS,
        on_agent,
        uow_factory=uow_factory,
        events={"agent.registered", "agent.changed", "agent.presence_changed"},
    )


def stored_attachment(ref: c.AttachmentRef) -> StoredAttachment:
    """A file reference from an event, as intake's domain knows it."""
    return StoredAttachment(
        attachment_id=ref.attachment_id,
        filename=ref.filename,
        content_type=ref.content_type,
        size=ref.size,
        sha256=ref.sha256,
    )
