"""Use cases of the phone channel: apply telephony events to calls, identify the caller, show
the agent a screen-pop, record a finished call as an interaction, close calls the switch never
ended; keep the copy of the accounts' contracts the screen-pop shows."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Protocol
from uuid import UUID, uuid4

import structlog

from intake.app.customers import file_sender
from intake.app.ports import IntakeUnitOfWork
from intake.domain.calls import (
    MAX_CANDIDATES,
    Call,
    CallFinished,
    CallIdentified,
    CallSignal,
    Match,
    NumberHolder,
    call_subject,
    call_summary,
    checked,
    filed_from_number,
    finish,
    identify_caller,
    merge,
    needs_caller,
    overdue,
    pops_up,
    talk_seconds,
    time_out,
    unknown_caller,
)
from intake.domain.contract_copies import (
    ContractCopy,
    ContractNews,
    apply_contract_news,
)
from intake.domain.customers import (
    Contact,
)
from intake.domain.errors import SubmissionRejected
from intake.domain.identification import (
    Identification,
    identify,
)
from intake.domain.interactions import Channel, Interaction, record_interaction

log = structlog.get_logger(__name__)

CallEvent = CallIdentified | CallFinished
OPEN_CASES_SHOWN = 10
RECENT_CASES_SHOWN = 5
CONTRACTS_SHOWN = 10


# -- what the screen-pop shows ---------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ContactCard:
    """The caller's card: who they are and how to reach them."""

    contact_id: UUID
    name: str
    account_id: UUID | None
    position: str | None
    language: str | None
    emails: tuple[str, ...]
    phones: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class AccountCard:
    """The caller's organisation, with what an agent must know before answering."""

    account_id: UUID
    name: str
    tier: str | None
    region: str | None
    owner_id: UUID | None
    credit_hold: bool
    credit_hold_reason: str | None


@dataclass(frozen=True, kw_only=True)
class CaseLine:
    """A case of the caller's, as intake's copy of the cases knows it."""

    case_id: UUID
    number: str
    subject: str
    status: str
    opened_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None


@dataclass(frozen=True, kw_only=True)
class ScreenPop:
    """What the agent at the extension sees of a call: the call, the caller, their cases and
    their contracts."""

    call: Call
    contact: ContactCard | None
    account: AccountCard | None
    candidates: tuple[ContactCard, ...]
    open_cases: tuple[CaseLine, ...]
    recent_cases: tuple[CaseLine, ...]
    contracts: tuple[ContractCopy, ...]


@dataclass(frozen=True, kw_only=True)
class RejectedEvent:
    """A telephony event the webhook could not read, kept for inspection."""

    rejected_id: UUID
    received_at: datetime
    source: str
    body: str
    error: str


# -- ports -----------------------------------------------------------------------------------


class CallRepository(Protocol):
    """Calls, who sits at which extension, the screen-pop's reads and intake's copy of the
    accounts' contracts."""

    async def lock(self, call_id: str) -> None:
        """Hold off other transactions on the same call until this one ends."""
        ...

    async def get(self, call_id: str) -> Call | None: ...
    async def save(self, call: Call) -> None: ...

    async def overdue(self, *, heard_before: datetime, limit: int) -> list[str]:
        """Calls not recorded yet and first heard of before `heard_before`, oldest first."""
        ...

    async def holders(self, key: str, *, limit: int) -> list[NumberHolder]:
        """Contacts in use (not merged away, not erased) with the number `key`, oldest first."""
        ...

    async def has_interactions(self, contact_id: UUID) -> bool: ...
    async def agent_at(self, extension: str) -> UUID | None: ...
    async def sit(self, extension: str, agent_id: UUID, *, now: datetime) -> None: ...

    async def pop_up(self, call_id: str, extension: str) -> None:
        """Tell every replica, once this transaction commits, to show the call at `extension`."""
        ...

    async def add_interaction(
        self,
        interaction: Interaction,
        *,
        call_id: str,
        duration_seconds: int,
        agent_id: UUID | None,
    ) -> None: ...

    async def contact_cards(self, contact_ids: Sequence[UUID]) -> list[ContactCard]: ...
    async def account_card(self, account_id: UUID) -> AccountCard | None: ...

    async def cases(
        self, *, contact_id: UUID | None, account_id: UUID | None, open_: bool, limit: int
    ) -> list[CaseLine]: ...

    async def contracts(self, account_id: UUID, *, limit: int) -> list[ContractCopy]: ...
    async def contract(self, contract_id: UUID) -> ContractCopy | None: ...
    async def save_contract(self, copy: ContractCopy, *, now: datetime) -> None: ...
    async def reject(self, rejected: RejectedEvent) -> None: ...

    async def rejected(self, *, limit: int, offset: int) -> tuple[list[RejectedEvent], int]:
        """A page of rejected events, newest first, and how many there are."""
        ...


class CallUnitOfWork(IntakeUnitOfWork, Protocol):
    """The intake unit of work, with calls and the events about them."""

    @property
    def calls(self) -> CallRepository: ...
    def emit_call(self, event: CallEvent) -> None: ...


@dataclass(frozen=True, kw_only=True)
class CallRules:
    """How the phone channel is set up."""

    region: str | None
    """Where national numbers are read (e.g. `DE`)."""
    timeout: timedelta = timedelta(hours=4)
    """A call the switch never ends is closed this long after intake heard of it."""
    callback_on_missed: bool = False
    """A missed call from a known contact opens a case to call them back."""


# -- use cases -------------------------------------------------------------------------------


async def apply_call_signal(
    signal: CallSignal,
    *,
    uow: CallUnitOfWork,
    rules: CallRules,
    now: datetime,
    new_id: Callable[[], UUID] = uuid4,
) -> Call:
    """Merge a telephony event into its call; identify the caller, pop the call up at its
    extension, and record it as an interaction once over, each once per call."""
    signal = checked(signal)
    async with uow:
        await uow.calls.lock(signal.call_id)
        held = await uow.calls.get(signal.call_id)
        if held is not None and held.recorded:
            log.debug("call.signal_after_recorded", call_id=signal.call_id, signal=signal.kind)
            return held
        call = merge(held, signal, now=now, region=rules.region)
        if needs_caller(call, signal):
            call = await _identify(call, uow=uow, now=now)
        # The agent is who sits at the extension that answered (or took the call over).
        moved = held is None or held.extension != call.extension or call.agent_id is None
        if call.answered_at is not None and call.extension is not None and moved:
            call = replace(call, agent_id=await uow.calls.agent_at(call.extension))
        if call.finished:
            call = await _record(call, uow=uow, rules=rules, now=now, new_id=new_id)
        await uow.calls.save(call)
        if pops_up(held, call, signal) and call.extension is not None:
            await uow.calls.pop_up(call.call_id, call.extension)
        await uow.commit()
    return call


async def close_overdue_calls(
    *,
    uow: CallUnitOfWork,
    rules: CallRules,
    now: datetime,
    limit: int,
    new_id: Callable[[], UUID] = uuid4,
) -> int:
    """Close calls the switch never ended, `rules.timeout` after intake heard of them, each in
    a transaction of its own; how many were closed."""
    async with uow:
        due = await uow.calls.overdue(heard_before=now - rules.timeout, limit=limit)
    closed = 0
    for call_id in due:
        try:
            async with uow:
                await uow.calls.lock(call_id)
                call = await uow.calls.get(call_id)
                if (
                    call is None
                    or call.recorded
                    or not overdue(call, now=now, timeout=rules.timeout)
                ):
                    continue
                call = time_out(call, now=now)
                if call.match is None:
                    call = await _identify(call, uow=uow, now=now)
                call = await _record(call, uow=uow, rules=rules, now=now, new_id=new_id)
                await uow.calls.save(call)
                await uow.commit()
        except Exception:
            # One call that cannot be closed must not hold back the others; the next pass
            # tries it again, and the log says why it failed.
            log.exception("call.time_out_failed", call_id=call_id)
            continue
        closed += 1
        log.info("call.timed_out", call_id=call_id, missed=call.missed)
    return closed


async def _identify(call: Call, *, uow: CallUnitOfWork, now: datetime) -> Call:
    key = call.caller_key
    holders = await uow.calls.holders(key, limit=MAX_CANDIDATES) if key else []
    earlier = len(holders) == 1 and await uow.calls.has_interactions(holders[0].contact_id)
    identified, event = identify_caller(
        call, holders=holders, earlier_interactions=earlier, now=now
    )
    uow.emit_call(event)
    log.info("call.identified", call_id=call.call_id, match=identified.match)
    return identified


async def _record(
    call: Call,
    *,
    uow: CallUnitOfWork,
    rules: CallRules,
    now: datetime,
    new_id: Callable[[], UUID],
) -> Call:
    """File the finished call as an interaction with its caller (a new contact for a caller
    no one on file answers to) and announce it; a missed call from a known contact opens a
    case to call them back when the rules say so."""
    sender = await _caller_on_file(call, uow=uow, region=rules.region, now=now, new_id=new_id)
    callback = (
        rules.callback_on_missed
        and call.missed
        and call.match is Match.CONTACT
        and not sender.first_contact
    )
    interaction, received = record_interaction(
        interaction_id=new_id(),
        channel=Channel.PHONE,
        sender=sender,
        subject=call_subject(call, callback=callback),
        body=call_summary(call),
        now=now,
    )
    # Stored, and announced as a contact registered (first contact) or changed.
    await file_sender(sender, uow=uow, now=now)
    agent_id = call.agent_id
    if agent_id is None and call.answered and call.extension is not None:
        agent_id = await uow.calls.agent_at(call.extension)
    await uow.calls.add_interaction(
        interaction, call_id=call.call_id, duration_seconds=talk_seconds(call), agent_id=agent_id
    )
    recorded, finished = finish(
        call,
        interaction_id=interaction.interaction_id,
        contact_id=interaction.contact_id,
        account_id=interaction.account_id,
        first_contact=sender.first_contact or call.first_contact,
        agent_id=agent_id,
        now=now,
    )
    uow.emit_call(finished)
    if callback:
        # Only this call opens a case; an answered one does not (the agent on the line
        # opens one if it needs one).
        uow.emit(received)
    log.info(
        "call.recorded",
        call_id=call.call_id,
        interaction_id=str(interaction.interaction_id),
        missed=call.missed,
        callback=callback,
    )
    return recorded


async def _caller_on_file(
    call: Call,
    *,
    uow: CallUnitOfWork,
    region: str | None,
    now: datetime,
    new_id: Callable[[], UUID],
) -> Identification:
    """The contact a finished call is filed under: the one its number identifies; else the
    one filed for that number before; else a new one named after the number."""
    key = call.caller_key
    on_file: list[Contact] = []
    if call.match is Match.CONTACT and call.contact_id is not None:
        contact = await uow.customers.get_contact(call.contact_id)
        # Merged into another or erased since the call rang: the number tells who it is now.
        on_file = [contact] if contact is not None and contact.active else []
    if not on_file and key:
        # Looked up again under the number's lock: another call from a new number may have
        # filed its caller since this one rang, and two calls must not file two contacts.
        await uow.customers.lock_phone(key)
        holders = await uow.calls.holders(key, limit=MAX_CANDIDATES)
        found = [await uow.customers.get_contact(h.contact_id) for h in holders]
        on_file = [contact for contact in found if contact is not None]
        if len(on_file) > 1:
            earlier = filed_from_number(on_file, call=call)
            on_file = [earlier] if earlier is not None else on_file
    try:
        return identify(
            name=call.caller_label,
            email=None,
            phone=key,
            by_email=None,
            by_phone=on_file,
            account=None,
            new_contact_id=new_id(),
            now=now,
            region=region,
        )
    except SubmissionRejected:
        # No number to file the caller under (withheld, or no digits in it).
        return Identification(
            contact=unknown_caller(contact_id=new_id(), now=now), first_contact=True
        )


async def sit_at_extension(
    *, extension: str, agent_id: UUID, uow: CallUnitOfWork, now: datetime
) -> None:
    """Note that `agent_id` sits at `extension`: the calls answered there are theirs."""
    async with uow:
        await uow.calls.sit(extension, agent_id, now=now)
        await uow.commit()


async def screen_pop(call_id: str, *, uow: CallUnitOfWork) -> ScreenPop | None:
    """What the agent is shown of a call, or None for a call intake has not heard of."""
    async with uow:
        call = await uow.calls.get(call_id)
        if call is None:
            return None
        contact = None
        if call.match is Match.CONTACT and call.contact_id is not None:
            contact = next(iter(await uow.calls.contact_cards([call.contact_id])), None)
        account_id = contact.account_id if contact is not None else call.account_id
        account = await uow.calls.account_card(account_id) if account_id else None
        candidates = (
            tuple(await uow.calls.contact_cards(call.candidates)) if call.candidates else ()
        )
        # A known contact's cases; for a number an account shares, the account's.
        of_contact = contact.contact_id if contact is not None else None
        of_account = call.account_id if contact is None and call.match is Match.ACCOUNT else None
        open_cases: list[CaseLine] = []
        recent_cases: list[CaseLine] = []
        if of_contact is not None or of_account is not None:
            open_cases = await uow.calls.cases(
                contact_id=of_contact, account_id=of_account, open_=True, limit=OPEN_CASES_SHOWN
            )
            recent_cases = await uow.calls.cases(
                contact_id=of_contact,
                account_id=of_account,
                open_=False,
                limit=RECENT_CASES_SHOWN,
            )
        contracts = (
            await uow.calls.contracts(account_id, limit=CONTRACTS_SHOWN) if account_id else []
        )
    return ScreenPop(
        call=call,
        contact=contact,
        account=account,
        candidates=candidates,
        open_cases=tuple(open_cases),
        recent_cases=tuple(recent_cases),
        contracts=tuple(contracts),
    )


async def keep_contract(news: ContractNews, *, uow: CallUnitOfWork, now: datetime) -> ContractCopy:
    """Apply a contract event to intake's copy of the contract, in whatever order they come."""
    async with uow:
        held = await uow.calls.contract(news.contract_id)
        copy = apply_contract_news(held, news)
        if copy != held:
            await uow.calls.save_contract(copy, now=now)
        await uow.commit()
    return copy


async def reject_event(
    *,
    source: str,
    body: str,
    error: str,
    uow: CallUnitOfWork,
    now: datetime,
    new_id: Callable[[], UUID] = uuid4,
) -> RejectedEvent:
    """Keep a telephony event that could not be read, with why, for someone to look at."""
    rejected = RejectedEvent(
        rejected_id=new_id(), received_at=now, source=source, body=body, error=error
    )
    async with uow:
        await uow.calls.reject(rejected)
        await uow.commit()
    log.warning("cti.event_rejected", rejected_id=str(rejected.rejected_id), source=source)
    return rejected


async def rejected_events(
    *, uow: CallUnitOfWork, limit: int, offset: int
) -> tuple[list[RejectedEvent], int]:
    """The telephony events the webhook could not read, newest first, and how many."""
    async with uow:
        return await uow.calls.rejected(limit=limit, offset=offset)


__all__ = [
    "AccountCard",
    "CallRepository",
    "CallRules",
    "CallUnitOfWork",
    "CaseLine",
    "ContactCard",
    "RejectedEvent",
    "ScreenPop",
    "apply_call_signal",
    "close_overdue_calls",
    "keep_contract",
    "reject_event",
    "rejected_events",
    "screen_pop",
    "sit_at_extension",
]
