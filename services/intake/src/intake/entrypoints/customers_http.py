"""The customer card over HTTP: accounts, contacts, merging, erasing, the customer's history.

Agents read, file and change accounts and contacts; merging and erasing contacts is for
supervisors. Every card answers with its `ETag` (its version, quoted); `PATCH` and merging
honour `If-Match` (412 when the card changed since). A contact merged into another answers 404
with `merged_into`, the contact it lives on as; an erased contact keeps answering, without the
person. Errors are raised, and answered as problem+json by the mapping in `intake.bootstrap`.
"""

# No `from __future__ import annotations` here: FastAPI must evaluate the route signatures.

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Header, Query, Response
from pydantic import BaseModel, Field, StringConstraints

from caseflow_servicekit import Authenticator, Clock, Role
from caseflow_servicekit.edge import EdgeModel, Limit, Offset, Text, if_match_version
from intake.adapters.uow import SqlIntakeUnitOfWork
from intake.app.customers import (
    AccountCard,
    ChangeAccount,
    ChangeContact,
    CreateAccount,
    CreateContact,
    EraseContact,
    MergeContacts,
    SearchAccounts,
    SearchContacts,
    account_card,
    change_account,
    change_contact,
    contact_card,
    contact_history,
    create_account,
    create_contact,
    erase_contact,
    find_accounts,
    find_contacts,
    merge_contacts,
)
from intake.domain.customers import (
    Account,
    AccountChanges,
    Contact,
    ContactChanges,
    ContactDetails,
    EmailAddress,
    EmailKind,
    GivenEmail,
    GivenPhone,
    PhoneKind,
    PhoneNumber,
)
from intake.domain.history import (
    HistoryEntry,
)
from intake.domain.phones import MAX_PHONE_LENGTH

Name = Annotated[Text, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Short = Annotated[Text, StringConstraints(max_length=200)]
Region = Annotated[Text, StringConstraints(max_length=64)]
Tier = Annotated[Text, StringConstraints(max_length=32)]
Domain = Annotated[Text, StringConstraints(min_length=1, max_length=253)]
Email = Annotated[Text, StringConstraints(strip_whitespace=True, min_length=3, max_length=320)]
Number = Annotated[Text, StringConstraints(min_length=1, max_length=MAX_PHONE_LENGTH)]
"""A phone number in any format (`+49 30 1234567`, `030 1234567`); longer is refused."""
Language = Annotated[Text, StringConstraints(max_length=16)]
ChannelName = Literal["email", "phone", "web", "letter", "visit", "api"]


# -- bodies -----------------------------------------------------------------------------------


class EmailEntry(EdgeModel):
    """An email address and what it is for."""

    email: Email
    kind: EmailKind = EmailKind.WORK


class PhoneEntry(EdgeModel):
    """A phone number in any format, what it is, and whether it is known to be the contact's
    (left out: as it was, or yes for a new number)."""

    number: Number
    kind: PhoneKind = PhoneKind.WORK
    verified: bool | None = None


Emails = Annotated[list[EmailEntry | Email], Field(max_length=20)]
"""Addresses: objects, or plain strings (work addresses)."""
Phones = Annotated[list[PhoneEntry | Number], Field(max_length=20)]
"""Numbers: objects, or plain strings (work numbers)."""


def _emails(entries: list[EmailEntry | str]) -> list[GivenEmail]:
    return [
        GivenEmail(email=e) if isinstance(e, str) else GivenEmail(email=e.email, kind=e.kind)
        for e in entries
    ]


def _phones(entries: list[PhoneEntry | str]) -> list[GivenPhone]:
    return [
        GivenPhone(number=p)
        if isinstance(p, str)
        else GivenPhone(number=p.number, kind=p.kind, verified=p.verified)
        for p in entries
    ]


class NewAccount(EdgeModel):
    """An organisation to register, with the mail domains it owns."""

    name: Name
    domains: Annotated[list[Domain], Field(max_length=50)] = []
    region: Region | None = None
    industry: Short | None = None
    tier: Tier | None = Field(default=None, description="How valuable, e.g. `gold`.")
    owner_id: UUID | None = Field(default=None, description="The specialist's agent id.")
    credit_hold: bool = False
    credit_hold_reason: Annotated[Text, StringConstraints(max_length=2_000)] | None = None
    notes: Annotated[Text, StringConstraints(max_length=10_000)] = ""


class AccountPatch(EdgeModel):
    """Changes to an account: the fields sent, to the values sent (null clears); `domains`
    is the whole list."""

    name: Name | None = None
    domains: Annotated[list[Domain], Field(max_length=50)] | None = None
    region: Region | None = None
    industry: Short | None = None
    tier: Tier | None = None
    owner_id: UUID | None = None
    credit_hold: bool | None = None
    credit_hold_reason: Annotated[Text, StringConstraints(max_length=2_000)] | None = None
    notes: Annotated[Text, StringConstraints(max_length=10_000)] | None = None

    def changes(self) -> AccountChanges:
        given = frozenset(self.model_fields_set)
        return AccountChanges(
            given=given,
            name=self.name or "",  # null: no name, refused as one
            domains=self.domains or [],
            region=self.region,
            industry=self.industry,
            tier=self.tier,
            owner_id=self.owner_id,
            credit_hold=bool(self.credit_hold),
            credit_hold_reason=self.credit_hold_reason,
            notes=self.notes or "",
        )


class NewContact(EdgeModel):
    """A person to file."""

    name: Name
    account_id: UUID | None = None
    position: Short | None = None
    language: Language | None = Field(default=None, description="A tag: `de`, `pt-BR`.")
    preferred_channel: ChannelName | None = None
    emails: Emails = []
    phones: Phones = []

    def details(self) -> ContactDetails:
        return ContactDetails(
            name=self.name,
            account_id=self.account_id,
            emails=_emails(self.emails),
            phones=_phones(self.phones),
            position=self.position,
            language=self.language,
            preferred_channel=self.preferred_channel,
        )


class ContactPatch(EdgeModel):
    """Changes to a contact: the fields sent, to the values sent (null clears); `emails` and
    `phones` are the whole lists."""

    name: Name | None = None
    account_id: UUID | None = None
    position: Short | None = None
    language: Language | None = None
    preferred_channel: ChannelName | None = None
    emails: Emails | None = None
    phones: Phones | None = None

    def changes(self) -> ContactChanges:
        return ContactChanges(
            given=frozenset(self.model_fields_set),
            name=self.name or "",
            account_id=self.account_id,
            emails=_emails(self.emails or []),
            phones=_phones(self.phones or []),
            position=self.position,
            language=self.language,
            preferred_channel=self.preferred_channel,
        )


class Merge(EdgeModel):
    """The duplicate to fold into the contact addressed."""

    duplicate_id: UUID


# -- views ------------------------------------------------------------------------------------


class EmailView(BaseModel):
    email: str
    kind: str

    @classmethod
    def of(cls, entry: EmailAddress) -> "EmailView":
        return cls(email=entry.email, kind=entry.kind.value)


class PhoneView(BaseModel):
    phone: str
    """In E.164 when it could be read, else as given: what numbers are compared by."""
    raw: str
    """As given."""
    kind: str
    valid: bool
    verified: bool

    @classmethod
    def of(cls, entry: PhoneNumber) -> "PhoneView":
        return cls(
            phone=entry.phone,
            raw=entry.raw,
            kind=entry.kind.value,
            valid=entry.valid,
            verified=entry.verified,
        )


class ContactView(BaseModel):
    """A contact as the API shows it: `emails` and `phones` as they are compared, the
    details of each in `email_addresses` and `phone_numbers`."""

    contact_id: UUID
    name: str
    account_id: UUID | None
    emails: list[str]
    phones: list[str]
    email_addresses: list[EmailView]
    phone_numbers: list[PhoneView]
    position: str | None
    language: str | None
    preferred_channel: str | None
    version: int
    created_at: datetime
    updated_at: datetime | None
    erased_at: datetime | None

    @classmethod
    def of(cls, contact: Contact) -> "ContactView":
        return cls(
            contact_id=contact.contact_id,
            name=contact.name,
            account_id=contact.account_id,
            emails=list(contact.emails),
            phones=list(contact.phones),
            email_addresses=[EmailView.of(e) for e in contact.email_addresses],
            phone_numbers=[PhoneView.of(p) for p in contact.phone_numbers],
            position=contact.position,
            language=contact.language,
            preferred_channel=contact.preferred_channel,
            version=contact.version,
            created_at=contact.created_at,
            updated_at=contact.updated_at,
            erased_at=contact.erased_at,
        )


class ContactPage(BaseModel):
    items: list[ContactView]
    total: int
    limit: int
    offset: int


class AccountView(BaseModel):
    """An account as the API shows it; `open_cases` where it was counted."""

    account_id: UUID
    name: str
    domains: list[str]
    region: str | None
    industry: str | None
    tier: str | None
    owner_id: UUID | None
    credit_hold: bool
    credit_hold_reason: str | None
    notes: str
    version: int
    created_at: datetime
    updated_at: datetime | None
    open_cases: int | None = None

    @classmethod
    def of(cls, account: Account, *, open_cases: int | None = None) -> "AccountView":
        return cls(
            account_id=account.account_id,
            name=account.name,
            domains=list(account.domains),
            region=account.region,
            industry=account.industry,
            tier=account.tier,
            owner_id=account.owner_id,
            credit_hold=account.credit_hold,
            credit_hold_reason=account.credit_hold_reason,
            notes=account.notes,
            version=account.version,
            created_at=account.created_at,
            updated_at=account.updated_at,
            open_cases=open_cases,
        )


class AccountPage(BaseModel):
    items: list[AccountView]
    total: int
    limit: int
    offset: int


class HistoryView(BaseModel):
    """An interaction or a case in a customer's history."""

    kind: Literal["interaction", "case"]
    interaction_id: UUID | None
    case_id: UUID | None
    at: datetime
    """When the interaction was received, or the case opened."""
    channel: str | None
    subject: str
    number: str | None
    """The case's number; for an interaction, the case it follows up, if any."""
    status: str | None
    opened_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None

    @classmethod
    def of(cls, entry: HistoryEntry) -> "HistoryView":
        is_case = entry.kind == "case"
        return cls(
            kind="case" if is_case else "interaction",
            interaction_id=None if is_case else entry.entry_id,
            case_id=entry.entry_id if is_case else None,
            at=entry.at,
            channel=entry.channel,
            subject=entry.subject,
            number=entry.number,
            status=entry.status,
            opened_at=entry.opened_at,
            resolved_at=entry.resolved_at,
            closed_at=entry.closed_at,
        )


class HistoryPage(BaseModel):
    items: list[HistoryView]
    total: int
    limit: int
    offset: int


# -- the routes -------------------------------------------------------------------------------

_STALE: dict[int | str, dict[str, Any]] = {
    412: {"description": "The card changed since its ETag was read."}
}


def router(
    *,
    uow_factory: Callable[[], SqlIntakeUnitOfWork],
    auth: Authenticator,
    clock: Clock,
    phone_region: str | None,
) -> APIRouter:
    """Routes for the customer card; numbers are read in `phone_region` when national."""
    api = APIRouter(tags=["customers"])
    agent = Depends(auth.requires(Role.AGENT))
    supervisor = Depends(auth.requires(Role.SUPERVISOR))
    IfMatch = Annotated[str | None, Header(alias="If-Match")]

    def contact_shown(contact: Contact, response: Response) -> ContactView:
        response.headers["ETag"] = f'"{contact.version}"'
        return ContactView.of(contact)

    def account_shown(
        account: Account, response: Response, *, open_cases: int | None = None
    ) -> AccountView:
        response.headers["ETag"] = f'"{account.version}"'
        return AccountView.of(account, open_cases=open_cases)

    # -- accounts

    @api.post(
        "/accounts",
        status_code=201,
        response_model=AccountView,
        dependencies=[agent],
        responses={409: {"description": "A domain already belongs to another account."}},
    )
    async def register_account(body: NewAccount, response: Response) -> AccountView:
        """Register an organisation; first contacts from its domains are linked to it."""
        created = await create_account(
            CreateAccount(
                name=body.name,
                domains=body.domains,
                region=body.region,
                industry=body.industry,
                tier=body.tier,
                owner_id=body.owner_id,
                credit_hold=body.credit_hold,
                credit_hold_reason=body.credit_hold_reason,
                notes=body.notes,
            ),
            uow=uow_factory(),
            now=clock.now(),
        )
        response.headers["Location"] = f"/accounts/{created.account_id}"
        return account_shown(created, response, open_cases=0)

    @api.get("/accounts", response_model=AccountPage, dependencies=[agent])
    async def search_accounts(
        name: Annotated[Text | None, Query(max_length=200)] = None,
        region: Annotated[Text | None, Query(max_length=64)] = None,
        tier: Annotated[Text | None, Query(max_length=32)] = None,
        domain: Annotated[Text | None, Query(max_length=253)] = None,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> AccountPage:
        """Accounts by a part of their name (in any case, with or without accents), region,
        tier or a mail domain they claim; best name match first."""
        page = await find_accounts(
            SearchAccounts(
                name=name, region=region, tier=tier, domain=domain, limit=limit, offset=offset
            ),
            uow=uow_factory(),
        )
        return AccountPage(
            items=[AccountView.of(a) for a in page.items],
            total=page.total,
            limit=limit,
            offset=offset,
        )

    @api.get("/accounts/{account_id}", response_model=AccountView, dependencies=[agent])
    async def get_account(account_id: UUID, response: Response) -> AccountView:
        """One account with its mail domains and how many of its cases are open."""
        card: AccountCard = await account_card(account_id, uow=uow_factory())
        return account_shown(card.account, response, open_cases=card.open_cases)

    @api.patch(
        "/accounts/{account_id}",
        response_model=AccountView,
        dependencies=[agent],
        responses={409: {"description": "A domain already belongs to another account."}, **_STALE},
    )
    async def patch_account(
        account_id: UUID, body: AccountPatch, response: Response, if_match: IfMatch = None
    ) -> AccountView:
        """Change an account: the fields sent; `domains` replaces the list."""
        changed = await change_account(
            ChangeAccount(
                account_id=account_id,
                changes=body.changes(),
                expected_version=if_match_version(if_match, of="account"),
            ),
            uow=uow_factory(),
            now=clock.now(),
        )
        return account_shown(changed, response)

    # -- contacts

    @api.post(
        "/contacts",
        status_code=201,
        response_model=ContactView,
        dependencies=[agent],
        responses={409: {"description": "An address already belongs to another contact."}},
    )
    async def register_contact(body: NewContact, response: Response) -> ContactView:
        """File a person; numbers in any format are kept in E.164 when they can be read, as
        given otherwise."""
        created = await create_contact(
            CreateContact(details=body.details()),
            uow=uow_factory(),
            now=clock.now(),
            region=phone_region,
        )
        response.headers["Location"] = f"/contacts/{created.contact_id}"
        return contact_shown(created, response)

    @api.get("/contacts", response_model=ContactPage, dependencies=[agent])
    async def search_contacts(
        name: Annotated[Text | None, Query(max_length=200)] = None,
        email: Annotated[Text | None, Query(max_length=320)] = None,
        phone: Annotated[Text | None, Query(max_length=MAX_PHONE_LENGTH)] = None,
        account_id: UUID | None = None,
        region: Annotated[Text | None, Query(max_length=64)] = None,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> ContactPage:
        """Contacts by a part of their name (in any case, with or without accents), an email
        address (whole, in any case), a phone number in any format, their account or its
        region; best name match first. Merged and erased contacts are not listed."""
        page = await find_contacts(
            SearchContacts(
                name=name,
                email=email,
                phone=phone,
                account_id=account_id,
                region=region,
                limit=limit,
                offset=offset,
            ),
            uow=uow_factory(),
            region=phone_region,
        )
        return ContactPage(
            items=[ContactView.of(c) for c in page.items],
            total=page.total,
            limit=limit,
            offset=offset,
        )

    @api.get(
        "/contacts/{contact_id}",
        response_model=ContactView,
        dependencies=[agent],
        responses={404: {"description": "No such contact; `merged_into` when it was merged."}},
    )
    async def get_contact(contact_id: UUID, response: Response) -> ContactView:
        """One contact with their emails and phone numbers."""
        return contact_shown(await contact_card(contact_id, uow=uow_factory()), response)

    @api.patch(
        "/contacts/{contact_id}",
        response_model=ContactView,
        dependencies=[agent],
        responses={
            409: {"description": "An address belongs to another contact, or it was erased."},
            **_STALE,
        },
    )
    async def patch_contact(
        contact_id: UUID, body: ContactPatch, response: Response, if_match: IfMatch = None
    ) -> ContactView:
        """Change a contact: the fields sent; `emails` and `phones` replace the lists."""
        changed = await change_contact(
            ChangeContact(
                contact_id=contact_id,
                changes=body.changes(),
                expected_version=if_match_version(if_match, of="contact"),
            ),
            uow=uow_factory(),
            now=clock.now(),
            region=phone_region,
        )
        return contact_shown(changed, response)

    @api.get("/contacts/{contact_id}/history", response_model=HistoryPage, dependencies=[agent])
    async def get_history(contact_id: UUID, limit: Limit = 50, offset: Offset = 0) -> HistoryPage:
        """The contact's interactions and cases (number, subject, status, opened, resolved),
        newest first."""
        page = await contact_history(contact_id, uow=uow_factory(), limit=limit, offset=offset)
        return HistoryPage(
            items=[HistoryView.of(e) for e in page.items],
            total=page.total,
            limit=limit,
            offset=offset,
        )

    @api.post(
        "/contacts/{contact_id}/merge",
        response_model=ContactView,
        dependencies=[supervisor],
        responses={
            409: {"description": "One of them was merged or erased already."},
            422: {"description": "A contact cannot be merged into itself."},
            **_STALE,
        },
    )
    async def merge_contact(
        contact_id: UUID,
        body: Merge,
        response: Response,
        if_match: IfMatch = None,
    ) -> ContactView:
        """Fold `duplicate_id` into this contact: its emails, phones, interactions and cases
        move here; it then answers 404 naming this one. Answers with this contact."""
        merged = await merge_contacts(
            MergeContacts(
                contact_id=contact_id,
                duplicate_id=body.duplicate_id,
                expected_version=if_match_version(if_match, of="contact"),
            ),
            uow=uow_factory(),
            now=clock.now(),
        )
        return contact_shown(merged, response)

    @api.post(
        "/contacts/{contact_id}/erase",
        response_model=ContactView,
        dependencies=[supervisor],
        responses={409: {"description": "The contact was merged into another: erase that one."}},
    )
    async def erase(contact_id: UUID, response: Response) -> ContactView:
        """Erase the contact's personal data in intake: name, emails, phones, position,
        language, and what they wrote in their interactions. Cases elsewhere stay. Erasing
        again changes nothing."""
        erased = await erase_contact(
            EraseContact(contact_id=contact_id), uow=uow_factory(), now=clock.now()
        )
        return contact_shown(erased, response)

    return api
