"""GET /reports/cases over a small known set of cases, with a real PostgreSQL."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from faststream.kafka import TestKafkaBroker
from sqlalchemy import insert

from caseflow_servicekit import ServiceApp, ServiceSettings
from caseflow_servicekit.testing import bearer, running
from cases.adapters.tables import case_decisions, cases
from cases.bootstrap import MIGRATIONS, build

pytestmark = pytest.mark.service

A1 = uuid.UUID("00000000-0000-0000-0000-0000000000a1")
A2 = uuid.UUID("00000000-0000-0000-0000-0000000000a2")
G1 = uuid.UUID("00000000-0000-0000-0000-0000000000b1")
G2 = uuid.UUID("00000000-0000-0000-0000-0000000000b2")
MARCH = datetime(2026, 3, 1, tzinfo=UTC)
APRIL = datetime(2026, 4, 1, tzinfo=UTC)
PERIOD = {"from": MARCH.isoformat(), "to": APRIL.isoformat()}


def day(n: int, hours: float = 0) -> datetime:
    """March `n` of 2026 (0 is the last of February), plus `hours`."""
    return MARCH + timedelta(days=n - 1, hours=hours)


def case(n: int, **values: Any) -> dict[str, Any]:
    return {
        "case_id": uuid.UUID(int=n),
        "number": f"CAS-2026-{n:06d}",
        "channel": "email",
        "contact_id": uuid.UUID(int=1000 + n),
        "account_id": A1,
        "subject": f"Case {n}",
        "description": "",
        "request_type": "repair",
        "parameters": {},
        "priority": "normal",
        "status": "new",
        "updated_at": MARCH,
        # Every row names every column: one executemany.
        "assignee_id": None,
        "resolved_at": None,
        "closed_at": None,
        "reopened_at": None,
        "resolution_code": None,
        "reopen_count": 0,
        "overdue": False,
        "billable_minutes": 0,
        "total_minutes": 0,
        "call_minutes": 0,
        **values,
    }


CASES = [
    # Resolved in an hour.
    case(1, assignee_id=G1, opened_at=day(2, 10), resolved_at=day(2, 11), status="resolved",
         resolution_code="fixed", billable_minutes=30, total_minutes=40, call_minutes=10),
    # Resolved in three hours; two decisions, the later one counts.
    case(2, assignee_id=G1, opened_at=day(3), resolved_at=day(3, 3), status="resolved",
         resolution_code="fixed", billable_minutes=60, total_minutes=60),
    # Cancelled the next day, overdue.
    case(3, assignee_id=G2, channel="web", request_type="billing", opened_at=day(5),
         closed_at=day(6), status="cancelled", overdue=True),
    # Opened in February, resolved at the very start of the period: 9 days.
    case(4, account_id=A2, assignee_id=G2, channel="web", request_type="billing",
         opened_at=day(-8), resolved_at=day(1), status="resolved", resolution_code="workaround",
         billable_minutes=5, total_minutes=15, call_minutes=15),
    # Resolved after two days, then reopened; overdue, nobody assigned.
    case(5, account_id=A2, opened_at=day(10), resolved_at=day(12), reopened_at=day(15),
         status="in_progress", reopen_count=1, overdue=True, billable_minutes=7,
         total_minutes=7, call_minutes=7),
    # Opened as the period ends: outside it.
    case(6, account_id=A2, opened_at=APRIL),
    # Nothing in the period.
    case(7, opened_at=datetime(2026, 1, 1, tzinfo=UTC), overdue=True),
]  # fmt: skip

DECISIONS = [
    {"case_id": uuid.UUID(int=2), "code": "refund", "recorded_at": day(3, 1)},
    {"case_id": uuid.UUID(int=2), "code": "replace", "recorded_at": day(3, 2)},
    {"case_id": uuid.UUID(int=6), "code": "refund", "recorded_at": APRIL},
]

FIGURES_OF_ALL = {
    "opened": 4,
    "resolved": 4,
    "cancelled": 1,
    "reopened": 1,
    "overdue": 2,
    # 3600, 10800, 172800, 777600 seconds.
    "median_resolve_seconds": 91800.0,
    "p90_resolve_seconds": 172800 + 0.7 * (777600 - 172800),
    "billable_minutes": 30 + 60 + 5 + 7,
    "total_minutes": 40 + 60 + 15 + 7,
    "call_minutes": 10 + 15 + 7,
}


class Service:
    def __init__(self, app: ServiceApp, client: httpx.AsyncClient) -> None:
        self.app, self.client = app, client
        self.supervisor = bearer(app, "supervisor")

    async def report(self, **params: Any) -> httpx.Response:
        return await self.client.get(
            "/reports/cases", params={**PERIOD, **params}, headers=self.supervisor
        )


@pytest.fixture
async def service(fresh_database: str) -> AsyncIterator[Service]:
    settings = ServiceSettings(database_url=fresh_database, kafka_bootstrap_servers="test:9092")
    app = build(settings, configure_process=False)
    async with TestKafkaBroker(app.kit.kafka), running(app, migrations=MIGRATIONS) as client:
        async with app.kit.engine.begin() as conn:
            await conn.execute(insert(cases), CASES)
            await conn.execute(
                insert(case_decisions),
                [
                    {"decision_id": uuid.uuid4(), "outcome": "accepted", "text": "", **d}
                    for d in DECISIONS
                ],
            )
        yield Service(app, client)


async def test_the_figures_of_the_whole_period(service: Service) -> None:
    r = await service.report()
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["from"], body["to"], body["group_by"]) == (
        "2026-03-01T00:00:00Z",
        "2026-04-01T00:00:00Z",
        [],
    )
    [row] = body["rows"]
    assert row.pop("group") == {}
    assert row == pytest.approx(FIGURES_OF_ALL)


async def test_grouped_by_account_and_status(service: Service) -> None:
    r = await service.report(group_by="account,status")
    assert r.status_code == 200, r.text
    rows = {(row["group"]["account"], row["group"]["status"]): row for row in r.json()["rows"]}
    assert list(rows) == [
        (str(A1), "cancelled"),
        (str(A1), "resolved"),
        (str(A2), "in_progress"),
        (str(A2), "resolved"),
    ]
    cancelled = rows[(str(A1), "cancelled")]
    assert (cancelled["opened"], cancelled["cancelled"], cancelled["overdue"]) == (1, 1, 1)
    assert (cancelled["resolved"], cancelled["median_resolve_seconds"]) == (0, None)
    assert cancelled["billable_minutes"] == 0
    resolved = rows[(str(A1), "resolved")]
    assert (resolved["opened"], resolved["resolved"]) == (2, 2)
    assert resolved["median_resolve_seconds"] == pytest.approx(7200)
    assert resolved["p90_resolve_seconds"] == pytest.approx(3600 + 0.9 * 7200)
    assert (resolved["billable_minutes"], resolved["total_minutes"]) == (90, 100)
    reopened = rows[(str(A2), "in_progress")]
    assert (reopened["opened"], reopened["resolved"], reopened["reopened"]) == (1, 1, 1)
    assert reopened["overdue"] == 1
    february = rows[(str(A2), "resolved")]
    assert (february["opened"], february["resolved"]) == (0, 1)
    assert february["median_resolve_seconds"] == pytest.approx(9 * 86400)


async def test_repeated_group_by_and_filters(service: Service) -> None:
    r = await service.report(group_by=["request_type", "channel"], account_id=str(A1))
    assert r.status_code == 200, r.text
    got = [(row["group"], row["opened"]) for row in r.json()["rows"]]
    assert got == [
        ({"request_type": "billing", "channel": "web"}, 1),
        ({"request_type": "repair", "channel": "email"}, 2),
    ]
    r = await service.report(group_by="agent", channel="web", status="resolved")
    assert [(row["group"]["agent"], row["resolved"]) for row in r.json()["rows"]] == [(str(G2), 1)]


async def test_agents_and_decisions(service: Service) -> None:
    r = await service.report(group_by="agent")
    assert [
        (row["group"]["agent"], row["opened"], row["resolved"]) for row in r.json()["rows"]
    ] == [
        (str(G1), 2, 2),
        (str(G2), 1, 1),
        (None, 1, 1),
    ]
    r = await service.report(group_by="decision")
    assert [(row["group"]["decision"], row["resolved"]) for row in r.json()["rows"]] == [
        ("fixed", 1),  # case 1: no decision, its resolution code
        ("replace", 1),  # case 2: the latest of its decisions
        ("workaround", 1),
        (None, 1),  # cases 3 and 5: neither
    ]


async def test_csv_gives_the_same_rows(service: Service) -> None:
    r = await service.client.get(
        "/reports/cases",
        params={**PERIOD, "group_by": "account,status"},
        headers={**service.supervisor, "Accept": "text/csv"},
    )
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "text/csv; charset=utf-8"
    header, *lines = list(csv.reader(io.StringIO(r.text)))
    assert header[:4] == ["account", "status", "opened", "resolved"]
    assert [line[:4] for line in lines] == [
        [str(A1), "cancelled", "1", "0"],
        [str(A1), "resolved", "2", "2"],
        [str(A2), "in_progress", "1", "1"],
        [str(A2), "resolved", "0", "1"],
    ]
    json_rows = (await service.report(group_by="account,status")).json()["rows"]
    assert len(json_rows) == len(lines)


async def test_only_supervisors_and_valid_queries(service: Service) -> None:
    agent = bearer(service.app, "agent")
    r = await service.client.get("/reports/cases", params=PERIOD, headers=agent)
    assert r.status_code == 403
    assert (await service.client.get("/reports/cases", params=PERIOD)).status_code == 401
    admin = bearer(service.app, "admin")
    assert (
        await service.client.get("/reports/cases", params=PERIOD, headers=admin)
    ).status_code == 200
    for params in (
        {"group_by": "priority"},
        {"from": PERIOD["to"], "to": PERIOD["from"]},
        {"from": "2026-03-01T00:00:00"},
        {"from": "0001-01-01T00:00:00+05:00"},
        {"channel": "pigeon"},
    ):
        r = await service.report(**params)
        assert r.status_code == 422, (params, r.text)
        assert r.headers["content-type"] == "application/problem+json"


async def test_the_openapi_document_declares_json_and_csv(service: Service) -> None:
    doc = (await service.client.get("/openapi.json")).json()
    operation = doc["paths"]["/reports/cases"]["get"]
    assert set(operation["responses"]["200"]["content"]) == {"application/json", "text/csv"}
    assert operation["x-caseflow-roles"] == ["supervisor"]
