"""The customer card in PostgreSQL: accounts, contacts, their history, and the cases' copy.

Names are searched by their folded form (`search_name`, kept by every write) with pg_trgm:
`ILIKE '%…%'` finds a part of a name through the trigram index, `similarity()` ranks.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any
from uuid import UUID

from sqlalchemy import (
    DateTime,
    RowMapping,
    String,
    bindparam,
    delete,
    func,
    insert,
    literal,
    literal_column,
    null,
    or_,
    select,
    text,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from intake.adapters.tables import (
    account_domains,
    accounts,
    case_summaries,
    contact_emails,
    contact_phones,
    contacts,
    interactions,
)
from intake.domain.customers import (
    Account,
    AccountQuery,
    Contact,
    ContactQuery,
    EmailAddress,
    EmailKind,
    Page,
    PhoneKind,
    PhoneNumber,
    fold,
)
from intake.domain.history import (
    CLOSED_STATUSES,
    CaseSummary,
    HistoryEntry,
)
from intake.domain.identification import (
    Identification,
)

_LOCK = text("SELECT pg_advisory_xact_lock(hashtextextended(:name, 0))")
_LOCK_EMAILS = text(
    "SELECT pg_advisory_xact_lock(hashtextextended('intake.contact-email:' || email, 0)) "
    "FROM unnest(CAST(:emails AS text[])) WITH ORDINALITY AS e(email, n) ORDER BY n"
)


def _like(folded: str) -> str:
    """`folded` as a LIKE pattern matching any name containing it."""
    escaped = folded.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class SqlCustomerRepository:
    """Accounts and contacts, their domains, emails and phone numbers, and their history."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    # -- identification

    async def lock_email(self, email: str) -> None:
        """Hold off other transactions identifying the same address until this one ends."""
        # A transaction-scoped advisory lock: released by commit or rollback, never leaked.
        await self._session.execute(_LOCK, {"name": f"intake.contact-email:{email}"})

    async def lock_emails(self, emails: Sequence[str]) -> None:
        """`lock_email` for several addresses with one statement, taken in their order (so
        that two transactions locking overlapping sets never wait on each other in a ring)."""
        if emails:
            await self._session.execute(_LOCK_EMAILS, {"emails": list(emails)})

    async def lock_phone(self, phone: str) -> None:
        """Hold off other transactions identifying the same number until this one ends."""
        await self._session.execute(_LOCK, {"name": f"intake.contact-phone:{phone}"})

    async def contact_by_email(self, email: str) -> Contact | None:
        """The contact owning the (normalised) address, or None."""
        row = (await self._session.execute(_CONTACT_BY_EMAIL, {"email": email})).mappings().first()
        return None if row is None else _contact(row, _emails_of(row), _phones_of(row))

    async def contacts_by_phone(self, phone: str, *, limit: int) -> list[Contact]:
        """Up to `limit` active contacts having the number (as compared), oldest first."""
        rows = await self._session.scalars(
            select(contacts.c.contact_id)
            .join(contact_phones, contact_phones.c.contact_id == contacts.c.contact_id)
            .where(
                contact_phones.c.phone == phone,
                contacts.c.merged_into.is_(None),
                contacts.c.erased_at.is_(None),
            )
            .order_by(contacts.c.created_at, contacts.c.contact_id)
            .limit(limit)
        )
        return await self._contacts(rows.all())

    async def account_by_domain(self, domain: str) -> Account | None:
        """The account claiming the mail domain, or None."""
        account_id = await self._session.scalar(
            select(account_domains.c.account_id).where(account_domains.c.domain == domain)
        )
        return None if account_id is None else await self.get_account(account_id)

    async def save_identification(self, identification: Identification) -> None:
        """Store a first contact, or the emails and phones learnt about a known one (raising
        its version)."""
        contact = identification.contact
        if identification.first_contact:
            await self.add_contact(contact)
            return
        await self._insert_emails(
            contact, [e for e in contact.email_addresses if e.email in identification.added_emails]
        )
        # A number learnt by two requests at once is kept once.
        await self._insert_phones(
            contact,
            [p for p in contact.phone_numbers if p.phone in identification.added_phones],
            on_conflict_skip=True,
        )
        if identification.learnt:
            # Counted up in place: another request may have taught something meanwhile.
            await self._session.execute(
                update(contacts)
                .where(contacts.c.contact_id == contact.contact_id)
                .values(version=contacts.c.version + 1, updated_at=contact.updated_at)
            )

    # -- contacts

    async def get_contact(self, contact_id: UUID, *, for_update: bool = False) -> Contact | None:
        """The contact, merged or erased ones too; `for_update` locks its row."""
        found = await self._contacts([contact_id], for_update=for_update)
        return found[0] if found else None

    async def add_contact(self, contact: Contact) -> None:
        """Store a new contact with its emails and phones."""
        await self._session.execute(
            insert(contacts),
            {"contact_id": contact.contact_id, "created_at": contact.created_at, **_card(contact)},
        )
        await self._insert_emails(contact, contact.email_addresses)
        await self._insert_phones(contact, contact.phone_numbers)

    async def save_contact(self, contact: Contact) -> None:
        """Store the contact's card whole, its emails and phones as they now are."""
        await self._session.execute(
            update(contacts)
            .where(contacts.c.contact_id == contact.contact_id)
            .values(**_card(contact))
        )
        await self._session.execute(
            delete(contact_emails).where(contact_emails.c.contact_id == contact.contact_id)
        )
        await self._session.execute(
            delete(contact_phones).where(contact_phones.c.contact_id == contact.contact_id)
        )
        await self._insert_emails(contact, contact.email_addresses)
        await self._insert_phones(contact, contact.phone_numbers)

    async def repoint_merged(self, *, from_contact: UUID, to_contact: UUID) -> None:
        """Make the contacts merged into `from_contact` point to `to_contact`."""
        await self._session.execute(
            update(contacts)
            .where(contacts.c.merged_into == from_contact)
            .values(merged_into=to_contact)
        )

    async def find_contacts(self, query: ContactQuery) -> Page[Contact]:
        """The active contacts matching every criterion of `query`, best match first."""
        where: list[Any] = [contacts.c.merged_into.is_(None), contacts.c.erased_at.is_(None)]
        if query.name:
            where.append(contacts.c.search_name.ilike(_like(query.name), escape="\\"))
        if query.email is not None:
            where.append(
                contacts.c.contact_id.in_(
                    select(contact_emails.c.contact_id).where(contact_emails.c.email == query.email)
                )
            )
        if query.phone is not None:
            where.append(
                contacts.c.contact_id.in_(
                    select(contact_phones.c.contact_id).where(contact_phones.c.phone == query.phone)
                )
            )
        if query.account_id is not None:
            where.append(contacts.c.account_id == query.account_id)
        if query.region is not None:
            where.append(
                contacts.c.account_id.in_(
                    select(accounts.c.account_id).where(accounts.c.region == query.region)
                )
            )
        total = await self._session.scalar(select(func.count()).select_from(contacts).where(*where))
        order: list[Any] = []
        if query.name:
            order.append(func.similarity(contacts.c.search_name, query.name).desc())
        order += [contacts.c.search_name, contacts.c.contact_id]
        ids = await self._session.scalars(
            select(contacts.c.contact_id)
            .where(*where)
            .order_by(*order)
            .limit(query.limit)
            .offset(query.offset)
        )
        return Page(items=tuple(await self._contacts(ids.all())), total=int(total or 0))

    async def history(self, contact_id: UUID, *, limit: int, offset: int) -> Page[HistoryEntry]:
        """The contact's interactions and cases, newest first.

        Cases still filed under a contact merged into this one (the cases service's events
        about them may come after the merge) are theirs too.
        """
        moment = DateTime(timezone=True)
        theirs = select(contacts.c.contact_id).where(
            or_(contacts.c.contact_id == contact_id, contacts.c.merged_into == contact_id)
        )
        said = select(
            literal("interaction", String).label("kind"),
            interactions.c.interaction_id.label("entry_id"),
            interactions.c.received_at.label("at"),
            interactions.c.channel.label("channel"),
            interactions.c.subject.label("subject"),
            interactions.c.follow_up_of.label("number"),
            null().cast(String).label("status"),
            null().cast(moment).label("opened_at"),
            null().cast(moment).label("resolved_at"),
            null().cast(moment).label("closed_at"),
        ).where(interactions.c.contact_id == contact_id)
        cases = select(
            literal("case", String).label("kind"),
            case_summaries.c.case_id.label("entry_id"),
            func.coalesce(case_summaries.c.opened_at, case_summaries.c.updated_at).label("at"),
            case_summaries.c.channel.label("channel"),
            case_summaries.c.subject.label("subject"),
            case_summaries.c.number.label("number"),
            case_summaries.c.status.label("status"),
            case_summaries.c.opened_at.label("opened_at"),
            case_summaries.c.resolved_at.label("resolved_at"),
            case_summaries.c.closed_at.label("closed_at"),
        ).where(case_summaries.c.contact_id.in_(theirs))
        entries = union_all(said, cases).subquery()
        total = await self._session.scalar(select(func.count()).select_from(entries))
        rows = (
            await self._session.execute(
                select(entries)
                .order_by(entries.c.at.desc(), entries.c.entry_id.desc())
                .limit(limit)
                .offset(offset)
            )
        ).mappings()
        items = tuple(
            HistoryEntry(
                kind=row["kind"],
                entry_id=row["entry_id"],
                at=row["at"],
                channel=row["channel"],
                subject=row["subject"],
                number=row["number"],
                status=row["status"] or None,
                opened_at=row["opened_at"],
                resolved_at=row["resolved_at"],
                closed_at=row["closed_at"],
            )
            for row in rows
        )
        return Page(items=items, total=int(total or 0))

    # -- accounts

    async def get_account(self, account_id: UUID, *, for_update: bool = False) -> Account | None:
        """The account with its domains, or None; `for_update` locks its row."""
        statement = select(accounts).where(accounts.c.account_id == account_id)
        if for_update:
            statement = statement.with_for_update()
        row = (await self._session.execute(statement)).mappings().first()
        if row is None:
            return None
        domains = await self._session.scalars(
            select(account_domains.c.domain)
            .where(account_domains.c.account_id == account_id)
            .order_by(account_domains.c.domain)
        )
        return _account(row, tuple(domains.all()))

    async def add_account(self, account: Account) -> list[str]:
        """Store a new account; returns the domains another account already claims, if any."""
        await self._session.execute(
            insert(accounts).values(
                account_id=account.account_id,
                created_at=account.created_at,
                **_account_card(account),
            )
        )
        return await self._claim(account, account.domains)

    async def save_account(self, account: Account) -> list[str]:
        """Store the account's card whole; returns the domains another account already
        claims, if any."""
        await self._session.execute(
            update(accounts)
            .where(accounts.c.account_id == account.account_id)
            .values(**_account_card(account))
        )
        await self._session.execute(
            delete(account_domains).where(
                account_domains.c.account_id == account.account_id,
                account_domains.c.domain.not_in(account.domains),
            )
        )
        held = set(
            (
                await self._session.scalars(
                    select(account_domains.c.domain).where(
                        account_domains.c.account_id == account.account_id
                    )
                )
            ).all()
        )
        return await self._claim(account, [d for d in account.domains if d not in held])

    async def find_accounts(self, query: AccountQuery) -> Page[Account]:
        """The accounts matching every criterion of `query`, best match first."""
        where: list[Any] = []
        if query.name:
            where.append(accounts.c.search_name.ilike(_like(query.name), escape="\\"))
        if query.region is not None:
            where.append(accounts.c.region == query.region)
        if query.tier is not None:
            where.append(accounts.c.tier == query.tier)
        if query.domain is not None:
            where.append(
                accounts.c.account_id.in_(
                    select(account_domains.c.account_id).where(
                        account_domains.c.domain == query.domain
                    )
                )
            )
        total = await self._session.scalar(select(func.count()).select_from(accounts).where(*where))
        order: list[Any] = []
        if query.name:
            order.append(func.similarity(accounts.c.search_name, query.name).desc())
        order += [accounts.c.search_name, accounts.c.account_id]
        rows = (
            (
                await self._session.execute(
                    select(accounts)
                    .where(*where)
                    .order_by(*order)
                    .limit(query.limit)
                    .offset(query.offset)
                )
            )
            .mappings()
            .all()
        )
        ids = [row["account_id"] for row in rows]
        domains: dict[UUID, list[str]] = {account_id: [] for account_id in ids}
        for account_id, domain in (
            await self._session.execute(
                select(account_domains.c.account_id, account_domains.c.domain)
                .where(account_domains.c.account_id.in_(ids))
                .order_by(account_domains.c.domain)
            )
        ).all():
            domains[account_id].append(domain)
        items = tuple(_account(row, tuple(domains[row["account_id"]])) for row in rows)
        return Page(items=items, total=int(total or 0))

    async def open_cases(self, account_id: UUID) -> int:
        """How many of the account's cases are neither resolved nor cancelled."""
        count = await self._session.scalar(
            select(func.count())
            .select_from(case_summaries)
            .where(
                case_summaries.c.account_id == account_id,
                case_summaries.c.closed_at.is_(None),
                case_summaries.c.status.not_in(CLOSED_STATUSES),
            )
        )
        return int(count or 0)

    # -- rows

    async def _claim(self, account: Account, domains: Sequence[str]) -> list[str]:
        if not domains:
            return []
        # The primary key decides between two accounts claiming one domain at the same time.
        claimed = await self._session.scalars(
            pg_insert(account_domains)
            .values([{"domain": d, "account_id": account.account_id} for d in domains])
            .on_conflict_do_nothing()
            .returning(account_domains.c.domain)
        )
        won = set(claimed.all())
        return [domain for domain in domains if domain not in won]

    async def _contacts(self, ids: Sequence[UUID], *, for_update: bool = False) -> list[Contact]:
        """The contacts with `ids`, in that order, with their emails and phones (one query)."""
        if not ids:
            return []
        statement = select(contacts, *_CARD_LISTS).where(contacts.c.contact_id.in_(ids))
        if for_update:
            statement = statement.with_for_update(of=contacts)
        rows = {
            row["contact_id"]: row
            for row in (await self._session.execute(statement)).mappings().all()
        }
        return [
            _contact(rows[contact_id], _emails_of(rows[contact_id]), _phones_of(rows[contact_id]))
            for contact_id in ids
            if contact_id in rows
        ]

    async def _insert_emails(self, contact: Contact, new: Iterable[EmailAddress]) -> None:
        values = [
            {
                "email": entry.email,
                "contact_id": contact.contact_id,
                "position": contact.emails.index(entry.email),
                "kind": entry.kind.value,
            }
            for entry in new
        ]
        if values:
            await self._session.execute(insert(contact_emails), values)

    async def _insert_phones(
        self, contact: Contact, new: Iterable[PhoneNumber], *, on_conflict_skip: bool = False
    ) -> None:
        values = [
            {
                "contact_id": contact.contact_id,
                "phone": entry.phone,
                "position": contact.phones.index(entry.phone),
                "raw": entry.raw,
                "valid": entry.valid,
                "kind": entry.kind.value,
                "verified": entry.verified,
            }
            for entry in new
        ]
        if not values:
            return
        statement = pg_insert(contact_phones)
        if on_conflict_skip:
            statement = statement.on_conflict_do_nothing()
        await self._session.execute(statement, values)


class SqlCaseSummaryRepository:
    """Intake's copy of the cases it has heard of on cases.case.v1."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, case_id: UUID, *, for_update: bool = False) -> CaseSummary | None:
        """The case as intake knows it, or None; `for_update` locks its row."""
        statement = select(case_summaries).where(case_summaries.c.case_id == case_id)
        if for_update:
            statement = statement.with_for_update()
        row = (await self._session.execute(statement)).mappings().first()
        if row is None:
            return None
        return CaseSummary(**{column: row[column] for column in _SUMMARY_COLUMNS})

    async def save(self, summary: CaseSummary) -> None:
        """Keep `summary` in place of what is held for its case."""
        values = {column: getattr(summary, column) for column in _SUMMARY_COLUMNS}
        statement = pg_insert(case_summaries).values(**values)
        await self._session.execute(
            statement.on_conflict_do_update(
                index_elements=[case_summaries.c.case_id],
                set_={column: statement.excluded[column] for column in _SUMMARY_COLUMNS},
            )
        )

    async def move(self, *, from_contact: UUID, to_contact: UUID) -> None:
        """Give every case of `from_contact` to `to_contact`."""
        await self._session.execute(
            update(case_summaries)
            .where(case_summaries.c.contact_id == from_contact)
            .values(contact_id=to_contact)
        )

    async def erase(self, contact_id: UUID) -> None:
        """Clear the subjects of the contact's cases."""
        await self._session.execute(
            update(case_summaries)
            .where(case_summaries.c.contact_id == contact_id)
            .values(subject="")
        )


_SUMMARY_COLUMNS = (
    "case_id",
    "number",
    "contact_id",
    "account_id",
    "channel",
    "subject",
    "status",
    "opened_at",
    "resolved_at",
    "closed_at",
    "entitlement_id",
    "not_entitled",
    "updated_at",
)


def _card(contact: Contact) -> dict[str, object]:
    """The contact's row, but for its id and creation."""
    return {
        "name": contact.name,
        "search_name": fold(contact.name),
        "account_id": contact.account_id,
        "position": contact.position,
        "language": contact.language,
        "preferred_channel": contact.preferred_channel,
        "version": contact.version,
        "updated_at": contact.updated_at,
        "merged_into": contact.merged_into,
        "erased_at": contact.erased_at,
    }


def _contact(
    row: RowMapping, emails: Sequence[EmailAddress], phones: Sequence[PhoneNumber]
) -> Contact:
    return Contact(
        contact_id=row["contact_id"],
        name=row["name"],
        account_id=row["account_id"],
        emails=tuple(e.email for e in emails),
        phones=tuple(p.phone for p in phones),
        created_at=row["created_at"],
        email_details=tuple(emails),
        phone_details=tuple(phones),
        position=row["position"],
        language=row["language"],
        preferred_channel=row["preferred_channel"],
        version=row["version"],
        updated_at=row["updated_at"],
        merged_into=row["merged_into"],
        erased_at=row["erased_at"],
    )


def _account_card(account: Account) -> dict[str, object]:
    """The account's row, but for its id and creation."""
    return {
        "name": account.name,
        "search_name": fold(account.name),
        "region": account.region,
        "industry": account.industry,
        "tier": account.tier,
        "owner_id": account.owner_id,
        "credit_hold": account.credit_hold,
        "credit_hold_reason": account.credit_hold_reason,
        "notes": account.notes,
        "version": account.version,
        "updated_at": account.updated_at,
    }


def _account(row: RowMapping, domains: tuple[str, ...]) -> Account:
    return Account(
        account_id=row["account_id"],
        name=row["name"],
        domains=domains,
        created_at=row["created_at"],
        region=row["region"],
        industry=row["industry"],
        tier=row["tier"],
        owner_id=row["owner_id"],
        credit_hold=row["credit_hold"],
        credit_hold_reason=row["credit_hold_reason"],
        notes=row["notes"],
        version=row["version"],
        updated_at=row["updated_at"],
    )


def _listed(column: Any, table: Any, order: tuple[Any, ...], label: str) -> Any:
    """A contact's values of `column` in `table`, in `order`, as one array (empty for none)."""
    return (
        select(
            func.coalesce(
                func.array_agg(aggregate_order_by(column, *order)),
                literal_column("'{}'"),
            )
        )
        .where(table.c.contact_id == contacts.c.contact_id)
        .scalar_subquery()
        .label(label)
    )


_EMAIL_ORDER = (contact_emails.c.position, contact_emails.c.email)
_PHONE_ORDER = (contact_phones.c.position, contact_phones.c.phone)
_CARD_LISTS = (
    _listed(contact_emails.c.email, contact_emails, _EMAIL_ORDER, "list_email"),
    _listed(contact_emails.c.kind, contact_emails, _EMAIL_ORDER, "list_email_kind"),
    _listed(contact_phones.c.phone, contact_phones, _PHONE_ORDER, "list_phone"),
    _listed(contact_phones.c.raw, contact_phones, _PHONE_ORDER, "list_phone_raw"),
    _listed(contact_phones.c.kind, contact_phones, _PHONE_ORDER, "list_phone_kind"),
    _listed(contact_phones.c.valid, contact_phones, _PHONE_ORDER, "list_phone_valid"),
    _listed(contact_phones.c.verified, contact_phones, _PHONE_ORDER, "list_phone_verified"),
)
"""A contact's emails and phones, read with the contact's row."""


def _emails_of(row: RowMapping) -> list[EmailAddress]:
    return [
        EmailAddress(email=email, kind=EmailKind(kind))
        for email, kind in zip(row["list_email"], row["list_email_kind"], strict=True)
    ]


def _phones_of(row: RowMapping) -> list[PhoneNumber]:
    return [
        PhoneNumber(
            phone=phone, raw=raw or phone, kind=PhoneKind(kind), valid=valid, verified=verified
        )
        for phone, raw, kind, valid, verified in zip(
            row["list_phone"],
            row["list_phone_raw"],
            row["list_phone_kind"],
            row["list_phone_valid"],
            row["list_phone_verified"],
            strict=True,
        )
    ]


_CONTACT_BY_EMAIL = select(contacts, *_CARD_LISTS).where(
    contacts.c.contact_id
    == select(contact_emails.c.contact_id)
    .where(contact_emails.c.email == bindparam("email"))
    .scalar_subquery()
)
"""The contact owning an address, with its emails and phones: the statement built once."""
