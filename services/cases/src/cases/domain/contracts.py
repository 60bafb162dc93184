"""Service contracts: the support an account bought, line by line, and how cases draw on it.

A *contract* belongs to an account and runs between two dates (inclusive). It moves
draft → active ⇄ on hold → expired or cancelled; expiry follows the end date. Each of its
*lines* (an entitlement) allots a number of cases or of minutes, for some channels and request
types (all when empty), between dates within the contract's. Within one contract no two lines
may cover the same case: their dates, channels and request types may not all overlap.

When a case opens, ``cover`` chooses the line that covers it, or says why none does. When
the case is resolved, ``drawdown`` says what it takes from the line; the movements are ledger
entries, and a line's remaining is its allotment less their sum (``Balance``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from enum import StrEnum
from uuid import UUID

from cases.domain.errors import CaseError, CaseValidationError
from cases.domain.values import Channel

DEFAULT_WARN_BELOW_PERCENT = 20
"""A line warns its contract's owner once its remaining falls below this share of its
allotment."""

ENDING_NOTICE_DAYS = 30
"""The owner of a contract in force is told this many days before it ends."""

MAX_CONTRACT_DAYS = 10 * 366
"""The longest a contract (or a template's default duration) may run: ten years."""


class Allocation(StrEnum):
    """What a contract line counts."""

    CASES = "cases"
    MINUTES = "minutes"


class ContractStatus(StrEnum):
    """Where a contract is in its life."""

    DRAFT = "draft"
    ACTIVE = "active"
    ON_HOLD = "on_hold"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


class NotEntitled(StrEnum):
    """Why no contract line covers a case, from the farthest miss to the nearest."""

    NO_CONTRACT = "no_contract"
    EXPIRED = "expired"
    NOT_STARTED = "not_started"
    ON_HOLD = "on_hold"
    CONTACT_NOT_COVERED = "contact_not_covered"
    CHANNEL_NOT_COVERED = "channel_not_covered"
    REQUEST_TYPE_NOT_COVERED = "request_type_not_covered"
    EXHAUSTED = "exhausted"


# When no line covers a case, the reason given is that of the line that came nearest: one
# used up explains more than one for another channel, which explains more than one that ended.
_NEARNESS = {reason: rank for rank, reason in enumerate(NotEntitled)}


# -- errors -----------------------------------------------------------------------------------


class ContractError(CaseError):
    """Base of the errors about contracts."""


class InvalidContractError(ContractError, CaseValidationError):
    """Input that breaks a rule of the contract model (answered 422)."""


class ContractConflictError(ContractError):
    """A change that contradicts the contract as it stands (answered 409)."""


class ContractNotFoundError(ContractError):
    """No contract, line or template has the id asked for."""


class StaleContractError(ContractError):
    """The contract changed since the caller read it (answered 412)."""


# -- templates --------------------------------------------------------------------------------


@dataclass(eq=False, kw_only=True)
class ContractTemplate:
    """What a kind of contract usually holds, to draw contracts up from."""

    template_id: UUID
    name: str
    allocation: Allocation
    default_allotment: int
    default_duration_days: int
    channels: frozenset[Channel] = frozenset()
    request_types: frozenset[str] = frozenset()
    sla_policy_id: UUID | None = None
    calendar_id: UUID | None = None
    allow_overdraft: bool = False
    warn_below_percent: int = DEFAULT_WARN_BELOW_PERCENT
    active: bool = True
    version: int = 1

    def __post_init__(self) -> None:
        self.name = _required(self.name, "name")
        _check_allotment(self.default_allotment, "default_allotment")
        if not 0 < self.default_duration_days <= MAX_CONTRACT_DAYS:
            raise InvalidContractError(
                f"default_duration_days must be within 1..{MAX_CONTRACT_DAYS}, "
                f"not {self.default_duration_days}"
            )
        _check_percent(self.warn_below_percent)
        self.request_types = _codes(self.request_types)


# -- lines ------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ContractLine:
    """One entitlement of a contract: an allotment for some channels and request types."""

    line_id: UUID
    number: int
    name: str
    allocation: Allocation
    allotment: int
    starts_on: date
    ends_on: date
    channels: frozenset[Channel] = frozenset()
    request_types: frozenset[str] = frozenset()
    allow_overdraft: bool = False
    warn_below_percent: int = DEFAULT_WARN_BELOW_PERCENT

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", _required(self.name, "line name"))
        _check_allotment(self.allotment, "allotment")
        if self.ends_on < self.starts_on:
            raise InvalidContractError(
                f"line {self.name!r} ends on {self.ends_on}, before it starts on {self.starts_on}"
            )
        _check_percent(self.warn_below_percent)
        object.__setattr__(self, "channels", frozenset(self.channels))
        object.__setattr__(self, "request_types", _codes(self.request_types))

    def overlaps(self, other: ContractLine) -> bool:
        """Whether some case could fall under both lines: their dates, channels and request
        types all meet (an empty set meets everything)."""
        return (
            self.starts_on <= other.ends_on
            and other.starts_on <= self.ends_on
            and _meet(self.channels, other.channels)
            and _meet(self.request_types, other.request_types)
        )

    @property
    def low_mark(self) -> float:
        """Remaining below this is low."""
        return self.allotment * self.warn_below_percent / 100


@dataclass(frozen=True, kw_only=True)
class Balance:
    """A line's allotment, what its ledger says was used, and what remains."""

    allotment: int
    used: int

    @property
    def remaining(self) -> int:
        """What the line can still cover (below 0 only on a line that allows overdraft)."""
        return self.allotment - self.used


# -- the contract -----------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ContractEvent:
    """Something that happened to one contract at one moment."""

    contract_id: UUID
    occurred_at: datetime


@dataclass(frozen=True, kw_only=True)
class ContractCreated(ContractEvent):
    """A contract was drawn up, as a draft."""


@dataclass(frozen=True, kw_only=True)
class ContractUpdated(ContractEvent):
    """A contract's terms or lines changed."""


@dataclass(frozen=True, kw_only=True)
class ContractActivated(ContractEvent):
    """A contract came into force."""

    by: UUID | None


@dataclass(frozen=True, kw_only=True)
class ContractHeld(ContractEvent):
    """A contract was put on hold."""

    reason: str | None
    by: UUID | None


@dataclass(frozen=True, kw_only=True)
class ContractResumed(ContractEvent):
    """A contract on hold came back into force."""

    by: UUID | None


@dataclass(frozen=True, kw_only=True)
class ContractExpired(ContractEvent):
    """A contract's end date passed."""

    ended_on: date


@dataclass(frozen=True, kw_only=True)
class ContractCancelled(ContractEvent):
    """A contract was cancelled."""

    reason: str
    by: UUID | None


@dataclass(frozen=True, kw_only=True)
class ContractRenewed(ContractEvent):
    """A contract was renewed into the next period as another contract."""

    renewal_id: UUID
    renewal_number: str
    by: UUID | None


@dataclass(frozen=True, kw_only=True)
class ContractEndingSoon(ContractEvent):
    """A contract in force ends within the notice period."""

    ends_on: date
    days_left: int


@dataclass(frozen=True, kw_only=True)
class LineEvent(ContractEvent):
    """Something that happened to one line's balance."""

    line_id: UUID
    remaining: int


@dataclass(frozen=True, kw_only=True)
class LineDrawnDown(LineEvent):
    """A resolved case drew on the line."""

    entry_id: UUID
    case_id: UUID
    amount: int
    overage: int
    by: UUID | None


@dataclass(frozen=True, kw_only=True)
class LineRestored(LineEvent):
    """What a reopened case drew was given back to the line."""

    entry_id: UUID
    case_id: UUID
    amount: int
    reason: str
    by: UUID | None


@dataclass(frozen=True, kw_only=True)
class AllotmentLow(LineEvent):
    """A line's remaining fell below its warning mark."""

    threshold: int


@dataclass(frozen=True, kw_only=True)
class AllotmentExhausted(LineEvent):
    """A line has nothing left."""


_OPEN_TO_CHANGE = frozenset({ContractStatus.DRAFT, ContractStatus.ACTIVE, ContractStatus.ON_HOLD})
_IN_FORCE = frozenset({ContractStatus.ACTIVE, ContractStatus.ON_HOLD})


@dataclass(eq=False, kw_only=True)
class Contract:
    """An account's service contract and its lines."""

    contract_id: UUID
    number: str
    account_id: UUID
    name: str
    status: ContractStatus
    starts_on: date
    ends_on: date
    contacts: frozenset[UUID] = frozenset()
    owner_id: UUID | None = None
    template_id: UUID | None = None
    sla_policy_id: UUID | None = None
    calendar_id: UUID | None = None
    origin_case_id: UUID | None = None
    renewed_from: UUID | None = None
    renewed_to: UUID | None = None
    hold_reason: str | None = None
    cancel_reason: str | None = None
    ending_warned_on: date | None = None
    lines: list[ContractLine] = field(default_factory=list)
    version: int = 1

    def __post_init__(self) -> None:
        self.name = _required(self.name, "name")
        _check_period(self.starts_on, self.ends_on)

    @property
    def in_force(self) -> bool:
        """Whether the contract is active or on hold (not a draft, not ended)."""
        return self.status in _IN_FORCE

    def line(self, line_id: UUID) -> ContractLine:
        """The line of that id."""
        for line in self.lines:
            if line.line_id == line_id:
                return line
        raise ContractNotFoundError(f"contract {self.number} has no line {line_id}")

    def next_line_number(self) -> int:
        """The number the next line gets."""
        return max((line.number for line in self.lines), default=0) + 1

    def add_line(self, line: ContractLine, *, now: datetime) -> list[ContractEvent]:
        """Add a line that fits the contract's dates and overlaps none of its lines."""
        self._require_changeable()
        if any(existing.line_id == line.line_id for existing in self.lines):
            raise ContractConflictError(f"contract {self.number} already has line {line.line_id}")
        self._check_fits(line, others=self.lines)
        self.lines.append(line)
        return [ContractUpdated(contract_id=self.contract_id, occurred_at=now)]

    def change_line(
        self, line: ContractLine, *, drawn_on: bool, now: datetime
    ) -> list[ContractEvent]:
        """Replace a line's terms. A line cases have drawn on keeps what it counts (its ledger
        is never rewritten: its remaining follows the new allotment)."""
        self._require_changeable()
        current = self.line(line.line_id)
        if drawn_on and line.allocation is not current.allocation:
            raise ContractConflictError(
                f"line {current.number} of contract {self.number} has ledger entries in "
                f"{current.allocation}; it cannot count {line.allocation} instead"
            )
        changed = replace(line, number=current.number)
        self._check_fits(changed, others=[x for x in self.lines if x.line_id != line.line_id])
        if changed == current:
            return []
        self.lines = [changed if x.line_id == line.line_id else x for x in self.lines]
        return [ContractUpdated(contract_id=self.contract_id, occurred_at=now)]

    def remove_line(self, line_id: UUID, *, drawn_on: bool, now: datetime) -> list[ContractEvent]:
        """Remove a line no case has drawn on."""
        self._require_changeable()
        line = self.line(line_id)
        if drawn_on:
            raise ContractConflictError(
                f"line {line.number} of contract {self.number} has ledger entries; it stays "
                "(change its allotment, or let the contract end)"
            )
        self.lines = [x for x in self.lines if x.line_id != line_id]
        return [ContractUpdated(contract_id=self.contract_id, occurred_at=now)]

    def change_terms(
        self,
        *,
        now: datetime,
        name: str | None = None,
        starts_on: date | None = None,
        ends_on: date | None = None,
        contacts: frozenset[UUID] | None = None,
        owner_id: UUID | None = None,
        sla_policy_id: UUID | None = None,
        calendar_id: UUID | None = None,
    ) -> list[ContractEvent]:
        """Change the contract's own terms; arguments left None stay. Its lines must still
        fit its dates, and a contract in force keeps its start."""
        self._require_changeable()
        new_start = self.starts_on if starts_on is None else starts_on
        new_end = self.ends_on if ends_on is None else ends_on
        if self.status is not ContractStatus.DRAFT and new_start != self.starts_on:
            raise ContractConflictError(
                f"contract {self.number} is {self.status}; its start date no longer moves"
            )
        _check_period(new_start, new_end)
        outside = [x.number for x in self.lines if x.starts_on < new_start or x.ends_on > new_end]
        if outside:
            raise InvalidContractError(
                f"lines {', '.join(map(str, outside))} of contract {self.number} would lie "
                f"outside {new_start}..{new_end}; change them first",
                members={"lines": outside},
            )
        before = self._terms()
        self.name = self.name if name is None else _required(name, "name")
        self.starts_on, self.ends_on = new_start, new_end
        self.contacts = self.contacts if contacts is None else frozenset(contacts)
        self.owner_id = self.owner_id if owner_id is None else owner_id
        self.sla_policy_id = self.sla_policy_id if sla_policy_id is None else sla_policy_id
        self.calendar_id = self.calendar_id if calendar_id is None else calendar_id
        if self._terms() == before:
            return []
        if new_end != before[2]:
            self.ending_warned_on = None  # a new end date earns a new notice
        return [ContractUpdated(contract_id=self.contract_id, occurred_at=now)]

    def activate(self, *, today: date, now: datetime, by: UUID | None) -> list[ContractEvent]:
        """Bring a draft into force: it needs lines, and must not have ended."""
        if self.status is ContractStatus.ACTIVE:
            return []
        self._require_status("activate", ContractStatus.DRAFT)
        if not self.lines:
            raise ContractConflictError(
                f"contract {self.number} has no lines; add one before activating it"
            )
        if self.ends_on < today:
            raise ContractConflictError(
                f"contract {self.number} ended on {self.ends_on}; renew it, or change its dates"
            )
        self.status = ContractStatus.ACTIVE
        return [ContractActivated(contract_id=self.contract_id, occurred_at=now, by=by)]

    def hold(self, *, reason: str | None, now: datetime, by: UUID | None) -> list[ContractEvent]:
        """Put an active contract on hold: its lines cover no new case meanwhile."""
        if self.status is ContractStatus.ON_HOLD:
            return []
        self._require_status("hold", ContractStatus.ACTIVE)
        self.status = ContractStatus.ON_HOLD
        self.hold_reason = None if reason is None else reason.strip() or None
        return [
            ContractHeld(
                contract_id=self.contract_id, occurred_at=now, reason=self.hold_reason, by=by
            )
        ]

    def resume(self, *, today: date, now: datetime, by: UUID | None) -> list[ContractEvent]:
        """Bring a contract on hold back into force."""
        if self.status is ContractStatus.ACTIVE:
            return []
        self._require_status("resume", ContractStatus.ON_HOLD)
        if self.ends_on < today:
            return self.expire(today=today, now=now)
        self.status = ContractStatus.ACTIVE
        self.hold_reason = None
        return [ContractResumed(contract_id=self.contract_id, occurred_at=now, by=by)]

    def cancel(self, *, reason: str, now: datetime, by: UUID | None) -> list[ContractEvent]:
        """End a contract before its time (or drop a draft), saying why."""
        why = _required(reason, "reason")
        if self.status is ContractStatus.CANCELLED:
            return []
        self._require_status("cancel", *_OPEN_TO_CHANGE)
        self.status = ContractStatus.CANCELLED
        self.cancel_reason = why
        return [ContractCancelled(contract_id=self.contract_id, occurred_at=now, reason=why, by=by)]

    def expire(self, *, today: date, now: datetime) -> list[ContractEvent]:
        """End a contract in force whose end date has passed; nothing otherwise."""
        if not self.in_force or self.ends_on >= today:
            return []
        self.status = ContractStatus.EXPIRED
        return [
            ContractExpired(contract_id=self.contract_id, occurred_at=now, ended_on=self.ends_on)
        ]

    def ending_notice(
        self, *, today: date, now: datetime, notice_days: int = ENDING_NOTICE_DAYS
    ) -> list[ContractEvent]:
        """Tell, once, that a contract in force ends within the notice period."""
        days_left = (self.ends_on - today).days
        if not self.in_force or not 0 <= days_left <= notice_days:
            return []
        if self.ending_warned_on is not None or self.renewed_to is not None:
            return []
        self.ending_warned_on = today
        return [
            ContractEndingSoon(
                contract_id=self.contract_id,
                occurred_at=now,
                ends_on=self.ends_on,
                days_left=days_left,
            )
        ]

    def renew(
        self,
        *,
        renewal_id: UUID,
        renewal_number: str,
        line_ids: Sequence[UUID],
        now: datetime,
        by: UUID | None,
        starts_on: date | None = None,
    ) -> tuple[Contract, list[ContractEvent], list[ContractEvent]]:
        """Draw up the contract for the next period: as long as this one, starting the day
        after it ends (or on `starts_on`), with the same lines at full allotment.

        Returns the renewal, its events and this contract's events.
        """
        if self.renewed_to is not None:
            raise ContractConflictError(
                f"contract {self.number} was renewed already, as {self.renewed_to}"
            )
        self._require_status(
            "renew", ContractStatus.ACTIVE, ContractStatus.ON_HOLD, ContractStatus.EXPIRED
        )
        if len(line_ids) != len(self.lines):
            raise ValueError("one new line id is needed for each line")
        start = starts_on or self.ends_on + timedelta(days=1)
        if start <= self.starts_on:
            raise InvalidContractError(
                f"a renewal starts after the contract it renews ({self.starts_on}), not on {start}"
            )
        shift = start - self.starts_on
        end = _next_period_end(self.starts_on, self.ends_on, start)
        renewal = Contract(
            contract_id=renewal_id,
            number=renewal_number,
            account_id=self.account_id,
            name=self.name,
            status=ContractStatus.DRAFT,
            starts_on=start,
            ends_on=end,
            contacts=self.contacts,
            owner_id=self.owner_id,
            template_id=self.template_id,
            sla_policy_id=self.sla_policy_id,
            calendar_id=self.calendar_id,
            renewed_from=self.contract_id,
            lines=[
                replace(
                    line,
                    line_id=new_id,
                    starts_on=min(line.starts_on + shift, end),
                    ends_on=min(line.ends_on + shift, end),
                )
                for line, new_id in zip(self.lines, line_ids, strict=True)
            ],
        )
        self.renewed_to = renewal_id
        return (
            renewal,
            [ContractCreated(contract_id=renewal_id, occurred_at=now)],
            [
                ContractRenewed(
                    contract_id=self.contract_id,
                    occurred_at=now,
                    renewal_id=renewal_id,
                    renewal_number=renewal_number,
                    by=by,
                )
            ],
        )

    def _terms(self) -> tuple[object, ...]:
        return (
            self.name,
            self.starts_on,
            self.ends_on,
            self.contacts,
            self.owner_id,
            self.sla_policy_id,
            self.calendar_id,
        )

    def _check_fits(self, line: ContractLine, *, others: Iterable[ContractLine]) -> None:
        if line.starts_on < self.starts_on or line.ends_on > self.ends_on:
            raise InvalidContractError(
                f"line {line.name!r} runs {line.starts_on}..{line.ends_on}, outside contract "
                f"{self.number}'s {self.starts_on}..{self.ends_on}",
                members={
                    "contract_starts_on": str(self.starts_on),
                    "contract_ends_on": str(self.ends_on),
                },
            )
        clash = next((other for other in others if other.overlaps(line)), None)
        if clash is not None:
            raise ContractConflictError(
                f"line {line.name!r} overlaps line {clash.number} ({clash.name!r}) of contract "
                f"{self.number}: a case could fall under both. Narrow their dates, channels "
                "or request types apart",
                members={"overlaps_line": clash.number},
            )

    def _require_changeable(self) -> None:
        if self.status not in _OPEN_TO_CHANGE:
            raise ContractConflictError(
                f"contract {self.number} is {self.status}; it no longer changes",
                members={"contract_status": self.status.value},
            )

    def _require_status(self, step: str, *allowed: ContractStatus) -> None:
        if self.status not in allowed:
            raise ContractConflictError(
                f"contract {self.number} is {self.status}; it cannot {step}",
                members={"contract_status": self.status.value},
            )


def new_contract(
    *,
    contract_id: UUID,
    number: str,
    account_id: UUID,
    name: str,
    starts_on: date,
    ends_on: date,
    now: datetime,
    lines: Sequence[ContractLine] = (),
    contacts: frozenset[UUID] = frozenset(),
    owner_id: UUID | None = None,
    template_id: UUID | None = None,
    sla_policy_id: UUID | None = None,
    calendar_id: UUID | None = None,
    origin_case_id: UUID | None = None,
) -> tuple[Contract, list[ContractEvent]]:
    """Draw up a draft contract; its lines must fit its dates and not overlap."""
    contract = Contract(
        contract_id=contract_id,
        number=number,
        account_id=account_id,
        name=name,
        status=ContractStatus.DRAFT,
        starts_on=starts_on,
        ends_on=ends_on,
        contacts=frozenset(contacts),
        owner_id=owner_id,
        template_id=template_id,
        sla_policy_id=sla_policy_id,
        calendar_id=calendar_id,
        origin_case_id=origin_case_id,
    )
    for line in lines:
        contract.add_line(line, now=now)
    return contract, [ContractCreated(contract_id=contract_id, occurred_at=now)]


def line_from_template(
    template: ContractTemplate, *, line_id: UUID, starts_on: date, ends_on: date
) -> ContractLine:
    """The line a contract drawn up from `template` starts with."""
    return ContractLine(
        line_id=line_id,
        number=1,
        name=template.name,
        allocation=template.allocation,
        allotment=template.default_allotment,
        starts_on=starts_on,
        ends_on=ends_on,
        channels=template.channels,
        request_types=template.request_types,
        allow_overdraft=template.allow_overdraft,
        warn_below_percent=template.warn_below_percent,
    )


def format_contract_number(year: int, sequence: int) -> str:
    """The readable number of a contract, e.g. ``CON-2026-000042``."""
    if sequence < 1:
        raise InvalidContractError(f"a contract sequence starts at 1, not {sequence}")
    return f"CON-{year:04d}-{sequence:06d}"


# -- which line covers a case -----------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class LineInForce:
    """A line of one of the account's contracts, with its balance."""

    contract: Contract
    line: ContractLine
    remaining: int


@dataclass(frozen=True, kw_only=True)
class Coverage:
    """The line that covers a case and the contract it belongs to, or why none does; and,
    when several applied, the rule that chose."""

    line_id: UUID | None = None
    contract_id: UUID | None = None
    not_entitled: NotEntitled | None = None
    rule: str | None = None
    sla_policy_id: UUID | None = None
    calendar_id: UUID | None = None

    @property
    def entitled(self) -> bool:
        """Whether a line covers the case."""
        return self.line_id is not None

    @classmethod
    def by_line(cls, held: LineInForce, *, rule: str | None = None) -> Coverage:
        """Coverage by `held`'s line."""
        return cls(
            line_id=held.line.line_id,
            contract_id=held.contract.contract_id,
            rule=rule,
            sla_policy_id=held.contract.sla_policy_id,
            calendar_id=held.contract.calendar_id,
        )


def miss(
    held: LineInForce,
    *,
    contact_id: UUID,
    channel: Channel,
    request_type: str | None,
    on: date,
) -> NotEntitled | None:
    """Why `held` does not cover a case opened `on` that day; None when it does."""
    contract, line = held.contract, held.line
    if contract.status in (ContractStatus.DRAFT, ContractStatus.CANCELLED):
        return NotEntitled.NO_CONTRACT
    if contract.status is ContractStatus.EXPIRED or on > min(contract.ends_on, line.ends_on):
        return NotEntitled.EXPIRED
    if on < max(contract.starts_on, line.starts_on):
        return NotEntitled.NOT_STARTED
    if contract.status is ContractStatus.ON_HOLD:
        return NotEntitled.ON_HOLD
    if contract.contacts and contact_id not in contract.contacts:
        return NotEntitled.CONTACT_NOT_COVERED
    if line.channels and channel not in line.channels:
        return NotEntitled.CHANNEL_NOT_COVERED
    if line.request_types and (request_type is None or request_type not in line.request_types):
        return NotEntitled.REQUEST_TYPE_NOT_COVERED
    if held.remaining <= 0 and not line.allow_overdraft:
        return NotEntitled.EXHAUSTED
    return None


def cover(
    lines: Iterable[LineInForce],
    *,
    account_id: UUID | None,
    contact_id: UUID,
    channel: Channel,
    request_type: str | None,
    on: date,
) -> Coverage:
    """The line that covers a case opened `on` that day, or why none does.

    When several apply: a line made for the case's request type before a general one; then
    the one that ends first, so nothing the customer paid for lapses unused; then the lowest
    contract and line number.
    """
    if account_id is None:
        return Coverage(not_entitled=NotEntitled.NO_CONTRACT)
    usable: list[LineInForce] = []
    nearest = NotEntitled.NO_CONTRACT
    for held in lines:
        if held.contract.account_id != account_id:
            continue
        why = miss(held, contact_id=contact_id, channel=channel, request_type=request_type, on=on)
        if why is None:
            usable.append(held)
        elif _NEARNESS[why] > _NEARNESS[nearest]:
            nearest = why
    if not usable:
        return Coverage(not_entitled=nearest)
    ranked = sorted(usable, key=_preference)
    if len(ranked) == 1:
        return Coverage.by_line(ranked[0])
    return Coverage.by_line(ranked[0], rule=_rule(ranked))


def _preference(held: LineInForce) -> tuple[bool, date, str, int]:
    return (
        not held.line.request_types,
        held.line.ends_on,
        held.contract.number,
        held.line.number,
    )


def _rule(ranked: Sequence[LineInForce]) -> str:
    first, second = ranked[0], ranked[1]
    count = len(ranked)
    if bool(first.line.request_types) != bool(second.line.request_types):
        return (
            f"request type: of {count} lines that apply, the one made for the case's request type"
        )
    if first.line.ends_on != second.line.ends_on:
        return (
            f"ends first: of {count} lines that apply, the one ending soonest "
            f"({first.line.ends_on})"
        )
    return (
        f"order: of {count} lines that apply, the first by contract and line number "
        f"({first.contract.number} line {first.line.number})"
    )


# -- the ledger -------------------------------------------------------------------------------


class EntryKind(StrEnum):
    """What a ledger entry records."""

    DRAWDOWN = "drawdown"
    RESTORE = "restore"


@dataclass(frozen=True, kw_only=True)
class LedgerEntry:
    """One movement on a line: a case drawing on it (amount > 0) or giving back (< 0)."""

    entry_id: UUID
    line_id: UUID
    contract_id: UUID
    case_id: UUID
    kind: EntryKind
    amount: int
    overage: int
    by: UUID | None
    reason: str
    at: datetime


@dataclass(frozen=True, kw_only=True)
class Draw:
    """What a resolved case takes from a line, and what the line could not cover."""

    amount: int
    overage: int


def drawdown(line: ContractLine, *, remaining: int, billable_minutes: int) -> Draw:
    """What a case resolved with `billable_minutes` takes from `line` with `remaining` left.

    One case, or its minutes. A line that allows overdraft covers all of it, going below 0;
    another covers what it has left, and the rest is overage, billed outside the contract.
    """
    if billable_minutes < 0:
        raise InvalidContractError(f"billable minutes must be 0 or more, not {billable_minutes}")
    wanted = 1 if line.allocation is Allocation.CASES else billable_minutes
    if line.allow_overdraft:
        return Draw(amount=wanted, overage=0)
    taken = max(0, min(wanted, remaining))
    return Draw(amount=taken, overage=wanted - taken)


def balance_warnings(
    line: ContractLine, *, contract_id: UUID, before: int, after: int, now: datetime
) -> list[ContractEvent]:
    """The warnings a movement from `before` to `after` remaining calls for: exhausted when
    it reaches 0, low when it falls below the line's mark."""
    if after <= 0 < before:
        return [
            AllotmentExhausted(
                contract_id=contract_id, occurred_at=now, line_id=line.line_id, remaining=after
            )
        ]
    mark = line.low_mark
    # A mark of 0 (no allotment, or no warning asked for) is never "low": below 0 is an
    # overdraft, which the exhausted warning has already told of.
    if mark > 0 and after < mark <= before:
        return [
            AllotmentLow(
                contract_id=contract_id,
                occurred_at=now,
                line_id=line.line_id,
                remaining=after,
                threshold=math.ceil(mark),
            )
        ]
    return []


# -- helpers ----------------------------------------------------------------------------------


def _required(value: str, name: str) -> str:
    text = value.strip()
    if not text:
        raise InvalidContractError(f"{name} must not be blank")
    return text


def _check_allotment(value: int, name: str) -> None:
    if isinstance(value, bool) or value < 0:
        raise InvalidContractError(f"{name} must be 0 or more, not {value}")


def _check_percent(value: int) -> None:
    if not 0 <= value <= 100:
        raise InvalidContractError(f"warn_below_percent must be within 0..100, not {value}")


def _check_period(starts_on: date, ends_on: date) -> None:
    if ends_on < starts_on:
        raise InvalidContractError(
            f"a contract cannot end ({ends_on}) before it starts ({starts_on})"
        )
    if (ends_on - starts_on).days > MAX_CONTRACT_DAYS:
        raise InvalidContractError(f"a contract runs at most {MAX_CONTRACT_DAYS} days")


def _next_period_end(starts_on: date, ends_on: date, start: date) -> date:
    """The end of a period as long as `starts_on`..`ends_on` starting on `start`: in whole
    months when the period is whole months (a year stays a year across a leap day), else in
    days."""
    after = ends_on + timedelta(days=1)
    months = (after.year - starts_on.year) * 12 + after.month - starts_on.month
    if after.day == starts_on.day == start.day <= 28 and months > 0:
        year, month = divmod(start.month - 1 + months, 12)
        return date(start.year + year, month + 1, start.day) - timedelta(days=1)
    return start + (ends_on - starts_on)


def _codes(codes: Iterable[str]) -> frozenset[str]:
    cleaned = frozenset(code.strip() for code in codes)
    if "" in cleaned:
        raise InvalidContractError("request type codes must not be blank")
    return cleaned


def _meet(a: frozenset[object], b: frozenset[object]) -> bool:
    return not a or not b or bool(a & b)
