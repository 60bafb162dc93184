"""Notifications as mail: render what another service asked to be told, then deliver it.

`queue_notification` turns a `notification.requested` into an outbound message, in the
consumer's transaction: the recipient's address and language from the customer card or the
agent directory, the template rendered, the case number in the subject and the threading
headers that bring the customer's reply back to the case. `deliver_due` offers queued messages
to the mail server outside any transaction, and records each outcome: sent, tried again later,
or failed for good. Both publish how a message ended.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol
from uuid import UUID, uuid4

import structlog

from intake.app.attachments import BlobMissing, BlobStore
from intake.app.mail import MailUnitOfWork
from intake.domain.attachments import StoredAttachment
from intake.domain.mail_rules import ACKNOWLEDGEMENT, OutboundStatus, case_subject, references
from intake.domain.outbound import DeliveryPolicy, OutboundMessage

log = structlog.get_logger(__name__)

CONTACT = "contact"


@dataclass(frozen=True, kw_only=True)
class Desk:
    """Who the desk's mail is from, and how it is paced."""

    name: str
    address: str
    message_id_domain: str
    default_language: str = "en"
    acknowledgements_per_window: int = 5
    """Acknowledgements to one address within `acknowledgement_window`; more are held back."""
    acknowledgement_window: timedelta = timedelta(hours=1)
    policy: DeliveryPolicy = field(default_factory=DeliveryPolicy)


@dataclass(frozen=True, kw_only=True)
class Notify:
    """Someone must be told something (a `notification.requested`)."""

    notification_id: UUID
    recipient_kind: str
    recipient_id: UUID
    address: str | None
    template: str
    language: str
    case_id: UUID | None
    parameters: Mapping[str, str]
    attachments: tuple[StoredAttachment, ...] = ()
    interaction_id: UUID | None = None
    """The customer's interaction the notification answers, if it answers one."""


class Rendered(Protocol):
    """A template rendered: the subject, the text and perhaps an HTML body."""

    @property
    def subject(self) -> str: ...
    @property
    def text(self) -> str: ...
    @property
    def html(self) -> str | None: ...
    @property
    def language(self) -> str: ...


class Renderer(Protocol):
    """Renders a notification kind in a language; LookupError for a kind it does not know,
    ValueError for a template that does not render."""

    def render(
        self, kind: str, language: str | None, context: Mapping[str, object]
    ) -> Rendered: ...


class DeliveryError(Exception):
    """The mail server did not take a message; `permanent` when trying again cannot help."""

    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent


class MailSender(Protocol):
    """Hands messages to the mail server."""

    async def send(
        self, message: OutboundMessage, *, attachments: Sequence[tuple[StoredAttachment, bytes]]
    ) -> None:
        """Send `message`; raises DeliveryError when the server does not take it."""
        ...


@dataclass(frozen=True)
class Recipient:
    address: str | None
    name: str
    language: str | None


async def queue_notification(
    cmd: Notify,
    *,
    uow: MailUnitOfWork,
    renderer: Renderer,
    desk: Desk,
    now: datetime,
    new_id: Callable[[], UUID] = uuid4,
) -> OutboundMessage:
    """Render a notification for its recipient and queue it, once per notification."""
    async with uow:
        known = await uow.outbound.by_notification(cmd.notification_id)
        if known is not None:
            return known
        recipient = await _recipient(cmd, uow=uow)
        number = await _case_number(cmd, uow=uow)
        outbound_id = new_id()
        context: dict[str, object] = {
            **cmd.parameters,
            "desk_name": desk.name,
            "recipient_name": recipient.name,
        }
        if number is not None:
            context |= {"number": number, "case_number": number}
        status, error = OutboundStatus.QUEUED, None
        try:
            rendered = renderer.render(cmd.template, recipient.language or cmd.language, context)
            subject, text, html = rendered.subject, rendered.text, rendered.html
            language = rendered.language
        except (LookupError, ValueError) as exc:
            subject, text, html, language = cmd.template, "", None, cmd.language
            status, error = OutboundStatus.FAILED, f"not rendered: {exc}"
        if cmd.interaction_id is not None and cmd.case_id is not None and number is not None:
            # The request it answers may not be known as the case's yet (the case's own event
            # can come later): it is now, so the answer goes out as a reply to it.
            await uow.mail.link_case(
                interaction_id=cmd.interaction_id, case_id=cmd.case_id, number=number
            )
        thread = await uow.mail.thread(number) if number is not None else []
        answered = [message_id for message_id, inbound in thread if inbound]
        if status is OutboundStatus.QUEUED and not recipient.address:
            status, error = OutboundStatus.FAILED, "no address on file for the recipient"
        elif status is OutboundStatus.QUEUED and await _over_acknowledged(
            cmd.template, recipient.address or "", uow=uow, desk=desk, now=now
        ):
            status, error = OutboundStatus.SUPPRESSED, "too many acknowledgements to this address"
        message = OutboundMessage(
            outbound_id=outbound_id,
            notification_id=cmd.notification_id,
            template=cmd.template,
            language=language,
            recipient_kind=cmd.recipient_kind,
            recipient_id=cmd.recipient_id,
            address=recipient.address or "",
            subject=case_subject(subject, number),
            body=text,
            html=html,
            message_id=f"<{outbound_id}@{desk.message_id_domain}>",
            in_reply_to=_last(answered) or _last([m for m, _ in thread]),
            thread_ids=tuple(references(m for m, _ in thread)),
            case_id=cmd.case_id,
            case_number=number,
            status=status,
            created_at=now,
            updated_at=now,
            attachments=cmd.attachments,
            next_attempt_at=now if status is OutboundStatus.QUEUED else None,
            last_error=error,
        )
        await uow.outbound.add(message)
        if status is OutboundStatus.FAILED:
            uow.emit_message(message, reason=error)
        await uow.commit()
    log.info(
        "notification.queued",
        notification_id=str(cmd.notification_id),
        template=cmd.template,
        status=status.value,
        error=error,
    )
    return message


async def deliver_due(
    *,
    uow_factory: Callable[[], MailUnitOfWork],
    sender: MailSender,
    blobs: BlobStore,
    desk: Desk,
    now: Callable[[], datetime],
    limit: int = 50,
    lease: timedelta = timedelta(minutes=5),
) -> int:
    """Offer the queued messages whose time has come to the mail server; how many were taken
    up. Each outcome is recorded in a transaction of its own, after the attempt."""
    async with uow_factory() as uow:
        due = await uow.outbound.claim_due(now=now(), lease=lease, limit=limit)
        await uow.commit()
    for message in due:
        try:
            files = [(a, await blobs.get(a.sha256)) for a in message.attachments]
            await sender.send(message, attachments=files)
        except DeliveryError as error:
            outcome = message.attempt_failed(
                str(error), now=now(), permanent=error.permanent, policy=desk.policy
            )
        except BlobMissing as error:
            outcome = message.attempt_failed(
                f"an attachment is missing from the store: {error}",
                now=now(),
                permanent=True,
                policy=desk.policy,
            )
        else:
            outcome = message.sent(now=now())
        async with uow_factory() as uow:
            await uow.outbound.save(outcome)
            if outcome.status is not OutboundStatus.QUEUED:
                uow.emit_message(outcome, reason=outcome.last_error)
            await uow.commit()
        log.info(
            "mail.delivery",
            outbound_id=str(outcome.outbound_id),
            status=outcome.status.value,
            attempts=outcome.attempts,
            error=outcome.last_error,
        )
    return len(due)


async def _recipient(cmd: Notify, *, uow: MailUnitOfWork) -> Recipient:
    if cmd.recipient_kind == CONTACT:
        contact = await uow.customers.get_contact(cmd.recipient_id)
        if contact is None:
            return Recipient(cmd.address, "", None)
        address = cmd.address or (contact.emails[0] if contact.emails else None)
        return Recipient(address, contact.name, contact.language)
    agent = await uow.agents.get(cmd.recipient_id)
    if agent is None:
        return Recipient(cmd.address, "", None)
    return Recipient(cmd.address or agent.email, agent.name, agent.language)


async def _case_number(cmd: Notify, *, uow: MailUnitOfWork) -> str | None:
    number = cmd.parameters.get("number") or cmd.parameters.get("case_number")
    if number or cmd.case_id is None:
        return number or None
    summary = await uow.case_summaries.get(cmd.case_id)
    return None if summary is None else summary.number


async def _over_acknowledged(
    template: str, address: str, *, uow: MailUnitOfWork, desk: Desk, now: datetime
) -> bool:
    if template != ACKNOWLEDGEMENT or desk.acknowledgements_per_window <= 0:
        return False
    recent = await uow.outbound.count_recent(
        address=address, template=template, since=now - desk.acknowledgement_window
    )
    return recent >= desk.acknowledgements_per_window


def _last(ids: list[str]) -> str | None:
    return ids[-1] if ids else None
