"""The SLA service with a real PostgreSQL, its subscriber driven through TestKafkaBroker."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from faststream.kafka import KafkaBroker, TestKafkaBroker
from faststream.kafka.annotations import KafkaMessage
from sqlalchemy import insert

import caseflow_contracts as c
from caseflow_contracts import topics
from caseflow_devstack.broker import create_topics
from caseflow_servicekit import PeriodicJob, ServiceApp
from caseflow_servicekit.migrations import upgrade
from caseflow_servicekit.testing import bearer, eventually, publish_event, running
from sla.adapters.tables import policies, policy_kpis
from sla.bootstrap import MIGRATIONS, build
from sla.settings import SlaSettings

pytestmark = pytest.mark.service

OPENED = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
CALENDAR_24X7 = "1c2d0001-5a1a-4c00-8000-000000000001"
DEFAULT_POLICY = "1c2d0002-5a1a-4c00-8000-000000000001"
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday")


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

    async def case_event(self, event: c.Event, *, event_id: str | None = None) -> None:
        await publish_event(self.broker, event, topic=topics.CASES, event_id=event_id)

    async def tick(self, at: datetime) -> int:
        """One timer pass with the clock moved to `at`."""
        self.clock.moment = at
        timer: PeriodicJob = self.app.fastapi.state.kpi_timer
        return await timer.run_once()

    async def kpis(self, case_id: uuid.UUID) -> dict[str, dict[str, Any]]:
        r = await self.client.get(f"/cases/{case_id}/kpis", headers=bearer(self.app, "agent"))
        assert r.status_code == 200, r.text
        return {kpi["kpi"]: kpi for kpi in r.json()}

    async def published_count(self, n: int) -> list[c.Event]:
        """The events published so far, once there are at least `n`."""

        async def probe() -> list[c.Event] | None:
            return list(self.published) if len(self.published) >= n else None

        return await eventually(probe)


@pytest.fixture
async def service(fresh_database: str) -> AsyncIterator[Service]:
    settings = SlaSettings(database_url=fresh_database, kafka_bootstrap_servers="test:9092")
    clock = MovableClock(OPENED)
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


def opened(case_id: uuid.UUID, *, at: datetime = OPENED, **contract: object) -> c.CaseOpened:
    """A case opened at `at`; without a covering contract unless its fields are given."""
    no_contract = dict.fromkeys(
        ("entitlement_id", "contract_id", "entitlement_rule", "sla_policy_id", "calendar_id")
    )
    event = c.sample("case.opened").model_copy(
        update={
            "case_id": case_id,
            "occurred_at": at,
            "status": c.CaseStatus.NEW,
            **no_contract,
            **contract,
        }
    )
    assert isinstance(event, c.CaseOpened)
    return event


def status_changed(case_id: uuid.UUID, to: c.CaseStatus, *, at: datetime) -> c.Event:
    return c.sample("case.status_changed").model_copy(
        update={"case_id": case_id, "occurred_at": at, "to_status": to}
    )


def resolved(case_id: uuid.UUID, *, at: datetime) -> c.Event:
    return c.sample("case.resolved").model_copy(update={"case_id": case_id, "occurred_at": at})


def of_type(events: list[c.Event], kind: type[c.Event]) -> list[Any]:
    return [event for event in events if isinstance(event, kind)]


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def same_moment(text: str | None, moment: datetime) -> bool:
    return text is not None and datetime.fromisoformat(text) == moment


async def test_the_migration_seeds_the_24x7_calendar_and_the_default_policy(
    service: Service,
) -> None:
    agent = bearer(service.app, "agent")

    r = await service.client.get("/calendars", headers=agent)
    assert r.status_code == 200, r.text
    calendars = r.json()
    policies = (await service.client.get("/policies", headers=agent)).json()

    [always] = [cal for cal in calendars if cal["name"] == "24x7"]
    assert always["calendar_id"] == CALENDAR_24X7
    assert always["time_zone"] == "UTC"
    assert len(always["week"]) == 7
    assert all(hours == ["00:00-24:00"] for hours in always["week"].values())
    [default] = policies
    assert (default["policy_id"], default["calendar_id"], default["is_default"]) == (
        DEFAULT_POLICY,
        CALENDAR_24X7,
        True,
    )
    assert [
        (k["name"], k["target_seconds"], k["warn_before_seconds"]) for k in default["kpis"]
    ] == [
        ("first_response", 8 * 3600, 2 * 3600),
        ("resolution", 5 * 24 * 3600, None),
    ]


async def test_an_opened_case_starts_its_kpis_once_however_often_delivered(
    service: Service,
) -> None:
    case_id = uuid.uuid4()
    event = opened(case_id)

    await service.case_event(event, event_id="opening")
    await service.case_event(event, event_id="opening")  # redelivered
    await service.case_event(event)  # replayed under another id

    started = of_type(await service.published_count(2), c.KpiStarted)
    kpis = await service.kpis(case_id)
    assert set(kpis) == {"first_response", "resolution"}
    first = kpis["first_response"]
    assert first["status"] == "in_progress"
    assert same_moment(first["due_at"], OPENED + timedelta(hours=8))
    assert same_moment(first["warn_at"], OPENED + timedelta(hours=6))
    assert same_moment(kpis["resolution"]["due_at"], OPENED + timedelta(days=5))
    assert sorted((s.kpi, s.due_at) for s in started) == [
        ("first_response", OPENED + timedelta(hours=8)),
        ("resolution", OPENED + timedelta(days=5)),
    ]
    assert {(s.case_id, str(s.calendar_id), str(s.policy_id)) for s in started} == {
        (case_id, CALENDAR_24X7, DEFAULT_POLICY)
    }
    # Nothing more is published for the repeated openings.
    await service.case_event(opened(uuid.uuid4()))
    assert len(await service.published_count(4)) == 4


async def add_policy(
    service: Service,
    *,
    name: str,
    calendar_id: str,
    kpis: dict[str, timedelta],
    priorities: list[str],
) -> uuid.UUID:
    """Insert a policy that only cases of `priorities` match (there is no API to add one)."""
    policy_id = uuid.uuid4()
    async with service.app.kit.sessions() as session, session.begin():
        await session.execute(
            insert(policies).values(
                policy_id=policy_id,
                name=name,
                calendar_id=uuid.UUID(calendar_id),
                position=1,
                is_default=False,
                applies_to={"priorities": priorities},
            )
        )
        await session.execute(
            insert(policy_kpis),
            [
                {
                    "kpi_definition_id": uuid.uuid4(),
                    "policy_id": policy_id,
                    "name": kpi,
                    "target": target,
                    "position": position,
                }
                for position, (kpi, target) in enumerate(kpis.items())
            ],
        )
    return policy_id


async def test_a_case_under_contract_gets_the_kpis_of_the_contracts_policy(
    service: Service,
) -> None:
    premium = await add_policy(
        service,
        name="Premium",
        calendar_id=CALENDAR_24X7,
        kpis={"first_response": timedelta(hours=1), "resolution": timedelta(days=1)},
        priorities=["urgent"],
    )
    case_id = uuid.uuid4()

    # A normal case: by its facts it would get the default policy, but its contract says
    # Premium.
    await service.case_event(opened(case_id, sla_policy_id=premium))

    started = of_type(await service.published_count(2), c.KpiStarted)
    assert sorted((s.kpi, s.policy_id, s.due_at) for s in started) == [
        ("first_response", premium, OPENED + timedelta(hours=1)),
        ("resolution", premium, OPENED + timedelta(days=1)),
    ]
    kpis = await service.kpis(case_id)
    assert {kpi["policy_id"] for kpi in kpis.values()} == {str(premium)}
    assert same_moment(kpis["first_response"]["due_at"], OPENED + timedelta(hours=1))
    # A case without a contract still gets what its facts choose.
    other = uuid.uuid4()
    await service.case_event(opened(other))
    assert {kpi["policy_id"] for kpi in (await service.kpis(other)).values()} == {DEFAULT_POLICY}


async def test_a_case_under_contract_counts_on_the_contracts_calendar(service: Service) -> None:
    office = {
        "name": "Office hours",
        "time_zone": "UTC",
        "week": {day: ["09:00-17:00"] for day in WEEKDAYS},
    }
    r = await service.client.post("/calendars", json=office, headers=bearer(service.app, "admin"))
    assert r.status_code == 201, r.text
    calendar_id = uuid.UUID(r.json()["calendar_id"])
    friday_4pm = datetime(2026, 3, 6, 16, 0, tzinfo=UTC)
    case_id = uuid.uuid4()

    await service.case_event(
        opened(
            case_id,
            at=friday_4pm,
            sla_policy_id=uuid.UUID(DEFAULT_POLICY),
            calendar_id=calendar_id,
        )
    )

    started = of_type(await service.published_count(2), c.KpiStarted)
    assert {(s.calendar_id, str(s.policy_id)) for s in started} == {(calendar_id, DEFAULT_POLICY)}
    # Eight office hours: one on Friday, seven on Monday (not eight round the clock).
    [first] = [s for s in started if s.kpi == "first_response"]
    assert first.due_at == datetime(2026, 3, 9, 16, 0, tzinfo=UTC)


async def test_an_unknown_contract_policy_falls_back_on_the_default(service: Service) -> None:
    case_id = uuid.uuid4()

    await service.case_event(opened(case_id, sla_policy_id=uuid.uuid4(), calendar_id=uuid.uuid4()))

    started = of_type(await service.published_count(2), c.KpiStarted)
    assert {(str(s.policy_id), str(s.calendar_id)) for s in started} == {
        (DEFAULT_POLICY, CALENDAR_24X7)
    }
    assert set(await service.kpis(case_id)) == {"first_response", "resolution"}


async def test_a_changed_entitlement_with_the_same_terms_moves_nothing(
    service: Service,
) -> None:
    # The sample names a policy SLA does not have: the case's terms stay the default's.
    case_id = uuid.uuid4()
    await service.case_event(opened(case_id))
    before = await service.kpis(case_id)
    changed = c.sample("case.entitlement_changed").model_copy(
        update={"case_id": case_id, "occurred_at": OPENED + timedelta(hours=1)}
    )

    await service.case_event(changed)

    metrics = (await service.client.get("/metrics")).text
    assert (
        'caseflow_events_consumed_total{consumer="sla",outcome="applied",topic="cases.case.v1"} 2.0'
        in metrics
    )
    assert "caseflow_dead_letters_total{" not in metrics
    assert await service.kpis(case_id) == before
    # The consumer goes on with the case's next events.
    await service.case_event(resolved(case_id, at=OPENED + timedelta(hours=2)))
    events = await service.published_count(4)
    assert [type(e) for e in events] == [c.KpiStarted, c.KpiStarted, c.KpiSucceeded, c.KpiSucceeded]


async def test_the_timer_fires_the_warning_then_the_breach_once_each(service: Service) -> None:
    case_id = uuid.uuid4()
    await service.case_event(opened(case_id))
    await service.published_count(2)

    assert await service.tick(OPENED + timedelta(hours=5, minutes=59)) == 0
    assert await service.tick(OPENED + timedelta(hours=6)) == 1
    assert await service.tick(OPENED + timedelta(hours=7)) == 0
    assert await service.tick(OPENED + timedelta(hours=8)) == 1
    assert await service.tick(OPENED + timedelta(hours=9)) == 0

    events = await service.published_count(4)
    [warning] = of_type(events, c.KpiNearingBreach)
    [breach] = of_type(events, c.KpiBreached)
    assert (warning.kpi, warning.occurred_at, warning.due_at) == (
        "first_response",
        OPENED + timedelta(hours=6),
        OPENED + timedelta(hours=8),
    )
    assert (breach.kpi, breach.due_at) == ("first_response", OPENED + timedelta(hours=8))
    assert events.index(warning) < events.index(breach)
    first = (await service.kpis(case_id))["first_response"]
    assert (first["status"], first["breached"]) == ("breached", True)
    metrics = (await service.client.get("/metrics")).text
    assert 'caseflow_sla_kpi_events_total{event="kpi.breached",kpi="first_response"} 1.0' in metrics


async def test_waiting_for_the_customer_pauses_and_coming_back_moves_the_deadline(
    service: Service,
) -> None:
    case_id = uuid.uuid4()
    await service.case_event(opened(case_id))
    await service.case_event(
        status_changed(case_id, c.CaseStatus.WAITING_FOR_CUSTOMER, at=OPENED + timedelta(hours=1))
    )

    service.clock.moment = OPENED + timedelta(hours=2)
    paused = (await service.kpis(case_id))["first_response"]
    assert (paused["status"], paused["due_at"], paused["consumed_seconds"]) == (
        "paused",
        None,
        3600,
    )
    # A paused KPI is not due: the timer passes over it even after its old deadline.
    assert await service.tick(OPENED + timedelta(hours=9)) == 0

    await service.case_event(
        status_changed(case_id, c.CaseStatus.IN_PROGRESS, at=OPENED + timedelta(hours=9))
    )
    service.clock.moment = OPENED + timedelta(hours=10)
    resumed = (await service.kpis(case_id))["first_response"]
    assert resumed["status"] == "in_progress"
    assert same_moment(resumed["due_at"], OPENED + timedelta(hours=16))
    assert (resumed["consumed_seconds"], resumed["paused_seconds"]) == (2 * 3600, 8 * 3600)

    events = await service.published_count(6)
    assert {e.kpi for e in of_type(events, c.KpiPaused)} == {"first_response", "resolution"}
    resumes = {e.kpi: e.due_at for e in of_type(events, c.KpiResumed)}
    assert resumes == {
        "first_response": OPENED + timedelta(hours=16),
        "resolution": OPENED + timedelta(days=5, hours=8),
    }


async def test_a_resolution_before_the_opening_is_applied_once_the_case_opens(
    service: Service,
) -> None:
    case_id = uuid.uuid4()
    await service.case_event(resolved(case_id, at=OPENED + timedelta(hours=2)))
    missing = await service.client.get(
        f"/cases/{case_id}/kpis", headers=bearer(service.app, "agent")
    )
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"

    await service.case_event(opened(case_id))

    kpis = await service.kpis(case_id)
    assert {name: kpi["status"] for name, kpi in kpis.items()} == {
        "first_response": "succeeded",
        "resolution": "succeeded",
    }
    events = await service.published_count(4)
    assert [type(e) for e in events] == [c.KpiStarted, c.KpiStarted, c.KpiSucceeded, c.KpiSucceeded]
    assert await service.tick(OPENED + timedelta(days=30)) == 0


def logged(case_id: uuid.UUID, *, at: datetime, **fields: object) -> c.Event:
    return c.sample("activity.logged").model_copy(
        update={"case_id": case_id, "occurred_at": at, "activity_id": uuid.uuid4(), **fields}
    )


async def test_only_an_agents_reply_to_the_customer_is_a_first_response(service: Service) -> None:
    case_id = uuid.uuid4()
    await service.case_event(opened(case_id))

    # An agent's internal note, then a customer's follow-up: neither answers the customer.
    await service.case_event(logged(case_id, at=OPENED + timedelta(hours=1), to_customer=False))
    await service.case_event(
        logged(case_id, at=OPENED + timedelta(hours=2), to_customer=True, agent_id=None)
    )
    assert (await service.kpis(case_id))["first_response"]["status"] == "in_progress"

    await service.case_event(logged(case_id, at=OPENED + timedelta(hours=3), to_customer=True))
    kpis = await service.kpis(case_id)
    assert (kpis["first_response"]["status"], kpis["resolution"]["status"]) == (
        "succeeded",
        "in_progress",
    )
    [met] = of_type(await service.published_count(3), c.KpiSucceeded)
    assert (met.kpi, met.succeeded_at, met.due_at) == (
        "first_response",
        OPENED + timedelta(hours=3),
        OPENED + timedelta(hours=8),
    )


async def test_a_reopened_case_continues_its_resolution_and_a_second_resolution_meets_it(
    service: Service,
) -> None:
    case_id = uuid.uuid4()
    await service.case_event(opened(case_id))
    await service.case_event(resolved(case_id, at=OPENED + timedelta(hours=5)))
    reopened = c.sample("case.reopened").model_copy(
        update={"case_id": case_id, "occurred_at": OPENED + timedelta(days=2)}
    )
    await service.case_event(reopened, event_id="reopened")
    await service.case_event(reopened, event_id="reopened")  # redelivered
    await service.case_event(reopened)  # published again under another id

    service.clock.moment = OPENED + timedelta(days=2, hours=6)
    kpis = await service.kpis(case_id)
    resolution = kpis["resolution"]
    # 5 hours were used before the resolution, 6 since the reopening; 109 are left.
    assert (resolution["status"], resolution["consumed_seconds"]) == ("in_progress", 11 * 3600)
    assert same_moment(resolution["due_at"], OPENED + timedelta(days=2, hours=115))
    assert kpis["first_response"]["status"] == "succeeded"  # untouched by the reopening
    events = await service.published_count(5)
    [resumed] = of_type(events, c.KpiResumed)
    assert (resumed.kpi, resumed.resumed_at, resumed.due_at) == (
        "resolution",
        OPENED + timedelta(days=2),
        OPENED + timedelta(days=2, hours=115),
    )
    started = {e.kpi: e.kpi_instance_id for e in of_type(events, c.KpiStarted)}
    assert resumed.kpi_instance_id == started["resolution"]  # the same instance, continued

    await service.case_event(resolved(case_id, at=OPENED + timedelta(days=2, hours=6)))

    assert (await service.kpis(case_id))["resolution"]["status"] == "succeeded"
    events = await service.published_count(6)
    assert [(type(e), e.kpi) for e in events] == [
        (c.KpiStarted, "first_response"),
        (c.KpiStarted, "resolution"),
        (c.KpiSucceeded, "first_response"),
        (c.KpiSucceeded, "resolution"),
        (c.KpiResumed, "resolution"),
        (c.KpiSucceeded, "resolution"),
    ]
    assert events[-1].due_at == OPENED + timedelta(days=2, hours=115)
    assert await service.tick(OPENED + timedelta(days=30)) == 0


async def test_cancelling_a_case_cancels_its_open_kpis(service: Service) -> None:
    case_id = uuid.uuid4()
    await service.case_event(opened(case_id))
    await service.case_event(logged(case_id, at=OPENED + timedelta(hours=1), to_customer=True))
    cancelled = c.sample("case.cancelled").model_copy(
        update={"case_id": case_id, "occurred_at": OPENED + timedelta(hours=2)}
    )
    await service.case_event(cancelled)

    kpis = await service.kpis(case_id)
    assert {name: kpi["status"] for name, kpi in kpis.items()} == {
        "first_response": "succeeded",
        "resolution": "cancelled",
    }
    events = await service.published_count(4)
    assert [(type(e), e.kpi) for e in events][2:] == [
        (c.KpiSucceeded, "first_response"),
        (c.KpiCancelled, "resolution"),
    ]


async def test_health_and_the_api_documents(service: Service) -> None:
    assert (await service.client.get("/health/live")).json() == {"status": "ok"}
    ready = await service.client.get("/health/ready")
    assert ready.json()["checks"]["database"] == "ok"
    paths = (await service.client.get("/openapi.json")).json()["paths"]
    assert {
        "/cases/{case_id}/kpis",
        "/calendars",
        "/policies",
        "/reports/compliance",
    } <= set(paths)
    doc = (await service.client.get("/asyncapi.json")).json()
    assert set(doc["channels"]) == {
        "cases.case.v1:consume",
        "intake.customer.v1:consume",
        "routing.queue-item.v1:consume",
        "routing.agent.v1:consume",
        "sla.kpi.v1:publish",
        "intake.notification.v1:publish",
    }
    assert (await service.client.get("/policies")).status_code == 401


async def test_the_compliance_report_counts_met_and_breached_kpis(service: Service) -> None:
    late, quick = uuid.uuid4(), uuid.uuid4()
    await service.case_event(opened(late))
    await service.case_event(opened(quick))
    await service.case_event(logged(quick, at=OPENED + timedelta(hours=1), to_customer=True))
    await service.tick(OPENED + timedelta(hours=12))
    await service.case_event(resolved(late, at=OPENED + timedelta(hours=20)))

    supervisor = bearer(service.app, "supervisor")
    period = {"from": iso(OPENED), "to": iso(OPENED + timedelta(days=1))}
    r = await service.client.get("/reports/compliance", params=period, headers=supervisor)

    assert r.status_code == 200, r.text
    report = r.json()
    assert same_moment(report["from"], OPENED)
    assert {k["kpi"]: (k["met"], k["breached"], k["compliance"]) for k in report["kpis"]} == {
        "first_response": (1, 1, 0.5),
        "resolution": (1, 0, 1.0),
    }
    earlier = {"from": iso(OPENED - timedelta(days=2)), "to": iso(OPENED)}
    r = await service.client.get("/reports/compliance", params=earlier, headers=supervisor)
    assert r.json()["kpis"] == []
    agent = bearer(service.app, "agent")
    assert (
        await service.client.get("/reports/compliance", params=period, headers=agent)
    ).status_code == 403
    backwards = {"from": period["to"], "to": period["from"]}
    r = await service.client.get("/reports/compliance", params=backwards, headers=supervisor)
    assert r.status_code == 422


async def test_an_admin_adds_a_calendar(service: Service) -> None:
    body = {
        "name": "Vilnius office",
        "time_zone": "Europe/Vilnius",
        "week": {day: ["08:00-12:00", "13:00-17:00"] for day in ("monday", "tuesday")},
        "holidays": ["2026-02-16"],
        "special_days": {"2026-03-07": ["10:00-14:00"]},
    }
    admin, agent = bearer(service.app, "admin"), bearer(service.app, "agent")

    assert (await service.client.post("/calendars", json=body, headers=agent)).status_code == 403
    r = await service.client.post("/calendars", json=body, headers=admin)
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["week"]["monday"] == ["08:00-12:00", "13:00-17:00"]
    assert created["week"]["friday"] == []
    assert created["holidays"] == ["2026-02-16"]
    assert created["special_days"] == {"2026-03-07": ["10:00-14:00"]}
    listed = (await service.client.get("/calendars", headers=agent)).json()
    assert [cal["name"] for cal in listed] == ["24x7", "Vilnius office"]
    assert [cal for cal in listed if cal["name"] == "Vilnius office"] == [created]

    again = await service.client.post("/calendars", json=body, headers=admin)
    assert again.status_code == 409
    bad = await service.client.post(
        "/calendars", json={**body, "name": "Nowhere", "time_zone": "Mars/Olympus"}, headers=admin
    )
    assert bad.status_code == 422
    assert bad.headers["content-type"] == "application/problem+json"


async def test_with_a_real_broker_the_service_starts_kpis_and_its_timer_fires(
    fresh_database: str, kafka_bootstrap: str
) -> None:
    await create_topics(kafka_bootstrap, [topics.CASES, topics.SLA, topics.dlq(topics.CASES)])
    settings = SlaSettings(
        database_url=fresh_database,
        kafka_bootstrap_servers=kafka_bootstrap,
        timer_interval_seconds=0.05,
    )
    # The clock stands past the first response's warning time and before its deadline.
    app = build(settings, clock=MovableClock(OPENED + timedelta(hours=7)), configure_process=False)
    published: list[c.Event] = []
    case_id = uuid.uuid4()

    @app.kit.kafka.subscriber(topics.SLA, group_id=f"probe-{uuid.uuid4().hex}")
    async def probe(message: KafkaMessage) -> None:
        event = c.decode(message.headers["ce_type"], message.body)
        # The broker is shared by the whole test run: other tests' cases pass by too.
        if getattr(event, "case_id", None) == case_id:
            published.append(event)

    async def warned() -> list[c.Event] | None:
        return list(published) if of_type(published, c.KpiNearingBreach) else None

    await asyncio.to_thread(upgrade, fresh_database, MIGRATIONS)
    async with app.fastapi.router.lifespan_context(app.fastapi):
        await publish_event(app.kit.kafka, opened(case_id), topic=topics.CASES)
        events = await eventually(warned, timeout=25)

    assert [(type(e), e.kpi) for e in events if isinstance(e, c.KpiStarted)] == [
        (c.KpiStarted, "first_response"),
        (c.KpiStarted, "resolution"),
    ]
    [warning] = of_type(events, c.KpiNearingBreach)
    assert (warning.case_id, warning.occurred_at) == (case_id, OPENED + timedelta(hours=6))


async def test_the_compliance_report_groups_counts_and_shares_and_gives_csv(
    service: Service,
) -> None:
    # On the default policy (first response 8 h, resolution 5 days, 24x7).
    quick, late, waiting = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await service.case_event(opened(quick))
    await service.case_event(opened(late))
    await service.case_event(opened(waiting, at=OPENED + timedelta(hours=11)))
    await service.case_event(logged(quick, at=OPENED + timedelta(hours=1), to_customer=True))
    await service.case_event(resolved(quick, at=OPENED + timedelta(hours=10)))
    await service.tick(OPENED + timedelta(hours=12))  # the late case's first response breaches
    await service.case_event(resolved(late, at=OPENED + timedelta(hours=20)))

    supervisor = bearer(service.app, "supervisor")
    period = {"from": iso(OPENED), "to": iso(OPENED + timedelta(days=1))}
    r = await service.client.get(
        "/reports/compliance", params={**period, "group_by": "kpi"}, headers=supervisor
    )

    assert r.status_code == 200, r.text
    report = r.json()
    assert report["group_by"] == ["kpi"]
    rows = {row["group"]["kpi"]: row for row in report["rows"]}
    first, resolution = rows["first_response"], rows["resolution"]
    assert (first["met"], first["breached"], first["in_progress"]) == (1, 1, 1)
    # The one met in time used 1 h of its 8.
    assert (first["median_consumed_share"], first["p90_consumed_share"]) == (0.125, 0.125)
    assert (resolution["met"], resolution["breached"], resolution["in_progress"]) == (2, 0, 1)
    # 10 h and 20 h of 120: the median between them, the 90th percentile near the larger.
    assert resolution["median_consumed_share"] == 0.125
    assert resolution["p90_consumed_share"] == round(10 / 120 + 0.9 * (10 / 120), 4)
    assert resolution["compliance"] == 1.0

    r = await service.client.get(
        "/reports/compliance",
        params={**period, "group_by": "policy,agent"},
        headers={**supervisor, "Accept": "text/csv"},
    )
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    lines = r.text.strip().split("\r\n")
    assert lines[0] == (
        "policy,agent,met,breached,in_progress,compliance,median_consumed_share,p90_consumed_share"
    )
    # Nobody works these cases: one row, the agent left blank.
    [row] = lines[1:]
    assert row.split(",")[:5] == [DEFAULT_POLICY, "", "3", "1", "2"]

    # By the queue routing last placed each case in: the waiting case was never queued.
    billing = uuid.uuid4()
    for case_id in (quick, late):
        queued = c.sample("case.queued").model_copy(
            update={"case_id": case_id, "queue_id": billing, "occurred_at": OPENED}
        )
        await publish_event(service.broker, queued, topic=topics.ROUTING)
    r = await service.client.get(
        "/reports/compliance", params={**period, "group_by": "queue"}, headers=supervisor
    )
    by_queue = {row["group"]["queue"]: row for row in r.json()["rows"]}
    assert {
        q: (row["met"], row["breached"], row["in_progress"]) for q, row in by_queue.items()
    } == {
        str(billing): (3, 1, 0),
        None: (0, 0, 2),
    }

    for bad in ("team", "kpi,kpi", "", "kpi,nonsense"):
        r = await service.client.get(
            "/reports/compliance", params={**period, "group_by": bad}, headers=supervisor
        )
        assert r.status_code == 422, (bad, r.text)
        assert r.headers["content-type"] == "application/problem+json"


def customer_wrote(case_id: uuid.UUID, *, at: datetime) -> c.Event:
    """The customer's follow-up on the case, as cases logs it from intake's interaction."""
    return logged(
        case_id,
        at=at,
        kind=c.ActivityKind.EMAIL,
        agent_id=None,
        to_customer=False,
        interaction_id=uuid.uuid4(),
        duration_minutes=0,
        billable=False,
    )


async def test_the_next_response_runs_from_each_customer_message_after_an_answer(
    service: Service,
) -> None:
    await add_policy(
        service,
        name="Conversations",
        calendar_id=CALENDAR_24X7,
        kpis={
            "first_response": timedelta(hours=8),
            "next_response": timedelta(hours=2),
            "resolution": timedelta(days=5),
        },
        priorities=["normal"],
    )
    case_id = uuid.uuid4()
    await service.case_event(opened(case_id))
    # The customer's first message is the opening: only the first response runs.
    assert set(await service.kpis(case_id)) == {"first_response", "resolution"}
    await service.case_event(customer_wrote(case_id, at=OPENED + timedelta(minutes=30)))
    assert set(await service.kpis(case_id)) == {"first_response", "resolution"}

    reply = {"to_customer": True}
    await service.case_event(logged(case_id, at=OPENED + timedelta(hours=1), **reply))
    await service.case_event(customer_wrote(case_id, at=OPENED + timedelta(hours=2)))
    service.clock.moment = OPENED + timedelta(hours=2)
    nxt = (await service.kpis(case_id))["next_response"]
    assert (nxt["status"], same_moment(nxt["due_at"], OPENED + timedelta(hours=4))) == (
        "in_progress",
        True,
    )
    # A second message before the answer changes nothing: the first one waits.
    await service.case_event(customer_wrote(case_id, at=OPENED + timedelta(hours=2, minutes=30)))
    assert same_moment(
        (await service.kpis(case_id))["next_response"]["due_at"], OPENED + timedelta(hours=4)
    )

    await service.case_event(logged(case_id, at=OPENED + timedelta(hours=3), **reply))
    met = (await service.kpis(case_id))["next_response"]
    assert (met["status"], met["breached"]) == ("succeeded", False)

    # The next message starts it afresh: two whole hours from it, then a breach unanswered.
    await service.case_event(customer_wrote(case_id, at=OPENED + timedelta(hours=5)))
    service.clock.moment = OPENED + timedelta(hours=5)
    again = (await service.kpis(case_id))["next_response"]
    assert again["status"] == "in_progress" and again["consumed_seconds"] == 0
    assert same_moment(again["due_at"], OPENED + timedelta(hours=7))
    assert await service.tick(OPENED + timedelta(hours=7)) >= 1
    breached = (await service.kpis(case_id))["next_response"]
    assert (breached["status"], breached["breached"]) == ("breached", True)
    states = [entry["state"] for entry in breached["log"]]
    assert states == ["started", "met", "resumed", "breached", "escalated"]
