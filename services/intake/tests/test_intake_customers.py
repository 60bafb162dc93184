"""Customer identification: normalising addresses and numbers, finding or making the contact."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

import pytest

from intake.domain.customers import (
    Account,
    Contact,
    account_domain,
    identify,
    new_account,
    normalize_email,
    normalize_phone,
)
from intake.domain.errors import AccountRejected, SubmissionRejected

NOW = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)
NEW_ID = UUID(int=99)
ACME = Account(account_id=UUID(int=1), name="Acme", domains=("acme.example",), created_at=NOW)


def contact(n: int, *, emails: tuple[str, ...] = (), phones: tuple[str, ...] = ()) -> Contact:
    return Contact(
        contact_id=UUID(int=n),
        name=f"Contact {n}",
        account_id=None,
        emails=emails,
        phones=phones,
        created_at=NOW,
    )


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Marta.Kowalska@Example.COM ", "marta.kowalska@example.com"),
        ("ops@acme.example", "ops@acme.example"),
    ],
)
def test_normalize_email(raw: str, expected: str) -> None:
    assert normalize_email(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+48 601 234 567", "+48601234567"),
        (" +1 (555) 010-9999 ", "+15550109999"),
        ("0601-234-567", "0601234567"),
        ("ext. 42", "42"),
        ("1+2", "12"),
        ("n/a", None),
        ("", None),
    ],
)
def test_normalize_phone_keeps_digits_and_a_leading_plus(raw: str, expected: str | None) -> None:
    assert normalize_phone(raw) == expected


@pytest.mark.parametrize(
    ("email", "expected"),
    [
        ("jo@Acme.Example", "acme.example"),
        ("jo@gmail.com", None),
        ("jo@OUTLOOK.com", None),
        ("no-at-sign", None),
    ],
)
def test_account_domain_ignores_public_mail_providers(email: str, expected: str | None) -> None:
    assert account_domain(email) == expected


def test_a_known_address_identifies_its_contact_and_teaches_a_new_phone() -> None:
    known = contact(5, emails=("marta@acme.example",), phones=("+48111",))
    result = identify(
        name="Marta K.",
        email=" MARTA@acme.example",
        phone="+48 601 234 567",
        by_email=known,
        by_phone=[],
        account=ACME,
        new_contact_id=NEW_ID,
        now=NOW,
    )
    assert result.first_contact is False
    assert result.contact.contact_id == known.contact_id
    assert result.contact.account_id is None  # a known contact keeps its account
    assert result.added_emails == ()
    assert result.added_phones == ("+48601234567",)
    assert result.contact.phones == ("+48111", "+48601234567")


def test_a_known_phone_identifies_its_only_contact_and_teaches_the_address() -> None:
    known = contact(6, emails=("old@acme.example",), phones=("+48601234567",))
    result = identify(
        name="Marta",
        email="new@acme.example",
        phone="+48 601 234 567",
        by_email=None,
        by_phone=[known],
        account=None,
        new_contact_id=NEW_ID,
        now=NOW,
    )
    assert (result.first_contact, result.contact.contact_id) == (False, known.contact_id)
    assert result.added_emails == ("new@acme.example",)
    assert result.added_phones == ()


def test_a_shared_phone_identifies_nobody() -> None:
    shared = [contact(7, phones=("+4822",)), contact(8, phones=("+4822",))]
    result = identify(
        name="Reception",
        email="desk@somewhere.example",
        phone="+48 22",
        by_email=None,
        by_phone=shared,
        account=None,
        new_contact_id=NEW_ID,
        now=NOW,
    )
    assert result.first_contact is True
    assert result.contact.contact_id == NEW_ID


def test_a_first_contact_joins_the_account_owning_its_domain() -> None:
    result = identify(
        name="  Jo Doe ",
        email="Jo@ACME.example",
        phone=None,
        by_email=None,
        by_phone=[],
        account=ACME,
        new_contact_id=NEW_ID,
        now=NOW,
    )
    assert result.first_contact is True
    assert result.contact == Contact(
        contact_id=NEW_ID,
        name="Jo Doe",
        account_id=ACME.account_id,
        emails=("jo@acme.example",),
        phones=(),
        created_at=NOW,
    )


@pytest.mark.parametrize("email", ["jo@gmail.com", "jo@other.example"])
def test_a_first_contact_outside_the_accounts_domains_has_no_account(email: str) -> None:
    claims_everything = Account(
        account_id=UUID(int=2),
        name="Odd",
        domains=("gmail.com", "acme.example"),
        created_at=NOW,
    )
    result = identify(
        name="Jo",
        email=email,
        phone=None,
        by_email=None,
        by_phone=[],
        account=claims_everything,
        new_contact_id=NEW_ID,
        now=NOW,
    )
    assert result.first_contact is True
    assert result.contact.account_id is None


@pytest.mark.parametrize(
    ("name", "email"), [("Jo\x00", "jo@acme.example"), ("Jo", "not-an-address"), (" ", "a@b.c")]
)
def test_identify_rejects_unusable_sender_details(name: str, email: str) -> None:
    with pytest.raises(SubmissionRejected):
        identify(
            name=name,
            email=email,
            phone=None,
            by_email=None,
            by_phone=[],
            account=None,
            new_contact_id=NEW_ID,
            now=NOW,
        )


def test_a_customer_known_by_phone_alone_is_filed_without_an_address() -> None:
    result = identify(
        name=" Walk-in ",
        email=None,
        phone="601 234 567",
        by_email=None,
        by_phone=[],
        account=ACME,
        new_contact_id=NEW_ID,
        now=NOW,
    )
    assert result.first_contact is True
    assert (result.contact.name, result.contact.emails, result.contact.phones) == (
        "Walk-in",
        (),
        ("601234567",),
    )
    assert result.contact.account_id is None  # no address, no domain to find an account by


def test_a_phone_alone_finds_its_only_contact_and_teaches_nothing_else() -> None:
    known = contact(7, emails=("jo@acme.example",), phones=("601234567",))
    result = identify(
        name="Jo",
        email=None,
        phone="601-234-567",
        by_email=None,
        by_phone=[known],
        account=None,
        new_contact_id=NEW_ID,
        now=NOW,
    )
    assert (result.first_contact, result.contact.contact_id) == (False, known.contact_id)
    assert (result.added_emails, result.added_phones) == ((), ())


@pytest.mark.parametrize("phone", [None, "", "no number"])
def test_a_customer_without_an_address_or_a_number_cannot_be_filed(phone: str | None) -> None:
    with pytest.raises(SubmissionRejected, match="email address or a phone number"):
        identify(
            name="Jo",
            email=None,
            phone=phone,
            by_email=None,
            by_phone=[],
            account=None,
            new_contact_id=NEW_ID,
            now=NOW,
        )


def test_new_account_normalises_and_deduplicates_its_domains() -> None:
    account = new_account(
        account_id=UUID(int=3), name=" Acme ", domains=["@ACME.example.", "acme.example"], now=NOW
    )
    assert (account.name, account.domains) == ("Acme", ("acme.example",))


@pytest.mark.parametrize(
    ("name", "domains"),
    [("Acme", ["gmail.com"]), ("Acme", ["not a domain"]), ("Acme", ["localhost"]), ("  ", [])],
)
def test_new_account_rejects_public_or_malformed_domains_and_blank_names(
    name: str, domains: list[str]
) -> None:
    with pytest.raises(AccountRejected):
        new_account(account_id=UUID(int=3), name=name, domains=domains, now=NOW)
