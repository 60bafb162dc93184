"""GET /reports/contracts over HTTP, with a real PostgreSQL: JSON, CSV, refusals."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from faststream.kafka import TestKafkaBroker
from sqlalchemy import insert

from caseflow_servicekit import ServiceApp, ServiceSettings
from caseflow_servicekit.testing import bearer, running
from cases.adapters.tables import cases, contract_ledger, contract_lines, contracts
from cases.app.contract_reports import COLUMNS
from cases.bootstrap import MIGRATIONS, build

pytestmark = pytest.mark.service

# Half past one on the 16th at UTC+2 is still the 15th in UTC, the day the report counts from.
NOW = datetime(2026, 6, 16, 1, 30, tzinfo=timezone(timedelta(hours=2)))
AT = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
ACCOUNT = uuid.UUID("00000000-0000-0000-0000-0000000000a1")
GOLD = uuid.UUID("00000000-0000-0000-0000-00000000c001")
DRAFT = uuid.UUID("00000000-0000-0000-0000-00000000c002")
REPAIRS = uuid.UUID("00000000-0000-0000-0000-00000000d001")
ADVICE = uuid.UUID("00000000-0000-0000-0000-00000000d002")


class FixedClock:
    def now(self) -> datetime:
        return NOW


def contract(contract_id: uuid.UUID, n: int, status: str, ends_on: date) -> dict[str, Any]:
    return {
        "contract_id": contract_id,
        "number": f"CON-2026-{n:06d}",
        "account_id": ACCOUNT,
        "name": f"Contract {n}",
        "status": status,
        "starts_on": date(2026, 1, 1),
        "ends_on": ends_on,
        "created_at": AT,
        "updated_at": AT,
    }


def line(line_id: uuid.UUID, number: int, allocation: str, allotment: int) -> dict[str, Any]:
    return {
        "line_id": line_id,
        "contract_id": GOLD,
        "number": number,
        "name": f"Line {number}",
        "allocation": allocation,
        "allotment": allotment,
        "starts_on": date(2026, 1, 1),
        "ends_on": date(2026, 12, 31),
    }


def case(n: int, billable_minutes: int) -> dict[str, Any]:
    return {
        "case_id": uuid.UUID(int=n),
        "number": f"CAS-2026-{n:06d}",
        "channel": "email",
        "contact_id": uuid.UUID(int=1000 + n),
        "account_id": ACCOUNT,
        "subject": f"Case {n}",
        "description": "",
        "request_type": None,
        "parameters": {},
        "priority": "normal",
        "status": "resolved",
        "opened_at": AT,
        "updated_at": AT,
        "billable_minutes": billable_minutes,
        "entitlement_id": REPAIRS,
        "contract_id": GOLD,
    }


def entry(line_id: uuid.UUID, case: int, amount: int) -> dict[str, Any]:
    return {
        "entry_id": uuid.uuid4(),
        "line_id": line_id,
        "contract_id": GOLD,
        "case_id": uuid.UUID(int=case),
        "kind": "drawdown" if amount > 0 else "restore",
        "amount": amount,
        "overage": 0,
        "by": None,
        "reason": "",
        "at": AT,
    }


class Service:
    def __init__(self, app: ServiceApp, client: httpx.AsyncClient) -> None:
        self.app, self.client = app, client
        self.supervisor = bearer(app, "supervisor")

    async def report(self, accept: str | None = None, **params: Any) -> httpx.Response:
        headers = {**self.supervisor, **({"Accept": accept} if accept else {})}
        return await self.client.get("/reports/contracts", params=params, headers=headers)


@pytest.fixture
async def service(fresh_database: str) -> AsyncIterator[Service]:
    settings = ServiceSettings(database_url=fresh_database, kafka_bootstrap_servers="test:9092")
    app = build(settings, clock=FixedClock(), configure_process=False)
    async with TestKafkaBroker(app.kit.kafka), running(app, migrations=MIGRATIONS) as client:
        async with app.kit.engine.begin() as conn:
            await conn.execute(
                insert(contracts),
                [
                    contract(GOLD, 1, "active", date(2026, 6, 25)),
                    contract(DRAFT, 2, "draft", date(2026, 12, 31)),
                ],
            )
            await conn.execute(
                insert(contract_lines),
                [line(REPAIRS, 1, "cases", 10), line(ADVICE, 2, "minutes", 60)],
            )
            await conn.execute(insert(cases), [case(1, 25), case(2, 40)])
            await conn.execute(
                insert(contract_ledger),
                [entry(REPAIRS, 1, 1), entry(REPAIRS, 2, 1), entry(REPAIRS, 2, -1)],
            )
        yield Service(app, client)


async def test_json_a_row_per_line(service: Service) -> None:
    r = await service.report()
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/json"
    body = r.json()
    assert {k: body[k] for k in ("as_of", "total", "limit", "offset")} == {
        "as_of": "2026-06-15",
        "total": 3,
        "limit": 50,
        "offset": 0,
    }
    repairs, advice, draft = body["rows"]
    assert repairs == {
        "contract_id": str(GOLD),
        "contract_number": "CON-2026-000001",
        "contract_name": "Contract 1",
        "account_id": str(ACCOUNT),
        "status": "active",
        "starts_on": "2026-01-01",
        "ends_on": "2026-06-25",
        "days_to_expiry": 10,
        "line_id": str(REPAIRS),
        "line_number": 1,
        "line_name": "Line 1",
        "allocation": "cases",
        "allotment": 10,
        "used": 1,
        "remaining": 9,
        "cases_drawn": 1,
        "minutes_drawn": 25,
        "overage": 0,
    }
    assert (advice["line_number"], advice["used"], advice["remaining"]) == (2, 0, 60)
    assert (draft["contract_number"], draft["days_to_expiry"]) == ("CON-2026-000002", 199)
    assert draft["line_id"] is draft["used"] is draft["remaining"] is None


async def test_filters_and_pages(service: Service) -> None:
    r = await service.report(status="draft")
    assert [row["contract_id"] for row in r.json()["rows"]] == [str(DRAFT)]
    r = await service.report(ending_within_days=10, account_id=str(ACCOUNT))
    assert [row["line_id"] for row in r.json()["rows"]] == [str(REPAIRS), str(ADVICE)]
    r = await service.report(ending_within_days=9)
    assert (r.json()["rows"], r.json()["total"]) == ([], 0)
    r = await service.report(contract_id=str(GOLD), limit=1, offset=1)
    body = r.json()
    assert ([row["line_id"] for row in body["rows"]], body["total"]) == ([str(ADVICE)], 2)
    assert (body["limit"], body["offset"]) == (1, 1)


async def test_csv_gives_the_same_rows(service: Service) -> None:
    r = await service.report("text/csv", limit=2)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "text/csv; charset=utf-8"
    assert r.headers["x-total-count"] == "3"
    header, *lines = list(csv.reader(io.StringIO(r.text)))
    assert header == list(COLUMNS)
    json_rows = (await service.report(limit=2)).json()["rows"]
    assert [dict(zip(header, values, strict=True)) for values in lines] == [
        {k: "" if v is None else str(v) for k, v in row.items()} for row in json_rows
    ]
    r = await service.report("text/csv", status="draft")
    [_, draft] = list(csv.reader(io.StringIO(r.text)))
    assert draft[:8] == [
        str(DRAFT),
        "CON-2026-000002",
        "Contract 2",
        str(ACCOUNT),
        "draft",
        "2026-01-01",
        "2026-12-31",
        "199",
    ]
    assert draft[8:] == [""] * (len(COLUMNS) - 8)


async def test_only_supervisors_and_valid_filters(service: Service) -> None:
    agent = bearer(service.app, "agent")
    assert (await service.client.get("/reports/contracts", headers=agent)).status_code == 403
    assert (await service.client.get("/reports/contracts")).status_code == 401
    admin = bearer(service.app, "admin")
    assert (await service.client.get("/reports/contracts", headers=admin)).status_code == 200
    for params in (
        {"status": "paused"},
        {"ending_within_days": -1},
        {"ending_within_days": 3651},
        {"ending_within_days": "soon"},
        {"account_id": "nobody"},
        {"contract_id": "CON-2026-000001"},
        {"limit": 0},
        {"limit": 501},
        {"offset": -1},
    ):
        r = await service.report(**params)
        assert r.status_code == 422, (params, r.text)
        assert r.headers["content-type"] == "application/problem+json"


async def test_the_openapi_document_declares_json_and_csv(service: Service) -> None:
    doc = (await service.client.get("/openapi.json")).json()
    operation = doc["paths"]["/reports/contracts"]["get"]
    assert set(operation["responses"]["200"]["content"]) == {"application/json", "text/csv"}
    assert operation["x-caseflow-roles"] == ["supervisor"]
