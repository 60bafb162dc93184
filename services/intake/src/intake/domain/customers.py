"""Customers: accounts (organisations), their contacts, and who sent a request.

A contact is known by its email addresses (each belongs to one contact) and its phone numbers
(which people may share: a switchboard number identifies nobody). An account is found from an
email's domain, but only when an account claims that domain; public mail providers never map
to an account.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from uuid import UUID

from intake.domain.errors import AccountRejected, SubmissionRejected

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

_DOMAIN = re.compile(r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}")
_ASCII_DIGITS = frozenset("0123456789")


def normalize_email(text: str) -> str:
    """An email address as Caseflow compares it: trimmed and in lower case."""
    return text.strip().lower()


def normalize_phone(text: str) -> str | None:
    """A phone number as Caseflow compares it: its digits, with a leading + kept; None if none."""
    stripped = text.strip()
    digits = "".join(ch for ch in stripped if ch in _ASCII_DIGITS)
    if not digits:
        return None
    return f"+{digits}" if stripped.startswith("+") else digits


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


@dataclass(frozen=True, kw_only=True)
class Account:
    """An organisation the service desk serves, with the mail domains it owns."""

    account_id: UUID
    name: str
    domains: tuple[str, ...]
    created_at: datetime


@dataclass(frozen=True, kw_only=True)
class Contact:
    """A person who contacts the service desk, possibly on behalf of an account."""

    contact_id: UUID
    name: str
    account_id: UUID | None
    emails: tuple[str, ...]
    phones: tuple[str, ...]
    created_at: datetime


@dataclass(frozen=True, kw_only=True)
class Identification:
    """Who sent a request, and what intake learnt about them from it."""

    contact: Contact
    first_contact: bool
    added_emails: tuple[str, ...] = ()
    added_phones: tuple[str, ...] = ()


def new_account(*, account_id: UUID, name: str, domains: Sequence[str], now: datetime) -> Account:
    """An account for an organisation and the mail domains it owns."""
    name = name.strip()
    if not name:
        raise AccountRejected("an account needs a name")
    normalised: list[str] = []
    for domain in map(normalize_domain, domains):
        if domain not in normalised:
            normalised.append(domain)
    return Account(account_id=account_id, name=name, domains=tuple(normalised), created_at=now)


def identify(
    *,
    name: str,
    email: str | None,
    phone: str | None,
    by_email: Contact | None,
    by_phone: Sequence[Contact],
    account: Account | None,
    new_contact_id: UUID,
    now: datetime,
) -> Identification:
    """The contact a request comes from: known by its email, else by its phone, else a new one.

    `by_email` is the contact owning the address, `by_phone` those having the phone number and
    `account` the account claiming the address's domain, as found by the caller. A request an
    agent took down may come with a phone number only; one without either cannot be filed.
    """
    address = None if email is None else normalize_email(email)
    if address is not None and "@" not in address:
        raise SubmissionRejected(f"{email!r} is not an email address")
    if "\x00" in name or "\x00" in (address or ""):
        raise SubmissionRejected("the sender's details contain a NUL character")
    number = normalize_phone(phone) if phone else None
    if address is None and number is None:
        raise SubmissionRejected("a customer needs an email address or a phone number")
    if by_email is not None:
        return _known(by_email, email=address, phone=number)
    # A number several contacts share (a switchboard) does not tell which of them calls.
    if len(by_phone) == 1:
        return _known(by_phone[0], email=address, phone=number)
    display_name = name.strip()
    if not display_name:
        raise SubmissionRejected("a first contact needs a name")
    domain = None if address is None else account_domain(address)
    owner = account if account is not None and domain in account.domains else None
    contact = Contact(
        contact_id=new_contact_id,
        name=display_name,
        account_id=owner.account_id if owner else None,
        emails=() if address is None else (address,),
        phones=(number,) if number else (),
        created_at=now,
    )
    return Identification(contact=contact, first_contact=True)


def _known(contact: Contact, *, email: str | None, phone: str | None) -> Identification:
    # An existing contact keeps its account: moving a person between accounts is an agent's call.
    emails = () if email is None or email in contact.emails else (email,)
    phones = () if phone is None or phone in contact.phones else (phone,)
    updated = replace(contact, emails=contact.emails + emails, phones=contact.phones + phones)
    return Identification(
        contact=updated, first_contact=False, added_emails=emails, added_phones=phones
    )
