"""Who sent a request: a known contact by email, else by phone, else a first contact."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from uuid import UUID

from intake.domain.customers import (
    Account,
    Contact,
    EmailAddress,
    PhoneKind,
    PhoneNumber,
    account_domain,
    normalize_email,
    read_phone,
)
from intake.domain.errors import SubmissionRejected

# -- identifying who sent a request -----------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Identification:
    """Who sent a request, and what intake learnt about them from it: the addresses and
    numbers (as compared) a known contact gained, whose details are the contact's."""

    contact: Contact
    first_contact: bool
    added_emails: tuple[str, ...] = ()
    added_phones: tuple[str, ...] = ()

    @property
    def learnt(self) -> bool:
        """Whether the request taught intake something about a known contact."""
        return bool(self.added_emails or self.added_phones)


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
    region: str | None = None,
) -> Identification:
    """The contact a request comes from: known by its email, else by its phone, else a new one.

    `by_email` is the contact owning the address, `by_phone` those having the phone number and
    `account` the account claiming the address's domain, as found by the caller. A request an
    agent took down may come with a phone number only; one without either cannot be filed.
    Numbers are read in `region` when national (without one, only international numbers
    read: a number already in E.164 is itself).
    """
    address = None if email is None else normalize_email(email)
    if address is not None and "@" not in address:
        raise SubmissionRejected(f"{email!r} is not an email address")
    if "\x00" in name or "\x00" in (address or ""):
        raise SubmissionRejected("the sender's details contain a NUL character")
    number = read_phone(phone, region=region) if phone else None
    if number is not None:
        # The customer gave it, but not what kind of number it is.
        number = replace(number, kind=PhoneKind.OTHER)
    if address is None and number is None:
        raise SubmissionRejected("a customer needs an email address or a phone number")
    if by_email is not None:
        return _known(by_email, email=address, phone=number, now=now)
    # A number several contacts share (a switchboard) does not tell which of them calls.
    if len(by_phone) == 1:
        return _known(by_phone[0], email=address, phone=number, now=now)
    display_name = name.strip()
    if not display_name:
        raise SubmissionRejected("a first contact needs a name")
    domain = None if address is None else account_domain(address)
    owner = account if account is not None and domain in account.domains else None
    contact = Contact(
        contact_id=new_contact_id,
        name=display_name,
        account_id=owner.account_id if owner else None,
        emails=(),
        phones=(),
        created_at=now,
    )
    contact = contact.with_emails(() if address is None else (EmailAddress(email=address),))
    contact = contact.with_phones(() if number is None else (number,))
    return Identification(contact=contact, first_contact=True)


def learn_signature_phones(
    identification: Identification, numbers: Sequence[str], *, now: datetime
) -> Identification:
    """The sender, with the numbers (E.164) found in their email's signature that they lack,
    as unverified numbers of another kind: a signature may name a switchboard or a colleague."""
    contact = identification.contact
    new = tuple(
        PhoneNumber(phone=n, raw=n, kind=PhoneKind.OTHER, verified=False)
        for n in dict.fromkeys(numbers)
        if n not in contact.phones
    )
    if not new:
        return identification
    contact = contact.with_phones(contact.phone_numbers + new)
    if identification.first_contact:
        return replace(identification, contact=contact)
    if not identification.learnt:  # the request itself taught nothing: this is the change
        contact = replace(contact, version=contact.version + 1, updated_at=now)
    added = identification.added_phones + tuple(p.phone for p in new)
    return replace(identification, contact=contact, added_phones=added)


def _known(
    contact: Contact, *, email: str | None, phone: PhoneNumber | None, now: datetime
) -> Identification:
    # An existing contact keeps its account: moving a person between accounts is an agent's call.
    emails = () if email is None or email in contact.emails else (EmailAddress(email=email),)
    phones = () if phone is None or phone.phone in contact.phones else (phone,)
    updated = contact.with_emails(contact.email_addresses + emails).with_phones(
        contact.phone_numbers + phones
    )
    if emails or phones:
        updated = replace(updated, version=contact.version + 1, updated_at=now)
    return Identification(
        contact=updated,
        first_contact=False,
        added_emails=tuple(e.email for e in emails),
        added_phones=tuple(p.phone for p in phones),
    )
