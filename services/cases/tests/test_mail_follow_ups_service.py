"""A customer's mail on an existing case, with a real PostgreSQL: added to it, reopening it,
or opening a new case that refers to it; attachments kept and shown. Time is moved, never
waited for."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from faststream.kafka import TestKafkaBroker
from faststream.kafka.annotations import KafkaMessage
from sqlalchemy import update

import caseflow_contracts as c
from caseflow_contracts import topics
from caseflow_servicekit import ServiceApp
from caseflow_servicekit.testing import bearer, eventually, publish_event, running
from cases.adapters.tables import cases
from cases.bootstrap import MIGRATIONS, build
from cases.settings import CasesSettings

pytestmark = pytest.mark.service

NOW = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)
WINDOW_DAYS = 5
COLLEAGUE = uuid.UUID(int=8)
ASSIGNEE = uuid.UUID(int=10)
MARKER_CONTACT = uuid.UUID(int=99)
STATEMENT = c.AttachmentRef(
    attachment_id=uuid.UUID(int=502),
    filename="statement.png",
    content_type="image/png",
    size=20_480,
    sha256="e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
)


class MovableClock:
    """A second passes with every reading; tests move it on by days."""

    def __init__(self) -> None:
        self.at = NOW

    def now(self) -> datetime:
        self.at += timedelta(seconds=1)
        return self.at

    def move(self, by: timedelta) -> None:
        self.at += by


class Desk:
    def __init__(
        self, app: ServiceApp, client: httpx.AsyncClient, broker: Any, clock: MovableClock
    ) -> None:
        self.app, self.client, self.broker, self.clock = app, client, broker, clock
        self.events: list[c.Event] = []
        self.notifications: list[c.NotificationRequested] = []
        self.agent = bearer(app, "agent", subject="ada")
        self.admin = bearer(app, "admin")

    def of_type(self, kind: type[c.Event], case_id: uuid.UUID | None = None) -> list[Any]:
        return [
            e
            for e in self.events
            if isinstance(e, kind) and (case_id is None or getattr(e, "case_id", None) == case_id)
        ]

    async def case(self, case_id: uuid.UUID) -> dict[str, Any]:
        r = await self.client.get(f"/cases/{case_id}", headers=self.agent)
        assert r.status_code == 200, r.text
        found: dict[str, Any] = r.json()
        return found

    async def receive(self, interaction: c.InteractionReceived) -> None:
        await publish_event(self.broker, interaction, topic=topics.INTAKE_INTERACTIONS)

    async def settled(self) -> None:
        """Wait until everything published so far has come out: the outbox is relayed in
        order, so once a case opened after it is seen, all before it was seen too."""
        r = await self.client.post(
            "/cases",
            json={"contact_id": str(MARKER_CONTACT), "channel": "phone", "subject": "Marker"},
            headers=self.agent,
        )
        assert r.status_code == 201, r.text
        marker = uuid.UUID(r.json()["case_id"])

        async def seen() -> bool | None:
            return True if self.of_type(c.CaseOpened, marker) else None

        await eventually(seen)
        self.events = [e for e in self.events if getattr(e, "case_id", None) != marker]
        self.notifications = [n for n in self.notifications if n.case_id != marker]


@pytest.fixture
async def desk(fresh_database: str) -> AsyncIterator[Desk]:
    settings = CasesSettings(
        database_url=fresh_database,
        kafka_bootstrap_servers="test:9092",
        reopen_window_days=WINDOW_DAYS,
    )
    clock = MovableClock()
    app = build(settings, clock=clock, configure_process=False)
    holder: list[Desk] = []

    @app.kit.kafka.subscriber(topics.CASES, group_id="probe-cases")
    async def on_case(message: KafkaMessage) -> None:
        holder[0].events.append(c.decode(message.headers["ce_type"], message.body))

    @app.kit.kafka.subscriber(topics.INTAKE_NOTIFICATIONS, group_id="probe-notifications")
    async def on_notification(message: KafkaMessage) -> None:
        event = c.decode(message.headers["ce_type"], message.body)
        assert isinstance(event, c.NotificationRequested)
        holder[0].notifications.append(event)

    async with (
        TestKafkaBroker(app.kit.kafka) as broker,
        running(app, migrations=MIGRATIONS) as client,
    ):
        d = Desk(app, client, broker, clock)
        holder.append(d)
        r = await client.post(
            "/decisions",
            json={"code": "refunded", "names": {"en": "Refunded"}, "outcome": "accepted"},
            headers=d.admin,
        )
        assert r.status_code == 201, r.text
        yield d


def _mail(**overrides: Any) -> c.InteractionReceived:
    event = c.sample("interaction.received")
    values = {
        "interaction_id": uuid.uuid4(),
        "channel": c.Channel.EMAIL,
        "follow_up_of": None,
        "occurred_at": NOW,
        **overrides,
    }
    return event.model_copy(update=values)  # type: ignore[return-value]


async def _opened(d: Desk) -> c.CaseOpened:
    first = _mail()
    await d.receive(first)

    async def found() -> c.CaseOpened | None:
        opened = d.of_type(c.CaseOpened)
        return opened[0] if opened else None

    opened = await eventually(found)
    async with d.app.kit.engine.begin() as conn:
        await conn.execute(
            update(cases).where(cases.c.case_id == opened.case_id).values(assignee_id=ASSIGNEE)
        )
    return opened


def _follow_up(opened: c.CaseOpened, **overrides: Any) -> c.InteractionReceived:
    values: dict[str, Any] = {
        "contact_id": opened.contact_id,
        "follow_up_of": opened.number,
        "subject": f"Re: [{opened.number}] Invoice 2024-0456 charged twice",
        "body": "Still charged twice, here is the statement.",
        "attachments": [STATEMENT],
        **overrides,
    }
    return _mail(**values)


async def _resolve(d: Desk, case_id: uuid.UUID) -> None:
    r = await d.client.post(
        f"/cases/{case_id}/resolve",
        json={"code": "refunded", "text": "Refunded the duplicate"},
        headers=d.agent,
    )
    assert r.status_code == 200, r.text


def _json(ref: c.AttachmentRef) -> dict[str, Any]:
    return ref.model_dump(mode="json")


async def test_a_mail_case_keeps_its_attachments_and_its_follow_ups_what_was_written(
    desk: Desk,
) -> None:
    opened = await _opened(desk)
    sample = c.sample("interaction.received")
    assert isinstance(sample, c.InteractionReceived) and sample.attachments
    assert opened.attachments == sample.attachments
    assert (opened.related_case_id, opened.related_number) == (None, None)
    shown = await desk.case(opened.case_id)
    assert shown["attachments"] == [_json(a) for a in sample.attachments]
    assert (shown["related_case_id"], shown["related_number"]) == (None, None)

    async def acknowledged() -> list[c.NotificationRequested] | None:
        return [n for n in desk.notifications if n.template == "case.received"] or None

    [ack] = await eventually(acknowledged)
    assert (ack.interaction_id, ack.attachments) == (opened.interaction_id, [])

    theirs = _follow_up(opened, contact_id=COLLEAGUE)
    await desk.receive(theirs)
    await desk.receive(theirs.model_copy())  # redelivered under another event id
    out_of_office = _follow_up(opened, auto_reply=True, subject="Out of office", attachments=[])
    await desk.receive(out_of_office)
    await desk.settled()

    logged = desk.of_type(c.ActivityLogged, opened.case_id)
    assert [
        (a.interaction_id, a.contact_id, a.from_other_contact, a.auto_reply) for a in logged
    ] == [
        (theirs.interaction_id, COLLEAGUE, True, False),
        (out_of_office.interaction_id, opened.contact_id, False, True),
    ]
    assert logged[0].description == "Still charged twice, here is the statement."
    assert logged[0].attachments == [STATEMENT]
    assert (logged[0].kind, logged[0].agent_id) == (c.ActivityKind.EMAIL, None)
    told = [n for n in desk.notifications if n.template == "case.follow_up"]
    assert [(n.recipient.kind, n.recipient.id) for n in told] == [(c.RecipientKind.AGENT, ASSIGNEE)]

    shown = await desk.case(opened.case_id)
    assert shown["status"] == "new" and len(desk.of_type(c.CaseOpened)) == 1
    activities = (
        await desk.client.get(f"/cases/{opened.case_id}/activities", headers=desk.agent)
    ).json()
    assert activities == shown["activities"]
    first, second = activities
    assert first["description"] == "Still charged twice, here is the statement."
    assert first["attachments"] == [_json(STATEMENT)]
    assert (first["interaction_id"], first["contact_id"]) == (
        str(theirs.interaction_id),
        str(COLLEAGUE),
    )
    assert (first["from_other_contact"], first["auto_reply"]) == (True, False)
    assert (second["auto_reply"], second["attachments"]) == (True, [])


async def test_a_mail_within_the_window_reopens_the_resolved_case(desk: Desk) -> None:
    opened = await _opened(desk)
    await _resolve(desk, opened.case_id)
    desk.clock.move(timedelta(days=WINDOW_DAYS) - timedelta(minutes=1))
    mail = _follow_up(opened)
    await desk.receive(mail)
    await desk.settled()

    [reopened] = desk.of_type(c.CaseReopened, opened.case_id)
    assert reopened.reason == "The customer wrote again"
    [logged] = desk.of_type(c.ActivityLogged, opened.case_id)
    assert (logged.interaction_id, logged.attachments) == (mail.interaction_id, [STATEMENT])
    assert desk.events.index(reopened) < desk.events.index(logged)
    assert len(desk.of_type(c.CaseOpened)) == 1
    shown = await desk.case(opened.case_id)
    assert (shown["status"], shown["reopen_count"], shown["resolution"]) == ("in_progress", 1, None)
    assert shown["activities"][-1]["description"] == "Still charged twice, here is the statement."
    assert [n.template for n in desk.notifications if n.case_id == opened.case_id][-1] == (
        "case.follow_up"
    )


@pytest.mark.parametrize(
    ("close", "later"),
    [
        ("resolve", timedelta(days=WINDOW_DAYS, minutes=1)),
        ("cancel", timedelta(minutes=5)),
    ],
)
async def test_a_mail_after_the_window_or_on_a_cancelled_case_opens_a_case_that_refers_to_it(
    desk: Desk, close: str, later: timedelta
) -> None:
    opened = await _opened(desk)
    if close == "resolve":
        await _resolve(desk, opened.case_id)
    else:
        r = await desk.client.post(
            f"/cases/{opened.case_id}/cancel", json={"reason": "Withdrawn"}, headers=desk.agent
        )
        assert r.status_code == 200, r.text
    desk.clock.move(later)
    mail = _follow_up(opened)
    await desk.receive(mail)
    await desk.settled()

    first, new = desk.of_type(c.CaseOpened)
    assert first.case_id == opened.case_id and new.case_id != opened.case_id
    assert (new.related_case_id, new.related_number) == (opened.case_id, opened.number)
    assert (new.interaction_id, new.attachments) == (mail.interaction_id, [STATEMENT])
    assert desk.of_type(c.CaseReopened) == []
    shown = await desk.case(new.case_id)
    assert (shown["related_case_id"], shown["related_number"]) == (
        str(opened.case_id),
        opened.number,
    )
    assert shown["description"] == "Still charged twice, here is the statement."
    assert shown["attachments"] == [_json(STATEMENT)]
    old = await desk.case(opened.case_id)
    assert old["status"] == ("resolved" if close == "resolve" else "cancelled")
    assert old["activities"] == []
    found = await desk.client.get(
        "/cases", params={"interaction_id": str(mail.interaction_id)}, headers=desk.agent
    )
    assert [i["case_id"] for i in found.json()["items"]] == [str(new.case_id)]


async def test_an_auto_reply_on_a_resolved_case_is_only_recorded_against_it(desk: Desk) -> None:
    opened = await _opened(desk)
    await _resolve(desk, opened.case_id)
    await desk.settled()
    before = (len(desk.events), len(desk.notifications))
    desk.clock.move(timedelta(days=1))
    out_of_office = _follow_up(opened, auto_reply=True, subject="Out of office")
    await desk.receive(out_of_office)
    await desk.settled()

    assert (len(desk.events), len(desk.notifications)) == before
    shown = await desk.case(opened.case_id)
    assert (shown["status"], shown["reopen_count"], shown["activities"]) == ("resolved", 0, [])
    found = await desk.client.get(
        "/cases", params={"interaction_id": str(out_of_office.interaction_id)}, headers=desk.agent
    )
    assert [i["case_id"] for i in found.json()["items"]] == [str(opened.case_id)]


async def test_an_auto_reply_to_no_case_opens_nothing(desk: Desk) -> None:
    await desk.receive(_mail(auto_reply=True, subject="Out of office"))
    await desk.receive(_mail(auto_reply=True, follow_up_of="CAS-2026-999999"))
    await desk.settled()
    assert (desk.events, desk.notifications) == ([], [])
    listed = await desk.client.get("/cases", headers=desk.agent)
    assert listed.json()["total"] == 1  # the marker alone


def test_the_reopen_window_is_a_week_unless_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CASES_DATABASE_URL", "postgresql://cases@localhost/cases")
    assert CasesSettings().reopen_window_days == 7  # type: ignore[call-arg]
    monkeypatch.setenv("CASES_REOPEN_WINDOW_DAYS", "14")
    assert CasesSettings().reopen_window_days == 14  # type: ignore[call-arg]
