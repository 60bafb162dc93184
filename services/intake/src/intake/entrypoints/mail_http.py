"""The email channel's HTTP API: the messages taken in (and those that could not be read, to
reprocess), and the outbound mail log."""

# No `from __future__ import annotations` here: FastAPI reads the `Annotated` dependencies
# of the routes below at definition time, and they refer to locals of `router`.

from collections.abc import Callable
from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, ConfigDict

import caseflow_contracts as c
from caseflow_servicekit import Authenticator, NotFound, Principal, Role
from caseflow_servicekit.edge import Limit, Offset
from intake.adapters.published import attachment_ref
from intake.adapters.uow import SqlIntakeUnitOfWork
from intake.app.attachments import BlobStore
from intake.app.mail import (
    MailNotFound,
    inbound_mail,
    mail_page,
    outbound_message,
    outbound_page,
    raw_mail,
)
from intake.domain.mail_rules import InboundMail, MailStatus, OutboundStatus
from intake.domain.outbound import OutboundMessage
from intake.entrypoints.mail_channel import MailInbox


class MailView(BaseModel):
    """An inbound message and what became of it."""

    model_config = ConfigDict(frozen=True)

    mail_id: UUID
    source: str
    received_at: datetime
    status: MailStatus
    kind: str | None
    error: str | None
    attempts: int
    message_id: str | None
    size: int
    envelope_from: str | None
    envelope_to: list[str]
    from_address: str | None
    from_name: str | None
    subject: str | None
    interaction_id: UUID | None
    contact_id: UUID | None
    case_id: UUID | None
    case_number: str | None
    processed_at: datetime | None

    @classmethod
    def of(cls, mail: InboundMail) -> "MailView":
        return cls(
            mail_id=mail.mail_id,
            source=mail.source,
            received_at=mail.received_at,
            status=mail.status,
            kind=None if mail.kind is None else mail.kind.value,
            error=mail.error,
            attempts=mail.attempts,
            message_id=mail.message_id,
            size=mail.size,
            envelope_from=mail.envelope_from,
            envelope_to=list(mail.envelope_to),
            from_address=mail.from_address,
            from_name=mail.from_name,
            subject=mail.subject,
            interaction_id=mail.interaction_id,
            contact_id=mail.contact_id,
            case_id=mail.case_id,
            case_number=mail.case_number,
            processed_at=mail.processed_at,
        )


class MailDetail(MailView):
    """An inbound message with its text: what the sender just wrote, the whole of it, and
    the sanitised HTML when there was any."""

    new_text: str | None
    text: str | None
    html: str | None

    @classmethod
    def of(cls, mail: InboundMail) -> "MailDetail":
        return cls(
            **MailView.of(mail).model_dump(), new_text=mail.new_text, text=mail.text, html=mail.html
        )


class MailPage(BaseModel):
    items: list[MailView]
    total: int
    limit: int
    offset: int


class OutboundView(BaseModel):
    """An outgoing message and its delivery."""

    model_config = ConfigDict(frozen=True)

    outbound_id: UUID
    notification_id: UUID | None
    template: str
    language: str
    recipient_kind: str
    recipient_id: UUID
    address: str
    subject: str
    message_id: str
    in_reply_to: str | None
    references: list[str]
    case_id: UUID | None
    case_number: str | None
    status: OutboundStatus
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    attachments: list[c.AttachmentRef]
    created_at: datetime
    sent_at: datetime | None

    @classmethod
    def of(cls, message: OutboundMessage) -> "OutboundView":
        return cls(
            outbound_id=message.outbound_id,
            notification_id=message.notification_id,
            template=message.template,
            language=message.language,
            recipient_kind=message.recipient_kind,
            recipient_id=message.recipient_id,
            address=message.address,
            subject=message.subject,
            message_id=message.message_id,
            in_reply_to=message.in_reply_to,
            references=list(message.thread_ids),
            case_id=message.case_id,
            case_number=message.case_number,
            status=message.status,
            attempts=message.attempts,
            next_attempt_at=message.next_attempt_at,
            last_error=message.last_error,
            attachments=[attachment_ref(a) for a in message.attachments],
            created_at=message.created_at,
            sent_at=message.sent_at,
        )


class OutboundDetail(OutboundView):
    """An outgoing message with its rendered text."""

    body: str
    html: str | None

    @classmethod
    def of(cls, message: OutboundMessage) -> "OutboundDetail":
        return cls(**OutboundView.of(message).model_dump(), body=message.body, html=message.html)


class OutboundPage(BaseModel):
    items: list[OutboundView]
    total: int
    limit: int
    offset: int


def router(
    *,
    uow_factory: Callable[[], SqlIntakeUnitOfWork],
    auth: Authenticator,
    blobs: BlobStore,
    inbox: MailInbox,
) -> APIRouter:
    """The routes of the email channel's logs."""
    api = APIRouter(tags=["mail"])
    agent = Depends(auth.requires(Role.AGENT))
    supervisor = Depends(auth.requires(Role.SUPERVISOR))

    async def found_mail(mail_id: UUID) -> InboundMail:
        try:
            return await inbound_mail(mail_id, uow=uow_factory())
        except MailNotFound as error:
            raise NotFound(str(error)) from None

    @api.get("/mail/failed", response_model=MailPage)
    async def list_failed(
        _: Annotated[Principal, supervisor],
        limit: Annotated[Limit, Query()] = 50,
        offset: Annotated[Offset, Query()] = 0,
    ) -> MailPage:
        """The messages that could not be read or taken, newest first, with why: each is kept
        whole and can be read again (`POST /mail/messages/{id}/reprocess`)."""
        items, total = await mail_page(
            uow=uow_factory(), status=MailStatus.FAILED, limit=limit, offset=offset
        )
        return MailPage(
            items=[MailView.of(m) for m in items], total=total, limit=limit, offset=offset
        )

    @api.get("/mail/messages", response_model=MailPage)
    async def list_mail(
        _: Annotated[Principal, supervisor],
        status: Annotated[MailStatus | None, Query()] = None,
        limit: Annotated[Limit, Query()] = 50,
        offset: Annotated[Offset, Query()] = 0,
    ) -> MailPage:
        """Every message taken in, newest first; `status` narrows it down."""
        items, total = await mail_page(uow=uow_factory(), status=status, limit=limit, offset=offset)
        return MailPage(
            items=[MailView.of(m) for m in items], total=total, limit=limit, offset=offset
        )

    @api.get(
        "/mail/messages/{mail_id}",
        response_model=MailDetail,
        responses={404: {"description": "No such message."}},
    )
    async def get_mail(mail_id: UUID, _: Annotated[Principal, agent]) -> MailDetail:
        """A message taken in: where it came from, what it was read as, and its text."""
        return MailDetail.of(await found_mail(mail_id))

    @api.get(
        "/mail/messages/{mail_id}/raw",
        response_class=Response,
        responses={
            200: {"content": {"message/rfc822": {}}, "description": "The message as it came."},
            404: {"description": "No such message."},
        },
    )
    async def get_raw_mail(mail_id: UUID, _: Annotated[Principal, supervisor]) -> Response:
        """The message's bytes exactly as they came."""
        try:
            raw = await raw_mail(mail_id, uow=uow_factory(), blobs=blobs)
        except (MailNotFound, KeyError) as error:
            raise NotFound(str(error)) from None
        return Response(
            raw,
            media_type="message/rfc822",
            headers={
                "Content-Disposition": f'attachment; filename="{mail_id}.eml"',
                "X-Content-Type-Options": "nosniff",
            },
        )

    @api.post(
        "/mail/messages/{mail_id}/reprocess",
        response_model=MailDetail,
        responses={404: {"description": "No such message."}},
    )
    async def reprocess(mail_id: UUID, _: Annotated[Principal, supervisor]) -> MailDetail:
        """Read a message again: one that failed, once what failed is mended. A message that
        was read already is left as it is."""
        await found_mail(mail_id)
        await inbox.reprocess(mail_id)
        return MailDetail.of(await found_mail(mail_id))

    @api.get("/mail/outbound", response_model=OutboundPage)
    async def list_outbound(
        _: Annotated[Principal, agent],
        status: Annotated[OutboundStatus | None, Query()] = None,
        case_id: Annotated[UUID | None, Query()] = None,
        limit: Annotated[Limit, Query()] = 50,
        offset: Annotated[Offset, Query()] = 0,
    ) -> OutboundPage:
        """The outbound mail log, newest first: each message with its status, Message-ID,
        case and attempts; `status` and `case_id` narrow it down."""
        items, total = await outbound_page(
            uow=uow_factory(), status=status, case_id=case_id, limit=limit, offset=offset
        )
        return OutboundPage(
            items=[OutboundView.of(m) for m in items], total=total, limit=limit, offset=offset
        )

    @api.get(
        "/mail/outbound/{outbound_id}",
        response_model=OutboundDetail,
        responses={404: {"description": "No such message."}},
    )
    async def get_outbound(outbound_id: UUID, _: Annotated[Principal, agent]) -> OutboundDetail:
        """An outgoing message with its rendered text and delivery."""
        try:
            return OutboundDetail.of(await outbound_message(outbound_id, uow=uow_factory()))
        except MailNotFound as error:
            raise NotFound(str(error)) from None

    return api
