"""The Maildir of the mail sink, and the views of its messages that the HTTP API shows.

The SMTP server of `caseflow_devstack.mailsink` delivers into a `SinkMaildir`; its HTTP view
(`caseflow_devstack.mailsink_http`) reads summaries, details and raw bytes back from it.
"""

from __future__ import annotations

import mailbox
import re
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage, MIMEPart
from email.parser import BytesParser
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

_SUBDIRS = ("tmp", "new", "cur")
# An unknown id, or a message deleted by hand between listing and reading it.
_MISSING = (KeyError, FileNotFoundError)


@dataclass(frozen=True)
class _Entry:
    """A stored message as the listing needs it, read once."""

    received: float
    summary: dict[str, Any]


class SinkMaildir:
    """The Maildir the sink delivers into, and the views of its messages the HTTP API shows.

    Safe to use from several threads: the SMTP server delivers while HTTP requests read.
    """

    def __init__(self, path: Path) -> None:
        self.path = path.absolute()
        for subdir in _SUBDIRS:
            (self.path / subdir).mkdir(parents=True, exist_ok=True)
        self._maildir = mailbox.Maildir(self.path, create=False)
        self._lock = threading.Lock()
        self._entries: dict[str, _Entry] = {}

    def deliver(self, raw: bytes) -> str:
        """Store `raw` exactly as given; the id of the stored message."""
        with self._lock:
            return self._maildir.add(raw)

    def summaries(self, *, to: str = "", subject: str = "") -> list[dict[str, Any]]:
        """Every message, newest first, optionally only those matching `to` and `subject`."""
        to, subject = to.casefold(), subject.casefold()
        with self._lock:
            keys = set(self._maildir.keys())
            for key in self._entries.keys() - keys:  # deleted by hand
                del self._entries[key]
            for key in keys - self._entries.keys():
                try:
                    self._entries[key] = self._read(key)
                except _MISSING:
                    continue
            entries = sorted(self._entries.items(), key=lambda item: (item[1].received, item[0]))
        found = []
        for _, entry in reversed(entries):
            summary = entry.summary
            recipients = " ".join(summary["to"] + summary["cc"]).casefold()
            if to in recipients and subject in summary["subject"].casefold():
                found.append(summary)
        return found

    def raw(self, key: str) -> bytes | None:
        """The message `key` as received, or None when there is none."""
        with self._lock:
            try:
                return self._maildir.get_bytes(key)
            except _MISSING:
                return None

    def detail(self, key: str) -> dict[str, Any] | None:
        """The summary of message `key` with its headers, text and attachments, or None."""
        with self._lock:
            try:
                received = self._maildir.get_message(key).get_date()
                raw = self._maildir.get_bytes(key)
            except _MISSING:
                return None
        message = _parse(raw)
        body = message.get_body(preferencelist=("plain", "html"))
        return {
            **_summary(key, raw, message, received),
            "headers": _headers(message),
            "text": "" if body is None else _body_text(body),
            "attachments": _attachments(message, body),
        }

    def _read(self, key: str) -> _Entry:
        # The file's modification time is when the message arrived: `deliver` never alters it.
        received = self._maildir.get_message(key).get_date()
        raw = self._maildir.get_bytes(key)
        headers = BytesParser(policy=policy.default).parsebytes(raw, headersonly=True)
        assert isinstance(headers, EmailMessage)
        return _Entry(received, _summary(key, raw, headers, received))


def _parse(raw: bytes) -> EmailMessage:
    message = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(message, EmailMessage)
    return message


def _header(message: EmailMessage, name: str) -> str | None:
    try:
        value = message.get(name)
    except Exception:  # the stdlib header parser can fail on odd input: show the raw value
        value = next((v for n, v in message.raw_items() if n.lower() == name.lower()), None)
    return None if value is None else str(value)


def _headers(message: EmailMessage) -> list[list[str]]:
    try:
        return [[name, str(value)] for name, value in message.items()]
    except Exception:  # as in `_header`
        return [[name, value] for name, value in message.raw_items()]


def _addresses(message: EmailMessage, name: str) -> list[str]:
    try:
        return [
            str(address) for header in message.get_all(name) or [] for address in header.addresses
        ]
    except Exception:  # a malformed header is shown as it is, never a failed listing
        return [value for n, value in message.raw_items() if n.lower() == name.lower()]


def _summary(key: str, raw: bytes, message: EmailMessage, received: float) -> dict[str, Any]:
    return {
        "id": key,
        "received_at": datetime.fromtimestamp(received, UTC).isoformat(timespec="milliseconds"),
        "from": _header(message, "From") or "",
        "to": _addresses(message, "To"),
        "cc": _addresses(message, "Cc"),
        "subject": _header(message, "Subject") or "",
        "message_id": _header(message, "Message-ID"),
        "in_reply_to": _header(message, "In-Reply-To"),
        "references": (_header(message, "References") or "").split(),
        "size": len(raw),
    }


def _body_text(body: MIMEPart) -> str:
    try:
        content = body.get_content()
    except (LookupError, UnicodeError):  # an unknown or lying charset
        payload = body.get_payload(decode=True)
        content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    if not isinstance(content, str):
        return ""
    # SMTP carries CRLF line ends; readers of the JSON expect plain newlines.
    content = content.replace("\r\n", "\n")
    return html_to_text(content) if body.get_content_subtype() == "html" else content


def _attachments(part: MIMEPart, body: MIMEPart | None) -> list[dict[str, Any]]:
    if part is body:
        return []
    if part.get_content_disposition() == "attachment" or (
        part.get_filename() is not None and part.get_content_maintype() != "multipart"
    ):
        content = part.get_payload(decode=True)
        size = len(content) if isinstance(content, bytes) else len(part.as_bytes())
        return [
            {"filename": part.get_filename(), "content_type": part.get_content_type(), "size": size}
        ]
    if part.get_content_maintype() != "multipart":
        return []
    return [found for sub in part.iter_parts() for found in _attachments(sub, body)]


class _HtmlText(HTMLParser):
    _HIDDEN = frozenset({"head", "script", "style", "template"})
    _BLOCKS = frozenset(
        {"br", "p", "div", "li", "tr", "table", "ul", "ol", "blockquote", "pre", "hr"}
        | {f"h{level}" for level in range(1, 7)}
    )

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._HIDDEN:
            self._hidden += 1
        elif tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._HIDDEN:
            self._hidden = max(0, self._hidden - 1)
        elif tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)


def html_to_text(markup: str) -> str:
    """The readable text of an HTML body: tags, scripts and styles gone, a line per block."""
    parser = _HtmlText()
    parser.feed(markup)
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.parts).splitlines())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
