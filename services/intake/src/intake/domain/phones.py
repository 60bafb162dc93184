"""Phone numbers as callers give them, and as Caseflow compares them: E.164.

`+49 30 1234567`, `0049 30 1234567`, `030 1234567` (in Germany) and `+49 (0) 30 1234567` are
one number, `+49301234567`. National numbers are read in a default region (the service's
setting, e.g. `DE`). A number that cannot be read is kept as given and flagged, never dropped:
it still matches itself, given the same way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat, PhoneNumberMatcher

MAX_PHONE_LENGTH = 64
"""The longest phone number kept, as given."""

_SIGNATURE_LINES = 12
"""How many last lines of a message count as its signature when no `-- ` marks it."""

_SIGNATURE_MARK = re.compile(r"^-- ?$", re.MULTILINE)


@dataclass(frozen=True, kw_only=True)
class Phone:
    """A phone number as given, and its E.164 form when it could be read."""

    raw: str
    e164: str | None

    @property
    def key(self) -> str:
        """What numbers are compared by: the E.164 form, else the text as given."""
        return self.e164 or self.raw

    @property
    def valid(self) -> bool:
        """Whether the number could be read as a phone number."""
        return self.e164 is not None


def phone(text: str, *, region: str | None) -> Phone | None:
    """The number `text` gives, read in `region` when it is national; None when blank.

    What is too long for a number is cut to `MAX_PHONE_LENGTH` characters and kept, flagged.
    """
    raw = " ".join(text.split())[:MAX_PHONE_LENGTH]
    if not raw:
        return None
    return Phone(raw=raw, e164=e164(raw, region=region))


def e164(text: str, *, region: str | None) -> str | None:
    """`text` in E.164 (`+49301234567`), or None when it is no possible phone number."""
    if len(text) > MAX_PHONE_LENGTH:
        return None
    try:
        number = phonenumbers.parse(text, region)
    except NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def valid_region(region: str) -> bool:
    """Whether `region` is a region code phone numbers know (ISO 3166 alpha-2, e.g. `DE`)."""
    return region.upper() in phonenumbers.SUPPORTED_REGIONS


def signature_phones(body: str, *, region: str | None) -> list[str]:
    """The numbers in a message's signature, in E.164, in order, each once.

    The signature is what follows the last `-- ` line, or else the last lines of the message;
    quoted lines (`>`) are someone else's.
    """
    marks = list(_SIGNATURE_MARK.finditer(body))
    tail = "\n".join(body.splitlines()[-_SIGNATURE_LINES:])
    block = body[marks[-1].end() :] if marks else tail
    own = "\n".join(line for line in block.splitlines() if not line.lstrip().startswith(">"))
    found: list[str] = []
    for match in PhoneNumberMatcher(own, region):
        number = phonenumbers.format_number(match.number, PhoneNumberFormat.E164)
        if number not in found:
            found.append(number)
    return found
