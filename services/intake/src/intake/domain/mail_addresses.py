"""The mailboxes of address headers and the Message-IDs that thread mail: read leniently
(groups, comments, Outlook's semicolons, broken quoting) and shown canonically where they are
well-formed. Pure."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from intake.domain.mail_charsets import ENCODED_WORD, Hint, decode_words


@dataclass(frozen=True, kw_only=True)
class MailAddress:
    """One mailbox of an address header."""

    address: str
    """As written, e.g. ``John.Smith@example.com``; "" when none can be made out."""
    name: str
    """The decoded display name (or the comment of ``addr (Name)``), "" when none."""


def normalize_message_id(value: str | None) -> str | None:
    """A Message-ID as compared: ``<local@domain>``, whitespace removed; None when absent."""
    if value is None:
        return None
    found = message_ids(value)
    if found:
        return found[0]
    bare = "".join(value.split()).strip("<>")
    return f"<{bare}>" if bare else None


def message_ids(value: str | None) -> tuple[str, ...]:
    """All Message-IDs in an In-Reply-To or References value, in order."""
    if not value:
        return ()
    bracketed = _BRACKETED_ID.findall(value)
    if bracketed:
        ids = ("".join(found.split()) for found in bracketed)
        return tuple(f"<{found}>" for found in ids if found)
    # Some mailers leave the angle brackets out.
    return tuple(f"<{token}>" for token in re.split(r"[\s,]+", value) if "@" in token)


_BRACKETED_ID = re.compile(r"<([^<>]*)>")
_SPECIALS = frozenset('()<>[]:;@\\,."')


def address_entries(value: str) -> list[str]:
    """The entries of an address header: split at commas (and the semicolons Outlook uses) that
    are not quoted, commented, bracketed or inside an encoded-word."""
    entries: list[str] = []
    start = 0
    index = 0
    quoted = False
    comment = 0
    angle = False
    while index < len(value):
        char = value[index]
        if char == "\\" and (quoted or comment):
            index += 2
            continue
        if quoted:
            quoted = char != '"'
        elif comment:
            comment += {"(": 1, ")": -1}.get(char, 0)
        elif char == '"':
            quoted = True
        elif char == "(":
            comment = 1
        elif char == "<":
            angle = True
        elif char == ">":
            angle = False
        elif char == "=" and value.startswith("=?", index):
            word = ENCODED_WORD.match(value, index)
            if word is not None:
                index = word.end()
                continue
        elif char in ",;" and not angle:
            entries.append(value[start:index])
            start = index + 1
        index += 1
    entries.append(value[start:])
    return [entry.strip() for entry in entries if entry.strip()]


@dataclass
class _Tokens:
    phrase: list[str] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)
    angles: list[str] = field(default_factory=list)
    after_angle: bool = False
    well_formed: bool = True


def _tokens(entry: str) -> _Tokens:
    found = _Tokens()
    index = 0
    while index < len(entry):
        char = entry[index]
        if char.isspace():
            index += 1
        elif char == '"':
            end, text = _quoted(entry, index)
            found.phrase.append(text)
            found.after_angle = found.after_angle or bool(found.angles)
            index = end
        elif char == "(":
            end, text = _comment(entry, index)
            found.comments.append(text)
            index = end
        elif char == "<":
            end = entry.find(">", index)
            end = len(entry) if end < 0 else end
            found.well_formed = found.well_formed and not found.angles and end < len(entry)
            found.angles.append(entry[index + 1 : end].strip())
            index = end + 1
        else:
            end = index
            while end < len(entry) and not entry[end].isspace() and entry[end] not in '"(<':
                end += 1
            word = entry[index:end] or entry[index]
            found.phrase.append(word)
            found.after_angle = found.after_angle or bool(found.angles)
            index = max(end, index + 1)
    return found


def _quoted(entry: str, start: int) -> tuple[int, str]:
    text: list[str] = []
    index = start + 1
    while index < len(entry) and entry[index] != '"':
        if entry[index] == "\\" and index + 1 < len(entry):
            index += 1
        text.append(entry[index])
        index += 1
    return index + 1, "".join(text)


def _comment(entry: str, start: int) -> tuple[int, str]:
    depth = 0
    index = start
    while index < len(entry):
        char = entry[index]
        if char == "\\":
            index += 2
            continue
        depth += {"(": 1, ")": -1}.get(char, 0)
        index += 1
        if depth == 0:
            break
    return index, entry[start + 1 : index - 1 if depth == 0 else index]


_ADDR_SPEC = re.compile(r'^(?:"[^"]*"|[^\s"(),:;<>@\[\]\\]+)@[^\s"(),:;<>@\\]+$')
_PHRASE_WORD = re.compile(r"^[^()<>\[\]:;@\\,\"]+$")
_SOURCE_ROUTE = re.compile(r"^(?:@[^:]*:)")
_SPACES = re.compile(r"[ \t]+")


def read_address(entry: str, hint: Hint) -> tuple[MailAddress, str] | None:
    """One mailbox and how it reads: well-formed ones rendered canonically (quoted where the
    name needs it), anything else shown as written."""
    entry = _group_member(entry)
    if not entry:
        return None
    tokens = _tokens(entry)
    phrase = " ".join(tokens.phrase)
    if tokens.angles:
        address = _SOURCE_ROUTE.sub("", tokens.angles[0]).strip()
        name = _decoded_name(phrase, hint) or _decoded_name(" ".join(tokens.comments), hint)
        well_formed = (
            tokens.well_formed
            and not tokens.after_angle
            and bool(_ADDR_SPEC.match(address))
            and all(
                _PHRASE_WORD.match(word) or ENCODED_WORD.fullmatch(word)
                for word in _raw_phrase_words(entry)
            )
        )
        shown = f"{_quote_name(name)} <{address}>" if name else address
    else:
        words = tokens.phrase
        comment = _decoded_name(" ".join(tokens.comments), hint)
        if any("@" in word for word in words) or (len(words) == 1 and "@" not in comment):
            # As written, the way the common parsers read it: "Test test@example.com" is one
            # (malformed) address, not a name and an address.
            address, name = " ".join(words), comment
        elif words and "@" in comment:
            # "Name (name@example.com)": the only address is the comment.
            address, name = comment, _decoded_name(phrase, hint)
        else:
            address, name = "", _decoded_name(phrase, hint) or comment
        well_formed = words == [address] and bool(_ADDR_SPEC.match(address))
        shown = f"{address} ({comment})" if tokens.comments else address
    if not well_formed:
        shown = _SPACES.sub(" ", decode_words(entry, hint)).strip()
    return MailAddress(address=address, name=name), shown


def _group_member(entry: str) -> str:
    # "Team: a@example.com" (RFC 5322 group syntax) - the part after an unquoted colon that
    # comes before any @ or <.
    colon = entry.find(":")
    if colon < 0 or '"' in entry[:colon] or "(" in entry[:colon]:
        return entry
    if any(mark in entry[:colon] for mark in "@<"):
        return entry
    return entry[colon + 1 :].strip()


def _raw_phrase_words(entry: str) -> list[str]:
    """The unquoted, uncommented words before the angle address, as written."""
    before = entry[: entry.find("<")] if "<" in entry else entry
    before = re.sub(r'"(?:[^"\\]|\\.)*"', " ", before)
    before = re.sub(r"\((?:[^()\\]|\\.)*\)", " ", before)
    return before.split()


def _decoded_name(text: str, hint: Hint) -> str:
    return _SPACES.sub(" ", decode_words(text, hint)).strip(" \t")


def _quote_name(name: str) -> str:
    if any(char in _SPECIALS or not char.isascii() or not char.isprintable() for char in name):
        return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return name
