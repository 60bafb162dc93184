"""Phone numbers in the forms callers give them, read in a configurable default region."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from intake.domain.customers import (
    phone_key,
    read_phone,
)
from intake.domain.phones import MAX_PHONE_LENGTH, e164, phone, signature_phones, valid_region
from intake.settings import IntakeSettings

pytestmark = pytest.mark.unit

BERLIN = "+49301234567"


@pytest.mark.parametrize(
    "given",
    [
        "+49 30 1234567",
        "0049 30 1234567",
        "030 1234567",
        "+49 (0) 30 1234567",
        "+49-30-123 45 67",
        "+49.30.1234567",
        "030/1234567",
        "+49 30 1234567 ext. 12",  # the extension is not part of the number compared
    ],
)
def test_every_form_of_a_berlin_number_is_one_number_in_germany(given: str) -> None:
    assert e164(given, region="DE") == BERLIN


@pytest.mark.parametrize(
    ("given", "region", "expected"),
    [
        ("601 234 567", "PL", "+48601234567"),
        ("601 234 567", "DE", "+49601234567"),
        ("030 1234567", "AT", "+43301234567"),
        ("(202) 555-0143", "US", "+12025550143"),
        ("020 7946 0958", "GB", "+442079460958"),
        ("0171 2345678", "DE", "+491712345678"),
        # Given with its country code, a number is the same whatever the region.
        ("+44 20 7946 0958", "US", "+442079460958"),
        ("+44 20 7946 0958", "DE", "+442079460958"),
        # International prefixes are the region's own: 00 in Europe, 011 from the US.
        ("0044 20 7946 0958", "DE", "+442079460958"),
        ("011 44 20 7946 0958", "US", "+442079460958"),
        # With no region, a national number cannot be read.
        ("030 1234567", None, None),
    ],
)
def test_a_national_number_is_read_in_the_region(
    given: str, region: str | None, expected: str | None
) -> None:
    assert e164(given, region=region) == expected


@pytest.mark.parametrize(
    "given",
    ["abc", "+420 777", "+49 30 12345678901234567890", "1" * 200],
    ids=["letters", "too-short", "too-long-to-be-a-number", "200-characters"],
)
def test_what_cannot_be_read_is_kept_as_given_and_flagged(given: str) -> None:
    read = phone(given, region="DE")
    assert read is not None
    assert (read.e164, read.valid, read.key) == (None, False, read.raw)
    assert read.raw == given[:MAX_PHONE_LENGTH]


@pytest.mark.parametrize("given", ["", "   ", "\t\n"])
def test_a_blank_number_is_none(given: str) -> None:
    assert phone(given, region="DE") is None


def test_a_number_as_given_keeps_its_text_with_single_spaces() -> None:
    read = phone("  030   1234567 ", region="DE")
    assert read is not None
    assert (read.raw, read.key, read.valid) == ("030 1234567", BERLIN, True)


@pytest.mark.parametrize(
    ("given", "expected"),
    [("030 1234567", BERLIN), ("+420 777", "+420 777"), ("n/a", None), ("", None)],
)
def test_the_comparison_key_of_a_contacts_number(given: str, expected: str | None) -> None:
    # No digit at all is no number: "n/a" in a form's phone field files nothing.
    assert phone_key(given, region="DE") == expected
    read = read_phone(given, region="DE")
    assert (None if read is None else read.phone) == expected


def test_a_signatures_numbers_are_those_after_its_mark_in_order_each_once() -> None:
    body = (
        "Hello,\n> Tel 030 9999999 (quoted: someone else's)\nThe printer jams again.\n"
        "-- \nJo Doe\nTel +49 30 1234567\nFax 030 1234568\nMobile: 0171 2345678\n"
        "Tel. 030 1234567\n"
    )
    assert signature_phones(body, region="DE") == [BERLIN, "+49301234568", "+491712345678"]


def test_without_a_mark_the_signature_is_the_last_lines() -> None:
    assert signature_phones("Line\n" * 20 + "Call 030 1234567", region="DE") == [BERLIN]
    assert signature_phones("Call 030 1234567\n" + "Line\n" * 20, region="DE") == []


def test_a_signatures_national_numbers_are_read_in_the_region() -> None:
    signed = "Jo\n-- \nTel 0171 2345678"
    assert signature_phones(signed, region="DE") == ["+491712345678"]
    assert signature_phones(signed, region="AT") == ["+431712345678"]
    # Only valid numbers are picked out of text: a Polish mobile is none in Germany.
    assert signature_phones("Jo\n-- \nTel 601 234 567", region="PL") == ["+48601234567"]
    assert signature_phones("Jo\n-- \nTel 601 234 567", region="DE") == []


@pytest.mark.parametrize(("region", "valid"), [("DE", True), ("de", True), ("XX", False)])
def test_valid_region(region: str, valid: bool) -> None:
    assert valid_region(region) is valid


def settings(**environment: str) -> IntakeSettings:
    return IntakeSettings.model_validate(
        {"INTAKE_DATABASE_URL": "postgresql://localhost/intake", **environment}
    )


def test_the_default_region_is_germany_and_configurable() -> None:
    assert settings().default_phone_region == "DE"
    assert settings(INTAKE_DEFAULT_PHONE_REGION=" pl ").default_phone_region == "PL"


def test_an_unknown_default_region_fails_at_start_up() -> None:
    with pytest.raises(ValidationError, match="INTAKE_DEFAULT_PHONE_REGION"):
        settings(INTAKE_DEFAULT_PHONE_REGION="Germany")
