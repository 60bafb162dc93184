"""The email channel's rules: what a message is, which case it threads to, how outbound mail is
addressed and retried. Pure: the use cases in `intake.app.mail` and `intake.app.delivery` act
on what these decide."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.parser import BytesHeaderParser
from email.policy import compat32
from enum import StrEnum
from uuid import UUID

from intake.domain.case_numbers import find_case_number
from intake.domain.mail_parsing import ParsedMail, normalize_message_id

MAX_THREAD_IDS = 20
"""The Message-IDs an outgoing message names in References, the most recent kept."""


class MailStatus(StrEnum):
    """Where an inbound message stands."""

    RECEIVED = "received"
    """Stored, not yet read."""
    PROCESSED = "processed"
    FAILED = "failed"
    """Could not be read or acted on: listed, and reprocessed once mended."""
    REFUSED = "refused"
    """A loop: the desk's own mail coming back."""
    IGNORED = "ignored"
    """Noise with nowhere to go: an auto-reply or a bounce that matches nothing."""


class MailKind(StrEnum):
    """What an inbound message turned out to be."""

    REQUEST = "request"
    REPLY = "reply"
    AUTO_REPLY = "auto_reply"
    BOUNCE = "bounce"
    LOOP = "loop"


class OutboundStatus(StrEnum):
    """Where an outgoing message stands."""

    QUEUED = "queued"
    SENT = "sent"
    FAILED = "failed"
    BOUNCED = "bounced"
    SUPPRESSED = "suppressed"
    """An acknowledgement held back: its address had too many of them lately."""


ACKNOWLEDGEMENT = "case.received"
"""The template of the acknowledgement of a new request, which is rate-limited per address."""


@dataclass(frozen=True, kw_only=True)
class RawHeaders:
    """What is read of a message before it is stored: enough to know it again."""

    message_id: str | None
    sha256: str

    @property
    def dedupe_key(self) -> str:
        """One message, one key: its Message-ID, or its content when it has none."""
        return self.message_id or f"sha256:{self.sha256}"


def raw_headers(raw: bytes, *, sha256: str) -> RawHeaders:
    """The Message-ID of raw message bytes (their header only is read), with the digest the
    blob store keeps them under."""
    header_end = raw.find(b"\r\n\r\n")
    if header_end < 0:
        header_end = raw.find(b"\n\n")
    head = raw if header_end < 0 else raw[:header_end]
    message = BytesHeaderParser(policy=compat32).parsebytes(head)
    value = message.get("Message-ID")
    return RawHeaders(
        message_id=normalize_message_id(str(value)) if value is not None else None,
        sha256=sha256,
    )


def address_key(address: str) -> str:
    """An address as compared: lower case, without a `+tag` on the local part."""
    local, _, domain = address.strip().lower().rpartition("@")
    if not local:
        return address.strip().lower()
    return f"{local.split('+', 1)[0]}@{domain}"


def is_own_address(address: str | None, own: Collection[str]) -> bool:
    """Whether `address` is one of the desk's own (a support address, the sender address)."""
    if not address:
        return False
    return address_key(address) in {address_key(a) for a in own}


def classify(mail: ParsedMail, *, own_addresses: Collection[str]) -> MailKind:
    """What a message is: the desk's own coming back, a delivery report, an automatic answer,
    or a person writing (a reply when it names earlier mail, else a new request)."""
    if mail.sender is not None and is_own_address(mail.sender.address, own_addresses):
        return MailKind.LOOP
    if mail.bounce is not None:
        return MailKind.BOUNCE
    if mail.auto_reply is not None:
        return MailKind.AUTO_REPLY
    if mail.in_reply_to or mail.references:
        return MailKind.REPLY
    return MailKind.REQUEST


def thread_ids(mail: ParsedMail) -> list[str]:
    """The Message-IDs a message answers, the nearest first: In-Reply-To, then References
    from the last."""
    seen: dict[str, None] = {}
    for message_id in (*mail.in_reply_to, *reversed(mail.references)):
        seen.setdefault(message_id)
    return list(seen)


def subject_case_number(mail: ParsedMail) -> str | None:
    """The case a subject names (`[CAS-2026-000123]`), the fallback when no header threads."""
    return find_case_number(mail.subject)


def case_subject(subject: str, number: str | None) -> str:
    """A subject that carries the case number, so the customer's reply threads back."""
    subject = " ".join(subject.split())
    if number is None or find_case_number(subject) == number:
        return subject
    return f"[{number}] {subject}".rstrip()


def references(earlier: Iterable[str]) -> list[str]:
    """The References of a message that follows `earlier` (oldest first): the last few."""
    ids = list(dict.fromkeys(earlier))
    return ids[-MAX_THREAD_IDS:]


def retry_delay(attempts: int, *, first: timedelta, longest: timedelta) -> timedelta:
    """How long to wait before the next attempt after `attempts` failed ones: doubling."""
    delay: timedelta = first * (2 ** max(attempts - 1, 0))
    return min(delay, longest)


@dataclass(frozen=True, kw_only=True)
class InboundMail:
    """A message intake took in, and what became of it."""

    mail_id: UUID
    source: str
    received_at: datetime
    raw_sha256: str
    size: int
    status: MailStatus
    message_id: str | None = None
    envelope_from: str | None = None
    envelope_to: tuple[str, ...] = ()
    kind: MailKind | None = None
    error: str | None = None
    attempts: int = 0
    processed_at: datetime | None = None
    from_address: str | None = None
    from_name: str | None = None
    subject: str | None = None
    new_text: str | None = None
    text: str | None = None
    html: str | None = None
    interaction_id: UUID | None = None
    contact_id: UUID | None = None
    case_id: UUID | None = None
    case_number: str | None = None
