"""The knowledge service with a real PostgreSQL, its subscriber driven through TestKafkaBroker."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from faststream.kafka import KafkaBroker, TestKafkaBroker
from faststream.kafka.annotations import KafkaMessage
from sqlalchemy import text

import caseflow_contracts as c
from caseflow_contracts import topics
from caseflow_servicekit import ServiceApp
from caseflow_servicekit.testing import bearer, eventually, publish_event, running
from knowledge.bootstrap import MIGRATIONS, build
from knowledge.settings import KnowledgeSettings

pytestmark = pytest.mark.service

NOW = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)


class FixedClock:
    def now(self) -> datetime:
        return NOW


@dataclass
class Service:
    app: ServiceApp
    client: httpx.AsyncClient
    broker: KafkaBroker
    published: list[tuple[str, c.Event]] = field(default_factory=list)

    @property
    def agent(self) -> dict[str, str]:
        return bearer(self.app, "agent")

    @property
    def supervisor(self) -> dict[str, str]:
        return bearer(self.app, "supervisor")

    async def article(self, title: str, body: str, *, publish: bool = True, **extra: Any) -> str:
        r = await self.client.post(
            "/articles", json={"title": title, "body": body, **extra}, headers=self.supervisor
        )
        assert r.status_code == 201, r.text
        article_id = str(r.json()["article_id"])
        if publish:
            p = await self.client.post(f"/articles/{article_id}/publish", headers=self.supervisor)
            assert p.status_code == 200, p.text
        return article_id

    async def search(self, q: str) -> list[str]:
        r = await self.client.get("/articles", params={"q": q}, headers=self.agent)
        assert r.status_code == 200, r.text
        return [str(hit["article_id"]) for hit in r.json()["items"]]

    async def events(self, kind: type[c.Event], n: int = 1) -> list[tuple[str, c.Event]]:
        async def probe() -> list[tuple[str, c.Event]] | None:
            found = [(k, e) for k, e in self.published if isinstance(e, kind)]
            return found if len(found) >= n else None

        return await eventually(probe)

    async def scalar(self, sql: str) -> Any:
        async with self.app.kit.engine.connect() as conn:
            return (await conn.execute(text(sql))).scalar_one()


@pytest.fixture
async def service(fresh_database: str) -> AsyncIterator[Service]:
    settings = KnowledgeSettings(database_url=fresh_database, kafka_bootstrap_servers="test:9092")
    app = build(settings, clock=FixedClock(), configure_process=False)
    published: list[tuple[str, c.Event]] = []

    @app.kit.kafka.subscriber(topics.KNOWLEDGE, group_id="probe")
    async def probe(message: KafkaMessage) -> None:
        key = message.raw_message.key.decode()  # type: ignore[union-attr]
        published.append((key, c.decode(message.headers["ce_type"], message.body)))

    async with (
        TestKafkaBroker(app.kit.kafka) as broker,
        running(app, migrations=MIGRATIONS) as client,
    ):
        yield Service(app, client, broker, published)


def _case_opened(subject: str) -> c.CaseOpened:
    event = c.sample("case.opened")
    update = {"case_id": uuid.uuid4(), "subject": subject, "occurred_at": NOW}
    return event.model_copy(update=update)  # type: ignore[return-value]


async def test_search_finds_a_published_article_and_not_a_draft(service: Service) -> None:
    public = await service.article(
        "Refund a duplicate card payment", "Customers charged twice get a refund within 5 days."
    )
    secret = await service.article(
        "Refund fraud checklist", "Internal steps before any refund.", publish=False
    )
    # Stemmed English: "refunds" finds "refund"; the draft stays hidden.
    assert await service.search("refunds") == [public]
    assert await service.search("fraud") == []
    assert secret not in await service.search("refund")
    assert await service.search('"duplicate card"') == [public]
    assert await service.search("duplicate -refund") == []


async def test_search_ranks_title_matches_first_and_reads_other_languages(
    service: Service,
) -> None:
    in_body = await service.article("Billing questions", "Where to find an invoice copy.")
    in_title = await service.article("Invoice copy", "Download it from the portal.")
    german = await service.article(
        "Rechnung herunterladen", "Die Rechnung steht im Kundenportal.", language="de"
    )
    assert await service.search("invoice") == [in_title, in_body]
    assert await service.search("Rechnung") == [german]
    hit = await service.client.get("/articles", params={"q": "Rechnung"}, headers=service.agent)
    assert hit.json()["items"][0]["language"] == "de"


async def test_article_lifecycle_and_who_may_see_what(service: Service) -> None:
    r = await service.client.post(
        "/articles", json={"title": "Reset a password", "body": "Steps."}, headers=service.agent
    )
    assert r.status_code == 403
    article_id = await service.article(
        "Reset a password", "Steps.", publish=False, keywords=["login"]
    )
    draft = await service.client.get(f"/articles/{article_id}", headers=service.supervisor)
    assert (draft.json()["number"], draft.json()["status"]) == ("KA-00001", "draft")
    hidden = await service.client.get(f"/articles/{article_id}", headers=service.agent)
    assert hidden.status_code == 404

    published = await service.client.post(
        f"/articles/{article_id}/publish", headers=service.supervisor
    )
    assert published.json()["status"] == "published"
    again = await service.client.post(f"/articles/{article_id}/publish", headers=service.supervisor)
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"
    seen = await service.client.get(f"/articles/{article_id}", headers=service.agent)
    assert seen.status_code == 200

    [(key, event)] = await service.events(c.ArticlePublished)
    assert isinstance(event, c.ArticlePublished)
    assert key == article_id
    assert (event.number, event.version, event.keywords) == ("KA-00001", 1, ["login"])


async def test_linking_an_article_to_a_case(service: Service) -> None:
    article_id = await service.article("Reset a password", "Steps.")
    draft_id = await service.article("Unfinished", "Later.", publish=False)
    case_id = uuid.uuid4()
    agent_id = uuid.uuid4()
    as_agent = bearer(service.app, "agent", subject=str(agent_id))

    first = await service.client.post(f"/cases/{case_id}/articles/{article_id}", headers=as_agent)
    assert first.status_code == 201, first.text
    assert first.json()["number"] == "KA-00001"
    again = await service.client.post(f"/cases/{case_id}/articles/{article_id}", headers=as_agent)
    assert again.status_code == 200
    refused = await service.client.post(f"/cases/{case_id}/articles/{draft_id}", headers=as_agent)
    assert refused.status_code == 409
    unknown = await service.client.post(
        f"/cases/{case_id}/articles/{uuid.uuid4()}", headers=as_agent
    )
    assert unknown.status_code == 404

    [(key, linked)] = await service.events(c.ArticleLinked)
    assert isinstance(linked, c.ArticleLinked)
    assert key == str(case_id)
    assert (linked.case_id, str(linked.article_id), linked.linked_by) == (
        case_id,
        article_id,
        agent_id,
    )
    assert await service.scalar("SELECT count(*) FROM article_links") == 1


async def test_a_case_opened_with_a_matching_subject_gets_articles_suggested(
    service: Service,
) -> None:
    refund = await service.article(
        "Refund a duplicate card payment", "Customers charged twice get a refund."
    )
    card = await service.article("Card blocked after payment", "Unblock the card in the portal.")
    await service.article("Printer setup", "Install the driver.")
    await service.article("Refund card payment policy draft", "Not final.", publish=False)

    unrelated = _case_opened("Weather on Tuesday")
    await publish_event(service.broker, unrelated, topic=topics.CASES)
    # Applied (the inbox says so) with nothing to suggest; had it suggested anything, the
    # relay, publishing in order, would deliver that before the suggestion awaited below.
    assert await service.scalar("SELECT count(*) FROM inbox") == 1

    opened = _case_opened("I was charged twice for one card payment, need a refund")
    await publish_event(service.broker, opened, topic=topics.CASES)
    [(key, suggested)] = await service.events(c.ArticlesSuggested)
    assert isinstance(suggested, c.ArticlesSuggested)
    assert key == str(opened.case_id) and suggested.case_id == opened.case_id
    assert [str(s.article_id) for s in suggested.suggestions] == [refund, card]
    assert suggested.suggestions[0].score >= suggested.suggestions[1].score > 0


async def test_a_redelivered_case_opened_is_suggested_for_once(service: Service) -> None:
    await service.article("Refund a duplicate card payment", "Customers charged twice.")
    opened = _case_opened("Refund please")
    await publish_event(service.broker, opened, topic=topics.CASES, event_id="same")
    await publish_event(service.broker, opened, topic=topics.CASES, event_id="same")
    # A later case: the relay publishes in order, so a duplicate would arrive before it.
    later = _case_opened("Another refund")
    await publish_event(service.broker, later, topic=topics.CASES)
    suggestions = await service.events(c.ArticlesSuggested, 2)
    assert [e.case_id for _, e in suggestions] == [opened.case_id, later.case_id]  # type: ignore[attr-defined]


async def test_health_metrics_and_asyncapi(service: Service) -> None:
    assert (await service.client.get("/health/live")).json() == {"status": "ok"}
    ready = await service.client.get("/health/ready")
    assert ready.status_code == 200 and ready.json()["checks"]["database"] == "ok"
    assert "caseflow_http_requests_total" in (await service.client.get("/metrics")).text
    doc = (await service.client.get("/asyncapi.json")).json()
    assert set(doc["channels"]) == {"cases.case.v1:consume", "knowledge.article.v1:publish"}
