"""The intake service with a real PostgreSQL, its subscriber driven through TestKafkaBroker."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from faststream.kafka import KafkaBroker, TestKafkaBroker
from faststream.kafka.annotations import KafkaMessage
from sqlalchemy import func, select

import caseflow_contracts as c
from caseflow_contracts import topics
from caseflow_servicekit import ServiceApp
from caseflow_servicekit.testing import bearer, eventually, publish_event, running
from intake.adapters.tables import (
    contacts,
    idempotency_keys,
    interactions,
    metadata,
    request_types,
)
from intake.bootstrap import MIGRATIONS, build
from intake.settings import IntakeSettings

pytestmark = pytest.mark.service

NOW = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)
WEB_KEY = "web-form-key-123"
CHANNEL = {"X-Api-Key": WEB_KEY}
PROBLEM_JSON = "application/problem+json"
outbox_table = metadata.tables["outbox"]


class FixedClock:
    def now(self) -> datetime:
        return NOW


@dataclass
class Published:
    event: c.Event
    key: bytes | None
    headers: dict[str, str]


@dataclass
class Service:
    app: ServiceApp
    client: httpx.AsyncClient
    broker: KafkaBroker
    published: list[Published] = field(default_factory=list)
    dead_letters: list[dict[str, str]] = field(default_factory=list)

    async def count(self, table: Any) -> int:
        async with self.app.kit.engine.connect() as conn:
            return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())

    async def all_published(self) -> list[Published]:
        """What was published once the outbox has drained."""

        async def drained() -> bool | None:
            unrelayed = outbox_table.select().where(outbox_table.c.relayed_at.is_(None))
            return True if await self.count(unrelayed.subquery()) == 0 else None

        await eventually(drained)
        return list(self.published)


@pytest.fixture
async def service(fresh_database: str) -> AsyncIterator[Service]:
    settings = IntakeSettings(
        database_url=fresh_database,
        kafka_bootstrap_servers="test:9092",
        channel_api_keys=f"web:{WEB_KEY}",
    )
    app = build(settings, clock=FixedClock(), configure_process=False)
    published: list[Published] = []
    dead_letters: list[dict[str, str]] = []

    @app.kit.kafka.subscriber(topics.INTAKE_INTERACTIONS, group_id="probe")
    async def probe(message: KafkaMessage) -> None:
        headers = dict(message.headers)
        event = c.decode(headers["ce_type"], message.body)
        record = message.raw_message
        assert not isinstance(record, tuple)  # one message per call, not a batch
        published.append(Published(event, record.key, headers))

    @app.kit.kafka.subscriber(topics.dlq(topics.CHANNELS_WEB), group_id="probe")
    async def dead_letter_probe(message: KafkaMessage) -> None:
        dead_letters.append(dict(message.headers))

    async with (
        TestKafkaBroker(app.kit.kafka) as broker,
        running(app, migrations=MIGRATIONS) as client,
    ):
        yield Service(app, client, broker, published, dead_letters)


def submission(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "Marta Kowalska",
        "email": "Marta.Kowalska@Acme.example",
        "phone": "+48 601 234 567",
        "subject": "Invoice 2024-0456 charged twice",
        "body": "My card was charged twice. Could you refund the duplicate?",
        # No request type: the parameters are free.
        "parameters": {"invoice_number": "2024-0456"},
        "locale": "pl-PL",
    }
    body.update(overrides)
    return body


async def test_a_submission_makes_a_contact_an_interaction_and_one_event(
    service: Service,
) -> None:
    r = await service.client.post("/web-submissions", json=submission(), headers=CHANNEL)
    assert r.status_code == 202, r.text
    accepted = r.json()
    assert accepted["status"] == "accepted"
    assert accepted["first_contact"] is True
    assert accepted["account_id"] is None

    [message] = await service.all_published()
    event = message.event
    assert isinstance(event, c.InteractionReceived)
    assert str(event.interaction_id) == accepted["interaction_id"]
    assert str(event.contact_id) == accepted["contact_id"]
    assert (event.channel, event.first_contact, event.language) == (c.Channel.WEB, True, "pl")
    # Keyed by the contact, so one customer's interactions stay in order.
    assert message.key == accepted["contact_id"].encode()
    assert "ce_subject" not in message.headers
    assert (await service.count(contacts), await service.count(interactions)) == (1, 1)

    agent = bearer(service.app, "agent")
    got = await service.client.get(f"/interactions/{accepted['interaction_id']}", headers=agent)
    assert got.status_code == 200, got.text
    assert got.json()["subject"] == "Invoice 2024-0456 charged twice"
    assert got.json()["parameters"] == {"invoice_number": "2024-0456"}
    contact = (
        await service.client.get(f"/contacts/{accepted['contact_id']}", headers=agent)
    ).json()
    assert contact["emails"] == ["marta.kowalska@acme.example"]
    assert contact["phones"] == ["+48601234567"]
    found = await service.client.get(
        "/contacts", params={"email": " MARTA.kowalska@acme.EXAMPLE"}, headers=agent
    )
    assert [c["contact_id"] for c in found.json()["items"]] == [accepted["contact_id"]]
    none = await service.client.get("/contacts", params={"email": "x@y.z"}, headers=agent)
    assert (none.json()["items"], none.json()["total"]) == ([], 0)


async def test_the_same_address_again_is_the_same_contact_and_a_follow_up_is_noted(
    service: Service,
) -> None:
    first = (
        await service.client.post("/web-submissions", json=submission(), headers=CHANNEL)
    ).json()
    again = await service.client.post(
        "/web-submissions",
        json=submission(email="marta.kowalska@acme.EXAMPLE", subject="Re: [CAS-2026-000001]"),
        headers=bearer(service.app, "agent"),
    )
    assert again.status_code == 202, again.text
    assert again.json()["contact_id"] == first["contact_id"]
    assert again.json()["first_contact"] is False
    events = [p.event for p in await service.all_published()]
    assert len(events) == 2
    second = events[1]
    assert isinstance(second, c.InteractionReceived)
    # An agent's token is the REST intake, a channel's key the web form.
    assert (second.channel, second.follow_up_of) == (c.Channel.API, "CAS-2026-000001")
    assert await service.count(contacts) == 1


async def test_a_first_contact_from_a_registered_domain_joins_the_account(
    service: Service,
) -> None:
    supervisor = bearer(service.app, "supervisor")
    r = await service.client.post(
        "/accounts", json={"name": "Acme", "domains": ["ACME.example"]}, headers=supervisor
    )
    assert r.status_code == 201, r.text
    account_id = r.json()["account_id"]
    accepted = (
        await service.client.post("/web-submissions", json=submission(), headers=CHANNEL)
    ).json()
    assert accepted["account_id"] == account_id
    taken = await service.client.post(
        "/accounts", json={"name": "Copycat", "domains": ["acme.example"]}, headers=supervisor
    )
    assert taken.status_code == 409
    public = await service.client.post(
        "/accounts", json={"name": "Mail", "domains": ["gmail.com"]}, headers=supervisor
    )
    assert public.status_code == 422
    assert public.headers["content-type"] == PROBLEM_JSON
    # Agents file accounts; a web form's key cannot.
    channel_cannot = await service.client.post("/accounts", json={"name": "X"}, headers=CHANNEL)
    assert channel_cannot.status_code == 403


async def test_the_same_idempotency_key_twice_gives_one_interaction_and_the_same_answer(
    service: Service,
) -> None:
    headers = {**CHANNEL, "Idempotency-Key": "form-7f3a"}
    first = await service.client.post("/web-submissions", json=submission(), headers=headers)
    again = await service.client.post("/web-submissions", json=submission(), headers=headers)
    assert (first.status_code, again.status_code) == (202, 202)
    assert again.json() == first.json()
    assert await service.count(interactions) == 1
    assert len(await service.all_published()) == 1


async def test_concurrent_duplicates_under_one_key_create_once(service: Service) -> None:
    headers = {**CHANNEL, "Idempotency-Key": "double-click"}
    answers = await asyncio.gather(
        *(
            service.client.post("/web-submissions", json=submission(), headers=headers)
            for _ in range(4)
        )
    )
    assert [a.status_code for a in answers] == [202] * 4
    assert len({a.json()["interaction_id"] for a in answers}) == 1
    assert await service.count(interactions) == 1
    assert len(await service.all_published()) == 1


async def test_concurrent_first_requests_from_one_address_make_one_contact(
    service: Service,
) -> None:
    answers = await asyncio.gather(
        *(
            service.client.post(
                "/web-submissions", json=submission(subject=f"Request {i}"), headers=CHANNEL
            )
            for i in range(4)
        )
    )
    assert [a.status_code for a in answers] == [202] * 4
    assert len({a.json()["contact_id"] for a in answers}) == 1
    assert sorted(a.json()["first_contact"] for a in answers) == [False, False, False, True]
    assert (await service.count(contacts), await service.count(interactions)) == (1, 4)


async def test_the_same_key_with_another_body_is_a_409_problem(service: Service) -> None:
    headers = {**CHANNEL, "Idempotency-Key": "form-7f3a"}
    await service.client.post("/web-submissions", json=submission(), headers=headers)
    r = await service.client.post(
        "/web-submissions", json=submission(body="Another text"), headers=headers
    )
    assert r.status_code == 409
    assert r.headers["content-type"] == PROBLEM_JSON
    assert r.json()["detail"] == "Idempotency-Key reused with a different payload."
    assert await service.count(interactions) == 1


@pytest.mark.parametrize(
    "body",
    [
        submission(email="not-an-address"),
        submission(unexpected="field"),
        submission(subject=""),
        submission(subject="x" * 501),
        submission(body="b" * 100_001),
        submission(body="nul \x00 inside"),
        submission(parameters={"k": "v\x00"}),
        {k: v for k, v in submission().items() if k != "subject"},
    ],
    ids=[
        "email",
        "extra-field",
        "empty-subject",
        "long-subject",
        "long-body",
        "nul",
        "nul-parameter",
        "missing-subject",
    ],
)
async def test_a_malformed_submission_is_a_422_problem_and_stores_nothing(
    service: Service, body: dict[str, Any]
) -> None:
    r = await service.client.post(
        "/web-submissions", json=body, headers={**CHANNEL, "Idempotency-Key": "bad-1"}
    )
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == PROBLEM_JSON
    assert r.json()["status"] == 422
    for table in (contacts, interactions, idempotency_keys, outbox_table):
        assert await service.count(table) == 0


async def test_missing_or_wrong_credentials_are_401_problems(service: Service) -> None:
    for headers in ({}, {"X-Api-Key": "wrong"}, {"Authorization": "Bearer nonsense"}):
        r = await service.client.post("/web-submissions", json=submission(), headers=headers)
        assert r.status_code == 401
        assert r.headers["content-type"] == PROBLEM_JSON
    assert (
        await service.client.get(f"/contacts/{uuid.uuid4()}", headers=CHANNEL)
    ).status_code == 403
    missing = await service.client.get(
        f"/interactions/{uuid.uuid4()}", headers=bearer(service.app, "agent")
    )
    assert missing.status_code == 404
    assert await service.count(interactions) == 0


async def test_a_web_submitted_event_is_recorded_once_and_announced(service: Service) -> None:
    submitted = c.sample("web.submitted").model_copy(
        update={"submission_id": uuid.uuid4(), "occurred_at": NOW}
    )
    assert isinstance(submitted, c.WebSubmitted)
    await publish_event(service.broker, submitted, topic=topics.CHANNELS_WEB, event_id="ev-1")
    await publish_event(service.broker, submitted, topic=topics.CHANNELS_WEB, event_id="ev-1")
    # A channel's retry under a new event id is recognised by the submission id.
    await publish_event(service.broker, submitted, topic=topics.CHANNELS_WEB, event_id="ev-2")

    async def one_published() -> list[Published] | None:
        return list(service.published) or None

    [message] = await eventually(one_published)
    event = message.event
    assert isinstance(event, c.InteractionReceived)
    assert (event.channel, event.subject, event.language) == (
        c.Channel.WEB,
        submitted.subject,
        "pl",
    )
    assert event.parameters == submitted.parameters
    assert len(await service.all_published()) == 1
    assert await service.count(interactions) == 1
    agent = bearer(service.app, "agent")
    stored = (
        await service.client.get(f"/interactions/{event.interaction_id}", headers=agent)
    ).json()
    assert stored["submission_id"] == str(submitted.submission_id)


async def test_a_web_submission_breaking_a_rule_is_dead_lettered_at_once(
    service: Service,
) -> None:
    # The contract lets a NUL through; intake's rules do not, and retrying cannot help.
    submitted = c.sample("web.submitted").model_copy(
        update={"submission_id": uuid.uuid4(), "body": "nul \x00 inside", "occurred_at": NOW}
    )
    await publish_event(service.broker, submitted, topic=topics.CHANNELS_WEB)

    async def dead_lettered() -> list[dict[str, str]] | None:
        return list(service.dead_letters) or None

    [headers] = await eventually(dead_lettered)
    assert headers["x-dlq-error-type"] == "SubmissionRejected"
    assert headers["x-dlq-attempts"] == "1"
    assert (await service.count(contacts), await service.count(interactions)) == (0, 0)
    assert await service.all_published() == []


async def test_health_and_asyncapi(service: Service) -> None:
    ready = await service.client.get("/health/ready")
    assert ready.status_code == 200 and ready.json()["checks"]["database"] == "ok"
    doc = (await service.client.get("/asyncapi.json")).json()
    assert set(doc["channels"]) == {
        "channels.web.v1:consume",
        "cases.catalogue.v1:consume",
        "intake.request.v1:consume",
        "intake.interaction.v1:publish",
        "cases.case.v1:consume",
        "intake.customer.v1:publish",
        "channels.cti.v1:consume",
        "cases.contract.v1:consume",
        "intake.call.v1:publish",
        "intake.notification.v1:consume",
        "routing.agent.v1:consume",
        "intake.message.v1:publish",
    }


# The request-type catalogue, as the cases service announces it on cases.catalogue.v1.


def request_type_defined(version: int = 1, **overrides: Any) -> c.CatalogueRequestTypeDefined:
    """The sample "repair" type (warranty yes/no; the invoice date only under warranty; a free
    serial number), plus whether the customer made a backup."""
    sample = c.sample("catalogue.request_type_defined")
    assert isinstance(sample, c.CatalogueRequestTypeDefined)
    backup = c.ParameterSpec(name="backup", type=c.ParameterType.BOOLEAN)
    values: dict[str, Any] = {
        "version": version,
        "occurred_at": NOW,
        "parameters": [*sample.parameters, backup],
    }
    values.update(overrides)
    return sample.model_copy(update=values)


async def define(service: Service, event: c.CatalogueRequestTypeDefined) -> None:
    await publish_event(service.broker, event, topic=topics.CATALOGUE)


async def held_request_type(service: Service, code: str = "repair") -> dict[str, Any] | None:
    async with service.app.kit.engine.connect() as conn:
        row = (
            (await conn.execute(select(request_types).where(request_types.c.code == code)))
            .mappings()
            .first()
        )
    return None if row is None else dict(row)


def repair(parameters: dict[str, str], **overrides: Any) -> dict[str, Any]:
    return submission(request_type="repair", parameters=parameters, **overrides)


async def nothing_was_created(service: Service) -> bool:
    counts = [
        await service.count(table)
        for table in (contacts, interactions, idempotency_keys, outbox_table)
    ]
    return counts == [0, 0, 0, 0]


async def test_the_catalogues_copy_keeps_the_highest_version_whatever_the_order(
    service: Service,
) -> None:
    renamed = {"en": "Repair (v3)"}
    await define(service, request_type_defined(2, names={"en": "Repair (v2)"}))
    await define(service, request_type_defined(3, names=renamed))
    await define(service, request_type_defined(1, names={"en": "Repair (v1)"}, active=False))
    await define(service, request_type_defined(2, names={"en": "Repair (v2)"}))
    # Redelivered under its own event id, and announced again under a new one.
    v3 = request_type_defined(3, names=renamed)
    for event_id in ("v3", "v3", "v3-again"):
        await publish_event(service.broker, v3, topic=topics.CATALOGUE, event_id=event_id)
    # A decision on the same topic is not a request type.
    decision = c.sample("catalogue.decision_defined").model_copy(
        update={"code": "repair", "version": 9}
    )
    await publish_event(service.broker, decision, topic=topics.CATALOGUE)

    held = await eventually(lambda: held_request_type(service))
    assert (held["version"], held["names"], held["active"]) == (3, renamed, True)
    assert [p["name"] for p in held["parameters"]] == [
        "warranty",
        "invoice_date",
        "serial_number",
        "backup",
    ]
    assert held["parameters"][1]["when"] == {"parameter": "warranty", "equals": ["yes"]}
    assert await service.count(request_types) == 1

    await define(service, request_type_defined(4, active=False))
    assert (await held_request_type(service) or {})["active"] is False


async def test_a_submission_answering_the_form_carries_its_answers_normalised(
    service: Service,
) -> None:
    await define(service, request_type_defined())
    answers = {
        "warranty": "yes",
        "invoice_date": "20260115",
        "serial_number": "  SN-0042 ",
        "backup": "Yes",
    }
    r = await service.client.post("/web-submissions", json=repair(answers), headers=CHANNEL)
    assert r.status_code == 202, r.text
    normalised = {
        "warranty": "yes",
        "invoice_date": "2026-01-15",
        "serial_number": "SN-0042",
        "backup": "true",
    }
    [message] = await service.all_published()
    assert isinstance(message.event, c.InteractionReceived)
    assert (message.event.request_type, message.event.parameters) == ("repair", normalised)
    stored = await service.client.get(
        f"/interactions/{r.json()['interaction_id']}", headers=bearer(service.app, "agent")
    )
    assert stored.json()["parameters"] == normalised

    # Without a warranty, no invoice date is asked; the serial number is optional.
    r = await service.client.post(
        "/web-submissions", json=repair({"warranty": "no"}), headers=CHANNEL
    )
    assert r.status_code == 202, r.text


@pytest.mark.parametrize(
    ("answers", "named"),
    [
        ({"invoice_date": "2026-01-15"}, {"warranty", "invoice_date"}),
        ({"warranty": "yes"}, {"invoice_date"}),
        ({"warranty": "yes", "invoice_date": "15/01/2026"}, {"invoice_date"}),
        ({"warranty": "maybe"}, {"warranty"}),
        ({"warranty": "no", "invoice_date": "2026-01-15"}, {"invoice_date"}),
        ({"warranty": "no", "colour": "red"}, {"colour"}),
        ({"warranty": "no", "backup": "perhaps", "colour": "red"}, {"backup", "colour"}),
    ],
    ids=[
        "missing-required",
        "missing-once-asked",
        "malformed-date",
        "not-a-choice",
        "not-asked",
        "unknown",
        "several",
    ],
)
async def test_answers_that_do_not_fit_the_form_are_a_422_naming_each_and_create_nothing(
    service: Service, answers: dict[str, str], named: set[str]
) -> None:
    await define(service, request_type_defined())
    r = await service.client.post(
        "/web-submissions",
        json=repair(answers),
        headers={**CHANNEL, "Idempotency-Key": "bad-answers"},
    )
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == PROBLEM_JSON
    errors = r.json()["errors"]
    assert {tuple(e["loc"]) for e in errors} == {("body", "parameters", n) for n in named}
    assert all(e["msg"] for e in errors)
    assert await nothing_was_created(service)


async def test_an_unknown_or_withdrawn_request_type_is_a_422_naming_it(service: Service) -> None:
    unknown = await service.client.post(
        "/web-submissions", json=repair({"warranty": "no"}), headers=CHANNEL
    )
    assert unknown.status_code == 422, unknown.text
    assert [e["loc"] for e in unknown.json()["errors"]] == [["body", "request_type"]]

    await define(service, request_type_defined(1))
    await define(service, request_type_defined(2, active=False))
    withdrawn = await service.client.post(
        "/web-submissions",
        json=repair({"warranty": "no"}),
        headers={**CHANNEL, "Idempotency-Key": "withdrawn"},
    )
    assert withdrawn.status_code == 422, withdrawn.text
    assert withdrawn.headers["content-type"] == PROBLEM_JSON
    assert [e["loc"] for e in withdrawn.json()["errors"]] == [["body", "request_type"]]
    assert "no longer offered" in withdrawn.json()["detail"]
    assert await nothing_was_created(service)


async def test_a_web_channels_event_is_not_refused_for_its_request_type(
    service: Service,
) -> None:
    # Taken from the customer already: refusing it now would only bury it in the DLQ.
    submitted = c.sample("web.submitted").model_copy(
        update={"submission_id": uuid.uuid4(), "occurred_at": NOW, "request_type": "repair"}
    )
    await publish_event(service.broker, submitted, topic=topics.CHANNELS_WEB)
    [message] = await eventually(lambda: _published(service))
    assert isinstance(message.event, c.InteractionReceived)
    assert message.event.request_type == "repair"
    assert service.dead_letters == []


async def _published(service: Service) -> list[Published] | None:
    return list(service.published) or None


@pytest.mark.parametrize("channel", ["phone", "letter", "visit", "email", "api"])
async def test_an_agent_takes_down_a_new_customers_request_on_the_channel_it_came_by(
    service: Service, channel: str
) -> None:
    agent = {**bearer(service.app, "agent"), "Idempotency-Key": f"call-{channel}"}
    body = submission(name="Alan Turing", email="alan@bletchley.example", phone="+44 1908 640404")
    r = await service.client.post(
        "/web-submissions", json={**body, "channel": channel}, headers=agent
    )
    assert r.status_code == 202, r.text
    accepted = r.json()
    assert accepted["first_contact"] is True
    [message] = await service.all_published()
    event = message.event
    assert isinstance(event, c.InteractionReceived)
    assert (event.channel, event.first_contact) == (c.Channel(channel), True)
    assert str(event.contact_id) == accepted["contact_id"]
    stored = await service.client.get(
        f"/interactions/{accepted['interaction_id']}", headers=bearer(service.app, "agent")
    )
    assert stored.json()["channel"] == channel
    contact = await service.client.get(
        f"/contacts/{accepted['contact_id']}", headers=bearer(service.app, "agent")
    )
    assert contact.json()["phones"] == ["+441908640404"]
    # The same key with another channel is another request.
    elsewhere = "visit" if channel != "visit" else "letter"
    reused = await service.client.post(
        "/web-submissions", json={**body, "channel": elsewhere}, headers=agent
    )
    assert reused.status_code == 409, reused.text


async def test_an_agents_submission_without_a_channel_is_the_api(service: Service) -> None:
    r = await service.client.post(
        "/web-submissions", json=submission(), headers=bearer(service.app, "agent")
    )
    assert r.status_code == 202, r.text
    [message] = await service.all_published()
    assert isinstance(message.event, c.InteractionReceived)
    assert message.event.channel is c.Channel.API


@pytest.mark.parametrize(
    ("channel", "headers"),
    [
        ("phone", CHANNEL),
        ("api", CHANNEL),
        ("web", CHANNEL),
        ("web", None),
        ("fax", None),
    ],
    ids=["key-phone", "key-api", "key-web", "agent-web", "agent-fax"],
)
async def test_a_channel_the_caller_may_not_name_is_a_422_naming_it(
    service: Service, channel: str, headers: dict[str, str] | None
) -> None:
    caller = headers if headers is not None else bearer(service.app, "agent")
    r = await service.client.post(
        "/web-submissions",
        json=submission(channel=channel),
        headers={**caller, "Idempotency-Key": "chosen"},
    )
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == PROBLEM_JSON
    assert [e["loc"][:2] for e in r.json()["errors"]] == [["body", "channel"]]
    assert await nothing_was_created(service)


# A request an agent took from a customer not on file, as cases asks on intake.request.v1.


def interaction_requested(**overrides: Any) -> c.InteractionRequested:
    values: dict[str, Any] = {
        "interaction_id": uuid.uuid4(),
        "occurred_at": NOW,
        "channel": c.Channel.VISIT,
        "name": "Jan Novák",
        "email": "Jan.Novak@example.cz",
        "phone": "+420 601 123 456",
        "subject": "Washing machine leaks",
        "body": "Brought a photo of the puddle.",
        "request_type": None,
        "parameters": {},
        "language": "cs",
        "requested_by": uuid.uuid4(),
    }
    values.update(overrides)
    return c.InteractionRequested(**values)


async def ask(service: Service, event: c.InteractionRequested, event_id: str | None = None) -> None:
    await publish_event(service.broker, event, topic=topics.INTAKE_REQUESTS, event_id=event_id)


async def received(service: Service, n: int = 1) -> list[c.InteractionReceived] | None:
    found: list[c.InteractionReceived] = []
    for message in service.published:
        if isinstance(message.event, c.InteractionReceived):
            found.append(message.event)
    return found if len(found) >= n else None


async def test_an_agents_request_files_the_new_customer_and_is_received_once(
    service: Service,
) -> None:
    request = interaction_requested()
    await ask(service, request, event_id="req-1")
    await ask(service, request, event_id="req-1")  # redelivered
    await ask(service, request, event_id="req-1-again")  # asked again under another event id
    [message] = await service.all_published()
    event = message.event
    assert isinstance(event, c.InteractionReceived)
    assert event.interaction_id == request.interaction_id
    assert (event.channel, event.first_contact, event.language) == (c.Channel.VISIT, True, "cs")
    assert (event.subject, event.body) == (request.subject, request.body)
    assert message.key == str(event.contact_id).encode()
    agent = bearer(service.app, "agent")
    stored = await service.client.get(f"/interactions/{request.interaction_id}", headers=agent)
    assert stored.status_code == 200, stored.text
    assert (stored.json()["contact_id"], stored.json()["channel"]) == (
        str(event.contact_id),
        "visit",
    )
    contact = (await service.client.get(f"/contacts/{event.contact_id}", headers=agent)).json()
    assert (contact["name"], contact["emails"], contact["phones"]) == (
        "Jan Novák",
        ["jan.novak@example.cz"],
        ["+420601123456"],
    )
    assert (await service.count(contacts), await service.count(interactions)) == (1, 1)


async def test_an_agents_request_finds_a_known_customer_by_email_or_by_phone(
    service: Service,
) -> None:
    r = await service.client.post(
        "/web-submissions",
        json=submission(email="marta@acme.example", phone="+48 601 234 567"),
        headers=CHANNEL,
    )
    assert r.status_code == 202, r.text
    marta = r.json()["contact_id"]
    await ask(service, interaction_requested(email="MARTA@acme.example", phone=None))
    await ask(service, interaction_requested(name="Marta K.", email=None, phone="+48601234567"))
    events = await eventually(lambda: received(service, 3))
    assert [(str(e.contact_id), e.first_contact) for e in events[1:]] == [
        (marta, False),
        (marta, False),
    ]
    assert await service.count(contacts) == 1


async def test_a_customer_known_by_phone_alone_is_filed_once(service: Service) -> None:
    await ask(service, interaction_requested(email=None, phone="601 234 567"))
    [first] = await eventually(lambda: received(service))
    assert first.first_contact is True
    await ask(service, interaction_requested(email=None, phone="601-234-567"))
    second = (await eventually(lambda: received(service, 2)))[1]
    assert (second.contact_id, second.first_contact) == (first.contact_id, False)
    assert await service.count(contacts) == 1


async def test_an_agents_answers_are_normalised_or_kept_as_the_agent_sent_them(
    service: Service,
) -> None:
    await define(service, request_type_defined())
    await eventually(lambda: held_request_type(service))
    fits = interaction_requested(
        request_type="repair", parameters={"warranty": "yes ", "invoice_date": "20260115"}
    )
    await ask(service, fits)
    [normalised] = await eventually(lambda: received(service))
    assert normalised.parameters["invoice_date"] == "2026-01-15"
    # Intake's copy disagrees (the catalogue changed meanwhile): the request still goes on.
    disagrees = interaction_requested(request_type="repair", parameters={"warranty": "perhaps"})
    await ask(service, disagrees)
    kept = (await eventually(lambda: received(service, 2)))[1]
    assert (kept.interaction_id, kept.request_type, kept.parameters) == (
        disagrees.interaction_id,
        "repair",
        {"warranty": "perhaps"},
    )
