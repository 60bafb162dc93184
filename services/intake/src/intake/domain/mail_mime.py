"""The MIME structure of a message, read leniently: the parts of the tree, what the header
fields of a part say, a part's body bytes as they stood in the message, and a file part's
content. Pure."""

from __future__ import annotations

import binascii
import functools
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage, Message

from intake.domain.mail_charsets import Hint, decode_bytes, decode_words, has_surrogates

CONTROL_BREAKS = re.compile(r"[\r\n]")
MAX_DEPTH = 30
"""How deep the MIME tree is walked; a part nested deeper is kept as a file."""

_LINE_BREAK = re.compile(rb"\r?\n")
_HEADER_END = re.compile(rb"\r?\n\r?\n")


def walk_parts(message: Message) -> Iterator[Message]:
    """The parts of a message, depth first, no deeper than the reader goes."""
    pending = [(message, 0)]
    while pending:
        part, depth = pending.pop()
        yield part
        payload = part.get_payload() if depth < MAX_DEPTH else None
        if isinstance(payload, list):
            children = [(sub, depth + 1) for sub in payload if isinstance(sub, Message)]
            pending.extend(reversed(children))


@dataclass(frozen=True)
class PartInfo:
    """What the MIME header fields of a part say, read once."""

    content_type: str
    params: dict[str, str]
    disposition: str | None
    filename: str
    """Decoded and without a path; "" when the part names no file."""
    content_id: str | None
    description: str
    transfer_encoding: str


def read_part_info(part: Message, hint: Hint) -> PartInfo:
    """What the MIME header fields of `part` say, decoded."""
    fields: dict[str, str] = {}
    for name, value in part.raw_items():
        fields.setdefault(name.lower(), CONTROL_BREAKS.sub("", str(value)))
    content_type = part.get_default_type()
    params: dict[str, str] = {}
    if "content-type" in fields:
        header = _mime_header("content-type", fields["content-type"], hint)
        declared = str(getattr(header, "content_type", "")).lower()
        if declared.count("/") == 1:
            content_type = declared
        params = _params(header)
    disposition: str | None = None
    filename = ""
    if "content-disposition" in fields:
        header = _mime_header("content-disposition", fields["content-disposition"], hint)
        disposition = str(getattr(header, "content_disposition", "") or "").lower() or None
        filename = _params(header).get("filename", "")
    filename = filename or params.get("name", "")
    content_id = "".join(fields.get("content-id", "").split()).strip("<>")
    return PartInfo(
        content_type=content_type,
        params=params,
        disposition=disposition,
        filename=safe_filename(decode_words(filename, hint)) if filename else "",
        content_id=content_id or None,
        description=" ".join(decode_words(fields.get("content-description", ""), hint).split()),
        transfer_encoding=fields.get("content-transfer-encoding", "").strip().lower(),
    )


def _mime_header(name: str, value: str, hint: Hint) -> object:
    if has_surrogates(value):
        # Raw 8-bit bytes in a parameter (a filename written in the sender's charset).
        value = decode_bytes(value.encode("ascii", "surrogateescape"), None, hint)
    return policy.default.header_factory(name, value)


def _params(header: object) -> dict[str, str]:
    found = getattr(header, "params", None)
    if not isinstance(found, Mapping):
        return {}
    return {str(key).lower(): str(value) for key, value in found.items()}


def file_content(part: Message, info: PartInfo) -> bytes:
    """The decoded content of a file part. Quoted-printable line breaks come out as CRLF, the
    canonical form RFC 2045 gives them, so a file reads the same whether the message was
    stored with CRLF (as sent) or with LF (an mbox)."""
    if info.transfer_encoding == "quoted-printable":
        encoded = part.get_payload()
        if isinstance(encoded, str):
            try:
                data = encoded.encode("ascii", "surrogateescape")
            except UnicodeEncodeError:
                data = None
            if data is not None:
                return binascii.a2b_qp(_LINE_BREAK.sub(b"\r\n", data))
    payload = part.get_payload(decode=True)
    return payload if isinstance(payload, bytes) else b""


def safe_filename(name: str) -> str:
    """A filename as a sender gave it, without a path and unprintable characters."""
    name = re.split(r"[/\\]", name.strip())[-1]
    return "".join(char for char in name if char.isprintable()).strip().strip(".")


@functools.lru_cache(maxsize=4)
def as_written(linesep: str) -> policy.EmailPolicy[EmailMessage]:
    """The policy that serialises a part as it was written, lines ending in `linesep`."""
    return policy.default.clone(refold_source="none", linesep=linesep, max_line_length=0)


def find_bodies(part: Message, region: bytes, bodies: dict[int, bytes], depth: int = 0) -> None:
    """Record the raw body bytes of `part` (whose bytes are `region`) and of the parts within,
    by object id; where the parser saw something else (a damaged tree), stop looking."""
    body = _after_headers(region)
    bodies[id(part)] = body
    if not part.is_multipart() or depth > MAX_DEPTH:
        return
    subparts = [sub for sub in part.get_payload() if isinstance(sub, Message)]
    if part.get_content_maintype() == "message":
        if len(subparts) == 1 and part.get_content_type() in {"message/rfc822", "message/global"}:
            find_bodies(subparts[0], body, bodies, depth + 1)
        return
    boundary = part.get_boundary()
    if not boundary:
        return
    pieces = _between_boundaries(body, boundary.encode("utf-8", "surrogateescape"))
    if len(pieces) == len(subparts):
        for sub, piece in zip(subparts, pieces, strict=True):
            find_bodies(sub, piece, bodies, depth + 1)


def _after_headers(region: bytes) -> bytes:
    if region.startswith((b"\r\n", b"\n")):
        return region[2:] if region.startswith(b"\r\n") else region[1:]
    match = _HEADER_END.search(region)
    return region[match.end() :] if match else b""


def _between_boundaries(body: bytes, boundary: bytes) -> list[bytes]:
    delimiters = list(
        re.finditer(rb"^--" + re.escape(boundary) + rb"(--)?[ \t]*(?:\r?\n|\Z)", body, re.M)
    )
    pieces: list[bytes] = []
    for index, delimiter in enumerate(delimiters):
        if delimiter.group(1):
            break
        if index + 1 < len(delimiters):
            end = delimiters[index + 1].start()
            end -= 2 if body[end - 2 : end] == b"\r\n" else 1 if body[end - 1 : end] == b"\n" else 0
        else:
            end = len(body)  # no closing delimiter: the last part runs to the end
        pieces.append(body[delimiter.end() : end])
    return pieces
