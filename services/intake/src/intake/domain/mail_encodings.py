"""Content wrapped in the encodings mail carries besides MIME: uuencoded blocks in a text,
TNEF (winmail.dat) files, S/MIME signed-data (PKCS #7), and format=flowed text. Pure."""

from __future__ import annotations

import binascii
import re
from collections.abc import Callable, Iterator

from tnefparse import TNEF

from intake.domain.mail_charsets import decode_bytes
from intake.domain.mail_mime import safe_filename

_UU_BEGIN = re.compile(r"^begin [0-7]{3,4} (\S.*?)\s*$")


def split_uuencoded(text: str, keep_file: Callable[[str, bytes], None]) -> str:
    """`text` without its uuencoded blocks, each handed to `keep_file` (name, content) as it is
    found."""
    lines = text.split("\n")
    kept: list[str] = []
    index = 0
    while index < len(lines):
        begin = _UU_BEGIN.match(lines[index])
        block = _uu_block(lines, index) if begin else None
        if begin is None or block is None:
            kept.append(lines[index])
            index += 1
            continue
        content, index = block
        keep_file(safe_filename(begin.group(1)) or "file.bin", content)
    return text if len(kept) == len(lines) else "\n".join(kept)


def _uu_block(lines: list[str], begin: int) -> tuple[bytes, int] | None:
    """The file a uuencoded block starting at line `begin` holds and the line after its "end";
    None when what follows is not uuencoded data ending in "end"."""
    out = bytearray()
    for index in range(begin + 1, len(lines)):
        line = lines[index].rstrip("\r")
        if line.rstrip() == "end":
            return bytes(out), index + 1
        if line in {"", "`", " "}:
            continue
        if not " " <= line[0] <= "`":
            return None
        try:
            out += binascii.a2b_uu(line)
        except binascii.Error:
            # Encoders that strip trailing spaces leave short lines; decode what they hold.
            length = (((ord(line[0]) - 32) & 63) * 4 + 5) // 3
            try:
                out += binascii.a2b_uu(line[:length])
            except binascii.Error:
                return None
    return None


def tnef_files(data: bytes, unnamed: Callable[[], str]) -> list[tuple[str, bytes]]:
    """The files in a TNEF (winmail.dat) blob (name, content), a file without a name named by
    `unnamed`; [] when it holds none or is damaged."""
    files: list[tuple[str, bytes]] = []
    try:
        for attachment in TNEF(data, do_checksum=False).attachments:
            if not attachment.data:
                continue
            name = _tnef_name(attachment.long_filename()) or _tnef_name(attachment.name)
            files.append((safe_filename(name) or unnamed(), bytes(attachment.data)))
    except Exception:  # tnefparse fails on damaged files
        return []
    return files


def _tnef_name(value: object) -> str:
    if isinstance(value, bytes):
        value = decode_bytes(value, None)
    return str(value or "").strip("\x00").strip()


# S/MIME signed-data (application/pkcs7-mime; smime-type=signed-data) carries the signed entity
# inside a PKCS #7 structure: ContentInfo { signedData, [0] SignedData { version, digests,
# EncapsulatedContentInfo { type, [0] OCTET STRING content }, ... } }.
_SIGNED_DATA_OID = bytes.fromhex("2a864886f70d010702")


def signed_content(data: bytes) -> bytes | None:
    """The entity a PKCS #7 signed-data blob wraps; None when it wraps none or is not one."""
    try:
        _, start, end, _ = _ber(data, 0)
        oid, explicit = list(_ber_children(data, start, end))[:2]
        if data[oid[1] : oid[2]] != _SIGNED_DATA_OID:
            return None
        signed = next(_ber_children(data, explicit[1], explicit[2]))
        encapsulated = list(_ber_children(data, signed[1], signed[2]))[2]
        content = list(_ber_children(data, encapsulated[1], encapsulated[2]))
        if len(content) < 2:
            return None  # detached signature
        octets = next(_ber_children(data, content[1][1], content[1][2]))
        return _ber_octets(data, *octets[:3])
    except (IndexError, ValueError, StopIteration, RecursionError):
        return None


def _ber(data: bytes, position: int) -> tuple[int, int, int, int]:
    """One BER element at `position`: (tag, content start, content end, element end)."""
    tag = data[position]
    position += 1
    if tag & 0x1F == 0x1F:
        while data[position] & 0x80:
            position += 1
        position += 1
    length = data[position]
    position += 1
    if length == 0x80:  # indefinite length: elements up to an end-of-contents marker
        start = position
        while data[position : position + 2] != b"\x00\x00":
            position = _ber(data, position)[3]
            if position >= len(data):
                raise ValueError("unterminated BER element")
        return tag, start, position, position + 2
    if length & 0x80:
        size = length & 0x7F
        length = int.from_bytes(data[position : position + size], "big")
        position += size
    if position + length > len(data):
        raise ValueError("BER element overruns its data")
    return tag, position, position + length, position + length


def _ber_children(data: bytes, start: int, end: int) -> Iterator[tuple[int, int, int, int]]:
    position = start
    while position < end:
        element = _ber(data, position)
        yield element
        position = element[3]


def _ber_octets(data: bytes, tag: int, start: int, end: int) -> bytes:
    if tag & 0x20:  # constructed OCTET STRING: the concatenation of its pieces
        return b"".join(_ber_octets(data, *child[:3]) for child in _ber_children(data, start, end))
    return data[start:end]


def unflow(text: str, *, delsp: bool) -> str:
    """Plain text sent as format=flowed (RFC 3676) with its soft line breaks joined."""
    lines: list[tuple[int, str]] = []
    open_paragraph = False
    for line in text.split("\n"):
        depth = len(line) - len(line.lstrip(">"))
        content = line[depth:]
        if content.startswith(" "):
            content = content[1:]
        if open_paragraph and lines and lines[-1][0] == depth:
            previous = lines[-1][1]
            lines[-1] = (depth, (previous[:-1] if delsp else previous) + content)
        else:
            lines.append((depth, content))
        open_paragraph = content.endswith(" ") and content != "-- "
    return "\n".join((">" * depth + " " if depth else "") + content for depth, content in lines)
