"""Routing and SLA events kept on cases, with a real PostgreSQL and TestKafkaBroker."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from faststream.kafka import KafkaBroker, TestKafkaBroker
from sqlalchemy import insert, select

import caseflow_contracts as c
from caseflow_contracts import topics
from caseflow_servicekit import ServiceApp, ServiceSettings
from caseflow_servicekit.db import OUTBOX_TABLE
from caseflow_servicekit.testing import eventually, publish_event, running
from cases.adapters.tables import cases, escalations, metadata
from cases.bootstrap import MIGRATIONS, build

pytestmark = pytest.mark.service

T0 = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
Q_BILLING, Q_REFUNDS = uuid.uuid4(), uuid.uuid4()
ANN, BOB = uuid.uuid4(), uuid.uuid4()


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


class Service:
    def __init__(self, app: ServiceApp, broker: KafkaBroker) -> None:
        self.app, self.broker = app, broker
        self.applied = 0

    async def new_case(self) -> uuid.UUID:
        case_id = uuid.uuid4()
        async with self.app.kit.engine.begin() as conn:
            await conn.execute(
                insert(cases).values(
                    case_id=case_id,
                    number=f"CAS-2026-{case_id.hex[:6]}",
                    channel="email",
                    contact_id=uuid.uuid4(),
                    subject="Printer on fire",
                    description="",
                    parameters={},
                    priority="normal",
                    status="new",
                    opened_at=T0,
                    updated_at=T0,
                )
            )
        return case_id

    async def row(self, case_id: uuid.UUID) -> Any:
        async with self.app.kit.engine.connect() as conn:
            return (
                await conn.execute(
                    select(
                        cases.c.queue_id,
                        cases.c.queue_name,
                        cases.c.assignee_id,
                        cases.c.sla,
                        cases.c.overdue,
                        cases.c.version,
                    ).where(cases.c.case_id == case_id)
                )
            ).one()

    async def publish(self, event: c.Event, *, event_id: str | None = None) -> None:
        topic = topics.topic_of(event.type)
        await publish_event(self.broker, event, topic=topic, event_id=event_id)

    async def settled(self) -> None:
        """Wait until every event published so far went through the consumer."""
        consumed = self.app.kit.metrics.consumed

        async def probe() -> bool | None:
            total = sum(
                sample.value
                for metric in consumed.collect()
                for sample in metric.samples
                if sample.name.endswith("_total")
                and sample.labels.get("topic") in (topics.ROUTING, topics.SLA)
            )
            return True if total >= self.published else None

        await eventually(probe)

    published = 0


@pytest.fixture
async def service(fresh_database: str) -> AsyncIterator[Service]:
    settings = ServiceSettings(database_url=fresh_database, kafka_bootstrap_servers="test:9092")
    app = build(settings, configure_process=False)
    async with TestKafkaBroker(app.kit.kafka) as broker, running(app, migrations=MIGRATIONS):
        yield Service(app, broker)


async def send(service: Service, *events: c.Event, event_id: str | None = None) -> None:
    for event in events:
        await service.publish(event, event_id=event_id)
        service.published += 1
    await service.settled()


def queued(case_id: uuid.UUID, minutes: int, queue_id: uuid.UUID, name: str) -> c.CaseQueued:
    return c.CaseQueued(
        case_id=case_id,
        queue_item_id=uuid.uuid4(),
        occurred_at=at(minutes),
        queue_id=queue_id,
        queue_name=name,
    )


def assigned(case_id: uuid.UUID, minutes: int, agent: uuid.UUID) -> c.CaseAssigned:
    return c.CaseAssigned(
        case_id=case_id,
        queue_item_id=uuid.uuid4(),
        occurred_at=at(minutes),
        queue_id=Q_BILLING,
        agent_id=agent,
        strategy="manual",
    )


def released(case_id: uuid.UUID, minutes: int, agent: uuid.UUID) -> c.CaseReleased:
    return c.CaseReleased(
        case_id=case_id,
        queue_item_id=uuid.uuid4(),
        occurred_at=at(minutes),
        queue_id=Q_BILLING,
        agent_id=agent,
    )


def transferred(case_id: uuid.UUID, minutes: int, to: uuid.UUID) -> c.CaseTransferred:
    return c.CaseTransferred(
        case_id=case_id,
        queue_item_id=uuid.uuid4(),
        occurred_at=at(minutes),
        from_queue_id=Q_BILLING,
        to_queue_id=to,
    )


def dequeued(case_id: uuid.UUID, minutes: int) -> c.CaseDequeued:
    return c.CaseDequeued(
        case_id=case_id,
        queue_item_id=uuid.uuid4(),
        occurred_at=at(minutes),
        queue_id=Q_REFUNDS,
        reason="resolved",
    )


INSTANCE = uuid.uuid4()


def kpi_common(case_id: uuid.UUID, minutes: int, kpi: str = "resolution") -> dict[str, Any]:
    return {
        "case_id": case_id,
        "kpi_instance_id": INSTANCE,
        "kpi": kpi,
        "occurred_at": at(minutes),
    }


async def test_queue_and_assignee_follow_routing_in_any_order(service: Service) -> None:
    case_id = await service.new_case()
    await send(service, queued(case_id, 0, Q_BILLING, "Billing"), assigned(case_id, 1, ANN))
    row = await service.row(case_id)
    assert (row.queue_id, row.queue_name, row.assignee_id) == (Q_BILLING, "Billing", ANN)
    assert row.version == 1  # a projection is not an edit of the case

    # Newer facts first, then the older ones they replace: the newer stand.
    await send(
        service,
        released(case_id, 3, ANN),
        transferred(case_id, 4, Q_REFUNDS),
        assigned(case_id, 2, BOB),
        queued(case_id, 1, Q_BILLING, "Billing"),
    )
    row = await service.row(case_id)
    assert (row.queue_id, row.queue_name, row.assignee_id) == (Q_REFUNDS, None, None)
    assert row.sla["_routing"]["queue_at"] == at(4).isoformat()

    await send(service, dequeued(case_id, 9), assigned(case_id, 8, BOB))
    await send(service, transferred(case_id, 5, Q_BILLING))  # older than the dequeue
    row = await service.row(case_id)
    assert (row.queue_id, row.queue_name, row.assignee_id) == (None, None, BOB)


async def test_a_transfer_names_the_queue_from_what_other_cases_saw(service: Service) -> None:
    first, second = await service.new_case(), await service.new_case()
    await send(service, queued(first, 0, Q_REFUNDS, "Refunds"))
    await send(service, queued(second, 0, Q_BILLING, "Billing"), transferred(second, 1, Q_REFUNDS))
    row = await service.row(second)
    assert (row.queue_id, row.queue_name) == (Q_REFUNDS, "Refunds")


async def test_redelivered_and_replayed_events_change_nothing(service: Service) -> None:
    case_id = await service.new_case()
    event = assigned(case_id, 1, ANN)
    await send(service, event, event_id="assigned-once")
    await send(service, released(case_id, 2, ANN))
    await send(service, event, event_id="assigned-once")  # redelivered: the inbox drops it
    await send(service, event)  # replayed with a new id: older than the release
    assert (await service.row(case_id)).assignee_id is None


async def test_sla_state_and_overdue_follow_kpi_events_in_any_order(service: Service) -> None:
    case_id = await service.new_case()
    due = at(60)
    started = c.KpiStarted(
        **kpi_common(case_id, 0),
        policy_id=uuid.uuid4(),
        calendar_id=uuid.uuid4(),
        started_at=at(0),
        due_at=due,
    )
    nearing = c.KpiNearingBreach(**kpi_common(case_id, 45), due_at=due)
    breached = c.KpiBreached(**kpi_common(case_id, 60), due_at=due)
    first_response = c.KpiSucceeded(
        **kpi_common(case_id, 10, kpi="first_response"), succeeded_at=at(10), due_at=at(30)
    )
    await send(service, breached, first_response, nearing, started)
    row = await service.row(case_id)
    assert row.overdue is True
    assert row.sla["resolution"] == {
        "status": "breached",
        "due_at": due.isoformat(),
        "breached": True,
        "at": at(60).isoformat(),
        "instance_id": str(INSTANCE),
    }
    assert row.sla["first_response"]["status"] == "succeeded"
    assert row.sla["first_response"]["breached"] is False

    # Met late: breached stays true, the case is no longer overdue; a replay moves nothing.
    met = c.KpiSucceeded(**kpi_common(case_id, 90), succeeded_at=at(90), due_at=due)
    await send(service, met, started, nearing)
    row = await service.row(case_id)
    assert row.overdue is False
    assert (row.sla["resolution"]["status"], row.sla["resolution"]["breached"]) == (
        "succeeded",
        True,
    )


async def test_events_about_an_unknown_case_are_ignored(service: Service) -> None:
    stranger = uuid.uuid4()
    await send(service, queued(stranger, 0, Q_BILLING, "Billing"))
    await send(service, c.KpiBreached(**kpi_common(stranger, 60), due_at=at(60)))
    consumed = {
        (sample.labels["topic"], sample.labels["outcome"]): sample.value
        for metric in service.app.kit.metrics.consumed.collect()
        for sample in metric.samples
        if sample.name.endswith("_total")
    }
    assert consumed[(topics.ROUTING, "applied")] == 1
    assert consumed[(topics.SLA, "applied")] == 1
    async with service.app.kit.engine.connect() as conn:
        assert (await conn.execute(select(cases.c.case_id))).all() == []


def escalated(
    case_id: uuid.UUID,
    minutes: int,
    *,
    level: int,
    to: uuid.UUID | None,
    target: str = "manager",
    instance: uuid.UUID | None = None,
) -> c.KpiEscalated:
    common = kpi_common(case_id, minutes)
    if instance is not None:
        common["kpi_instance_id"] = instance
    return c.KpiEscalated(
        **common,
        level=level,
        target=target,  # type: ignore[arg-type]
        escalated_to=to,
        assignee_id=ANN,
        breached_at=at(60),
        reason=f"resolution passed its deadline; step {level} of the escalation ladder",
    )


async def test_an_escalation_sla_asks_for_is_recorded_once_and_told(service: Service) -> None:
    manager, head, instance = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    case_id = await service.new_case()
    await send(service, assigned(case_id, 5, ANN))

    await send(service, escalated(case_id, 60, level=1, to=manager, instance=instance))
    # The same step again, under another event id (a replay of SLA's outbox), changes nothing.
    await send(service, escalated(case_id, 61, level=1, to=manager, instance=instance))
    await send(
        service,
        escalated(case_id, 120, level=2, to=head, target="department_head", instance=instance),
    )

    async with service.app.kit.engine.connect() as conn:
        level = await conn.scalar(
            select(cases.c.escalation_level).where(cases.c.case_id == case_id)
        )
        rows = (
            await conn.execute(
                select(escalations.c.level, escalations.c.target, escalations.c.manager_id)
                .where(escalations.c.case_id == case_id)
                .order_by(escalations.c.level)
            )
        ).all()
        outbox = metadata.tables[OUTBOX_TABLE]
        published = [
            (row.topic, row.headers["ce_type"])
            for row in (
                await conn.execute(select(outbox.c.topic, outbox.c.headers).order_by(outbox.c.id))
            ).all()
        ]
    assert level == 2
    assert [tuple(row) for row in rows] == [
        (1, "next_level", manager),
        (2, "department_head", head),
    ]
    assert published.count((topics.CASES, "case.escalated")) == 2
    # Each step is told to the manager it went to and to the assignee.
    assert published.count((topics.INTAKE_NOTIFICATIONS, "notification.requested")) == 4


async def test_an_escalation_of_a_closed_case_is_not_recorded(service: Service) -> None:
    case_id = await service.new_case()
    async with service.app.kit.engine.begin() as conn:
        await conn.execute(
            cases.update().where(cases.c.case_id == case_id).values(status="resolved")
        )

    await send(service, escalated(case_id, 60, level=1, to=uuid.uuid4()))
    await send(service, escalated(uuid.uuid4(), 60, level=1, to=None))  # a case not here

    async with service.app.kit.engine.connect() as conn:
        assert (await conn.execute(select(escalations.c.escalation_id))).all() == []
        assert (
            await conn.scalar(select(cases.c.escalation_level).where(cases.c.case_id == case_id))
            == 0
        )
