"""Calls in PostgreSQL, and the translation between the telephony and contract events on the
wire and the phone channel's domain."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import exists, func, insert, or_, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

import caseflow_contracts as c
from intake.adapters.tables import (
    account_contracts,
    accounts,
    calls,
    case_summaries,
    contact_emails,
    contact_phones,
    contacts,
    cti_rejected,
    extension_agents,
    interactions,
)
from intake.app.calls import AccountCard, CaseLine, ContactCard, RejectedEvent
from intake.domain.calls import (
    Call,
    CallFinished,
    CallIdentified,
    CallSignal,
    Match,
    NumberHolder,
    Signal,
)
from intake.domain.contract_copies import (
    ContractCopy,
    ContractLineCopy,
    ContractNews,
    ContractTerms,
    LineBalance,
    LineTerms,
)
from intake.domain.interactions import Interaction

SCREEN_POPS_CHANNEL = "screen_pops"
"""The PostgreSQL notification channel that tells every replica to pop a call up."""

_LOCK = text("SELECT pg_advisory_xact_lock(hashtextextended(:name, 0))")
_NOTIFY = text("SELECT pg_notify(:channel, :payload)")
# Statuses of a case that is over; anything else is open.
_CLOSED_STATUSES = ("resolved", "cancelled", "closed")


class SqlCallRepository:
    """Calls, extensions' agents, rejected events, and the screen-pop's reads."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    # -- calls -------------------------------------------------------------------------------

    async def lock(self, call_id: str) -> None:
        """Hold off other transactions on the same call until this one ends."""
        # A transaction-scoped advisory lock: two events of one call (the topic and the
        # webhook, or two replicas) merge one after the other, never into two rows.
        await self._session.execute(_LOCK, {"name": f"intake.call:{call_id}"})

    async def get(self, call_id: str) -> Call | None:
        row = (
            (await self._session.execute(select(calls).where(calls.c.call_id == call_id)))
            .mappings()
            .first()
        )
        return None if row is None else _call(row)

    async def save(self, call: Call) -> None:
        values = _row(call)
        statement = pg_insert(calls).values(**values)
        await self._session.execute(
            statement.on_conflict_do_update(
                index_elements=[calls.c.call_id],
                set_={k: statement.excluded[k] for k in values if k not in ("call_id",)},
            )
        )

    async def overdue(self, *, heard_before: datetime, limit: int) -> list[str]:
        rows = await self._session.scalars(
            select(calls.c.call_id)
            .where(calls.c.interaction_id.is_(None), calls.c.first_heard_at <= heard_before)
            .order_by(calls.c.first_heard_at)
            .limit(limit)
        )
        return list(rows.all())

    async def holders(self, key: str, *, limit: int) -> list[NumberHolder]:
        rows = await self._session.execute(
            select(contacts.c.contact_id, contacts.c.account_id)
            .join(contact_phones, contact_phones.c.contact_id == contacts.c.contact_id)
            .where(
                contact_phones.c.phone == key,
                contacts.c.merged_into.is_(None),
                contacts.c.erased_at.is_(None),
            )
            .order_by(contacts.c.created_at, contacts.c.contact_id)
            .limit(limit)
        )
        return [NumberHolder(contact_id=r.contact_id, account_id=r.account_id) for r in rows]

    async def has_interactions(self, contact_id: UUID) -> bool:
        """Whether the contact wrote or called before, or has a case (one an agent opened for
        them, from a letter or at the desk, counts as a contact too)."""
        found = await self._session.scalar(
            select(
                or_(
                    exists().where(interactions.c.contact_id == contact_id),
                    exists().where(case_summaries.c.contact_id == contact_id),
                )
            )
        )
        return bool(found)

    async def agent_at(self, extension: str) -> UUID | None:
        agent: UUID | None = await self._session.scalar(
            select(extension_agents.c.agent_id).where(extension_agents.c.extension == extension)
        )
        return agent

    async def sit(self, extension: str, agent_id: UUID, *, now: datetime) -> None:
        statement = pg_insert(extension_agents).values(
            extension=extension, agent_id=agent_id, bound_at=now
        )
        await self._session.execute(
            statement.on_conflict_do_update(
                index_elements=[extension_agents.c.extension],
                set_={"agent_id": agent_id, "bound_at": now},
            )
        )

    async def pop_up(self, call_id: str, extension: str) -> None:
        # Delivered to every listener when (and only if) the transaction commits.
        payload = json.dumps({"call_id": call_id, "extension": extension})
        await self._session.execute(_NOTIFY, {"channel": SCREEN_POPS_CHANNEL, "payload": payload})

    async def add_interaction(
        self,
        interaction: Interaction,
        *,
        call_id: str,
        duration_seconds: int,
        agent_id: UUID | None,
    ) -> None:
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
                call_id=call_id,
                duration_seconds=duration_seconds,
                agent_id=agent_id,
            )
        )

    # -- the screen-pop's reads ------------------------------------------------------------

    async def contact_cards(self, contact_ids: Sequence[UUID]) -> list[ContactCard]:
        if not contact_ids:
            return []
        emails = (
            select(func.array_agg(func.distinct(contact_emails.c.email)))
            .where(contact_emails.c.contact_id == contacts.c.contact_id)
            .scalar_subquery()
        )
        phones = (
            select(func.array_agg(func.distinct(contact_phones.c.phone)))
            .where(contact_phones.c.contact_id == contacts.c.contact_id)
            .scalar_subquery()
        )
        rows = await self._session.execute(
            select(
                contacts.c.contact_id,
                contacts.c.name,
                contacts.c.account_id,
                contacts.c.position,
                contacts.c.language,
                emails.label("emails"),
                phones.label("phones"),
            ).where(contacts.c.contact_id.in_(list(contact_ids)))
        )
        found = {
            r.contact_id: ContactCard(
                contact_id=r.contact_id,
                name=r.name,
                account_id=r.account_id,
                position=r.position,
                language=r.language,
                emails=tuple(r.emails or ()),
                phones=tuple(r.phones or ()),
            )
            for r in rows
        }
        return [found[contact_id] for contact_id in contact_ids if contact_id in found]

    async def account_card(self, account_id: UUID) -> AccountCard | None:
        row = (
            await self._session.execute(
                select(
                    accounts.c.account_id,
                    accounts.c.name,
                    accounts.c.tier,
                    accounts.c.region,
                    accounts.c.owner_id,
                    accounts.c.credit_hold,
                    accounts.c.credit_hold_reason,
                ).where(accounts.c.account_id == account_id)
            )
        ).first()
        if row is None:
            return None
        return AccountCard(
            account_id=row.account_id,
            name=row.name,
            tier=row.tier,
            region=row.region,
            owner_id=row.owner_id,
            credit_hold=row.credit_hold,
            credit_hold_reason=row.credit_hold_reason,
        )

    async def cases(
        self, *, contact_id: UUID | None, account_id: UUID | None, open_: bool, limit: int
    ) -> list[CaseLine]:
        t = case_summaries
        query = select(t)
        if contact_id is not None:
            query = query.where(t.c.contact_id == contact_id)
        if account_id is not None:
            query = query.where(t.c.account_id == account_id)
        if open_:
            query = query.where(t.c.status.not_in(_CLOSED_STATUSES)).order_by(
                t.c.opened_at.desc().nulls_last(), t.c.case_id
            )
        else:
            finished_at = func.coalesce(t.c.closed_at, t.c.resolved_at, t.c.updated_at)
            query = query.where(t.c.status.in_(_CLOSED_STATUSES)).order_by(
                finished_at.desc(), t.c.case_id
            )
        rows = (await self._session.execute(query.limit(limit))).mappings()
        return [
            CaseLine(
                case_id=r["case_id"],
                number=r["number"],
                subject=r["subject"],
                status=r["status"],
                opened_at=r["opened_at"],
                resolved_at=r["resolved_at"],
                closed_at=r["closed_at"],
            )
            for r in rows
        ]

    # -- the copy of the accounts' contracts -----------------------------------------------

    async def contracts(self, account_id: UUID, *, limit: int) -> list[ContractCopy]:
        t = account_contracts
        # Those in force first, then the rest by how recently they ended.
        in_force = t.c.status.in_(("active", "on_hold"))
        rows = (
            await self._session.execute(
                select(t)
                .where(t.c.account_id == account_id)
                .order_by(in_force.desc(), t.c.ends_on.desc().nulls_last(), t.c.number)
                .limit(limit)
            )
        ).mappings()
        return [_contract(r) for r in rows]

    async def contract(self, contract_id: UUID) -> ContractCopy | None:
        row = (
            (
                await self._session.execute(
                    select(account_contracts)
                    .where(account_contracts.c.contract_id == contract_id)
                    .with_for_update()
                )
            )
            .mappings()
            .first()
        )
        return None if row is None else _contract(row)

    async def save_contract(self, copy: ContractCopy, *, now: datetime) -> None:
        values: dict[str, Any] = {
            "contract_id": copy.contract_id,
            "account_id": copy.account_id,
            "number": copy.number,
            "name": copy.name,
            "status": copy.status,
            "starts_on": copy.starts_on,
            "ends_on": copy.ends_on,
            "lines": [_line_json(line) for line in copy.lines],
            "version": copy.version,
            # The moment of the latest event the copy reflects (its status's).
            "updated_at": copy.status_as_of,
        }
        statement = pg_insert(account_contracts).values(**values)
        await self._session.execute(
            statement.on_conflict_do_update(
                index_elements=[account_contracts.c.contract_id],
                set_={k: statement.excluded[k] for k in values if k != "contract_id"},
            )
        )

    # -- rejected events -------------------------------------------------------------------

    async def reject(self, rejected: RejectedEvent) -> None:
        await self._session.execute(
            insert(cti_rejected).values(
                rejected_id=rejected.rejected_id,
                received_at=rejected.received_at,
                source=rejected.source[:64],
                body=rejected.body,
                error=rejected.error,
            )
        )

    async def rejected(self, *, limit: int, offset: int) -> tuple[list[RejectedEvent], int]:
        total = await self._session.scalar(select(func.count()).select_from(cti_rejected))
        rows = (
            await self._session.execute(
                select(cti_rejected)
                .order_by(cti_rejected.c.received_at.desc(), cti_rejected.c.rejected_id)
                .limit(limit)
                .offset(offset)
            )
        ).mappings()
        items = [
            RejectedEvent(
                rejected_id=r["rejected_id"],
                received_at=r["received_at"],
                source=r["source"],
                body=r["body"],
                error=r["error"],
            )
            for r in rows
        ]
        return items, int(total or 0)


def _row(call: Call) -> dict[str, Any]:
    return {
        "call_id": call.call_id,
        "caller_number": call.caller_number,
        "caller_e164": call.caller_e164,
        "dialled_number": call.dialled_number,
        "extension": call.extension,
        "agent_id": call.agent_id,
        "match": None if call.match is None else call.match.value,
        "contact_id": call.contact_id,
        "account_id": call.account_id,
        "candidates": [str(candidate) for candidate in call.candidates],
        "first_contact": call.first_contact,
        "ringing_at": call.ringing_at,
        "answered_at": call.answered_at,
        "ended_at": call.ended_at,
        "missed": call.missed,
        "duration_seconds": call.duration_seconds,
        "timed_out": call.timed_out,
        "interaction_id": call.interaction_id,
        "first_heard_at": call.first_heard_at,
        "updated_at": call.updated_at,
    }


def _call(row: Any) -> Call:
    return Call(
        call_id=row["call_id"],
        caller_number=row["caller_number"],
        caller_e164=row["caller_e164"],
        dialled_number=row["dialled_number"],
        extension=row["extension"],
        agent_id=row["agent_id"],
        match=None if row["match"] is None else Match(row["match"]),
        contact_id=row["contact_id"],
        account_id=row["account_id"],
        candidates=tuple(UUID(str(candidate)) for candidate in row["candidates"]),
        first_contact=row["first_contact"],
        ringing_at=row["ringing_at"],
        answered_at=row["answered_at"],
        ended_at=row["ended_at"],
        missed=row["missed"],
        duration_seconds=row["duration_seconds"],
        timed_out=row["timed_out"],
        interaction_id=row["interaction_id"],
        first_heard_at=row["first_heard_at"],
        updated_at=row["updated_at"],
    )


def _line_json(line: ContractLineCopy) -> dict[str, Any]:
    return {
        "line_id": str(line.line_id),
        "number": line.number,
        "name": line.name,
        "allocation": line.allocation,
        "allotment": line.allotment,
        "remaining": line.remaining,
        # What the remaining is made of: the drawn amount as of the latest balance heard.
        "drawn": line.drawn,
        "drawn_as_of": None if line.drawn_as_of is None else line.drawn_as_of.isoformat(),
    }


def _contract(row: Any) -> ContractCopy:
    return ContractCopy(
        contract_id=row["contract_id"],
        account_id=row["account_id"],
        number=row["number"],
        name=row["name"],
        status=row["status"],
        status_as_of=row["updated_at"],
        starts_on=row["starts_on"],
        ends_on=row["ends_on"],
        version=row["version"],
        lines=tuple(
            ContractLineCopy(
                line_id=UUID(line["line_id"]),
                number=int(line["number"]),
                name=str(line.get("name") or ""),
                allocation=str(line["allocation"]),
                allotment=int(line["allotment"]),
                drawn=int(line.get("drawn", int(line["allotment"]) - int(line["remaining"]))),
                drawn_as_of=None
                if line.get("drawn_as_of") is None
                else datetime.fromisoformat(line["drawn_as_of"]),
            )
            for line in row["lines"]
        ),
    )


# -- the wire ------------------------------------------------------------------------------


def signal_of(event: c.Event) -> CallSignal:
    """A telephony event from `channels.cti.v1` (or the webhook) as the domain reads it."""
    if not isinstance(event, c.channels.CallEventBase):
        msg = f"{event.type} is no telephony event"
        raise TypeError(msg)
    common: dict[str, Any] = {
        "call_id": event.call_id,
        "caller_number": event.caller_number,
        "dialled_number": event.dialled_number,
        "extension": event.agent_extension,
    }
    match event:
        case c.CallRinging():
            return CallSignal(kind=Signal.RINGING, ringing_at=event.ringing_at, **common)
        case c.CallAnswered():
            return CallSignal(
                kind=Signal.ANSWERED,
                ringing_at=event.ringing_at,
                answered_at=event.answered_at,
                **common,
            )
        case c.CallEnded():
            disposition = event.disposition
            return CallSignal(
                kind=Signal.ENDED,
                ringing_at=event.ringing_at,
                answered_at=event.answered_at,
                ended_at=event.ended_at,
                duration_seconds=event.duration_seconds,
                answered=None if disposition is None else disposition is c.CallDisposition.ANSWERED,
                **common,
            )
        case c.CallMissed():
            return CallSignal(
                kind=Signal.MISSED, ringing_at=event.ringing_at, ended_at=event.missed_at, **common
            )
        case c.CallTransferred():
            return CallSignal(kind=Signal.TRANSFERRED, **common)
    msg = f"{event.type} is no telephony event intake knows"
    raise TypeError(msg)


def call_event(event: CallIdentified | CallFinished) -> tuple[c.Event, str]:
    """The contract event that announces `event`, and its key."""
    match event:
        case CallIdentified():
            return (
                c.CallIdentified(
                    call_id=event.call_id,
                    caller_number=event.caller_number,
                    caller_e164=event.caller_e164,
                    extension=event.extension,
                    contact_id=event.contact_id,
                    account_id=event.account_id,
                    match=c.CallerMatch(event.match.value),
                    candidates=list(event.candidates),
                    first_contact=event.first_contact,
                    occurred_at=event.occurred_at,
                ),
                event.call_id,
            )
        case CallFinished():
            return (
                c.CallFinished(
                    call_id=event.call_id,
                    caller_number=event.caller_number,
                    caller_e164=event.caller_e164,
                    extension=event.extension,
                    contact_id=event.contact_id,
                    account_id=event.account_id,
                    interaction_id=event.interaction_id,
                    dialled_number=event.dialled_number,
                    agent_id=event.agent_id,
                    answered=event.answered,
                    ringing_at=event.ringing_at,
                    answered_at=event.answered_at,
                    ended_at=event.ended_at,
                    duration_seconds=event.duration_seconds,
                    timed_out=event.timed_out,
                    first_contact=event.first_contact,
                    occurred_at=event.occurred_at,
                ),
                event.call_id,
            )


def contract_news(event: c.Event) -> ContractNews:
    """A `cases.contract.v1` event as intake's copy of the contracts reads it."""
    if not isinstance(event, c.entitlements.ContractEventBase):
        msg = f"{event.type} is no contract event"
        raise TypeError(msg)
    terms = None
    balance = None
    if isinstance(event, c.entitlements.ContractSnapshot):
        terms = ContractTerms(
            name=event.name,
            starts_on=event.starts_on,
            ends_on=event.ends_on,
            version=event.version,
            lines=tuple(
                LineTerms(
                    line_id=line.line_id,
                    number=line.number,
                    name=line.name,
                    allocation=line.allocation.value,
                    allotment=line.allotment,
                )
                for line in event.lines
            ),
        )
    if isinstance(event, c.entitlements.LineEventBase):
        balance = LineBalance(
            line_id=event.line_id,
            line_number=event.line_number,
            allocation=event.allocation.value,
            allotment=event.allotment,
            remaining=event.remaining,
        )
    return ContractNews(
        contract_id=event.contract_id,
        account_id=event.account_id,
        number=event.number,
        status=event.status.value,
        occurred_at=event.occurred_at,
        terms=terms,
        balance=balance,
    )
