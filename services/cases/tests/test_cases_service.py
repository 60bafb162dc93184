"""The cases service with a real PostgreSQL, its subscriber driven through TestKafkaBroker."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest
from faststream.kafka import KafkaBroker, TestKafkaBroker
from faststream.kafka.annotations import KafkaMessage

import caseflow_contracts as c
from caseflow_contracts import topics
from caseflow_servicekit import ServiceApp, ServiceSettings
from caseflow_servicekit.testing import bearer, eventually, publish_event, running
from cases.bootstrap import MIGRATIONS, build

pytestmark = pytest.mark.service

NOW = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)


class FixedClock:
    def now(self) -> datetime:
        return NOW


class Service:
    def __init__(
        self,
        app: ServiceApp,
        client: httpx.AsyncClient,
        broker: KafkaBroker,
        published: list[c.Event],
    ) -> None:
        self.app, self.client, self.broker, self.published = app, client, broker, published


@pytest.fixture
async def service(fresh_database: str) -> AsyncIterator[Service]:
    settings = ServiceSettings(database_url=fresh_database, kafka_bootstrap_servers="test:9092")
    app = build(settings, clock=FixedClock(), configure_process=False)
    published: list[c.Event] = []

    @app.kit.kafka.subscriber(topics.CASES, group_id="probe")
    async def probe(message: KafkaMessage) -> None:
        published.append(c.decode(message.headers["ce_type"], message.body))

    async with (
        TestKafkaBroker(app.kit.kafka) as broker,
        running(app, migrations=MIGRATIONS) as client,
    ):
        yield Service(app, client, broker, published)


def _interaction(**overrides: object) -> c.InteractionReceived:
    event = c.sample("interaction.received")
    values = {"interaction_id": uuid.uuid4(), "follow_up_of": None, "occurred_at": NOW, **overrides}
    return event.model_copy(update=values)  # type: ignore[return-value]


async def _published(service: Service, n: int) -> list[c.Event] | None:
    return list(service.published) if len(service.published) >= n else None


async def test_an_interaction_opens_a_case_readable_over_http(service: Service) -> None:
    interaction = _interaction()
    await publish_event(service.broker, interaction, topic=topics.INTAKE_INTERACTIONS)

    [opened] = await eventually(lambda: _published(service, 1))
    assert isinstance(opened, c.CaseOpened)
    assert opened.number == "CAS-2026-000001"
    assert opened.interaction_id == interaction.interaction_id
    assert opened.contact_id == interaction.contact_id

    agent = bearer(service.app, "agent")
    r = await service.client.get(f"/cases/{opened.case_id}", headers=agent)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["number"], body["status"], body["subject"]) == (
        "CAS-2026-000001",
        "new",
        interaction.subject,
    )
    by_number = await service.client.get("/cases/by-number/cas-2026-000001", headers=agent)
    assert by_number.json()["case_id"] == str(opened.case_id)
    listed = await service.client.get("/cases", params={"status": "new"}, headers=agent)
    assert listed.json()["total"] == 1


async def test_a_redelivered_interaction_opens_one_case(service: Service) -> None:
    interaction = _interaction()
    await publish_event(
        service.broker, interaction, topic=topics.INTAKE_INTERACTIONS, event_id="same"
    )
    await publish_event(
        service.broker, interaction, topic=topics.INTAKE_INTERACTIONS, event_id="same"
    )
    # A producer retry with a new event id is recognised by the interaction id.
    await publish_event(service.broker, interaction, topic=topics.INTAKE_INTERACTIONS)
    await eventually(lambda: _published(service, 1))
    r = await service.client.get("/cases", headers=bearer(service.app, "agent"))
    assert r.json()["total"] == 1


async def test_a_follow_up_is_logged_on_the_open_case(service: Service) -> None:
    first = _interaction()
    await publish_event(service.broker, first, topic=topics.INTAKE_INTERACTIONS)
    [opened] = await eventually(lambda: _published(service, 1))
    reply = _interaction(
        contact_id=first.contact_id, follow_up_of=opened.number, subject="Re: still broken"
    )  # type: ignore[attr-defined]
    await publish_event(service.broker, reply, topic=topics.INTAKE_INTERACTIONS)
    events = await eventually(lambda: _published(service, 2))
    assert isinstance(events[1], c.ActivityLogged)
    assert events[1].case_id == opened.case_id  # type: ignore[attr-defined]
    r = await service.client.get(f"/cases/{opened.case_id}", headers=bearer(service.app, "agent"))  # type: ignore[attr-defined]
    assert [a["subject"] for a in r.json()["activities"]] == ["Re: still broken"]


async def test_reading_needs_a_token_and_unknown_cases_are_404_problems(service: Service) -> None:
    assert (await service.client.get(f"/cases/{uuid.uuid4()}")).status_code == 401
    r = await service.client.get(f"/cases/{uuid.uuid4()}", headers=bearer(service.app, "agent"))
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"


async def test_health_metrics_and_asyncapi(service: Service) -> None:
    assert (await service.client.get("/health/live")).json() == {"status": "ok"}
    ready = await service.client.get("/health/ready")
    assert ready.status_code == 200 and ready.json()["checks"]["database"] == "ok"
    metrics = await service.client.get("/metrics")
    assert "caseflow_http_requests_total" in metrics.text
    doc = (await service.client.get("/asyncapi.json")).json()
    assert {
        "intake.interaction.v1:consume",
        "cases.case.v1:publish",
        "intake.notification.v1:publish",
        "intake.request.v1:publish",
    } <= set(doc["channels"])
