"""Policy administration of the SLA service, through its HTTP API and its Kafka subscribers,
with a real PostgreSQL and TestKafkaBroker."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from faststream.kafka import KafkaBroker, TestKafkaBroker
from faststream.kafka.annotations import KafkaMessage

import caseflow_contracts as c
from caseflow_contracts import topics
from caseflow_servicekit import PeriodicJob, ServiceApp
from caseflow_servicekit.testing import bearer, eventually, publish_event, running
from sla.bootstrap import MIGRATIONS, build
from sla.domain import Calendar, add_working_time
from sla.settings import SlaSettings

pytestmark = pytest.mark.service

CALENDAR_24X7 = "1c2d0001-5a1a-4c00-8000-000000000001"
DEFAULT_POLICY = "1c2d0002-5a1a-4c00-8000-000000000001"
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday")
OFFICE_WEEK = {day: ["09:00-17:00"] for day in WEEKDAYS}
OFFICE_HOURS = Calendar.business_hours("UTC")  # 09:00-17:00, Monday to Friday, in UTC
FRIDAY_4PM = datetime(2026, 3, 6, 16, 0, tzinfo=UTC)
"""An hour before the office closes for the weekend: office and 24x7 deadlines differ."""
NOW = datetime(2026, 3, 6, 17, 30, tzinfo=UTC)
PROBLEM_JSON = "application/problem+json"

GOLD_FIRST_RESPONSE = 2 * 3600
GOLD_RESOLUTION = 16 * 3600
REST_FIRST_RESPONSE = 4 * 3600
REST_RESOLUTION = 3 * 24 * 3600


class MovableClock:
    def __init__(self, now: datetime) -> None:
        self.moment = now

    def now(self) -> datetime:
        return self.moment


class Service:
    def __init__(
        self,
        app: ServiceApp,
        client: httpx.AsyncClient,
        broker: KafkaBroker,
        clock: MovableClock,
        published: list[c.Event],
    ) -> None:
        self.app, self.client, self.broker = app, client, broker
        self.clock, self.published = clock, published
        self.admin = bearer(app, "admin")
        self.agent = bearer(app, "agent")

    async def case_event(self, event: c.Event) -> None:
        await publish_event(self.broker, event, topic=topics.CASES)

    async def account_event(self, event: c.Event) -> None:
        await publish_event(self.broker, event, topic=topics.INTAKE_CUSTOMERS)

    async def tick(self, at: datetime) -> int:
        self.clock.moment = at
        timer: PeriodicJob = self.app.fastapi.state.kpi_timer
        return await timer.run_once()

    async def kpis(self, case_id: uuid.UUID) -> dict[str, dict[str, Any]]:
        r = await self.client.get(f"/cases/{case_id}/kpis", headers=self.agent)
        assert r.status_code == 200, r.text
        return {kpi["kpi"]: kpi for kpi in r.json()}

    async def started(self, case_id: uuid.UUID, n: int = 2) -> list[c.KpiStarted]:
        """The KpiStarted events of a case, once there are `n`."""

        async def probe() -> list[c.KpiStarted] | None:
            found = [
                e for e in self.published if isinstance(e, c.KpiStarted) and e.case_id == case_id
            ]
            return found if len(found) >= n else None

        return await eventually(probe)

    async def policies(self) -> list[dict[str, Any]]:
        r = await self.client.get("/policies", headers=self.agent)
        assert r.status_code == 200, r.text
        return r.json()

    async def policy(self, policy_id: str) -> dict[str, Any]:
        r = await self.client.get(f"/policies/{policy_id}", headers=self.agent)
        assert r.status_code == 200, r.text
        return r.json()

    async def calendars(self) -> list[dict[str, Any]]:
        r = await self.client.get("/calendars", headers=self.agent)
        assert r.status_code == 200, r.text
        return r.json()

    async def add_calendar(self, name: str = "Office hours", **fields: Any) -> str:
        body = {"name": name, "time_zone": "UTC", "week": OFFICE_WEEK, **fields}
        r = await self.client.post("/calendars", json=body, headers=self.admin)
        assert r.status_code == 201, r.text
        return str(r.json()["calendar_id"])

    async def add_policy(self, body: dict[str, Any]) -> dict[str, Any]:
        r = await self.client.post("/policies", json=body, headers=self.admin)
        assert r.status_code == 201, r.text
        return r.json()


@pytest.fixture
async def service(fresh_database: str) -> AsyncIterator[Service]:
    settings = SlaSettings(database_url=fresh_database, kafka_bootstrap_servers="test:9092")
    clock = MovableClock(NOW)
    app = build(settings, clock=clock, configure_process=False)
    published: list[c.Event] = []

    @app.kit.kafka.subscriber(topics.SLA, group_id="probe")
    async def probe(message: KafkaMessage) -> None:
        published.append(c.decode(message.headers["ce_type"], message.body))

    async with (
        TestKafkaBroker(app.kit.kafka) as broker,
        running(app, migrations=MIGRATIONS) as client,
    ):
        yield Service(app, client, broker, clock, published)


def opened(
    case_id: uuid.UUID,
    *,
    at: datetime = FRIDAY_4PM,
    priority: c.Priority = c.Priority.NORMAL,
    account_id: uuid.UUID | None = None,
    contract_id: uuid.UUID | None = None,
) -> c.CaseOpened:
    """A case opened at `at`, of `account_id`, covered by no contract's policy."""
    event = c.sample("case.opened").model_copy(
        update={
            "case_id": case_id,
            "occurred_at": at,
            "status": c.CaseStatus.NEW,
            "priority": priority,
            "account_id": account_id,
            "contract_id": contract_id,
            "entitlement_id": None,
            "entitlement_rule": None,
            "sla_policy_id": None,
            "calendar_id": None,
        }
    )
    assert isinstance(event, c.CaseOpened)
    return event


def account(
    account_id: uuid.UUID,
    *,
    tier: str | None,
    region: str | None = None,
    version: int = 1,
    kind: str = "account.registered",
) -> c.Event:
    return c.sample(kind).model_copy(
        update={"account_id": account_id, "tier": tier, "region": region, "version": version}
    )


def kpi(name: str, target: int, **warning: Any) -> dict[str, Any]:
    return {"name": name, "target_seconds": target, **warning}


def tiered_policy(office_id: str, *, name: str = "Tiered") -> dict[str, Any]:
    """Gold urgent cases on office hours with tight targets; every other case on 24x7."""
    return {
        "name": name,
        "calendar_id": CALENDAR_24X7,
        "items": [
            {
                "name": "gold urgent",
                "applies_to": {"tiers": ["gold"], "priorities": ["urgent"]},
                "calendar_id": office_id,
                "kpis": [
                    kpi("first_response", GOLD_FIRST_RESPONSE, warn_before_seconds=1800),
                    kpi("resolution", GOLD_RESOLUTION, warn_at_share=0.75),
                ],
            },
            {
                "name": "everyone else",
                "kpis": [
                    kpi("first_response", REST_FIRST_RESPONSE),
                    kpi("resolution", REST_RESOLUTION),
                ],
            },
        ],
    }


def targets(kpis: dict[str, dict[str, Any]]) -> dict[str, int]:
    return {name: view["target_seconds"] for name, view in kpis.items()}


def policy_ids(kpis: dict[str, dict[str, Any]]) -> set[str]:
    return {view["policy_id"] for view in kpis.values()}


def moment(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def assert_problem(r: httpx.Response, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == PROBLEM_JSON
    body = r.json()
    assert body["status"] == status
    return body


# --- Writing and reading policies ---------------------------------------------------------


async def test_an_admin_adds_a_policy_with_items_and_reads_it_back(service: Service) -> None:
    office = await service.add_calendar()

    created = await service.add_policy(tiered_policy(office))

    policy_id = created["policy_id"]
    assert (created["name"], created["calendar_id"], created["is_default"]) == (
        "Tiered",
        CALENDAR_24X7,
        False,
    )
    assert created["retired"] is False
    assert created["kpis"] == []
    gold, rest = created["items"]
    assert (gold["name"], gold["calendar_id"]) == ("gold urgent", office)
    assert (gold["applies_to"]["tiers"], gold["applies_to"]["priorities"]) == (
        ["gold"],
        ["urgent"],
    )
    # A warning at 75 % of 16 hours comes 4 hours before the deadline.
    assert [(k["name"], k["target_seconds"], k["warn_before_seconds"]) for k in gold["kpis"]] == [
        ("first_response", GOLD_FIRST_RESPONSE, 1800),
        ("resolution", GOLD_RESOLUTION, 4 * 3600),
    ]
    assert (rest["name"], rest["calendar_id"]) == ("everyone else", None)
    assert all(values == [] for values in rest["applies_to"].values())
    assert await service.policy(policy_id) == created
    # Tried after the policies already there; the default is kept.
    assert [p["policy_id"] for p in await service.policies()] == [DEFAULT_POLICY, policy_id]


async def test_a_gold_urgent_case_gets_the_gold_items_kpis_on_its_calendar(
    service: Service,
) -> None:
    office = await service.add_calendar()
    policy_id = (await service.add_policy(tiered_policy(office)))["policy_id"]
    gold_account, case_id = uuid.uuid4(), uuid.uuid4()

    await service.account_event(account(gold_account, tier="gold"))
    await service.case_event(opened(case_id, priority=c.Priority.URGENT, account_id=gold_account))

    kpis = await service.kpis(case_id)
    assert targets(kpis) == {"first_response": GOLD_FIRST_RESPONSE, "resolution": GOLD_RESOLUTION}
    assert policy_ids(kpis) == {policy_id}
    for name, view in kpis.items():
        target = timedelta(seconds=view["target_seconds"])
        assert moment(view["due_at"]) == add_working_time(FRIDAY_4PM, target, OFFICE_HOURS), name
    # Counted on office hours: one hour on Friday, then Monday (not two hours round the clock).
    assert moment(kpis["first_response"]["due_at"]) == datetime(2026, 3, 9, 10, 0, tzinfo=UTC)
    assert moment(kpis["resolution"]["due_at"]) == datetime(2026, 3, 10, 16, 0, tzinfo=UTC)
    assert moment(kpis["resolution"]["warn_at"]) == add_working_time(
        FRIDAY_4PM, timedelta(hours=12), OFFICE_HOURS
    )
    started = await service.started(case_id)
    assert {(str(s.policy_id), str(s.calendar_id)) for s in started} == {(policy_id, office)}


@pytest.mark.parametrize(
    ("tier", "priority"),
    [
        ("silver", c.Priority.URGENT),  # not gold
        ("gold", c.Priority.NORMAL),  # gold, but not urgent
        (None, c.Priority.URGENT),  # an account without a tier
    ],
)
async def test_any_other_case_gets_the_last_items_kpis_on_the_policys_calendar(
    service: Service, tier: str | None, priority: c.Priority
) -> None:
    office = await service.add_calendar()
    policy_id = (await service.add_policy(tiered_policy(office)))["policy_id"]
    account_id, case_id = uuid.uuid4(), uuid.uuid4()

    await service.account_event(account(account_id, tier=tier))
    await service.case_event(opened(case_id, priority=priority, account_id=account_id))

    kpis = await service.kpis(case_id)
    assert targets(kpis) == {"first_response": REST_FIRST_RESPONSE, "resolution": REST_RESOLUTION}
    assert policy_ids(kpis) == {policy_id}
    assert moment(kpis["first_response"]["due_at"]) == FRIDAY_4PM + timedelta(hours=4)
    started = await service.started(case_id)
    assert {str(s.calendar_id) for s in started} == {CALENDAR_24X7}


async def test_a_case_of_an_account_sla_never_heard_of_gets_the_last_item(
    service: Service,
) -> None:
    office = await service.add_calendar()
    await service.add_policy(tiered_policy(office))
    unknown, without = uuid.uuid4(), uuid.uuid4()

    await service.case_event(opened(unknown, priority=c.Priority.URGENT, account_id=uuid.uuid4()))
    await service.case_event(opened(without, priority=c.Priority.URGENT, account_id=None))

    rest = {"first_response": REST_FIRST_RESPONSE, "resolution": REST_RESOLUTION}
    assert targets(await service.kpis(unknown)) == rest
    assert targets(await service.kpis(without)) == rest


async def test_the_latest_version_of_an_account_decides_its_tier(service: Service) -> None:
    office = await service.add_calendar()
    await service.add_policy(tiered_policy(office))
    account_id = uuid.uuid4()
    demoted, promoted = uuid.uuid4(), uuid.uuid4()

    await service.account_event(account(account_id, tier="gold", version=1))
    await service.account_event(
        account(account_id, tier="silver", version=2, kind="account.changed")
    )
    await service.account_event(account(account_id, tier="gold", version=1))  # stale replay
    await service.case_event(opened(demoted, priority=c.Priority.URGENT, account_id=account_id))
    await service.account_event(account(account_id, tier="gold", version=3, kind="account.changed"))
    await service.case_event(opened(promoted, priority=c.Priority.URGENT, account_id=account_id))

    assert targets(await service.kpis(demoted))["first_response"] == REST_FIRST_RESPONSE
    assert targets(await service.kpis(promoted))["first_response"] == GOLD_FIRST_RESPONSE


async def test_an_item_for_a_contract_applies_to_the_cases_it_covers(service: Service) -> None:
    contract = uuid.uuid4()
    policy_id = (
        await service.add_policy(
            {
                "name": "Contracts",
                "calendar_id": CALENDAR_24X7,
                "items": [
                    {
                        "name": "ACME contract",
                        "applies_to": {"contract_ids": [str(contract)]},
                        "kpis": [kpi("first_response", 1800), kpi("onsite_visit", 86400)],
                    },
                    {"name": "others", "kpis": [kpi("first_response", 7200)]},
                ],
            }
        )
    )["policy_id"]
    assert (await service.policy(policy_id))["items"][0]["applies_to"]["contract_ids"] == [
        str(contract)
    ]
    covered, other, uncovered = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()

    await service.case_event(opened(covered, contract_id=contract))
    await service.case_event(opened(other, contract_id=uuid.uuid4()))
    await service.case_event(opened(uncovered))

    assert targets(await service.kpis(covered)) == {"first_response": 1800, "onsite_visit": 86400}
    assert targets(await service.kpis(other)) == {"first_response": 7200}
    assert targets(await service.kpis(uncovered)) == {"first_response": 7200}
    assert policy_ids(await service.kpis(covered)) == {policy_id}


async def test_replacing_a_policy_gives_new_cases_the_new_terms_and_leaves_started_ones(
    service: Service,
) -> None:
    office = await service.add_calendar()
    policy_id = (await service.add_policy(tiered_policy(office)))["policy_id"]
    gold_account, before, after = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await service.account_event(account(gold_account, tier="gold"))
    await service.case_event(opened(before, priority=c.Priority.URGENT, account_id=gold_account))
    kpis_before = await service.kpis(before)
    replacement = {
        "name": "Tiered (2027)",
        "calendar_id": CALENDAR_24X7,
        "kpis": [kpi("first_response", 600), kpi("resolution", 3600, warn_before_seconds=300)],
    }

    r = await service.client.put(f"/policies/{policy_id}", json=replacement, headers=service.admin)

    assert r.status_code == 200, r.text
    replaced = r.json()
    assert (replaced["policy_id"], replaced["name"], replaced["items"]) == (
        policy_id,
        "Tiered (2027)",
        [],
    )
    assert [(k["name"], k["target_seconds"]) for k in replaced["kpis"]] == [
        ("first_response", 600),
        ("resolution", 3600),
    ]
    assert await service.policy(policy_id) == replaced
    # Still in its place in the order, and no second policy was made.
    assert [p["policy_id"] for p in await service.policies()] == [DEFAULT_POLICY, policy_id]

    await service.case_event(opened(after, priority=c.Priority.URGENT, account_id=gold_account))

    kpis_after = await service.kpis(after)
    assert targets(kpis_after) == {"first_response": 600, "resolution": 3600}
    assert policy_ids(kpis_after) == {policy_id}
    assert moment(kpis_after["first_response"]["due_at"]) == FRIDAY_4PM + timedelta(minutes=10)
    # The case opened before keeps the KPIs it started with, on the item's calendar.
    assert await service.kpis(before) == kpis_before
    assert targets(kpis_before) == {
        "first_response": GOLD_FIRST_RESPONSE,
        "resolution": GOLD_RESOLUTION,
    }


async def test_put_under_a_new_id_creates_the_policy(service: Service) -> None:
    policy_id = str(uuid.uuid4())
    body = {"name": "Fresh", "calendar_id": CALENDAR_24X7, "kpis": [kpi("first_response", 60)]}

    r = await service.client.put(f"/policies/{policy_id}", json=body, headers=service.admin)

    assert r.status_code == 200, r.text
    assert r.json()["policy_id"] == policy_id
    assert (await service.policy(policy_id))["name"] == "Fresh"


# --- Retiring -----------------------------------------------------------------------------


async def test_a_retired_policy_takes_no_new_case_but_its_kpis_run_on(service: Service) -> None:
    urgent = await service.add_policy(
        {
            "name": "Urgent",
            "calendar_id": CALENDAR_24X7,
            "applies_to": {"priorities": ["urgent"]},
            "kpis": [kpi("first_response", 3600), kpi("resolution", 7200)],
        }
    )
    policy_id = urgent["policy_id"]
    started_before, started_after = uuid.uuid4(), uuid.uuid4()
    await service.case_event(opened(started_before, at=NOW, priority=c.Priority.URGENT))
    assert policy_ids(await service.kpis(started_before)) == {policy_id}

    r = await service.client.post(f"/policies/{policy_id}/retire", headers=service.admin)

    assert r.status_code == 200, r.text
    assert r.json() == {**urgent, "retired": True}
    assert (await service.policy(policy_id))["retired"] is True
    listed = {p["policy_id"]: p["retired"] for p in await service.policies()}
    assert listed == {DEFAULT_POLICY: False, policy_id: True}

    await service.case_event(opened(started_after, at=NOW, priority=c.Priority.URGENT))

    assert policy_ids(await service.kpis(started_after)) == {DEFAULT_POLICY}
    assert targets(await service.kpis(started_after)) == {
        "first_response": 8 * 3600,
        "resolution": 5 * 24 * 3600,
    }
    # The case opened before runs on under the retired policy: its deadline still fires.
    running_on = await service.kpis(started_before)
    assert {view["status"] for view in running_on.values()} == {"in_progress"}
    assert await service.tick(NOW + timedelta(hours=1)) == 1
    first = (await service.kpis(started_before))["first_response"]
    assert (first["status"], first["breached"]) == ("breached", True)
    [breach] = [e for e in service.published if isinstance(e, c.KpiBreached)]
    assert (breach.case_id, breach.kpi) == (started_before, "first_response")
    # Retiring again changes nothing, and writing it anew does not bring it back.
    again = await service.client.post(f"/policies/{policy_id}/retire", headers=service.admin)
    assert (again.status_code, again.json()["retired"]) == (200, True)
    body = {"name": "Urgent", "calendar_id": CALENDAR_24X7, "kpis": [kpi("first_response", 60)]}
    put = await service.client.put(f"/policies/{policy_id}", json=body, headers=service.admin)
    assert (put.status_code, put.json()["retired"]) == (200, True)


async def test_the_default_policy_cannot_be_retired(service: Service) -> None:
    before = await service.policies()

    r = await service.client.post(f"/policies/{DEFAULT_POLICY}/retire", headers=service.admin)

    assert "default" in assert_problem(r, 422)["detail"]
    assert await service.policies() == before
    case_id = uuid.uuid4()
    await service.case_event(opened(case_id))
    assert policy_ids(await service.kpis(case_id)) == {DEFAULT_POLICY}


async def test_an_unknown_policy_is_not_found(service: Service) -> None:
    unknown = uuid.uuid4()

    assert_problem(await service.client.get(f"/policies/{unknown}", headers=service.agent), 404)
    r = await service.client.post(f"/policies/{unknown}/retire", headers=service.admin)
    assert_problem(r, 404)
    assert [p["policy_id"] for p in await service.policies()] == [DEFAULT_POLICY]


# --- Refusals -----------------------------------------------------------------------------


async def test_a_policy_name_already_taken_is_refused(service: Service) -> None:
    first = await service.add_policy(
        {"name": "Premium", "calendar_id": CALENDAR_24X7, "kpis": [kpi("first_response", 60)]}
    )
    second = await service.add_policy(
        {"name": "Basic", "calendar_id": CALENDAR_24X7, "kpis": [kpi("first_response", 120)]}
    )
    before = await service.policies()

    for name in ("Premium", "premium", " Premium "):
        body = {"name": name, "calendar_id": CALENDAR_24X7, "kpis": [kpi("resolution", 60)]}
        r = await service.client.post("/policies", json=body, headers=service.admin)
        assert_problem(r, 409)
    taken = {"name": "Premium", "calendar_id": CALENDAR_24X7, "kpis": [kpi("resolution", 60)]}
    r = await service.client.put(
        f"/policies/{second['policy_id']}", json=taken, headers=service.admin
    )
    assert_problem(r, 409)
    r = await service.client.put(f"/policies/{uuid.uuid4()}", json=taken, headers=service.admin)
    assert_problem(r, 409)

    assert await service.policies() == before
    # A policy may keep its own name when it is rewritten.
    own = {"name": "Premium", "calendar_id": CALENDAR_24X7, "kpis": [kpi("resolution", 90)]}
    r = await service.client.put(f"/policies/{first['policy_id']}", json=own, headers=service.admin)
    assert r.status_code == 200, r.text


def _with(body: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**body, **changes}


BAD_POLICIES: dict[str, Any] = {
    "a warning after the target": lambda office: _with(
        tiered_policy(office),
        items=[
            {"name": "all", "kpis": [kpi("first_response", 3600, warn_before_seconds=7200)]},
        ],
    ),
    "a warning at the target": lambda office: {
        "name": "Bad",
        "calendar_id": CALENDAR_24X7,
        "kpis": [kpi("first_response", 3600, warn_before_seconds=3600)],
    },
    "an item on an unknown calendar": lambda office: _with(
        tiered_policy(office),
        items=[
            {
                "name": "gold",
                "applies_to": {"tiers": ["gold"]},
                "calendar_id": str(uuid.uuid4()),
                "kpis": [kpi("first_response", 60)],
            },
            {"name": "rest", "kpis": [kpi("first_response", 120)]},
        ],
    ),
    "a policy on an unknown calendar": lambda office: _with(
        tiered_policy(office), calendar_id=str(uuid.uuid4())
    ),
    "a last item with a condition": lambda office: _with(
        tiered_policy(office),
        items=[
            {
                "name": "gold",
                "applies_to": {"tiers": ["gold"]},
                "kpis": [kpi("first_response", 60)],
            },
            {
                "name": "dach",
                "applies_to": {"regions": ["DACH"]},
                "kpis": [kpi("first_response", 120)],
            },
        ],
    ),
    "both kinds of warning": lambda office: {
        "name": "Bad",
        "calendar_id": CALENDAR_24X7,
        "kpis": [kpi("first_response", 3600, warn_before_seconds=600, warn_at_share=0.5)],
    },
    "kpis and items together": lambda office: _with(
        tiered_policy(office), kpis=[kpi("first_response", 60)]
    ),
    "neither kpis nor items": lambda office: {"name": "Bad", "calendar_id": CALENDAR_24X7},
    "two items of one name": lambda office: _with(
        tiered_policy(office),
        items=[
            {"name": "all", "applies_to": {"tiers": ["gold"]}, "kpis": [kpi("a", 60)]},
            {"name": "all", "kpis": [kpi("a", 60)]},
        ],
    ),
    "a blank tier": lambda office: _with(
        tiered_policy(office),
        items=[
            {"name": "gold", "applies_to": {"tiers": ["  "]}, "kpis": [kpi("a", 60)]},
            {"name": "rest", "kpis": [kpi("a", 60)]},
        ],
    ),
    "a second default": lambda office: {
        "name": "Another default",
        "calendar_id": CALENDAR_24X7,
        "is_default": True,
        "kpis": [kpi("first_response", 60)],
    },
    "an unknown field": lambda office: _with(tiered_policy(office), retired=True),
    "a KPI paused in a closed status": lambda office: {
        "name": "Bad",
        "calendar_id": CALENDAR_24X7,
        "kpis": [kpi("resolution", 3600, pause_statuses=["resolved"])],
    },
    "an unknown reopen mode": lambda office: {
        "name": "Bad",
        "calendar_id": CALENDAR_24X7,
        "reopen": "again",
        "kpis": [kpi("resolution", 3600)],
    },
    "an item with an unknown reopen mode": lambda office: _with(
        tiered_policy(office),
        items=[{"name": "all", "reopen": "sometimes", "kpis": [kpi("resolution", 60)]}],
    ),
}


async def test_bad_policies_are_refused_and_change_nothing(service: Service) -> None:
    office = await service.add_calendar()
    existing = await service.add_policy(tiered_policy(office, name="Existing"))
    before = await service.policies()

    for reason, make in BAD_POLICIES.items():
        body = make(office)
        r = await service.client.post("/policies", json=body, headers=service.admin)
        assert r.status_code == 422, f"POST with {reason}: {r.status_code} {r.text}"
        assert r.headers["content-type"] == PROBLEM_JSON, reason
        body = _with(body, name="Existing")
        r = await service.client.put(
            f"/policies/{existing['policy_id']}", json=body, headers=service.admin
        )
        assert r.status_code == 422, f"PUT with {reason}: {r.status_code} {r.text}"
        assert r.headers["content-type"] == PROBLEM_JSON, reason
        assert await service.policies() == before, reason


async def test_an_unknown_calendar_is_named_in_the_refusal(service: Service) -> None:
    missing = str(uuid.uuid4())
    body = {
        "name": "Lost",
        "calendar_id": CALENDAR_24X7,
        "items": [{"name": "all", "calendar_id": missing, "kpis": [kpi("first_response", 60)]}],
    }

    r = await service.client.post("/policies", json=body, headers=service.admin)

    assert missing in assert_problem(r, 422)["detail"]


async def test_a_kpi_counts_on_its_own_calendar_when_it_names_one(service: Service) -> None:
    office = await service.add_calendar()
    body = tiered_policy(office, name="Answered round the clock")
    gold = body["items"][0]
    gold["kpis"][0]["calendar_id"] = CALENDAR_24X7  # the first response, the item on office hours
    created = await service.add_policy(body)
    assert [k["calendar_id"] for k in created["items"][0]["kpis"]] == [CALENDAR_24X7, None]
    gold_account, case_id = uuid.uuid4(), uuid.uuid4()

    await service.account_event(account(gold_account, tier="gold"))
    await service.case_event(opened(case_id, priority=c.Priority.URGENT, account_id=gold_account))

    kpis = await service.kpis(case_id)
    first, resolution = kpis["first_response"], kpis["resolution"]
    assert (first["calendar_id"], resolution["calendar_id"]) == (CALENDAR_24X7, office)
    # Two hours round the clock from Friday 16:00; the resolution still on office hours.
    assert moment(first["due_at"]) == FRIDAY_4PM + timedelta(seconds=GOLD_FIRST_RESPONSE)
    assert moment(resolution["due_at"]) == datetime(2026, 3, 10, 16, 0, tzinfo=UTC)
    started = {s.kpi: str(s.calendar_id) for s in await service.started(case_id)}
    assert started == {"first_response": CALENDAR_24X7, "resolution": office}


async def test_a_kpi_on_an_unknown_calendar_is_refused(service: Service) -> None:
    missing = str(uuid.uuid4())
    body = {
        "name": "Lost KPI",
        "calendar_id": CALENDAR_24X7,
        "kpis": [{**kpi("first_response", 60), "calendar_id": missing}],
    }

    r = await service.client.post("/policies", json=body, headers=service.admin)

    assert missing in assert_problem(r, 422)["detail"]
    assert "Lost KPI" not in [p["name"] for p in await service.policies()]


async def test_an_agent_cannot_administer_policies(service: Service) -> None:
    body = {"name": "Sneaky", "calendar_id": CALENDAR_24X7, "kpis": [kpi("first_response", 60)]}
    before = await service.policies()

    assert_problem(await service.client.post("/policies", json=body, headers=service.agent), 403)
    r = await service.client.put(f"/policies/{DEFAULT_POLICY}", json=body, headers=service.agent)
    assert_problem(r, 403)
    r = await service.client.post(f"/policies/{DEFAULT_POLICY}/retire", headers=service.agent)
    assert_problem(r, 403)
    supervisor = bearer(service.app, "supervisor")
    assert_problem(await service.client.post("/policies", json=body, headers=supervisor), 403)
    assert_problem(await service.client.post("/policies", json=body), 401)

    assert await service.policies() == before


# --- Calendars ----------------------------------------------------------------------------


async def test_a_calendar_without_working_time_is_refused(service: Service) -> None:
    before = await service.calendars()

    for week in ({}, {day: [] for day in WEEKDAYS}):
        body = {"name": "Never open", "time_zone": "UTC", "week": week}
        r = await service.client.post("/calendars", json=body, headers=service.admin)
        assert "working time" in assert_problem(r, 422)["detail"]

    assert await service.calendars() == before
    # Special working days alone are working time.
    only_special = {
        "name": "Open once",
        "time_zone": "UTC",
        "week": {},
        "special_days": {"2026-03-07": ["10:00-14:00"]},
    }
    r = await service.client.post("/calendars", json=only_special, headers=service.admin)
    assert r.status_code == 201, r.text


async def test_an_admin_rewrites_a_calendar_and_new_cases_count_on_it(service: Service) -> None:
    office = await service.add_calendar(holidays=["2026-12-25"])
    await service.add_policy(tiered_policy(office))
    gold_account, early, late = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await service.account_event(account(gold_account, tier="gold"))
    await service.case_event(opened(early, priority=c.Priority.URGENT, account_id=gold_account))
    early_kpis = await service.kpis(early)
    rewritten = {
        "name": "Long office hours",
        "time_zone": "UTC",
        "week": {day: ["08:00-18:00"] for day in (*WEEKDAYS, "saturday")},
    }

    r = await service.client.put(f"/calendars/{office}", json=rewritten, headers=service.admin)

    assert r.status_code == 200, r.text
    view = r.json()
    assert (view["calendar_id"], view["name"], view["holidays"]) == (
        office,
        "Long office hours",
        [],
    )
    assert view["week"]["saturday"] == ["08:00-18:00"]
    assert view["week"]["sunday"] == []
    assert [cal for cal in await service.calendars() if cal["calendar_id"] == office] == [view]
    await service.case_event(opened(late, priority=c.Priority.URGENT, account_id=gold_account))
    # Two working hours from Friday 16:00: until Friday 18:00 on the new hours.
    due = moment((await service.kpis(late))["first_response"]["due_at"])
    assert due == datetime(2026, 3, 6, 18, 0, tzinfo=UTC)
    # The case opened before keeps the deadline it was given.
    assert (await service.kpis(early))["first_response"]["due_at"] == early_kpis["first_response"][
        "due_at"
    ]


async def test_rewriting_a_calendar_is_refused_for_an_unknown_one_a_taken_name_or_no_hours(
    service: Service,
) -> None:
    office = await service.add_calendar()
    before = await service.calendars()
    good = {"name": "Renamed", "time_zone": "UTC", "week": OFFICE_WEEK}

    r = await service.client.put(f"/calendars/{uuid.uuid4()}", json=good, headers=service.admin)
    assert_problem(r, 404)
    taken = {**good, "name": "24x7"}
    r = await service.client.put(f"/calendars/{office}", json=taken, headers=service.admin)
    assert_problem(r, 409)
    empty = {**good, "week": {}}
    r = await service.client.put(f"/calendars/{office}", json=empty, headers=service.admin)
    assert_problem(r, 422)
    bad_zone = {**good, "time_zone": "Mars/Olympus"}
    r = await service.client.put(f"/calendars/{office}", json=bad_zone, headers=service.admin)
    assert_problem(r, 422)
    r = await service.client.put(f"/calendars/{office}", json=good, headers=service.agent)
    assert_problem(r, 403)

    assert await service.calendars() == before
    # Its own name is not "taken".
    same = {**good, "name": "Office hours"}
    r = await service.client.put(f"/calendars/{office}", json=same, headers=service.admin)
    assert r.status_code == 200, r.text


async def test_setting_one_years_holidays_leaves_the_other_years(service: Service) -> None:
    office = await service.add_calendar(holidays=["2026-12-25", "2027-05-01", "2028-01-01"])
    url = f"/calendars/{office}/holidays/2027"

    r = await service.client.put(
        url, json={"holidays": ["2027-12-24", "2027-01-01"]}, headers=service.admin
    )

    assert r.status_code == 200, r.text
    assert r.json()["holidays"] == ["2026-12-25", "2027-01-01", "2027-12-24", "2028-01-01"]
    [listed] = [cal for cal in await service.calendars() if cal["calendar_id"] == office]
    assert listed == r.json()
    r = await service.client.put(url, json={"holidays": []}, headers=service.admin)
    assert r.status_code == 200, r.text
    assert r.json()["holidays"] == ["2026-12-25", "2028-01-01"]


async def test_holidays_are_refused_outside_their_year_or_for_an_unknown_calendar(
    service: Service,
) -> None:
    office = await service.add_calendar(holidays=["2027-05-01"])
    before = await service.calendars()
    url = f"/calendars/{office}/holidays/2027"

    r = await service.client.put(
        url, json={"holidays": ["2027-01-01", "2028-01-01"]}, headers=service.admin
    )
    assert "2027" in assert_problem(r, 422)["detail"]
    r = await service.client.put(
        f"/calendars/{uuid.uuid4()}/holidays/2027",
        json={"holidays": ["2027-01-01"]},
        headers=service.admin,
    )
    assert_problem(r, 404)
    r = await service.client.put(
        f"/calendars/{office}/holidays/1969", json={"holidays": []}, headers=service.admin
    )
    assert_problem(r, 422)
    r = await service.client.put(url, json={"holidays": []}, headers=service.agent)
    assert_problem(r, 403)

    assert await service.calendars() == before


async def test_a_new_holiday_moves_the_deadlines_of_new_cases(service: Service) -> None:
    office = await service.add_calendar()
    await service.add_policy(tiered_policy(office))
    gold_account, case_id = uuid.uuid4(), uuid.uuid4()
    await service.account_event(account(gold_account, tier="gold"))

    r = await service.client.put(
        f"/calendars/{office}/holidays/2026",
        json={"holidays": ["2026-03-09"]},
        headers=service.admin,
    )
    assert r.status_code == 200, r.text
    await service.case_event(opened(case_id, priority=c.Priority.URGENT, account_id=gold_account))

    # One hour on Friday; Monday is a holiday; the second hour on Tuesday.
    due = moment((await service.kpis(case_id))["first_response"]["due_at"])
    with_holiday = Calendar.business_hours("UTC", holidays=[datetime(2026, 3, 9).date()])
    assert due == add_working_time(FRIDAY_4PM, timedelta(hours=2), with_holiday)
    assert due == datetime(2026, 3, 10, 10, 0, tzinfo=UTC)


async def test_a_region_item_applies_and_contact_events_pass_by(service: Service) -> None:
    await service.add_policy(
        {
            "name": "Regional",
            "calendar_id": CALENDAR_24X7,
            "items": [
                {
                    "name": "DACH",
                    "applies_to": {"regions": ["DACH"]},
                    "kpis": [kpi("first_response", 900)],
                },
                {"name": "elsewhere", "kpis": [kpi("first_response", 1800)]},
            ],
        }
    )
    dach, nordics = uuid.uuid4(), uuid.uuid4()
    in_dach, in_nordics = uuid.uuid4(), uuid.uuid4()
    contact = c.sample("contact.registered").model_copy(update={"account_id": dach})

    await service.account_event(contact)  # not an account: skipped, not dead-lettered
    await service.account_event(account(dach, tier=None, region="DACH"))
    await service.account_event(account(nordics, tier="gold", region="Nordics"))
    await service.case_event(opened(in_dach, account_id=dach))
    await service.case_event(opened(in_nordics, account_id=nordics))

    assert targets(await service.kpis(in_dach)) == {"first_response": 900}
    assert targets(await service.kpis(in_nordics)) == {"first_response": 1800}
    metrics = (await service.client.get("/metrics")).text
    assert (
        'caseflow_events_consumed_total{consumer="sla",outcome="skipped",'
        'topic="intake.customer.v1"} 1.0'
    ) in metrics
    assert "caseflow_dead_letters_total{" not in metrics


# --- What pauses a KPI, and what a reopening does -----------------------------------------


def status_changed(case_id: uuid.UUID, to: c.CaseStatus, at: datetime) -> c.Event:
    return c.sample("case.status_changed").model_copy(
        update={"case_id": case_id, "to_status": to, "occurred_at": at}
    )


def case_event(kind: str, case_id: uuid.UUID, at: datetime) -> c.Event:
    return c.sample(kind).model_copy(update={"case_id": case_id, "occurred_at": at})


async def test_each_kpi_pauses_only_in_the_statuses_its_policy_names(service: Service) -> None:
    policy = await service.add_policy(
        {
            "name": "Strict clocks",
            "calendar_id": CALENDAR_24X7,
            "applies_to": {"priorities": ["urgent"]},
            "kpis": [
                kpi("first_response", 3600, pause_statuses=["on_hold"]),
                kpi("resolution", 7200, pause_statuses=[]),
            ],
        }
    )
    assert [k["pause_statuses"] for k in policy["kpis"]] == [["on_hold"], []]
    case_id = uuid.uuid4()
    await service.case_event(opened(case_id, at=NOW, priority=c.Priority.URGENT))
    await service.started(case_id)
    kpis = await service.kpis(case_id)
    assert kpis["first_response"]["pause_statuses"] == ["on_hold"]
    assert kpis["resolution"]["pause_statuses"] == []

    # Waiting for the customer stops neither clock here.
    waiting = c.CaseStatus.WAITING_FOR_CUSTOMER
    await service.case_event(status_changed(case_id, waiting, NOW + timedelta(minutes=10)))
    kpis = await service.kpis(case_id)
    assert {k["status"] for k in kpis.values()} == {"in_progress"}
    # On hold stops the first response only; the resolution's clock never stops.
    on_hold = c.CaseStatus.ON_HOLD
    await service.case_event(status_changed(case_id, on_hold, NOW + timedelta(minutes=20)))

    async def first_paused() -> dict[str, dict[str, Any]] | None:
        found = await service.kpis(case_id)
        return found if found["first_response"]["status"] == "paused" else None

    kpis = await eventually(first_paused)
    assert kpis["resolution"]["status"] == "in_progress"
    assert moment(kpis["resolution"]["due_at"]) == NOW + timedelta(hours=2)
    assert [e["state"] for e in kpis["first_response"]["log"]] == ["started", "paused"]


async def test_a_policy_that_restarts_on_reopening_measures_the_resolution_afresh(
    service: Service,
) -> None:
    await service.add_policy(
        {
            "name": "Restarting",
            "calendar_id": CALENDAR_24X7,
            "applies_to": {"priorities": ["urgent"]},
            "reopen": "restart",
            "kpis": [kpi("resolution", 7200, warn_before_seconds=600)],
        }
    )
    restarting, continuing = uuid.uuid4(), uuid.uuid4()
    await service.case_event(opened(restarting, at=NOW, priority=c.Priority.URGENT))
    await service.case_event(opened(continuing, at=NOW, priority=c.Priority.LOW))
    await service.started(restarting, n=1)
    await service.started(continuing, n=2)
    assert (await service.kpis(restarting))["resolution"]["reopen"] == "restart"
    assert (await service.kpis(continuing))["resolution"]["reopen"] == "continue"

    for case_id in (restarting, continuing):
        await service.case_event(case_event("case.resolved", case_id, NOW + timedelta(hours=1)))
        await service.case_event(case_event("case.reopened", case_id, NOW + timedelta(hours=3)))

    async def reopened(case_id: uuid.UUID) -> dict[str, Any] | None:
        view = (await service.kpis(case_id))["resolution"]
        return view if view["status"] == "in_progress" and view["due_at"] else None

    service.clock.moment = NOW + timedelta(hours=3)
    afresh = await eventually(lambda: reopened(restarting))
    # The whole two hours from the reopening, and the warning to come again.
    assert moment(afresh["due_at"]) == NOW + timedelta(hours=5)
    assert moment(afresh["warn_at"]) == NOW + timedelta(hours=5) - timedelta(minutes=10)
    assert afresh["consumed_seconds"] == 0
    on = await eventually(lambda: reopened(continuing))
    # The default policy's five days, less the hour already used, from the reopening.
    assert moment(on["due_at"]) == NOW + timedelta(hours=3) + timedelta(days=5) - timedelta(hours=1)


async def test_a_calendar_is_checked_at_a_moment_before_a_policy_counts_on_it(
    service: Service,
) -> None:
    office = await service.add_calendar(holidays=["2026-12-25"])
    url = f"/calendars/{office}/check"

    async def check(**params: Any) -> dict[str, Any]:
        r = await service.client.get(url, params=params, headers=service.agent)
        assert r.status_code == 200, r.text
        return r.json()

    # Christmas is a Friday and a holiday: working time begins again on Monday.
    holiday = await check(at="2026-12-25T10:00:00Z", work_seconds=3600)
    assert holiday["working"] is False
    assert holiday["next_working_at"] == "2026-12-28T09:00:00Z"
    assert holiday["due_at"] == "2026-12-28T10:00:00Z"
    # Half an hour before Christmas Eve closes, an hour of work runs on to Monday.
    eve = await check(at="2026-12-24T16:30:00Z", work_seconds=3600)
    assert (eve["working"], eve["next_working_at"]) == (True, "2026-12-24T16:30:00Z")
    assert eve["due_at"] == "2026-12-28T09:30:00Z"
    # Without a moment, now (Friday 17:30, after hours); without work, no deadline.
    now = await check()
    assert (now["at"], now["working"], now["due_at"]) == ("2026-03-06T17:30:00Z", False, None)
    assert now["next_working_at"] == "2026-03-09T09:00:00Z"


async def test_a_calendar_check_refuses_a_moment_without_offset_and_negative_work(
    service: Service,
) -> None:
    office = await service.add_calendar()
    for params in (
        {"at": "2026-12-24T10:00:00"},
        {"work_seconds": "-1"},
        {"at": "soon"},
        {"at": "9999-12-31T23:59:59Z", "work_seconds": "3600"},
    ):
        r = await service.client.get(
            f"/calendars/{office}/check", params=params, headers=service.agent
        )
        assert_problem(r, 422)
    r = await service.client.get(f"/calendars/{uuid.uuid4()}/check", headers=service.agent)
    assert "no calendar" in assert_problem(r, 404)["detail"]
    r = await service.client.get(f"/calendars/{office}/check")
    assert_problem(r, 401)
