"""The accounts' service contracts as intake copies them from `cases.contract.v1`, for the
screen-pop: each contract's terms at its highest version, its latest status, and what is left
of each line, whatever order the events come in."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime
from uuid import UUID


@dataclass(frozen=True, kw_only=True)
class ContractLineCopy:
    """One line of a contract: what it allots, and what cases drew on it as last heard."""

    line_id: UUID
    number: int
    name: str
    allocation: str
    allotment: int
    drawn: int = 0
    drawn_as_of: datetime | None = None

    @property
    def remaining(self) -> int:
        """What is left: the allotment less what was drawn (a changed allotment moves it)."""
        return self.allotment - self.drawn


@dataclass(frozen=True, kw_only=True)
class ContractCopy:
    """An account's service contract as intake last heard of it."""

    contract_id: UUID
    account_id: UUID
    number: str
    name: str = ""
    status: str
    status_as_of: datetime
    starts_on: date | None = None
    ends_on: date | None = None
    lines: tuple[ContractLineCopy, ...] = ()
    version: int = 0
    """The version of the terms held; 0 until a whole contract was heard of."""


@dataclass(frozen=True, kw_only=True)
class LineTerms:
    """A line as a whole contract describes it."""

    line_id: UUID
    number: int
    name: str
    allocation: str
    allotment: int


@dataclass(frozen=True, kw_only=True)
class ContractTerms:
    """A contract whole, at a version."""

    name: str
    starts_on: date
    ends_on: date
    lines: tuple[LineTerms, ...]
    version: int


@dataclass(frozen=True, kw_only=True)
class LineBalance:
    """A line's balance once a case drew on it or gave back."""

    line_id: UUID
    line_number: int
    allocation: str
    allotment: int
    remaining: int


@dataclass(frozen=True, kw_only=True)
class ContractNews:
    """What one contract event tells: always the status; the terms whole or a line's balance
    when the event carries them."""

    contract_id: UUID
    account_id: UUID
    number: str
    status: str
    occurred_at: datetime
    terms: ContractTerms | None = None
    balance: LineBalance | None = None


def apply_contract_news(held: ContractCopy | None, news: ContractNews) -> ContractCopy:
    """The copy of a contract once `news` is heard, in whatever order events come.

    The terms are the highest version's; the status is the latest event's; a line's remaining
    comes from the latest event about its balance, and follows its allotment when a later
    version changes that.
    """
    copy = held or ContractCopy(
        contract_id=news.contract_id,
        account_id=news.account_id,
        number=news.number,
        status=news.status,
        status_as_of=news.occurred_at,
    )
    if news.occurred_at >= copy.status_as_of:
        copy = replace(copy, status=news.status, status_as_of=news.occurred_at)
    terms = news.terms
    if terms is not None and terms.version > copy.version:
        known = {line.line_id: line for line in copy.lines}
        copy = replace(
            copy,
            account_id=news.account_id,
            number=news.number,
            name=terms.name,
            starts_on=terms.starts_on,
            ends_on=terms.ends_on,
            version=terms.version,
            lines=tuple(_line_of(spec, known.get(spec.line_id)) for spec in terms.lines),
        )
    if news.balance is not None:
        copy = replace(copy, lines=_with_balance(copy.lines, news.balance, news.occurred_at))
    return copy


def _line_of(spec: LineTerms, held: ContractLineCopy | None) -> ContractLineCopy:
    return ContractLineCopy(
        line_id=spec.line_id,
        number=spec.number,
        name=spec.name,
        allocation=spec.allocation,
        allotment=spec.allotment,
        drawn=0 if held is None else held.drawn,
        drawn_as_of=None if held is None else held.drawn_as_of,
    )


def _with_balance(
    lines: tuple[ContractLineCopy, ...], balance: LineBalance, at: datetime
) -> tuple[ContractLineCopy, ...]:
    drawn = balance.allotment - balance.remaining
    if not any(line.line_id == balance.line_id for line in lines):
        # Heard of before the contract whole: kept with what the event tells of it.
        added = ContractLineCopy(
            line_id=balance.line_id,
            number=balance.line_number,
            name="",
            allocation=balance.allocation,
            allotment=balance.allotment,
            drawn=drawn,
            drawn_as_of=at,
        )
        return tuple(sorted((*lines, added), key=lambda line: line.number))
    return tuple(
        replace(line, drawn=drawn, drawn_as_of=at)
        if line.line_id == balance.line_id and (line.drawn_as_of is None or at >= line.drawn_as_of)
        else line
        for line in lines
    )
