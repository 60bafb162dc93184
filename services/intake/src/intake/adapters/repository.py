"""Intake's state in PostgreSQL: customers, interactions and Idempotency-Keys."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import insert, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from intake.adapters.tables import (
    account_domains,
    accounts,
    contact_emails,
    contact_phones,
    contacts,
    idempotency_keys,
    interactions,
)
from intake.domain.customers import Account, Contact, Identification
from intake.domain.idempotency import StoredRequest
from intake.domain.interactions import Channel, Interaction

_LOCK = text("SELECT pg_advisory_xact_lock(hashtextextended(:name, 0))")


class SqlCustomerRepository:
    """Accounts and contacts, their domains, emails and phone numbers."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def lock_email(self, email: str) -> None:
        """Hold off other transactions identifying the same address until this one ends."""
        # A transaction-scoped advisory lock: released by commit or rollback, never leaked.
        await self._session.execute(_LOCK, {"name": f"intake.contact-email:{email}"})

    async def lock_phone(self, phone: str) -> None:
        """Hold off other transactions identifying the same number until this one ends."""
        await self._session.execute(_LOCK, {"name": f"intake.contact-phone:{phone}"})

    async def contact_by_email(self, email: str) -> Contact | None:
        """The contact owning the (normalised) address, or None."""
        contact_id = await self._session.scalar(
            select(contact_emails.c.contact_id).where(contact_emails.c.email == email)
        )
        return None if contact_id is None else await self.get_contact(contact_id)

    async def contacts_by_phone(self, phone: str, *, limit: int) -> list[Contact]:
        """Up to `limit` contacts having the (normalised) number, oldest first."""
        rows = await self._session.scalars(
            select(contacts.c.contact_id)
            .join(contact_phones, contact_phones.c.contact_id == contacts.c.contact_id)
            .where(contact_phones.c.phone == phone)
            .order_by(contacts.c.created_at, contacts.c.contact_id)
            .limit(limit)
        )
        found = [await self.get_contact(contact_id) for contact_id in rows.all()]
        return [contact for contact in found if contact is not None]

    async def account_by_domain(self, domain: str) -> Account | None:
        """The account claiming the mail domain, or None."""
        account_id = await self._session.scalar(
            select(account_domains.c.account_id).where(account_domains.c.domain == domain)
        )
        return None if account_id is None else await self.get_account(account_id)

    async def get_contact(self, contact_id: UUID) -> Contact | None:
        """The contact with `contact_id`, with its emails and phones, or None."""
        row = (
            (
                await self._session.execute(
                    select(contacts).where(contacts.c.contact_id == contact_id)
                )
            )
            .mappings()
            .first()
        )
        if row is None:
            return None
        emails = await self._session.scalars(
            select(contact_emails.c.email)
            .where(contact_emails.c.contact_id == contact_id)
            .order_by(contact_emails.c.position, contact_emails.c.email)
        )
        phones = await self._session.scalars(
            select(contact_phones.c.phone)
            .where(contact_phones.c.contact_id == contact_id)
            .order_by(contact_phones.c.position, contact_phones.c.phone)
        )
        return Contact(
            contact_id=row["contact_id"],
            name=row["name"],
            account_id=row["account_id"],
            emails=tuple(emails.all()),
            phones=tuple(phones.all()),
            created_at=row["created_at"],
        )

    async def get_account(self, account_id: UUID) -> Account | None:
        """The account with `account_id`, with its domains, or None."""
        row = (
            (
                await self._session.execute(
                    select(accounts).where(accounts.c.account_id == account_id)
                )
            )
            .mappings()
            .first()
        )
        if row is None:
            return None
        domains = await self._session.scalars(
            select(account_domains.c.domain)
            .where(account_domains.c.account_id == account_id)
            .order_by(account_domains.c.domain)
        )
        return Account(
            account_id=row["account_id"],
            name=row["name"],
            domains=tuple(domains.all()),
            created_at=row["created_at"],
        )

    async def save_identification(self, identification: Identification) -> None:
        """Store a first contact, or the emails and phones learnt about a known one."""
        contact = identification.contact
        if identification.first_contact:
            await self._session.execute(
                insert(contacts).values(
                    contact_id=contact.contact_id,
                    name=contact.name,
                    account_id=contact.account_id,
                    created_at=contact.created_at,
                )
            )
            new_emails, new_phones = contact.emails, contact.phones
        else:
            new_emails, new_phones = identification.added_emails, identification.added_phones
        if new_emails:
            await self._session.execute(
                insert(contact_emails),
                [
                    {
                        "email": email,
                        "contact_id": contact.contact_id,
                        "position": contact.emails.index(email),
                    }
                    for email in new_emails
                ],
            )
        if new_phones:
            await self._session.execute(
                pg_insert(contact_phones).on_conflict_do_nothing(),
                [
                    {
                        "contact_id": contact.contact_id,
                        "phone": phone,
                        "position": contact.phones.index(phone),
                    }
                    for phone in new_phones
                ],
            )

    async def add_account(self, account: Account) -> list[str]:
        """Store a new account; returns the domains another account already claims, if any."""
        await self._session.execute(
            insert(accounts).values(
                account_id=account.account_id, name=account.name, created_at=account.created_at
            )
        )
        if not account.domains:
            return []
        # The primary key decides between two accounts claiming one domain at the same time.
        claimed = await self._session.scalars(
            pg_insert(account_domains)
            .values([{"domain": d, "account_id": account.account_id} for d in account.domains])
            .on_conflict_do_nothing()
            .returning(account_domains.c.domain)
        )
        won = set(claimed.all())
        return [domain for domain in account.domains if domain not in won]


class SqlInteractionRepository:
    """Received interactions."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, interaction: Interaction) -> None:
        """Insert a new interaction."""
        await self._session.execute(
            insert(interactions).values(
                interaction_id=interaction.interaction_id,
                channel=interaction.channel.value,
                contact_id=interaction.contact_id,
                account_id=interaction.account_id,
                first_contact=interaction.first_contact,
                subject=interaction.subject,
                body=interaction.body,
                request_type=interaction.request_type,
                parameters=dict(interaction.parameters),
                follow_up_of=interaction.follow_up_of,
                language=interaction.language,
                submission_id=interaction.submission_id,
                received_at=interaction.received_at,
            )
        )

    async def get(self, interaction_id: UUID) -> Interaction | None:
        """The interaction with `interaction_id`, or None."""
        return await self._one(interactions.c.interaction_id == interaction_id)

    async def by_submission(self, submission_id: UUID) -> Interaction | None:
        """The interaction recorded for a web channel's submission, or None."""
        return await self._one(interactions.c.submission_id == submission_id)

    async def _one(self, condition: Any) -> Interaction | None:
        row = (
            (await self._session.execute(select(interactions).where(condition))).mappings().first()
        )
        if row is None:
            return None
        return Interaction(
            interaction_id=row["interaction_id"],
            channel=Channel(row["channel"]),
            contact_id=row["contact_id"],
            account_id=row["account_id"],
            first_contact=row["first_contact"],
            subject=row["subject"],
            body=row["body"],
            request_type=row["request_type"],
            parameters=dict(row["parameters"]),
            follow_up_of=row["follow_up_of"],
            language=row["language"],
            submission_id=row["submission_id"],
            received_at=row["received_at"],
        )


class SqlIdempotencyStore:
    """Idempotency-Keys per caller, decided by the table's primary key."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def claim(self, *, owner: str, key: str, fingerprint: str, now: datetime) -> bool:
        """Take `key` for a request; False if it was taken before.

        A racing duplicate's insert waits on the first one's uncommitted row, then finds the
        key taken (if the first committed) or takes it (if the first rolled back).
        """
        taken = await self._session.scalar(
            pg_insert(idempotency_keys)
            .values(owner=owner, key=key, fingerprint=fingerprint, created_at=now)
            .on_conflict_do_nothing()
            .returning(idempotency_keys.c.key)
        )
        return taken is not None

    async def get(self, *, owner: str, key: str) -> StoredRequest | None:
        """The request made under `key`, or None."""
        row = (
            (
                await self._session.execute(
                    select(idempotency_keys.c.fingerprint, idempotency_keys.c.response).where(
                        idempotency_keys.c.owner == owner, idempotency_keys.c.key == key
                    )
                )
            )
            .mappings()
            .first()
        )
        if row is None:
            return None
        return StoredRequest(fingerprint=row["fingerprint"], response=row["response"])

    async def complete(self, *, owner: str, key: str, response: Mapping[str, object]) -> None:
        """Keep the answer given to the request that took `key`."""
        await self._session.execute(
            update(idempotency_keys)
            .where(idempotency_keys.c.owner == owner, idempotency_keys.c.key == key)
            .values(response=dict(response))
        )
