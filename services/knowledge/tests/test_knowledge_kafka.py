"""The knowledge service against a real Kafka-compatible broker and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from faststream.kafka.annotations import KafkaMessage

import caseflow_contracts as c
from caseflow_contracts import topics
from caseflow_devstack.broker import create_topics
from caseflow_servicekit.testing import bearer, eventually, publish_event, running
from knowledge.bootstrap import MIGRATIONS, build
from knowledge.settings import KnowledgeSettings

pytestmark = pytest.mark.service


async def test_a_case_opened_on_the_broker_gets_articles_suggested_on_the_broker(
    fresh_database: str, kafka_bootstrap: str
) -> None:
    await create_topics(
        kafka_bootstrap,
        [
            topics.CASES,
            topics.KNOWLEDGE,
            topics.INTAKE_CUSTOMERS,
            topics.INTAKE_INTERACTIONS,
            topics.INTAKE_NOTIFICATIONS,
        ],
    )
    settings = KnowledgeSettings(
        database_url=fresh_database,
        kafka_bootstrap_servers=kafka_bootstrap,
        # Short group timeouts: the consumer groups form sooner, which keeps the test quick.
        kafka_session_timeout_ms=3000,
        kafka_rebalance_timeout_ms=3000,
        semantic="off",
    )
    app = build(settings, configure_process=False)
    suggested: list[c.ArticlesSuggested] = []

    @app.kit.kafka.subscriber(
        topics.KNOWLEDGE, group_id=f"probe-{uuid.uuid4()}", auto_offset_reset="earliest"
    )
    async def probe(message: KafkaMessage) -> None:
        event = c.decode(message.headers["ce_type"], message.body)
        if isinstance(event, c.ArticlesSuggested):
            suggested.append(event)

    async with running(app, migrations=MIGRATIONS) as client:
        supervisor = bearer(app, "supervisor")
        r = await client.post(
            "/articles",
            json={"title": "Refund a duplicate card payment", "body": "Charged twice? Refund."},
            headers=supervisor,
        )
        article_id = r.json()["article_id"]
        await client.post(f"/articles/{article_id}/publish", headers=supervisor)

        opened = c.sample("case.opened").model_copy(
            update={
                "case_id": uuid.uuid4(),
                "subject": "Card payment charged twice",
                "occurred_at": datetime.now(UTC),
            }
        )
        await publish_event(app.kit.kafka, opened, topic=topics.CASES)

        async def ours() -> c.ArticlesSuggested | None:
            return next((e for e in suggested if e.case_id == opened.case_id), None)  # type: ignore[attr-defined]

        event = await eventually(ours, timeout=30)
        assert [str(s.article_id) for s in event.suggestions] == [article_id]
