"""The intake service against a real Kafka-compatible broker, not the in-memory test broker."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from faststream.kafka.annotations import KafkaMessage

import caseflow_contracts as c
from caseflow_contracts import topics
from caseflow_servicekit.testing import eventually, publish_event, running
from intake.bootstrap import MIGRATIONS, build
from intake.settings import IntakeSettings

pytestmark = pytest.mark.service


async def test_a_web_submission_goes_through_kafka_and_comes_back_announced(
    fresh_database: str, kafka_bootstrap: str
) -> None:
    settings = IntakeSettings(database_url=fresh_database, kafka_bootstrap_servers=kafka_bootstrap)
    app = build(settings, configure_process=False)
    announced: list[c.InteractionReceived] = []

    @app.kit.kafka.subscriber(
        topics.INTAKE_INTERACTIONS, group_id=f"probe-{uuid.uuid4()}", auto_offset_reset="earliest"
    )
    async def probe(message: KafkaMessage) -> None:
        event = c.decode(dict(message.headers)["ce_type"], message.body)
        assert isinstance(event, c.InteractionReceived)
        announced.append(event)

    submission_id = uuid.uuid4()
    subject = f"Request {submission_id}"
    submitted = c.sample("web.submitted").model_copy(
        update={
            "submission_id": submission_id,
            "subject": subject,
            "occurred_at": datetime.now(UTC),
        }
    )
    async with running(app, migrations=MIGRATIONS):
        await publish_event(app.kit.kafka, submitted, topic=topics.CHANNELS_WEB)

        async def mine() -> c.InteractionReceived | None:
            # The topic may hold earlier events; this submission's subject is unique.
            return next((e for e in announced if e.subject == subject), None)

        event = await eventually(mine, timeout=30)
    assert event.channel == c.Channel.WEB
    assert event.first_contact is True
