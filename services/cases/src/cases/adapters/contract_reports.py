"""Contract reports in PostgreSQL: one statement per page, the ledger summed there.

The statement picks the page first (contracts left-joined to their lines, filtered, ordered by
contract and line number, with `count(*) OVER ()` for the total), then, for each line of the
page, sums its ledger in a LATERAL subquery: per case (a case's net amount tells whether it
still draws on the line), then for the line, joined to `cases` for the billable minutes of
the cases drawn. The existing indexes serve it (`contract_ledger (line_id, at)`, the primary
key of `cases`), and the work grows with the page, not with the ledger.

Why LATERAL rather than joining the page to the ledger grouped by line: asyncpg prepares the
statement, and after five runs PostgreSQL may keep a generic plan, which cannot see `limit`
and guessed a page of one row; it then recomputed the ledger of the whole page once per row
(10 to 30 s instead of 0.1 s for a page of 500, in `make bench-contracts`).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Date,
    case,
    cast,
    func,
    literal,
    select,
    true,
)
from sqlalchemy.ext.asyncio import AsyncSession

from cases.adapters.tables import cases, contract_ledger, contract_lines, contracts
from cases.app.contract_reports import (
    COLUMNS,
    ContractReportPage,
    ContractReportQuery,
    ContractReportRow,
)
from cases.domain.contracts import Allocation

_k = contracts.c
_l = contract_lines.c
_e = contract_ledger.c


class SqlContractReports:
    """Computes contract reports with one SQL statement a page."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def contracts(self, query: ContractReportQuery) -> ContractReportPage:
        """A page of the report, by contract number then line number, and its total."""
        rows = (await self._session.execute(statement(query))).all()
        if rows:
            # The statement selects the columns in COLUMNS order, then the total.
            return ContractReportPage([ContractReportRow(*row[:-1]) for row in rows], rows[0][-1])
        # A page past the end has no row to carry the total: count on its own (rare).
        total = await self._session.scalar(
            select(func.count()).select_from(_source()).where(*_filters(query))
        )
        return ContractReportPage([], int(total or 0))


def _source() -> Any:
    return contracts.outerjoin(contract_lines, _l.contract_id == _k.contract_id)


def statement(query: ContractReportQuery) -> Any:
    """The SQL of a page of the contract report."""
    page = (
        select(
            _k.contract_id,
            _k.number.label("contract_number"),
            _k.name.label("contract_name"),
            _k.account_id,
            _k.status,
            _k.starts_on,
            _k.ends_on,
            (_k.ends_on - literal(query.today, Date)).label("days_to_expiry"),
            _l.line_id,
            _l.number.label("line_number"),
            _l.name.label("line_name"),
            _l.allocation,
            _l.allotment,
            func.count().over().label("total"),
        )
        .select_from(_source())
        .where(*_filters(query))
        .order_by(_k.number, _l.number)
        .limit(query.limit)
        .offset(query.offset)
        .cte("page")
    )
    p = page.c
    # For each line of the page, its ledger only (`ix_contract_ledger_line`): each case's net
    # (what it draws once restores are taken off), then the line's figures. LATERAL keeps the
    # work proportional to the page, whatever plan PostgreSQL keeps for the statement.
    per_case = (
        select(
            _e.case_id,
            func.sum(_e.amount).label("net"),
            func.sum(_e.overage).label("overage"),
        )
        .where(_e.line_id == p.line_id)
        .group_by(_e.case_id)
        .correlate(page)
        .subquery("per_case")
    )
    c = per_case.c
    drawn = c.net > 0
    per_line = (
        select(
            func.sum(c.net).label("used"),
            func.sum(c.overage).label("overage"),
            func.count().filter(drawn).label("cases_drawn"),
            func.sum(cases.c.billable_minutes).filter(drawn).label("case_minutes"),
        )
        .select_from(per_case.outerjoin(cases, cases.c.case_id == c.case_id))
        .lateral("per_line")
    )
    s = per_line.c

    def figure(value: ColumnElement[Any]) -> ColumnElement[Any]:
        # 0 for a line with nothing in its ledger, null for a contract with no line; the
        # sums of sums are numeric in PostgreSQL, brought back to integers.
        return case((p.line_id.is_(None), None), else_=func.coalesce(cast(value, BigInteger), 0))

    used = figure(s.used)
    figures: dict[str, ColumnElement[Any]] = {
        "used": used,
        "remaining": p.allotment - used,
        "cases_drawn": figure(s.cases_drawn),
        "minutes_drawn": figure(
            case((p.allocation == Allocation.MINUTES.value, s.used), else_=s.case_minutes)
        ),
        "overage": figure(s.overage),
    }
    columns = [p[name] if name in p else figures[name].label(name) for name in COLUMNS]
    return (
        select(*columns, p.total)
        .select_from(page.outerjoin(per_line, true()))
        .order_by(p.contract_number, p.line_number)
    )


def _filters(query: ContractReportQuery) -> list[ColumnElement[bool]]:
    f = query.filters
    where: list[ColumnElement[bool]] = []
    if f.account_id is not None:
        where.append(_k.account_id == f.account_id)
    if f.status is not None:
        where.append(_k.status == f.status.value)
    if f.contract_id is not None:
        where.append(_k.contract_id == f.contract_id)
    if f.ending_within_days is not None:
        last = query.today + timedelta(days=f.ending_within_days)
        where.append(_k.ends_on.between(query.today, last))
    return where
