"""Telephone calls, as the switch tells of them, and what the screen-pop shows of the caller.

The switch reports a call in events (ringing, answered, ended, missed, transferred) that may
come in any order and more than once, through the CTI topic or the webhook. Each is merged into
the one call it is about, so that the same events in any order, repeated or not, make the same
call. A call is over once it ended or was missed; one the switch never ends is closed after a
timeout. Its caller is looked up once, by the number's comparison key, and once over the call
is recorded as an interaction with the customer.

Also here: intake's copy of the accounts' service contracts, which the screen-pop shows, kept
from the contract events whatever order they come in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from uuid import UUID

from intake.domain.customers import (
    Contact,
)
from intake.domain.errors import IntakeError
from intake.domain.phones import MAX_PHONE_LENGTH, phone

MAX_CALL_ID_LENGTH = 200
MAX_EXTENSION_LENGTH = 64
MAX_CANDIDATES = 25
"""Contacts sharing a number that a call keeps as candidates; more tell the agent nothing."""

UNKNOWN_CALLER = "Unknown caller"
"""The name a caller without a usable number is filed under."""
MISSED_CALL_SUBJECT = "Missed call: please call back"


class CallRejected(IntakeError, ValueError):
    """A telephony event that cannot be kept: no call id, or an id or extension too long or
    with control characters. Retrying cannot mend it."""


class Signal(StrEnum):
    """What the switch says happened to a call."""

    RINGING = "ringing"
    ANSWERED = "answered"
    ENDED = "ended"
    MISSED = "missed"
    TRANSFERRED = "transferred"


class Match(StrEnum):
    """Who a calling number identifies."""

    CONTACT = "contact"
    ACCOUNT = "account"
    CANDIDATES = "candidates"
    UNKNOWN = "unknown"


class CallState(StrEnum):
    """Where a call stands."""

    RINGING = "ringing"
    ANSWERED = "answered"
    ENDED = "ended"
    MISSED = "missed"


@dataclass(frozen=True, kw_only=True)
class CallSignal:
    """One telephony event about a call, as the switch gave it.

    `ended_at` is the moment a call ended or was missed; `answered` what the switch's
    disposition says (None when it says nothing); `duration_seconds` the switch's own figure.
    """

    kind: Signal
    call_id: str
    caller_number: str
    dialled_number: str
    extension: str | None
    ringing_at: datetime | None = None
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    duration_seconds: int | None = None
    answered: bool | None = None


@dataclass(frozen=True, kw_only=True)
class Call:
    """A telephone call, merged from every event heard about it."""

    call_id: str
    caller_number: str = ""
    caller_e164: str | None = None
    dialled_number: str = ""
    extension: str | None = None
    agent_id: UUID | None = None
    match: Match | None = None
    contact_id: UUID | None = None
    account_id: UUID | None = None
    candidates: tuple[UUID, ...] = ()
    first_contact: bool = False
    ringing_at: datetime | None = None
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    missed: bool = False
    duration_seconds: int | None = None
    timed_out: bool = False
    interaction_id: UUID | None = None
    first_heard_at: datetime
    updated_at: datetime

    @property
    def finished(self) -> bool:
        """Whether the call is over: it ended, was missed, or timed out."""
        return self.ended_at is not None

    @property
    def recorded(self) -> bool:
        """Whether the call is recorded as an interaction; nothing changes it after that."""
        return self.interaction_id is not None

    @property
    def answered(self) -> bool:
        """Whether someone picked the call up (as far as is known yet)."""
        return self.answered_at is not None or (self.finished and not self.missed)

    @property
    def state(self) -> CallState:
        """Where the call stands: ringing, answered, or over (ended or missed)."""
        if self.finished:
            return CallState.MISSED if self.missed else CallState.ENDED
        return CallState.ANSWERED if self.answered_at is not None else CallState.RINGING

    @property
    def caller_key(self) -> str | None:
        """What the caller's number is compared by: E.164, else the number as given (spaces
        folded); None when it holds no digit (withheld, blank), which is no number."""
        if self.caller_e164 is not None:
            return self.caller_e164
        if not any(ch.isdigit() for ch in self.caller_number):
            return None
        return " ".join(self.caller_number.split())

    @property
    def caller_label(self) -> str:
        """The caller's number as people read it: E.164 when it could be read."""
        return self.caller_e164 or " ".join(self.caller_number.split()) or "an unknown number"


@dataclass(frozen=True, kw_only=True)
class NumberHolder:
    """A contact on file with the calling number."""

    contact_id: UUID
    account_id: UUID | None


@dataclass(frozen=True, kw_only=True)
class CallIdentified:
    """A call's caller was looked up by their number."""

    call_id: str
    caller_number: str
    caller_e164: str | None
    extension: str | None
    match: Match
    contact_id: UUID | None
    account_id: UUID | None
    candidates: tuple[UUID, ...]
    first_contact: bool
    occurred_at: datetime


@dataclass(frozen=True, kw_only=True)
class CallFinished:
    """A call is over and recorded as an interaction with the customer."""

    call_id: str
    caller_number: str
    caller_e164: str | None
    dialled_number: str
    extension: str | None
    contact_id: UUID
    account_id: UUID | None
    interaction_id: UUID
    agent_id: UUID | None
    answered: bool
    ringing_at: datetime | None
    answered_at: datetime | None
    ended_at: datetime
    duration_seconds: int
    timed_out: bool
    first_contact: bool
    occurred_at: datetime


def checked(signal: CallSignal) -> CallSignal:
    """`signal` as it can be kept: numbers cut to what a number may be, as given otherwise.

    A number of any length or content is kept (it identifies no one); a call id or an
    extension that cannot be stored or shown is refused.
    """
    call_id = signal.call_id
    if not call_id.strip():
        raise CallRejected("a telephony event needs a call id")
    if len(call_id) > MAX_CALL_ID_LENGTH:
        raise CallRejected(f"a call id is at most {MAX_CALL_ID_LENGTH} characters")
    if _has_control(call_id):
        raise CallRejected("a call id cannot contain control characters")
    extension = signal.extension
    if extension is not None:
        if len(extension) > MAX_EXTENSION_LENGTH:
            raise CallRejected(f"an extension is at most {MAX_EXTENSION_LENGTH} characters")
        if _has_control(extension):
            raise CallRejected("an extension cannot contain control characters")
        extension = extension.strip() or None
    if "\x00" in signal.caller_number or "\x00" in signal.dialled_number:
        raise CallRejected("a phone number cannot contain NUL characters")
    return replace(
        signal,
        extension=extension,
        caller_number=signal.caller_number[:MAX_PHONE_LENGTH],
        dialled_number=signal.dialled_number[:MAX_PHONE_LENGTH],
    )


def _has_control(text: str) -> bool:
    return any(ord(ch) < 0x20 or ord(ch) == 0x7F or 0xD800 <= ord(ch) <= 0xDFFF for ch in text)


def merge(call: Call | None, signal: CallSignal, *, now: datetime, region: str | None) -> Call:
    """The call once `signal` is applied; signals in any order, repeated or not, give one call.

    Moments keep the earliest the switch gave. The extension follows the call: set by the
    first signal naming one, moved by an answer or a transfer while the call lasts, and fixed
    by the signal that ends it (which knows where it ended, whatever came late before it).
    A call that is over is settled: what comes after changes nothing.
    """
    held = call or Call(call_id=signal.call_id, first_heard_at=now, updated_at=now)
    if held.finished:
        return held
    caller_number = held.caller_number or signal.caller_number
    ends = signal.kind in (Signal.ENDED, Signal.MISSED)
    merged = replace(
        held,
        caller_number=caller_number,
        caller_e164=held.caller_e164 or _e164(caller_number, region=region),
        dialled_number=held.dialled_number or signal.dialled_number,
        extension=_extension(held, signal),
        ringing_at=_earliest(held.ringing_at, signal.ringing_at),
        answered_at=_earliest(held.answered_at, signal.answered_at),
        updated_at=now,
    )
    if not ends:
        return merged
    ended_at = signal.ended_at or now
    answered = merged.answered_at is not None or (
        signal.kind is Signal.ENDED and signal.answered is True
    )
    return replace(
        merged,
        ended_at=ended_at,
        missed=not answered,
        duration_seconds=signal.duration_seconds if answered else 0,
    )


def _e164(number: str, *, region: str | None) -> str | None:
    read = phone(number, region=region)
    return None if read is None else read.e164


def _extension(call: Call, signal: CallSignal) -> str | None:
    if signal.extension is None:
        return call.extension
    if signal.kind is Signal.RINGING:
        return call.extension or signal.extension
    return signal.extension


def _earliest(held: datetime | None, given: datetime | None) -> datetime | None:
    if held is None or given is None:
        return held or given
    return min(held, given)


def talk_seconds(call: Call) -> int:
    """How long the caller was spoken to: from the answer to the end; 0 for a missed call."""
    if not call.answered or call.ended_at is None:
        return 0
    if call.answered_at is not None:
        return max(0, int((call.ended_at - call.answered_at).total_seconds()))
    # Answered, the switch says, but not when: its own figure is the best there is.
    return max(0, call.duration_seconds or 0)


def overdue(call: Call, *, now: datetime, timeout: timedelta) -> bool:
    """Whether a call the switch never ended has lasted past `timeout` since it was heard of."""
    return not call.finished and call.first_heard_at + timeout <= now


def time_out(call: Call, *, now: datetime) -> Call:
    """A call the switch never ended, closed: missed if no one answered, else ended at the
    last moment known of it."""
    if call.finished:
        return call
    known = [moment for moment in (call.ringing_at, call.answered_at) if moment is not None]
    ended_at = max(known) if known else call.first_heard_at
    return replace(
        call,
        ended_at=ended_at,
        missed=call.answered_at is None,
        duration_seconds=0,
        timed_out=True,
        updated_at=now,
    )


def needs_caller(call: Call, signal: CallSignal) -> bool:
    """Whether the caller is to be looked up now: when the call rings, or on the first signal
    that gives the number, or when it is over and was never looked up."""
    if call.match is not None:
        return False
    return signal.kind is Signal.RINGING or bool(call.caller_number.strip()) or call.finished


def identify_caller(
    call: Call, *, holders: Sequence[NumberHolder], earlier_interactions: bool, now: datetime
) -> tuple[Call, CallIdentified]:
    """Who the calling number identifies, among the contacts on file with it.

    One contact: that contact. Several, all of one account: that account, the contacts as
    candidates. Several across accounts: only candidates. None: unknown. A first contact is an
    unknown caller, or a contact on file who never wrote or called before.
    """
    if call.match is not None:
        raise ValueError(f"call {call.call_id} was identified already")
    contact_id: UUID | None = None
    account_id: UUID | None = None
    candidates: tuple[UUID, ...] = ()
    if not holders:
        match = Match.UNKNOWN
    elif len(holders) == 1:
        match = Match.CONTACT
        contact_id, account_id = holders[0].contact_id, holders[0].account_id
    else:
        candidates = tuple(h.contact_id for h in holders[:MAX_CANDIDATES])
        accounts = {h.account_id for h in holders}
        if len(accounts) == 1 and None not in accounts:
            match, account_id = Match.ACCOUNT, holders[0].account_id
        else:
            match = Match.CANDIDATES
    first_contact = match is Match.UNKNOWN or (match is Match.CONTACT and not earlier_interactions)
    identified = replace(
        call,
        match=match,
        contact_id=contact_id,
        account_id=account_id,
        candidates=candidates,
        first_contact=first_contact,
        updated_at=now,
    )
    event = CallIdentified(
        call_id=call.call_id,
        caller_number=call.caller_number,
        caller_e164=call.caller_e164,
        extension=call.extension,
        match=match,
        contact_id=contact_id,
        account_id=account_id,
        candidates=candidates,
        first_contact=first_contact,
        occurred_at=now,
    )
    return identified, event


def pops_up(before: Call | None, after: Call, signal: CallSignal) -> bool:
    """Whether the agent at the call's extension is to be shown the caller now: when it rings
    there, or is answered or transferred to an extension not shown it yet."""
    if after.finished or after.extension is None:
        return False
    if signal.kind is Signal.RINGING:
        return True
    moved = before is None or before.extension != after.extension
    return moved and signal.kind in (Signal.ANSWERED, Signal.TRANSFERRED)


def filed_from_number(contacts: Sequence[Contact], *, call: Call) -> Contact | None:
    """The contact filed for an earlier call from a number several contacts share, if any: a
    caller who cannot be told apart is filed once under the number, not once per call."""
    for contact in contacts:
        if contact.name == call.caller_label and not contact.emails:
            return contact
    return None


def unknown_caller(*, contact_id: UUID, now: datetime) -> Contact:
    """The contact a caller with no usable number is filed under: a name and nothing else."""
    return Contact(
        contact_id=contact_id,
        name=UNKNOWN_CALLER,
        account_id=None,
        emails=(),
        phones=(),
        created_at=now,
    )


def call_subject(call: Call, *, callback: bool) -> str:
    """The subject a call is recorded under as an interaction."""
    if callback:
        return MISSED_CALL_SUBJECT
    if call.missed:
        return f"Missed call from {call.caller_label}"
    return f"Call from {call.caller_label}"


def call_summary(call: Call) -> str:
    """What the interaction's body says of a call."""
    parts = [f"Inbound call from {call.caller_label}"]
    if call.dialled_number:
        parts.append(f" to {call.dialled_number}")
    if call.missed:
        parts.append(", not answered")
    else:
        parts.append(f", answered, {talk_seconds(call)} s")
        if call.extension:
            parts.append(f" at extension {call.extension}")
    if call.timed_out:
        parts.append("; closed by intake: the switch never said it ended")
    return "".join(parts) + "."


def finish(
    call: Call,
    *,
    interaction_id: UUID,
    contact_id: UUID,
    account_id: UUID | None,
    first_contact: bool,
    agent_id: UUID | None,
    now: datetime,
) -> tuple[Call, CallFinished]:
    """A call that is over, recorded as the interaction `interaction_id` with its caller."""
    if call.ended_at is None:
        raise ValueError(f"call {call.call_id} is not over")
    if call.recorded:
        raise ValueError(f"call {call.call_id} is recorded already")
    seconds = talk_seconds(call)
    answered = call.answered
    recorded = replace(
        call,
        interaction_id=interaction_id,
        duration_seconds=seconds,
        agent_id=agent_id if answered else None,
        first_contact=first_contact,
        updated_at=now,
    )
    event = CallFinished(
        call_id=call.call_id,
        caller_number=call.caller_number,
        caller_e164=call.caller_e164,
        dialled_number=call.dialled_number,
        extension=call.extension,
        contact_id=contact_id,
        account_id=account_id,
        interaction_id=interaction_id,
        agent_id=recorded.agent_id,
        answered=answered,
        ringing_at=call.ringing_at,
        answered_at=call.answered_at,
        ended_at=call.ended_at,
        duration_seconds=seconds,
        timed_out=call.timed_out,
        first_contact=first_contact,
        occurred_at=now,
    )
    return recorded, event
