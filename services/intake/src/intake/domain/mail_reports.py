"""Mail a machine sent: auto-replies, lists and bulk mail (by their header fields), and
delivery status notifications - a message the desk sent coming back, told by an RFC 3464
report or, without one, by a mailer-daemon returning the message. Pure."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from email import policy
from email.message import Message
from email.parser import BytesHeaderParser

from intake.domain.mail_addresses import MailAddress, normalize_message_id
from intake.domain.mail_headers import Headers
from intake.domain.mail_mime import CONTROL_BREAKS

_MESSAGE_ID_LINE = re.compile(r"(?im)^[ \t>]*Message-ID:[ \t]*(<[^<>\s]+>)")
_STATUS = re.compile(r"\b[245]\.\d{1,3}\.\d{1,3}\b")
_BOUNCED_RECIPIENT = re.compile(r"(?m)^\s*<([^<>\s]+@[^<>\s]+)>:")
_SMTP_REPLY_LINE = re.compile(r"(?m)^.*\b[45]\d\d[ -].*$")
_STATUS_CLASSES = {"2": "delivered", "4": "delayed, will be retried", "5": "permanent failure"}
_STATUS_SUBJECTS = {
    "1": "bad address",
    "2": "mailbox problem",
    "3": "mail system problem",
    "4": "network or routing problem",
    "5": "mail delivery protocol problem",
    "6": "message content problem",
    "7": "security or policy problem",
}


@dataclass(frozen=True, kw_only=True)
class Bounce:
    """A delivery status notification: a message the desk sent did not arrive."""

    original_message_id: str | None
    """The Message-ID of the message that bounced, normalized like `ParsedMail.message_id`."""
    recipients: tuple[str, ...]
    status: str | None
    """The enhanced status code, e.g. ``5.1.1``."""
    reason: str


def auto_reply(headers: Headers) -> str | None:
    """Why a message was sent by a machine (RFC 3834 and the conventions before it)."""
    submitted = (headers.first("auto-submitted") or "").strip()
    if submitted and submitted.split(";")[0].strip().lower() != "no":
        return f"Auto-Submitted: {submitted}"
    for name, shown in (("x-autoreply", "X-Autoreply"), ("x-autorespond", "X-Autorespond")):
        if headers.first(name) is not None:
            return shown
    precedence = (headers.first("precedence") or "").strip().lower()
    if precedence in {"bulk", "junk", "list", "auto_reply"}:
        return f"Precedence: {precedence}"
    if headers.first("list-id") is not None:
        return "List-Id"
    suppress = (headers.first("x-auto-response-suppress") or "").strip()
    if suppress and suppress.lower() != "none":
        return f"X-Auto-Response-Suppress: {suppress}"
    return None


@dataclass
class _Report:
    """The per-recipient fields of a delivery-status report, in order."""

    recipients: list[str] = field(default_factory=list)
    statuses: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)


class BounceClues:
    """What a walk of the MIME tree finds that tells a message coming back: the fields of a
    delivery-status report, returned messages and their Message-IDs."""

    def __init__(self) -> None:
        self._report: _Report | None = None
        self._returned_ids: list[str] = []
        self._returns_a_message = False

    def expect_report(self) -> None:
        """The message is a delivery-status report (multipart/report), fields or not."""
        self._report = self._report or _Report()

    def read_returned_message(self, part: Message) -> None:
        """Note a message/rfc822 part: perhaps the message that came back."""
        self._returns_a_message = True
        inner = part.get_payload()
        if isinstance(inner, list) and inner and isinstance(inner[0], Message):
            for name, value in inner[0].raw_items():
                if name.lower() == "message-id":
                    found = normalize_message_id(CONTROL_BREAKS.sub("", str(value)))
                    if found:
                        self._returned_ids.append(found)
                    break

    def read_returned_headers(self, data: bytes) -> None:
        """Note a text/rfc822-headers part: the header of the message that came back."""
        self._returns_a_message = True
        message_id = BytesHeaderParser(policy=policy.compat32).parsebytes(data).get("message-id")
        found = normalize_message_id(str(message_id)) if message_id is not None else None
        if found:
            self._returned_ids.append(found)

    def read_delivery_status(self, part: Message) -> None:
        """Note the per-recipient fields of a message/delivery-status part."""
        report = self._report = self._report or _Report()
        payload = part.get_payload()
        if isinstance(payload, list):
            blocks = [block for block in payload if isinstance(block, Message)]
        else:
            raw = part.get_payload(decode=True)
            text = raw if isinstance(raw, bytes) else b""
            blocks = [
                BytesHeaderParser(policy=policy.compat32).parsebytes(block.strip() + b"\n")
                for block in re.split(rb"\r?\n[ \t]*\r?\n", text)
                if block.strip()
            ]
        for block in blocks:
            fields = {
                name.lower(): " ".join(str(value).split()) for name, value in block.raw_items()
            }
            recipient = fields.get("final-recipient") or fields.get("original-recipient")
            if recipient is None:
                continue  # the per-message block
            report.recipients.append(recipient.rpartition(";")[2].strip().strip("<>"))
            report.actions.append(fields.get("action", "").lower())
            status = _STATUS.search(fields.get("status", ""))
            if status:
                report.statuses.append(status.group(0))
            diagnostic = fields.get("diagnostic-code")
            if diagnostic:
                report.reasons.append(diagnostic.partition(";")[2].strip() or diagnostic)

    def bounce(self, sender: MailAddress | None, text: str) -> Bounce | None:
        """The delivery report the message is, from `sender` with body `text`; None when the
        message is not one."""
        report = self._report
        local = (sender.address.rpartition("@")[0] or sender.address).lower() if sender else ""
        if report is None and local not in {"mailer-daemon", "postmaster"}:
            return None  # neither a report nor from the mail system: the text is not searched
        quoted = _MESSAGE_ID_LINE.search(text)
        original = self._returned_ids[0] if self._returned_ids else None
        original = original or (normalize_message_id(quoted.group(1)) if quoted else None)
        if report is not None:
            if report.actions and not any(a in {"failed", ""} for a in report.actions):
                return None  # only delayed / delivered / relayed: not a bounce
            return Bounce(
                original_message_id=original,
                recipients=tuple(dict.fromkeys(report.recipients)),
                status=report.statuses[0] if report.statuses else None,
                reason=report.reasons[0] if report.reasons else _status_text(report.statuses),
            )
        if original is None and not self._returns_a_message:
            return None  # a notice from the mail system, not a message coming back
        statuses = _STATUS.findall(text)
        return Bounce(
            original_message_id=original,
            recipients=tuple(dict.fromkeys(_BOUNCED_RECIPIENT.findall(text))),
            status=statuses[0] if statuses else None,
            reason=_reason_line(text) or _status_text(statuses),
        )


def _status_text(statuses: list[str]) -> str:
    """The first enhanced status code in words: its class and subject (RFC 3463)."""
    if not statuses:
        return ""
    kind, subject, _ = statuses[0].split(".")
    return ", ".join(
        text for text in (_STATUS_CLASSES.get(kind), _STATUS_SUBJECTS.get(subject)) if text
    )


def _reason_line(text: str) -> str:
    line = _SMTP_REPLY_LINE.search(text)
    return " ".join(line.group(0).split())[:300] if line else ""
