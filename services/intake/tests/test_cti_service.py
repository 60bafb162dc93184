"""The phone channel with a real PostgreSQL: telephony events through the webhook and the
topic (TestKafkaBroker), the screen-pop card and its stream (a real uvicorn server), calls
recorded as interactions, timeouts, and what is refused."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import httpx
import pytest
import uvicorn
from faststream.kafka import KafkaBroker, TestKafkaBroker
from faststream.kafka.annotations import KafkaMessage
from sqlalchemy import func, insert, select

import caseflow_contracts as c
from caseflow_contracts import topics
from caseflow_devstack.ports import free_port
from caseflow_servicekit import ServiceApp
from caseflow_servicekit.auth import agent_id_of
from caseflow_servicekit.testing import bearer, eventually, publish_event, running
from intake.adapters.screen_pops import PgScreenPopHub, listener_dsn
from intake.adapters.tables import (
    accounts,
    calls,
    case_summaries,
    contact_emails,
    contact_phones,
    contacts,
    cti_rejected,
    extension_agents,
    interactions,
    metadata,
)
from intake.bootstrap import MIGRATIONS, build
from intake.settings import IntakeSettings

pytestmark = pytest.mark.service

NOW = datetime(2026, 5, 20, 9, 14, 7, tzinfo=UTC)
CTI_KEY = "cti-switch-key-123"
CHANNEL = {"X-Api-Key": CTI_KEY}
PROBLEM_JSON = "application/problem+json"
outbox_table = metadata.tables["outbox"]


class MovableClock:
    def __init__(self) -> None:
        self.moment = NOW

    def now(self) -> datetime:
        return self.moment


@dataclass
class Service:
    app: ServiceApp
    client: httpx.AsyncClient
    broker: KafkaBroker
    clock: MovableClock
    published: list[c.Event] = field(default_factory=list)
    dead_letters: list[dict[str, str]] = field(default_factory=list)

    async def count(self, query: Any) -> int:
        async with self.app.kit.engine.connect() as conn:
            return int((await conn.execute(select(func.count()).select_from(query))).scalar_one())

    async def one(self, query: Any) -> Any:
        async with self.app.kit.engine.connect() as conn:
            return (await conn.execute(query)).mappings().one()

    async def insert(self, table: Any, **values: Any) -> None:
        async with self.app.kit.engine.begin() as conn:
            await conn.execute(insert(table).values(**values))

    async def all_published(self) -> list[c.Event]:
        """What was published once the outbox has drained."""

        async def drained() -> bool | None:
            unrelayed = outbox_table.select().where(outbox_table.c.relayed_at.is_(None))
            return True if await self.count(unrelayed.subquery()) == 0 else None

        await eventually(drained)
        return list(self.published)

    async def of_type(self, kind: type[c.Event]) -> list[Any]:
        return [e for e in await self.all_published() if isinstance(e, kind)]

    @property
    def hub(self) -> PgScreenPopHub:
        hub: PgScreenPopHub = self.app.fastapi.state.screen_pops
        return hub


@asynccontextmanager
async def serve_intake(database: str, **overrides: Any) -> AsyncIterator[Service]:
    settings = IntakeSettings(
        database_url=database,
        kafka_bootstrap_servers="test:9092",
        channel_api_keys=f"cti:{CTI_KEY}",
        **overrides,
    )
    clock = MovableClock()
    app = build(settings, clock=clock, configure_process=False)
    published: list[c.Event] = []
    dead_letters: list[dict[str, str]] = []

    for topic in (topics.INTAKE_CALLS, topics.INTAKE_CUSTOMERS, topics.INTAKE_INTERACTIONS):

        @app.kit.kafka.subscriber(topic, group_id="probe")
        async def probe(message: KafkaMessage) -> None:
            published.append(c.decode(dict(message.headers)["ce_type"], message.body))

    @app.kit.kafka.subscriber(topics.dlq(topics.CHANNELS_CTI), group_id="probe")
    async def dead_letter_probe(message: KafkaMessage) -> None:
        dead_letters.append(dict(message.headers))

    async with (
        TestKafkaBroker(app.kit.kafka) as broker,
        running(app, migrations=MIGRATIONS) as client,
    ):
        # Served without its lifespan: the hub is started here.
        await app.fastapi.state.screen_pops.start()
        try:
            yield Service(app, client, broker, clock, published, dead_letters)
        finally:
            await app.fastapi.state.screen_pops.stop()


@pytest.fixture
async def service(fresh_database: str) -> AsyncIterator[Service]:
    async with serve_intake(fresh_database, screen_pop_keepalive_seconds=0.3) as running_:
        yield running_


@asynccontextmanager
async def served_over_http(app: ServiceApp) -> AsyncIterator[str]:
    """The app under a real uvicorn server (streams arrive as they are written)."""
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, lifespan="off", log_config=None, access_log=False
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


class Sse:
    """Reads a Server-Sent Events stream: events and comments, one at a time."""

    def __init__(self, response: httpx.Response) -> None:
        self._lines = response.aiter_lines()

    async def next(self, *, within: float = 5.0) -> dict[str, str]:
        """The next event or comment: its fields, or `{"comment": ...}`."""
        fields: dict[str, str] = {}
        async with asyncio.timeout(within):
            async for line in self._lines:
                if not line:
                    if fields:
                        return fields
                    continue
                name, _, value = line.partition(":")
                fields[name or "comment"] = value.removeprefix(" ")
        raise AssertionError("the stream ended")

    async def next_event(self, *, within: float = 5.0) -> dict[str, str]:
        while True:
            fields = await self.next(within=within)
            if "event" in fields:
                return fields


def cti(event_type: str, **updates: Any) -> dict[str, Any]:
    """A telephony event as the webhook takes it: the contract's sample, changed."""
    payload: dict[str, Any] = c.sample(event_type).model_dump(mode="json")
    payload.update({k: v.isoformat() if isinstance(v, datetime) else v for k, v in updates.items()})
    return payload


T0 = datetime(2026, 5, 20, 9, 14, 6, tzinfo=UTC)
MARTA_PHONE = "+48601234567"


@dataclass
class Seeded:
    account_id: uuid.UUID
    contact_id: uuid.UUID


async def seed_customer(
    service: Service, *, phone: str = MARTA_PHONE, email: str = "marta@acme.example"
) -> Seeded:
    """Acme (gold, on credit hold) and Marta Kowalska of Acme, with a number and two cases."""
    account_id, contact_id = uuid.uuid4(), uuid.uuid4()
    owner = uuid.uuid4()
    await service.insert(
        accounts,
        account_id=account_id,
        name="Acme Sp. z o.o.",
        created_at=T0 - timedelta(days=400),
        tier="gold",
        region="PL",
        owner_id=owner,
        credit_hold=True,
        credit_hold_reason="Invoice 2026-0311 overdue",
    )
    await service.insert(
        contacts,
        contact_id=contact_id,
        name="Marta Kowalska",
        account_id=account_id,
        created_at=T0 - timedelta(days=300),
        position="Head of IT",
        language="pl",
    )
    await service.insert(contact_emails, email=email, contact_id=contact_id, position=0)
    await service.insert(
        contact_phones, contact_id=contact_id, phone=phone, position=0, raw="+48 601 234 567"
    )
    for number, status, opened in (
        ("CAS-2026-000101", "in_progress", T0 - timedelta(days=2)),
        ("CAS-2026-000077", "resolved", T0 - timedelta(days=40)),
    ):
        await service.insert(
            case_summaries,
            case_id=uuid.uuid4(),
            number=number,
            contact_id=contact_id,
            account_id=account_id,
            channel="email",
            subject=f"Subject of {number}",
            status=status,
            opened_at=opened,
            resolved_at=None if status != "resolved" else opened + timedelta(days=1),
            updated_at=opened,
        )
    return Seeded(account_id=account_id, contact_id=contact_id)


async def seed_contract(service: Service, account_id: uuid.UUID) -> uuid.UUID:
    """A contract for the account, as the cases service announces it on cases.contract.v1."""
    contract_id, line_id = uuid.uuid4(), uuid.uuid4()
    created = c.ContractCreated(
        contract_id=contract_id,
        number="CON-2026-0007",
        account_id=account_id,
        status=c.ContractStatus.ACTIVE,
        name="Gold support 2026",
        starts_on=date(2026, 1, 1),
        ends_on=date(2026, 12, 31),
        lines=[
            c.ContractLineSpec(
                line_id=line_id,
                number=1,
                name="Repairs",
                allocation=c.Allocation.CASES,
                allotment=12,
                starts_on=date(2026, 1, 1),
                ends_on=date(2026, 12, 31),
            )
        ],
        version=2,
        occurred_at=T0 - timedelta(days=100),
    )
    drawn = c.ContractLineDrawnDown(
        contract_id=contract_id,
        number="CON-2026-0007",
        account_id=account_id,
        status=c.ContractStatus.ACTIVE,
        line_id=line_id,
        line_number=1,
        allocation=c.Allocation.CASES,
        allotment=12,
        remaining=9,
        entry_id=uuid.uuid4(),
        case_id=uuid.uuid4(),
        amount=1,
        occurred_at=T0 - timedelta(days=10),
    )
    for event in (drawn, created):  # in any order
        await publish_event(service.broker, event, topic=topics.CONTRACTS)
    return contract_id


async def post(service: Service, *events: dict[str, Any]) -> httpx.Response:
    body: Any = events[0] if len(events) == 1 else list(events)
    return await service.client.post("/cti/events", json=body, headers=CHANNEL)


# -- the webhook and the card ---------------------------------------------------------------


async def test_a_ringing_call_from_a_known_contact_shows_the_whole_card(service: Service) -> None:
    seeded = await seed_customer(service)
    contract_id = await seed_contract(service, seeded.account_id)
    r = await post(
        service,
        cti(
            "call.ringing",
            call_id="call-1",
            caller_number="+48 601 234 567",
            agent_extension="2417",
        ),
    )
    assert r.status_code == 202, r.text
    assert r.json() == {
        "accepted": 1,
        "calls": [{"call_id": "call-1", "state": "ringing", "match": "contact"}],
    }
    card = (await service.client.get("/calls/call-1", headers=bearer(service.app, "agent"))).json()
    # She has cases on file: she has been in touch before, whatever the channel.
    assert card["match"] == "contact" and card["first_contact"] is False
    assert card["call"]["state"] == "ringing"
    assert (card["call"]["caller_e164"], card["call"]["extension"]) == (MARTA_PHONE, "2417")
    contact = card["contact"]
    assert (contact["name"], contact["position"], contact["language"]) == (
        "Marta Kowalska",
        "Head of IT",
        "pl",
    )
    assert (contact["emails"], contact["phones"]) == (["marta@acme.example"], [MARTA_PHONE])
    account = card["account"]
    assert (account["name"], account["tier"], account["region"]) == (
        "Acme Sp. z o.o.",
        "gold",
        "PL",
    )
    assert (account["credit_hold"], account["credit_hold_reason"]) == (
        True,
        "Invoice 2026-0311 overdue",
    )
    assert [(x["number"], x["status"]) for x in card["open_cases"]] == [
        ("CAS-2026-000101", "in_progress")
    ]
    assert [(x["number"], x["status"]) for x in card["recent_cases"]] == [
        ("CAS-2026-000077", "resolved")
    ]
    [contract] = card["contracts"]
    assert (contract["contract_id"], contract["status"]) == (str(contract_id), "active")
    assert [(x["name"], x["allotment"], x["remaining"]) for x in contract["lines"]] == [
        ("Repairs", 12, 9)
    ]
    [identified] = await service.of_type(c.CallIdentified)
    assert (identified.match, identified.contact_id) == (c.CallerMatch.CONTACT, seeded.contact_id)
    assert identified.first_contact is False  # she has cases on file


async def test_an_unknown_call_is_a_404_and_the_card_needs_an_agent(service: Service) -> None:
    r = await service.client.get("/calls/no-such-call", headers=bearer(service.app, "agent"))
    assert r.status_code == 404 and r.headers["content-type"] == PROBLEM_JSON
    assert (await service.client.get("/calls/no-such-call")).status_code == 401
    # Call ids are the switch's: any text, slashes too.
    await post(service, cti("call.ringing", call_id="pbx/7/a b"))
    r = await service.client.get("/calls/pbx/7/a b", headers=bearer(service.app, "agent"))
    assert r.status_code == 200 and r.json()["call"]["call_id"] == "pbx/7/a b"


async def test_the_webhook_needs_a_channel_key(service: Service) -> None:
    event = cti("call.ringing", call_id="call-2")
    assert (await service.client.post("/cti/events", json=event)).status_code == 401
    wrong = await service.client.post("/cti/events", json=event, headers={"X-Api-Key": "nope"})
    assert wrong.status_code == 401
    agent = await service.client.post(
        "/cti/events", json=event, headers=bearer(service.app, "agent")
    )
    assert agent.status_code == 403
    # Nothing is kept of what a caller without a key sends.
    junk = await service.client.post("/cti/events", content=b"not json")
    assert junk.status_code == 401
    assert await service.count(calls) == 0 and await service.count(cti_rejected) == 0


@pytest.mark.parametrize(
    ("body", "content_type", "why"),
    [
        (b"{not json", "application/json", "json_invalid"),
        (b'{"type": "call.exploded", "call_id": "x"}', "application/json", "union_tag_invalid"),
        (
            json.dumps({"type": "call.ringing", "call_id": "x", "caller_number": "1"}).encode(),
            "application/json",
            "missing",
        ),
        (json.dumps([]).encode(), "application/json", "too_short"),
    ],
)
async def test_a_malformed_event_is_a_422_and_kept_for_inspection(
    service: Service, body: bytes, content_type: str, why: str
) -> None:
    r = await service.client.post(
        "/cti/events", content=body, headers={**CHANNEL, "Content-Type": content_type}
    )
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == PROBLEM_JSON
    page = (
        await service.client.get("/cti/rejected", headers=bearer(service.app, "supervisor"))
    ).json()
    [kept] = page["items"]
    assert (page["total"], kept["source"], kept["body"]) == (1, "webhook:cti", body.decode())
    assert why in kept["error"]


async def test_rejected_events_are_listed_newest_first_in_pages_for_supervisors(
    service: Service,
) -> None:
    for n in range(3):
        service.clock.moment = NOW + timedelta(seconds=n)
        await service.client.post("/cti/events", content=f"junk {n}".encode(), headers=CHANNEL)
    supervisor = bearer(service.app, "supervisor")
    first = (await service.client.get("/cti/rejected?limit=2", headers=supervisor)).json()
    assert [x["body"] for x in first["items"]] == ["junk 2", "junk 1"]
    assert (first["total"], first["limit"], first["offset"]) == (3, 2, 0)
    rest = (await service.client.get("/cti/rejected?limit=2&offset=2", headers=supervisor)).json()
    assert [x["body"] for x in rest["items"]] == ["junk 0"]
    agent = await service.client.get("/cti/rejected", headers=bearer(service.app, "agent"))
    assert agent.status_code == 403


@pytest.mark.parametrize(
    "number", ["9" * 200, "call me maybe", "", "anonymous", "+49 30 1234567 ext. 12 (office)"]
)
async def test_any_caller_number_is_kept_as_given_and_identifies_no_one(
    service: Service, number: str
) -> None:
    r = await post(service, cti("call.ringing", call_id="odd", caller_number=number))
    assert r.status_code == 202, r.text
    assert r.json()["calls"][0]["match"] == "unknown"
    card = (await service.client.get("/calls/odd", headers=bearer(service.app, "agent"))).json()
    assert card["call"]["caller_number"] == number[:64]
    ended = await post(
        service,
        cti(
            "call.missed", call_id="odd", caller_number=number, missed_at=T0 + timedelta(seconds=20)
        ),
    )
    assert ended.status_code == 202, ended.text
    [finished] = await service.of_type(c.CallFinished)
    assert finished.first_contact is True


@pytest.mark.parametrize(
    "updates",
    [
        {"call_id": "x" * 201},
        {"agent_extension": "9" * 65},
        {"caller_number": "1" * 501},
        {"call_id": "line\nbreak"},
    ],
)
async def test_an_event_over_the_limits_is_a_422_and_kept(
    service: Service, updates: dict[str, Any]
) -> None:
    r = await post(service, cti("call.ringing", **updates))
    assert r.status_code == 422, r.text
    assert await service.count(cti_rejected) == 1
    assert await service.count(calls) == 0


async def test_a_refused_event_in_a_list_applies_none_of_it(service: Service) -> None:
    r = await post(
        service,
        cti("call.ringing", call_id="fine"),
        cti("call.answered", call_id="x" * 201),
    )
    assert r.status_code == 422
    assert await service.count(calls) == 0


# -- calls in any order, from either way in ---------------------------------------------------


def call_events(call_id: str, caller: str, extension: str = "2417") -> dict[str, c.Event]:
    common: dict[str, Any] = {
        "call_id": call_id,
        "caller_number": caller,
        "dialled_number": "+4930555000",
    }
    return {
        "ringing": c.CallRinging(**common, ringing_at=T0, occurred_at=T0),
        "answered": c.CallAnswered(
            **common,
            agent_extension=extension,
            ringing_at=T0,
            answered_at=T0 + timedelta(seconds=9),
            occurred_at=T0 + timedelta(seconds=9),
        ),
        "ended": c.CallEnded(
            **common,
            agent_extension=extension,
            ringing_at=T0,
            answered_at=T0 + timedelta(seconds=9),
            ended_at=T0 + timedelta(seconds=324),
            duration_seconds=324,
            disposition=c.CallDisposition.ANSWERED,
            occurred_at=T0 + timedelta(seconds=324),
        ),
    }


async def test_a_call_heard_in_any_order_and_twice_is_one_interaction(service: Service) -> None:
    seeded = await seed_customer(service)
    events = call_events("call-3", "0048 601 234 567")
    # The end first, then everything again, through the topic and the webhook.
    for name in ("ended", "ringing", "answered", "ended", "ringing"):
        await publish_event(service.broker, events[name], topic=topics.CHANNELS_CTI)
    for name in ("answered", "ended"):
        r = await post(service, events[name].model_dump(mode="json"))
        assert r.status_code == 202 and r.json()["calls"][0]["state"] == "ended"
    assert await service.count(interactions) == 1
    row = await service.one(select(interactions))
    assert (row["call_id"], row["channel"], row["contact_id"]) == (
        "call-3",
        "phone",
        seeded.contact_id,
    )
    assert (row["duration_seconds"], row["subject"]) == (315, "Call from +48601234567")
    [finished] = await service.of_type(c.CallFinished)
    assert (finished.answered, finished.duration_seconds, finished.timed_out) == (True, 315, False)
    assert (finished.contact_id, finished.account_id) == (seeded.contact_id, seeded.account_id)
    assert finished.interaction_id == row["interaction_id"]
    assert len(await service.of_type(c.CallIdentified)) == 1
    # An ordinary call opens no case.
    assert await service.of_type(c.InteractionReceived) == []


async def test_a_call_answered_at_an_agents_extension_is_theirs(service: Service) -> None:
    await seed_customer(service)
    async with service.app.kit.engine.begin() as conn:
        agent = uuid.uuid4()
        await conn.execute(
            insert(extension_agents).values(extension="2417", agent_id=agent, bound_at=NOW)
        )
    for event in call_events("call-4", MARTA_PHONE).values():
        await publish_event(service.broker, event, topic=topics.CHANNELS_CTI)
    [finished] = await service.of_type(c.CallFinished)
    assert finished.agent_id == agent
    row = await service.one(select(interactions.c.agent_id))
    assert row["agent_id"] == agent


async def test_an_unknown_caller_is_filed_as_a_first_contact(service: Service) -> None:
    for event in call_events("call-5", "030 9876543").values():
        await publish_event(service.broker, event, topic=topics.CHANNELS_CTI)
    [identified] = await service.of_type(c.CallIdentified)
    assert (identified.match, identified.first_contact) == (c.CallerMatch.UNKNOWN, True)
    [registered] = await service.of_type(c.ContactRegistered)
    assert (registered.name, registered.phones, registered.first_contact) == (
        "+49309876543",
        ["+49309876543"],
        True,
    )
    [finished] = await service.of_type(c.CallFinished)
    assert (finished.contact_id, finished.first_contact) == (registered.contact_id, True)
    # The next call from that number is theirs, and no first contact.
    for event in call_events("call-6", "+49 30 9876543").values():
        await publish_event(service.broker, event, topic=topics.CHANNELS_CTI)
    second = (await service.of_type(c.CallIdentified))[1]
    assert (second.match, second.contact_id, second.first_contact) == (
        c.CallerMatch.CONTACT,
        registered.contact_id,
        False,
    )
    assert await service.count(contacts) == 1


async def test_a_number_several_accounts_share_gives_candidates_filed_once(
    service: Service,
) -> None:
    shared = "+49301111111"
    first = await seed_customer(service, phone=shared)
    second = await seed_customer(service, phone=shared, email="marta@globex.example")
    for call_id in ("call-7", "call-8"):
        for event in call_events(call_id, shared).values():
            await publish_event(service.broker, event, topic=topics.CHANNELS_CTI)
    identified = await service.of_type(c.CallIdentified)
    assert identified[0].match == c.CallerMatch.CANDIDATES
    assert set(identified[0].candidates) == {first.contact_id, second.contact_id}
    # The caller, who cannot be told apart, is filed once under the number.
    assert len(await service.of_type(c.ContactRegistered)) == 1
    finished = await service.of_type(c.CallFinished)
    assert finished[0].contact_id == finished[1].contact_id
    card = (await service.client.get("/calls/call-8", headers=bearer(service.app, "agent"))).json()
    assert card["match"] == "candidates" and len(card["candidates"]) == 3
    assert card["contact"] is None


async def test_a_missed_call_opens_no_case_unless_callbacks_are_on(service: Service) -> None:
    await seed_customer(service)
    missed = c.CallMissed(
        call_id="call-9",
        caller_number=MARTA_PHONE,
        dialled_number="+4930555000",
        agent_extension="2417",
        ringing_at=T0,
        missed_at=T0 + timedelta(seconds=30),
        occurred_at=T0 + timedelta(seconds=30),
    )
    await publish_event(service.broker, missed, topic=topics.CHANNELS_CTI)
    [finished] = await service.of_type(c.CallFinished)
    assert (finished.answered, finished.duration_seconds, finished.agent_id) == (False, 0, None)
    assert await service.of_type(c.InteractionReceived) == []
    row = await service.one(select(interactions.c.subject))
    assert row["subject"] == "Missed call from +48601234567"


async def test_a_missed_call_from_a_known_contact_asks_for_a_callback(
    pg_server: Any,
) -> None:
    database = pg_server.create_database("test")
    try:
        async with serve_intake(database, callback_on_missed=True) as service:
            seeded = await seed_customer(service)
            await post(
                service,
                cti("call.missed", call_id="call-10", caller_number=MARTA_PHONE, missed_at=T0),
            )
            [received] = await service.of_type(c.InteractionReceived)
            assert (received.channel, received.subject) == (
                c.Channel.PHONE,
                "Missed call: please call back",
            )
            assert (received.contact_id, received.first_contact) == (seeded.contact_id, False)
            # A caller no one knows gets no callback case.
            await post(service, cti("call.missed", call_id="call-11", caller_number="+4930777"))
            assert len(await service.of_type(c.InteractionReceived)) == 1
    finally:
        pg_server.drop_database(database)


async def test_calls_the_switch_never_ended_are_closed_after_the_timeout(
    service: Service,
) -> None:
    await seed_customer(service)
    events = call_events("answered-call", MARTA_PHONE)
    await post(service, events["ringing"].model_dump(mode="json"))
    await post(service, events["answered"].model_dump(mode="json"))
    await post(service, cti("call.ringing", call_id="ringing-call", caller_number=MARTA_PHONE))
    job = service.app.fastapi.state.call_timeouts
    service.clock.moment = NOW + timedelta(hours=4) - timedelta(seconds=1)
    assert await job.run_once() == 0
    service.clock.moment = NOW + timedelta(hours=4)
    assert await job.run_once() == 2
    assert await job.run_once() == 0
    finished = {e.call_id: e for e in await service.of_type(c.CallFinished)}
    answered, missed = finished["answered-call"], finished["ringing-call"]
    assert (answered.answered, answered.timed_out, answered.ended_at) == (
        True,
        True,
        T0 + timedelta(seconds=9),
    )
    assert (missed.answered, missed.timed_out, missed.duration_seconds) == (False, True, 0)
    # The switch's late end changes nothing any more.
    late = await post(service, events["ended"].model_dump(mode="json"))
    assert late.json()["calls"][0]["state"] == "ended"
    assert await service.count(interactions) == 2


async def test_an_event_on_the_topic_that_cannot_be_applied_is_dead_lettered(
    service: Service,
) -> None:
    bad = c.CallRinging(
        call_id="x" * 300,
        caller_number=MARTA_PHONE,
        dialled_number="+4930555000",
        ringing_at=T0,
        occurred_at=T0,
    )
    await publish_event(service.broker, bad, topic=topics.CHANNELS_CTI)

    async def dead_lettered() -> list[dict[str, str]] | None:
        return list(service.dead_letters) or None

    [headers] = await eventually(dead_lettered)
    assert headers["x-dlq-error-type"] == "CallRejected"
    assert headers["x-dlq-attempts"] == "1"  # permanent: not retried
    assert "at most 200 characters" in headers["x-dlq-error"]


# -- the screen-pop stream -------------------------------------------------------------------


async def test_the_stream_pops_up_a_ringing_call_at_the_agents_extension(
    service: Service,
) -> None:
    seeded = await seed_customer(service)
    token = bearer(service.app, "agent", subject="agent-anna")
    async with (
        served_over_http(service.app) as base_url,
        httpx.AsyncClient(base_url=base_url, timeout=10) as http,
        http.stream("GET", "/screen-pops/stream", params={"extension": "2417"}, headers=token) as r,
    ):
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        stream = Sse(r)
        assert (await stream.next())["comment"] == "screen-pops for extension 2417"
        bound = await service.one(select(extension_agents))
        assert (bound["extension"], bound["agent_id"]) == ("2417", agent_id_of("agent-anna"))

        # Another extension's call is not shown here; this one's is, by webhook or topic.
        await post(service, cti("call.ringing", call_id="elsewhere", agent_extension="3000"))
        await post(
            service,
            cti(
                "call.ringing",
                call_id="by-webhook",
                caller_number=MARTA_PHONE,
                agent_extension="2417",
            ),
        )
        event = await stream.next_event()
        assert (event["event"], event["id"]) == ("screen-pop", "by-webhook")
        card = json.loads(event["data"])
        assert card["contact"]["contact_id"] == str(seeded.contact_id)
        assert card["account"]["credit_hold"] is True

        ringing = call_events("by-topic", MARTA_PHONE)["ringing"].model_copy(
            update={"agent_extension": "2417"}
        )
        await publish_event(service.broker, ringing, topic=topics.CHANNELS_CTI)
        event = await stream.next_event()
        assert event["id"] == "by-topic"
        # Idle, the stream says it is alive.
        assert (await stream.next(within=2))["comment"] == "keep-alive"

        # Answered there, the call is the agent's.
        for name in ("answered", "ended"):
            await publish_event(
                service.broker,
                call_events("by-topic", MARTA_PHONE)[name],
                topic=topics.CHANNELS_CTI,
            )
    [finished] = await service.of_type(c.CallFinished)
    assert finished.agent_id == agent_id_of("agent-anna")


async def test_the_stream_needs_an_agent_and_an_extension(service: Service) -> None:
    assert (await service.client.get("/screen-pops/stream?extension=1")).status_code == 401
    r = await service.client.get("/screen-pops/stream", headers=bearer(service.app, "agent"))
    assert r.status_code == 422
    long = await service.client.get(
        "/screen-pops/stream", params={"extension": "9" * 65}, headers=bearer(service.app, "agent")
    )
    assert long.status_code == 422


async def test_every_replica_hears_the_pop_and_a_lost_listener_comes_back(
    service: Service,
) -> None:
    # A second process's hub, on the same database.
    other = PgScreenPopHub(service.app.kit.settings.database_url, reconnect_seconds=0.05)
    await other.start()
    try:
        assert other.listening
        async with other.watch("2417") as popped:
            await post(service, cti("call.ringing", call_id="c-1", agent_extension="2417"))
            async with asyncio.timeout(5):
                assert await popped.get() == "c-1"

            # Its connection is cut: it listens again, and hears the next call.
            dsn = listener_dsn(service.app.kit.settings.database_url)
            admin = await asyncpg.connect(dsn)
            try:
                cut = await admin.fetchval(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE query LIKE 'LISTEN%screen_pops%' AND pid <> pg_backend_pid()"
                )
            finally:
                await admin.close()
            assert cut >= 1  # this hub's (and the service's own, unless it checked in since)

            async def listening_again() -> bool | None:
                return True if other.listening and service.hub.listening else None

            await asyncio.sleep(0.2)
            await eventually(listening_again, timeout=10)
            await post(service, cti("call.ringing", call_id="c-2", agent_extension="2417"))
            async with asyncio.timeout(5):
                assert await popped.get() == "c-2"
    finally:
        await other.stop()
