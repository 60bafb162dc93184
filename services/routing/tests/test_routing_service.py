"""The routing service with a real PostgreSQL, its subscriber driven through TestKafkaBroker."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from faststream.kafka import KafkaBroker, TestKafkaBroker
from faststream.kafka.annotations import KafkaMessage
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

import caseflow_contracts as c
from caseflow_contracts import topics
from caseflow_servicekit import ServiceApp, ServiceSettings
from caseflow_servicekit.auth import agent_id_of
from caseflow_servicekit.testing import bearer, eventually, publish_event, running
from routing.adapters.tables import DEFAULT_QUEUE_ID, case_facts, queue_items
from routing.bootstrap import MIGRATIONS, build

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
        published: list[tuple[c.Event, bytes]],
        dead_letters: list[bytes],
    ) -> None:
        self.app, self.client, self.broker, self.published = app, client, broker, published
        self.dead_letters = dead_letters

    def headers(self, *roles: str, subject: str = "tester") -> dict[str, str]:
        return bearer(self.app, *roles, subject=subject)

    async def open_case(self, **overrides: object) -> c.CaseOpened:
        """Publish a CaseOpened as the cases service would; the subscriber applies it at once."""
        event = _case_opened(**overrides)
        await publish_event(self.broker, event, topic=topics.CASES)
        return event

    async def announced(
        self, case_id: uuid.UUID, kind: type[c.Event], *, count: int = 1
    ) -> list[c.Event]:
        """The events of `kind` about `case_id` once `count` have been relayed from the outbox."""

        async def probe() -> list[c.Event] | None:
            found = [
                e
                for e, _ in self.published
                if isinstance(e, kind) and getattr(e, "case_id", None) == case_id
            ]
            return found if len(found) >= count else None

        return await eventually(probe)


@pytest.fixture
async def service(fresh_database: str) -> AsyncIterator[Service]:
    settings = ServiceSettings(database_url=fresh_database, kafka_bootstrap_servers="test:9092")
    app = build(settings, clock=FixedClock(), configure_process=False)
    published: list[tuple[c.Event, bytes]] = []
    dead_letters: list[bytes] = []

    @app.kit.kafka.subscriber(topics.ROUTING, group_id="probe")
    async def probe(message: KafkaMessage) -> None:
        event = c.decode(message.headers["ce_type"], message.body)
        published.append((event, message.raw_message.key))  # type: ignore[union-attr]

    @app.kit.kafka.subscriber(topics.dlq(topics.CASES), group_id="probe")
    async def dead_letter_probe(message: KafkaMessage) -> None:
        dead_letters.append(message.body)

    async with (
        TestKafkaBroker(app.kit.kafka) as broker,
        running(app, migrations=MIGRATIONS) as client,
    ):
        yield Service(app, client, broker, published, dead_letters)


def _case_opened(**overrides: object) -> c.CaseOpened:
    event = c.sample("case.opened")
    values: dict[str, object] = {
        "case_id": uuid.uuid4(),
        "request_type": None,
        "occurred_at": NOW,
        **overrides,
    }
    return event.model_copy(update=values)  # type: ignore[return-value]


async def _json(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


async def test_an_opened_case_waits_in_the_default_queue_and_is_announced(
    service: Service,
) -> None:
    opened = await service.open_case()
    agent = service.headers("agent")

    item = await _json(
        await service.client.get(f"/cases/{opened.case_id}/queue-item", headers=agent)
    )
    assert (item["queue_id"], item["queue_name"], item["status"], item["worked_by"]) == (
        str(DEFAULT_QUEUE_ID),
        "Default",
        "waiting",
        None,
    )
    assert item["case"] == {
        "number": opened.number,
        "subject": opened.subject,
        "priority": opened.priority.value,
        "channel": opened.channel.value,
    }

    [queued] = await service.announced(opened.case_id, c.CaseQueued)
    assert isinstance(queued, c.CaseQueued)
    assert (queued.queue_id, queued.queue_name, queued.rule) == (DEFAULT_QUEUE_ID, "Default", None)
    assert str(queued.queue_item_id) == item["queue_item_id"]
    [key] = [k for e, k in service.published if e is queued]
    assert key == str(opened.case_id).encode()

    page = await _json(await service.client.get(f"/queues/{DEFAULT_QUEUE_ID}/items", headers=agent))
    assert page["total"] == 1 and page["items"][0]["case_id"] == str(opened.case_id)
    [default] = await _json(await service.client.get("/queues", headers=agent))
    assert (default["name"], default["is_default"], default["items"]) == (
        "Default",
        True,
        {"waiting": 1, "assigned": 0, "released": 0},
    )


async def test_a_redelivered_or_retried_case_opened_queues_the_case_once(
    service: Service,
) -> None:
    opened = _case_opened()
    for event_id in ("same", "same", None):  # redelivery, then a producer retry with a new id
        await publish_event(service.broker, opened, topic=topics.CASES, event_id=event_id)
    # The outbox relays in order: once a later case is announced, every earlier event is out.
    later = await service.open_case()
    await service.announced(later.case_id, c.CaseQueued)

    queued = [e for e, _ in service.published if getattr(e, "case_id", None) == opened.case_id]
    assert [type(e) for e in queued] == [c.CaseQueued]
    # Recognised as already routed, not refused by the database and dead-lettered.
    assert service.dead_letters == []
    page = await _json(
        await service.client.get(
            f"/queues/{DEFAULT_QUEUE_ID}/items", headers=service.headers("agent")
        )
    )
    assert sorted(i["case_id"] for i in page["items"]) == sorted(
        [str(opened.case_id), str(later.case_id)]
    )


async def test_the_database_refuses_a_second_active_item_for_a_case_in_a_queue(
    service: Service,
) -> None:
    case_id = uuid.uuid4()

    def row(status: str) -> dict[str, object]:
        return {
            "queue_item_id": uuid.uuid4(),
            "case_id": case_id,
            "queue_id": DEFAULT_QUEUE_ID,
            "status": status,
            "entered_at": NOW,
            "required_skills": [],
        }

    async with service.app.kit.sessions() as session:
        await session.execute(insert(queue_items).values(row("removed")))
        await session.execute(insert(queue_items).values(row("waiting")))
        await session.commit()
        with pytest.raises(IntegrityError):
            await session.execute(insert(queue_items).values(row("waiting")))


async def test_a_rule_routes_billing_cases_to_the_billing_queue(service: Service) -> None:
    admin = service.headers("admin")
    billing = await _json(
        await service.client.post("/queues", json={"name": "Billing"}, headers=admin), 201
    )
    rule = await _json(
        await service.client.post(
            "/routing-rules",
            json={
                "name": "billing requests",
                "order": 10,
                "queue_id": billing["queue_id"],
                "request_types": ["billing"],
            },
            headers=admin,
        ),
        201,
    )
    assert rule["request_types"] == ["billing"]
    listed = await _json(await service.client.get("/routing-rules", headers=admin))
    assert [r["rule_id"] for r in listed] == [rule["rule_id"]]

    billed = await service.open_case(request_type="billing")
    other = await service.open_case(request_type="hardware")
    agent = service.headers("agent")
    billed_item = await _json(
        await service.client.get(f"/cases/{billed.case_id}/queue-item", headers=agent)
    )
    other_item = await _json(
        await service.client.get(f"/cases/{other.case_id}/queue-item", headers=agent)
    )
    assert (billed_item["queue_id"], billed_item["queue_name"]) == (
        billing["queue_id"],
        "Billing",
    )
    assert other_item["queue_id"] == str(DEFAULT_QUEUE_ID)
    [queued] = await service.announced(billed.case_id, c.CaseQueued)
    assert isinstance(queued, c.CaseQueued)
    assert (str(queued.queue_id), queued.queue_name, queued.rule) == (
        billing["queue_id"],
        "Billing",
        "billing requests",
    )


async def test_agents_pick_and_release_items_over_http(service: Service) -> None:
    opened = await service.open_case()
    anna = service.headers("agent", subject="anna")
    boris = service.headers("agent", subject="boris")
    item = await _json(
        await service.client.get(f"/cases/{opened.case_id}/queue-item", headers=anna)
    )
    base = f"/queue-items/{item['queue_item_id']}"

    picked = await _json(await service.client.post(f"{base}/pick", headers=anna))
    assert (picked["status"], picked["worked_by"], picked["worked_since"]) == (
        "assigned",
        str(agent_id_of("anna")),
        NOW.isoformat().replace("+00:00", "Z"),
    )
    taken = await service.client.post(f"{base}/pick", headers=boris)
    assert taken.status_code == 409
    assert taken.headers["content-type"] == "application/problem+json"
    assert taken.json()["title"] == "ItemAlreadyWorkedError"
    assert (await service.client.post(f"{base}/release", headers=boris)).status_code == 403

    released = await _json(await service.client.post(f"{base}/release", headers=anna))
    assert (released["status"], released["worked_by"]) == ("released", None)
    again = await service.client.post(f"{base}/release", headers=anna)
    assert again.status_code == 409

    [assigned] = await service.announced(opened.case_id, c.CaseAssigned)
    [given_back] = await service.announced(opened.case_id, c.CaseReleased)
    assert isinstance(assigned, c.CaseAssigned) and isinstance(given_back, c.CaseReleased)
    assert assigned.agent_id == given_back.agent_id == agent_id_of("anna")
    assert assigned.strategy == "manual"
    kinds = [type(e) for e, _ in service.published]
    expected: list[type[c.Event]] = [c.CaseQueued, c.CaseAssigned, c.CaseReleased]
    assert kinds == expected


async def test_a_supervisor_transfers_an_item_to_another_queue(service: Service) -> None:
    billing = await _json(
        await service.client.post(
            "/queues", json={"name": "Billing"}, headers=service.headers("admin")
        ),
        201,
    )
    opened = await service.open_case()
    sue = service.headers("supervisor", subject="sue")
    item = await _json(await service.client.get(f"/cases/{opened.case_id}/queue-item", headers=sue))
    base = f"/queue-items/{item['queue_item_id']}"
    await _json(await service.client.post(f"{base}/pick", headers=service.headers("agent")))

    moved = await _json(
        await service.client.post(
            f"{base}/transfer", json={"queue_id": billing["queue_id"]}, headers=sue
        )
    )
    assert (moved["queue_id"], moved["status"], moved["worked_by"]) == (
        billing["queue_id"],
        "waiting",
        None,
    )
    unknown = await service.client.post(
        f"{base}/transfer", json={"queue_id": str(uuid.uuid4())}, headers=sue
    )
    assert unknown.status_code == 422
    [transferred] = await service.announced(opened.case_id, c.CaseTransferred)
    assert isinstance(transferred, c.CaseTransferred)
    assert (transferred.from_queue_id, str(transferred.to_queue_id), transferred.by) == (
        DEFAULT_QUEUE_ID,
        billing["queue_id"],
        agent_id_of("sue"),
    )


async def test_unknown_things_are_404_problems_and_changes_need_their_role(
    service: Service,
) -> None:
    agent, admin = service.headers("agent"), service.headers("admin")
    missing = uuid.uuid4()
    r = await service.client.get(f"/queues/{missing}", headers=agent)
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"
    assert str(missing) in r.json()["detail"]
    for path in (f"/queues/{missing}/items", f"/cases/{missing}/queue-item"):
        assert (await service.client.get(path, headers=agent)).status_code == 404
    assert (
        await service.client.post(f"/queue-items/{missing}/pick", headers=agent)
    ).status_code == 404

    assert (await service.client.get("/queues")).status_code == 401
    assert (
        await service.client.post("/queues", json={"name": "Tier 2"}, headers=agent)
    ).status_code == 403
    assert (await service.client.get("/routing-rules", headers=agent)).status_code == 403
    taken = await service.client.post("/queues", json={"name": "default"}, headers=admin)
    assert taken.status_code == 409
    lost = await service.client.post(
        "/routing-rules",
        json={"name": "lost", "order": 1, "queue_id": str(missing)},
        headers=admin,
    )
    assert lost.status_code == 422
    bad_status = await service.client.get(
        f"/queues/{DEFAULT_QUEUE_ID}/items", params={"status": "lost"}, headers=agent
    )
    assert bad_status.status_code == 422


async def test_queue_items_are_filtered_by_status_and_paged(service: Service) -> None:
    agent = service.headers("agent")
    cases = [await service.open_case() for _ in range(3)]
    first = await _json(
        await service.client.get(f"/cases/{cases[0].case_id}/queue-item", headers=agent)
    )
    await _json(
        await service.client.post(f"/queue-items/{first['queue_item_id']}/pick", headers=agent)
    )
    url = f"/queues/{DEFAULT_QUEUE_ID}/items"

    waiting = await _json(
        await service.client.get(url, params={"status": "waiting"}, headers=agent)
    )
    assert waiting["total"] == 2
    assert {i["case_id"] for i in waiting["items"]} == {str(e.case_id) for e in cases[1:]}
    assigned = await _json(
        await service.client.get(url, params={"status": "assigned"}, headers=agent)
    )
    assert [i["case_id"] for i in assigned["items"]] == [str(cases[0].case_id)]
    page = await _json(
        await service.client.get(url, params={"limit": 2, "offset": 2}, headers=agent)
    )
    assert (page["total"], len(page["items"]), page["limit"], page["offset"]) == (3, 1, 2, 2)


async def test_health_and_asyncapi(service: Service) -> None:
    assert (await service.client.get("/health/live")).json() == {"status": "ok"}
    ready = await service.client.get("/health/ready")
    assert ready.status_code == 200 and ready.json()["checks"]["database"] == "ok"
    doc = (await service.client.get("/asyncapi.json")).json()
    assert set(doc["channels"]) == {
        "cases.case.v1:consume",
        "intake.customer.v1:consume",
        "sla.kpi.v1:consume",
        "channels.cti.v1:consume",
        "routing.queue-item.v1:publish",
        "routing.agent.v1:publish",
        "intake.notification.v1:publish",
    }


async def test_two_agents_picking_one_item_at_once_leave_it_with_one(service: Service) -> None:
    opened = await service.open_case()
    agent = service.headers("agent")
    item = await _json(
        await service.client.get(f"/cases/{opened.case_id}/queue-item", headers=agent)
    )
    url = f"/queue-items/{item['queue_item_id']}/pick"
    names = [f"agent-{n}" for n in range(4)]
    answers = await asyncio.gather(
        *(service.client.post(url, headers=service.headers("agent", subject=n)) for n in names)
    )
    assert sorted(r.status_code for r in answers) == [200, 409, 409, 409]
    [winner] = [n for n, r in zip(names, answers, strict=True) if r.status_code == 200]
    final = await _json(
        await service.client.get(f"/queue-items/{item['queue_item_id']}", headers=agent)
    )
    assert final["worked_by"] == str(agent_id_of(winner))
    assigned = await service.announced(opened.case_id, c.CaseAssigned)
    assert len(assigned) == 1


def _about(kind: str, case_id: uuid.UUID, **fields: object) -> c.Event:
    """A case event of `kind` (its golden sample) about `case_id`."""
    return c.sample(kind).model_copy(update={"case_id": case_id, "occurred_at": NOW, **fields})


@pytest.mark.parametrize("kind", ["case.resolved", "case.cancelled"])
async def test_a_resolved_or_cancelled_case_leaves_its_queue_once(
    service: Service, kind: str
) -> None:
    opened = await service.open_case()
    agent = service.headers("agent", subject="anna")
    item = await _json(
        await service.client.get(f"/cases/{opened.case_id}/queue-item", headers=agent)
    )
    await _json(
        await service.client.post(f"/queue-items/{item['queue_item_id']}/pick", headers=agent)
    )

    closed = _about(kind, opened.case_id)
    for event_id in ("close", "close", None):  # redelivered, then published again
        await publish_event(service.broker, closed, topic=topics.CASES, event_id=event_id)

    [dequeued] = await service.announced(opened.case_id, c.CaseDequeued)
    assert isinstance(dequeued, c.CaseDequeued)
    assert (str(dequeued.queue_item_id), dequeued.queue_id, dequeued.reason) == (
        item["queue_item_id"],
        DEFAULT_QUEUE_ID,
        kind.removeprefix("case."),
    )
    assert [k for e, k in service.published if e is dequeued] == [str(opened.case_id).encode()]
    stored = await _json(
        await service.client.get(f"/queue-items/{item['queue_item_id']}", headers=agent)
    )
    assert (stored["status"], stored["worked_by"]) == ("removed", None)
    assert (
        await service.client.get(f"/cases/{opened.case_id}/queue-item", headers=agent)
    ).status_code == 404
    page = await _json(await service.client.get(f"/queues/{DEFAULT_QUEUE_ID}/items", headers=agent))
    assert page["total"] == 0
    # Everything after is relayed in order: once a later case is queued, nothing more came.
    later = await service.open_case()
    await service.announced(later.case_id, c.CaseQueued)
    about = [type(e) for e, _ in service.published if getattr(e, "case_id", None) == opened.case_id]
    assert about == [c.CaseQueued, c.CaseAssigned, c.CaseDequeued]
    assert service.dead_letters == []


async def test_a_reopened_case_is_queued_again_where_it_was_last_and_can_be_resolved_again(
    service: Service,
) -> None:
    billing = await _json(
        await service.client.post(
            "/queues", json={"name": "Billing"}, headers=service.headers("admin")
        ),
        201,
    )
    opened = await service.open_case()
    sue = service.headers("supervisor", subject="sue")
    first = await _json(
        await service.client.get(f"/cases/{opened.case_id}/queue-item", headers=sue)
    )
    await _json(
        await service.client.post(
            f"/queue-items/{first['queue_item_id']}/transfer",
            json={"queue_id": billing["queue_id"]},
            headers=sue,
        )
    )
    await publish_event(service.broker, _about("case.resolved", opened.case_id), topic=topics.CASES)
    reopened = _about("case.reopened", opened.case_id)
    await publish_event(service.broker, reopened, topic=topics.CASES, event_id="reopen")
    await publish_event(service.broker, reopened, topic=topics.CASES, event_id="reopen")
    await publish_event(service.broker, reopened, topic=topics.CASES)  # under a new id

    again = await _json(
        await service.client.get(f"/cases/{opened.case_id}/queue-item", headers=sue)
    )
    assert again["queue_item_id"] != first["queue_item_id"]
    assert (again["queue_id"], again["queue_name"], again["status"], again["worked_by"]) == (
        billing["queue_id"],
        "Billing",
        "waiting",
        None,
    )
    queued = await service.announced(opened.case_id, c.CaseQueued)
    assert [
        (str(e.queue_item_id), str(e.queue_id)) for e in queued if isinstance(e, c.CaseQueued)
    ] == [
        (first["queue_item_id"], str(DEFAULT_QUEUE_ID)),
        (again["queue_item_id"], billing["queue_id"]),
    ]

    # Resolved a second time: the new item leaves its queue too.
    await publish_event(service.broker, _about("case.resolved", opened.case_id), topic=topics.CASES)
    dequeued = await service.announced(opened.case_id, c.CaseDequeued, count=2)
    assert [str(e.queue_item_id) for e in dequeued if isinstance(e, c.CaseDequeued)] == [
        first["queue_item_id"],
        again["queue_item_id"],
    ]
    page = await _json(
        await service.client.get(f"/queues/{billing['queue_id']}/items", headers=sue)
    )
    assert page["total"] == 0
    assert service.dead_letters == []


async def test_an_agent_taking_the_case_into_work_is_assigned_its_item(service: Service) -> None:
    opened = await service.open_case()
    newcomer = uuid.uuid4()  # an agent routing has never seen
    taken = _about(
        "case.status_changed",
        opened.case_id,
        from_status=c.CaseStatus.NEW,
        to_status=c.CaseStatus.IN_PROGRESS,
        by=newcomer,
    )
    await publish_event(service.broker, taken, topic=topics.CASES, event_id="taken")
    await publish_event(service.broker, taken, topic=topics.CASES, event_id="taken")
    # Moves that are not someone taking the case leave the item alone.
    waiting = _about(
        "case.status_changed",
        opened.case_id,
        from_status=c.CaseStatus.IN_PROGRESS,
        to_status=c.CaseStatus.WAITING_FOR_CUSTOMER,
        by=uuid.uuid4(),
    )
    await publish_event(service.broker, waiting, topic=topics.CASES)

    agent = service.headers("agent")
    item = await _json(
        await service.client.get(f"/cases/{opened.case_id}/queue-item", headers=agent)
    )
    assert (item["status"], item["worked_by"], item["worked_since"]) == (
        "assigned",
        str(newcomer),
        NOW.isoformat().replace("+00:00", "Z"),
    )
    [assigned] = await service.announced(opened.case_id, c.CaseAssigned)
    assert isinstance(assigned, c.CaseAssigned)
    assert (assigned.agent_id, assigned.strategy, str(assigned.queue_item_id)) == (
        newcomer,
        "accepted",
        item["queue_item_id"],
    )
    # The agent is known now, as after a first pick: they may pick more under their id.
    other = await service.open_case()
    other_item = await _json(
        await service.client.get(f"/cases/{other.case_id}/queue-item", headers=agent)
    )
    picked = await _json(
        await service.client.post(
            f"/queue-items/{other_item['queue_item_id']}/pick",
            headers=service.headers("agent", subject=str(newcomer)),
        )
    )
    assert picked["worked_by"] == str(newcomer)
    assert service.dead_letters == []


async def test_changes_before_the_opening_are_parked_and_applied_when_it_arrives(
    service: Service,
) -> None:
    case_id = uuid.uuid4()
    agent_id = uuid.uuid4()
    await publish_event(
        service.broker,
        _about(
            "case.status_changed",
            case_id,
            from_status=c.CaseStatus.NEW,
            to_status=c.CaseStatus.IN_PROGRESS,
            by=agent_id,
        ),
        topic=topics.CASES,
    )
    await publish_event(service.broker, _about("case.resolved", case_id), topic=topics.CASES)
    agent = service.headers("agent")
    assert (
        await service.client.get(f"/cases/{case_id}/queue-item", headers=agent)
    ).status_code == 404
    assert service.dead_letters == []

    await service.open_case(case_id=case_id)

    [dequeued] = await service.announced(case_id, c.CaseDequeued)
    about = [type(e) for e, _ in service.published if getattr(e, "case_id", None) == case_id]
    assert about == [c.CaseQueued, c.CaseAssigned, c.CaseDequeued]
    assert isinstance(dequeued, c.CaseDequeued)
    stored = await _json(
        await service.client.get(f"/queue-items/{dequeued.queue_item_id}", headers=agent)
    )
    assert (stored["status"], stored["worked_by"]) == ("removed", None)


async def _entitlement_known(
    service: Service, case_id: uuid.UUID
) -> tuple[bool | None, str | None]:
    async with service.app.kit.sessions() as session:
        row = (
            await session.execute(
                select(case_facts.c.entitled, case_facts.c.not_entitled).where(
                    case_facts.c.case_id == case_id
                )
            )
        ).one()
    return row.entitled, row.not_entitled


async def test_a_rule_on_entitlement_sends_cases_no_contract_covers_to_billing(
    service: Service,
) -> None:
    admin, agent = service.headers("admin"), service.headers("agent")
    billing = await _json(
        await service.client.post("/queues", json={"name": "Billing"}, headers=admin), 201
    )
    rule = await _json(
        await service.client.post(
            "/routing-rules",
            json={
                "name": "not entitled",
                "order": 10,
                "queue_id": billing["queue_id"],
                "entitlement": ["not_entitled"],
            },
            headers=admin,
        ),
        201,
    )
    assert rule["entitlement"] == ["not_entitled"]
    [listed] = await _json(await service.client.get("/routing-rules", headers=admin))
    assert listed["entitlement"] == ["not_entitled"]

    refused = await service.open_case(
        entitlement_id=None,
        contract_id=None,
        not_entitled=c.NotEntitledReason.CHANNEL_NOT_COVERED,
    )
    covered = await service.open_case()  # the sample names the line that covers it
    assert covered.entitlement_id is not None
    from_before = await service.open_case(entitlement_id=None, contract_id=None, not_entitled=None)

    async def queue_of(case_id: uuid.UUID) -> str:
        item = await _json(await service.client.get(f"/cases/{case_id}/queue-item", headers=agent))
        return str(item["queue_id"])

    assert await queue_of(refused.case_id) == billing["queue_id"]
    assert await queue_of(covered.case_id) == str(DEFAULT_QUEUE_ID)
    assert await queue_of(from_before.case_id) == str(DEFAULT_QUEUE_ID)
    [queued] = await service.announced(refused.case_id, c.CaseQueued)
    assert isinstance(queued, c.CaseQueued) and queued.rule == "not entitled"
    assert await _entitlement_known(service, refused.case_id) == (False, "channel_not_covered")
    assert await _entitlement_known(service, covered.case_id) == (True, None)
    assert await _entitlement_known(service, from_before.case_id) == (None, None)


async def test_a_rule_with_an_unknown_entitlement_is_refused(service: Service) -> None:
    answer = await service.client.post(
        "/routing-rules",
        json={
            "name": "covered",
            "order": 1,
            "queue_id": str(DEFAULT_QUEUE_ID),
            "entitlement": ["covered"],
        },
        headers=service.headers("admin"),
    )
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    assert "covered" in answer.json()["detail"]
    assert (
        await _json(await service.client.get("/routing-rules", headers=service.headers("admin")))
        == []
    )


async def test_a_changed_entitlement_is_remembered_and_the_case_stays_in_its_queue(
    service: Service,
) -> None:
    opened = await service.open_case()
    agent = service.headers("agent")
    before = await _json(
        await service.client.get(f"/cases/{opened.case_id}/queue-item", headers=agent)
    )
    changed = _about(
        "case.entitlement_changed",
        opened.case_id,
        entitlement_id=None,
        contract_id=None,
        not_entitled=c.NotEntitledReason.EXHAUSTED,
    )
    for event_id in ("changed", "changed"):  # redelivered
        await publish_event(service.broker, changed, topic=topics.CASES, event_id=event_id)

    assert await _entitlement_known(service, opened.case_id) == (False, "exhausted")
    after = await _json(
        await service.client.get(f"/cases/{opened.case_id}/queue-item", headers=agent)
    )
    assert (after["queue_item_id"], after["queue_id"]) == (
        before["queue_item_id"],
        before["queue_id"],
    )

    # One that arrives before its case's opening is kept and applied once the case opens.
    early = uuid.uuid4()
    await publish_event(
        service.broker,
        _about("case.entitlement_changed", early, entitlement_id=None, not_entitled=None),
        topic=topics.CASES,
    )
    await service.open_case(case_id=early)
    assert await _entitlement_known(service, early) == (False, None)

    later = await service.open_case()
    await service.announced(later.case_id, c.CaseQueued)
    about = [type(e) for e, _ in service.published if getattr(e, "case_id", None) == opened.case_id]
    assert about == [c.CaseQueued]
    assert service.dead_letters == []
