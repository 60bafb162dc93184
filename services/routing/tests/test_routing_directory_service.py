"""The agent directory and teams of the routing service, over HTTP and Kafka.

A real PostgreSQL, the subscribers driven through FastStream's TestKafkaBroker, and probes on
every topic routing publishes: `routing.queue-item.v1`, `routing.agent.v1` (the directory's
entries, whole and versioned) and `intake.notification.v1`. The `routing` fixture here runs
on a clock the test moves by hand; the assignment tests use it too.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from faststream.kafka import TestKafkaBroker
from faststream.kafka.annotations import KafkaMessage
from sqlalchemy import func, select

import caseflow_contracts as c
from caseflow_contracts import topics
from caseflow_servicekit import ServiceApp, ServiceSettings
from caseflow_servicekit.db import OUTBOX_TABLE
from caseflow_servicekit.testing import eventually, publish_event, running
from routing.adapters.tables import metadata
from routing.bootstrap import MIGRATIONS, build

from .test_routing_service import NOW, Service, _json

pytestmark = pytest.mark.service

NOW_TEXT = NOW.isoformat().replace("+00:00", "Z")


class MovableClock:
    """A clock that stands still until the test moves it on."""

    def __init__(self, now: datetime = NOW) -> None:
        self.current = now

    def now(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> datetime:
        self.current += timedelta(**delta)
        return self.current


class Routing(Service):
    """The service under test, with what it published on each of its topics."""

    def __init__(
        self,
        app: ServiceApp,
        client: Any,
        broker: Any,
        *,
        clock: MovableClock,
        published: list[tuple[c.Event, bytes]],
        agent_events: list[tuple[c.Event, bytes]],
        notifications: list[c.Event],
        dead_letters: list[bytes],
    ) -> None:
        super().__init__(app, client, broker, published, dead_letters)
        self.clock = clock
        self.agent_events = agent_events
        self.notifications = notifications

    def as_agent(self, agent_id: uuid.UUID | str) -> dict[str, str]:
        """Headers for the agent whose token subject is `agent_id`."""
        return self.headers("agent", subject=str(agent_id))

    @property
    def supervisor(self) -> dict[str, str]:
        return self.headers("supervisor", subject="sue")

    @property
    def admin(self) -> dict[str, str]:
        return self.headers("admin", subject="ada")

    async def register(
        self, agent_id: uuid.UUID | None = None, *, name: str | None = None, **fields: Any
    ) -> dict[str, Any]:
        """File an agent (available, unless `presence` says otherwise); their entry."""
        agent_id = agent_id or uuid.uuid4()
        body = {
            "agent_id": str(agent_id),
            "name": name or f"Agent {str(agent_id)[:8]}",
            "presence": "available",
            **fields,
        }
        return await _json(
            await self.client.post("/agents", json=body, headers=self.supervisor), 201
        )

    async def agent(self, agent_id: uuid.UUID | str) -> dict[str, Any]:
        return await _json(await self.client.get(f"/agents/{agent_id}", headers=self.admin))

    async def item_of(self, case_id: uuid.UUID) -> dict[str, Any]:
        """The active queue item of a case."""
        return await _json(
            await self.client.get(f"/cases/{case_id}/queue-item", headers=self.admin)
        )

    async def agent_announced(
        self, agent_id: uuid.UUID | str, *, count: int
    ) -> list[tuple[c.Event, bytes]]:
        """The events about an agent on routing.agent.v1 once `count` have been relayed."""
        wanted = uuid.UUID(str(agent_id))

        async def probe() -> list[tuple[c.Event, bytes]] | None:
            found = [(e, k) for e, k in self.agent_events if getattr(e, "agent_id", None) == wanted]
            return found if len(found) >= count else None

        return await eventually(probe)

    async def notified(self, case_id: uuid.UUID, *, count: int = 1) -> list[c.Event]:
        """The notifications asked about a case once `count` have been relayed."""

        async def probe() -> list[c.Event] | None:
            found = [e for e in self.notifications if getattr(e, "case_id", None) == case_id]
            return found if len(found) >= count else None

        return await eventually(probe)

    async def all_relayed(self) -> None:
        """Wait until every event committed so far has gone out of the outbox."""
        outbox = metadata.tables[OUTBOX_TABLE]

        async def probe() -> bool | None:
            async with self.app.kit.sessions() as session:
                left = await session.scalar(
                    select(func.count()).select_from(outbox).where(outbox.c.relayed_at.is_(None))
                )
            return True if left == 0 else None

        await eventually(probe)


@pytest.fixture(name="routing")
async def routing_service(fresh_database: str) -> AsyncIterator[Routing]:
    """The routing service on a fresh database, with a clock at NOW the test moves."""
    clock = MovableClock()
    settings = ServiceSettings(database_url=fresh_database, kafka_bootstrap_servers="test:9092")
    app = build(settings, clock=clock, configure_process=False)
    published: list[tuple[c.Event, bytes]] = []
    agent_events: list[tuple[c.Event, bytes]] = []
    notifications: list[c.Event] = []
    dead_letters: list[bytes] = []

    def decoded(message: KafkaMessage) -> tuple[c.Event, bytes]:
        event = c.decode(message.headers["ce_type"], message.body)
        return event, message.raw_message.key  # type: ignore[union-attr]

    @app.kit.kafka.subscriber(topics.ROUTING, group_id="probe")
    async def queue_item_probe(message: KafkaMessage) -> None:
        published.append(decoded(message))

    @app.kit.kafka.subscriber(topics.ROUTING_AGENTS, group_id="probe")
    async def agent_probe(message: KafkaMessage) -> None:
        agent_events.append(decoded(message))

    @app.kit.kafka.subscriber(topics.INTAKE_NOTIFICATIONS, group_id="probe")
    async def notification_probe(message: KafkaMessage) -> None:
        notifications.append(decoded(message)[0])

    consumed = (topics.CASES, topics.INTAKE_CUSTOMERS, topics.SLA, topics.CHANNELS_CTI)

    @app.kit.kafka.subscriber(*(topics.dlq(t) for t in consumed), group_id="probe")
    async def dead_letter_probe(message: KafkaMessage) -> None:
        dead_letters.append(message.body)

    async with (
        TestKafkaBroker(app.kit.kafka) as broker,
        running(app, migrations=MIGRATIONS) as client,
    ):
        yield Routing(
            app,
            client,
            broker,
            clock=clock,
            published=published,
            agent_events=agent_events,
            notifications=notifications,
            dead_letters=dead_letters,
        )


def _call(kind: str, **fields: object) -> c.Event:
    return c.sample(kind).model_copy(update={"occurred_at": NOW, **fields})


# -- entries ------------------------------------------------------------------------------


async def test_an_agent_is_filed_read_back_and_changed_under_its_version(routing: Routing) -> None:
    anna = uuid.uuid4()
    filed = await routing.client.post(
        "/agents",
        json={
            "agent_id": str(anna),
            "name": "  Anna Berg ",
            "email": "anna@example.com",
            "phone_extension": " 2417 ",
            "languages": ["DE", "en"],
            "skills": ["Printers:3", "billing:1"],
            "capacity": 3,
            "work_units": {"Case:Email": 2},
            "presence": "available",
        },
        headers=routing.supervisor,
    )
    assert filed.status_code == 201, filed.text
    assert filed.headers["etag"] == '"1"'
    entry = filed.json()
    assert {k: entry[k] for k in entry if k != "agent_id"} == {
        "name": "Anna Berg",
        "email": "anna@example.com",
        "phone_extension": "2417",
        "manager_id": None,
        "languages": ["de", "en"],
        "teams": [],
        "skills": ["billing", "printers:3"],
        "capacity": 3,
        "work_units": {"case:email": 2},
        "presence": "available",
        "presence_reason": "set",
        "presence_since": NOW_TEXT,
        "active": True,
        "version": 1,
        "load_units": 0,
        "last_assigned_at": None,
    }
    read = await routing.client.get(f"/agents/{anna}", headers=routing.as_agent(uuid.uuid4()))
    assert read.status_code == 200 and read.headers["etag"] == '"1"'
    assert read.json() == entry

    changed = await routing.client.patch(
        f"/agents/{anna}",
        json={"capacity": 4, "skills": ["printers:4"]},
        headers={**routing.supervisor, "If-Match": '"1"'},
    )
    assert changed.status_code == 200, changed.text
    assert changed.headers["etag"] == '"2"'
    assert (changed.json()["capacity"], changed.json()["skills"]) == (4, ["printers:4"])

    stale = await routing.client.patch(
        f"/agents/{anna}",
        json={"name": "Anna B."},
        headers={**routing.supervisor, "If-Match": '"1"'},
    )
    assert stale.status_code == 412
    assert stale.headers["content-type"] == "application/problem+json"
    weak = await routing.client.patch(
        f"/agents/{anna}",
        json={"name": "Anna B."},
        headers={**routing.supervisor, "If-Match": 'W/"2"'},
    )
    assert weak.status_code == 412
    after = await routing.agent(anna)
    assert (after["name"], after["version"]) == ("Anna Berg", 2)

    # Without If-Match the change goes through; null leaves a name but clears an e-mail.
    unconditional = await routing.client.patch(
        f"/agents/{anna}", json={"name": None, "email": None}, headers=routing.supervisor
    )
    assert unconditional.status_code == 200 and unconditional.headers["etag"] == '"3"'
    assert (unconditional.json()["name"], unconditional.json()["email"]) == ("Anna Berg", None)


async def test_entries_that_cannot_be_filed_are_refused_and_change_nothing(
    routing: Routing,
) -> None:
    anna = await routing.register(phone_extension="100", capacity=2)
    bob = await routing.register(phone_extension="200")

    def new(**fields: object) -> dict[str, object]:
        return {"agent_id": str(uuid.uuid4()), "name": "Newcomer", **fields}

    refusals = [
        (new(skills=["x:9"]), routing.supervisor, 422),
        (new(skills=["printers:"]), routing.supervisor, 422),
        (new(teams=[str(uuid.uuid4())]), routing.supervisor, 422),
        (new(work_units={"chat": 1}), routing.supervisor, 422),
        (new(capacity=2, work_units={"case": 3}), routing.supervisor, 422),
        (new(name="   "), routing.supervisor, 422),
        ({**new(), "agent_id": anna["agent_id"]}, routing.supervisor, 409),
        (new(phone_extension="100"), routing.supervisor, 409),
        (new(), routing.as_agent(uuid.uuid4()), 403),
    ]
    for body, headers, status in refusals:
        answer = await routing.client.post("/agents", json=body, headers=headers)
        assert answer.status_code == status, (body, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
    duplicate = await routing.client.post(
        "/agents", json={**new(), "agent_id": anna["agent_id"]}, headers=routing.supervisor
    )
    assert duplicate.json()["title"] == "AgentExistsError"

    base = f"/agents/{bob['agent_id']}"
    for changes, headers, status in [
        ({"phone_extension": "100"}, routing.supervisor, 409),
        ({"teams": [str(uuid.uuid4())]}, routing.supervisor, 422),
        ({"skills": ["x:9"]}, routing.supervisor, 422),
        ({"capacity": 1}, routing.as_agent(bob["agent_id"]), 403),
    ]:
        answer = await routing.client.patch(base, json=changes, headers=headers)
        assert answer.status_code == status, (changes, answer.text)
    missing = uuid.uuid4()
    assert (
        await routing.client.get(f"/agents/{missing}", headers=routing.admin)
    ).status_code == 404
    assert (
        await routing.client.patch(
            f"/agents/{missing}", json={"capacity": 1}, headers=routing.admin
        )
    ).status_code == 404

    page = await _json(await routing.client.get("/agents", headers=routing.admin))
    assert page["total"] == 2
    assert {(e["agent_id"], e["version"], e["phone_extension"]) for e in page["items"]} == {
        (anna["agent_id"], 1, "100"),
        (bob["agent_id"], 1, "200"),
    }
    # Bob may take the extension once Anna gives it up.
    await _json(
        await routing.client.patch(
            f"/agents/{anna['agent_id']}", json={"phone_extension": ""}, headers=routing.supervisor
        )
    )
    moved = await _json(
        await routing.client.patch(
            base, json={"phone_extension": "100"}, headers=routing.supervisor
        )
    )
    assert moved["phone_extension"] == "100"


async def test_the_directory_is_listed_by_name_team_and_presence(routing: Routing) -> None:
    red = await _json(
        await routing.client.post("/teams", json={"name": "Red"}, headers=routing.supervisor), 201
    )
    blue = await _json(
        await routing.client.post("/teams", json={"name": "Blue"}, headers=routing.supervisor), 201
    )
    ada = await routing.register(name="Ada", teams=[red["team_id"]])
    bo = await routing.register(name="Bo", teams=[red["team_id"], blue["team_id"]], presence="away")
    cy = await routing.register(name="Cy", teams=[blue["team_id"]])
    di = await routing.register(name="Di", presence="offline")
    assert sorted(bo["teams"]) == sorted([red["team_id"], blue["team_id"]])
    # Someone met only at a pick is no entry of the directory.
    opened = await routing.open_case()
    item = await routing.item_of(opened.case_id)
    await _json(
        await routing.client.post(
            f"/queue-items/{item['queue_item_id']}/pick", headers=routing.as_agent("zed")
        )
    )

    async def names(**params: object) -> tuple[list[str], int]:
        page = await _json(
            await routing.client.get("/agents", params=params, headers=routing.as_agent("zed"))
        )
        return [e["name"] for e in page["items"]], page["total"]

    assert await names() == (["Ada", "Bo", "Cy", "Di"], 4)
    assert await names(team_id=red["team_id"]) == (["Ada", "Bo"], 2)
    assert await names(team_id=red["team_id"], presence="available") == (["Ada"], 1)
    assert await names(presence="available") == (["Ada", "Cy"], 2)
    assert await names(presence="offline") == (["Di"], 1)
    assert await names(team_id=str(uuid.uuid4())) == ([], 0)
    assert await names(limit=2, offset=2) == (["Cy", "Di"], 4)
    assert (
        await routing.client.get(
            "/agents", params={"presence": "asleep"}, headers=routing.as_agent("zed")
        )
    ).status_code == 422
    assert (ada["presence"], cy["presence"], di["presence"]) == (
        "available",
        "available",
        "offline",
    )


async def test_an_agent_reads_their_own_entry_and_sets_their_own_presence_only(
    routing: Routing,
) -> None:
    anna_id, bob_id = uuid.uuid4(), uuid.uuid4()
    stranger = await routing.client.get("/agents/me", headers=routing.as_agent(uuid.uuid4()))
    assert stranger.status_code == 404
    await routing.register(anna_id, name="Anna", presence="offline")
    await routing.register(bob_id, name="Bob")
    anna = routing.as_agent(anna_id)

    me = await routing.client.get("/agents/me", headers=anna)
    assert me.status_code == 200 and me.headers["etag"] == '"1"'
    assert (me.json()["agent_id"], me.json()["presence"]) == (str(anna_id), "offline")

    routing.clock.advance(minutes=5)
    available = await routing.client.put(
        "/agents/me/presence", json={"presence": "available"}, headers=anna
    )
    assert available.status_code == 200 and available.headers["etag"] == '"2"'
    assert (
        available.json()["presence"],
        available.json()["presence_reason"],
        available.json()["presence_since"],
    ) == ("available", "set", (NOW + timedelta(minutes=5)).isoformat().replace("+00:00", "Z"))
    # The same presence again changes nothing, not even the version.
    again = await _json(
        await routing.client.put(
            "/agents/me/presence", json={"presence": "available"}, headers=anna
        )
    )
    assert again["version"] == 2

    own = await routing.client.put(
        f"/agents/{anna_id}/presence", json={"presence": "away"}, headers=anna
    )
    assert own.status_code == 200 and own.json()["presence"] == "away"
    other = await routing.client.put(
        f"/agents/{anna_id}/presence",
        json={"presence": "available"},
        headers=routing.as_agent(bob_id),
    )
    assert other.status_code == 403
    assert other.headers["content-type"] == "application/problem+json"
    assert (await routing.agent(anna_id))["presence"] == "away"

    by_supervisor = await routing.client.put(
        f"/agents/{anna_id}/presence", json={"presence": "busy"}, headers=routing.supervisor
    )
    assert by_supervisor.status_code == 200 and by_supervisor.headers["etag"] == '"4"'
    assert by_supervisor.json()["presence"] == "busy"

    unknown = await routing.client.put(
        f"/agents/{uuid.uuid4()}/presence", json={"presence": "busy"}, headers=routing.supervisor
    )
    assert unknown.status_code == 404
    bad = await routing.client.put("/agents/me/presence", json={"presence": "asleep"}, headers=anna)
    assert bad.status_code == 422
    unfiled = await routing.client.put(
        "/agents/me/presence", json={"presence": "away"}, headers=routing.as_agent("nobody")
    )
    assert unfiled.status_code == 404


async def test_my_work_lists_the_items_one_works_in_queue_order(routing: Routing) -> None:
    anna_id, bob_id = uuid.uuid4(), uuid.uuid4()
    await routing.register(anna_id, capacity=3)
    await routing.register(bob_id)
    anna = routing.as_agent(anna_id)
    normal = await routing.open_case(priority=c.Priority.NORMAL)
    urgent = await routing.open_case(priority=c.Priority.URGENT)
    left = await routing.open_case()
    for opened in (normal, urgent):
        item = await routing.item_of(opened.case_id)
        await _json(
            await routing.client.post(f"/queue-items/{item['queue_item_id']}/pick", headers=anna)
        )

    mine = await _json(await routing.client.get("/agents/me/work", headers=anna))
    assert mine["total"] == 2
    assert [i["case_id"] for i in mine["items"]] == [str(urgent.case_id), str(normal.case_id)]
    assert {(i["status"], i["worked_by"]) for i in mine["items"]} == {("assigned", str(anna_id))}
    assert str(left.case_id) not in {i["case_id"] for i in mine["items"]}
    paged = await _json(
        await routing.client.get("/agents/me/work", params={"limit": 1, "offset": 1}, headers=anna)
    )
    assert (paged["total"], [i["case_id"] for i in paged["items"]]) == (2, [str(normal.case_id)])
    assert (
        await _json(await routing.client.get("/agents/me/work", headers=routing.as_agent(bob_id)))
    )["total"] == 0

    theirs = await _json(
        await routing.client.get(f"/agents/{anna_id}/work", headers=routing.supervisor)
    )
    assert [i["case_id"] for i in theirs["items"]] == [i["case_id"] for i in mine["items"]]
    assert (
        await routing.client.get(f"/agents/{anna_id}/work", headers=routing.as_agent(bob_id))
    ).status_code == 403

    await _json(
        await routing.client.post(
            f"/queue-items/{mine['items'][0]['queue_item_id']}/release", headers=anna
        )
    )
    after = await _json(await routing.client.get("/agents/me/work", headers=anna))
    assert [i["case_id"] for i in after["items"]] == [str(normal.case_id)]
    assert (await routing.agent(anna_id))["load_units"] == 1


# -- teams --------------------------------------------------------------------------------


async def test_teams_are_added_listed_renamed_and_their_names_kept_unique(
    routing: Routing,
) -> None:
    manager, other_manager = uuid.uuid4(), uuid.uuid4()
    printers = await routing.client.post(
        "/teams",
        json={"name": " Printers ", "manager_id": str(manager)},
        headers=routing.supervisor,
    )
    assert printers.status_code == 201, printers.text
    team = printers.json()
    assert (team["name"], team["manager_id"]) == ("Printers", str(manager))
    billing = await _json(
        await routing.client.post("/teams", json={"name": "Billing"}, headers=routing.admin), 201
    )
    assert billing["manager_id"] is None

    taken = await routing.client.post(
        "/teams", json={"name": "printers"}, headers=routing.supervisor
    )
    assert taken.status_code == 409 and taken.json()["title"] == "NameTakenError"
    assert (
        await routing.client.post("/teams", json={"name": "   "}, headers=routing.supervisor)
    ).status_code == 422
    assert (
        await routing.client.post(
            "/teams", json={"name": "Mine"}, headers=routing.as_agent(uuid.uuid4())
        )
    ).status_code == 403

    agent = routing.as_agent(uuid.uuid4())
    listed = await _json(await routing.client.get("/teams", headers=agent))
    assert [t["name"] for t in listed] == ["Billing", "Printers"]
    assert await _json(await routing.client.get(f"/teams/{team['team_id']}", headers=agent)) == team
    assert (await routing.client.get(f"/teams/{uuid.uuid4()}", headers=agent)).status_code == 404

    base = f"/teams/{team['team_id']}"
    renamed = await _json(
        await routing.client.patch(base, json={"name": "Print & Scan"}, headers=routing.supervisor)
    )
    assert (renamed["name"], renamed["manager_id"]) == ("Print & Scan", str(manager))
    same = await _json(
        await routing.client.patch(base, json={"name": "print & scan"}, headers=routing.supervisor)
    )
    assert same["name"] == "print & scan"  # its own name in another case is no clash
    clash = await routing.client.patch(
        f"/teams/{billing['team_id']}", json={"name": "PRINT & SCAN"}, headers=routing.supervisor
    )
    assert clash.status_code == 409
    managed = await _json(
        await routing.client.patch(
            base, json={"name": None, "manager_id": str(other_manager)}, headers=routing.supervisor
        )
    )
    assert (managed["name"], managed["manager_id"]) == ("print & scan", str(other_manager))
    assert (
        await routing.client.patch(
            f"/teams/{uuid.uuid4()}", json={"name": "Ghosts"}, headers=routing.supervisor
        )
    ).status_code == 404
    assert (
        await routing.client.patch(base, json={"name": "Mine"}, headers=agent)
    ).status_code == 403
    assert [t["name"] for t in await _json(await routing.client.get("/teams", headers=agent))] == [
        "Billing",
        "print & scan",
    ]


# -- routing.agent.v1 ---------------------------------------------------------------------


async def test_every_change_of_an_entry_is_published_whole_with_a_higher_version(
    routing: Routing,
) -> None:
    first_manager, second_manager, own_manager = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    team = await _json(
        await routing.client.post(
            "/teams",
            json={"name": "Printers", "manager_id": str(first_manager)},
            headers=routing.supervisor,
        ),
        201,
    )
    anna_id, bob_id = uuid.uuid4(), uuid.uuid4()
    await routing.register(
        anna_id, name="Anna", teams=[team["team_id"]], skills=["printers:2"], phone_extension="2417"
    )
    await routing.register(bob_id, name="Bob", teams=[team["team_id"]], manager_id=str(own_manager))

    await _json(
        await routing.client.patch(
            f"/agents/{anna_id}", json={"capacity": 7}, headers=routing.supervisor
        )
    )
    refused = await routing.client.patch(
        f"/agents/{anna_id}",
        json={"capacity": 8},
        headers={**routing.supervisor, "If-Match": '"1"'},
    )
    assert refused.status_code == 412
    routing.clock.advance(minutes=1)
    await _json(
        await routing.client.put(
            "/agents/me/presence", json={"presence": "away"}, headers=routing.as_agent(anna_id)
        )
    )
    await _json(
        await routing.client.patch(
            f"/teams/{team['team_id']}",
            json={"manager_id": str(second_manager)},
            headers=routing.supervisor,
        )
    )
    await routing.all_relayed()

    annas = await routing.agent_announced(anna_id, count=4)
    assert [(e.type, e.version, e.manager_id) for e, _ in annas] == [
        ("agent.registered", 1, first_manager),
        ("agent.changed", 2, first_manager),
        ("agent.presence_changed", 3, first_manager),
        ("agent.changed", 4, second_manager),
    ]
    assert {k for _, k in annas} == {str(anna_id).encode()}
    registered, changed, presence, _ = (e for e, _ in annas)
    assert isinstance(registered, c.AgentRegistered)
    assert (
        registered.name,
        registered.phone_extension,
        registered.teams,
        registered.skills,
        registered.presence,
    ) == ("Anna", "2417", [uuid.UUID(team["team_id"])], ["printers:2"], "available")
    assert isinstance(changed, c.AgentChanged) and changed.occurred_at == NOW
    assert isinstance(presence, c.AgentPresenceChanged)
    assert (presence.presence, presence.previous_presence, presence.reason) == (
        "away",
        "available",
        "set",
    )
    assert presence.occurred_at == NOW + timedelta(minutes=1)

    # An agent's own manager outranks their team's.
    bobs = await routing.agent_announced(bob_id, count=2)
    assert [(e.type, e.version, e.manager_id) for e, _ in bobs] == [
        ("agent.registered", 1, own_manager),
        ("agent.changed", 2, own_manager),
    ]
    assert (await routing.agent(anna_id))["version"] == 4


# -- calls on channels.cti.v1 ---------------------------------------------------------------


async def test_a_call_makes_the_agent_at_its_extension_busy_until_it_ends(
    routing: Routing,
) -> None:
    anna_id, bob_id, carl_id, dora_id = (uuid.uuid4() for _ in range(4))
    await routing.register(anna_id, phone_extension="2417")
    await routing.register(bob_id, phone_extension="2418", presence="away")
    await routing.register(carl_id, phone_extension="2419")
    await routing.register(dora_id, phone_extension="2420")

    async def presence(agent_id: uuid.UUID) -> tuple[str, str]:
        entry = await routing.agent(agent_id)
        return entry["presence"], entry["presence_reason"]

    async def call(kind: str, **fields: object) -> None:
        await publish_event(routing.broker, _call(kind, **fields), topic=topics.CHANNELS_CTI)

    await call("call.answered", agent_extension="2417")
    assert await presence(anna_id) == ("busy", "call")
    await call("call.answered", agent_extension="2418")
    assert await presence(bob_id) == ("away", "set")  # only an available agent is made busy
    await call("call.answered", agent_extension="9999")  # nobody sits there

    await call("call.ended", agent_extension="2417")
    assert await presence(anna_id) == ("available", "freed")

    # Busy by her own hand: the end of a call does not make her available.
    await _json(
        await routing.client.put(
            "/agents/me/presence", json={"presence": "busy"}, headers=routing.as_agent(anna_id)
        )
    )
    await call("call.ended", agent_extension="2417")
    assert await presence(anna_id) == ("busy", "set")

    # A transfer frees who passed the call on and makes who took it busy.
    await call("call.answered", agent_extension="2419")
    await call("call.transferred", agent_extension="2420", from_extension="2419")
    assert await presence(carl_id) == ("available", "freed")
    assert await presence(dora_id) == ("busy", "call")

    await routing.all_relayed()
    annas = await routing.agent_announced(anna_id, count=4)
    assert [
        (e.presence, e.previous_presence, e.reason)
        for e, _ in annas
        if isinstance(e, c.AgentPresenceChanged)
    ] == [
        ("busy", "available", "call"),
        ("available", "busy", "freed"),
        ("busy", "available", "set"),
    ]
    bobs = [type(e) for e, _ in routing.agent_events if getattr(e, "agent_id", None) == bob_id]
    assert bobs == [c.AgentRegistered]
    assert routing.dead_letters == []
