"""Text out of mail bytes in whatever charset they came: labels read leniently (aliases,
larger relatives of mislabelled charsets, detection as a last resort), RFC 2047 encoded-words,
and Microsoft's ISO-2022-JP. Pure."""

from __future__ import annotations

import base64
import binascii
import codecs
import functools
import re
from collections.abc import Callable, Iterator

import charset_normalizer

_SEVEN_BIT_CODECS = frozenset({"iso2022-jp-ms", "utf-7", "hz"})
# Labels that mean a larger charset in practice: mailers write "gb2312" for GBK text,
# "iso-8859-1" for Windows-1252, "shift_jis" for Microsoft's CP932 (the WHATWG encoding
# standard draws the same conclusions).
_SUPERSETS = {
    "iso8859-1": "cp1252",
    "iso8859-9": "cp1254",
    "iso8859-11": "cp874",
    "tis-620": "cp874",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "big5": "big5hkscs",
    "shift_jis": "cp932",
    "euc_kr": "cp949",
}
# What else a label may stand for when the text does not decode as labelled: a 7-bit Japanese
# label on 8-bit bytes is one of the 8-bit Japanese encodings, and so on.
_RELATIVES = {
    "iso2022_jp": ("iso2022-jp-ms", "cp932", "euc_jp"),
    "cp932": ("euc_jp",),
    "shift_jis": ("euc_jp",),
    "euc_jp": ("cp932",),
    "iso2022_kr": ("cp949",),
    "euc_kr": ("cp949",),
    "gb2312": ("gb18030", "big5hkscs"),
    "gbk": ("gb18030", "big5hkscs"),
    "big5": ("big5hkscs", "gb18030"),
}
# What detection chooses from: the charsets mail is actually written in. Left to itself the
# detector also weighs Mac and DOS code pages, and picks them for short Cyrillic or Latin text.
_DETECTABLE = (
    "utf_8",
    "cp1252",
    "cp1250",
    "cp1251",
    "cp1253",
    "cp1254",
    "cp1255",
    "cp1256",
    "cp1257",
    "koi8_r",
    "koi8_u",
    "iso8859_2",
    "iso8859_5",
    "iso8859_7",
    "iso8859_13",
    "iso8859_15",
    "gb18030",
    "big5hkscs",
    "cp932",
    "euc_jp",
    "cp949",
    "cp874",
)
_ALIASES = {
    "x-sjis": "cp932",
    "sjis": "cp932",
    "windows-31j": "cp932",
    "x-euc-jp": "euc_jp",
    "ks_c_5601": "cp949",
    "x-mac-roman": "mac-roman",
    "x-gbk": "gbk",
    "iso-2022-jp-ms": "iso2022-jp-ms",
    "cp50220": "iso2022-jp-ms",
    "cp50221": "iso2022-jp-ms",
    "csiso2022jp": "iso2022-jp-ms",
}


@functools.lru_cache(maxsize=256)
def _codec(label: str | None) -> str | None:
    """The Python codec of a charset label, None when Python has no text codec for it."""
    if not label:
        return None
    name = label.strip().strip("\"'").lower()
    if not name.isascii():
        return None
    # "x-" prefixes and the "-i"/"-e" of iso-8859-8-i name nothing Python needs.
    suffixless = name[:-2] if name.endswith(("-i", "-e")) else None
    for candidate in (name, _ALIASES.get(name), name.removeprefix("x-"), suffixless):
        if not candidate:
            continue
        if candidate == "iso2022-jp-ms":
            return candidate
        try:
            found = codecs.lookup(candidate).name
            b"".decode(found)  # rejects bytes-to-bytes codecs such as base64
        except (LookupError, ValueError):
            continue
        return found
    return None


Hint = Callable[[], str | None]
"""The charset the rest of a message uses, asked for only when a text does not decode."""


def no_hint() -> str | None:
    """No charset to fall back on."""
    return None


def decode_bytes(data: bytes, declared: str | None, hint: Hint = no_hint) -> str:
    """Text from bytes labelled `declared` (perhaps wrongly): the label, its larger relatives,
    UTF-8, the charset of the rest of the message, detection, and Latin-1 in the end."""
    codec = _codec(declared)
    if data.isascii():
        if codec is not None and (codec in _SEVEN_BIT_CODECS or codec.startswith("iso2022")):
            for candidate in (codec, *_RELATIVES.get(codec, ())):
                try:
                    return _decode_with(data, candidate)
                except (UnicodeError, ValueError):
                    continue
        return data.decode("ascii")
    if codec is not None and codec.startswith(("utf_16", "utf_32", "utf-16", "utf-32")):
        try:
            return data.decode(codec)
        except UnicodeError:
            pass
    try:
        # Valid UTF-8 with 8-bit bytes is UTF-8 whatever the label: text in another charset
        # almost never happens to be valid UTF-8, and "iso-8859-1" on UTF-8 is common.
        return data.decode("utf-8")
    except UnicodeError:
        pass
    for candidate in _candidates(codec, _codec(hint())):
        try:
            return _decode_with(data, candidate)
        except (UnicodeError, ValueError):
            continue
    if codec == "utf-8":
        # A long UTF-8 text with a stray bad byte or two is still UTF-8.
        lenient = data.decode("utf-8", "replace")
        if lenient.count("\ufffd") * 1000 <= len(data):
            return lenient
    best = charset_normalizer.from_bytes(data, cp_isolation=list(_DETECTABLE)).best()
    if best is not None:
        return str(best)
    return data.decode("latin-1")


def _candidates(codec: str | None, hint: str | None) -> Iterator[str]:
    seen: set[str] = set()
    for label in (codec, hint):
        if label is None:
            continue
        for candidate in (_SUPERSETS.get(label), label, *_RELATIVES.get(label, ())):
            if candidate and candidate not in seen and candidate != "ascii":
                seen.add(candidate)
                yield candidate


def _decode_with(data: bytes, codec: str) -> str:
    if codec == "iso2022-jp-ms":
        return _decode_iso2022jp_ms(data)
    return data.decode(codec)


def _decode_iso2022jp_ms(data: bytes) -> str:
    """ISO-2022-JP as Microsoft writes it (CP50221): JIS X 0208 plus the NEC and IBM rows
    (circled numbers, Roman numerals), read by mapping each JIS pair onto CP932."""
    out = bytearray()
    mode = "ascii"
    index = 0
    while index < len(data):
        byte = data[index]
        if byte == 0x1B:
            designation = data[index + 1 : index + 3]
            if designation in (b"$@", b"$B"):
                mode = "jis"
            elif designation in (b"(B", b"(J"):
                mode = "ascii"
            elif designation == b"(I":
                mode = "kana"
            else:
                raise ValueError("unsupported ISO-2022-JP designation")
            index += 3
        elif byte >= 0x80:
            raise ValueError("8-bit byte in a 7-bit encoding")
        elif byte in b"\r\n" or mode == "ascii":
            out.append(byte)
            index += 1
        elif mode == "kana":
            out.append(byte + 0x80)
            index += 1
        else:
            if index + 1 >= len(data):
                raise ValueError("truncated JIS pair")
            first, second = byte, data[index + 1]
            if not (0x21 <= first <= 0x7E and 0x21 <= second <= 0x7E):
                raise ValueError("not a JIS pair")
            lead = (first + 1) // 2 + (0x70 if first <= 0x5E else 0xB0)
            # Odd JIS rows map to the lower half of a CP932 lead byte's trail range.
            odd_row_trail = second + (0x1F if second <= 0x5F else 0x20)
            trail = odd_row_trail if first % 2 else second + 0x7E
            out += bytes((lead, trail))
            index += 2
    return out.decode("cp932")


# Lenient on purpose: some mailers leave spaces inside the encoded text.
ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([BbQq])\?([^?]*)\?=")


def decode_words(text: str, hint: Hint = no_hint) -> str:
    """`text` with its RFC 2047 encoded-words decoded; whitespace between adjacent words is
    dropped, and adjacent words in one charset are decoded together (a character may be split
    across two of them)."""
    if "=?" not in text:
        return text
    pieces: list[str] = []
    pending = bytearray()
    pending_charset = ""
    position = 0

    def flush() -> None:
        nonlocal pending
        if pending:
            pieces.append(decode_bytes(bytes(pending), pending_charset, hint))
            pending = bytearray()

    for match in ENCODED_WORD.finditer(text):
        gap = text[position : match.start()]
        if not (pending and not gap.strip()):
            flush()
            pieces.append(gap)
        charset = match.group(1).split("*", 1)[0]
        try:
            data = _word_bytes(match.group(2), match.group(3))
        except (binascii.Error, ValueError):
            flush()
            pieces.append(match.group(0))
            position = match.end()
            continue
        if pending and charset.lower() != pending_charset.lower():
            flush()
        pending_charset = charset
        pending += data
        position = match.end()
    flush()
    pieces.append(text[position:])
    return "".join(pieces)


def _word_bytes(encoding: str, encoded: str) -> bytes:
    if encoding in "Bb":
        compact = "".join(encoded.split())
        return base64.b64decode(compact + "=" * (-len(compact) % 4))
    return binascii.a2b_qp(encoded.encode("utf-8", "surrogateescape"), header=True)


def has_surrogates(text: str) -> bool:
    """Whether `text` holds raw 8-bit bytes, as the email parser passes them on (surrogates)."""
    return not text.isascii() and any("\udc80" <= char <= "\udcff" for char in text)
