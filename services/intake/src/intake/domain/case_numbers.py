"""Recognising a follow-up: a subject that names an existing case by its number.

Case numbers look like ``CAS-2026-000123``: the year the case was opened and a sequence of at
least six digits. Intake only reads them; the cases service decides whether the case exists
and is still open.
"""

from __future__ import annotations

import re

# Standing on its own: no letter, digit or underscore glued to either end, so
# "XCAS-2026-000001" or "CAS-2026-000001abc" name no case. Letter case is not significant.
_REFERENCE = re.compile(r"(?<!\w)CAS-([0-9]{4})-([0-9]{6,})(?!\w)", re.IGNORECASE | re.ASCII)


def find_case_number(text: str) -> str | None:
    """The first case number `text` refers to, in canonical spelling, or None."""
    for match in _REFERENCE.finditer(text):
        year, sequence = int(match.group(1)), int(match.group(2))
        if year < 1000 or sequence == 0:
            continue  # shaped like a reference, yet no case can have that number
        return f"CAS-{year:04d}-{sequence:06d}"
    return None
