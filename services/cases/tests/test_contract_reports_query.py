"""The contract report's query against a real PostgreSQL: the ledger summed per line, the
filters and the pages; rows written straight into the tables."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
from faststream.kafka import TestKafkaBroker
from sqlalchemy import insert

from caseflow_servicekit import ServiceApp, ServiceSettings
from caseflow_servicekit.testing import running
from cases.adapters.tables import cases, contract_ledger, contract_lines, contracts
from cases.adapters.uow import SqlCasesUnitOfWork
from cases.app.contract_reports import (
    ContractReportFilters,
    ContractReportPage,
    ContractReportQuery,
    contract_report,
)
from cases.app.reports import ReportQueryError
from cases.bootstrap import MIGRATIONS, build
from cases.domain.contracts import ContractStatus

pytestmark = pytest.mark.service

TODAY = date(2026, 6, 15)
AT = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
A1 = uuid.UUID("00000000-0000-0000-0000-0000000000a1")
A2 = uuid.UUID("00000000-0000-0000-0000-0000000000a2")


def cid(n: int) -> uuid.UUID:
    return uuid.UUID(int=0xC0 << 8 | n)


def lid(contract: int, line: int) -> uuid.UUID:
    return uuid.UUID(int=0x11 << 16 | contract << 8 | line)


def case_id(n: int) -> uuid.UUID:
    return uuid.UUID(int=n)


def contract(n: int, account: uuid.UUID, status: str, ends_on: date) -> dict[str, Any]:
    return {
        "contract_id": cid(n),
        "number": f"CON-2026-{n:06d}",
        "account_id": account,
        "name": f"Contract {n}",
        "status": status,
        "starts_on": date(2026, 1, 1),
        "ends_on": ends_on,
        "created_at": AT,
        "updated_at": AT,
    }


def line(
    contract: int, number: int, allocation: str, allotment: int, *, overdraft: bool = False
) -> dict[str, Any]:
    return {
        "line_id": lid(contract, number),
        "contract_id": cid(contract),
        "number": number,
        "name": f"Line {contract}.{number}",
        "allocation": allocation,
        "allotment": allotment,
        "starts_on": date(2026, 1, 1),
        "ends_on": date(2026, 12, 31),
        "allow_overdraft": overdraft,
    }


def case(n: int, billable_minutes: int) -> dict[str, Any]:
    return {
        "case_id": case_id(n),
        "number": f"CAS-2026-{n:06d}",
        "channel": "email",
        "contact_id": uuid.UUID(int=1000 + n),
        "account_id": A1,
        "subject": f"Case {n}",
        "description": "",
        "request_type": None,
        "parameters": {},
        "priority": "normal",
        "status": "resolved",
        "opened_at": AT,
        "updated_at": AT,
        "billable_minutes": billable_minutes,
    }


def entry(contract: int, line: int, case: int, amount: int, overage: int = 0) -> dict[str, Any]:
    return {
        "entry_id": uuid.uuid4(),
        "line_id": lid(contract, line),
        "contract_id": cid(contract),
        "case_id": case_id(case),
        "kind": "drawdown" if amount > 0 else "restore",
        "amount": amount,
        "overage": overage,
        "by": None,
        "reason": "resolved" if amount > 0 else "reopened",
        "at": AT,
    }


CONTRACTS = [
    contract(1, A1, "active", date(2026, 12, 31)),  # 199 days left
    contract(2, A2, "active", date(2026, 6, 20)),  # 5 days left
    contract(3, A1, "draft", date(2026, 7, 15)),  # 30 days left, no lines
    contract(4, A2, "expired", date(2026, 6, 1)),  # ended 14 days ago
]
LINES = [
    line(1, 1, "cases", 10),
    line(1, 2, "minutes", 120),
    line(1, 3, "cases", 5),  # nothing drawn
    line(2, 1, "cases", 2, overdraft=True),
    line(4, 1, "minutes", 60),
]
CASES = [
    case(1, 30),
    case(2, 100),
    case(3, 45),
    case(4, 50),
    case(5, 90),
    case(6, 30),
    case(7, 10),
    case(8, 20),
    case(9, 40),
    case(10, 60),
]
LEDGER = [
    # Cases line 1.1: case 1 draws; case 2 draws, is reopened and gives it back; case 3
    # draws, gives back, and draws again once resolved anew.
    entry(1, 1, 1, 1),
    entry(1, 1, 2, 1),
    entry(1, 1, 2, -1),
    entry(1, 1, 3, 1),
    entry(1, 1, 3, -1),
    entry(1, 1, 3, 1),
    # Minutes line 1.2: 50, then 90 of which 70 fit and 20 are overage, then 30 given back.
    entry(1, 2, 4, 50),
    entry(1, 2, 5, 70, overage=20),
    entry(1, 2, 6, 30),
    entry(1, 2, 6, -30),
    # Cases line 2.1 with overdraft: three cases on an allotment of two.
    entry(2, 1, 7, 1),
    entry(2, 1, 8, 1),
    entry(2, 1, 9, 1),
    # Minutes line 4.1: used up.
    entry(4, 1, 10, 60),
]


@pytest.fixture
async def app(fresh_database: str) -> AsyncIterator[ServiceApp]:
    settings = ServiceSettings(database_url=fresh_database, kafka_bootstrap_servers="test:9092")
    app = build(settings, configure_process=False)
    async with TestKafkaBroker(app.kit.kafka), running(app, migrations=MIGRATIONS):
        async with app.kit.engine.begin() as conn:
            await conn.execute(insert(contracts), CONTRACTS)
            await conn.execute(insert(contract_lines), LINES)
            await conn.execute(insert(cases), CASES)
            await conn.execute(insert(contract_ledger), LEDGER)
        yield app


async def report(app: ServiceApp, **values: Any) -> ContractReportPage:
    limit = values.pop("limit", 50)
    offset = values.pop("offset", 0)
    query = ContractReportQuery.of(
        today=TODAY, filters=ContractReportFilters(**values), limit=limit, offset=offset
    )
    return await contract_report(query, uow=SqlCasesUnitOfWork(app.kit.sessions, app.kit.outbox))


def keys(page: ContractReportPage) -> list[tuple[str, int | None]]:
    return [(row.contract_number, row.line_number) for row in page.rows]


ALL = [
    ("CON-2026-000001", 1),
    ("CON-2026-000001", 2),
    ("CON-2026-000001", 3),
    ("CON-2026-000002", 1),
    ("CON-2026-000003", None),
    ("CON-2026-000004", 1),
]


async def test_a_row_per_line_by_contract_then_line_number(app: ServiceApp) -> None:
    page = await report(app)
    assert (keys(page), page.total) == (ALL, 6)
    first = page.rows[0]
    assert first._asdict() == {
        "contract_id": cid(1),
        "contract_number": "CON-2026-000001",
        "contract_name": "Contract 1",
        "account_id": A1,
        "status": "active",
        "starts_on": date(2026, 1, 1),
        "ends_on": date(2026, 12, 31),
        "days_to_expiry": 199,
        "line_id": lid(1, 1),
        "line_number": 1,
        "line_name": "Line 1.1",
        "allocation": "cases",
        "allotment": 10,
        "used": 2,
        "remaining": 8,
        "cases_drawn": 2,
        "minutes_drawn": 30 + 45,
        "overage": 0,
    }


def figures(page: ContractReportPage, number: str, line: int | None) -> tuple[Any, ...]:
    [row] = [r for r in page.rows if (r.contract_number, r.line_number) == (number, line)]
    return (row.used, row.remaining, row.cases_drawn, row.minutes_drawn, row.overage)


async def test_drawdowns_less_restores_on_a_cases_line(app: ServiceApp) -> None:
    # Case 2 gave back what it drew: neither used, nor drawn, nor its minutes counted.
    page = await report(app)
    assert figures(page, "CON-2026-000001", 1) == (2, 8, 2, 75, 0)


async def test_a_minutes_line_draws_its_used_and_keeps_its_overage(app: ServiceApp) -> None:
    page = await report(app)
    # 50 + 70 + 30 - 30: cases 4 and 5 drawn; minutes drawn are the line's own amounts.
    assert figures(page, "CON-2026-000001", 2) == (120, 0, 2, 120, 20)
    assert figures(page, "CON-2026-000004", 1) == (60, 0, 1, 60, 0)


async def test_a_line_with_nothing_drawn_and_a_contract_with_no_line(app: ServiceApp) -> None:
    page = await report(app)
    assert figures(page, "CON-2026-000001", 3) == (0, 5, 0, 0, 0)
    [draft] = [row for row in page.rows if row.contract_number == "CON-2026-000003"]
    assert (draft.status, draft.days_to_expiry) == ("draft", 30)
    line_fields = draft[draft._fields.index("line_id") :]
    assert line_fields == (None,) * len(line_fields)


async def test_overdraft_leaves_a_negative_remaining(app: ServiceApp) -> None:
    page = await report(app)
    assert figures(page, "CON-2026-000002", 1) == (3, -1, 3, 10 + 20 + 40, 0)


async def test_days_to_expiry_go_negative_once_ended(app: ServiceApp) -> None:
    page = await report(app)
    assert [row.days_to_expiry for row in page.rows] == [199, 199, 199, 5, 30, -14]


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"account_id": A1}, [*ALL[:3], ALL[4]]),
        ({"account_id": A2}, [ALL[3], ALL[5]]),
        ({"status": ContractStatus.EXPIRED}, [ALL[5]]),
        ({"status": ContractStatus.CANCELLED}, []),
        ({"contract_id": cid(2)}, [ALL[3]]),
        ({"account_id": A1, "status": ContractStatus.ACTIVE}, ALL[:3]),
        # Ending today up to N days from today, both included; ended ones are not "ending".
        ({"ending_within_days": 4}, []),
        ({"ending_within_days": 5}, [ALL[3]]),
        ({"ending_within_days": 30}, [ALL[3], ALL[4]]),
        ({"ending_within_days": 3650}, ALL[:5]),
        ({"ending_within_days": 30, "account_id": A1}, [ALL[4]]),
    ],
)
async def test_filters(
    app: ServiceApp, filters: dict[str, Any], expected: list[tuple[str, int | None]]
) -> None:
    page = await report(app, **filters)
    assert (keys(page), page.total) == (expected, len(expected))


async def test_pages_keep_the_order_and_the_total(app: ServiceApp) -> None:
    pages = [await report(app, limit=4, offset=offset) for offset in (0, 4)]
    assert [keys(page) for page in pages] == [ALL[:4], ALL[4:]]
    assert [page.total for page in pages] == [6, 6]
    middle = await report(app, limit=2, offset=1)
    assert (keys(middle), middle.total) == (ALL[1:3], 6)
    # A line's figures do not depend on the page it is on.
    assert figures(middle, "CON-2026-000001", 2) == (120, 0, 2, 120, 20)


async def test_a_page_past_the_end_is_empty_and_still_counts(app: ServiceApp) -> None:
    page = await report(app, offset=6)
    assert (page.rows, page.total) == ([], 6)
    page = await report(app, account_id=A2, offset=100)
    assert (page.rows, page.total) == ([], 2)
    page = await report(app, status=ContractStatus.CANCELLED, offset=100)
    assert (page.rows, page.total) == ([], 0)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"filters": ContractReportFilters(ending_within_days=-1)}, "between 0 and 3650"),
        ({"filters": ContractReportFilters(ending_within_days=3651)}, "between 0 and 3650"),
        ({"limit": 0}, "at least 1"),
        ({"offset": -1}, "cannot be negative"),
    ],
)
def test_queries_that_cannot_be_answered_are_refused(values: dict[str, Any], message: str) -> None:
    with pytest.raises(ReportQueryError, match=message):
        ContractReportQuery.of(today=TODAY, **values)
