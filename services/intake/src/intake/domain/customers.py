"""Customers: accounts (organisations), their contacts, who sent a request, and their history.

A contact is known by its email addresses (each belongs to one contact) and its phone numbers
(which people may share: a switchboard number identifies nobody). Numbers are compared in
E.164 (`phones.e164`, read in the service's default region); one that cannot be read is kept
as given, flagged, and still matches itself given the same way. An account is found from an
email's domain, but only when an account claims that domain; public mail providers never map
to an account.

Every card carries a version, raised by every change (the HTTP API's ETag). A contact folded
into another stays as a pointer to it (`merged_into`); an erased one keeps its id, without the
person. A customer's history also holds intake's copy of their cases (`CaseSummary`), built
from the cases service's events in whatever order they come.

The errors of the customer card, besides `AccountRejected` and `DomainTaken` (domain.errors)::

    IntakeError
    └── CustomerError
        ├── ContactRejected         a contact's details break a rule (fields named): 422
        │   ├── UnknownAccount      the account it names is not on file
        │   └── MergeRefused        a contact merged into itself
        ├── CustomerNotFound        404
        │   ├── AccountNotFound
        │   └── ContactNotFound
        │       └── ContactMergedAway   folded into another contact (named): 404
        ├── CustomerConflict        409
        │   ├── EmailTaken          an address that belongs to another contact
        │   └── ContactInactive     a merged or erased contact asked to change or merge
        └── StaleCard               the card changed since the caller read it: 412
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Generic, TypeVar
from uuid import UUID

from intake.domain.customer_errors import (
    ContactInactive,
    ContactRejected,
    MergeRefused,
    StaleCard,
)
from intake.domain.errors import AccountRejected
from intake.domain.phones import MAX_PHONE_LENGTH, phone

# Free mail providers: an address there says nothing about the organisation behind it.
PUBLIC_EMAIL_DOMAINS: frozenset[str] = frozenset(
    {
        "126.com",
        "163.com",
        "aol.com",
        "fastmail.com",
        "free.fr",
        "gmail.com",
        "gmx.com",
        "gmx.de",
        "gmx.net",
        "googlemail.com",
        "hotmail.com",
        "icloud.com",
        "interia.pl",
        "laposte.net",
        "libero.it",
        "live.com",
        "mac.com",
        "mail.com",
        "mail.ru",
        "me.com",
        "msn.com",
        "o2.pl",
        "onet.pl",
        "orange.fr",
        "outlook.com",
        "proton.me",
        "protonmail.com",
        "qq.com",
        "seznam.cz",
        "web.de",
        "wp.pl",
        "yahoo.com",
        "yandex.com",
        "yandex.ru",
        "ymail.com",
        "zoho.com",
    }
)

# The channels a contact may prefer: intake.domain.interactions.Channel's values (that module
# imports this one, so it cannot be imported here).
CHANNELS: frozenset[str] = frozenset({"email", "web", "phone", "api", "letter", "visit"})

ERASED_NAME = "erased"
"""What an erased contact is called."""

MAX_EMAIL_LENGTH = 320

_DOMAIN = re.compile(r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s.]+(?:\.[^@\s.]+)+")
_E164 = re.compile(r"\+[1-9][0-9]{1,14}")
_LANGUAGE = re.compile(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*")

T = TypeVar("T")


# -- values -----------------------------------------------------------------------------------


class EmailKind(StrEnum):
    """What an email address is for."""

    WORK = "work"
    HOME = "home"
    OTHER = "other"


class PhoneKind(StrEnum):
    """What a phone number is."""

    WORK = "work"
    MOBILE = "mobile"
    HOME = "home"
    FAX = "fax"
    OTHER = "other"


@dataclass(frozen=True, kw_only=True)
class EmailAddress:
    """One of a contact's email addresses, normalised."""

    email: str
    kind: EmailKind = EmailKind.WORK


@dataclass(frozen=True, kw_only=True)
class PhoneNumber:
    """One of a contact's phone numbers: `phone` is what it is compared by (E.164 when it
    could be read, else as given), `raw` as it was given."""

    phone: str
    raw: str
    kind: PhoneKind = PhoneKind.WORK
    valid: bool = True
    verified: bool = True
    """False for a number intake only saw in an email's signature."""


@dataclass(frozen=True, kw_only=True)
class GivenEmail:
    """An email address as an agent typed it."""

    email: str
    kind: EmailKind = EmailKind.WORK


@dataclass(frozen=True, kw_only=True)
class GivenPhone:
    """A phone number as an agent typed it; `verified` None keeps what is known of it."""

    number: str
    kind: PhoneKind = PhoneKind.WORK
    verified: bool | None = None


@dataclass(frozen=True, kw_only=True)
class Account:
    """An organisation the service desk serves, with the mail domains it owns."""

    account_id: UUID
    name: str
    domains: tuple[str, ...]
    created_at: datetime
    region: str | None = None
    industry: str | None = None
    tier: str | None = None
    """How valuable the customer is (e.g. `gold`), for routing and SLA."""
    owner_id: UUID | None = None
    """The specialist attached to the customer (an agent id)."""
    credit_hold: bool = False
    credit_hold_reason: str | None = None
    notes: str = ""
    version: int = 1
    updated_at: datetime | None = None


@dataclass(frozen=True, kw_only=True)
class Contact:
    """A person who contacts the service desk, possibly on behalf of an account.

    `emails` and `phones` are what the contact is found by, in order: addresses normalised,
    numbers as compared (E.164 where they could be read). What else is known of each (its
    kind, a number as given) is in `email_details` and `phone_details`; read both through
    `email_addresses` and `phone_numbers`, which fill in what is missing, and change both with
    `with_emails` and `with_phones`.
    """

    contact_id: UUID
    name: str
    account_id: UUID | None
    emails: tuple[str, ...]
    phones: tuple[str, ...]
    created_at: datetime
    email_details: tuple[EmailAddress, ...] = ()
    phone_details: tuple[PhoneNumber, ...] = ()
    position: str | None = None
    language: str | None = None
    preferred_channel: str | None = None
    version: int = 1
    updated_at: datetime | None = None
    merged_into: UUID | None = None
    erased_at: datetime | None = None

    @property
    def email_addresses(self) -> tuple[EmailAddress, ...]:
        """The contact's addresses with their kinds (work when not known)."""
        known = {e.email: e for e in self.email_details}
        return tuple(known.get(email) or EmailAddress(email=email) for email in self.emails)

    @property
    def phone_numbers(self) -> tuple[PhoneNumber, ...]:
        """The contact's numbers as given, with their kinds and flags."""
        known = {p.phone: p for p in self.phone_details}
        return tuple(
            known.get(key) or PhoneNumber(phone=key, raw=key, valid=bool(_E164.fullmatch(key)))
            for key in self.phones
        )

    @property
    def active(self) -> bool:
        """Whether the contact is neither merged into another nor erased."""
        return self.merged_into is None and self.erased_at is None

    def with_emails(self, entries: Sequence[EmailAddress]) -> Contact:
        """The contact with these addresses, in this order."""
        return replace(self, emails=tuple(e.email for e in entries), email_details=tuple(entries))

    def with_phones(self, entries: Sequence[PhoneNumber]) -> Contact:
        """The contact with these numbers, in this order."""
        return replace(self, phones=tuple(p.phone for p in entries), phone_details=tuple(entries))


@dataclass(frozen=True, kw_only=True)
class Page(Generic[T]):
    """One page of what a search found, and how many it found in all."""

    items: tuple[T, ...]
    total: int


@dataclass(frozen=True, kw_only=True)
class ContactQuery:
    """What contacts are searched by; every criterion given must hold."""

    name: str | None = None
    """Folded (`fold`): a part of the name."""
    email: str | None = None
    """Normalised: the whole address."""
    phone: str | None = None
    """As numbers are compared (`phone_key`)."""
    account_id: UUID | None = None
    region: str | None = None
    """The region of the contact's account."""
    limit: int = 50
    offset: int = 0


@dataclass(frozen=True, kw_only=True)
class AccountQuery:
    """What accounts are searched by; every criterion given must hold."""

    name: str | None = None
    """Folded (`fold`): a part of the name."""
    region: str | None = None
    tier: str | None = None
    domain: str | None = None
    limit: int = 50
    offset: int = 0


# -- normalising ------------------------------------------------------------------------------


def fold(text: str) -> str:
    """A name as it is searched: no accents, lower case, single spaces (`Łódź  Café` → `łodz
    cafe`); the same as migration 0005's, which filled `search_name` for existing rows."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(bare.casefold().split())


def normalize_email(text: str) -> str:
    """An email address as Caseflow compares it: trimmed and in lower case."""
    return text.strip().lower()


def read_phone(text: str, *, region: str | None) -> PhoneNumber | None:
    """The number `text` gives, compared in E.164 when it can be read in `region` and as given
    otherwise; None when it holds no digit at all (`n/a`, blank), which is no number."""
    if not any(ch.isdigit() for ch in text):
        return None
    read = phone(text, region=region)
    if read is None:
        return None
    return PhoneNumber(phone=read.key, raw=read.raw, valid=read.valid)


def phone_key(text: str, *, region: str | None) -> str | None:
    """What a number is compared by (E.164, else as given); None when it is no number."""
    read = read_phone(text, region=region)
    return None if read is None else read.phone


def email_domain(email: str) -> str:
    """The domain part of an email address, normalised; empty when there is none."""
    _, at, domain = normalize_email(email).rpartition("@")
    return domain.rstrip(".") if at else ""


def account_domain(email: str) -> str | None:
    """The domain that may name the sender's organisation; None for public mail providers."""
    domain = email_domain(email)
    if not domain or domain in PUBLIC_EMAIL_DOMAINS:
        return None
    return domain


def normalize_domain(text: str) -> str:
    """A mail domain an account claims, normalised; rejects what is no domain or is public."""
    domain = text.strip().lower().lstrip("@").rstrip(".")
    if not _DOMAIN.fullmatch(domain) or len(domain) > 253:
        raise AccountRejected(f"{text!r} is not a mail domain like example.com")
    if domain in PUBLIC_EMAIL_DOMAINS:
        raise AccountRejected(f"{domain} is a public mail provider; it cannot name an account")
    return domain


def _optional(text: str | None) -> str | None:
    stripped = None if text is None else " ".join(text.split())
    return stripped or None


# -- accounts ---------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class AccountDetails:
    """What an agent says about an account."""

    name: str
    domains: Sequence[str] = ()
    region: str | None = None
    industry: str | None = None
    tier: str | None = None
    owner_id: UUID | None = None
    credit_hold: bool = False
    credit_hold_reason: str | None = None
    notes: str = ""


@dataclass(frozen=True, kw_only=True)
class AccountChanges(AccountDetails):
    """Changes to an account: the fields named in `given`, to the values they hold."""

    name: str = ""
    given: frozenset[str] = frozenset()


def filed_account(details: AccountDetails, *, account_id: UUID, now: datetime) -> Account:
    """An account as an agent files it."""
    return _account(details, account_id=account_id, created_at=now)


def changed_account(account: Account, changes: AccountChanges, *, now: datetime) -> Account | None:
    """The account with `changes` applied, at the next version; None if they change nothing."""
    current = AccountDetails(
        name=account.name,
        domains=account.domains,
        region=account.region,
        industry=account.industry,
        tier=account.tier,
        owner_id=account.owner_id,
        credit_hold=account.credit_hold,
        credit_hold_reason=account.credit_hold_reason,
        notes=account.notes,
    )
    wanted = replace(current, **{name: getattr(changes, name) for name in changes.given})
    changed = _account(wanted, account_id=account.account_id, created_at=account.created_at)
    changed = replace(changed, version=account.version, updated_at=account.updated_at)
    if changed == account:
        return None
    return replace(changed, version=account.version + 1, updated_at=now)


def _account(details: AccountDetails, *, account_id: UUID, created_at: datetime) -> Account:
    name = " ".join(details.name.split())
    if not name:
        raise AccountRejected("an account needs a name")
    # A set, kept in one order, so that the same domains given again change nothing.
    domains = sorted(set(map(normalize_domain, details.domains)))
    tier = _optional(details.tier)
    hold_reason = _optional(details.credit_hold_reason) if details.credit_hold else None
    return Account(
        account_id=account_id,
        name=name,
        domains=tuple(domains),
        created_at=created_at,
        region=_optional(details.region),
        industry=_optional(details.industry),
        # Tiers are compared by routing and SLA rules: one spelling each.
        tier=None if tier is None else tier.lower(),
        owner_id=details.owner_id,
        credit_hold=details.credit_hold,
        credit_hold_reason=hold_reason,
        notes=details.notes.strip(),
    )


# -- contacts ---------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ContactDetails:
    """What an agent says about a contact."""

    name: str
    account_id: UUID | None = None
    emails: Sequence[GivenEmail] = ()
    phones: Sequence[GivenPhone] = ()
    position: str | None = None
    language: str | None = None
    preferred_channel: str | None = None


@dataclass(frozen=True, kw_only=True)
class ContactChanges(ContactDetails):
    """Changes to a contact: the fields named in `given`, to the values they hold; `emails`
    and `phones`, when given, are the contact's whole lists."""

    name: str = ""
    given: frozenset[str] = frozenset()


def new_contact(
    details: ContactDetails, *, contact_id: UUID, region: str | None, now: datetime
) -> Contact:
    """A contact as an agent files them; numbers are read in `region` when national."""
    return _contact(details, contact_id=contact_id, created_at=now, region=region, known=None)


def changed_contact(
    contact: Contact, changes: ContactChanges, *, region: str | None, now: datetime
) -> Contact | None:
    """The contact with `changes` applied, at the next version; None if they change nothing.

    A number the contact has keeps whether it was verified unless the change says. Addresses
    and numbers not given again are kept as they are, unchecked by today's rules.
    """
    require_active(contact)
    current = ContactDetails(
        name=contact.name,
        account_id=contact.account_id,
        position=contact.position,
        language=contact.language,
        preferred_channel=contact.preferred_channel,
    )
    wanted = replace(current, **{name: getattr(changes, name) for name in changes.given})
    changed = _contact(
        wanted,
        contact_id=contact.contact_id,
        created_at=contact.created_at,
        region=region,
        known=contact,
    )
    if "emails" not in changes.given:
        changed = changed.with_emails(contact.email_addresses)
    if "phones" not in changes.given:
        changed = changed.with_phones(contact.phone_numbers)
    changed = replace(changed, version=contact.version, updated_at=contact.updated_at)
    if changed == _whole(contact):
        return None
    return replace(changed, version=contact.version + 1, updated_at=now)


def _whole(contact: Contact) -> Contact:
    """The contact with every detail of its addresses and numbers filled in."""
    return contact.with_emails(contact.email_addresses).with_phones(contact.phone_numbers)


def require_active(contact: Contact) -> None:
    """Refuse (409) to change a contact merged into another or erased."""
    if contact.merged_into is not None:
        raise ContactInactive(
            f"Contact {contact.contact_id} was merged into contact {contact.merged_into}."
        )
    if contact.erased_at is not None:
        raise ContactInactive(f"Contact {contact.contact_id} was erased.")


def _contact(
    details: ContactDetails,
    *,
    contact_id: UUID,
    created_at: datetime,
    region: str | None,
    known: Contact | None,
) -> Contact:
    problems: dict[tuple[str | int, ...], str] = {}
    name = " ".join(details.name.split())
    if not name:
        problems["name",] = "a contact needs a name"
    emails = _emails(details.emails, known=() if known is None else known.emails, problems=problems)
    phones = _phones(
        details.phones,
        region=region,
        known=() if known is None else known.phone_numbers,
        problems=problems,
    )
    language = _optional(details.language)
    if language is not None:
        if len(language) > 16 or not _LANGUAGE.fullmatch(language):
            problems["language",] = "a language is a tag such as de or pt-BR"
        else:
            primary, _, rest = language.partition("-")
            language = f"{primary.lower()}-{rest}" if rest else primary.lower()
    channel = _optional(details.preferred_channel)
    if channel is not None and channel not in CHANNELS:
        problems["preferred_channel",] = f"a channel is one of {', '.join(sorted(CHANNELS))}"
    if problems:
        listed = "; ".join(problems.values())
        raise ContactRejected(f"The contact is not valid: {listed}.", problems=problems)
    return (
        Contact(
            contact_id=contact_id,
            name=name,
            account_id=details.account_id,
            emails=(),
            phones=(),
            created_at=created_at,
            position=_optional(details.position),
            language=language,
            preferred_channel=channel,
        )
        .with_emails(emails)
        .with_phones(phones)
    )


def _emails(
    given: Sequence[GivenEmail],
    *,
    known: Sequence[str],
    problems: dict[tuple[str | int, ...], str],
) -> tuple[EmailAddress, ...]:
    found: list[EmailAddress] = []
    for index, entry in enumerate(given):
        address = normalize_email(entry.email)
        # An address the contact has already stays, even from before today's rules.
        if address not in known and (
            len(address) > MAX_EMAIL_LENGTH or not _EMAIL.fullmatch(address)
        ):
            problems["emails", index] = f"{entry.email[:80]!r} is not an email address"
        elif address not in (e.email for e in found):
            found.append(EmailAddress(email=address, kind=entry.kind))
    return tuple(found)


def _phones(
    given: Sequence[GivenPhone],
    *,
    region: str | None,
    known: Sequence[PhoneNumber],
    problems: dict[tuple[str | int, ...], str],
) -> tuple[PhoneNumber, ...]:
    held = {p.phone: p for p in known}
    found: list[PhoneNumber] = []
    for index, entry in enumerate(given):
        # Longer is no number anyone dials; cutting it would keep something nobody gave.
        read = (
            None
            if len(entry.number) > MAX_PHONE_LENGTH
            else read_phone(entry.number, region=region)
        )
        if read is None:
            problems["phones", index] = (
                f"a phone number has digits and at most {MAX_PHONE_LENGTH} characters"
            )
            continue
        if read.phone in (p.phone for p in found):
            continue
        before = held.get(read.phone)
        verified = entry.verified
        if verified is None:
            verified = True if before is None else before.verified
        found.append(replace(read, kind=entry.kind, verified=verified))
    return tuple(found)


# -- merging and erasing ----------------------------------------------------------------------


def merged_contacts(
    survivor: Contact, duplicate: Contact, *, now: datetime
) -> tuple[Contact, Contact]:
    """Fold `duplicate` into `survivor`: the survivor gains the addresses and numbers it lacks
    (a number either verified stays verified) and the details it has not; the duplicate stays
    as a pointer to it. Both at their next version."""
    if survivor.contact_id == duplicate.contact_id:
        raise MergeRefused(survivor.contact_id)
    require_active(survivor)
    require_active(duplicate)
    emails = survivor.email_addresses + tuple(
        e for e in duplicate.email_addresses if e.email not in survivor.emails
    )
    theirs = {p.phone: p for p in duplicate.phone_numbers}
    phones = tuple(
        replace(p, verified=True)
        if p.phone in theirs and theirs[p.phone].verified and not p.verified
        else p
        for p in survivor.phone_numbers
    ) + tuple(p for p in duplicate.phone_numbers if p.phone not in survivor.phones)
    merged = replace(
        survivor.with_emails(emails).with_phones(phones),
        account_id=survivor.account_id or duplicate.account_id,
        position=survivor.position or duplicate.position,
        language=survivor.language or duplicate.language,
        preferred_channel=survivor.preferred_channel or duplicate.preferred_channel,
        version=survivor.version + 1,
        updated_at=now,
    )
    gone = replace(
        duplicate.with_emails(()).with_phones(()),
        merged_into=survivor.contact_id,
        version=duplicate.version + 1,
        updated_at=now,
    )
    return merged, gone


def erased_contact(contact: Contact, *, now: datetime) -> Contact | None:
    """The contact without their personal data (name, addresses, numbers, position,
    language); None if they were erased already. Their id, account and history stay."""
    if contact.merged_into is not None:
        raise ContactInactive(
            f"Contact {contact.contact_id} was merged into contact {contact.merged_into}; "
            "erase that one."
        )
    if contact.erased_at is not None:
        return None
    return replace(
        contact.with_emails(()).with_phones(()),
        name=ERASED_NAME,
        position=None,
        language=None,
        preferred_channel=None,
        erased_at=now,
        version=contact.version + 1,
        updated_at=now,
    )


def check_version(expected: int | None, actual: int, *, of: str) -> None:
    """Refuse (412) a change meant for another version of the card than the one held."""
    if expected is not None and expected != actual:
        raise StaleCard(
            f"The {of} changed since version {expected} was read (now version {actual}); "
            "read it again."
        )
