"""Reading an inbound message: the raw bytes of a mail as what a desk works with - who wrote,
about what, in which thread, what they just wrote (without the quoted history), the files, and
whether a machine sent it (an auto-reply, a delivery report). Pure: bytes in, values out.

`parse_mail` copes with the mail the world sends: legacy and mislabelled charsets, raw 8-bit
headers, broken MIME trees, uuencoded and TNEF (winmail.dat) files, S/MIME and PGP signatures.
It raises `MailParseError` only for input that is not a message at all.

This module is the public face; the reading is done below it, each module importing only the
ones listed before it: `mail_charsets` (charsets, encoded-words), `mail_quotes` (quoted
history and signatures), `mail_mime` (part headers, raw bodies), `mail_addresses` (mailboxes,
Message-IDs), `mail_headers` (the message's header fields), `mail_encodings` (uuencode, TNEF,
S/MIME signed-data, format=flowed), `mail_reports` (auto-replies, bounces) and `mail_parts`
(the walk of the MIME tree); `mail_html` reads the HTML.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.parser import BytesParser
from email.utils import parsedate_to_datetime

from intake.domain.mail_addresses import MailAddress, message_ids, normalize_message_id
from intake.domain.mail_headers import Headers
from intake.domain.mail_html import html_texts, sanitize_html, text_to_html
from intake.domain.mail_mime import CONTROL_BREAKS
from intake.domain.mail_parts import BodyChunk, MimeReader, ParsedAttachment
from intake.domain.mail_quotes import tidy_text, without_history
from intake.domain.mail_reports import Bounce, auto_reply

__all__ = [
    "Bounce",
    "MailAddress",
    "MailParseError",
    "ParsedAttachment",
    "ParsedMail",
    "message_ids",
    "normalize_message_id",
    "parse_mail",
]


class MailParseError(ValueError):
    """The bytes are not a mail message at all."""


@dataclass(frozen=True, kw_only=True)
class ParsedMail:
    """An inbound message as the desk reads it."""

    message_id: str | None
    in_reply_to: tuple[str, ...]
    references: tuple[str, ...]
    sender: MailAddress | None
    reply_to: tuple[MailAddress, ...]
    to: tuple[MailAddress, ...]
    cc: tuple[MailAddress, ...]
    from_header: str
    to_header: str
    cc_header: str
    subject: str
    date: datetime | None
    text: str
    """The body as readable plain text (an HTML-only body converted)."""
    new_text: str
    """What the sender just wrote: `text` without the quoted history of a reply and without a
    ``-- `` signature; equal to `text` when nothing is quoted."""
    html: str | None
    """The body's HTML, sanitised, when the message had an HTML body."""
    attachments: tuple[ParsedAttachment, ...]
    auto_reply: str | None
    """Why the message is automatic (``Auto-Submitted: auto-replied``, ``List-Id``, ...);
    None for a person's mail."""
    bounce: Bounce | None
    signed: bool
    has_calendar: bool
    reply_to_header: str = ""


def parse_mail(raw: bytes) -> ParsedMail:
    """The message in `raw` as the desk reads it; `MailParseError` when it is not a message."""
    if not _looks_like_mail(raw):
        raise MailParseError("not a mail message: no header lines")
    parser = BytesParser(policy=policy.default)
    try:
        message = parser.parsebytes(raw)
    except RecursionError:
        # MIME parts nested thousands deep: read the header, keep the body as one file.
        message = parser.parsebytes(raw, headersonly=True)
    except Exception as error:  # the parser is lenient; a crash means junk
        raise MailParseError(f"not a mail message: {error}") from error
    headers = Headers(message)
    reader = MimeReader(raw, message, hint=headers.hint)
    chunks = reader.read(message)
    text, new_text, html = _texts(chunks)
    senders = [headers.addresses(value) for value in headers.all("from")]
    from_addresses, from_header = next(
        (found for found in senders if any("@" in a.address for a in found[0])),
        senders[0] if senders else ((), ""),
    )
    sender = from_addresses[0] if from_addresses else None
    to, to_header = headers.address_list("to")
    cc, cc_header = headers.address_list("cc")
    reply_to, reply_to_header = headers.address_list("reply-to")
    return ParsedMail(
        message_id=normalize_message_id(headers.first("message-id")),
        in_reply_to=message_ids(headers.first("in-reply-to")),
        references=message_ids(" ".join(headers.all("references"))),
        sender=sender,
        reply_to=reply_to,
        to=to,
        cc=cc,
        from_header=from_header,
        to_header=to_header,
        cc_header=cc_header,
        reply_to_header=reply_to_header,
        subject=CONTROL_BREAKS.sub("", headers.text("subject")),
        date=_date(headers.first("date")),
        text=text,
        new_text=new_text,
        html=html,
        attachments=reader.attachments(html),
        auto_reply=auto_reply(headers),
        bounce=reader.bounce(sender, text),
        signed=reader.signed,
        has_calendar=reader.has_calendar,
    )


_HEADER_LINE = re.compile(rb"[!-9;-~]+[ \t]*:")


def _looks_like_mail(raw: bytes) -> bool:
    lines = raw[:2048].split(b"\n", 2)
    first = lines[0]
    if first.startswith(b"From ") and len(lines) > 1:
        first = lines[1]  # an mbox envelope line
    return bool(_HEADER_LINE.match(first))


def _date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _texts(chunks: list[BodyChunk]) -> tuple[str, str, str | None]:
    """The body as plain text, what the sender just wrote, and the sanitised HTML."""
    texts: list[str] = []
    replies: list[str] = []
    quoted_markup = False
    for chunk in chunks:
        if chunk.text is not None:
            texts.append(chunk.text)
            replies.append(chunk.text)
        else:
            text, reply = html_texts(chunk.html or "")
            texts.append(text)
            replies.append(text if reply is None else reply)
            quoted_markup = quoted_markup or reply is not None
    text = tidy_text("\n".join(part for part in texts if part.strip()))
    reply_source = text
    if quoted_markup:
        reply_source = tidy_text("\n".join(part for part in replies if part.strip()))
    new_text = without_history(reply_source)
    html: str | None = None
    if any(chunk.html is not None for chunk in chunks):
        html = "\n".join(
            sanitize_html(chunk.html) if chunk.html is not None else text_to_html(chunk.text or "")
            for chunk in chunks
        )
    return text, text if new_text == text else new_text, html
