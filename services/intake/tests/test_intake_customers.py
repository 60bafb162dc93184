"""The customer card's rules: identifying a sender, filing and changing accounts and contacts,
merging and erasing contacts, and intake's copy of the cases in any order."""

from __future__ import annotations

import unicodedata
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest

from intake.domain.customer_errors import (
    ContactInactive,
    ContactRejected,
    MergeRefused,
    StaleCard,
)
from intake.domain.customers import (
    Account,
    AccountChanges,
    AccountDetails,
    Contact,
    ContactChanges,
    ContactDetails,
    EmailAddress,
    EmailKind,
    GivenEmail,
    GivenPhone,
    PhoneKind,
    PhoneNumber,
    account_domain,
    changed_account,
    changed_contact,
    check_version,
    erased_contact,
    filed_account,
    fold,
    merged_contacts,
    new_contact,
    normalize_email,
    phone_key,
    read_phone,
)
from intake.domain.errors import AccountRejected, SubmissionRejected
from intake.domain.history import (
    CaseFacts,
    CaseSummary,
    project_case,
)
from intake.domain.identification import (
    identify,
    learn_signature_phones,
)

NOW = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)
LATER = NOW + timedelta(hours=1)
NEW_ID = UUID(int=99)
ACME = Account(account_id=UUID(int=1), name="Acme", domains=("acme.example",), created_at=NOW)
DE = "DE"


def contact(n: int, *, emails: tuple[str, ...] = (), phones: tuple[str, ...] = ()) -> Contact:
    return Contact(
        contact_id=UUID(int=n),
        name=f"Contact {n}",
        account_id=None,
        emails=emails,
        phones=phones,
        created_at=NOW,
    )


def sender(
    *,
    name: str = "Jo",
    email: str | None = None,
    phone: str | None = None,
    by_email: Contact | None = None,
    by_phone: tuple[Contact, ...] = (),
    account: Account | None = None,
    region: str | None = DE,
) -> object:
    return identify(
        name=name,
        email=email,
        phone=phone,
        by_email=by_email,
        by_phone=list(by_phone),
        account=account,
        new_contact_id=NEW_ID,
        now=NOW,
        region=region,
    )


# -- normalising ------------------------------------------------------------------------------


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
        ("José  Müller", "jose muller"),
        ("ŁUKASZ Żółć", "łukasz zołc"),  # Ł has no decomposition: it stays, folded
        ("  Ørsted\tA/S ", "ørsted a/s"),
        ("Straße", "strasse"),
        ("ﬁrma", "firma"),  # NFKD splits the ligature
        ("", ""),
    ],
)
def test_fold_drops_accents_case_and_extra_spaces(raw: str, expected: str) -> None:
    assert fold(raw) == expected


def test_fold_is_the_migrations_fold() -> None:
    # Migration 0005 filled search_name with its own copy; they must never disagree.
    def migration_fold(text: str) -> str:
        decomposed = unicodedata.normalize("NFKD", text)
        bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
        return " ".join(bare.casefold().split())

    for text in ["Café Noël", "ÅSA  Öberg", "İstanbul", "Ǆemal", "ＡＢＣ"]:
        assert fold(text) == migration_fold(text)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+49 30 1234567", "+49301234567"),
        ("0049 30 1234567", "+49301234567"),
        ("030 1234567", "+49301234567"),
        ("+49 (0) 30 1234567", "+49301234567"),
        ("+48 601 234 567", "+48601234567"),
        ("+420 777", "+420 777"),  # too short to be a number: kept as given
        ("n/a", None),
        ("", None),
    ],
)
def test_phone_key_is_e164_else_as_given(raw: str, expected: str | None) -> None:
    assert phone_key(raw, region=DE) == expected


def test_read_phone_flags_a_number_it_cannot_read() -> None:
    assert read_phone("+420 777", region=DE) == PhoneNumber(
        phone="+420 777", raw="+420 777", valid=False
    )


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


# -- identifying who sent a request -----------------------------------------------------------


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
        region=DE,
    )
    assert result.first_contact is False
    assert result.contact.contact_id == known.contact_id
    assert result.contact.account_id is None  # a known contact keeps its account
    assert result.added_emails == ()
    assert result.added_phones == ("+48601234567",)
    assert result.contact.phones == ("+48111", "+48601234567")
    assert result.contact.phone_numbers[-1] == PhoneNumber(
        phone="+48601234567", raw="+48 601 234 567", kind=PhoneKind.OTHER
    )
    assert (result.contact.version, result.contact.updated_at) == (2, NOW)


@pytest.mark.parametrize(
    "given", ["+49 30 1234567", "0049 30 1234567", "030 1234567", "+49 (0) 30 1234567"]
)
def test_every_form_of_a_number_finds_the_same_contact(given: str) -> None:
    known = contact(6, emails=("jo@acme.example",), phones=("+49301234567",))
    result = identify(
        name="Jo",
        email=None,
        phone=given,
        by_email=None,
        by_phone=[known],
        account=None,
        new_contact_id=NEW_ID,
        now=NOW,
        region=DE,
    )
    assert (result.first_contact, result.contact.contact_id) == (False, known.contact_id)
    assert (result.added_emails, result.added_phones) == ((), ())
    assert result.contact.version == 1  # nothing learnt, nothing changed


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
        region=DE,
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
        region=DE,
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
        region=DE,
    )
    assert result.first_contact is True
    assert result.contact == Contact(
        contact_id=NEW_ID,
        name="Jo Doe",
        account_id=ACME.account_id,
        emails=("jo@acme.example",),
        phones=(),
        created_at=NOW,
        email_details=(EmailAddress(email="jo@acme.example"),),
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
        region=DE,
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
            region=DE,
        )


def test_a_customer_known_by_phone_alone_is_filed_without_an_address() -> None:
    result = identify(
        name=" Walk-in ",
        email=None,
        phone="030 1234567",
        by_email=None,
        by_phone=[],
        account=ACME,
        new_contact_id=NEW_ID,
        now=NOW,
        region=DE,
    )
    assert result.first_contact is True
    assert (result.contact.name, result.contact.emails, result.contact.phones) == (
        "Walk-in",
        (),
        ("+49301234567",),
    )
    assert result.contact.phone_numbers[0].raw == "030 1234567"
    assert result.contact.account_id is None  # no address, no domain to find an account by


def test_a_number_that_cannot_be_read_is_kept_as_given_and_flagged() -> None:
    result = identify(
        name="Jo",
        email=None,
        phone="+420 777",
        by_email=None,
        by_phone=[],
        account=None,
        new_contact_id=NEW_ID,
        now=NOW,
        region=DE,
    )
    [number] = result.contact.phone_numbers
    assert (number.phone, number.raw, number.valid) == ("+420 777", "+420 777", False)


def test_without_a_region_only_international_numbers_read() -> None:
    national = identify(
        name="Jo",
        email=None,
        phone="030 1234567",
        by_email=None,
        by_phone=[],
        account=None,
        new_contact_id=NEW_ID,
        now=NOW,
    )
    assert national.contact.phone_numbers[0].valid is False
    e164 = identify(
        name="Jo",
        email=None,
        phone="+49301234567",
        by_email=None,
        by_phone=[],
        account=None,
        new_contact_id=NEW_ID,
        now=NOW,
    )
    assert e164.contact.phones == ("+49301234567",)


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
            region=DE,
        )


def test_a_signature_teaches_a_known_contact_unverified_numbers_it_lacks() -> None:
    known = contact(9, emails=("jo@acme.example",), phones=("+49301234567",))
    result = identify(
        name="Jo",
        email="jo@acme.example",
        phone=None,
        by_email=known,
        by_phone=[],
        account=None,
        new_contact_id=NEW_ID,
        now=NOW,
        region=DE,
    )
    learnt = learn_signature_phones(result, ["+49301234567", "+491712345678"], now=NOW)
    assert learnt.added_phones == ("+491712345678",)
    assert learnt.contact.phone_numbers[-1] == PhoneNumber(
        phone="+491712345678", raw="+491712345678", kind=PhoneKind.OTHER, verified=False
    )
    assert learnt.contact.version == 2
    assert learn_signature_phones(result, ["+49301234567"], now=NOW) == result


def test_a_first_contacts_signature_numbers_are_theirs_unverified() -> None:
    first = identify(
        name="Jo",
        email="jo@acme.example",
        phone=None,
        by_email=None,
        by_phone=[],
        account=None,
        new_contact_id=NEW_ID,
        now=NOW,
        region=DE,
    )
    learnt = learn_signature_phones(first, ["+491712345678"], now=NOW)
    assert learnt.first_contact is True
    assert [p.verified for p in learnt.contact.phone_numbers] == [False]
    assert learnt.contact.version == 1


# -- accounts ---------------------------------------------------------------------------------


def test_new_account_normalises_and_deduplicates_its_domains() -> None:
    account = filed_account(
        AccountDetails(name=" Acme ", domains=["@ACME.example.", "acme.example"]),
        account_id=UUID(int=3),
        now=NOW,
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
        filed_account(AccountDetails(name=name, domains=domains), account_id=UUID(int=3), now=NOW)


def test_an_account_card_is_tidied_and_a_hold_reason_kept_only_on_hold() -> None:
    account = filed_account(
        AccountDetails(
            name="Acme  GmbH",
            region=" EMEA ",
            tier=" Gold",
            credit_hold=False,
            credit_hold_reason="unpaid",
            notes="  key customer ",
        ),
        account_id=UUID(int=3),
        now=NOW,
    )
    assert (account.name, account.region, account.tier) == ("Acme GmbH", "EMEA", "gold")
    assert (account.credit_hold, account.credit_hold_reason, account.notes) == (
        False,
        None,
        "key customer",
    )
    assert account.version == 1


def test_a_change_raises_the_version_and_no_change_changes_nothing() -> None:
    held = filed_account(
        AccountDetails(name="Acme", tier="silver"), account_id=ACME.account_id, now=NOW
    )
    hold = AccountChanges(
        given=frozenset({"credit_hold", "credit_hold_reason", "tier"}),
        credit_hold=True,
        credit_hold_reason="Invoices unpaid",
        tier="GOLD",
    )
    changed = changed_account(held, hold, now=LATER)
    assert changed is not None
    assert (changed.credit_hold, changed.credit_hold_reason, changed.tier) == (
        True,
        "Invoices unpaid",
        "gold",
    )
    assert (changed.version, changed.updated_at, changed.name) == (2, LATER, "Acme")
    assert changed_account(changed, hold, now=LATER) is None
    lifted = changed_account(
        changed, AccountChanges(given=frozenset({"credit_hold"}), credit_hold=False), now=LATER
    )
    assert lifted is not None and lifted.credit_hold_reason is None


def test_an_accounts_domains_are_a_set() -> None:
    held = filed_account(
        AccountDetails(name="Acme", domains=["b.example", "a.example"]),
        account_id=UUID(int=3),
        now=NOW,
    )
    assert held.domains == ("a.example", "b.example")
    again = AccountChanges(given=frozenset({"domains"}), domains=["B.example", "a.example"])
    assert changed_account(held, again, now=LATER) is None


def test_check_version_refuses_a_stale_card() -> None:
    check_version(None, 3, of="account")
    check_version(3, 3, of="account")
    with pytest.raises(StaleCard):
        check_version(2, 3, of="account")


# -- contacts ---------------------------------------------------------------------------------


def test_a_new_contact_reads_its_numbers_and_keeps_what_it_cannot() -> None:
    jo = new_contact(
        ContactDetails(
            name=" Jo  Doe ",
            emails=[
                GivenEmail(email="Jo@Acme.example"),
                GivenEmail(email="jo@home.example", kind=EmailKind.HOME),
            ],
            phones=[
                GivenPhone(number="030 1234567"),
                GivenPhone(number="+49 (0) 30 1234567", kind=PhoneKind.MOBILE),  # the same
                GivenPhone(number="12-34 ext", kind=PhoneKind.FAX),
            ],
            language="PT-BR",
            preferred_channel="phone",
        ),
        contact_id=NEW_ID,
        region=DE,
        now=NOW,
    )
    assert jo.name == "Jo Doe"
    assert jo.emails == ("jo@acme.example", "jo@home.example")
    assert [e.kind for e in jo.email_addresses] == [EmailKind.WORK, EmailKind.HOME]
    assert jo.phones[0] == "+49301234567"
    assert len(jo.phones) == 2
    assert jo.phone_numbers[0] == PhoneNumber(phone="+49301234567", raw="030 1234567")
    assert jo.language == "pt-BR"


@pytest.mark.parametrize(
    ("details", "where"),
    [
        (ContactDetails(name="  "), ("name",)),
        (ContactDetails(name="Jo", emails=[GivenEmail(email="jo@")]), ("emails", 0)),
        (ContactDetails(name="Jo", phones=[GivenPhone(number="call me")]), ("phones", 0)),
        (ContactDetails(name="Jo", phones=[GivenPhone(number="   ")]), ("phones", 0)),
        (ContactDetails(name="Jo", phones=[GivenPhone(number="1" * 65)]), ("phones", 0)),
        (ContactDetails(name="Jo", language="not a tag"), ("language",)),
        (ContactDetails(name="Jo", preferred_channel="pigeon"), ("preferred_channel",)),
    ],
)
def test_a_contact_breaking_a_rule_is_refused_naming_the_field(
    details: ContactDetails, where: tuple[str | int, ...]
) -> None:
    with pytest.raises(ContactRejected) as refused:
        new_contact(details, contact_id=NEW_ID, region=DE, now=NOW)
    assert list(refused.value.problems) == [where]
    [error] = refused.value.problem_members["errors"]  # type: ignore[misc]
    assert error["loc"] == ["body", *where]


def test_changing_a_contact_keeps_what_is_not_given_and_verification_of_known_numbers() -> None:
    held = new_contact(
        ContactDetails(name="Jo", emails=[GivenEmail(email="jo@acme.example")]),
        contact_id=NEW_ID,
        region=DE,
        now=NOW,
    ).with_phones([PhoneNumber(phone="+49301234567", raw="+49301234567", verified=False)])
    changes = ContactChanges(
        given=frozenset({"position", "phones"}),
        position="Buyer",
        phones=[GivenPhone(number="030 1234567"), GivenPhone(number="0171 2345678")],
    )
    changed = changed_contact(held, changes, region=DE, now=LATER)
    assert changed is not None
    assert (changed.position, changed.emails, changed.version) == ("Buyer", held.emails, 2)
    assert [(p.phone, p.verified) for p in changed.phone_numbers] == [
        ("+49301234567", False),  # known: stays unverified
        ("+491712345678", True),  # new from an agent: verified
    ]
    assert changed_contact(changed, changes, region=DE, now=LATER) is None


def test_an_erased_contact_cannot_be_changed() -> None:
    gone = erased_contact(contact(1, emails=("jo@acme.example",)), now=NOW)
    assert gone is not None
    with pytest.raises(ContactInactive):
        changed_contact(
            gone, ContactChanges(given=frozenset({"name"}), name="Jo"), region=DE, now=LATER
        )


def test_merging_folds_the_duplicates_addresses_and_numbers_into_the_survivor() -> None:
    survivor = replace(
        contact(1, emails=("jo@acme.example",)),
        version=4,
    ).with_phones([PhoneNumber(phone="+49301234567", raw="030 1234567", verified=False)])
    duplicate = replace(
        contact(2, emails=("jo@home.example", "JO@acme.example".lower())),
        position="Buyer",
        account_id=ACME.account_id,
    ).with_phones(
        [
            PhoneNumber(phone="+49301234567", raw="+49 30 1234567"),
            PhoneNumber(phone="+491712345678", raw="0171 2345678", kind=PhoneKind.MOBILE),
        ]
    )
    merged, gone = merged_contacts(survivor, duplicate, now=LATER)
    assert merged.emails == ("jo@acme.example", "jo@home.example")
    assert [(p.phone, p.verified) for p in merged.phone_numbers] == [
        ("+49301234567", True),  # verified on either: verified
        ("+491712345678", True),
    ]
    assert (merged.position, merged.account_id, merged.version) == ("Buyer", ACME.account_id, 5)
    assert (gone.merged_into, gone.emails, gone.phones, gone.version) == (
        survivor.contact_id,
        (),
        (),
        2,
    )


def test_merging_into_itself_or_with_a_gone_contact_is_refused() -> None:
    jo = contact(1)
    with pytest.raises(MergeRefused):
        merged_contacts(jo, jo, now=NOW)
    erased = erased_contact(contact(2), now=NOW)
    assert erased is not None
    with pytest.raises(ContactInactive):
        merged_contacts(jo, erased, now=NOW)
    with pytest.raises(ContactInactive):
        merged_contacts(replace(jo, merged_into=UUID(int=3)), contact(2), now=NOW)


def test_erasing_drops_the_person_once() -> None:
    jo = replace(contact(1, emails=("jo@acme.example",), phones=("+4930",)), position="Buyer")
    erased = erased_contact(jo, now=LATER)
    assert erased is not None
    assert (erased.name, erased.emails, erased.phones, erased.position) == ("erased", (), (), None)
    assert (erased.erased_at, erased.version, erased.contact_id) == (LATER, 2, jo.contact_id)
    assert erased_contact(erased, now=LATER) is None
    with pytest.raises(ContactInactive):
        erased_contact(replace(jo, merged_into=UUID(int=2)), now=LATER)


# -- intake's copy of the cases ---------------------------------------------------------------

CASE = UUID(int=500)
T0 = NOW
T1, T2, T3 = (NOW + timedelta(minutes=n) for n in (1, 2, 3))


def opened(at: datetime = T0) -> CaseFacts:
    return CaseFacts(
        case_id=CASE,
        number="CAS-2026-000001",
        occurred_at=at,
        contact_id=UUID(int=1),
        account_id=ACME.account_id,
        channel="web",
        opened_at=at,
        subject="Printer jams",
        status="new",
        entitlement=(UUID(int=7), None),
    )


def status(to: str, at: datetime) -> CaseFacts:
    return CaseFacts(case_id=CASE, number="CAS-2026-000001", occurred_at=at, status=to)


def resolved(at: datetime) -> CaseFacts:
    return CaseFacts(
        case_id=CASE,
        number="CAS-2026-000001",
        occurred_at=at,
        status="resolved",
        ends=True,
        resolved_at=at,
        closed_at=at,
    )


def renamed(subject: str, at: datetime) -> CaseFacts:
    return CaseFacts(case_id=CASE, number="CAS-2026-000001", occurred_at=at, subject=subject)


def replay(*events: CaseFacts) -> CaseSummary | None:
    held: CaseSummary | None = None
    for facts in events:
        held = project_case(held, facts) or held
    return held


def test_the_cases_copy_follows_a_case_in_order() -> None:
    held = replay(
        opened(), status("in_progress", T1), renamed("Printer jams daily", T2), resolved(T3)
    )
    assert held == CaseSummary(
        case_id=CASE,
        number="CAS-2026-000001",
        updated_at=T3,
        contact_id=UUID(int=1),
        account_id=ACME.account_id,
        channel="web",
        subject="Printer jams daily",
        status="resolved",
        opened_at=T0,
        resolved_at=T3,
        closed_at=T3,
        entitlement_id=UUID(int=7),
    )


@pytest.mark.parametrize(
    "order",
    [
        (0, 1, 2, 3),
        (3, 2, 1, 0),
        (2, 0, 3, 1),
        (1, 2, 0, 3),
        (3, 2, 0, 1),
    ],
)
def test_the_cases_copy_is_the_same_in_any_order(order: tuple[int, ...]) -> None:
    events = [opened(), status("in_progress", T1), renamed("Printer jams daily", T2), resolved(T3)]
    in_order = replay(*events)
    assert replay(*(events[i] for i in order)) == in_order


def test_an_older_event_never_takes_a_case_back() -> None:
    held = replay(resolved(T3))
    assert held is not None and (held.status, held.subject) == ("resolved", "")
    late = project_case(held, opened())
    assert late is not None
    assert (late.status, late.subject, late.opened_at, late.updated_at) == (
        "resolved",
        "Printer jams",
        T0,
        T3,
    )
    assert project_case(late, status("in_progress", T1)) is None
    assert project_case(late, opened()) is None  # a redelivery changes nothing


def test_one_moment_per_case_keeps_the_first_subject_known_from_older_events() -> None:
    # The copy keeps one moment per case (`updated_at`): a rename older than it, arriving
    # after the opening filled the subject, is not applied; the next change brings it back.
    held = replay(resolved(T3), opened(), renamed("Printer jams daily", T2))
    assert held is not None and held.subject == "Printer jams"
    assert replay(resolved(T3), renamed("Printer jams daily", T2), opened()) == replay(
        opened(), renamed("Printer jams daily", T2), resolved(T3)
    )
