"""A telephone call that ended is logged on the cases worked during it, with a real PostgreSQL;
intake's `call.finished` is published through TestKafkaBroker."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from faststream.kafka import TestKafkaBroker
from faststream.kafka.annotations import KafkaMessage

import caseflow_contracts as c
from caseflow_contracts import topics
from caseflow_servicekit import ServiceApp, ServiceSettings
from caseflow_servicekit.auth import agent_id_of
from caseflow_servicekit.testing import bearer, eventually, publish_event, running
from cases.bootstrap import MIGRATIONS, build

pytestmark = pytest.mark.service

AGENT_SUBJECT = "grace"
AGENT = agent_id_of(AGENT_SUBJECT)
CONTACT, ACCOUNT = uuid.UUID(int=71), uuid.UUID(int=72)


class MovingClock:
    """Now, as the test sets it."""

    def __init__(self) -> None:
        self.at = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.at


class Desk:
    def __init__(
        self, app: ServiceApp, client: httpx.AsyncClient, broker: Any, clock: MovingClock
    ) -> None:
        self.app, self.client, self.broker, self.clock = app, client, broker, clock
        self.agent = bearer(app, "agent", subject=AGENT_SUBJECT)
        self.events: list[c.Event] = []

    async def open(self, **extra: Any) -> dict[str, Any]:
        r = await self.client.post(
            "/cases",
            headers=self.agent,
            json={
                "contact_id": str(CONTACT),
                "account_id": str(ACCOUNT),
                "channel": "phone",
                "subject": "Router keeps rebooting",
                **extra,
            },
        )
        assert r.status_code == 201, r.text
        body: dict[str, Any] = r.json()
        return body

    async def case(self, case_id: str) -> dict[str, Any]:
        r = await self.client.get(f"/cases/{case_id}", headers=self.agent)
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body

    async def finished(
        self,
        call_id: str,
        *,
        answered_at: datetime,
        seconds: int,
        agent_id: uuid.UUID | None = AGENT,
        answered: bool = True,
    ) -> None:
        event = c.CallFinished(
            occurred_at=answered_at + timedelta(seconds=seconds),
            call_id=call_id,
            caller_number="030 1234567",
            caller_e164="+49301234567",
            extension="201",
            contact_id=CONTACT,
            account_id=ACCOUNT,
            interaction_id=uuid.uuid4(),
            agent_id=agent_id,
            answered=answered,
            ringing_at=answered_at - timedelta(seconds=5),
            answered_at=answered_at if answered else None,
            ended_at=answered_at + timedelta(seconds=seconds),
            duration_seconds=seconds if answered else 0,
        )
        await publish_event(self.broker, event, topic=topics.INTAKE_CALLS)


@pytest.fixture
async def desk(fresh_database: str) -> AsyncIterator[Desk]:
    settings = ServiceSettings(database_url=fresh_database, kafka_bootstrap_servers="test:9092")
    clock = MovingClock()
    app = build(settings, clock=clock, configure_process=False)
    holder: list[Desk] = []

    @app.kit.kafka.subscriber(topics.CASES, group_id="probe-cases")
    async def on_case(message: KafkaMessage) -> None:
        holder[0].events.append(c.decode(message.headers["ce_type"], message.body))

    async with (
        TestKafkaBroker(app.kit.kafka) as broker,
        running(app, migrations=MIGRATIONS) as client,
    ):
        holder.append(Desk(app, client, broker, clock))
        yield holder[0]


def calls_of(case: dict[str, Any]) -> list[tuple[str, int, bool]]:
    return [
        (a["kind"], a["duration_minutes"], a["billable"])
        for a in case["activities"]
        if a["kind"] == "call"
    ]


async def test_a_case_opened_for_a_call_gets_the_call_with_its_duration(desk: Desk) -> None:
    answered = desk.clock.now()
    opened = await desk.open(call_id="pbx-1")
    assert (opened["call_id"], opened["opened_by"]) == ("pbx-1", str(AGENT))

    async def published() -> list[str | None] | None:
        found = [e.call_id for e in desk.events if isinstance(e, c.CaseOpened)]
        return found or None

    assert await eventually(published) == ["pbx-1"]

    await desk.finished("pbx-1", answered_at=answered, seconds=301)
    await desk.finished("pbx-1", answered_at=answered, seconds=301)  # delivered twice

    async def logged() -> dict[str, Any] | None:
        case = await desk.case(opened["case_id"])
        return case if calls_of(case) else None

    case = await eventually(logged)
    # 301 seconds are 6 started minutes; once, however often the event comes.
    assert calls_of(case) == [("call", 6, True)]
    assert case["call_minutes"] == 6
    [activity] = [a for a in case["activities"] if a["kind"] == "call"]
    assert activity["performed_by"] == str(AGENT)
    assert activity["subject"] == "Call with +49301234567"


async def test_cases_the_agent_opened_or_worked_during_the_call_get_it(desk: Desk) -> None:
    answered = desk.clock.now()
    during = await desk.open()  # opened by the agent while on the call, no call id
    worked = await desk.open()
    desk.clock.at = answered - timedelta(hours=1)
    before = await desk.open()  # opened before the call: not about it
    desk.clock.at = answered + timedelta(seconds=30)
    r = await desk.client.post(
        f"/cases/{worked['case_id']}/activities",
        headers=desk.agent,
        json={"kind": "note", "subject": "Customer confirms the model"},
    )
    assert r.status_code == 201, r.text

    await desk.finished("pbx-2", answered_at=answered, seconds=120)

    async def logged() -> list[dict[str, Any]] | None:
        found = [await desk.case(x["case_id"]) for x in (during, worked)]
        return found if all(calls_of(x) for x in found) else None

    for case in await eventually(logged):
        assert calls_of(case) == [("call", 2, True)]
    assert calls_of(await desk.case(before["case_id"])) == []


async def test_a_missed_call_or_one_on_a_closed_case_logs_nothing(desk: Desk) -> None:
    answered = desk.clock.now()
    missed = await desk.open(call_id="pbx-3")
    await desk.finished("pbx-3", answered_at=answered, seconds=0, answered=False)
    closed = await desk.open(call_id="pbx-4")
    r = await desk.client.post(
        f"/cases/{closed['case_id']}/cancel", headers=desk.agent, json={"reason": "Duplicate"}
    )
    assert r.status_code == 200, r.text
    # Without an agent, only the case opened for the call is about it.
    await desk.finished("pbx-4", answered_at=answered, seconds=60, agent_id=None)
    # A later call on an open case shows both events went through in order.
    marker = await desk.open(call_id="pbx-5")
    await desk.finished("pbx-5", answered_at=answered, seconds=60, agent_id=None)

    async def marked() -> bool | None:
        return True if calls_of(await desk.case(marker["case_id"])) else None

    await eventually(marked)
    assert calls_of(await desk.case(missed["case_id"])) == []
    assert calls_of(await desk.case(closed["case_id"])) == []


async def test_a_call_id_is_text_of_at_most_200_characters(desk: Desk) -> None:
    r = await desk.client.post(
        "/cases",
        headers=desk.agent,
        json={
            "contact_id": str(CONTACT),
            "channel": "phone",
            "subject": "Too long",
            "call_id": "x" * 201,
        },
    )
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
