"""The email channel's inbound use cases: store a message first, then read it and act on it.

`store_raw` and `record_received` are all a transport (the SMTP listener, a mailbox) waits for
before it acknowledges a message: the raw bytes kept (in the row when small, else in the blob
store) and a row that says so, committed. `process_mails` reads stored messages in batches,
`process_mail` one at a time; either reads a message and decides what it is: a new request
or a reply (an interaction, published), an automatic answer (kept on the case it
threads to, asking for nothing), a delivery report (the outbound message it returns marked
bounced) or the desk's own mail coming back (refused). A message that cannot be read is kept
as failed, listed, and read again by `reprocess_mail` once the reader is mended.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Protocol
from uuid import UUID, uuid4

import structlog

from intake.app.attachments import (
    AttachmentRepository,
    BlobMissing,
    BlobStore,
    store_attachment,
)
from intake.app.customers import file_sender, identify_sender
from intake.app.ports import IntakeUnitOfWork
from intake.domain.attachments import AttachmentLimits, AttachmentTooLarge, StoredAttachment
from intake.domain.customers import normalize_email
from intake.domain.interactions import (
    MAX_BODY_LENGTH,
    MAX_SUBJECT_LENGTH,
    Channel,
    record_interaction,
)
from intake.domain.mail_parsing import MailParseError, ParsedMail, parse_mail
from intake.domain.mail_rules import (
    InboundMail,
    MailKind,
    MailStatus,
    OutboundStatus,
    RawHeaders,
    classify,
    raw_headers,
    subject_case_number,
    thread_ids,
)
from intake.domain.outbound import AgentAddress, OutboundMessage

log = structlog.get_logger(__name__)

NO_SUBJECT = "(no subject)"


@dataclass(frozen=True, kw_only=True)
class InboundEnvelope:
    """How a message reached intake: by the SMTP listener (`source` "smtp") or from a mailbox
    (`source` "imap:<mailbox>"), with the SMTP envelope's sender and recipients when known."""

    source: str
    mail_from: str | None = None
    rcpt_to: tuple[str, ...] = ()
    peer: str | None = None


@dataclass(frozen=True, kw_only=True)
class MailRules:
    """The desk's addresses and limits, from the settings."""

    own_addresses: frozenset[str]
    """Support addresses and the address intake sends from: mail from them is a loop."""
    attachments: AttachmentLimits
    region: str | None = None


@dataclass(frozen=True, kw_only=True)
class NewMail:
    """A message to keep as received."""

    mail_id: UUID
    headers: RawHeaders
    size: int
    raw: bytes | None
    """The bytes, kept in the row; None when they are in the blob store."""
    source: str
    envelope_from: str | None
    envelope_to: Sequence[str]


@dataclass(frozen=True)
class Accepted:
    """A message stored: its id, and whether it was the same message kept before."""

    mail_id: UUID | None
    duplicate: bool


class MailRepository(Protocol):
    """Inbound messages."""

    async def add_many(self, mails: Sequence[NewMail], *, now: datetime) -> set[UUID]: ...
    async def raw(self, mail_id: UUID) -> bytes | None: ...
    async def get(self, mail_id: UUID) -> InboundMail | None: ...
    async def claim(
        self, mail_id: UUID, *, statuses: Sequence[MailStatus]
    ) -> InboundMail | None: ...
    async def claim_many(
        self, mail_ids: Sequence[UUID], *, statuses: Sequence[MailStatus]
    ) -> list[InboundMail]: ...
    async def save(self, mail: InboundMail) -> None: ...
    async def save_many(self, mails: Sequence[InboundMail]) -> None: ...
    async def case_number_of(self, message_ids: list[str]) -> str | None: ...
    async def link_case(self, *, interaction_id: UUID, case_id: UUID, number: str) -> None: ...
    async def thread(self, case_number: str) -> list[tuple[str, bool]]: ...
    async def listing(
        self, *, status: MailStatus | None, limit: int, offset: int
    ) -> tuple[list[InboundMail], int]: ...


class OutboundRepository(Protocol):
    """Outgoing messages."""

    async def add(self, message: OutboundMessage) -> None: ...
    async def save(self, message: OutboundMessage) -> None: ...
    async def get(self, outbound_id: UUID) -> OutboundMessage | None: ...
    async def by_notification(self, notification_id: UUID) -> OutboundMessage | None: ...
    async def by_message_id(self, message_id: str) -> OutboundMessage | None: ...
    async def count_recent(self, *, address: str, template: str, since: datetime) -> int: ...
    async def claim_due(
        self, *, now: datetime, lease: timedelta, limit: int
    ) -> list[OutboundMessage]: ...
    async def listing(
        self, *, status: OutboundStatus | None, case_id: UUID | None, limit: int, offset: int
    ) -> tuple[list[OutboundMessage], int]: ...


class AgentRepository(Protocol):
    """intake's copy of the agent directory."""

    async def keep(self, agent: AgentAddress, *, now: datetime) -> bool: ...
    async def get(self, agent_id: UUID) -> AgentAddress | None: ...


class MailUnitOfWork(IntakeUnitOfWork, Protocol):
    """The intake unit of work with the email channel's state."""

    @property
    def mail(self) -> MailRepository: ...
    @property
    def outbound(self) -> OutboundRepository: ...
    @property
    def agents(self) -> AgentRepository: ...
    @property
    def attachments(self) -> AttachmentRepository: ...
    async def rollback(self) -> None:
        """Undo the transaction so far, and forget the events recorded in it."""
        ...

    def emit_message(
        self, message: OutboundMessage, *, reason: str | None = None, status: str | None = None
    ) -> None:
        """Publish how an outbound message's delivery ended when this unit of work commits."""
        ...


@dataclass(frozen=True)
class Received:
    """A message to record as received: its bytes to keep in its row (`inline`), or already
    in the blob store."""

    headers: RawHeaders
    size: int
    envelope: InboundEnvelope
    inline: bytes | None = None


async def store_raw(
    raw: bytes, envelope: InboundEnvelope, *, blobs: BlobStore, inline_bytes: int = 0
) -> Received:
    """The first half of accepting a message: a message over `inline_bytes` goes to the blob
    store; a smaller one is kept in the row `record_received` writes, in the same commit."""
    if len(raw) <= inline_bytes:
        sha256 = hashlib.sha256(raw).hexdigest()
        return Received(raw_headers(raw, sha256=sha256), len(raw), envelope, inline=raw)
    return Received(raw_headers(raw, sha256=await blobs.put(raw)), len(raw), envelope)


async def record_received(
    received: Sequence[Received],
    *,
    uow: MailUnitOfWork,
    now: datetime,
    new_id: Callable[[], UUID] = uuid4,
) -> list[Accepted]:
    """Record stored messages as received, in one transaction (the second half of accepting
    them); the same message (by its Message-ID, or its bytes when it has none) is kept once."""
    ids = [new_id() for _ in received]
    async with uow:
        kept = await uow.mail.add_many(
            [
                NewMail(
                    mail_id=mail_id,
                    headers=r.headers,
                    size=r.size,
                    raw=r.inline,
                    source=r.envelope.source,
                    envelope_from=r.envelope.mail_from,
                    envelope_to=r.envelope.rcpt_to,
                )
                for mail_id, r in zip(ids, received, strict=True)
            ],
            now=now,
        )
        await uow.commit()
    accepted: list[Accepted] = []
    for mail_id, r in zip(ids, received, strict=True):
        if mail_id not in kept:
            log.info("mail.duplicate", source=r.envelope.source, message_id=r.headers.message_id)
            accepted.append(Accepted(None, duplicate=True))
        else:
            accepted.append(Accepted(mail_id, duplicate=False))
    return accepted


async def process_mail(
    mail_id: UUID,
    *,
    uow: MailUnitOfWork,
    blobs: BlobStore,
    rules: MailRules,
    now: datetime,
    new_id: Callable[[], UUID] = uuid4,
    retry_failed: bool = False,
    raw: bytes | None = None,
) -> InboundMail | None:
    """Read a stored message and act on it, once; None when it is not waiting (someone else
    has it, or it was processed). With `retry_failed`, a message that failed is read again.
    `raw` is the message's bytes when the caller still holds them (else they are read from
    the blob store)."""
    statuses = [MailStatus.RECEIVED, MailStatus.FAILED] if retry_failed else [MailStatus.RECEIVED]
    async with uow:
        mail = await uow.mail.claim(mail_id, statuses=statuses)
        if mail is None:
            return None
        mail = replace(mail, attempts=mail.attempts + 1, error=None, processed_at=now)
        try:
            parsed = _parse(raw if raw is not None else await _raw_of(mail, uow, blobs))
            mail = _read(mail, parsed)
            mail = await _act(
                mail, parsed, uow=uow, blobs=blobs, rules=rules, now=now, new_id=new_id
            )
        except (BlobMissing, ValueError) as error:
            # A message that cannot be read, or that the channel cannot take as it is (no
            # sender address, a subject the interaction refuses): kept and listed, never
            # dropped. What was done of it is undone; the message is taken again to say so.
            await uow.rollback()
            if await uow.mail.claim(mail_id, statuses=statuses) is None:
                return None
            mail = replace(mail, status=MailStatus.FAILED, error=_reason(error))
            log.warning("mail.failed", mail_id=str(mail_id), error=mail.error)
        await uow.mail.save(mail)
        await uow.commit()
    _log_processed(mail)
    return mail


async def process_mails(
    waiting: Sequence[tuple[UUID, bytes | None]],
    *,
    uow: MailUnitOfWork,
    blobs: BlobStore,
    rules: MailRules,
    now: datetime,
    new_id: Callable[[], UUID] = uuid4,
) -> list[InboundMail] | None:
    """Read several stored messages and act on them in one transaction, each with its bytes
    when the caller still holds them (else they are read from the blob store). None, with
    nothing done, when one of them could not be read or acted on: each is then to be read on
    its own by `process_mail`, which keeps a failure to the message that failed."""
    held = dict(waiting)
    async with uow:
        claimed = await uow.mail.claim_many(list(held), statuses=[MailStatus.RECEIVED])
        try:
            read: list[tuple[InboundMail, ParsedMail]] = []
            for mail in claimed:
                raw = held[mail.mail_id]
                parsed = _parse(raw if raw is not None else await _raw_of(mail, uow, blobs))
                mail = replace(mail, attempts=mail.attempts + 1, error=None, processed_at=now)
                read.append((_read(mail, parsed), parsed))
        except (BlobMissing, ValueError) as error:
            log.info("mail.batch_unread", size=len(held), error=_reason(error))
            return None
        # The senders' locks with one statement, in one order: two batches at once never
        # wait on each other in a ring.
        senders = sorted(
            {
                normalize_email(parsed.sender.address)
                for _, parsed in read
                if parsed.sender is not None and parsed.sender.address
            }
        )
        await uow.customers.lock_emails(senders)
        done: list[InboundMail] = []
        try:
            for mail, parsed in read:
                done.append(
                    await _act(
                        mail,
                        parsed,
                        uow=uow,
                        blobs=blobs,
                        rules=rules,
                        now=now,
                        new_id=new_id,
                        locked=True,
                    )
                )
        except (BlobMissing, ValueError) as error:
            log.info("mail.batch_unread", size=len(held), error=_reason(error))
            return None
        await uow.mail.save_many(done)
        await uow.commit()
    for mail in done:
        _log_processed(mail)
    return done


def _log_processed(mail: InboundMail) -> None:
    log.info(
        "mail.processed",
        mail_id=str(mail.mail_id),
        kind=None if mail.kind is None else mail.kind.value,
        status=mail.status.value,
        case_number=mail.case_number,
    )


async def _raw_of(mail: InboundMail, uow: MailUnitOfWork, blobs: BlobStore) -> bytes:
    """A stored message's bytes, from its row or the blob store."""
    raw = await uow.mail.raw(mail.mail_id)
    return raw if raw is not None else await blobs.get(mail.raw_sha256)


def _parse(raw: bytes) -> ParsedMail:
    try:
        return parse_mail(raw)
    except MailParseError:
        raise
    except Exception as error:
        # A reader's fault on one odd message must not stop the others behind it: the
        # message is failed, listed, and read again once the reader is mended.
        raise MailParseError(f"the reader failed: {type(error).__name__}: {error}") from error


def _reason(error: Exception) -> str:
    if isinstance(error, MailParseError):
        return f"unreadable: {error}"[:2000]
    if isinstance(error, BlobMissing):
        return f"the stored message is missing from the blob store: {error}"[:2000]
    return str(error)[:2000]


async def link_mail_to_case(
    *, interaction_id: UUID, case_id: UUID, number: str, uow: MailUnitOfWork
) -> None:
    """Note the case an interaction's message opened, so that replies to it thread back."""
    await uow.mail.link_case(interaction_id=interaction_id, case_id=case_id, number=number)


def _read(mail: InboundMail, parsed: ParsedMail) -> InboundMail:
    sender = parsed.sender
    return replace(
        mail,
        from_address=None if sender is None else sender.address or None,
        from_name=None if sender is None else sender.name or None,
        subject=parsed.subject,
        new_text=parsed.new_text,
        text=parsed.text,
        html=parsed.html,
    )


async def _act(
    mail: InboundMail,
    parsed: ParsedMail,
    *,
    uow: MailUnitOfWork,
    blobs: BlobStore,
    rules: MailRules,
    now: datetime,
    new_id: Callable[[], UUID],
    locked: bool = False,
) -> InboundMail:
    kind = classify(parsed, own_addresses=rules.own_addresses)
    if kind is MailKind.LOOP:
        return replace(
            mail, kind=kind, status=MailStatus.REFUSED, error="mail from the desk's own address"
        )
    if kind is MailKind.BOUNCE:
        return await _bounce(mail, parsed, uow=uow, now=now)
    number = await uow.mail.case_number_of(thread_ids(parsed)) or subject_case_number(parsed)
    if kind is MailKind.AUTO_REPLY and number is None:
        return replace(
            mail,
            kind=kind,
            status=MailStatus.IGNORED,
            error=f"automatic ({parsed.auto_reply}) and about no case",
        )
    if parsed.sender is None or "@" not in parsed.sender.address:
        raise ValueError("the message has no sender address to answer")
    sender = await identify_sender(
        name=parsed.sender.name or parsed.sender.address,
        email=parsed.sender.address,
        phone=None,
        uow=uow,
        now=now,
        new_id=new_id,
        region=rules.region,
        email_body=parsed.new_text,
        locked=locked,
    )
    # The contact is filed first: the attachments and the interaction refer to it.
    await file_sender(sender, uow=uow, now=now)
    interaction_id = new_id()
    stored = await _store_attachments(
        parsed,
        mail=mail,
        interaction_id=interaction_id,
        uow=uow,
        blobs=blobs,
        rules=rules,
        now=now,
        new_id=new_id,
    )
    subject = (parsed.subject.strip() or NO_SUBJECT)[:MAX_SUBJECT_LENGTH]
    interaction, event = record_interaction(
        interaction_id=interaction_id,
        channel=Channel.EMAIL,
        sender=sender,
        subject=subject,
        body=(parsed.new_text or parsed.text)[:MAX_BODY_LENGTH].replace("\x00", ""),
        now=now,
        follow_up_of=number,
        attachments=stored,
        auto_reply=kind is MailKind.AUTO_REPLY,
        message_id=parsed.message_id,
    )
    await uow.interactions.add(interaction)
    uow.emit(event)
    return replace(
        mail,
        kind=MailKind.REPLY if kind is MailKind.REQUEST and number is not None else kind,
        status=MailStatus.PROCESSED,
        interaction_id=interaction.interaction_id,
        contact_id=interaction.contact_id,
        case_number=interaction.follow_up_of,
    )


async def _store_attachments(
    parsed: ParsedMail,
    *,
    mail: InboundMail,
    interaction_id: UUID,
    uow: MailUnitOfWork,
    blobs: BlobStore,
    rules: MailRules,
    now: datetime,
    new_id: Callable[[], UUID],
) -> tuple[StoredAttachment, ...]:
    stored: list[StoredAttachment] = []
    for part in parsed.attachments:
        try:
            attachment = await store_attachment(
                content=part.content,
                filename=part.filename,
                declared_type=part.content_type,
                source="email",
                inline=part.inline,
                content_id=part.content_id,
                mail_id=mail.mail_id,
                interaction_id=interaction_id,
                case_id=None,
                uploaded_by=None,
                repository=uow.attachments,
                blobs=blobs,
                limits=rules.attachments,
                now=now,
                new_id=new_id,
            )
        except AttachmentTooLarge as error:
            # The file stays in the stored raw message; the case goes on without it.
            log.warning("mail.attachment_over_limit", mail_id=str(mail.mail_id), error=str(error))
            continue
        stored.append(attachment)
    return tuple(stored)


async def _bounce(
    mail: InboundMail, parsed: ParsedMail, *, uow: MailUnitOfWork, now: datetime
) -> InboundMail:
    assert parsed.bounce is not None
    report = parsed.bounce
    returned = (
        await uow.outbound.by_message_id(report.original_message_id)
        if report.original_message_id
        else None
    )
    if returned is None:
        return replace(
            mail,
            kind=MailKind.BOUNCE,
            status=MailStatus.IGNORED,
            error="a delivery report for no message the desk sent",
        )
    reason = report.reason or (
        f"returned with status {report.status}" if report.status else "returned"
    )
    bounced = returned.bounced(reason, now=now)
    await uow.outbound.save(bounced)
    uow.emit_message(bounced, reason=reason, status=report.status)
    return replace(
        mail,
        kind=MailKind.BOUNCE,
        status=MailStatus.PROCESSED,
        case_id=returned.case_id,
        case_number=returned.case_number,
    )


class MailNotFound(LookupError):
    """No such message."""


async def mail_page(
    *, uow: MailUnitOfWork, status: MailStatus | None, limit: int, offset: int
) -> tuple[list[InboundMail], int]:
    """Inbound messages, newest first (those in `status` only, when given), and how many."""
    async with uow:
        return await uow.mail.listing(status=status, limit=limit, offset=offset)


async def inbound_mail(mail_id: UUID, *, uow: MailUnitOfWork) -> InboundMail:
    """An inbound message; MailNotFound when there is none."""
    async with uow:
        mail = await uow.mail.get(mail_id)
    if mail is None:
        raise MailNotFound(f"There is no message {mail_id}.")
    return mail


async def raw_mail(mail_id: UUID, *, uow: MailUnitOfWork, blobs: BlobStore) -> bytes:
    """An inbound message's bytes as they came."""
    async with uow:
        mail = await uow.mail.get(mail_id)
        if mail is None:
            raise MailNotFound(f"There is no message {mail_id}.")
        return await _raw_of(mail, uow, blobs)


async def outbound_page(
    *,
    uow: MailUnitOfWork,
    status: OutboundStatus | None,
    case_id: UUID | None,
    limit: int,
    offset: int,
) -> tuple[list[OutboundMessage], int]:
    """Outgoing messages, newest first, filtered; and how many match."""
    async with uow:
        return await uow.outbound.listing(
            status=status, case_id=case_id, limit=limit, offset=offset
        )


async def outbound_message(outbound_id: UUID, *, uow: MailUnitOfWork) -> OutboundMessage:
    """An outgoing message; MailNotFound when there is none."""
    async with uow:
        message = await uow.outbound.get(outbound_id)
    if message is None:
        raise MailNotFound(f"There is no outbound message {outbound_id}.")
    return message
