"""The email channel's state in PostgreSQL: inbound messages, outbound messages and intake's
copy of the agent directory."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import RowMapping, bindparam, func, literal, select, union_all, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from intake.adapters.repository import attachment_of, attachment_record
from intake.adapters.tables import agents, mail_messages, outbound_messages
from intake.app.mail import NewMail
from intake.domain.mail_rules import (
    InboundMail,
    MailKind,
    MailStatus,
    OutboundStatus,
)
from intake.domain.outbound import AgentAddress, OutboundMessage

_MAIL_COLUMNS = tuple(c for c in mail_messages.c if c.name != "raw")
"""A message's row but for its bytes, which only reading the message needs."""


_ADD_MAIL = (
    pg_insert(mail_messages)
    .on_conflict_do_nothing(index_elements=[mail_messages.c.dedupe_key])
    .returning(mail_messages.c.mail_id)
)
"""Messages kept as received, a duplicate skipped: the statement built once."""


class SqlMailRepository:
    """Inbound messages: stored first, then what became of each."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add_many(self, mails: Sequence[NewMail], *, now: datetime) -> set[UUID]:
        """Keep new messages as received, with one statement; the ids of those kept (a
        message kept already, or twice among `mails`, is kept once)."""
        if not mails:
            return set()
        inserted = await self._session.execute(
            _ADD_MAIL,
            [
                {
                    "mail_id": mail.mail_id,
                    "source": mail.source,
                    "received_at": now,
                    "dedupe_key": mail.headers.dedupe_key,
                    "message_id": mail.headers.message_id,
                    "raw_sha256": mail.headers.sha256,
                    "raw": mail.raw,
                    "size": mail.size,
                    "envelope_from": mail.envelope_from,
                    "envelope_to": list(mail.envelope_to),
                    "status": MailStatus.RECEIVED.value,
                }
                for mail in mails
            ],
        )
        return set(inserted.scalars())

    async def raw(self, mail_id: UUID) -> bytes | None:
        """The message's bytes when its row holds them (None: they are in the blob store)."""
        raw: bytes | None = await self._session.scalar(
            select(mail_messages.c.raw).where(mail_messages.c.mail_id == mail_id)
        )
        return raw

    async def get(self, mail_id: UUID) -> InboundMail | None:
        """The message `mail_id`, or None."""
        row = (
            (
                await self._session.execute(
                    select(*_MAIL_COLUMNS).where(mail_messages.c.mail_id == mail_id)
                )
            )
            .mappings()
            .first()
        )
        return None if row is None else _mail(row)

    async def claim(self, mail_id: UUID, *, statuses: Sequence[MailStatus]) -> InboundMail | None:
        """The message, locked for this transaction, if it is in one of `statuses` and no one
        else is working on it."""
        row = (
            (
                await self._session.execute(
                    select(*_MAIL_COLUMNS)
                    .where(
                        mail_messages.c.mail_id == mail_id,
                        mail_messages.c.status.in_([s.value for s in statuses]),
                    )
                    .with_for_update(skip_locked=True)
                )
            )
            .mappings()
            .first()
        )
        return None if row is None else _mail(row)

    async def claim_many(
        self, mail_ids: Sequence[UUID], *, statuses: Sequence[MailStatus]
    ) -> list[InboundMail]:
        """Those of the messages that are in one of `statuses` and that no one else is working
        on, locked for this transaction, in the order of `mail_ids`."""
        if not mail_ids:
            return []
        rows = (
            await self._session.execute(
                select(*_MAIL_COLUMNS)
                .where(
                    mail_messages.c.mail_id.in_(mail_ids),
                    mail_messages.c.status.in_([s.value for s in statuses]),
                )
                .with_for_update(skip_locked=True)
            )
        ).mappings()
        found = {row["mail_id"]: _mail(row) for row in rows}
        return [found[mail_id] for mail_id in mail_ids if mail_id in found]

    async def save(self, mail: InboundMail) -> None:
        """Record what became of a message."""
        await self.save_many([mail])

    async def save_many(self, mails: Sequence[InboundMail]) -> None:
        """Record what became of several messages, with one statement."""
        if not mails:
            return
        await self._session.execute(
            update(mail_messages)
            .where(mail_messages.c.mail_id == bindparam("key"))
            .values({name: bindparam(name) for name in _OUTCOME}),
            [{"key": mail.mail_id, **_outcome(mail)} for mail in mails],
        )

    async def waiting(self, *, received_before: datetime, limit: int) -> list[UUID]:
        """Messages stored but not read since before `received_before` (their reader stopped)."""
        rows = await self._session.execute(
            select(mail_messages.c.mail_id)
            .where(
                mail_messages.c.status == MailStatus.RECEIVED.value,
                mail_messages.c.received_at < received_before,
            )
            .order_by(mail_messages.c.received_at)
            .limit(limit)
        )
        return list(rows.scalars())

    async def listing(
        self, *, status: MailStatus | None, limit: int, offset: int
    ) -> tuple[list[InboundMail], int]:
        """A page of messages, the newest first, and how many there are in all."""
        condition = literal(True) if status is None else mail_messages.c.status == status.value
        rows = await self._session.execute(
            select(*_MAIL_COLUMNS)
            .where(condition)
            .order_by(mail_messages.c.received_at.desc(), mail_messages.c.mail_id)
            .limit(limit)
            .offset(offset)
        )
        total = await self._session.execute(
            select(func.count()).select_from(mail_messages).where(condition)
        )
        return [_mail(row) for row in rows.mappings()], int(total.scalar_one())

    async def case_number_of(self, message_ids: Sequence[str]) -> str | None:
        """The case of the nearest of `message_ids` (the nearest first) that intake sent or
        received on a case."""
        if not message_ids:
            return None
        known = union_all(
            select(mail_messages.c.message_id, mail_messages.c.case_number).where(
                mail_messages.c.message_id.in_(message_ids),
                mail_messages.c.case_number.is_not(None),
            ),
            select(outbound_messages.c.message_id, outbound_messages.c.case_number).where(
                outbound_messages.c.message_id.in_(message_ids),
                outbound_messages.c.case_number.is_not(None),
            ),
        )
        found = {row[0]: row[1] for row in (await self._session.execute(select(known.subquery())))}
        return next((found[i] for i in message_ids if i in found), None)

    async def link_case(self, *, interaction_id: UUID, case_id: UUID, number: str) -> None:
        """The case an interaction's message opened or joined, once cases says so."""
        await self._session.execute(
            update(mail_messages)
            .where(mail_messages.c.interaction_id == interaction_id)
            .values(case_id=case_id, case_number=number)
        )

    async def thread(self, case_number: str) -> list[tuple[str, bool]]:
        """The Message-IDs on a case, the oldest first, each with whether it came from the
        customer's side."""
        inbound = select(
            mail_messages.c.message_id.label("message_id"),
            mail_messages.c.received_at.label("at"),
            literal(True).label("inbound"),
        ).where(
            mail_messages.c.case_number == case_number,
            mail_messages.c.message_id.is_not(None),
            mail_messages.c.status == MailStatus.PROCESSED.value,
        )
        outbound = select(
            outbound_messages.c.message_id.label("message_id"),
            outbound_messages.c.created_at.label("at"),
            literal(False).label("inbound"),
        ).where(
            outbound_messages.c.case_number == case_number,
            outbound_messages.c.status.in_(
                [OutboundStatus.SENT.value, OutboundStatus.QUEUED.value]
            ),
        )
        both = union_all(inbound, outbound).subquery()
        rows = await self._session.execute(
            select(both.c.message_id, both.c.inbound).order_by(both.c.at)
        )
        return [(str(row[0]), bool(row[1])) for row in rows]


class SqlOutboundRepository:
    """Outgoing messages and their delivery."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, message: OutboundMessage) -> None:
        """Keep a new outgoing message."""
        await self._session.execute(
            pg_insert(outbound_messages).values(**_outbound_values(message))
        )

    async def save(self, message: OutboundMessage) -> None:
        """Record how a message's delivery went."""
        values = _outbound_values(message)
        del values["outbound_id"]
        await self._session.execute(
            update(outbound_messages)
            .where(outbound_messages.c.outbound_id == message.outbound_id)
            .values(**values)
        )

    async def get(self, outbound_id: UUID) -> OutboundMessage | None:
        """The message `outbound_id`, or None."""
        return await self._one(outbound_messages.c.outbound_id == outbound_id)

    async def by_notification(self, notification_id: UUID) -> OutboundMessage | None:
        """The message rendered from a notification, if it was."""
        return await self._one(outbound_messages.c.notification_id == notification_id)

    async def by_message_id(self, message_id: str) -> OutboundMessage | None:
        """The message with this Message-ID, if intake sent it."""
        return await self._one(outbound_messages.c.message_id == message_id)

    async def claim_due(
        self, *, now: datetime, lease: timedelta, limit: int
    ) -> list[OutboundMessage]:
        """Queued messages whose time has come, taken for `lease`: no other sender picks them up
        meanwhile, and a sender that dies leaves them to be taken again."""
        due = (
            select(outbound_messages.c.outbound_id)
            .where(
                outbound_messages.c.status == OutboundStatus.QUEUED.value,
                outbound_messages.c.next_attempt_at <= now,
            )
            .order_by(outbound_messages.c.next_attempt_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        rows = await self._session.execute(
            update(outbound_messages)
            .where(outbound_messages.c.outbound_id.in_(due))
            .values(next_attempt_at=now + lease)
            .returning(*outbound_messages.c)
        )
        return [_outbound(row) for row in rows.mappings()]

    async def count_recent(self, *, address: str, template: str, since: datetime) -> int:
        """How many messages of `template` went (or were held back) to `address` lately."""
        total = await self._session.execute(
            select(func.count())
            .select_from(outbound_messages)
            .where(
                func.lower(outbound_messages.c.address) == address.lower(),
                outbound_messages.c.template == template,
                outbound_messages.c.created_at >= since,
                outbound_messages.c.status != OutboundStatus.SUPPRESSED.value,
            )
        )
        return int(total.scalar_one())

    async def listing(
        self,
        *,
        status: OutboundStatus | None,
        case_id: UUID | None,
        limit: int,
        offset: int,
    ) -> tuple[list[OutboundMessage], int]:
        """A page of outgoing messages, the newest first, and how many match in all."""
        conditions: list[Any] = []
        if status is not None:
            conditions.append(outbound_messages.c.status == status.value)
        if case_id is not None:
            conditions.append(outbound_messages.c.case_id == case_id)
        rows = await self._session.execute(
            select(outbound_messages)
            .where(*conditions)
            .order_by(outbound_messages.c.created_at.desc(), outbound_messages.c.outbound_id)
            .limit(limit)
            .offset(offset)
        )
        total = await self._session.execute(
            select(func.count()).select_from(outbound_messages).where(*conditions)
        )
        return [_outbound(row) for row in rows.mappings()], int(total.scalar_one())

    async def _one(self, condition: Any) -> OutboundMessage | None:
        row = (
            (await self._session.execute(select(outbound_messages).where(condition)))
            .mappings()
            .first()
        )
        return None if row is None else _outbound(row)


class SqlAgentRepository:
    """intake's copy of the agent directory."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def keep(self, agent: AgentAddress, *, now: datetime) -> bool:
        """Keep an agent's entry unless a later version is kept already; True if kept."""
        values = {
            "agent_id": agent.agent_id,
            "name": agent.name,
            "email": agent.email,
            "language": agent.language,
            "manager_id": agent.manager_id,
            "active": agent.active,
            "version": agent.version,
            "updated_at": now,
        }
        statement = pg_insert(agents).values(**values)
        kept = await self._session.execute(
            statement.on_conflict_do_update(
                index_elements=[agents.c.agent_id],
                set_={k: statement.excluded[k] for k in values if k != "agent_id"},
                where=agents.c.version < statement.excluded.version,
            ).returning(agents.c.agent_id)
        )
        return kept.scalar_one_or_none() is not None

    async def get(self, agent_id: UUID) -> AgentAddress | None:
        """An agent's entry, or None when intake has not heard of them."""
        row = (
            (await self._session.execute(select(agents).where(agents.c.agent_id == agent_id)))
            .mappings()
            .first()
        )
        if row is None:
            return None
        return AgentAddress(
            agent_id=row["agent_id"],
            name=row["name"],
            email=row["email"],
            language=row["language"],
            manager_id=row["manager_id"],
            active=row["active"],
            version=row["version"],
        )


def _mail(row: RowMapping) -> InboundMail:
    return InboundMail(
        mail_id=row["mail_id"],
        source=row["source"],
        received_at=row["received_at"],
        raw_sha256=row["raw_sha256"],
        size=row["size"],
        status=MailStatus(row["status"]),
        message_id=row["message_id"],
        envelope_from=row["envelope_from"],
        envelope_to=tuple(row["envelope_to"] or ()),
        kind=None if row["kind"] is None else MailKind(row["kind"]),
        error=row["error"],
        attempts=row["attempts"],
        processed_at=row["processed_at"],
        from_address=row["from_address"],
        from_name=row["from_name"],
        subject=row["subject"],
        new_text=row["new_text"],
        text=row["text"],
        html=row["html"],
        interaction_id=row["interaction_id"],
        contact_id=row["contact_id"],
        case_id=row["case_id"],
        case_number=row["case_number"],
    )


def _outbound_values(message: OutboundMessage) -> dict[str, Any]:
    return {
        "outbound_id": message.outbound_id,
        "notification_id": message.notification_id,
        "template": message.template,
        "language": message.language,
        "recipient_kind": message.recipient_kind,
        "recipient_id": message.recipient_id,
        "address": message.address,
        "subject": message.subject,
        "body": message.body,
        "html": message.html,
        "message_id": message.message_id,
        "in_reply_to": message.in_reply_to,
        "thread_ids": list(message.thread_ids),
        "attachments": [attachment_record(a) for a in message.attachments],
        "case_id": message.case_id,
        "case_number": message.case_number,
        "status": message.status.value,
        "attempts": message.attempts,
        "next_attempt_at": message.next_attempt_at,
        "last_error": message.last_error,
        "created_at": message.created_at,
        "sent_at": message.sent_at,
        "updated_at": message.updated_at,
    }


def _outbound(row: RowMapping) -> OutboundMessage:
    return OutboundMessage(
        outbound_id=row["outbound_id"],
        notification_id=row["notification_id"],
        template=row["template"],
        language=row["language"],
        recipient_kind=row["recipient_kind"],
        recipient_id=row["recipient_id"],
        address=row["address"],
        subject=row["subject"],
        body=row["body"],
        html=row["html"],
        message_id=row["message_id"],
        in_reply_to=row["in_reply_to"],
        thread_ids=tuple(row["thread_ids"] or ()),
        case_id=row["case_id"],
        case_number=row["case_number"],
        status=OutboundStatus(row["status"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        attachments=tuple(attachment_of(a) for a in row["attachments"] or ()),
        attempts=row["attempts"],
        next_attempt_at=row["next_attempt_at"],
        last_error=row["last_error"],
        sent_at=row["sent_at"],
    )


def _outcome(mail: InboundMail) -> dict[str, Any]:
    """What became of a message, by column."""
    return {
        "status": mail.status.value,
        "kind": None if mail.kind is None else mail.kind.value,
        "error": mail.error,
        "attempts": mail.attempts,
        "processed_at": mail.processed_at,
        "from_address": mail.from_address,
        "from_name": mail.from_name,
        "subject": mail.subject,
        "new_text": mail.new_text,
        "text": mail.text,
        "html": mail.html,
        "interaction_id": mail.interaction_id,
        "contact_id": mail.contact_id,
        "case_id": mail.case_id,
        "case_number": mail.case_number,
    }


_OUTCOME = (
    "status",
    "kind",
    "error",
    "attempts",
    "processed_at",
    "from_address",
    "from_name",
    "subject",
    "new_text",
    "text",
    "html",
    "interaction_id",
    "contact_id",
    "case_id",
    "case_number",
)
"""The columns `save` writes."""
