"""Contract templates, contracts, their lines and lives over HTTP, with a real PostgreSQL;
what is published on ``cases.contract.v1`` is captured in memory.

How cases draw on the lines is in ``test_contract_entitlements_service.py``.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from faststream.kafka import TestKafkaBroker
from faststream.kafka.annotations import KafkaMessage

import caseflow_contracts as c
from caseflow_contracts import topics
from caseflow_servicekit import ServiceApp, ServiceSettings
from caseflow_servicekit.auth import agent_id_of
from caseflow_servicekit.testing import bearer, eventually, running
from cases.bootstrap import MIGRATIONS, build

pytestmark = pytest.mark.service

NOW = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)
SUPERVISOR = agent_id_of("sam")
ACCOUNT = uuid.UUID(int=8)
OTHER_ACCOUNT = uuid.UUID(int=80)
SLA_POLICY = uuid.UUID(int=501)
CALENDAR = uuid.UUID(int=502)


class TickingClock:
    """A second passes with every reading, so what was done first sorts first."""

    def __init__(self) -> None:
        self.ticks = 0

    def now(self) -> datetime:
        self.ticks += 1
        return NOW + timedelta(seconds=self.ticks)


class Desk:
    """The service, an agent's and a supervisor's headers, and what the service published."""

    def __init__(self, app: ServiceApp, client: httpx.AsyncClient) -> None:
        self.app, self.client = app, client
        self.events: list[c.Event] = []
        self.agent = bearer(app, "agent", subject="ada")
        self.supervisor = bearer(app, "supervisor", subject="sam")

    def of_type(self, kind: type[c.Event]) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]

    async def published(self, kind: type[c.Event], n: int = 1) -> list[Any]:
        async def probe() -> list[Any] | None:
            found = self.of_type(kind)
            return found if len(found) >= n else None

        return await eventually(probe)

    async def get(self, path: str, **params: Any) -> httpx.Response:
        return await self.client.get(path, params=params, headers=self.agent)

    async def send(
        self, method: str, path: str, body: Any = None, **headers: str
    ) -> httpx.Response:
        """A supervisor's request."""
        return await self.client.request(
            method, path, json=body, headers={**self.supervisor, **headers}
        )

    async def template(self, **overrides: Any) -> dict[str, Any]:
        body = {"name": "Gold", "allocation": "cases", "default_allotment": 50, **overrides}
        r = await self.send("POST", "/contract-templates", body)
        assert r.status_code == 201, r.text
        created: dict[str, Any] = r.json()
        return created

    async def contract(self, *lines: dict[str, Any], **overrides: Any) -> dict[str, Any]:
        body = {
            "account_id": str(ACCOUNT),
            "name": "Support 2026",
            "starts_on": "2026-01-01",
            "ends_on": "2026-12-31",
            "lines": list(lines),
            **overrides,
        }
        r = await self.send("POST", "/contracts", body)
        assert r.status_code == 201, r.text
        created: dict[str, Any] = r.json()
        return created

    async def step(self, contract: dict[str, Any], step: str, body: Any = None) -> dict[str, Any]:
        r = await self.send("POST", f"/contracts/{contract['contract_id']}/{step}", body)
        assert r.status_code in (200, 201), r.text
        moved: dict[str, Any] = r.json()
        return moved


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
    app = build(settings, clock=TickingClock(), configure_process=False)
    holder: list[Desk] = []

    @app.kit.kafka.subscriber(topics.CONTRACTS, group_id="probe-contracts")
    async def on_contract(message: KafkaMessage) -> None:
        holder[0].events.append(c.decode(message.headers["ce_type"], message.body))

    async with TestKafkaBroker(app.kit.kafka), running(app, migrations=MIGRATIONS) as client:
        holder.append(Desk(app, client))
        yield holder[0]


# -- templates --------------------------------------------------------------------------------


async def test_a_template_is_added_listed_read_and_replaced(desk: Desk) -> None:
    r = await desk.send(
        "POST",
        "/contract-templates",
        {
            "name": "Gold",
            "allocation": "minutes",
            "default_allotment": 600,
            "default_duration_days": 90,
            "channels": ["phone", "email"],
            "request_types": ["repair"],
            "sla_policy_id": str(SLA_POLICY),
        },
    )
    assert r.status_code == 201, r.text
    gold = r.json()
    assert r.headers["Location"] == f"/contract-templates/{gold['template_id']}"
    assert (gold["channels"], gold["warn_below_percent"], gold["version"]) == (
        ["email", "phone"],
        20,
        1,
    )
    await desk.template(name="Bronze")

    listed = await desk.get("/contract-templates")
    assert [t["name"] for t in listed.json()] == ["Bronze", "Gold"]
    shown = await desk.get(f"/contract-templates/{gold['template_id']}")
    assert shown.json() == gold

    replaced = await desk.send(
        "PUT",
        f"/contract-templates/{gold['template_id']}",
        {"name": "Gold 2", "allocation": "cases", "default_allotment": 12, "active": False},
    )
    assert replaced.status_code == 200, replaced.text
    assert (replaced.json()["name"], replaced.json()["version"]) == ("Gold 2", 2)
    assert replaced.json()["channels"] == []
    assert [t["name"] for t in (await desk.get("/contract-templates")).json()] == ["Bronze"]
    everything = await desk.get("/contract-templates", include_inactive="true")
    assert [t["name"] for t in everything.json()] == ["Bronze", "Gold 2"]


async def test_a_template_name_is_taken_once(desk: Desk) -> None:
    await desk.template(name="Gold")
    silver = await desk.template(name="Silver")
    taken = await desk.send(
        "POST",
        "/contract-templates",
        {"name": "Gold", "allocation": "cases", "default_allotment": 1},
    )
    assert "Gold" in problem(taken, 409)["detail"]
    renamed = await desk.send(
        "PUT",
        f"/contract-templates/{silver['template_id']}",
        {"name": "Gold", "allocation": "cases", "default_allotment": 1},
    )
    problem(renamed, 409)


@pytest.mark.parametrize(
    "change",
    [
        {"default_allotment": -1},
        {"channels": ["fax"]},
        {"warn_below_percent": 101},
        {"default_duration_days": 0},
        {"name": " "},
        {"allocation": "hours"},
        {"request_types": ["Not A Code"]},
    ],
)
async def test_a_template_with_bad_input_is_422(desk: Desk, change: dict[str, Any]) -> None:
    body = {"name": "Gold", "allocation": "cases", "default_allotment": 5, **change}
    problem(await desk.send("POST", "/contract-templates", body), 422)
    gold = await desk.template()
    problem(await desk.send("PUT", f"/contract-templates/{gold['template_id']}", body), 422)


async def test_templates_are_written_by_supervisors_and_unknown_ones_are_404(desk: Desk) -> None:
    body = {"name": "Gold", "allocation": "cases", "default_allotment": 5}
    r = await desk.client.post("/contract-templates", json=body, headers=desk.agent)
    problem(r, 403)
    gold = await desk.template()
    r = await desk.client.put(
        f"/contract-templates/{gold['template_id']}", json=body, headers=desk.agent
    )
    problem(r, 403)
    problem(await desk.client.get("/contract-templates"), 401)
    assert (await desk.get("/contract-templates")).status_code == 200
    unknown = uuid.uuid4()
    problem(await desk.get(f"/contract-templates/{unknown}"), 404)
    problem(await desk.send("PUT", f"/contract-templates/{unknown}", body), 404)


# -- drawing contracts up ---------------------------------------------------------------------


async def test_a_contract_is_drawn_up_from_scratch_with_its_lines(desk: Desk) -> None:
    r = await desk.send(
        "POST",
        "/contracts",
        {
            "account_id": str(ACCOUNT),
            "name": "Support 2026",
            "starts_on": "2026-01-01",
            "ends_on": "2026-12-31",
            "sla_policy_id": str(SLA_POLICY),
            "lines": [
                line("Phone cases", allotment=20, channels=["phone", "email"]),
                line(
                    "Web minutes",
                    allocation="minutes",
                    allotment=600,
                    channels=["web"],
                    starts_on="2026-03-01",
                    ends_on="2026-06-30",
                    allow_overdraft=True,
                    warn_below_percent=10,
                ),
            ],
        },
    )
    assert r.status_code == 201, r.text
    contract = r.json()
    assert r.headers["Location"] == f"/contracts/{contract['contract_id']}"
    assert r.headers["ETag"] == '"1"'
    assert (contract["number"], contract["status"], contract["allowed"]) == (
        "CON-2026-000001",
        "draft",
        ["activate", "cancel"],
    )
    assert (contract["owner_id"], contract["sla_policy_id"], contract["template_id"]) == (
        str(SUPERVISOR),
        str(SLA_POLICY),
        None,
    )
    phone, web = contract["lines"]
    assert (phone["number"], phone["allotment"], phone["used"], phone["remaining"]) == (
        1,
        20,
        0,
        20,
    )
    assert (phone["starts_on"], phone["ends_on"], phone["channels"]) == (
        "2026-01-01",
        "2026-12-31",
        ["email", "phone"],
    )
    assert (web["number"], web["allocation"], web["starts_on"], web["allow_overdraft"]) == (
        2,
        "minutes",
        "2026-03-01",
        True,
    )

    [created] = await desk.published(c.ContractCreated)
    assert (created.contract_id, created.number, created.status, created.version) == (
        uuid.UUID(contract["contract_id"]),
        "CON-2026-000001",
        c.ContractStatus.DRAFT,
        1,
    )
    assert [(x.number, x.name, x.allotment) for x in created.lines] == [
        (1, "Phone cases", 20),
        (2, "Web minutes", 600),
    ]
    assert created.lines[0].channels == [c.Channel.EMAIL, c.Channel.PHONE]
    assert created.owner_id == SUPERVISOR

    defaulted = await desk.contract(starts_on=None, ends_on=None, name=None)
    assert (defaulted["starts_on"], defaulted["ends_on"]) == ("2026-05-04", "2027-05-03")
    assert defaulted["name"] == f"Contract {defaulted['number']}"


async def test_a_contract_drawn_up_from_a_template_takes_its_terms(desk: Desk) -> None:
    gold = await desk.template(
        name="Gold",
        allocation="minutes",
        default_allotment=300,
        default_duration_days=90,
        channels=["phone"],
        request_types=["repair"],
        sla_policy_id=str(SLA_POLICY),
        calendar_id=str(CALENDAR),
        allow_overdraft=True,
        warn_below_percent=25,
    )
    contract = await desk.contract(
        template_id=gold["template_id"], name=None, starts_on="2026-05-01", ends_on=None
    )
    assert (contract["name"], contract["template_id"]) == ("Gold", gold["template_id"])
    assert (contract["starts_on"], contract["ends_on"]) == ("2026-05-01", "2026-07-29")
    assert (contract["sla_policy_id"], contract["calendar_id"]) == (str(SLA_POLICY), str(CALENDAR))
    [only] = contract["lines"]
    assert {k: only[k] for k in only if k != "line_id"} == {
        "number": 1,
        "name": "Gold",
        "allocation": "minutes",
        "allotment": 300,
        "used": 0,
        "remaining": 300,
        "starts_on": "2026-05-01",
        "ends_on": "2026-07-29",
        "channels": ["phone"],
        "request_types": ["repair"],
        "allow_overdraft": True,
        "warn_below_percent": 25,
    }
    # Lines given replace the template's; what the caller names wins over the template.
    own = await desk.contract(
        line("Own"), template_id=gold["template_id"], sla_policy_id=str(uuid.UUID(int=1))
    )
    assert [x["name"] for x in own["lines"]] == ["Own"]
    assert own["sla_policy_id"] == str(uuid.UUID(int=1))

    unknown = await desk.send(
        "POST", "/contracts", {"account_id": str(ACCOUNT), "template_id": str(uuid.uuid4())}
    )
    assert ["body", "template_id"] in [e["loc"] for e in problem(unknown, 422)["errors"]]
    await desk.send(
        "PUT",
        f"/contract-templates/{gold['template_id']}",
        {"name": "Gold", "allocation": "cases", "default_allotment": 1, "active": False},
    )
    retired = await desk.send(
        "POST", "/contracts", {"account_id": str(ACCOUNT), "template_id": gold["template_id"]}
    )
    problem(retired, 422)


async def test_contracts_of_an_account_are_drawn_up_listed_and_filtered(desk: Desk) -> None:
    r = await desk.send(
        "POST",
        f"/accounts/{OTHER_ACCOUNT}/contracts",
        {"name": "Other", "lines": [line()]},
    )
    assert r.status_code == 201, r.text
    other = r.json()
    assert (other["account_id"], r.headers["Location"]) == (
        str(OTHER_ACCOUNT),
        f"/contracts/{other['contract_id']}",
    )
    first = await desk.contract(line())
    second = await desk.contract(line(), name="Second")
    await desk.step(second, "activate")

    everything = (await desk.get("/contracts")).json()
    assert everything["total"] == 3
    assert [x["number"] for x in everything["items"]] == sorted(
        [first["number"], second["number"], other["number"]]
    )
    mine = (await desk.get("/contracts", account_id=str(ACCOUNT))).json()
    assert {x["contract_id"] for x in mine["items"]} == {
        first["contract_id"],
        second["contract_id"],
    }
    active = (await desk.get("/contracts", account_id=str(ACCOUNT), status="active")).json()
    assert [x["name"] for x in active["items"]] == ["Second"]
    drafts = (await desk.get(f"/accounts/{ACCOUNT}/contracts", status="draft")).json()
    assert [x["contract_id"] for x in drafts["items"]] == [first["contract_id"]]
    assert drafts["total"] == 1
    paged = (await desk.get("/contracts", limit=1, offset=1)).json()
    assert (paged["total"], len(paged["items"]), paged["offset"]) == (3, 1, 1)
    problem(await desk.get("/contracts", status="dormant"), 422)

    shown = await desk.get(f"/contracts/{first['contract_id']}")
    assert shown.headers["ETag"] == '"1"'
    assert shown.json()["lines"][0]["remaining"] == 10
    problem(await desk.get(f"/contracts/{uuid.uuid4()}"), 404)
    drawn_by_agent = await desk.client.post(
        "/contracts", json={"account_id": str(ACCOUNT)}, headers=desk.agent
    )
    problem(drawn_by_agent, 403)


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ({"lines": [line(allotment=-1)]}, 422),
        ({"lines": [line(channels=["fax"])]}, 422),
        ({"lines": [line(warn_below_percent=120)]}, 422),
        ({"lines": [line(starts_on="2025-12-31")]}, 422),
        ({"lines": [line("A"), line("B", channels=["phone"])]}, 409),
        ({"starts_on": "2026-12-31", "ends_on": "2026-01-01"}, 422),
        ({"ends_on": "2040-01-01"}, 422),
        ({"account_id": "nobody"}, 422),
    ],
)
async def test_a_contract_with_bad_input_is_refused(
    desk: Desk, change: dict[str, Any], status: int
) -> None:
    body = {"account_id": str(ACCOUNT), "starts_on": "2026-01-01", "ends_on": "2026-12-31"}
    problem(await desk.send("POST", "/contracts", {**body, **change}), status)
    assert (await desk.get("/contracts")).json()["total"] == 0


# -- changing a contract and its lines --------------------------------------------------------


async def test_a_contract_is_changed_with_its_version_checked(desk: Desk) -> None:
    contract = await desk.contract(line(ends_on="2026-06-30"))
    path = f"/contracts/{contract['contract_id']}"
    changed = await desk.send(
        "PATCH", path, {"name": "Renamed", "ends_on": "2026-09-30"}, **{"If-Match": '"1"'}
    )
    assert changed.status_code == 200, changed.text
    assert changed.headers["ETag"] == '"2"'
    assert (changed.json()["name"], changed.json()["ends_on"]) == ("Renamed", "2026-09-30")
    stale = await desk.send("PATCH", path, {"name": "Stale"}, **{"If-Match": '"1"'})
    assert problem(stale, 412)["current_version"] == 2
    problem(await desk.send("PATCH", path, {"name": "x"}, **{"If-Match": "W/2"}), 412)
    # If-Match is welcome, not required.
    unconditional = await desk.send("PATCH", path, {"owner_id": str(uuid.UUID(int=3))})
    assert unconditional.status_code == 200, unconditional.text
    assert unconditional.json()["version"] == 3

    [first, second] = await desk.published(c.ContractUpdated, 2)
    assert (first.name, first.ends_on, first.version) == ("Renamed", date(2026, 9, 30), 2)
    assert second.owner_id == uuid.UUID(int=3)

    cut = await desk.send("PATCH", path, {"ends_on": "2026-05-31"})
    assert problem(cut, 422)["lines"] == [1]
    await desk.step(contract, "activate")
    moved = await desk.send("PATCH", path, {"starts_on": "2026-02-01"})
    problem(moved, 409)
    problem(await desk.send("PATCH", f"/contracts/{uuid.uuid4()}", {"name": "x"}), 404)
    by_agent = await desk.client.patch(path, json={"name": "x"}, headers=desk.agent)
    problem(by_agent, 403)


async def test_lines_are_added_replaced_and_removed(desk: Desk) -> None:
    contract = await desk.contract(line("Phone", channels=["phone"]))
    base = f"/contracts/{contract['contract_id']}/lines"
    added = await desk.send(
        "POST",
        base,
        line("Email", allocation="minutes", allotment=120, channels=["email"]),
        **{"If-Match": '"1"'},
    )
    assert added.status_code == 201, added.text
    email = added.json()
    assert (email["number"], email["remaining"], email["ends_on"]) == (2, 120, "2026-12-31")

    replaced = await desk.send(
        "PUT",
        f"{base}/{email['line_id']}",
        line("Email and web", allocation="minutes", allotment=90, channels=["email", "web"]),
    )
    assert replaced.status_code == 200, replaced.text
    assert (replaced.json()["number"], replaced.json()["name"], replaced.json()["remaining"]) == (
        2,
        "Email and web",
        90,
    )
    shown = (await desk.get(f"/contracts/{contract['contract_id']}")).json()
    assert [(x["number"], x["allotment"]) for x in shown["lines"]] == [(1, 10), (2, 90)]
    assert shown["version"] == 3

    phone = shown["lines"][0]
    removed = await desk.send("DELETE", f"{base}/{phone['line_id']}")
    assert removed.status_code == 204, removed.text
    shown = (await desk.get(f"/contracts/{contract['contract_id']}")).json()
    assert [x["name"] for x in shown["lines"]] == ["Email and web"]
    third = await desk.send("POST", base, line("Phone again", channels=["phone"]))
    assert third.json()["number"] == 3

    updates = await desk.published(c.ContractUpdated, 4)
    assert [[x.number for x in u.lines] for u in updates] == [[1, 2], [1, 2], [2], [2, 3]]
    problem(await desk.send("DELETE", f"{base}/{phone['line_id']}"), 404)
    problem(await desk.send("PUT", f"{base}/{uuid.uuid4()}", line()), 404)
    problem(await desk.send("POST", f"/contracts/{uuid.uuid4()}/lines", line()), 404)
    problem(await desk.send("POST", base, line(), **{"If-Match": '"1"'}), 412)


async def test_a_line_that_does_not_fit_is_refused(desk: Desk) -> None:
    contract = await desk.contract(
        line("Phone", channels=["phone"]),
        line("Repairs by email", channels=["email"], request_types=["repair"]),
    )
    base = f"/contracts/{contract['contract_id']}/lines"

    clash = problem(await desk.send("POST", base, line("Everything")), 409)
    assert clash["overlaps_line"] == 1
    assert "overlaps line 1 ('Phone')" in clash["detail"]
    clash = problem(await desk.send("POST", base, line("Email", channels=["email", "letter"])), 409)
    assert clash["overlaps_line"] == 2
    apart = await desk.send(
        "POST", base, line("Other email", channels=["email"], request_types=["advice"])
    )
    assert apart.status_code == 201, apart.text

    outside = problem(await desk.send("POST", base, line("Late", ends_on="2027-01-31")), 422)
    assert (outside["contract_starts_on"], outside["contract_ends_on"]) == (
        "2026-01-01",
        "2026-12-31",
    )
    problem(await desk.send("POST", base, line("Minus", allotment=-1)), 422)
    problem(
        await desk.send("POST", base, line("Back", starts_on="2026-05-01", ends_on="2026-04-01")),
        422,
    )
    phone = contract["lines"][0]
    widened = await desk.send("PUT", f"{base}/{phone['line_id']}", line("Phone", channels=[]))
    assert problem(widened, 409)["overlaps_line"] == 2
    problem(await desk.send("PUT", f"{base}/{phone['line_id']}", line(allotment=-5)), 422)
    shown = (await desk.get(f"/contracts/{contract['contract_id']}")).json()
    assert [x["name"] for x in shown["lines"]] == ["Phone", "Repairs by email", "Other email"]


# -- a contract's life ------------------------------------------------------------------------


async def test_a_contract_is_activated_held_resumed_and_cancelled(desk: Desk) -> None:
    empty = await desk.contract()
    refused = await desk.send("POST", f"/contracts/{empty['contract_id']}/activate")
    assert "no lines" in problem(refused, 409)["detail"]
    problem(await desk.send("POST", f"/contracts/{empty['contract_id']}/hold"), 409)

    contract = await desk.contract(line())
    path = f"/contracts/{contract['contract_id']}"
    problem(await desk.send("POST", f"{path}/activate", **{"If-Match": '"2"'}), 412)
    active = await desk.step(contract, "activate")
    assert (active["status"], active["allowed"]) == ("active", ["hold", "cancel", "renew"])
    held = await desk.step(contract, "hold", {"reason": "Unpaid invoice"})
    assert (held["status"], held["hold_reason"], held["allowed"]) == (
        "on_hold",
        "Unpaid invoice",
        ["resume", "cancel", "renew"],
    )
    resumed = await desk.step(contract, "resume")
    assert (resumed["status"], resumed["hold_reason"]) == ("active", None)
    problem(await desk.send("POST", f"{path}/cancel", {}), 422)
    problem(await desk.send("POST", f"{path}/cancel", {"reason": "  "}), 422)
    cancelled = await desk.step(contract, "cancel", {"reason": "Customer left"})
    assert (cancelled["status"], cancelled["cancel_reason"], cancelled["allowed"]) == (
        "cancelled",
        "Customer left",
        [],
    )
    assert cancelled["version"] == 5
    for step in ("activate", "hold", "resume", "renew"):
        problem(await desk.send("POST", f"{path}/{step}"), 409)
    changed = problem(await desk.send("PATCH", path, {"name": "Late"}), 409)
    assert changed["contract_status"] == "cancelled"
    problem(await desk.send("POST", f"{path}/lines", line("More", channels=["web"])), 409)
    by_agent = await desk.client.post(f"{path}/hold", headers=desk.agent)
    problem(by_agent, 403)
    problem(await desk.send("POST", f"/contracts/{uuid.uuid4()}/activate"), 404)

    [activated] = await desk.published(c.ContractActivated)
    assert (activated.by, activated.status) == (SUPERVISOR, c.ContractStatus.ACTIVE)
    [hold] = await desk.published(c.ContractHeld)
    assert (hold.reason, hold.status) == ("Unpaid invoice", c.ContractStatus.ON_HOLD)
    [resume] = await desk.published(c.ContractResumed)
    assert resume.by == SUPERVISOR
    [cancel] = await desk.published(c.ContractCancelled)
    assert (cancel.reason, cancel.status, cancel.by) == (
        "Customer left",
        c.ContractStatus.CANCELLED,
        SUPERVISOR,
    )
    assert {e.contract_id for e in (activated, hold, resume, cancel)} == {
        uuid.UUID(contract["contract_id"])
    }


async def test_a_draft_is_dropped_by_cancelling_it(desk: Desk) -> None:
    contract = await desk.contract(line())
    dropped = await desk.step(contract, "cancel", {"reason": "Drawn up by mistake"})
    assert dropped["status"] == "cancelled"
    [cancel] = await desk.published(c.ContractCancelled)
    assert cancel.reason == "Drawn up by mistake"


async def test_a_contract_is_renewed_once_into_a_draft_for_the_next_period(desk: Desk) -> None:
    contract = await desk.contract(
        line("Phone", allotment=10, channels=["phone"]),
        line("Q1 email", allotment=5, channels=["email"], ends_on="2026-03-31"),
        sla_policy_id=str(SLA_POLICY),
    )
    path = f"/contracts/{contract['contract_id']}"
    problem(await desk.send("POST", f"{path}/renew"), 409)  # a draft is not renewed
    await desk.step(contract, "activate")

    r = await desk.send("POST", f"{path}/renew")
    assert r.status_code == 201, r.text
    renewal = r.json()
    assert r.headers["Location"] == f"/contracts/{renewal['contract_id']}"
    assert (renewal["status"], renewal["renewed_from"]) == ("draft", contract["contract_id"])
    assert renewal["number"].startswith("CON-2026-") and renewal["number"] > contract["number"]
    assert (renewal["starts_on"], renewal["ends_on"], renewal["sla_policy_id"]) == (
        "2027-01-01",
        "2027-12-31",
        str(SLA_POLICY),
    )
    assert [
        (x["name"], x["starts_on"], x["ends_on"], x["remaining"]) for x in renewal["lines"]
    ] == [
        ("Phone", "2027-01-01", "2027-12-31", 10),
        ("Q1 email", "2027-01-01", "2027-03-31", 5),
    ]
    assert {x["line_id"] for x in renewal["lines"]}.isdisjoint(
        x["line_id"] for x in contract["lines"]
    )
    renewed = (await desk.get(path)).json()
    assert (renewed["renewed_to"], renewed["status"]) == (renewal["contract_id"], "active")
    assert renewed["allowed"] == ["hold", "cancel"]
    again = problem(await desk.send("POST", f"{path}/renew"), 409)
    assert renewal["contract_id"] in again["detail"]

    [told] = await desk.published(c.ContractRenewed)
    assert (told.contract_id, told.renewal_id, told.renewal_number) == (
        uuid.UUID(contract["contract_id"]),
        uuid.UUID(renewal["contract_id"]),
        renewal["number"],
    )
    created = await desk.published(c.ContractCreated, 2)
    assert created[1].renewed_from == uuid.UUID(contract["contract_id"])
    assert [x.allotment for x in created[1].lines] == [10, 5]


async def test_a_renewal_asked_active_covers_from_its_first_day(desk: Desk) -> None:
    contract = await desk.contract(line(), starts_on="2026-01-01", ends_on="2026-06-30")
    await desk.step(contract, "activate")
    await desk.step(contract, "hold", {"reason": "Audit"})
    early = await desk.send(
        "POST", f"/contracts/{contract['contract_id']}/renew", {"starts_on": "2026-01-01"}
    )
    problem(early, 422)
    renewal = await desk.step(contract, "renew", {"activate": True, "starts_on": "2026-07-15"})
    assert (renewal["status"], renewal["starts_on"], renewal["ends_on"]) == (
        "active",
        "2026-07-15",
        "2027-01-11",
    )
    activations = await desk.published(c.ContractActivated, 2)
    assert activations[1].contract_id == uuid.UUID(renewal["contract_id"])
    [renewed] = await desk.published(c.ContractRenewed)
    assert (renewed.contract_id, renewed.status) == (
        uuid.UUID(contract["contract_id"]),
        c.ContractStatus.ON_HOLD,
    )
    listed = (await desk.get(f"/accounts/{ACCOUNT}/contracts", status="active")).json()
    assert [x["contract_id"] for x in listed["items"]] == [renewal["contract_id"]]
