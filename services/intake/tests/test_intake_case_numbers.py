"""Recognising the case a subject follows up, by its case number."""

from __future__ import annotations

import pytest

from intake.domain.case_numbers import find_case_number


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Re: CAS-2026-000123 printer still broken", "CAS-2026-000123"),
        ("[cas-2026-000045] thanks", "CAS-2026-000045"),
        ("Re: (CAS-2025-1234567)", "CAS-2025-1234567"),
        ("about CAS-2026-0000123", "CAS-2026-000123"),
        ("CAS-2026-000001, CAS-2026-000002", "CAS-2026-000001"),
        ("CAS-2026-000000 then CAS-2026-000007", "CAS-2026-000007"),
        ("XCAS-2026-000001", None),
        ("CAS-2026-000001abc", None),
        ("CAS-2026-00012", None),
        ("CAS-0999-000012", None),
        ("Invoice 2024-0456 charged twice", None),
        ("", None),
    ],
)
def test_find_case_number(subject: str, expected: str | None) -> None:
    assert find_case_number(subject) == expected
