"""Re-evaluation of a case's KPIs when the facts its policy was chosen on change (a new
priority, another contract), through Kafka (TestKafkaBroker) and HTTP, with a real PostgreSQL
and a clock the tests move."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, time, timedelta
from typing import Any

import httpx
import pytest
from faststream.kafka import KafkaBroker, TestKafkaBroker
from faststream.kafka.annotations import KafkaMessage
from sqlalchemy import func, select

import caseflow_contracts as c
from caseflow_contracts import topics
from caseflow_servicekit import PeriodicJob, ServiceApp
from caseflow_servicekit.db import OUTBOX_TABLE
from caseflow_servicekit.testing import bearer, eventually, publish_event, running
from sla.adapters.tables import metadata
from sla.bootstrap import MIGRATIONS, build
from sla.domain import Calendar, add_working_time
from sla.settings import SlaSettings

pytestmark = pytest.mark.service

CALENDAR_24X7 = "1c2d0001-5a1a-4c00-8000-000000000001"
DEFAULT_POLICY = "1c2d0002-5a1a-4c00-8000-000000000001"
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday")
OFFICE_HOURS = Calendar.business_hours("UTC")  # 09:00-17:00, Monday to Friday, in UTC

OPENED = datetime(2026, 3, 6, 16, 15, tzinfo=UTC)
"""A Friday, three quarters of an hour before the office closes for the weekend."""
CHANGED = OPENED + timedelta(minutes=30)
"""When the facts change: 30 minutes of office time used, a quarter of an hour left on Friday."""
MONDAY = datetime(2026, 3, 9, tzinfo=UTC)

URGENT_FIRST_RESPONSE = 3600
URGENT_RESOLUTION = 4 * 3600
REST_FIRST_RESPONSE = 8 * 3600
REST_RESOLUTION = 24 * 3600
RAISED = "priority changed to urgent"
NEARING = "sla.nearing_breach"


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
        notifications: list[c.NotificationRequested],
    ) -> None:
        self.app, self.client, self.broker = app, client, broker
        self.clock, self.published, self._notifications = clock, published, notifications
        self.admin = bearer(app, "admin")
        self.agent = bearer(app, "agent")

    async def case_event(self, event: c.Event) -> None:
        await publish_event(self.broker, event, topic=topics.CASES)

    async def routing_event(self, event: c.Event) -> None:
        await publish_event(self.broker, event, topic=topics.ROUTING)

    async def agent_event(self, event: c.Event) -> None:
        await publish_event(self.broker, event, topic=topics.ROUTING_AGENTS)

    async def tick(self, at: datetime) -> int:
        """One timer pass with the clock moved to `at`."""
        self.clock.moment = at
        timer: PeriodicJob = self.app.fastapi.state.kpi_timer
        return await timer.run_once()

    async def kpis(self, case_id: uuid.UUID, *, at: datetime) -> dict[str, dict[str, Any]]:
        """The case's KPIs as `GET /cases/{id}/kpis` shows them with the clock at `at`."""
        self.clock.moment = at
        r = await self.client.get(f"/cases/{case_id}/kpis", headers=self.agent)
        assert r.status_code == 200, r.text
        return {kpi["kpi"]: kpi for kpi in r.json()}

    async def add_calendar(self, name: str, week: dict[str, list[str]]) -> str:
        body = {"name": name, "time_zone": "UTC", "week": week}
        r = await self.client.post("/calendars", json=body, headers=self.admin)
        assert r.status_code == 201, r.text
        return str(r.json()["calendar_id"])

    async def add_policy(self, body: dict[str, Any]) -> str:
        r = await self.client.post("/policies", json=body, headers=self.admin)
        assert r.status_code == 201, r.text
        return str(r.json()["policy_id"])

    async def all_relayed(self) -> None:
        """Wait until every event committed so far has gone out of the outbox (and so reached
        the probes: the in-memory broker hands each message over as it is published)."""
        outbox = metadata.tables[OUTBOX_TABLE]

        async def drained() -> bool | None:
            async with self.app.kit.sessions() as session:
                left = await session.scalar(
                    select(func.count()).select_from(outbox).where(outbox.c.relayed_at.is_(None))
                )
            return True if left == 0 else None

        await eventually(drained)

    async def events(self, case_id: uuid.UUID) -> list[Any]:
        """The KPI events of the case published so far, once the outbox has drained."""
        await self.all_relayed()
        return [e for e in self.published if getattr(e, "case_id", None) == case_id]

    async def re_evaluations(self, case_id: uuid.UUID) -> dict[str, c.KpiReEvaluated]:
        """The case's `kpi.re_evaluated` events by KPI (each KPI re-evaluated at most once)."""
        found = [e for e in await self.events(case_id) if isinstance(e, c.KpiReEvaluated)]
        by_kpi = {e.kpi: e for e in found}
        assert len(by_kpi) == len(found), found
        return by_kpi

    async def notifications(self) -> list[c.NotificationRequested]:
        await self.all_relayed()
        return list(self._notifications)


@pytest.fixture
async def service(fresh_database: str) -> AsyncIterator[Service]:
    settings = SlaSettings(database_url=fresh_database, kafka_bootstrap_servers="test:9092")
    clock = MovableClock(OPENED)
    app = build(settings, clock=clock, configure_process=False)
    published: list[c.Event] = []
    notifications: list[c.NotificationRequested] = []

    @app.kit.kafka.subscriber(topics.SLA, group_id="probe")
    async def probe(message: KafkaMessage) -> None:
        published.append(c.decode(message.headers["ce_type"], message.body))

    @app.kit.kafka.subscriber(topics.INTAKE_NOTIFICATIONS, group_id="probe")
    async def notification_probe(message: KafkaMessage) -> None:
        event = c.decode(message.headers["ce_type"], message.body)
        assert isinstance(event, c.NotificationRequested)
        notifications.append(event)

    async with (
        TestKafkaBroker(app.kit.kafka) as broker,
        running(app, migrations=MIGRATIONS) as client,
    ):
        yield Service(app, client, broker, clock, published, notifications)


# --- Events and policies ------------------------------------------------------------------


def opened(
    case_id: uuid.UUID,
    *,
    at: datetime = OPENED,
    priority: c.Priority = c.Priority.NORMAL,
    contract_id: uuid.UUID | None = None,
    sla_policy_id: str | None = None,
) -> c.CaseOpened:
    """A case opened at `at`, covered by `contract_id` (with its policy) or by no contract."""
    event = c.sample("case.opened").model_copy(
        update={
            "case_id": case_id,
            "occurred_at": at,
            "status": c.CaseStatus.NEW,
            "priority": priority,
            "request_type": None,
            "entitlement_id": None,
            "entitlement_rule": None,
            "contract_id": contract_id,
            "sla_policy_id": None if sla_policy_id is None else uuid.UUID(sla_policy_id),
            "calendar_id": None,
        }
    )
    assert isinstance(event, c.CaseOpened)
    return event


def updated(case_id: uuid.UUID, *, at: datetime = CHANGED, **fields: Any) -> c.CaseUpdated:
    """`case.updated` with `fields` (the typed ones and `changes`); the typed ones default to
    "not changed"."""
    event = c.sample("case.updated").model_copy(
        update={
            "case_id": case_id,
            "occurred_at": at,
            "priority": None,
            "subject": None,
            "request_type": None,
            **fields,
        }
    )
    assert isinstance(event, c.CaseUpdated)
    return event


def raised_to_urgent(case_id: uuid.UUID, *, at: datetime = CHANGED) -> c.CaseUpdated:
    return updated(case_id, at=at, priority=c.Priority.URGENT, changes={"priority": "urgent"})


def entitlement_changed(
    case_id: uuid.UUID,
    *,
    contract_id: uuid.UUID | None,
    sla_policy_id: str | None,
    calendar_id: str | None = None,
    at: datetime = CHANGED,
) -> c.Event:
    return c.sample("case.entitlement_changed").model_copy(
        update={
            "case_id": case_id,
            "occurred_at": at,
            "contract_id": contract_id,
            "entitlement_id": None if contract_id is None else uuid.uuid4(),
            "sla_policy_id": None if sla_policy_id is None else uuid.UUID(sla_policy_id),
            "calendar_id": None if calendar_id is None else uuid.UUID(calendar_id),
        }
    )


def logged_reply(case_id: uuid.UUID, *, at: datetime) -> c.Event:
    """An agent's answer sent to the customer: it meets the first response."""
    return c.sample("activity.logged").model_copy(
        update={
            "case_id": case_id,
            "occurred_at": at,
            "activity_id": uuid.uuid4(),
            "agent_id": uuid.uuid4(),
            "to_customer": True,
        }
    )


def kpi(name: str, target: int, **warning: Any) -> dict[str, Any]:
    return {"name": name, "target_seconds": target, **warning}


async def tiered_policy(service: Service) -> tuple[str, str]:
    """A policy every case falls under, on office hours: tight targets for urgent cases, loose
    ones for the rest; (policy id, office calendar id)."""
    office = await service.add_calendar("Office hours", {day: ["09:00-17:00"] for day in WEEKDAYS})
    policy_id = await service.add_policy(
        {
            "name": "Tiered",
            "calendar_id": office,
            "items": [
                {
                    "name": "urgent",
                    "applies_to": {"priorities": ["urgent"]},
                    "kpis": [
                        kpi("first_response", URGENT_FIRST_RESPONSE),
                        kpi("resolution", URGENT_RESOLUTION),
                    ],
                },
                {
                    "name": "everything else",
                    "kpis": [
                        kpi("first_response", REST_FIRST_RESPONSE),
                        kpi("resolution", REST_RESOLUTION),
                    ],
                },
            ],
        }
    )
    return policy_id, office


async def contract_policy(
    service: Service, *, kpis: list[dict[str, Any]] | None = None, name: str = "Gold contract"
) -> str:
    """A policy on 24x7 that no case falls under by its facts: only a contract names it."""
    return await service.add_policy(
        {
            "name": name,
            "calendar_id": CALENDAR_24X7,
            "applies_to": {"priorities": ["low"]},
            "kpis": kpis or [kpi("first_response", 2 * 3600), kpi("resolution", 8 * 3600)],
        }
    )


def moment(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def log_of(view: dict[str, Any]) -> list[tuple[str, datetime | None, str | None]]:
    return [(entry["state"], moment(entry["at"]), entry["reason"]) for entry in view["log"]]


# --- A new priority -----------------------------------------------------------------------


async def test_raising_the_priority_re_evaluates_the_kpis_keeping_the_time_used(
    service: Service,
) -> None:
    policy_id, office = await tiered_policy(service)
    case_id = uuid.uuid4()
    await service.case_event(opened(case_id))
    before = await service.kpis(case_id, at=CHANGED)
    assert before["first_response"]["target_seconds"] == REST_FIRST_RESPONSE
    assert moment(before["first_response"]["due_at"]) == MONDAY + timedelta(hours=16, minutes=15)

    await service.case_event(raised_to_urgent(case_id))

    re_evaluated = await service.re_evaluations(case_id)
    assert set(re_evaluated) == {"first_response", "resolution"}
    first = re_evaluated["first_response"]
    # 30 minutes of the hour are left: a quarter of an hour on Friday, the rest on Monday.
    first_due = add_working_time(CHANGED, timedelta(minutes=30), OFFICE_HOURS)
    assert first_due == MONDAY + timedelta(hours=9, minutes=15)
    assert (
        first.occurred_at,
        str(first.policy_id),
        str(first.calendar_id),
        first.target_seconds,
        first.status,
        first.due_at,
        first.warn_at,
    ) == (CHANGED, policy_id, office, URGENT_FIRST_RESPONSE, "in_progress", first_due, None)
    assert "priority" in first.reason
    assert first.reason == RAISED
    started = {e.kpi: e for e in await service.events(case_id) if isinstance(e, c.KpiStarted)}
    assert first.kpi_instance_id == started["first_response"].kpi_instance_id
    resolution = re_evaluated["resolution"]
    assert (resolution.target_seconds, resolution.due_at, resolution.reason) == (
        URGENT_RESOLUTION,
        add_working_time(CHANGED, timedelta(hours=3, minutes=30), OFFICE_HOURS),
        RAISED,
    )
    assert resolution.due_at == MONDAY + timedelta(hours=12, minutes=15)

    kpis = await service.kpis(case_id, at=CHANGED + timedelta(minutes=10))
    view = kpis["first_response"]
    assert (view["target_seconds"], view["status"], view["policy_id"]) == (
        URGENT_FIRST_RESPONSE,
        "in_progress",
        policy_id,
    )
    assert moment(view["due_at"]) == first_due
    assert (view["consumed_seconds"], view["remaining_seconds"]) == (40 * 60, 20 * 60)
    assert log_of(view) == [("started", OPENED, None), ("re_evaluated", CHANGED, RAISED)]
    assert log_of(kpis["resolution"])[-1] == ("re_evaluated", CHANGED, RAISED)
    assert kpis["resolution"]["target_seconds"] == URGENT_RESOLUTION


async def test_the_timer_fires_at_the_new_deadlines(service: Service) -> None:
    await tiered_policy(service)
    case_id = uuid.uuid4()
    await service.case_event(opened(case_id))
    await service.case_event(raised_to_urgent(case_id))
    first_due = MONDAY + timedelta(hours=9, minutes=15)
    resolution_due = MONDAY + timedelta(hours=12, minutes=15)

    assert await service.tick(first_due - timedelta(seconds=1)) == 0
    assert await service.tick(first_due) == 1
    assert await service.tick(resolution_due - timedelta(seconds=1)) == 0
    assert await service.tick(resolution_due) == 1
    # The deadlines the case had before it became urgent fire nothing.
    assert await service.tick(MONDAY + timedelta(hours=16, minutes=15)) == 0
    assert await service.tick(MONDAY + timedelta(days=3)) == 0

    breaches = [e for e in await service.events(case_id) if isinstance(e, c.KpiBreached)]
    assert [(e.kpi, e.due_at) for e in breaches] == [
        ("first_response", first_due),
        ("resolution", resolution_due),
    ]
    kpis = await service.kpis(case_id, at=MONDAY + timedelta(days=3))
    first = kpis["first_response"]
    assert (first["status"], first["breached"], moment(first["breached_at"])) == (
        "breached",
        True,
        first_due,
    )
    assert [state for state, _, _ in log_of(first)] == [
        "started",
        "re_evaluated",
        "breached",
        "escalated",
    ]


@pytest.mark.parametrize(
    "update",
    [
        {"subject": "Charged twice", "changes": {"subject": "Charged twice"}},
        {"changes": {"parameters": {"amount": "150.00"}}},
        # A new priority, under the same item: same targets, same calendar, same policy.
        {"priority": c.Priority.HIGH, "changes": {"priority": "high"}},
        # A new request type no item looks at.
        {"request_type": "billing.invoice", "changes": {"request_type": "billing.invoice"}},
    ],
    ids=["subject", "parameters", "same-item-priority", "request-type"],
)
async def test_an_update_that_leaves_the_terms_as_they_were_re_evaluates_nothing(
    service: Service, update: dict[str, Any]
) -> None:
    await tiered_policy(service)
    case_id = uuid.uuid4()
    await service.case_event(opened(case_id))
    before = await service.kpis(case_id, at=CHANGED)

    await service.case_event(updated(case_id, **update))

    metrics = (await service.client.get("/metrics")).text
    assert (
        'caseflow_events_consumed_total{consumer="sla",outcome="applied",topic="cases.case.v1"} 2.0'
        in metrics
    )
    assert "caseflow_dead_letters_total{" not in metrics
    assert await service.re_evaluations(case_id) == {}
    assert await service.kpis(case_id, at=CHANGED) == before
    assert [type(e) for e in await service.events(case_id)] == [c.KpiStarted, c.KpiStarted]


async def test_a_subject_update_then_a_priority_raise_re_evaluates_once(service: Service) -> None:
    await tiered_policy(service)
    case_id = uuid.uuid4()
    await service.case_event(opened(case_id))

    await service.case_event(
        updated(
            case_id,
            at=OPENED + timedelta(minutes=10),
            subject="Charged twice",
            changes={"subject": "Charged twice"},
        )
    )
    assert await service.re_evaluations(case_id) == {}
    await service.case_event(raised_to_urgent(case_id))

    re_evaluated = await service.re_evaluations(case_id)
    assert {name: e.target_seconds for name, e in re_evaluated.items()} == {
        "first_response": URGENT_FIRST_RESPONSE,
        "resolution": URGENT_RESOLUTION,
    }


async def test_an_update_after_the_kpi_was_met_leaves_it_as_it_ended(service: Service) -> None:
    policy_id, _ = await tiered_policy(service)
    case_id = uuid.uuid4()
    await service.case_event(opened(case_id))
    await service.case_event(logged_reply(case_id, at=OPENED + timedelta(minutes=15)))
    met = (await service.kpis(case_id, at=CHANGED))["first_response"]
    assert met["status"] == "succeeded"

    await service.case_event(raised_to_urgent(case_id))

    # Only the resolution, still open, is measured against the urgent terms.
    re_evaluated = await service.re_evaluations(case_id)
    assert set(re_evaluated) == {"resolution"}
    kpis = await service.kpis(case_id, at=CHANGED)
    assert kpis["first_response"] == met
    assert (met["target_seconds"], met["breached"], met["policy_id"]) == (
        REST_FIRST_RESPONSE,
        False,
        policy_id,
    )
    assert [state for state, _, _ in log_of(kpis["first_response"])] == ["started", "met"]
    assert kpis["resolution"]["target_seconds"] == URGENT_RESOLUTION


async def test_an_update_after_every_kpi_ended_publishes_nothing(service: Service) -> None:
    await tiered_policy(service)
    case_id = uuid.uuid4()
    await service.case_event(opened(case_id))
    resolved = c.sample("case.resolved").model_copy(
        update={"case_id": case_id, "occurred_at": OPENED + timedelta(minutes=20)}
    )
    await service.case_event(resolved)
    before = await service.kpis(case_id, at=CHANGED)

    await service.case_event(raised_to_urgent(case_id))

    assert await service.re_evaluations(case_id) == {}
    assert await service.kpis(case_id, at=CHANGED) == before
    assert {view["target_seconds"] for view in before.values()} == {
        REST_FIRST_RESPONSE,
        REST_RESOLUTION,
    }


async def test_a_paused_kpi_is_re_evaluated_without_a_deadline_and_resumes_on_the_new_target(
    service: Service,
) -> None:
    await tiered_policy(service)
    case_id = uuid.uuid4()
    await service.case_event(opened(case_id))
    waiting = c.sample("case.status_changed").model_copy(
        update={
            "case_id": case_id,
            "occurred_at": OPENED + timedelta(minutes=20),
            "to_status": c.CaseStatus.WAITING_FOR_CUSTOMER,
        }
    )
    await service.case_event(waiting)

    await service.case_event(raised_to_urgent(case_id))

    first = (await service.re_evaluations(case_id))["first_response"]
    assert (first.status, first.due_at, first.target_seconds) == (
        "paused",
        None,
        URGENT_FIRST_RESPONSE,
    )
    back = waiting.model_copy(
        update={"occurred_at": MONDAY + timedelta(hours=10), "to_status": c.CaseStatus.IN_PROGRESS}
    )
    await service.case_event(back)
    # 20 minutes were used before the wait: 40 are left from Monday 10:00.
    view = (await service.kpis(case_id, at=MONDAY + timedelta(hours=10)))["first_response"]
    assert (view["status"], view["consumed_seconds"]) == ("in_progress", 20 * 60)
    assert moment(view["due_at"]) == MONDAY + timedelta(hours=10, minutes=40)
    assert await service.tick(MONDAY + timedelta(hours=10, minutes=40)) == 1


# --- Another contract ---------------------------------------------------------------------


async def test_a_new_contract_moves_the_kpis_to_its_policy_and_calendar(service: Service) -> None:
    tiered, _ = await tiered_policy(service)
    gold = await contract_policy(service)
    contract_id, case_id = uuid.uuid4(), uuid.uuid4()
    await service.case_event(opened(case_id))
    before = await service.kpis(case_id, at=CHANGED)
    assert {view["policy_id"] for view in before.values()} == {tiered}

    await service.case_event(
        entitlement_changed(case_id, contract_id=contract_id, sla_policy_id=gold)
    )

    re_evaluated = await service.re_evaluations(case_id)
    # 30 office minutes were used; the rest counts round the clock.
    assert {
        name: (str(e.policy_id), str(e.calendar_id), e.target_seconds, e.due_at, e.reason)
        for name, e in re_evaluated.items()
    } == {
        "first_response": (
            gold,
            CALENDAR_24X7,
            2 * 3600,
            CHANGED + timedelta(hours=1, minutes=30),
            "contract changed",
        ),
        "resolution": (
            gold,
            CALENDAR_24X7,
            8 * 3600,
            CHANGED + timedelta(hours=7, minutes=30),
            "contract changed",
        ),
    }
    kpis = await service.kpis(case_id, at=CHANGED + timedelta(hours=1))
    first = kpis["first_response"]
    assert first["target_seconds"] == 2 * 3600
    assert moment(first["due_at"]) == CHANGED + timedelta(hours=1, minutes=30)
    # Friday evening counts now: 30 minutes before the change, an hour since.
    assert first["consumed_seconds"] == 90 * 60
    assert log_of(first)[-1] == ("re_evaluated", CHANGED, "contract changed")
    # And the timer fires the new deadline, on Friday evening rather than on Monday.
    assert await service.tick(CHANGED + timedelta(hours=1, minutes=29)) == 0
    assert await service.tick(CHANGED + timedelta(hours=1, minutes=30)) == 1


async def test_a_kpi_moved_to_the_contracts_policy_shows_that_policy(service: Service) -> None:
    await tiered_policy(service)
    gold = await contract_policy(service)
    case_id = uuid.uuid4()
    await service.case_event(opened(case_id))

    await service.case_event(
        entitlement_changed(case_id, contract_id=uuid.uuid4(), sla_policy_id=gold)
    )

    assert {str(e.policy_id) for e in (await service.re_evaluations(case_id)).values()} == {gold}
    kpis = await service.kpis(case_id, at=CHANGED)
    assert {view["policy_id"] for view in kpis.values()} == {gold}


async def test_a_second_change_under_the_same_contract_re_evaluates_nothing(
    service: Service,
) -> None:
    await tiered_policy(service)
    gold = await contract_policy(service)
    contract_id, case_id = uuid.uuid4(), uuid.uuid4()
    await service.case_event(opened(case_id))
    await service.case_event(
        entitlement_changed(case_id, contract_id=contract_id, sla_policy_id=gold)
    )
    assert len(await service.re_evaluations(case_id)) == 2

    # A new priority: the contract's policy still applies, with the same terms.
    await service.case_event(raised_to_urgent(case_id, at=CHANGED + timedelta(minutes=5)))

    await service.all_relayed()
    again = [e for e in service.published if isinstance(e, c.KpiReEvaluated)]
    assert len(again) == 2, [(e.kpi, e.occurred_at, e.reason) for e in again]


async def test_the_contracts_own_calendar_is_counted_on_when_it_names_one(
    service: Service,
) -> None:
    await tiered_policy(service)
    gold = await contract_policy(service)
    early = await service.add_calendar("Early shift", {day: ["06:00-17:00"] for day in WEEKDAYS})
    early_hours = Calendar.business_hours("UTC", start=time(6), end=time(17))
    case_id = uuid.uuid4()
    await service.case_event(opened(case_id))

    await service.case_event(
        entitlement_changed(
            case_id, contract_id=uuid.uuid4(), sla_policy_id=gold, calendar_id=early
        )
    )

    first = (await service.re_evaluations(case_id))["first_response"]
    expected = add_working_time(CHANGED, timedelta(hours=1, minutes=30), early_hours)
    # A quarter of an hour on Friday, the rest from 06:00 on Monday.
    assert expected == MONDAY + timedelta(hours=7, minutes=15)
    assert (str(first.policy_id), str(first.calendar_id), first.due_at) == (gold, early, expected)
    view = (await service.kpis(case_id, at=CHANGED))["first_response"]
    assert moment(view["due_at"]) == expected


async def test_losing_the_contract_goes_back_to_the_policy_the_facts_choose(
    service: Service,
) -> None:
    tiered, office = await tiered_policy(service)
    gold = await contract_policy(service)
    contract_id, case_id = uuid.uuid4(), uuid.uuid4()
    await service.case_event(opened(case_id, contract_id=contract_id, sla_policy_id=gold))
    assert (await service.kpis(case_id, at=OPENED))["first_response"]["target_seconds"] == 7200

    await service.case_event(entitlement_changed(case_id, contract_id=None, sla_policy_id=None))

    re_evaluated = await service.re_evaluations(case_id)
    assert {
        name: (str(e.policy_id), str(e.calendar_id), e.target_seconds, e.reason)
        for name, e in re_evaluated.items()
    } == {
        "first_response": (tiered, office, REST_FIRST_RESPONSE, "contract removed"),
        "resolution": (tiered, office, REST_RESOLUTION, "contract removed"),
    }
    # 30 minutes used round the clock; 7.5 office hours are left from Friday 16:45.
    assert re_evaluated["first_response"].due_at == add_working_time(
        CHANGED, timedelta(hours=7, minutes=30), OFFICE_HOURS
    )


async def test_a_kpi_the_new_terms_do_not_name_keeps_its_target_on_the_new_calendar(
    service: Service,
) -> None:
    # A case counts on one calendar: a KPI the new terms leave out keeps its target and the
    # working time it used, and is counted on the case's new calendar from the change on.
    await tiered_policy(service)
    first_only = await contract_policy(
        service, kpis=[kpi("first_response", 2 * 3600)], name="First response only"
    )
    case_id = uuid.uuid4()
    await service.case_event(opened(case_id))
    before = (await service.kpis(case_id, at=CHANGED))["resolution"]

    await service.case_event(
        entitlement_changed(case_id, contract_id=uuid.uuid4(), sla_policy_id=first_only)
    )

    assert set(await service.re_evaluations(case_id)) == {"first_response", "resolution"}
    monday_ten = MONDAY + timedelta(hours=10)
    resolution = (await service.kpis(case_id, at=monday_ten))["resolution"]
    used_before = CHANGED - OPENED  # office hours, Friday 16:15-16:45
    assert resolution["target_seconds"] == before["target_seconds"]
    assert datetime.fromisoformat(resolution["due_at"]) == add_working_time(
        CHANGED,
        timedelta(seconds=before["target_seconds"]) - used_before,
        Calendar.always_open(),
    )
    # Half an office hour on Friday, then round the clock from 16:45 to Monday 10:00.
    assert resolution["consumed_seconds"] == int(
        (used_before + (monday_ten - CHANGED)).total_seconds()
    )


# --- Catching up --------------------------------------------------------------------------


async def test_a_warning_caught_up_with_is_published_first_and_told_to_the_assignee(
    service: Service,
) -> None:
    # The default policy (24x7): first response in 8 hours, warned 2 hours before.
    monday_nine = MONDAY + timedelta(hours=9)
    gold = await contract_policy(service, kpis=[kpi("first_response", 10 * 3600)])
    case_id, agent_id = uuid.uuid4(), uuid.uuid4()
    registered = c.sample("agent.registered").model_copy(
        update={
            "agent_id": agent_id,
            "name": "Agnė Agentė",
            "manager_id": uuid.uuid4(),
            "version": 1,
            "occurred_at": monday_nine,
        }
    )
    await service.agent_event(registered)
    await service.case_event(opened(case_id, at=monday_nine))
    await service.routing_event(
        c.sample("case.assigned").model_copy(
            update={"case_id": case_id, "agent_id": agent_id, "occurred_at": monday_nine}
        )
    )
    warn_at = monday_nine + timedelta(hours=6)
    changed_at = monday_nine + timedelta(hours=7)  # past the warning, before the deadline

    await service.case_event(
        entitlement_changed(case_id, contract_id=uuid.uuid4(), sla_policy_id=gold, at=changed_at)
    )

    events = [e for e in await service.events(case_id) if e.kpi == "first_response"]
    assert [type(e) for e in events] == [c.KpiStarted, c.KpiNearingBreach, c.KpiReEvaluated]
    warning, re_evaluated = events[1], events[2]
    assert (warning.occurred_at, warning.due_at) == (warn_at, monday_nine + timedelta(hours=8))
    assert (
        re_evaluated.status,
        re_evaluated.due_at,
        re_evaluated.warn_at,
        str(re_evaluated.policy_id),
    ) == ("nearing_breach", changed_at + timedelta(hours=3), warn_at, gold)
    [told] = await service.notifications()
    assert (told.recipient.kind, told.recipient.id, told.template) == (
        c.RecipientKind.AGENT,
        agent_id,
        NEARING,
    )
    assert (told.case_id, told.occurred_at, told.parameters["kpi"]) == (
        case_id,
        warn_at,
        "first_response",
    )
    # The warning was given: the timer does not give it again, only the new deadline.
    assert await service.tick(changed_at + timedelta(hours=3) - timedelta(seconds=1)) == 0
    assert await service.tick(changed_at + timedelta(hours=3)) == 1
    view = (await service.kpis(case_id, at=changed_at + timedelta(hours=4)))["first_response"]
    assert [state for state, _, _ in log_of(view)] == [
        "started",
        "warned",
        "re_evaluated",
        "breached",
        "escalated",
    ]


async def test_a_breach_caught_up_with_stands_and_is_not_re_evaluated(service: Service) -> None:
    monday_nine = MONDAY + timedelta(hours=9)
    gold = await contract_policy(service, kpis=[kpi("first_response", 12 * 3600)])
    case_id = uuid.uuid4()
    await service.case_event(opened(case_id, at=monday_nine))
    changed_at = monday_nine + timedelta(hours=9)  # an hour past the default's deadline

    await service.case_event(
        entitlement_changed(case_id, contract_id=uuid.uuid4(), sla_policy_id=gold, at=changed_at)
    )

    events = [e for e in await service.events(case_id) if e.kpi == "first_response"]
    assert [type(e) for e in events] == [c.KpiStarted, c.KpiNearingBreach, c.KpiBreached]
    assert events[2].due_at == monday_nine + timedelta(hours=8)
    view = (await service.kpis(case_id, at=changed_at))["first_response"]
    assert (view["status"], view["target_seconds"], view["policy_id"]) == (
        "breached",
        8 * 3600,
        DEFAULT_POLICY,
    )
    # The breach stands on the terms it happened under; the timer climbs its ladder once.
    assert await service.tick(changed_at + timedelta(hours=1)) == 1
    assert await service.tick(changed_at + timedelta(hours=2)) == 0
    events = [e for e in await service.events(case_id) if e.kpi == "first_response"]
    assert [type(e) for e in events][3:] == [c.KpiEscalated]


async def test_a_kpi_the_new_terms_add_starts_at_the_re_evaluation(service: Service) -> None:
    office = await service.add_calendar("Office hours", {day: ["09:00-17:00"] for day in WEEKDAYS})
    policy_id = await service.add_policy(
        {
            "name": "Urgent calls back",
            "calendar_id": office,
            "items": [
                {
                    "name": "urgent",
                    "applies_to": {"priorities": ["urgent"]},
                    "kpis": [
                        kpi("first_response", URGENT_FIRST_RESPONSE),
                        kpi("resolution", URGENT_RESOLUTION),
                        kpi("callback", 2 * 3600),
                    ],
                },
                {"name": "everything else", "kpis": [kpi("resolution", REST_RESOLUTION)]},
            ],
        }
    )
    case_id = uuid.uuid4()
    await service.case_event(opened(case_id))
    assert set(await service.kpis(case_id, at=CHANGED)) == {"resolution"}

    await service.case_event(raised_to_urgent(case_id))

    async def callback() -> c.KpiStarted | None:
        started = [
            e
            for e in await service.events(case_id)
            if isinstance(e, c.KpiStarted) and e.kpi == "callback"
        ]
        return started[0] if started else None

    started = await eventually(callback)
    # Two office hours from the change: a quarter of an hour on Friday, the rest on Monday.
    assert (started.occurred_at, str(started.policy_id), started.due_at) == (
        CHANGED,
        policy_id,
        MONDAY + timedelta(hours=10, minutes=45),
    )
    kpis = await service.kpis(case_id, at=CHANGED + timedelta(minutes=5))
    # The callback is measured; the first response the urgent terms name is not started (the
    # case may have been answered already), and the resolution is re-evaluated.
    assert set(kpis) == {"resolution", "callback"}
    assert kpis["callback"]["status"] == "in_progress"
    assert log_of(kpis["callback"]) == [("started", CHANGED, None)]
    assert kpis["resolution"]["target_seconds"] == URGENT_RESOLUTION


async def test_a_queue_condition_gives_a_case_its_terms_when_routing_queues_it(
    service: Service,
) -> None:
    billing = uuid.uuid4()
    office = await service.add_calendar("Office hours", {day: ["09:00-17:00"] for day in WEEKDAYS})
    await service.add_policy(
        {
            "name": "By queue",
            "calendar_id": office,
            "items": [
                {
                    "name": "billing",
                    "applies_to": {"queue_ids": [str(billing)]},
                    "kpis": [kpi("resolution", URGENT_RESOLUTION)],
                },
                {"name": "everything else", "kpis": [kpi("resolution", REST_RESOLUTION)]},
            ],
        }
    )
    later, earlier = uuid.uuid4(), uuid.uuid4()
    await service.case_event(opened(later))
    assert (await service.kpis(later, at=CHANGED))["resolution"]["target_seconds"] == (
        REST_RESOLUTION
    )

    queued = c.sample("case.queued").model_copy(
        update={"case_id": later, "queue_id": billing, "occurred_at": CHANGED}
    )
    await service.routing_event(queued)

    re_evaluated = await service.re_evaluations(later)
    assert re_evaluated["resolution"].target_seconds == URGENT_RESOLUTION
    assert re_evaluated["resolution"].reason == f"queued in {queued.queue_name}"
    # Queued before SLA saw it open: its terms are the queue's from the start.
    await service.routing_event(
        queued.model_copy(update={"case_id": earlier, "occurred_at": OPENED})
    )
    await service.case_event(opened(earlier))
    kpis = await service.kpis(earlier, at=CHANGED)
    assert kpis["resolution"]["target_seconds"] == URGENT_RESOLUTION
    assert log_of(kpis["resolution"]) == [("started", OPENED, None)]
