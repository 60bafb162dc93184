"""The contract report: what each line of each contract has allotted, used and has left.

One row per contract line, ordered by contract number then line number; a contract with no
lines gives one row whose line fields are null. The figures of a line come from its ledger
(there is no stored counter):

- `used`: the sum of its ledger amounts (drawdowns less restores);
- `remaining`: `allotment - used`, below 0 only on a line that allows overdraft;
- `cases_drawn`: the cases whose net amount on the line is above 0 (a case whose draw was
  restored when it reopened is not counted, unless it drew again);
- `minutes_drawn`: for a minutes line, its `used`; for a cases line, the billable minutes of
  the cases drawn on it (what the cases cost, though the line counts them one each);
- `overage`: the net overage, what the line could not cover and is billed outside it.

`days_to_expiry` is the contract's `ends_on` less the day the report is run for (0 on its last
day, negative once it has ended). The filter `ending_within_days=N` keeps the contracts that
end between that day and N days after it, both included: ended ones are not "ending".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from types import TracebackType
from typing import NamedTuple, Protocol, Self
from uuid import UUID

from cases.app.reports import ReportQueryError
from cases.domain.contracts import ContractStatus

MAX_ENDING_WITHIN_DAYS = 3650
"""The furthest `ending_within_days` looks ahead: ten years."""


@dataclass(frozen=True, kw_only=True)
class ContractReportFilters:
    """Which contracts a report shows; None means any."""

    account_id: UUID | None = None
    status: ContractStatus | None = None
    ending_within_days: int | None = None
    contract_id: UUID | None = None


@dataclass(frozen=True, kw_only=True)
class ContractReportQuery:
    """A contract report asked for: the day it is run for, the filters and the page."""

    today: date
    filters: ContractReportFilters = ContractReportFilters()
    limit: int = 50
    offset: int = 0

    @classmethod
    def of(
        cls,
        *,
        today: date,
        filters: ContractReportFilters | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> ContractReportQuery:
        """The query, checked."""
        filters = filters or ContractReportFilters()
        days = filters.ending_within_days
        if days is not None and not 0 <= days <= MAX_ENDING_WITHIN_DAYS:
            raise ReportQueryError(
                f"`ending_within_days` must be between 0 and {MAX_ENDING_WITHIN_DAYS}"
            )
        if limit < 1:
            raise ReportQueryError("`limit` must be at least 1")
        if offset < 0:
            raise ReportQueryError("`offset` cannot be negative")
        return cls(today=today, filters=filters, limit=limit, offset=offset)


class ContractReportRow(NamedTuple):
    """One line of one contract, with what it has used; the line fields are null for a
    contract with no lines.

    A named tuple, like the case report's rows: cheap to build and to serialise by field.
    """

    contract_id: UUID
    contract_number: str
    contract_name: str
    account_id: UUID
    status: str
    starts_on: date
    ends_on: date
    days_to_expiry: int
    line_id: UUID | None
    line_number: int | None
    line_name: str | None
    allocation: str | None
    allotment: int | None
    used: int | None
    remaining: int | None
    cases_drawn: int | None
    minutes_drawn: int | None
    overage: int | None


COLUMNS: tuple[str, ...] = ContractReportRow._fields
"""The columns of a report row, in the order a CSV gives them."""


class ContractReportPage(NamedTuple):
    """A page of the report, and how many rows the whole report has."""

    rows: list[ContractReportRow]
    total: int


class ContractReports(Protocol):
    """Where contract reports are computed."""

    async def contracts(self, query: ContractReportQuery) -> ContractReportPage: ...


class ContractReportsUnitOfWork(Protocol):
    """A transaction to read contract reports in."""

    @property
    def contract_reports(self) -> ContractReports: ...

    async def __aenter__(self) -> Self: ...
    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


async def contract_report(
    query: ContractReportQuery, *, uow: ContractReportsUnitOfWork
) -> ContractReportPage:
    """A page of the contract report, by contract number then line number."""
    async with uow:
        return await uow.contract_reports.contracts(query)
