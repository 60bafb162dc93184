"""Use cases of the customer card: accounts and contacts, who sent a request, merging and
erasing contacts, and the customer's history with intake's copy of their cases.

Phone numbers are read in `region`, the service's default (`INTAKE_DEFAULT_PHONE_REGION`),
when they are national. Every change is published on `intake.customer.v1` with the card whole,
from the same transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID, uuid4

import structlog

from intake.app.ports import IntakeUnitOfWork
from intake.domain.customer_errors import (
    AccountNotFound,
    ContactMergedAway,
    ContactNotFound,
    EmailTaken,
    MergeRefused,
    UnknownAccount,
)
from intake.domain.customer_events import (
    AccountChanged,
    AccountRegistered,
    ContactChanged,
    ContactErased,
    ContactMerged,
    ContactRegistered,
)
from intake.domain.customers import (
    Account,
    AccountChanges,
    AccountDetails,
    AccountQuery,
    Contact,
    ContactChanges,
    ContactDetails,
    ContactQuery,
    Page,
    account_domain,
    changed_account,
    changed_contact,
    check_version,
    erased_contact,
    filed_account,
    fold,
    merged_contacts,
    new_contact,
    normalize_domain,
    normalize_email,
    phone_key,
)
from intake.domain.errors import AccountRejected, DomainTaken
from intake.domain.history import (
    CaseFacts,
    HistoryEntry,
    project_case,
)
from intake.domain.identification import (
    Identification,
    identify,
    learn_signature_phones,
)
from intake.domain.phones import signature_phones

log = structlog.get_logger(__name__)


# -- commands and queries ---------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class CreateAccount:
    """Register an organisation the service desk serves, with the mail domains it owns."""

    name: str
    domains: Sequence[str] = ()
    region: str | None = None
    industry: str | None = None
    tier: str | None = None
    owner_id: UUID | None = None
    credit_hold: bool = False
    credit_hold_reason: str | None = None
    notes: str = ""

    def details(self) -> AccountDetails:
        return AccountDetails(
            name=self.name,
            domains=self.domains,
            region=self.region,
            industry=self.industry,
            tier=self.tier,
            owner_id=self.owner_id,
            credit_hold=self.credit_hold,
            credit_hold_reason=self.credit_hold_reason,
            notes=self.notes,
        )


@dataclass(frozen=True, kw_only=True)
class ChangeAccount:
    """Change an account's card; refused when it is no longer at `expected_version`."""

    account_id: UUID
    changes: AccountChanges
    expected_version: int | None = None


@dataclass(frozen=True, kw_only=True)
class CreateContact:
    """File a person, as an agent knows them."""

    details: ContactDetails


@dataclass(frozen=True, kw_only=True)
class ChangeContact:
    """Change a contact's card; refused when it is no longer at `expected_version`."""

    contact_id: UUID
    changes: ContactChanges
    expected_version: int | None = None


@dataclass(frozen=True, kw_only=True)
class MergeContacts:
    """Fold the contact `duplicate_id` into `contact_id`, which stays."""

    contact_id: UUID
    duplicate_id: UUID
    expected_version: int | None = None


@dataclass(frozen=True, kw_only=True)
class EraseContact:
    """Erase a contact's personal data, on their request."""

    contact_id: UUID


@dataclass(frozen=True, kw_only=True)
class RecordCaseFacts:
    """Keep in intake's copy of a case what an event of the cases service says about it."""

    facts: CaseFacts


@dataclass(frozen=True, kw_only=True)
class SearchContacts:
    """Contacts by a part of their name, an address, a number in any format, their account
    or its region; every criterion given must hold."""

    name: str | None = None
    email: str | None = None
    phone: str | None = None
    account_id: UUID | None = None
    region: str | None = None
    limit: int = 50
    offset: int = 0


@dataclass(frozen=True, kw_only=True)
class SearchAccounts:
    """Accounts by a part of their name, region, tier or a mail domain."""

    name: str | None = None
    region: str | None = None
    tier: str | None = None
    domain: str | None = None
    limit: int = 50
    offset: int = 0


@dataclass(frozen=True, kw_only=True)
class AccountCard:
    """An account with how many of its cases are open."""

    account: Account
    open_cases: int


# -- accounts ---------------------------------------------------------------------------------


async def create_account(
    cmd: CreateAccount,
    *,
    uow: IntakeUnitOfWork,
    now: datetime,
    new_id: Callable[[], UUID] = uuid4,
) -> Account:
    """Register an account; its mail domains then identify its people's first contacts."""
    account = filed_account(cmd.details(), account_id=new_id(), now=now)
    async with uow:
        taken = await uow.customers.add_account(account)
        if taken:
            raise _domains_taken(taken)
        uow.emit_customer(AccountRegistered(account=account, occurred_at=now))
        await uow.commit()
    return account


async def change_account(cmd: ChangeAccount, *, uow: IntakeUnitOfWork, now: datetime) -> Account:
    """Change an account's card and announce it; a change that changes nothing is no change."""
    async with uow:
        account = await uow.customers.get_account(cmd.account_id, for_update=True)
        if account is None:
            raise AccountNotFound(f"There is no account {cmd.account_id}.")
        check_version(cmd.expected_version, account.version, of="account")
        changed = changed_account(account, cmd.changes, now=now)
        if changed is None:
            return account
        taken = await uow.customers.save_account(changed)
        if taken:
            raise _domains_taken(taken)
        uow.emit_customer(AccountChanged(account=changed, occurred_at=now))
        await uow.commit()
    return changed


async def account_card(account_id: UUID, *, uow: IntakeUnitOfWork) -> AccountCard:
    """An account with the count of its open cases."""
    async with uow:
        account = await uow.customers.get_account(account_id)
        if account is None:
            raise AccountNotFound(f"There is no account {account_id}.")
        return AccountCard(account=account, open_cases=await uow.customers.open_cases(account_id))


async def find_accounts(query: SearchAccounts, *, uow: IntakeUnitOfWork) -> Page[Account]:
    """The accounts matching every criterion given, best name match first."""
    domain = None
    if query.domain is not None:
        try:
            domain = normalize_domain(query.domain)
        except AccountRejected:
            return Page(items=(), total=0)  # no account can claim it
    tier = _optional(query.tier)
    async with uow:
        return await uow.customers.find_accounts(
            AccountQuery(
                name=fold(query.name or "") or None,
                region=_optional(query.region),
                tier=None if tier is None else tier.lower(),
                domain=domain,
                limit=query.limit,
                offset=query.offset,
            )
        )


def _domains_taken(taken: Sequence[str]) -> DomainTaken:
    return DomainTaken(f"These domains already belong to another account: {', '.join(taken)}.")


# -- contacts ---------------------------------------------------------------------------------


async def create_contact(
    cmd: CreateContact,
    *,
    uow: IntakeUnitOfWork,
    now: datetime,
    region: str | None,
    new_id: Callable[[], UUID] = uuid4,
) -> Contact:
    """File a contact an agent knows and announce them."""
    contact = new_contact(cmd.details, contact_id=new_id(), region=region, now=now)
    async with uow:
        await _require_account(contact.account_id, uow=uow)
        await _claim_emails(contact.contact_id, contact.emails, uow=uow)
        await uow.customers.add_contact(contact)
        uow.emit_customer(ContactRegistered(contact=contact, first_contact=False, occurred_at=now))
        await uow.commit()
    return contact


async def change_contact(
    cmd: ChangeContact, *, uow: IntakeUnitOfWork, now: datetime, region: str | None
) -> Contact:
    """Change a contact's card and announce it; a change that changes nothing is no change."""
    async with uow:
        contact = await _contact(cmd.contact_id, uow=uow, for_update=True)
        check_version(cmd.expected_version, contact.version, of="contact")
        changed = changed_contact(contact, cmd.changes, region=region, now=now)
        if changed is None:
            return contact
        if changed.account_id != contact.account_id:
            await _require_account(changed.account_id, uow=uow)
        added = [e for e in changed.emails if e not in contact.emails]
        await _claim_emails(contact.contact_id, added, uow=uow)
        await uow.customers.save_contact(changed)
        uow.emit_customer(ContactChanged(contact=changed, occurred_at=now))
        await uow.commit()
    return changed


async def contact_card(contact_id: UUID, *, uow: IntakeUnitOfWork) -> Contact:
    """A contact's card; an erased contact's too. One merged into another is not found, and
    the error names the contact it lives on as."""
    async with uow:
        return await _contact(contact_id, uow=uow)


async def find_contacts(
    query: SearchContacts, *, uow: IntakeUnitOfWork, region: str | None
) -> Page[Contact]:
    """The active contacts matching every criterion given, best name match first."""
    phone = None
    if query.phone is not None:
        phone = phone_key(query.phone, region=region)
        if phone is None:
            return Page(items=(), total=0)  # no digit: no contact has that number
    async with uow:
        return await uow.customers.find_contacts(
            ContactQuery(
                name=fold(query.name or "") or None,
                email=None if query.email is None else normalize_email(query.email),
                phone=phone,
                account_id=query.account_id,
                region=_optional(query.region),
                limit=query.limit,
                offset=query.offset,
            )
        )


async def contact_history(
    contact_id: UUID, *, uow: IntakeUnitOfWork, limit: int, offset: int
) -> Page[HistoryEntry]:
    """A contact's interactions and cases, newest first."""
    async with uow:
        await _contact(contact_id, uow=uow)
        return await uow.customers.history(contact_id, limit=limit, offset=offset)


async def merge_contacts(cmd: MergeContacts, *, uow: IntakeUnitOfWork, now: datetime) -> Contact:
    """Fold a duplicate into the contact that stays: its addresses, numbers, interactions and
    cases move over; it stays as a pointer. Announced as merged, and the survivor changed."""
    async with uow:
        if cmd.contact_id == cmd.duplicate_id:
            raise MergeRefused(cmd.contact_id)
        # Locked in one order whoever merges which into which, so two merges never deadlock.
        first, second = sorted({cmd.contact_id, cmd.duplicate_id})
        held = {first: await _found(first, uow=uow)}
        held[second] = await _found(second, uow=uow)
        survivor, duplicate = held[cmd.contact_id], held[cmd.duplicate_id]
        check_version(cmd.expected_version, survivor.version, of="contact")
        merged, gone = merged_contacts(survivor, duplicate, now=now)
        await uow.customers.save_contact(gone)  # first: its addresses are the survivor's now
        await uow.customers.save_contact(merged)
        await uow.customers.repoint_merged(
            from_contact=gone.contact_id, to_contact=merged.contact_id
        )
        await uow.interactions.move(from_contact=gone.contact_id, to_contact=merged.contact_id)
        await uow.case_summaries.move(from_contact=gone.contact_id, to_contact=merged.contact_id)
        uow.emit_customer(
            ContactMerged(
                contact_id=merged.contact_id, merged_contact_id=gone.contact_id, occurred_at=now
            )
        )
        uow.emit_customer(ContactChanged(contact=merged, occurred_at=now))
        await uow.commit()
    log.info(
        "contact.merged", contact_id=str(merged.contact_id), merged_contact_id=str(gone.contact_id)
    )
    return merged


async def erase_contact(cmd: EraseContact, *, uow: IntakeUnitOfWork, now: datetime) -> Contact:
    """Erase a contact's personal data in intake (their card, and what they wrote in their
    interactions) and announce it; once erased, erasing again changes nothing."""
    async with uow:
        contact = await _found(cmd.contact_id, uow=uow)
        erased = erased_contact(contact, now=now)
        if erased is None:
            return contact
        await uow.customers.save_contact(erased)
        await uow.interactions.erase(erased.contact_id)
        await uow.case_summaries.erase(erased.contact_id)
        uow.emit_customer(ContactErased(contact_id=erased.contact_id, occurred_at=now))
        await uow.commit()
    log.info("contact.erased", contact_id=str(erased.contact_id))
    return erased


# -- who sent a request -----------------------------------------------------------------------


async def identify_sender(
    *,
    name: str,
    email: str | None,
    phone: str | None,
    uow: IntakeUnitOfWork,
    now: datetime,
    new_id: Callable[[], UUID],
    region: str | None,
    email_body: str | None = None,
    locked: bool = False,
) -> Identification:
    """The sender found by email first, then by phone, or filed as a first contact; with the
    numbers in the signature of `email_body` (a request that came by email) they lack.
    `locked`: the caller holds the address's lock already (`lock_emails`)."""
    address = normalize_email(email) if email is not None else None
    number = phone_key(phone, region=region) if phone else None
    # Two first requests from one address (or, without one, one number) at once must not
    # make two contacts.
    if address is not None:
        if not locked:
            await uow.customers.lock_email(address)
    elif number is not None:
        await uow.customers.lock_phone(number)
    by_email = await uow.customers.contact_by_email(address) if address is not None else None
    # Two contacts are enough to know a number identifies nobody.
    by_phone = (
        await uow.customers.contacts_by_phone(number, limit=2)
        if by_email is None and number
        else []
    )
    domain = account_domain(address) if address is not None else None
    account = await uow.customers.account_by_domain(domain) if by_email is None and domain else None
    sender = identify(
        name=name,
        email=address,
        phone=phone,
        by_email=by_email,
        by_phone=by_phone,
        account=account,
        new_contact_id=new_id(),
        now=now,
        region=region,
    )
    if email_body:
        sender = learn_signature_phones(
            sender, signature_phones(email_body, region=region), now=now
        )
    return sender


async def file_sender(sender: Identification, *, uow: IntakeUnitOfWork, now: datetime) -> None:
    """Store who sent a request and announce it: a first contact as registered, a known
    contact who taught intake an address or a number as changed."""
    await uow.customers.save_identification(sender)
    if sender.first_contact:
        uow.emit_customer(
            ContactRegistered(contact=sender.contact, first_contact=True, occurred_at=now)
        )
    elif sender.learnt:
        # Read back: another request may have taught something at the same time.
        card = await uow.customers.get_contact(sender.contact.contact_id)
        if card is not None:
            uow.emit_customer(ContactChanged(contact=card, occurred_at=now))


# -- the cases' copy --------------------------------------------------------------------------


async def record_case_facts(cmd: RecordCaseFacts, *, uow: IntakeUnitOfWork) -> bool:
    """Keep what a case event says in intake's copy of the case; True if the copy changed."""
    async with uow:
        held = await uow.case_summaries.get(cmd.facts.case_id, for_update=True)
        projected = project_case(held, cmd.facts)
        if projected is None:
            return False
        await uow.case_summaries.save(projected)
        await uow.commit()
    return True


# -- helpers of the use cases -----------------------------------------------------------------


async def _found(contact_id: UUID, *, uow: IntakeUnitOfWork) -> Contact:
    contact = await uow.customers.get_contact(contact_id, for_update=True)
    if contact is None:
        raise ContactNotFound(f"There is no contact {contact_id}.")
    return contact


async def _contact(contact_id: UUID, *, uow: IntakeUnitOfWork, for_update: bool = False) -> Contact:
    contact = await uow.customers.get_contact(contact_id, for_update=for_update)
    if contact is None:
        raise ContactNotFound(f"There is no contact {contact_id}.")
    if contact.merged_into is not None:
        raise ContactMergedAway(contact_id, contact.merged_into)
    return contact


async def _require_account(account_id: UUID | None, *, uow: IntakeUnitOfWork) -> None:
    if account_id is not None and await uow.customers.get_account(account_id) is None:
        raise UnknownAccount(account_id)


async def _claim_emails(contact_id: UUID, emails: Sequence[str], *, uow: IntakeUnitOfWork) -> None:
    """Refuse addresses another contact has; held until commit, in one order, so that no
    request from them files another contact meanwhile."""
    for email in sorted(emails):
        await uow.customers.lock_email(email)
        owner = await uow.customers.contact_by_email(email)
        if owner is not None and owner.contact_id != contact_id:
            raise EmailTaken(f"{email} already belongs to contact {owner.contact_id}.")


def _optional(text: str | None) -> str | None:
    stripped = None if text is None else " ".join(text.split())
    return stripped or None
