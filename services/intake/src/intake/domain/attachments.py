"""Files that come with a request or that an agent attaches: what is kept of each, the name it
is kept under, the type it is served as, and how large it may be.

A file's bytes live in the blob store under their SHA-256; intake keeps the rest. A name comes
from a mail client, a browser or a person, so it is only ever a label: it is cleaned so that no
disk, shell or download dialog can take it for a path or a device. A declared type is a claim:
the content is looked at first, and a type a browser would render (HTML) is never believed for
content that is something else.
"""

from __future__ import annotations

import mimetypes
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Literal
from uuid import UUID

import puremagic

from intake.domain.errors import IntakeError

AttachmentSource = Literal["email", "web", "agent"]
"""Where a file came from: a mail, a web form, or an agent's upload."""

OCTET_STREAM = "application/octet-stream"
MAX_FILENAME_BYTES = 255
"""The longest name (UTF-8) a file keeps: what common file systems and the contracts allow."""
MAX_EXTENSION_CHARS = 16
"""A longer tail after the last dot is no extension, so it is not kept whole when cutting."""
MAX_CONTENT_ID_LENGTH = 998
"""An RFC 5322 header line; a Content-ID cannot be longer in a message."""
MIN_SNIFF_CONFIDENCE = 0.3
"""Below this (signatures of one or two bytes) text that merely starts like a format, "BM" or
"MZ", would be taken for a bitmap or a program."""

DEFAULT_MAX_BYTES = 25 * 1024 * 1024


@dataclass(frozen=True, kw_only=True)
class StoredAttachment:
    """A file in the blob store, as interactions and events refer to it."""

    attachment_id: UUID
    filename: str
    content_type: str
    size: int
    sha256: str


@dataclass(frozen=True, kw_only=True)
class AttachmentRecord:
    """A stored file with what intake knows of how it came: its source, the mail, interaction
    and case it belongs to, who uploaded it and when."""

    attachment: StoredAttachment
    source: AttachmentSource
    inline: bool
    content_id: str | None
    mail_id: UUID | None
    interaction_id: UUID | None
    case_id: UUID | None
    uploaded_by: UUID | None
    created_at: datetime


class AttachmentTooLarge(IntakeError, ValueError):
    """A file larger than intake keeps."""

    def __init__(self, size: int, max_bytes: int) -> None:
        super().__init__(f"The file has {size} bytes; at most {max_bytes} are accepted.")
        self.size = size
        self.max_bytes = max_bytes

    @property
    def problem_members(self) -> dict[str, object]:
        """The limit, for a client to tell its user."""
        return {"max_bytes": self.max_bytes}


@dataclass(frozen=True, kw_only=True)
class AttachmentLimits:
    """How large a file intake keeps."""

    max_bytes: int = DEFAULT_MAX_BYTES

    def __post_init__(self) -> None:
        if self.max_bytes < 1:
            msg = f"max_bytes must be positive, not {self.max_bytes}"
            raise ValueError(msg)


def check_size(size: int, limits: AttachmentLimits) -> None:
    """Refuse a file larger than the limits allow."""
    if size > limits.max_bytes:
        raise AttachmentTooLarge(size, limits.max_bytes)


# -- names --------------------------------------------------------------------------------------

# Characters Windows refuses in a name; a download saved there would fail or be renamed.
_WINDOWS_RESERVED_CHARS = re.compile(r'[<>:"|?*]')
# Devices Windows opens instead of a file, whatever the extension: `con.txt` is the console.
_WINDOWS_DEVICES = frozenset(
    {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"}
    | {f"COM{n}" for n in "123456789¹²³"}
    | {f"LPT{n}" for n in "123456789¹²³"}
)
# Joiners shape letters in Persian, Indic scripts and emoji; every other invisible format
# character (bidirectional overrides above all, which make `exe.pdf` read as `fdp.exe`) goes.
_KEPT_FORMAT_CHARS = frozenset({"\u200c", "\u200d"})


def _visible(char: str) -> bool:
    category = unicodedata.category(char)
    if category == "Cf":
        return char in _KEPT_FORMAT_CHARS
    return not category.startswith("C")


def _split_extension(name: str) -> tuple[str, str]:
    stem, dot, extension = name.rpartition(".")
    if not dot or not stem or not extension or len(extension) > MAX_EXTENSION_CHARS:
        return name, ""
    if any(char.isspace() for char in extension):
        return name, ""
    return stem, f".{extension}"


def _cut_to_bytes(text: str, limit: int) -> str:
    if len(text.encode()) <= limit:
        return text
    cut = text.encode()[:limit].decode(errors="ignore")
    # A cut between a letter and its accent would leave the accent on whatever follows.
    while cut and unicodedata.combining(cut[-1]):
        cut = cut[:-1]
    return cut


def sanitize_filename(name: str | None, *, fallback: str = "attachment") -> str:
    """The name a file is kept under: its last path segment, without control characters,
    leading dots, characters or device names Windows refuses, with single spaces, and at
    most 255 bytes of UTF-8 with its extension kept; `fallback` when nothing is left."""
    text = unicodedata.normalize("NFC", name or "")
    text = re.split(r"[/\\]", text)[-1]
    text = " ".join(text.split())
    text = "".join(char for char in text if _visible(char))
    text = _WINDOWS_RESERVED_CHARS.sub("_", text)
    # Windows drops trailing dots and spaces; a leading dot hides a file on Unix.
    text = text.lstrip(". ").rstrip(". ")
    if not text:
        return fallback
    device = text.split(".", 1)[0].rstrip(" ").upper()
    if device in _WINDOWS_DEVICES:
        text = f"_{text}"
    if len(text.encode()) > MAX_FILENAME_BYTES:
        stem, extension = _split_extension(text)
        room = MAX_FILENAME_BYTES - len(extension.encode())
        text = _cut_to_bytes(stem, room).rstrip(". ") + extension
    return text or fallback


# -- types --------------------------------------------------------------------------------------

# RFC 6838 §4.2: a type and a subtype of restricted names.
_MEDIA_TYPE = re.compile(
    r"[a-z0-9][a-z0-9!#$&^_.+-]{0,126}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}", re.ASCII
)
# The encodings the extension table knows, each a file type of its own: `a.tar.gz` is gzip.
_ENCODING_TYPES = {
    "gzip": "application/gzip",
    "bzip2": "application/x-bzip2",
    "xz": "application/x-xz",
    "br": "application/x-brotli",
    "compress": "application/x-compress",
}
# When the content fits a family (a ZIP is also a DOCX, an ODT, a JAR …) and nothing says
# which member it is, the family is the honest answer.
_FAMILY_TYPES = ("application/zip",)


def media_type(value: str | None) -> str | None:
    """The `type/subtype` of a Content-Type value, lower case and without parameters; None
    when it is not one."""
    if value is None:
        return None
    essence = value.split(";", 1)[0].strip().lower()
    return essence if _MEDIA_TYPE.fullmatch(essence) else None


@cache
def _extension_table() -> mimetypes.MimeTypes:
    # Python's own table, not the host's /etc/mime.types: the same answer on every machine.
    return mimetypes.MimeTypes()


def type_by_extension(filename: str) -> str | None:
    """The type a file's extension usually stands for, or None."""
    guessed, encoding = _extension_table().guess_type(filename, strict=False)
    if encoding is not None:
        return _ENCODING_TYPES.get(encoding)
    return media_type(guessed)


@dataclass(frozen=True)
class _Match:
    media_type: str
    extension: str
    confidence: float


def _sniffed(content: bytes) -> list[_Match]:
    if not content:
        return []
    try:
        found = puremagic.magic_string(content)
    except (puremagic.PureError, ValueError):
        return []
    matches: list[_Match] = []
    for match in found:
        kind = media_type(str(match.mime_type or ""))
        if kind is None or kind == OCTET_STREAM or match.confidence < MIN_SNIFF_CONFIDENCE:
            continue
        extension = match.extension if isinstance(match.extension, str) else ""
        matches.append(_Match(kind, extension.lower(), float(match.confidence)))
    return matches


def sniff_content_type(content: bytes, *, declared: str | None, filename: str) -> str:
    """The type a file is kept and served as.

    The content decides when it is recognised; where its signature fits several types (a ZIP
    is also a DOCX), the declared type or the extension picks among them. Otherwise the
    declared type when it is a well-formed `type/subtype` (parameters dropped; a declared
    `application/octet-stream` says nothing), else the extension's, else
    `application/octet-stream`. So a declared `text/html` is never kept for content that is
    recognised as something else, and a malformed declared type never at all.
    """
    claimed = media_type(declared)
    if claimed == OCTET_STREAM:
        claimed = None
    by_extension = type_by_extension(filename)
    matches = _sniffed(content)
    if matches:
        best = max(match.confidence for match in matches)
        tier = [match for match in matches if match.confidence == best]
        kinds = [match.media_type for match in tier]
        if claimed in kinds:
            return claimed
        extension = _split_extension(filename)[1].lower()
        for match in tier:
            if extension and match.extension == extension:
                return match.media_type
        if by_extension in kinds:
            return by_extension
        if len(set(kinds)) > 1:
            for family in _FAMILY_TYPES:
                if family in kinds:
                    return family
        return kinds[0]
    return claimed or by_extension or OCTET_STREAM


def clean_content_id(value: str | None) -> str | None:
    """A part's Content-ID as an HTML body refers to it (`cid:…`): without its angle
    brackets and control characters; None when nothing is left."""
    if value is None:
        return None
    text = "".join(char for char in value if _visible(char)).strip().strip("<>").strip()
    return text[:MAX_CONTENT_ID_LENGTH] or None
