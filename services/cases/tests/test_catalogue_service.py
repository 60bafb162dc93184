"""The catalogues over HTTP with a real PostgreSQL; what they publish captured through
TestKafkaBroker."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from faststream.kafka import TestKafkaBroker
from faststream.kafka.annotations import KafkaMessage

import caseflow_contracts as c
from caseflow_contracts import topics
from caseflow_servicekit import ServiceApp, ServiceSettings
from caseflow_servicekit.testing import bearer, eventually, running
from cases.bootstrap import MIGRATIONS, build

pytestmark = pytest.mark.service

NOW = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
WEB_KEY = "catalogue-web-key"


class FixedClock:
    def now(self) -> datetime:
        return NOW


class Service:
    def __init__(
        self, app: ServiceApp, client: httpx.AsyncClient, published: list[tuple[str, c.Event]]
    ) -> None:
        self.app, self.client, self.published = app, client, published
        self.admin = bearer(app, "admin")
        self.agent = bearer(app, "agent")
        self.channel = {"X-Api-Key": WEB_KEY}

    async def events(self, n: int) -> list[tuple[str, c.Event]]:
        async def enough() -> list[tuple[str, c.Event]] | None:
            return list(self.published) if len(self.published) >= n else None

        return await eventually(enough)


@pytest.fixture
async def service(fresh_database: str) -> AsyncIterator[Service]:
    settings = ServiceSettings(
        database_url=fresh_database,
        kafka_bootstrap_servers="test:9092",
        channel_api_keys=f"web:{WEB_KEY}",
    )
    app = build(settings, clock=FixedClock(), configure_process=False)
    published: list[tuple[str, c.Event]] = []

    @app.kit.kafka.subscriber(topics.CATALOGUE, group_id="probe")
    async def probe(message: KafkaMessage) -> None:
        key = (message.raw_message.key or b"").decode()  # type: ignore[union-attr]
        published.append((key, c.decode(message.headers["ce_type"], message.body)))

    async with (
        TestKafkaBroker(app.kit.kafka),
        running(app, migrations=MIGRATIONS) as client,
    ):
        yield Service(app, client, published)


REPAIR: dict[str, Any] = {
    "code": "repair",
    "names": {"en": "Repair", "de": "Reparatur"},
    "default_priority": "high",
    "parameters": [
        {
            "name": "warranty",
            "labels": {"en": "Under warranty?", "de": "Unter Garantie?"},
            "type": "choice",
            "choices": ["yes", "no"],
            "required": True,
        },
        {
            "name": "invoice_date",
            "labels": {"en": "Invoice date", "de": "Rechnungsdatum"},
            "type": "date",
            "required": True,
            "when": {"parameter": "warranty", "equals": ["yes"]},
        },
        {"name": "serial", "labels": {"en": "Serial number"}},
    ],
}


def _change(body: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    return {**{k: v for k, v in body.items() if k != "code"}, **overrides}


async def test_request_types_are_created_read_listed_changed_and_deactivated(
    service: Service,
) -> None:
    client = service.client
    r = await client.post("/request-types", json=REPAIR, headers=service.admin)
    assert r.status_code == 201, r.text
    created = r.json()
    assert (created["code"], created["version"], created["active"]) == ("repair", 1, True)
    assert created["default_priority"] == "high"
    assert created["parameters"][1]["when"] == {"parameter": "warranty", "equals": ["yes"]}
    assert created["parameters"][0]["choices"] == ["yes", "no"]

    other = {"code": "billing.question", "names": {"en": "Billing question"}}
    assert (
        await client.post("/request-types", json=other, headers=service.admin)
    ).status_code == 201

    r = await client.get("/request-types/repair", headers=service.agent)
    assert r.status_code == 200 and r.json() == created

    r = await client.put(
        "/request-types/repair",
        json=_change(REPAIR, default_priority="urgent", parameters=REPAIR["parameters"][:2]),
        headers=service.admin,
    )
    assert r.status_code == 200, r.text
    assert (r.json()["version"], r.json()["default_priority"]) == (2, "urgent")
    assert [p["name"] for p in r.json()["parameters"]] == ["warranty", "invoice_date"]

    r = await client.put(
        "/request-types/repair",
        json=_change(REPAIR, default_priority="urgent", active=False),
        headers=service.admin,
    )
    assert (r.json()["version"], r.json()["active"]) == (3, False)
    assert (await client.get("/request-types/repair", headers=service.agent)).json()[
        "active"
    ] is False

    every = await client.get("/request-types", headers=service.agent)
    assert [t["code"] for t in every.json()] == ["billing.question", "repair"]
    active = await client.get("/request-types", params={"active": "true"}, headers=service.agent)
    assert [t["code"] for t in active.json()] == ["billing.question"]
    inactive = await client.get("/request-types", params={"active": "false"}, headers=service.agent)
    assert [t["code"] for t in inactive.json()] == ["repair"]

    events = await service.events(4)
    assert all(key == event.code for key, event in events)  # type: ignore[attr-defined]
    repair = [
        e for _, e in events if isinstance(e, c.CatalogueRequestTypeDefined) and e.code == "repair"
    ]
    assert [(e.version, e.active, e.default_priority) for e in repair] == [
        (1, True, c.Priority.HIGH),
        (2, True, c.Priority.URGENT),
        (3, False, c.Priority.URGENT),
    ]
    assert repair[0].parameters[1].when == c.ParameterCondition(
        parameter="warranty", equals=["yes"]
    )
    assert repair[0].names == {"en": "Repair", "de": "Reparatur"}


async def test_the_questions_are_asked_step_by_step(service: Service) -> None:
    client = service.client
    assert (
        await client.post("/request-types", json=REPAIR, headers=service.admin)
    ).status_code == 201

    async def ask(answers: dict[str, str] | None, language: str = "en") -> dict[str, Any]:
        params = {"language": language}
        if answers is not None:
            params["answers"] = json.dumps(answers)
        r = await client.get(
            "/request-types/repair/questions", params=params, headers=service.channel
        )
        assert r.status_code == 200, r.text
        return r.json()  # type: ignore[no-any-return]

    first = await ask(None, language="de")
    assert [(q["name"], q["label"]) for q in first["questions"]] == [
        ("warranty", "Unter Garantie?"),
        ("serial", "Serial number"),  # no German label: English
    ]
    assert first["questions"][0] == {
        "name": "warranty",
        "label": "Unter Garantie?",
        "type": "choice",
        "choices": ["yes", "no"],
        "required": True,
    }
    assert first["complete"] is False

    second = await ask({"warranty": "yes"})
    assert [q["name"] for q in second["questions"]] == ["invoice_date", "serial"]
    assert second["complete"] is False
    assert second["problems"] == {"invoice_date": "required"}

    done = await ask({"warranty": "yes", "invoice_date": "2026-05-31"})
    assert done["complete"] is True
    assert done["answers"] == {"warranty": "yes", "invoice_date": "2026-05-31"}

    no_warranty = await ask({"warranty": "no"})
    assert [q["name"] for q in no_warranty["questions"]] == ["serial"]
    assert no_warranty["complete"] is True

    wrong = await ask({"warranty": "yes", "invoice_date": "yesterday"})
    assert wrong["complete"] is False
    assert wrong["problems"] == {"invoice_date": "not a date (YYYY-MM-DD)"}

    # An agent's script asks the same questions.
    r = await client.get("/request-types/repair/questions", headers=service.agent)
    assert r.status_code == 200


@pytest.mark.parametrize(
    "answers",
    [
        "{not json",
        "[1, 2]",
        '"yes"',
        '{"warranty": 1}',
        '{"warranty": null}',
        '{"warranty": "\\u0000"}',
    ],
)
async def test_answers_that_are_not_a_json_object_of_strings_are_422(
    service: Service, answers: str
) -> None:
    await service.client.post("/request-types", json=REPAIR, headers=service.admin)
    r = await service.client.get(
        "/request-types/repair/questions", params={"answers": answers}, headers=service.agent
    )
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["errors"][0]["loc"] == ["query", "answers"]


async def test_a_code_is_created_once(service: Service) -> None:
    assert (
        await service.client.post("/request-types", json=REPAIR, headers=service.admin)
    ).status_code == 201
    again = await service.client.post("/request-types", json=REPAIR, headers=service.admin)
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"
    assert "repair" in again.json()["detail"]
    decision = {"code": "refund", "names": {"en": "Refund"}, "outcome": "accepted"}
    assert (
        await service.client.post("/decisions", json=decision, headers=service.admin)
    ).status_code == 201
    assert (
        await service.client.post("/decisions", json=decision, headers=service.admin)
    ).status_code == 409


@pytest.mark.parametrize(
    ("parameters", "named"),
    [
        ([{"name": "a"}, {"name": "a"}], "defined twice"),
        ([{"name": "a", "when": {"parameter": "b", "equals": ["x"]}}, {"name": "b"}], "'b'"),
        ([{"name": "a", "when": {"parameter": "nowhere", "equals": ["x"]}}], "'nowhere'"),
        ([{"name": "kind", "type": "choice"}], "offers no choices"),
    ],
)
async def test_a_form_that_cannot_be_asked_is_422_naming_the_problem(
    service: Service, parameters: list[dict[str, Any]], named: str
) -> None:
    body = {"code": "impossible", "names": {"en": "Impossible"}, "parameters": parameters}
    r = await service.client.post("/request-types", json=body, headers=service.admin)
    assert r.status_code == 422, r.text
    assert named in r.json()["detail"]
    assert (
        await service.client.get("/request-types/impossible", headers=service.agent)
    ).status_code == 404
    # Nor may a change make the form of an existing request type impossible.
    await service.client.post("/request-types", json=REPAIR, headers=service.admin)
    r = await service.client.put(
        "/request-types/repair", json=_change(REPAIR, parameters=parameters), headers=service.admin
    )
    assert r.status_code == 422
    assert (await service.client.get("/request-types/repair", headers=service.agent)).json()[
        "version"
    ] == 1


@pytest.mark.parametrize(
    "body",
    [
        {"code": "Repair", "names": {"en": "Repair"}},
        {"code": "re pair", "names": {"en": "Repair"}},
        {"code": "x" * 101, "names": {"en": "Repair"}},
        {"code": "repair", "names": {}},
        {"code": "repair", "names": {"en": "Repair"}, "default_priority": "whenever"},
        {
            "code": "repair",
            "names": {"en": "Repair"},
            "parameters": [{"name": "a", "type": "colour"}],
        },
        {"code": "repair", "names": {"en": "Repair"}, "unknown": True},
    ],
)
async def test_bad_request_types_are_422(service: Service, body: dict[str, Any]) -> None:
    r = await service.client.post("/request-types", json=body, headers=service.admin)
    assert r.status_code == 422, r.text


async def test_unknown_entries_are_404(service: Service) -> None:
    client, agent, admin = service.client, service.agent, service.admin
    assert (await client.get("/request-types/nothing", headers=agent)).status_code == 404
    assert (await client.get("/request-types/nothing/questions", headers=agent)).status_code == 404
    assert (
        await client.put("/request-types/nothing", json=_change(REPAIR), headers=admin)
    ).status_code == 404
    assert (await client.get("/decisions/nothing", headers=agent)).status_code == 404
    assert (await client.post("/decisions/nothing/retire", headers=admin)).status_code == 404
    r = await client.put("/decisions/nothing", json={"names": {"en": "x"}}, headers=admin)
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"


async def test_decisions_are_created_changed_retired_and_still_readable(service: Service) -> None:
    client, agent, admin = service.client, service.agent, service.admin
    refund = {"code": "refund", "names": {"en": "Refund"}, "outcome": "accepted"}
    r = await client.post("/decisions", json=refund, headers=admin)
    assert r.status_code == 201, r.text
    assert r.json() == {
        "code": "refund",
        "names": {"en": "Refund"},
        "outcome": "accepted",
        "requires_text": False,
        "retired": False,
        "version": 1,
        "creates_contract": False,
        "contract_template_id": None,
    }
    refused = {"code": "no-fault", "names": {"en": "No fault found"}, "outcome": "refused"}
    assert (await client.post("/decisions", json=refused, headers=admin)).status_code == 201

    r = await client.put(
        "/decisions/refund",
        json={
            "names": {"en": "Refund", "de": "Erstattung"},
            "outcome": "accepted",
            "requires_text": True,
        },
        headers=admin,
    )
    assert (r.json()["version"], r.json()["requires_text"]) == (2, True)

    r = await client.post("/decisions/refund/retire", headers=admin)
    assert r.status_code == 200, r.text
    assert (r.json()["version"], r.json()["retired"]) == (3, True)
    # Retiring again changes nothing.
    assert (await client.post("/decisions/refund/retire", headers=admin)).json()["version"] == 3

    assert (await client.get("/decisions/refund", headers=agent)).json()["retired"] is True
    listed = await client.get("/decisions", headers=agent)
    assert [d["code"] for d in listed.json()] == ["no-fault"]
    every = await client.get("/decisions", params={"include_retired": "true"}, headers=agent)
    assert [d["code"] for d in every.json()] == ["no-fault", "refund"]

    # A PUT may bring it back.
    r = await client.put(
        "/decisions/refund",
        json={"names": {"en": "Refund"}, "outcome": "accepted", "retired": False},
        headers=admin,
    )
    assert (r.json()["version"], r.json()["retired"]) == (4, False)

    events = await service.events(5)
    refunds = [e for key, e in events if key == "refund"]
    assert all(isinstance(e, c.CatalogueDecisionDefined) for e in refunds)
    assert [(e.version, e.retired, e.requires_text) for e in refunds] == [  # type: ignore[attr-defined]
        (1, False, False),
        (2, False, True),
        (3, True, True),
        (4, False, False),
    ]
    assert refunds[0].outcome is c.DecisionOutcome.ACCEPTED  # type: ignore[attr-defined]


async def test_roles(service: Service) -> None:
    client, agent, channel = service.client, service.agent, service.channel
    decision = {"code": "refund", "names": {"en": "Refund"}}
    assert (await client.post("/request-types", json=REPAIR, headers=agent)).status_code == 403
    assert (await client.post("/decisions", json=decision, headers=agent)).status_code == 403
    supervisor = bearer(service.app, "supervisor")
    assert (await client.post("/request-types", json=REPAIR, headers=supervisor)).status_code == 403
    assert (await client.get("/request-types")).status_code == 401

    await client.post("/request-types", json=REPAIR, headers=service.admin)
    await client.post("/decisions", json=decision, headers=service.admin)
    assert (
        await client.put("/request-types/repair", json=_change(REPAIR), headers=agent)
    ).status_code == 403
    assert (await client.post("/decisions/refund/retire", headers=agent)).status_code == 403
    assert (await client.get("/request-types/repair", headers=agent)).status_code == 200
    # A channel key may ask the questions, and nothing else.
    assert (await client.get("/request-types/repair/questions", headers=channel)).status_code == 200
    assert (await client.get("/request-types/repair", headers=channel)).status_code == 403
    assert (await client.get("/decisions", headers=channel)).status_code == 403
    assert (await client.post("/request-types", json=REPAIR, headers=channel)).status_code == 403


async def test_the_catalogue_topic_is_documented(service: Service) -> None:
    doc = (await service.client.get("/asyncapi.json")).json()
    assert "cases.catalogue.v1:publish" in doc["channels"]
    api = (await service.client.get("/openapi.json")).json()
    questions = api["paths"]["/request-types/{code}/questions"]["get"]
    assert set(questions["x-caseflow-roles"]) == {"channel", "agent"}
    assert "422" in questions["responses"]
    assert "409" in api["paths"]["/request-types"]["post"]["responses"]
