"""The MIME tree of a message walked once: which parts make the body (the best side of each
alternative, the root of a related group, the signed content), the files (attachments, inline
images, forwarded messages, invitations, uuencoded and TNEF contents), and what the message
turns out to be: signed, an invitation, a delivery report. Pure."""

from __future__ import annotations

import base64
import binascii
import functools
import mimetypes
import re
from dataclasses import dataclass
from email import policy
from email.message import Message
from email.parser import BytesParser

from intake.domain.mail_addresses import MailAddress
from intake.domain.mail_charsets import Hint, decode_bytes
from intake.domain.mail_encodings import signed_content, split_uuencoded, tnef_files, unflow
from intake.domain.mail_html import text_to_html
from intake.domain.mail_mime import (
    MAX_DEPTH,
    PartInfo,
    as_written,
    file_content,
    find_bodies,
    read_part_info,
    safe_filename,
)
from intake.domain.mail_reports import Bounce, BounceClues

_CALENDAR_TYPES = frozenset({"text/calendar", "application/ics"})
_SIGNATURE_TYPES = frozenset(
    {"application/pgp-signature", "application/pkcs7-signature", "application/x-pkcs7-signature"}
)
_PKCS7_TYPES = frozenset({"application/pkcs7-mime", "application/x-pkcs7-mime"})
_TNEF_TYPES = frozenset({"application/ms-tnef", "application/vnd.ms-tnef"})
_EXTENSIONS = {
    "message/rfc822": ".eml",
    "message/global": ".eml",
    "message/delivery-status": ".txt",
    "message/global-delivery-status": ".txt",
    "text/rfc822-headers": ".txt",
    "text/calendar": ".ics",
    "application/ics": ".ics",
    "text/plain": ".txt",
    "image/jpeg": ".jpg",
    "application/pkcs7-mime": ".p7m",
    "application/x-pkcs7-mime": ".p7m",
    "application/ms-tnef": ".dat",
}
_META_CHARSET = re.compile(rb"""<meta[^>]+charset=["']?([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
_CID = re.compile(r"""cid:([^"'\s>)]+)""", re.IGNORECASE)


@dataclass(frozen=True, kw_only=True)
class ParsedAttachment:
    """A file that came with a message."""

    filename: str
    """Decoded (RFC 2047/2231); generated (``file-1.bin``, ``message.eml``, ``invite.ics``)
    when the part names none."""
    content_type: str
    content: bytes
    inline: bool
    """Shown within the text: Content-Disposition inline, or referenced by cid from the HTML."""
    content_id: str | None
    """Without angle brackets."""


@dataclass(frozen=True)
class BodyChunk:
    """A piece of the body: plain text, HTML, or both (the two sides of an alternative)."""

    text: str | None
    html: str | None


@dataclass
class _File:
    filename: str
    content_type: str
    content: bytes
    inline: bool
    content_id: str | None


class MimeReader:
    """Walks a MIME tree once, gathering the body's pieces, the files and what the message
    turns out to be (signed, an invitation, a delivery report)."""

    def __init__(self, raw: bytes, message: Message, *, hint: Hint) -> None:
        self._hint = hint
        self.signed = False
        self.has_calendar = False
        self._raw = raw
        self._message = message
        self._linesep = "\r\n" if b"\r\n" in raw[:4096] else "\n"
        self._files: list[_File] = []
        self._generated: dict[str, int] = {}
        self._clues = BounceClues()
        # By id, with the part itself: holding it keeps its id from being reused.
        self._infos: dict[int, tuple[Message, PartInfo]] = {}

    def read(self, message: Message) -> list[BodyChunk]:
        """The pieces of the body of `message`, in order; files and findings are kept."""
        return self._part(message, depth=0)

    def attachments(self, html: str | None) -> tuple[ParsedAttachment, ...]:
        """The files found, inline when the body's `html` cites them by cid."""
        cited = {cid.lower() for cid in _CID.findall(html or "")}
        return tuple(
            ParsedAttachment(
                filename=file.filename,
                content_type=file.content_type,
                content=file.content,
                inline=file.inline
                or (file.content_id is not None and file.content_id.lower() in cited),
                content_id=file.content_id,
            )
            for file in self._files
        )

    def bounce(self, sender: MailAddress | None, text: str) -> Bounce | None:
        """The delivery report the message is, from `sender` with body `text`; else None."""
        return self._clues.bounce(sender, text)

    # The walk -----------------------------------------------------------------------------

    def _info(self, part: Message) -> PartInfo:
        known = self._infos.get(id(part))
        if known is None:
            known = self._infos[id(part)] = (part, read_part_info(part, self._hint))
        return known[1]

    def _part(self, part: Message, *, depth: int, body: bool = True) -> list[BodyChunk]:
        try:
            return self._read_part(part, depth=depth, body=body)
        except Exception:  # one broken part must not lose the message
            self._keep_broken(part)
            return []

    def _read_part(self, part: Message, *, depth: int, body: bool) -> list[BodyChunk]:
        info = self._info(part)
        content_type = info.content_type
        maintype, _, subtype = content_type.partition("/")
        if depth > MAX_DEPTH:
            self._keep_broken(part)
            return []
        if maintype == "message":
            if subtype in {"rfc822", "global"}:
                self._message_file(part)
            elif subtype in {"delivery-status", "global-delivery-status"}:
                self._clues.read_delivery_status(part)
                self._file(part, content_type=content_type, content=self._body_bytes(part))
            else:
                self._file(part, content_type=content_type, content=self._body_bytes(part))
            return []
        if part.is_multipart():
            return self._multipart(part, subtype, depth=depth, body=body)
        if maintype == "multipart":
            # A multipart without a single boundary in it is all preamble; keep it as a file.
            self._file(part, content_type="application/octet-stream")
            return []
        if content_type in _SIGNATURE_TYPES:
            self.signed = True
            return []
        if content_type in _CALENDAR_TYPES:
            self.has_calendar = True
            self._file(part, content_type=content_type, generated="invite.ics")
            return []
        if content_type in _PKCS7_TYPES:
            return self._pkcs7(part, depth=depth)
        if content_type in _TNEF_TYPES or info.filename.lower() == "winmail.dat":
            self._tnef(part)
            return []
        if content_type == "text/rfc822-headers":
            payload = part.get_payload(decode=True)
            self._clues.read_returned_headers(payload if isinstance(payload, bytes) else b"")
            self._file(part, content_type=content_type)
            return []
        if (
            body
            and maintype == "text"
            and subtype in {"plain", "html"}
            and info.disposition != "attachment"
            and not info.filename
        ):
            return self._text(part, info)
        self._file(part, content_type=content_type)
        return []

    def _multipart(self, part: Message, subtype: str, *, depth: int, body: bool) -> list[BodyChunk]:
        parts = [sub for sub in part.get_payload() if isinstance(sub, Message)]
        if subtype == "alternative":
            return self._alternative(parts, depth=depth, body=body)
        if subtype == "related":
            root = self._related_root(part, parts)
            chunks = self._part(root, depth=depth + 1, body=body) if root is not None else []
            for sub in parts:
                if sub is not root:
                    self._part(sub, depth=depth + 1, body=False)
            return chunks
        if subtype == "signed":
            self.signed = True
            chunks = self._part(parts[0], depth=depth + 1, body=body) if parts else []
            for sub in parts[1:]:
                if self._info(sub).content_type not in _SIGNATURE_TYPES:
                    self._part(sub, depth=depth + 1, body=False)
            return chunks
        if subtype == "report":
            if self._info(part).params.get("report-type", "").lower() == "delivery-status":
                self._clues.expect_report()
            chunks = self._part(parts[0], depth=depth + 1, body=body) if parts else []
            for sub in parts[1:]:
                self._part(sub, depth=depth + 1, body=False)
            return chunks
        if subtype == "encrypted":
            for sub in parts:
                if self._info(sub).content_type != "application/pgp-encrypted":
                    self._part(sub, depth=depth + 1, body=False)
            return []
        chunks = []
        for sub in parts:
            chunks.extend(self._part(sub, depth=depth + 1, body=body))
        return chunks

    def _related_root(self, part: Message, parts: list[Message]) -> Message | None:
        start = self._info(part).params.get("start", "").strip().strip("<>")
        if start:
            for sub in parts:
                if self._info(sub).content_id == start:
                    return sub
        return parts[0] if parts else None

    def _alternative(self, parts: list[Message], *, depth: int, body: bool) -> list[BodyChunk]:
        plain: str | None = None
        html: str | None = None
        for sub in parts:
            maintype, _, subtype = self._info(sub).content_type.partition("/")
            if maintype == "text" and subtype not in {"plain", "html", "calendar"}:
                continue  # text/enriched, text/watch-html: other renderings of the same text
            chunks = self._part(sub, depth=depth + 1, body=body)
            if not chunks:
                continue
            if all(chunk.html is None for chunk in chunks):
                joined = "\n".join(chunk.text or "" for chunk in chunks)
                if plain is None and joined.strip():
                    plain = joined
            else:
                html = "\n".join(
                    chunk.html if chunk.html is not None else text_to_html(chunk.text or "")
                    for chunk in chunks
                )
        if plain is None and html is None:
            return []
        return [BodyChunk(text=plain, html=html)]

    def _text(self, part: Message, info: PartInfo) -> list[BodyChunk]:
        subtype = info.content_type.partition("/")[2]
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        declared = info.params.get("charset")
        if declared is None and subtype == "html":
            meta = _META_CHARSET.search(data[:4096])
            declared = meta.group(1).decode("ascii") if meta else None
        text = decode_bytes(data, declared, self._hint)
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        if subtype == "html":
            return [BodyChunk(text=None, html=text)]
        if info.params.get("format", "").lower() == "flowed":
            text = unflow(text, delsp=info.params.get("delsp", "").lower() == "yes")
        if "begin " in text:
            text = split_uuencoded(text, self._keep_loose_file)
        return [BodyChunk(text=text, html=None)]

    # Files ---------------------------------------------------------------------------------

    def _file(
        self,
        part: Message,
        *,
        content_type: str,
        content: bytes | None = None,
        generated: str | None = None,
    ) -> None:
        info = self._info(part)
        if content is None:
            content = file_content(part, info)
        self._files.append(
            _File(
                filename=info.filename or self._generated_name(part, content_type, generated),
                content_type=content_type,
                content=content,
                inline=info.disposition == "inline",
                content_id=info.content_id,
            )
        )

    def _generated_name(self, part: Message, content_type: str, preferred: str | None) -> str:
        extension = _EXTENSIONS.get(content_type) or mimetypes.guess_extension(content_type)
        extension = extension or ".bin"
        description = self._info(part).description
        if description and len(description) <= 80:
            return safe_filename(description) + extension
        stem = (preferred or "").rpartition(".")[0]
        if not stem:
            stem = "message" if extension == ".eml" else "file"
        count = self._generated.get(stem, 0) + 1
        self._generated[stem] = count
        if stem == "file":
            return f"file-{count}{extension}"
        return f"{stem}{extension}" if count == 1 else f"{stem}-{count}{extension}"

    def _message_file(self, part: Message) -> None:
        self._clues.read_returned_message(part)
        self._file(part, content_type="message/rfc822", content=self._body_bytes(part))

    def _body_bytes(self, part: Message) -> bytes:
        """The body of a message/* part as it stood in the message; re-serialised when it
        cannot be found (a part of a decoded S/MIME entity)."""
        written = self._raw_bodies.get(id(part))
        if written is not None:
            encoding = self._info(part).transfer_encoding
            if encoding == "base64":
                return base64.b64decode(written, validate=False)
            if encoding == "quoted-printable":
                return binascii.a2b_qp(written)
            return written
        written = part.as_bytes(policy=as_written(self._linesep))
        if not part.keys():
            return written[len(self._linesep) :]
        separator = self._linesep.encode() * 2
        head_end = written.find(separator)
        return written[head_end + len(separator) :] if head_end >= 0 else written

    @functools.cached_property
    def _raw_bodies(self) -> dict[int, bytes]:
        bodies: dict[int, bytes] = {}
        find_bodies(self._message, self._raw, bodies)
        return bodies

    def _keep_broken(self, part: Message) -> None:
        try:
            payload = part.get_payload()
            if isinstance(payload, str):
                content = payload.encode("utf-8", "surrogateescape")
                self._files.append(
                    _File(
                        filename=self._generated_name(part, "application/octet-stream", None),
                        content_type="application/octet-stream",
                        content=content,
                        inline=False,
                        content_id=None,
                    )
                )
        except Exception:  # noqa: S110 - nothing more to save of this part
            pass

    def _keep_loose_file(self, name: str, content: bytes) -> None:
        """Keep a file found inside a part (uuencoded in a text, packed in TNEF)."""
        self._files.append(
            _File(
                filename=name,
                content_type=mimetypes.guess_type(name)[0] or "application/octet-stream",
                content=content,
                inline=False,
                content_id=None,
            )
        )

    def _tnef(self, part: Message) -> None:
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        files = tnef_files(
            data, lambda: self._generated_name(part, "application/octet-stream", None)
        )
        if files:
            for name, content in files:
                self._keep_loose_file(name, content)
        else:
            self._file(part, content_type=self._info(part).content_type)

    def _pkcs7(self, part: Message, *, depth: int) -> list[BodyChunk]:
        smime_type = self._info(part).params.get("smime-type", "").lower()
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        content = signed_content(data) if smime_type != "enveloped-data" else None
        if content is None:
            self.signed = self.signed or smime_type in {"signed-data", "certs-only"}
            self._file(part, content_type=self._info(part).content_type, generated="smime.p7m")
            return []
        self.signed = True
        inner = BytesParser(policy=policy.default).parsebytes(content)
        return self._part(inner, depth=depth + 1)
