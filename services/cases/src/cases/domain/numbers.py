"""Case numbers: readable, sortable references such as ``CAS-2026-000123``.

The number is built from the year the case was opened and a sequence the repository draws
from a database sequence. Six digits keep numbers of one year in lexical order up to
999 999 cases; beyond that the number grows a digit and stays unique and readable, and
``parse_case_number`` gives the ``(year, sequence)`` pair to sort by.
"""

from __future__ import annotations

import re

from cases.domain.errors import CaseNumberError

PREFIX = "CAS"
SEQUENCE_DIGITS = 6
MIN_YEAR = 1000
MAX_YEAR = 9999

_NUMBER = re.compile(rf"{PREFIX}-([0-9]{{4}})-([0-9]{{{SEQUENCE_DIGITS},}})", re.IGNORECASE)


def format_case_number(year: int, seq: int) -> str:
    """The case number for the `seq`-th case opened in `year`."""
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise CaseNumberError(f"year {year} is outside {MIN_YEAR}..{MAX_YEAR}")
    if seq < 1:
        raise CaseNumberError(f"sequence {seq} must be 1 or more")
    return f"{PREFIX}-{year:04d}-{seq:0{SEQUENCE_DIGITS}d}"


def parse_case_number(text: str) -> tuple[int, int]:
    """The (year, sequence) a case number stands for, ignoring letter case and outer spaces."""
    match = _NUMBER.fullmatch(text.strip())
    if match is None:
        raise CaseNumberError(f"{text!r} is not a case number like {PREFIX}-2026-000123")
    year, seq = int(match.group(1)), int(match.group(2))
    if year < MIN_YEAR or seq < 1:
        raise CaseNumberError(f"{text!r} has no valid year or sequence")
    return year, seq


def normalize_case_number(text: str) -> str:
    """The canonical spelling of a case number typed in any letter case or spacing."""
    return format_case_number(*parse_case_number(text))
