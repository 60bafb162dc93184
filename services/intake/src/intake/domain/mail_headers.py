"""The top-level header fields of a message, decoded as written: unfolded, raw 8-bit text and
RFC 2047 encoded-words turned into text, address headers read as mailboxes. Pure."""

from __future__ import annotations

import functools
from email.message import Message

from intake.domain.mail_addresses import MailAddress, address_entries, read_address
from intake.domain.mail_charsets import ENCODED_WORD, decode_bytes, decode_words, has_surrogates
from intake.domain.mail_mime import CONTROL_BREAKS, walk_parts


class Headers:
    """The top-level header fields of a message, decoded as written."""

    def __init__(self, message: Message) -> None:
        self._message = message
        self._fields: dict[str, list[str]] = {}
        for name, value in message.raw_items():
            self._fields.setdefault(name.lower(), []).append(str(value))

    def all(self, name: str) -> list[str]:
        """Every value of the field `name` (lower case), unfolded."""
        return [self._unfold(value) for value in self._fields.get(name, ())]

    def first(self, name: str) -> str | None:
        """The first value of the field `name`, unfolded; None when absent."""
        values = self._fields.get(name)
        return self._unfold(values[0]) if values else None

    def text(self, name: str) -> str:
        """The first value of the field `name` as text; "" when absent."""
        value = self.first(name)
        return decode_words(value, self.hint) if value else ""

    def address_list(self, name: str) -> tuple[tuple[MailAddress, ...], str]:
        """The mailboxes of every field `name`, and the fields as they read."""
        found: list[MailAddress] = []
        shown: list[str] = []
        for value in self.all(name):
            addresses, text = self.addresses(value)
            found.extend(addresses)
            if text:
                shown.append(text)
        return tuple(found), ", ".join(shown)

    def addresses(self, value: str) -> tuple[tuple[MailAddress, ...], str]:
        """The mailboxes of one address field value, and the value as it reads."""
        parsed = [read_address(entry, self.hint) for entry in address_entries(value)]
        kept = [item for item in parsed if item is not None]
        return tuple(address for address, _ in kept), ", ".join(text for _, text in kept)

    def _unfold(self, value: str) -> str:
        value = CONTROL_BREAKS.sub("", value)
        if has_surrogates(value):
            # 8-bit bytes straight in the header (a raw UTF-8 or Shift_JIS subject).
            value = decode_bytes(value.encode("ascii", "surrogateescape"), None, self.hint)
        return value

    def hint(self) -> str | None:
        """The charset the message's text parts declare, else its encoded headers use."""
        return self._charset_hint

    @functools.cached_property
    def _charset_hint(self) -> str | None:
        for part in walk_parts(self._message):
            if part.get_content_maintype() == "text":
                charset = part.get_param("charset")
                if isinstance(charset, str) and charset:
                    return charset
        for name in ("subject", "from", "to"):
            for value in self._fields.get(name, ()):
                word = ENCODED_WORD.search(value)
                if word is not None:
                    return word.group(1).split("*", 1)[0]
        return None
