"""Case numbers: formatting, parsing and finding references in mail text."""

from __future__ import annotations

import pytest

from cases.domain import (
    CaseError,
    CaseNumberError,
    format_case_number,
    normalize_case_number,
    parse_case_number,
)

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("year", "seq", "expected"),
    [
        (2026, 123, "CAS-2026-000123"),
        (2026, 1, "CAS-2026-000001"),
        (1999, 999_999, "CAS-1999-999999"),
        (2026, 1_234_567, "CAS-2026-1234567"),
        (1000, 42, "CAS-1000-000042"),
        (9999, 42, "CAS-9999-000042"),
    ],
)
def test_format_case_number(year: int, seq: int, expected: str) -> None:
    assert format_case_number(year, seq) == expected


@pytest.mark.parametrize(
    ("year", "seq"),
    [(999, 1), (10_000, 1), (2026, 0), (2026, -5)],
)
def test_format_case_number_refuses_what_cannot_form_a_number(year: int, seq: int) -> None:
    with pytest.raises(CaseNumberError):
        format_case_number(year, seq)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("CAS-2026-000123", (2026, 123)),
        ("  cas-2026-000123\n", (2026, 123)),
        ("Cas-2030-1000000", (2030, 1_000_000)),
        ("\tCAS-1999-999999 ", (1999, 999_999)),
    ],
)
def test_parse_case_number(text: str, expected: tuple[int, int]) -> None:
    assert parse_case_number(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "CAS-2026-123",  # too few digits
        "CAS-26-000123",
        "CASE-2026-000123",
        "CAS-2026-000000",  # no case zero
        "CAS-0999-000001",
        "CAS 2026 000123",
        "[CAS-2026-000123]",
        "CAS-2026-000123x",
        "xCAS-2026-000123",
        "CAS-2026-\u0660\u0660\u0660\u0661\u0662\u0663",  # Arabic-Indic digits
        "CAS-2026-000123 CAS-2026-000124",
    ],
)
def test_parse_case_number_refuses_garbage(text: str) -> None:
    with pytest.raises(CaseNumberError):
        parse_case_number(text)


def test_case_number_error_is_a_case_error_and_a_value_error() -> None:
    with pytest.raises(CaseError):
        parse_case_number("nonsense")
    with pytest.raises(ValueError, match="not a case number"):
        parse_case_number("nonsense")


@pytest.mark.parametrize(
    ("year", "seq"),
    [(2026, 1), (2026, 999_999), (2027, 1_000_000), (1000, 5), (9999, 123_456)],
)
def test_parse_reads_back_what_format_writes(year: int, seq: int) -> None:
    assert parse_case_number(format_case_number(year, seq)) == (year, seq)


def test_numbers_sort_as_year_then_sequence_up_to_six_digits() -> None:
    pairs = [(2027, 1), (2026, 10), (2026, 9), (2026, 999_999), (2025, 500_000)]
    numbers = [format_case_number(year, seq) for year, seq in pairs]
    assert [parse_case_number(n) for n in sorted(numbers)] == sorted(pairs)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (" cas-2026-000123 ", "CAS-2026-000123"),
        ("Cas-2026-0000042", "CAS-2026-000042"),  # leading zero beyond six digits
    ],
)
def test_normalize_case_number(text: str, expected: str) -> None:
    assert normalize_case_number(text) == expected
