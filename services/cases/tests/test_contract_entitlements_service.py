"""Cases and the contract lines that cover them, over HTTP with a real PostgreSQL: what
covers a case when it opens, what its resolution draws and its reopening gives back, the
warnings to the contract's owner, an agent's choice of line, contracts drawn up by a decision,
the daily upkeep, and two resolutions drawing on one line at the same moment.

What is published is captured in memory.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from faststream.kafka import TestKafkaBroker
from faststream.kafka.annotations import KafkaMessage
from sqlalchemy.pool import QueuePool

import caseflow_contracts as c
from caseflow_contracts import topics
from caseflow_servicekit import ServiceApp, ServiceSettings
from caseflow_servicekit.auth import agent_id_of
from caseflow_servicekit.testing import bearer, eventually, running
from cases.adapters.contracts import SqlContracts
from cases.app import work
from cases.app.contracts import draw_for_resolution
from cases.bootstrap import MIGRATIONS, build

pytestmark = pytest.mark.service

NOW = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)
AGENT = agent_id_of("ada")
SUPERVISOR = agent_id_of("sam")
CONTACT = uuid.UUID(int=7)
ACCOUNT = uuid.UUID(int=8)
OTHER_ACCOUNT = uuid.UUID(int=80)
SLA_POLICY = uuid.UUID(int=501)
CALENDAR = uuid.UUID(int=502)


class MovableClock:
    """A second passes with every reading, so what was done first sorts first; the clock
    jumps when a test moves it."""

    def __init__(self) -> None:
        self.start, self.ticks = NOW, 0

    def now(self) -> datetime:
        self.ticks += 1
        return self.start + timedelta(seconds=self.ticks)

    def move_to(self, moment: datetime) -> None:
        self.start, self.ticks = moment, 0


class Desk:
    """The service, its clock, an agent's and a supervisor's headers, and what it published."""

    def __init__(self, app: ServiceApp, client: httpx.AsyncClient, clock: MovableClock) -> None:
        self.app, self.client, self.clock = app, client, clock
        self.events: list[c.Event] = []
        self.notifications: list[c.NotificationRequested] = []
        self.agent = bearer(app, "agent", subject="ada")
        self.supervisor = bearer(app, "supervisor", subject="sam")
        self.admin = bearer(app, "admin")

    async def published(
        self, kind: type[c.Event], n: int = 1, *, contract_id: str | None = None
    ) -> list[Any]:
        """The first `n` events of `kind` (about that contract), once they are out."""

        async def probe() -> list[Any] | None:
            found = [
                e
                for e in self.events
                if isinstance(e, kind) and contract_id in (None, str(getattr(e, "contract_id", "")))
            ]
            return found if len(found) >= n else None

        return await eventually(probe)

    async def told(self, template: str, n: int = 1) -> list[c.NotificationRequested]:
        async def probe() -> list[c.NotificationRequested] | None:
            found = [x for x in self.notifications if x.template == template]
            return found if len(found) >= n else None

        return await eventually(probe)

    async def post(self, path: str, body: Any = None) -> httpx.Response:
        """An agent's request."""
        return await self.client.post(path, json=body, headers=self.agent)

    async def get(self, path: str, **params: Any) -> dict[str, Any]:
        r = await self.client.get(path, params=params, headers=self.agent)
        assert r.status_code == 200, r.text
        found: dict[str, Any] = r.json()
        return found

    async def active(self, *lines: dict[str, Any], **overrides: Any) -> dict[str, Any]:
        """A contract in force from 1 January to 31 December 2026."""
        body = {
            "account_id": str(ACCOUNT),
            "name": "Support 2026",
            "starts_on": "2026-01-01",
            "ends_on": "2026-12-31",
            "lines": list(lines),
            **overrides,
        }
        r = await self.client.post("/contracts", json=body, headers=self.supervisor)
        assert r.status_code == 201, r.text
        path = f"/contracts/{r.json()['contract_id']}/activate"
        r = await self.client.post(path, headers=self.supervisor)
        assert r.status_code == 200, r.text
        contract: dict[str, Any] = r.json()
        return contract

    async def open(self, **overrides: Any) -> dict[str, Any]:
        body = {
            "contact_id": str(CONTACT),
            "account_id": str(ACCOUNT),
            "channel": "phone",
            "subject": "Laptop does not start",
            **overrides,
        }
        r = await self.post("/cases", body)
        assert r.status_code == 201, r.text
        case: dict[str, Any] = r.json()
        return case

    async def work(self, case: dict[str, Any], minutes: int, *, billable: bool = True) -> None:
        r = await self.post(
            f"/cases/{case['case_id']}/activities",
            {"kind": "call", "subject": "Call", "duration_minutes": minutes, "billable": billable},
        )
        assert r.status_code == 201, r.text

    async def resolve(self, case: dict[str, Any]) -> dict[str, Any]:
        r = await self.post(f"/cases/{case['case_id']}/resolve", {"code": "fixed", "text": "Done"})
        assert r.status_code == 200, r.text
        resolved: dict[str, Any] = r.json()
        return resolved

    async def reopen(self, case: dict[str, Any]) -> None:
        r = await self.post(f"/cases/{case['case_id']}/reopen", {"reason": "Broke again"})
        assert r.status_code == 200, r.text

    async def ledger(self, contract: dict[str, Any]) -> list[dict[str, Any]]:
        page = await self.get(f"/contracts/{contract['contract_id']}/ledger")
        items: list[dict[str, Any]] = page["items"]
        return items

    async def lines(self, contract: dict[str, Any]) -> list[dict[str, Any]]:
        shown = await self.get(f"/contracts/{contract['contract_id']}")
        found: list[dict[str, Any]] = shown["lines"]
        return found


def line(name: str = "Cases", **overrides: Any) -> dict[str, Any]:
    return {"name": name, "allocation": "cases", "allotment": 10, **overrides}


def problem(r: httpx.Response, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = r.json()
    return body


@pytest.fixture
async def desk(fresh_database: str) -> AsyncIterator[Desk]:
    settings = ServiceSettings(database_url=fresh_database, kafka_bootstrap_servers="test:9092")
    clock = MovableClock()
    app = build(settings, clock=clock, configure_process=False)
    holder: list[Desk] = []

    @app.kit.kafka.subscriber(topics.CASES, group_id="probe-cases")
    async def on_case(message: KafkaMessage) -> None:
        holder[0].events.append(c.decode(message.headers["ce_type"], message.body))

    @app.kit.kafka.subscriber(topics.CONTRACTS, group_id="probe-contracts")
    async def on_contract(message: KafkaMessage) -> None:
        holder[0].events.append(c.decode(message.headers["ce_type"], message.body))

    @app.kit.kafka.subscriber(topics.INTAKE_NOTIFICATIONS, group_id="probe-notifications")
    async def on_notification(message: KafkaMessage) -> None:
        event = c.decode(message.headers["ce_type"], message.body)
        assert isinstance(event, c.NotificationRequested)
        holder[0].notifications.append(event)

    async with TestKafkaBroker(app.kit.kafka), running(app, migrations=MIGRATIONS) as client:
        holder.append(Desk(app, client, clock))
        for path, body in (
            (
                "/request-types",
                {"code": "repair", "names": {"en": "Repair"}, "default_priority": "high"},
            ),
            ("/decisions", {"code": "fixed", "names": {"en": "Fixed"}, "outcome": "accepted"}),
        ):
            r = await client.post(path, json=body, headers=holder[0].admin)
            assert r.status_code == 201, r.text
        yield holder[0]


# -- what covers a case -----------------------------------------------------------------------


async def test_a_case_opens_under_the_line_that_covers_it_or_says_why_none_does(
    desk: Desk,
) -> None:
    contract = await desk.active(
        line("Phone and email", channels=["phone", "email"]),
        sla_policy_id=str(SLA_POLICY),
        calendar_id=str(CALENDAR),
    )
    [covering] = contract["lines"]
    case = await desk.open(channel="email")
    assert case["entitlement"] == {
        "status": "entitled",
        "line_id": covering["line_id"],
        "contract_id": contract["contract_id"],
        "reason": None,
        "rule": None,
    }
    [opened] = await desk.published(c.CaseOpened)
    assert (opened.entitlement_id, opened.contract_id, opened.not_entitled) == (
        uuid.UUID(covering["line_id"]),
        uuid.UUID(contract["contract_id"]),
        None,
    )
    assert (opened.sla_policy_id, opened.calendar_id) == (SLA_POLICY, CALENDAR)

    by_web = await desk.open(channel="web")
    assert by_web["entitlement"] == {
        "status": "not_entitled",
        "line_id": None,
        "contract_id": None,
        "reason": "channel_not_covered",
        "rule": None,
    }
    elsewhere = await desk.open(account_id=str(OTHER_ACCOUNT))
    assert elsewhere["entitlement"]["reason"] == "no_contract"
    no_account = await desk.open(account_id=None)
    assert no_account["entitlement"]["reason"] == "no_contract"
    opened_events = await desk.published(c.CaseOpened, 4)
    assert [e.not_entitled for e in opened_events] == [
        None,
        c.NotEntitledReason.CHANNEL_NOT_COVERED,
        c.NotEntitledReason.NO_CONTRACT,
        c.NotEntitledReason.NO_CONTRACT,
    ]
    assert opened_events[1].entitlement_id is None and opened_events[1].sla_policy_id is None

    r = await desk.client.post(
        f"/contracts/{contract['contract_id']}/hold", headers=desk.supervisor
    )
    assert r.status_code == 200, r.text
    held = await desk.open()
    assert held["entitlement"]["reason"] == "on_hold"


async def test_when_several_lines_apply_the_rule_that_chose_is_recorded(desk: Desk) -> None:
    later = await desk.active(line("Till June 2027"), ends_on="2027-06-30")
    sooner = await desk.active(line("Till December"))
    case = await desk.open()
    assert case["entitlement"]["line_id"] == sooner["lines"][0]["line_id"]
    assert case["entitlement"]["rule"].startswith("ends first: of 2 lines that apply")
    [opened] = await desk.published(c.CaseOpened)
    assert opened.entitlement_rule == case["entitlement"]["rule"]

    repairs = await desk.active(line("Repairs", request_types=["repair"]), ends_on="2027-12-31")
    repair = await desk.open(request_type="repair")
    assert repair["entitlement"]["line_id"] == repairs["lines"][0]["line_id"]
    assert repair["entitlement"]["rule"].startswith("request type: of 3 lines that apply")
    other = await desk.open(channel="visit")
    assert other["entitlement"]["line_id"] == sooner["lines"][0]["line_id"]
    assert later["lines"][0]["line_id"] not in {
        x["entitlement"]["line_id"] for x in (case, repair, other)
    }


# -- what a resolution draws ------------------------------------------------------------------


async def test_a_resolution_draws_a_case_and_a_reopening_gives_it_back(desk: Desk) -> None:
    contract = await desk.active(line(allotment=10))
    [covering] = contract["lines"]
    case = await desk.open()
    await desk.work(case, 30)  # a line of cases counts the case, whatever its minutes
    await desk.resolve(case)
    [drawn] = await desk.ledger(contract)
    assert (drawn["kind"], drawn["amount"], drawn["overage"], drawn["case_id"]) == (
        "drawdown",
        1,
        0,
        case["case_id"],
    )
    assert (drawn["line_id"], drawn["by"]) == (covering["line_id"], str(AGENT))
    assert drawn["reason"] == f"case {case['number']} resolved"
    [shown] = await desk.lines(contract)
    assert (shown["used"], shown["remaining"]) == (1, 9)

    await desk.reopen(case)
    await desk.resolve(case)
    cancelled = await desk.open()
    r = await desk.post(f"/cases/{cancelled['case_id']}/cancel", {"reason": "Withdrawn"})
    assert r.status_code == 200, r.text
    await desk.reopen(cancelled)  # nothing drawn, nothing given back

    entries = await desk.ledger(contract)
    assert [(x["kind"], x["amount"], x["case_id"]) for x in entries] == [
        ("drawdown", 1, case["case_id"]),
        ("restore", -1, case["case_id"]),
        ("drawdown", 1, case["case_id"]),
    ]
    assert entries[1]["reason"] == f"case {case['number']} reopened: Broke again"
    [shown] = await desk.lines(contract)
    assert (shown["used"], shown["remaining"]) == (1, 9)

    drawn_events = await desk.published(c.ContractLineDrawnDown, 2)
    assert [(e.amount, e.remaining, e.case_id) for e in drawn_events] == [
        (1, 9, uuid.UUID(case["case_id"])),
        (1, 9, uuid.UUID(case["case_id"])),
    ]
    [restored] = await desk.published(c.ContractLineRestored)
    assert (restored.amount, restored.remaining, restored.reason) == (1, 10, "Broke again")
    assert (restored.line_number, restored.allocation) == (1, c.Allocation.CASES)

    one_line = await desk.get(
        f"/contracts/{contract['contract_id']}/ledger", line_id=covering["line_id"], limit=1
    )
    assert (one_line["total"], len(one_line["items"])) == (3, 1)
    r = await desk.client.get(f"/contracts/{uuid.uuid4()}/ledger", headers=desk.agent)
    problem(r, 404)


async def test_minutes_are_drawn_and_the_owner_warned_when_low_and_used_up(desk: Desk) -> None:
    contract = await desk.active(line("Minutes", allocation="minutes", allotment=60))
    first = await desk.open()
    await desk.work(first, 30)
    await desk.work(first, 10, billable=False)
    await desk.resolve(first)
    assert [x["remaining"] for x in await desk.lines(contract)] == [30]
    await desk.reopen(first)
    assert [x["remaining"] for x in await desk.lines(contract)] == [60]
    await desk.work(first, 15)
    await desk.resolve(first)  # draws the new total: 45
    assert [x["remaining"] for x in await desk.lines(contract)] == [15]
    unbilled = await desk.open()
    await desk.resolve(unbilled)  # no billable minutes: nothing drawn

    second = await desk.open()
    await desk.work(second, 5)
    await desk.resolve(second)  # 10 left: below 20 % of 60
    [low] = await desk.published(c.ContractAllotmentLow)
    assert (low.remaining, low.threshold, low.allotment) == (10, 12, 60)
    [told_low] = await desk.told("contract.allotment_low")
    assert (told_low.recipient.kind, told_low.recipient.id) == (c.RecipientKind.AGENT, SUPERVISOR)
    assert told_low.case_id == uuid.UUID(second["case_id"])
    assert told_low.parameters["remaining"] == "10"

    third = await desk.open()
    await desk.work(third, 20)
    await desk.resolve(third)  # 10 covered, 10 over
    [exhausted] = await desk.published(c.ContractAllotmentExhausted)
    assert (exhausted.remaining, exhausted.line_id) == (
        0,
        uuid.UUID(contract["lines"][0]["line_id"]),
    )
    [told] = await desk.told("contract.allotment_exhausted")
    assert (told.recipient.kind, told.recipient.id) == (c.RecipientKind.AGENT, SUPERVISOR)
    assert told.parameters["contract_number"] == contract["number"]
    assert told.parameters["line_name"] == "Minutes"

    entries = await desk.ledger(contract)
    assert [(x["amount"], x["overage"]) for x in entries] == [
        (30, 0),
        (-30, 0),
        (45, 0),
        (5, 0),
        (10, 10),
    ]
    [shown] = await desk.lines(contract)
    assert (shown["used"], shown["remaining"]) == (60, 0)
    late = await desk.open()
    assert late["entitlement"]["reason"] == "exhausted"
    assert len([e for e in desk.events if isinstance(e, c.ContractAllotmentLow)]) == 1

    # Reopened, the case gives back what it drew and what it could not; resolved again, it
    # draws its total once more and uses the line up again.
    await desk.reopen(third)
    assert [x["remaining"] for x in await desk.lines(contract)] == [10]
    await desk.resolve(third)
    entries = await desk.ledger(contract)
    assert [(x["amount"], x["overage"]) for x in entries[5:]] == [(-10, -10), (10, 10)]
    await desk.published(c.ContractAllotmentExhausted, 2)
    await desk.told("contract.allotment_exhausted", 2)


async def test_a_line_cases_drew_on_keeps_its_ledger_and_what_it_counts(desk: Desk) -> None:
    contract = await desk.active(line(allotment=10, channels=["phone"]))
    [covering] = contract["lines"]
    path = f"/contracts/{contract['contract_id']}/lines/{covering['line_id']}"
    await desk.resolve(await desk.open())

    smaller = await desk.client.put(
        path, json=line(allotment=4, channels=["phone"]), headers=desk.supervisor
    )
    assert smaller.status_code == 200, smaller.text
    assert (smaller.json()["allotment"], smaller.json()["used"], smaller.json()["remaining"]) == (
        4,
        1,
        3,
    )
    recounted = await desk.client.put(
        path, json=line(allocation="minutes", channels=["phone"]), headers=desk.supervisor
    )
    assert "ledger entries" in problem(recounted, 409)["detail"]
    removed = await desk.client.delete(path, headers=desk.supervisor)
    problem(removed, 409)
    [shown] = await desk.lines(contract)
    assert (shown["allocation"], shown["allotment"], shown["remaining"]) == ("cases", 4, 3)
    assert [x["amount"] for x in await desk.ledger(contract)] == [1]

    # A line nothing drew on changes what it counts, and goes.
    spare = await desk.client.post(
        f"/contracts/{contract['contract_id']}/lines",
        json=line("Email", channels=["email"]),
        headers=desk.supervisor,
    )
    spare_path = f"/contracts/{contract['contract_id']}/lines/{spare.json()['line_id']}"
    minutes = line("Email", allocation="minutes", channels=["email"])
    r = await desk.client.put(spare_path, json=minutes, headers=desk.supervisor)
    assert (r.status_code, r.json()["allocation"]) == (200, "minutes")
    assert (await desk.client.delete(spare_path, headers=desk.supervisor)).status_code == 204


# -- an agent's choice of line ----------------------------------------------------------------


async def test_an_agent_puts_a_case_under_another_line_or_under_none(desk: Desk) -> None:
    contract = await desk.active(
        line("Phone", channels=["phone"]),
        line("Email minutes", allocation="minutes", allotment=100, channels=["email"]),
    )
    phone, email = contract["lines"]
    elsewhere = await desk.active(line("Other's"), account_id=str(OTHER_ACCOUNT))
    case = await desk.open()
    assert case["entitlement"]["line_id"] == phone["line_id"]
    path = f"/cases/{case['case_id']}/entitlement"

    foreign = await desk.client.put(
        path, json={"line_id": elsewhere["lines"][0]["line_id"]}, headers=desk.agent
    )
    assert ["body", "line_id"] in [e["loc"] for e in problem(foreign, 422)["errors"]]
    unknown = await desk.client.put(path, json={"line_id": str(uuid.uuid4())}, headers=desk.agent)
    problem(unknown, 422)
    no_account = await desk.open(account_id=None)
    r = await desk.client.put(
        f"/cases/{no_account['case_id']}/entitlement",
        json={"line_id": phone["line_id"]},
        headers=desk.agent,
    )
    problem(r, 422)

    chosen = await desk.client.put(path, json={"line_id": email["line_id"]}, headers=desk.agent)
    assert chosen.status_code == 200, chosen.text
    assert chosen.json()["entitlement"] == {
        "status": "entitled",
        "line_id": email["line_id"],
        "contract_id": contract["contract_id"],
        "reason": None,
        "rule": "chosen by an agent",
    }
    [changed] = await desk.published(c.CaseEntitlementChanged)
    assert (changed.entitlement_id, changed.contract_id, changed.by) == (
        uuid.UUID(email["line_id"]),
        uuid.UUID(contract["contract_id"]),
        AGENT,
    )
    await desk.work(case, 25)
    await desk.resolve(case)
    [drawn] = await desk.ledger(contract)
    assert (drawn["line_id"], drawn["amount"]) == (email["line_id"], 25)

    cleared_case = await desk.open()
    cleared = await desk.client.delete(
        f"/cases/{cleared_case['case_id']}/entitlement", headers=desk.agent
    )
    assert cleared.status_code == 200, cleared.text
    assert cleared.json()["entitlement"] == {
        "status": "none",
        "line_id": None,
        "contract_id": None,
        "reason": None,
        "rule": "cleared by an agent",
    }
    await desk.resolve(cleared_case)
    assert len(await desk.ledger(contract)) == 1
    assert [x["remaining"] for x in await desk.lines(contract)] == [10, 75]
    closed = await desk.client.put(path, json={"line_id": phone["line_id"]}, headers=desk.agent)
    problem(closed, 409)

    # A line of a contract on hold covers no case, not even one an agent chooses.
    held_case = await desk.open()
    r = await desk.client.post(
        f"/contracts/{contract['contract_id']}/hold", headers=desk.supervisor
    )
    assert r.status_code == 200, r.text
    on_hold = await desk.client.put(
        f"/cases/{held_case['case_id']}/entitlement",
        json={"line_id": email["line_id"]},
        headers=desk.agent,
    )
    assert problem(on_hold, 409)["not_entitled"] == "on_hold"


# -- a contract a decision draws up -----------------------------------------------------------


async def test_a_decision_that_creates_a_contract_draws_up_a_draft_for_the_account(
    desk: Desk,
) -> None:
    r = await desk.client.post(
        "/contract-templates",
        json={"name": "Gold", "allocation": "cases", "default_allotment": 25},
        headers=desk.supervisor,
    )
    gold = r.json()
    for code, template in (("contracted", gold["template_id"]), ("offered", None)):
        r = await desk.client.post(
            "/decisions",
            json={
                "code": code,
                "names": {"en": code},
                "outcome": "accepted",
                "creates_contract": True,
                "contract_template_id": template,
            },
            headers=desk.admin,
        )
        assert r.status_code == 201, r.text
    case = await desk.open()
    r = await desk.post(f"/cases/{case['case_id']}/decisions", {"code": "contracted"})
    assert r.status_code == 201, r.text

    [drawn_up] = (await desk.get(f"/accounts/{ACCOUNT}/contracts", status="draft"))["items"]
    assert (drawn_up["origin_case_id"], drawn_up["template_id"], drawn_up["name"]) == (
        case["case_id"],
        gold["template_id"],
        "Gold",
    )
    assert [(x["allocation"], x["allotment"]) for x in drawn_up["lines"]] == [("cases", 25)]
    assert drawn_up["owner_id"] == str(AGENT)
    [created] = await desk.published(c.ContractCreated)
    assert (created.origin_case_id, created.account_id) == (uuid.UUID(case["case_id"]), ACCOUNT)

    # Resolving with one draws one up too; without a template it is an empty draft.
    r = await desk.post(f"/cases/{case['case_id']}/resolve", {"code": "offered", "text": "Sent"})
    assert r.status_code == 200, r.text
    drafts = (await desk.get(f"/accounts/{ACCOUNT}/contracts", status="draft"))["items"]
    assert [(x["origin_case_id"], len(x["lines"])) for x in drafts] == [
        (case["case_id"], 1),
        (case["case_id"], 0),
    ]

    nobodys = await desk.open(account_id=None)
    r = await desk.post(f"/cases/{nobodys['case_id']}/decisions", {"code": "contracted"})
    problem(r, 422)
    assert (await desk.get("/contracts"))["total"] == 2


# -- the upkeep -------------------------------------------------------------------------------


async def test_the_upkeep_warns_of_the_end_once_and_expires_what_ended(desk: Desk) -> None:
    ending = await desk.active(line(), ends_on="2026-06-03")  # 30 days after today
    later = await desk.active(line(), ends_on="2026-06-04")
    draft = await desk.client.post(
        "/contracts",
        json={"account_id": str(ACCOUNT), "starts_on": "2026-01-01", "ends_on": "2026-05-10"},
        headers=desk.supervisor,
    )
    job = desk.app.fastapi.state.contract_upkeep

    def notices(contract: dict[str, Any]) -> list[Any]:
        wanted = uuid.UUID(contract["contract_id"])
        return [
            e
            for e in desk.events
            if isinstance(e, c.ContractEndingSoon) and e.contract_id == wanted
        ]

    assert await job.run_once() == 1
    [soon] = await desk.published(c.ContractEndingSoon)
    assert (soon.contract_id, soon.ends_on, soon.days_left) == (
        uuid.UUID(ending["contract_id"]),
        date(2026, 6, 3),
        30,
    )
    [told] = await desk.told("contract.ending_soon")
    assert (told.recipient.kind, told.recipient.id) == (c.RecipientKind.AGENT, SUPERVISOR)
    assert (told.parameters["ends_on"], told.parameters["days_left"]) == ("2026-06-03", "30")
    assert told.parameters["contract_number"] == ending["number"]

    # A day on, the other one's turn comes; the first is not told again.
    desk.clock.move_to(NOW + timedelta(days=1))
    assert await job.run_once() == 1
    [_, then] = await desk.published(c.ContractEndingSoon, 2)
    assert (then.contract_id, then.days_left) == (uuid.UUID(later["contract_id"]), 30)
    desk.clock.move_to(NOW + timedelta(days=2))
    assert await job.run_once() == 0
    assert [len(notices(ending)), len(notices(later))] == [1, 1]
    assert len(await desk.told("contract.ending_soon", 2)) == 2

    desk.clock.move_to(datetime(2026, 6, 4, 0, 30, tzinfo=UTC))
    assert await job.run_once() == 1
    [expired] = await desk.published(c.ContractExpired)
    assert (expired.contract_id, expired.ended_on, expired.status) == (
        uuid.UUID(ending["contract_id"]),
        date(2026, 6, 3),
        c.ContractStatus.EXPIRED,
    )
    shown = await desk.get(f"/contracts/{ending['contract_id']}")
    assert (shown["status"], shown["allowed"]) == ("expired", ["renew"])
    assert (await desk.get(f"/contracts/{later['contract_id']}"))["status"] == "active"
    assert (await desk.get(f"/contracts/{draft.json()['contract_id']}"))["status"] == "draft"
    after_the_end = await desk.open()
    assert after_the_end["entitlement"]["line_id"] == later["lines"][0]["line_id"]

    desk.clock.move_to(datetime(2026, 6, 5, 0, 30, tzinfo=UTC))
    assert await job.run_once() == 1
    await desk.published(c.ContractExpired, 2)
    assert await job.run_once() == 0
    # The expiries told no one (anything they asked for would have gone out before this).
    r = await desk.client.patch(
        f"/contracts/{draft.json()['contract_id']}", json={"name": "x"}, headers=desk.supervisor
    )
    assert r.status_code == 200, r.text
    await desk.published(c.ContractUpdated)
    assert [x.template for x in desk.notifications if x.template.startswith("contract.")] == [
        "contract.ending_soon",
        "contract.ending_soon",
    ]


# -- two resolutions at once ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overdraft", "taken", "remaining", "told_remaining"),
    [(False, [(0, 1), (1, 0)], 0, [0, 0]), (True, [(1, 0), (1, 0)], -1, [-1, 0])],
    ids=["no-overdraft", "overdraft"],
)
async def test_two_resolutions_at_the_same_moment_take_turns_on_the_line(
    desk: Desk,
    monkeypatch: pytest.MonkeyPatch,
    overdraft: bool,
    taken: list[tuple[int, int]],
    remaining: int,
    told_remaining: list[int],
) -> None:
    # Two HTTP calls, two transactions on two pooled connections.
    pool = desk.app.kit.engine.pool
    assert isinstance(pool, QueuePool) and pool.size() >= 2
    # Reading a line's ledger is made slow, so that a drawdown that did not lock the line
    # first would read the same remaining as the other one, every time (both would take the
    # last case, leaving -1); locked, the second waits and reads what the first wrote.
    read = SqlContracts.used

    async def slow_read(self: SqlContracts, line_ids: Any) -> dict[uuid.UUID, int]:
        found = await read(self, line_ids)
        await asyncio.sleep(0.05)
        return found

    monkeypatch.setattr(SqlContracts, "used", slow_read)
    # Count the resolutions drawing at once, to know the two did meet.
    drawing, most = 0, 0

    async def counted(*args: Any, **kwargs: Any) -> None:
        nonlocal drawing, most
        drawing += 1
        most = max(most, drawing)
        try:
            await draw_for_resolution(*args, **kwargs)
        finally:
            drawing -= 1

    monkeypatch.setattr(work, "draw_for_resolution", counted)

    for round_ in range(3):
        account = str(uuid.UUID(int=1000 + round_))
        contract = await desk.active(
            line(allotment=1, allow_overdraft=overdraft), account_id=account
        )
        cases = [await desk.open(account_id=account) for _ in range(2)]
        assert {x["entitlement"]["line_id"] for x in cases} == {contract["lines"][0]["line_id"]}
        await asyncio.gather(*(desk.resolve(x) for x in cases))

        entries = await desk.ledger(contract)
        assert sorted((x["amount"], x["overage"]) for x in entries) == taken, round_
        assert {x["case_id"] for x in entries} == {x["case_id"] for x in cases}
        [shown] = await desk.lines(contract)
        assert (shown["used"], shown["remaining"]) == (1 - remaining, remaining), round_
        drawn = await desk.published(
            c.ContractLineDrawnDown, 2, contract_id=contract["contract_id"]
        )
        assert sorted(e.remaining for e in drawn) == told_remaining, round_
    assert most == 2


async def test_a_line_recounted_while_a_case_draws_on_it_never_mixes_cases_and_minutes(
    desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    contract = await desk.active(line(allotment=10))
    [covering] = contract["lines"]
    case = await desk.open()
    await desk.work(case, 25)
    # The check that the line has no ledger entries is made slow, so that the resolution
    # lands between it and the change, unless the change holds the line meanwhile.
    checked = SqlContracts.drawn_on

    async def slow_check(self: SqlContracts, line_id: uuid.UUID) -> bool:
        found = await checked(self, line_id)
        await asyncio.sleep(0.3)
        return found

    monkeypatch.setattr(SqlContracts, "drawn_on", slow_check)

    async def recount() -> httpx.Response:
        return await desk.client.put(
            f"/contracts/{contract['contract_id']}/lines/{covering['line_id']}",
            json=line(allocation="minutes", allotment=100),
            headers=desk.supervisor,
        )

    async def resolve_meanwhile() -> dict[str, Any]:
        await asyncio.sleep(0.1)
        return await desk.resolve(case)

    recounted, _ = await asyncio.gather(recount(), resolve_meanwhile())

    [shown] = await desk.lines(contract)
    [drawn] = await desk.ledger(contract)
    if recounted.status_code == 200:
        # The change went first: the case draws its minutes.
        assert (shown["allocation"], drawn["amount"], shown["remaining"]) == ("minutes", 25, 75)
    else:
        # The resolution went first: the line keeps counting cases.
        problem(recounted, 409)
        assert (shown["allocation"], drawn["amount"], shown["remaining"]) == ("cases", 1, 9)
