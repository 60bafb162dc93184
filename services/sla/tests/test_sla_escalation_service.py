"""Escalation of the SLA service: a nearing deadline told to the case's assignee, a breach
escalated up the policy's ladder (`kpi.escalated`, which the cases service records and tells),
queue managers, and the KPI state log; through Kafka (TestKafkaBroker) and HTTP, with a real
PostgreSQL and a clock the tests move."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
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
from sla.settings import SlaSettings

pytestmark = pytest.mark.service

OPENED = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
# The default policy: first response in 8 hours, warned 2 hours before; resolution in 5 days,
# without a warning. Its calendar is round the clock.
WARN_AT = OPENED + timedelta(hours=6)
DUE_AT = OPENED + timedelta(hours=8)
RESOLUTION_DUE = OPENED + timedelta(days=5)
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

    async def kpis(self, case_id: uuid.UUID) -> dict[str, dict[str, Any]]:
        r = await self.client.get(f"/cases/{case_id}/kpis", headers=bearer(self.app, "agent"))
        assert r.status_code == 200, r.text
        return {kpi["kpi"]: kpi for kpi in r.json()}

    async def log(self, case_id: uuid.UUID, kpi: str) -> list[tuple[str, datetime]]:
        """The state log of one KPI of the case: (state, at), oldest first."""
        entries = (await self.kpis(case_id))[kpi]["log"]
        return [(entry["state"], datetime.fromisoformat(entry["at"])) for entry in entries]

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

    async def notifications(self) -> list[c.NotificationRequested]:
        """Every notification requested so far, once the outbox has drained."""
        await self.all_relayed()
        return list(self._notifications)

    async def kpi_events(self, kind: type[c.Event]) -> list[Any]:
        """The KPI events of a type published so far, once the outbox has drained."""
        await self.all_relayed()
        return [event for event in self.published if isinstance(event, kind)]


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


def opened(case_id: uuid.UUID, *, number: str, at: datetime = OPENED) -> c.CaseOpened:
    """A case opened at `at` without a contract: the default policy applies."""
    no_contract = dict.fromkeys(
        ("entitlement_id", "contract_id", "entitlement_rule", "sla_policy_id", "calendar_id")
    )
    event = c.sample("case.opened").model_copy(
        update={
            "case_id": case_id,
            "number": number,
            "occurred_at": at,
            "status": c.CaseStatus.NEW,
            **no_contract,
        }
    )
    assert isinstance(event, c.CaseOpened)
    return event


def assigned(case_id: uuid.UUID, agent_id: uuid.UUID, *, at: datetime) -> c.Event:
    return c.sample("case.assigned").model_copy(
        update={"case_id": case_id, "agent_id": agent_id, "occurred_at": at}
    )


def agent(
    kind: str,
    agent_id: uuid.UUID,
    *,
    name: str,
    manager_id: uuid.UUID | None,
    version: int,
) -> c.Event:
    """An agent directory event (`agent.registered`, `agent.changed`, ...)."""
    return c.sample(kind).model_copy(
        update={
            "agent_id": agent_id,
            "name": name,
            "manager_id": manager_id,
            "version": version,
            "occurred_at": OPENED - timedelta(days=1),
        }
    )


def status_changed(case_id: uuid.UUID, to: c.CaseStatus, *, at: datetime) -> c.Event:
    return c.sample("case.status_changed").model_copy(
        update={"case_id": case_id, "occurred_at": at, "to_status": to}
    )


def to(notification: c.NotificationRequested) -> tuple[c.RecipientKind, uuid.UUID, str]:
    return notification.recipient.kind, notification.recipient.id, notification.template


async def an_assigned_case(
    service: Service,
    *,
    number: str,
    name: str = "Agnė Agentė",
    manager_id: uuid.UUID | None,
) -> tuple[uuid.UUID, uuid.UUID]:
    """A case opened, and assigned an hour later to a registered agent; (case, agent)."""
    case_id, agent_id = uuid.uuid4(), uuid.uuid4()
    await service.agent_event(
        agent("agent.registered", agent_id, name=name, manager_id=manager_id, version=1)
    )
    await service.case_event(opened(case_id, number=number))
    await service.routing_event(assigned(case_id, agent_id, at=OPENED + timedelta(hours=1)))
    return case_id, agent_id


async def test_a_nearing_deadline_is_told_to_the_assignee_once_and_a_breach_escalated_to_their_manager(  # noqa: E501
    service: Service,
) -> None:
    manager_id = uuid.uuid4()
    case_id, agent_id = await an_assigned_case(
        service, number="CAS-2026-000101", name="Agnė Agentė", manager_id=manager_id
    )
    assert await service.tick(WARN_AT - timedelta(minutes=1)) == 0
    assert await service.notifications() == []

    assert await service.tick(WARN_AT) == 1

    [warning] = await service.notifications()
    assert to(warning) == (c.RecipientKind.AGENT, agent_id, NEARING)
    assert (warning.case_id, warning.occurred_at) == (case_id, WARN_AT)
    assert warning.parameters.keys() == {"number", "kpi", "due_at", "assignee"}
    assert (
        warning.parameters["number"],
        warning.parameters["kpi"],
        datetime.fromisoformat(warning.parameters["due_at"]),
        warning.parameters["assignee"],
    ) == ("CAS-2026-000101", "first_response", DUE_AT, "Agnė Agentė")

    # The warning has fired: later passes before the deadline tell nobody again.
    assert await service.tick(WARN_AT + timedelta(minutes=30)) == 0
    assert await service.tick(DUE_AT - timedelta(minutes=1)) == 0
    assert await service.notifications() == [warning]

    assert await service.tick(DUE_AT) == 1

    # The breach climbs the default ladder's one step: the cases service is asked to raise the
    # case to the assignee's manager (it records the escalation and tells them); SLA tells
    # nobody more itself.
    [step] = await service.kpi_events(c.KpiEscalated)
    assert (step.case_id, step.kpi, step.level, step.target) == (
        case_id,
        "first_response",
        1,
        "manager",
    )
    assert (step.escalated_to, step.assignee_id) == (manager_id, agent_id)
    assert (step.occurred_at, step.breached_at) == (DUE_AT, DUE_AT)
    assert "first_response passed its deadline" in step.reason
    assert "Agnė Agentė" in step.reason
    assert await service.notifications() == [warning]
    assert await service.tick(DUE_AT + timedelta(hours=1)) == 0
    assert len(await service.kpi_events(c.KpiEscalated)) == 1

    [warned] = await service.kpi_events(c.KpiNearingBreach)
    [breached] = await service.kpi_events(c.KpiBreached)
    assert (warned.kpi, breached.kpi) == ("first_response", "first_response")
    assert await service.log(case_id, "first_response") == [
        ("started", OPENED),
        ("warned", WARN_AT),
        ("breached", DUE_AT),
        ("escalated", DUE_AT),
    ]
    assert await service.log(case_id, "resolution") == [("started", OPENED)]
    first = (await service.kpis(case_id))["first_response"]
    assert [entry["reason"] for entry in first["log"]] == [
        None,
        None,
        None,
        f"level 1 to {manager_id}",
    ]


async def test_a_case_nobody_works_on_tells_nobody_when_its_deadlines_near_and_pass(
    service: Service,
) -> None:
    # An agent with a manager is known, but the case was never assigned.
    await service.agent_event(
        agent("agent.registered", uuid.uuid4(), name="Idle", manager_id=uuid.uuid4(), version=1)
    )
    case_id = uuid.uuid4()
    await service.case_event(opened(case_id, number="CAS-2026-000102"))

    assert await service.tick(WARN_AT) == 1
    assert await service.tick(DUE_AT) == 1
    assert await service.tick(RESOLUTION_DUE) == 1

    assert len(await service.kpi_events(c.KpiNearingBreach)) == 1
    assert {e.kpi for e in await service.kpi_events(c.KpiBreached)} == {
        "first_response",
        "resolution",
    }
    assert await service.notifications() == []
    # Each breach still raises the case a level, to nobody in particular.
    steps = await service.kpi_events(c.KpiEscalated)
    assert sorted((e.kpi, e.escalated_to, e.assignee_id) for e in steps) == [
        ("first_response", None, None),
        ("resolution", None, None),
    ]
    assert [state for state, _ in await service.log(case_id, "first_response")] == [
        "started",
        "warned",
        "breached",
        "escalated",
    ]


async def test_an_assignee_without_a_manager_is_warned_and_their_breach_is_told_to_nobody(
    service: Service,
) -> None:
    case_id, agent_id = await an_assigned_case(
        service, number="CAS-2026-000103", name="Be Vadovo", manager_id=None
    )

    assert await service.tick(WARN_AT) == 1
    assert await service.tick(DUE_AT) == 1

    [warning] = await service.notifications()
    assert to(warning) == (c.RecipientKind.AGENT, agent_id, NEARING)
    assert warning.parameters["assignee"] == "Be Vadovo"
    assert len(await service.kpi_events(c.KpiBreached)) == 1
    [step] = await service.kpi_events(c.KpiEscalated)
    assert (step.escalated_to, step.assignee_id) == (None, agent_id)
    assert await service.log(case_id, "first_response") == [
        ("started", OPENED),
        ("warned", WARN_AT),
        ("breached", DUE_AT),
        ("escalated", DUE_AT),
    ]


async def test_an_assignee_the_directory_has_not_named_is_warned_under_their_id(
    service: Service,
) -> None:
    case_id, agent_id = uuid.uuid4(), uuid.uuid4()
    await service.case_event(opened(case_id, number="CAS-2026-000104"))
    await service.routing_event(assigned(case_id, agent_id, at=OPENED + timedelta(hours=1)))

    assert await service.tick(DUE_AT) == 1  # a late pass: the warning and the breach at once

    [warning] = await service.notifications()
    assert to(warning) == (c.RecipientKind.AGENT, agent_id, NEARING)
    assert warning.occurred_at == WARN_AT
    assert warning.parameters["assignee"] == str(agent_id)
    assert await service.log(case_id, "first_response") == [
        ("started", OPENED),
        ("warned", WARN_AT),
        ("breached", DUE_AT),
        ("escalated", DUE_AT),
    ]


@pytest.mark.parametrize("leaving", ["case.released", "case.transferred", "case.dequeued"])
async def test_a_case_that_left_its_assignee_warns_nobody(service: Service, leaving: str) -> None:
    case_id, agent_id = await an_assigned_case(
        service, number="CAS-2026-000105", manager_id=uuid.uuid4()
    )
    left = c.sample(leaving).model_copy(
        update={"case_id": case_id, "occurred_at": OPENED + timedelta(hours=2)}
    )
    if leaving == "case.released":
        left = left.model_copy(update={"agent_id": agent_id})

    await service.routing_event(left)
    assert await service.tick(WARN_AT) == 1
    assert await service.tick(DUE_AT) == 1

    assert len(await service.kpi_events(c.KpiNearingBreach)) == 1
    assert len(await service.kpi_events(c.KpiBreached)) == 1
    assert await service.notifications() == []


async def test_a_case_assigned_again_after_a_release_warns_its_new_assignee(
    service: Service,
) -> None:
    case_id, first_agent = await an_assigned_case(
        service, number="CAS-2026-000106", manager_id=uuid.uuid4()
    )
    second_agent = uuid.uuid4()
    await service.agent_event(
        agent("agent.registered", second_agent, name="Antra", manager_id=None, version=1)
    )
    released = c.sample("case.released").model_copy(
        update={
            "case_id": case_id,
            "agent_id": first_agent,
            "occurred_at": OPENED + timedelta(hours=2),
        }
    )
    await service.routing_event(released)
    await service.routing_event(assigned(case_id, second_agent, at=OPENED + timedelta(hours=3)))

    assert await service.tick(WARN_AT) == 1

    [warning] = await service.notifications()
    assert to(warning) == (c.RecipientKind.AGENT, second_agent, NEARING)
    assert warning.parameters["assignee"] == "Antra"


async def test_an_older_agent_change_does_not_overwrite_a_newer_manager(service: Service) -> None:
    first_manager, newer_manager, stale_manager, latest_manager = (uuid.uuid4() for _ in range(4))
    case_id, agent_id = await an_assigned_case(
        service, number="CAS-2026-000107", name="Pirmas", manager_id=first_manager
    )
    await service.agent_event(
        agent("agent.changed", agent_id, name="Naujas", manager_id=newer_manager, version=3)
    )
    # Version 2 comes late: it is older than what SLA keeps, and changes nothing.
    await service.agent_event(
        agent("agent.changed", agent_id, name="Senas", manager_id=stale_manager, version=2)
    )

    assert await service.tick(DUE_AT) == 1

    [warning] = await service.notifications()
    assert warning.parameters["assignee"] == "Naujas"
    [step] = await service.kpi_events(c.KpiEscalated)
    assert (step.case_id, step.escalated_to) == (case_id, newer_manager)
    assert "Naujas" in step.reason

    # A later version (here a presence change) does move the manager: the resolution's
    # breach, days later, goes to the manager the directory names by then.
    await service.agent_event(
        agent(
            "agent.presence_changed",
            agent_id,
            name="Naujas",
            manager_id=latest_manager,
            version=4,
        )
    )
    assert await service.tick(RESOLUTION_DUE) == 1

    [_, later] = await service.kpi_events(c.KpiEscalated)
    assert (later.kpi, later.escalated_to) == ("resolution", latest_manager)


async def test_the_log_shows_a_wait_for_the_customer_and_the_return(service: Service) -> None:
    case_id = uuid.uuid4()
    await service.case_event(opened(case_id, number="CAS-2026-000108"))
    paused_at, resumed_at = OPENED + timedelta(hours=1), OPENED + timedelta(hours=3)

    await service.case_event(
        status_changed(case_id, c.CaseStatus.WAITING_FOR_CUSTOMER, at=paused_at)
    )
    service.clock.moment = OPENED + timedelta(hours=2)
    kpis = await service.kpis(case_id)
    assert [entry["state"] for entry in kpis["first_response"]["log"]] == ["started", "paused"]

    await service.case_event(status_changed(case_id, c.CaseStatus.IN_PROGRESS, at=resumed_at))

    for kpi in ("first_response", "resolution"):
        assert await service.log(case_id, kpi) == [
            ("started", OPENED),
            ("paused", paused_at),
            ("resumed", resumed_at),
        ]
    # The two hours waited move the warning: it fires at 11 hours' wall time, not 6.
    assert await service.tick(WARN_AT + timedelta(hours=1, minutes=59)) == 0
    assert await service.tick(WARN_AT + timedelta(hours=2)) == 1
    assert [state for state, _ in await service.log(case_id, "first_response")] == [
        "started",
        "paused",
        "resumed",
        "warned",
    ]


async def test_the_log_shows_a_resolved_case_met_and_a_cancelled_case_cancelled(
    service: Service,
) -> None:
    resolved_case, cancelled_case = uuid.uuid4(), uuid.uuid4()
    await service.case_event(opened(resolved_case, number="CAS-2026-000109"))
    await service.case_event(opened(cancelled_case, number="CAS-2026-000110"))
    # The resolved case's first response was warned of before it was resolved.
    assert await service.tick(WARN_AT) == 2
    resolved_at = WARN_AT + timedelta(minutes=30)
    cancelled_at = OPENED + timedelta(hours=7)

    await service.case_event(
        c.sample("case.resolved").model_copy(
            update={"case_id": resolved_case, "occurred_at": resolved_at}
        )
    )
    await service.case_event(
        c.sample("case.cancelled").model_copy(
            update={"case_id": cancelled_case, "occurred_at": cancelled_at}
        )
    )

    assert await service.log(resolved_case, "first_response") == [
        ("started", OPENED),
        ("warned", WARN_AT),
        ("met", resolved_at),
    ]
    assert await service.log(resolved_case, "resolution") == [
        ("started", OPENED),
        ("met", resolved_at),
    ]
    assert await service.log(cancelled_case, "first_response") == [
        ("started", OPENED),
        ("warned", WARN_AT),
        ("cancelled", cancelled_at),
    ]
    assert await service.log(cancelled_case, "resolution") == [
        ("started", OPENED),
        ("cancelled", cancelled_at),
    ]
    # Ended KPIs are due no more: no breach, nothing logged, nobody told.
    assert await service.tick(RESOLUTION_DUE) == 0
    assert [s for s, _ in await service.log(resolved_case, "first_response")][-1] == "met"
    assert await service.notifications() == []


async def test_a_breach_fired_by_a_pause_is_escalated_to_the_manager(service: Service) -> None:
    manager_id = uuid.uuid4()
    case_id, agent_id = await an_assigned_case(
        service, number="CAS-2026-000111", manager_id=manager_id
    )
    assert await service.tick(WARN_AT) == 1
    # The case waits for the customer from just after the deadline, before the timer's next
    # pass: the pause fires the breach.
    await service.case_event(
        status_changed(case_id, c.CaseStatus.WAITING_FOR_CUSTOMER, at=DUE_AT + timedelta(minutes=1))
    )
    assert [e.kpi for e in await service.kpi_events(c.KpiBreached)] == ["first_response"]
    assert await service.kpi_events(c.KpiEscalated) == []
    # The breached KPI stays open, so the timer's next pass climbs its ladder.
    assert await service.tick(DUE_AT + timedelta(minutes=2)) == 1

    [step] = await service.kpi_events(c.KpiEscalated)
    assert (step.kpi, step.escalated_to, step.assignee_id) == (
        "first_response",
        manager_id,
        agent_id,
    )
    assert step.occurred_at == DUE_AT
    assert [to(n) for n in await service.notifications()] == [
        (c.RecipientKind.AGENT, agent_id, NEARING)
    ]


async def test_an_assignment_consumed_before_the_opening_is_kept(service: Service) -> None:
    case_id, agent_id = uuid.uuid4(), uuid.uuid4()
    await service.agent_event(
        agent("agent.registered", agent_id, name="Skubi", manager_id=None, version=1)
    )
    # Routing and cases are different topics: SLA may read the assignment first.
    await service.routing_event(assigned(case_id, agent_id, at=OPENED + timedelta(minutes=1)))
    await service.case_event(opened(case_id, number="CAS-2026-000112"))

    assert await service.tick(WARN_AT) == 1

    assert [to(n) for n in await service.notifications()] == [
        (c.RecipientKind.AGENT, agent_id, NEARING)
    ]


async def test_a_ladder_written_with_the_policy_climbs_to_the_department_head_and_the_queue(
    service: Service,
) -> None:
    admin = bearer(service.app, "admin")
    calendars = (await service.client.get("/calendars", headers=admin)).json()
    always = next(cal for cal in calendars if cal["name"] == "24x7")
    director, queue_id, queue_manager = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    r = await service.client.post(
        "/policies",
        headers=admin,
        json={
            "name": "Laddered",
            "calendar_id": always["calendar_id"],
            "applies_to": {"priorities": ["urgent"]},
            "kpis": [{"name": "first_response", "target_seconds": 3600}],
            "escalation": [
                {"to": "manager"},
                {"after_seconds": 1800, "to": "department_head"},
                {"after_seconds": 3600, "to": "queue_owner"},
                {"after_seconds": 7200, "to": "agent", "agent_id": str(director)},
            ],
        },
    )
    assert r.status_code == 201, r.text
    assert [step["to"] for step in r.json()["escalation"]] == [
        "manager",
        "department_head",
        "queue_owner",
        "agent",
    ]
    r = await service.client.put(
        f"/queue-managers/{queue_id}",
        headers=bearer(service.app, "supervisor"),
        json={"manager_id": str(queue_manager)},
    )
    assert r.status_code == 200, r.text
    head, manager = uuid.uuid4(), uuid.uuid4()
    await service.agent_event(
        agent("agent.registered", head, name="Vadė", manager_id=None, version=1)
    )
    await service.agent_event(
        agent("agent.registered", manager, name="Vadovas", manager_id=head, version=1)
    )
    case_id, agent_id = uuid.uuid4(), uuid.uuid4()
    await service.agent_event(
        agent("agent.registered", agent_id, name="Darbuotoja", manager_id=manager, version=1)
    )
    urgent = opened(case_id, number="CAS-2026-000113").model_copy(
        update={"priority": c.Priority.URGENT}
    )
    await service.case_event(urgent)
    queued = c.sample("case.queued").model_copy(
        update={"case_id": case_id, "queue_id": queue_id, "occurred_at": OPENED}
    )
    await service.routing_event(queued)
    await service.routing_event(assigned(case_id, agent_id, at=OPENED + timedelta(minutes=5)))
    due = OPENED + timedelta(hours=1)

    for moment in (due, due + timedelta(minutes=30), due + timedelta(hours=1)):
        assert await service.tick(moment) == 1
    assert await service.tick(due + timedelta(hours=1, minutes=59)) == 0
    assert await service.tick(due + timedelta(hours=2)) == 1

    steps = await service.kpi_events(c.KpiEscalated)
    assert [(e.level, e.target, e.escalated_to, e.occurred_at) for e in steps] == [
        (1, "manager", manager, due),
        (2, "department_head", head, due + timedelta(minutes=30)),
        (3, "queue_owner", queue_manager, due + timedelta(hours=1)),
        (4, "agent", director, due + timedelta(hours=2)),
    ]
    assert {e.queue_id for e in steps} == {queue_id}
    assert await service.tick(due + timedelta(days=3)) == 0


async def test_queue_managers_are_named_read_and_forgotten(service: Service) -> None:
    queue_id, manager = uuid.uuid4(), uuid.uuid4()
    supervisor, agent_token = bearer(service.app, "supervisor"), bearer(service.app, "agent")
    path = f"/queue-managers/{queue_id}"

    assert (await service.client.get(path, headers=agent_token)).status_code == 404
    refused = await service.client.put(path, headers=agent_token, json={"manager_id": str(manager)})
    assert refused.status_code == 403
    bad = await service.client.put(path, headers=supervisor, json={"manager_id": "nobody"})
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("application/problem+json")

    r = await service.client.put(path, headers=supervisor, json={"manager_id": str(manager)})
    assert r.status_code == 200, r.text
    assert r.json() == {"queue_id": str(queue_id), "manager_id": str(manager)}
    assert (await service.client.get(path, headers=agent_token)).json()["manager_id"] == str(
        manager
    )
    listed = (await service.client.get("/queue-managers", headers=agent_token)).json()
    assert {"queue_id": str(queue_id), "manager_id": str(manager)} in listed

    assert (await service.client.delete(path, headers=supervisor)).status_code == 204
    assert (await service.client.delete(path, headers=supervisor)).status_code == 404
    assert (await service.client.get(path, headers=agent_token)).status_code == 404


@pytest.mark.parametrize(
    ("ladder", "reason"),
    [
        ([{"after_seconds": 600, "to": "manager"}, {"to": "department_head"}], "after the one"),
        ([{"to": "agent"}], "names the agent"),
        ([{"to": "manager", "agent_id": str(uuid.uuid4())}], "names the agent"),
        ([{"to": "the_ceo"}], "to"),
        ([{"after_seconds": -1, "to": "manager"}], "after_seconds"),
    ],
)
async def test_a_ladder_that_cannot_be_climbed_is_refused(
    service: Service, ladder: list[dict[str, Any]], reason: str
) -> None:
    admin = bearer(service.app, "admin")
    calendars = (await service.client.get("/calendars", headers=admin)).json()
    r = await service.client.post(
        "/policies",
        headers=admin,
        json={
            "name": f"Bad ladder {uuid.uuid4().hex[:6]}",
            "calendar_id": calendars[0]["calendar_id"],
            "applies_to": {"priorities": ["urgent"]},
            "kpis": [{"name": "first_response", "target_seconds": 3600}],
            "escalation": ladder,
        },
    )
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert reason in r.text
