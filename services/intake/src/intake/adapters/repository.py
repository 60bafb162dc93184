"""Intake's state in PostgreSQL: interactions and Idempotency-Keys (customers: `customers`)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from intake.adapters.tables import idempotency_keys, interactions
from intake.domain.attachments import StoredAttachment
from intake.domain.idempotency import StoredRequest
from intake.domain.interactions import Channel, Interaction

_INSERT_INTERACTION = insert(interactions)


class SqlInteractionRepository:
    """Received interactions."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, interaction: Interaction) -> None:
        """Insert a new interaction."""
        # The statement as such, its values as parameters: compiled once, not built per call.
        await self._session.execute(
            _INSERT_INTERACTION,
            dict(
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
                attachments=[attachment_record(a) for a in interaction.attachments],
                auto_reply=interaction.auto_reply,
                message_id=interaction.message_id,
            ),
        )

    async def get(self, interaction_id: UUID) -> Interaction | None:
        """The interaction with `interaction_id`, or None."""
        return await self._one(interactions.c.interaction_id == interaction_id)

    async def by_submission(self, submission_id: UUID) -> Interaction | None:
        """The interaction recorded for a web channel's submission, or None."""
        return await self._one(interactions.c.submission_id == submission_id)

    async def move(self, *, from_contact: UUID, to_contact: UUID) -> None:
        """Give every interaction of `from_contact` to `to_contact`."""
        await self._session.execute(
            update(interactions)
            .where(interactions.c.contact_id == from_contact)
            .values(contact_id=to_contact)
        )

    async def erase(self, contact_id: UUID) -> None:
        """Clear what the contact wrote in their interactions (subject, body, answers)."""
        await self._session.execute(
            update(interactions)
            .where(interactions.c.contact_id == contact_id)
            .values(subject="", body="", parameters={})
        )

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
            attachments=tuple(attachment_of(a) for a in row["attachments"]),
            auto_reply=row["auto_reply"],
            message_id=row["message_id"],
        )


def attachment_record(attachment: StoredAttachment) -> dict[str, Any]:
    """A stored file's reference as a JSON value."""
    return {
        "attachment_id": str(attachment.attachment_id),
        "filename": attachment.filename,
        "content_type": attachment.content_type,
        "size": attachment.size,
        "sha256": attachment.sha256,
    }


def attachment_of(record: Mapping[str, Any]) -> StoredAttachment:
    """A stored file's reference read back from its JSON value."""
    return StoredAttachment(
        attachment_id=UUID(str(record["attachment_id"])),
        filename=str(record["filename"]),
        content_type=str(record["content_type"]),
        size=int(record["size"]),
        sha256=str(record["sha256"]),
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
