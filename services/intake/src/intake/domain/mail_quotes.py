"""What the sender just wrote: a body's text without the quoted history of a reply (an
attribution with "> " lines, a top-posted history under an Outlook header block) and without a
``-- `` signature. Pure."""

from __future__ import annotations

import functools
import re

from mailparser_reply.constants import (  # type: ignore[import-untyped]
    GENERIC_MAIL_SEPARATOR,
    MAIL_LANGUAGES,
)

_QUOTED_LINE = re.compile(r"^[ \t]*>")
_SIGNATURE_LINE = re.compile(r"^--[ \t]?$")
_QUOTE_PREFIX = r"(?:> ?)*"
# Attribution lines in the languages the library lacks: ru, lt, pt.
_EXTRA_WROTE = (
    r"^" + _QUOTE_PREFIX + r".{0,300}?\s(?:написал|написала|написал\(а\)|пишет)\s*:\s*$",
    r"^" + _QUOTE_PREFIX + r".{0,300}?\srašė\s*:\s*$",
    r"^" + _QUOTE_PREFIX + r"Em\s.{0,300}?\sescreveu\s*:\s*$",
)
# "…, Name <someone@example.com>:" as Gmail and Yandex write it in any language. Only an
# attribution when quoted lines follow: on its own the line may just introduce a list.
_ADDRESS_ATTRIBUTION = r"^" + _QUOTE_PREFIX + r".{0,300}<[^<>\s]+@[^<>\s]+>\s*:\s*$"
# Outlook's header block above the old message in ru, lt and pt ("От:", "Nuo:", "De:" ...).
_EXTRA_HEADER_BLOCK = (
    r"((?:(?:^|\n)" + _QUOTE_PREFIX + r"[* ]*"
    r"(?:От|Отправлено|Кому|Тема|Дата|Копия|Nuo|Išsiųsta|Kam|Tema|Data|Kopija|"
    r"De|Enviada em|Enviado|Para|Assunto|Cc):[ *]*.*){2,})"
)
_REPLY_LANGUAGES = ("en", "de", "cs")
# A line that may open a header block ("From: …", "*Von:* …") or "-----Original Message-----".
_HEADER_LIKE = re.compile(r"^(?:[* ]*[^\W\d_][\w ]{0,20}\*?:|-{5,})")


@functools.cache
def _wrote_pattern() -> re.Pattern[str]:
    patterns = [MAIL_LANGUAGES[language]["wrote_header"] for language in _REPLY_LANGUAGES]
    patterns += _EXTRA_WROTE
    return re.compile(
        "|".join(f"(?:{pattern})" for pattern in patterns), re.MULTILINE | re.IGNORECASE
    )


@functools.cache
def _attribution_only() -> re.Pattern[str]:
    return re.compile(_ADDRESS_ATTRIBUTION, re.IGNORECASE)


@functools.cache
def _history_pattern() -> re.Pattern[str]:
    patterns = [MAIL_LANGUAGES[language]["from_header"] for language in _REPLY_LANGUAGES]
    patterns += [_EXTRA_HEADER_BLOCK, GENERIC_MAIL_SEPARATOR]
    return re.compile(
        "|".join(f"(?:{pattern})" for pattern in patterns), re.MULTILINE | re.IGNORECASE
    )


def without_history(text: str) -> str:
    """`text` without the quoted history of a reply and without a ``-- `` signature."""
    lines = text.split("\n")
    # The library's patterns expect trimmed lines. They are costly on a long text, so they
    # only look at the few lines that can start a history (ending in ":", or with a "Word:").
    trimmed = [line.strip() for line in lines]
    drop: set[int] = set()
    cut = len(lines)
    for index, line in enumerate(trimmed):
        if line.startswith(">"):
            continue  # inside the quoted history itself
        attribution = _attribution(trimmed, index) if line.endswith(":") else None
        if attribution is not None:
            first, generic = attribution
            following = next((later for later in trimmed[index + 1 :] if later), "")
            if following.startswith(">"):
                drop.update(range(first, index + 1))  # the attribution of a "> " quote
                continue
            if not generic:
                cut = first  # the history follows unquoted (top posting)
                break
        if _HEADER_LIKE.match(line) and _history_pattern().match("\n".join(trimmed[index:][:8])):
            cut = index
            break
    kept = [
        line
        for index, line in enumerate(lines[:cut])
        if index not in drop and not _QUOTED_LINE.match(line)
    ]
    signature = next((i for i, line in enumerate(kept) if _SIGNATURE_LINE.match(line)), None)
    if signature is not None:
        kept = kept[:signature]
    if len(kept) == len(lines):
        return text
    return tidy_text("\n".join(kept))


def _attribution(trimmed: list[str], index: int) -> tuple[int, bool] | None:
    """Where an attribution ("On …, X wrote:") ending at line `index` starts, and whether it is
    only the generic "…<address>:" form; None when the line ends none."""
    for first in (index, index - 1):
        if first < 0 or trimmed[first].startswith(">"):
            return None
        window = "\n".join(trimmed[first : index + 1])
        if _wrote_pattern().fullmatch(window):
            return first, False
        if _attribution_only().fullmatch(window):
            return first, True
    return None


def tidy_text(text: str) -> str:
    """`text` without leading blank lines and trailing whitespace."""
    lines = text.split("\n")
    while lines and not lines[0].strip():
        lines.pop(0)
    return "\n".join(lines).rstrip()
