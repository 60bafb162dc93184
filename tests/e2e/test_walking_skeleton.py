"""End to end: a web submission becomes a customer, an interaction, a case, a queue item and a
running SLA clock, each in the service that owns it, through Kafka and PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

import caseflow_contracts as c
from caseflow_contracts import topics

from .conftest import API_KEY, Suite

pytestmark = pytest.mark.e2e

T = TypeVar("T")


async def eventually(probe: Callable[[], Awaitable[T | None]], *, timeout: float = 60.0) -> T:
    """Poll until `probe` returns a value; fail with the last state after `timeout`."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await probe()
        if value is not None:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not reached within {timeout}s")
        await asyncio.sleep(0.2)


def submission(**overrides: Any) -> dict[str, Any]:
    tag = uuid.uuid4().hex[:10]
    body = {
        "name": "Ada Lovelace",
        "email": f"ada.{tag}@example.org",
        "subject": f"Printer on fire ({tag})",
        "body": "The printer on floor 3 is on fire. Please send help.",
    }
    body.update(overrides)
    return body


async def submit(suite: Suite, body: dict[str, Any], key: str | None = None) -> httpx.Response:
    headers = {"X-Api-Key": API_KEY}
    if key is not None:
        headers["Idempotency-Key"] = key
    return await suite.http["intake"].post("/web-submissions", json=body, headers=headers)


async def case_of_contact(suite: Suite, contact_id: str) -> dict[str, Any] | None:
    r = await suite.http["cases"].get(
        "/cases", params={"contact_id": contact_id}, headers=suite.agent()
    )
    r.raise_for_status()
    items = r.json()["items"]
    return items[0] if items else None


async def cases_of_contact(suite: Suite, contact_id: str) -> list[dict[str, Any]]:
    r = await suite.http["cases"].get(
        "/cases", params={"contact_id": contact_id}, headers=suite.agent()
    )
    r.raise_for_status()
    return list(r.json()["items"])


async def queue_item_of(suite: Suite, case_id: str) -> dict[str, Any] | None:
    r = await suite.http["routing"].get(f"/cases/{case_id}/queue-item", headers=suite.agent())
    return r.json() if r.status_code == 200 else None


async def kpis_of(suite: Suite, case_id: str) -> list[dict[str, Any]] | None:
    r = await suite.http["sla"].get(f"/cases/{case_id}/kpis", headers=suite.agent())
    if r.status_code != 200:
        return None
    kpis = r.json()
    return kpis if kpis else None


async def test_a_web_submission_flows_through_every_service(suite: Suite) -> None:
    body = submission()
    r = await submit(suite, body, key=str(uuid.uuid4()))
    assert r.status_code == 202, r.text
    accepted = r.json()
    assert accepted["status"] == "accepted" and accepted["first_contact"] is True

    # intake: the customer was created and the interaction stored.
    contact = await suite.http["intake"].get(
        f"/contacts/{accepted['contact_id']}", headers=suite.agent()
    )
    assert contact.status_code == 200
    interaction = await suite.http["intake"].get(
        f"/interactions/{accepted['interaction_id']}", headers=suite.agent()
    )
    assert interaction.json()["subject"] == body["subject"]

    # cases: a case with a readable number.
    case = await eventually(lambda: case_of_contact(suite, accepted["contact_id"]))
    assert case["number"].startswith(f"CAS-{datetime.now().year}-")
    assert case["subject"] == body["subject"] and case["status"] == "new"

    # routing: in the default queue.
    item = await eventually(lambda: queue_item_of(suite, case["case_id"]))
    queue = await suite.http["routing"].get(f"/queues/{item['queue_id']}", headers=suite.agent())
    assert queue.json()["name"] == "Default"

    # sla: a first-response KPI due 8 working hours later on the 24x7 calendar.
    kpis = await eventually(lambda: kpis_of(suite, case["case_id"]))
    first = next(k for k in kpis if k["kpi"] == "first_response")
    opened = datetime.fromisoformat(case["opened_at"])
    assert datetime.fromisoformat(first["due_at"]) == opened + timedelta(hours=8)
    assert first["status"] == "in_progress"

    # A follow-up naming the case number is added to the same case, not a new one.
    reply = submission(email=body["email"], subject=f"Re: [{case['number']}] still burning")
    assert (await submit(suite, reply)).status_code == 202

    async def logged() -> dict[str, Any] | None:
        r = await suite.http["cases"].get(f"/cases/{case['case_id']}", headers=suite.agent())
        return r.json() if r.json()["activities"] else None

    updated = await eventually(logged)
    assert [a["subject"] for a in updated["activities"]] == [reply["subject"]]
    assert len(await cases_of_contact(suite, accepted["contact_id"])) == 1


async def test_the_same_idempotency_key_makes_one_case(suite: Suite) -> None:
    body, key = submission(), str(uuid.uuid4())
    first, second = await asyncio.gather(submit(suite, body, key), submit(suite, body, key))
    assert first.status_code == second.status_code == 202
    assert first.json() == second.json()
    third = await submit(suite, body, key)
    assert third.json() == first.json()
    contact_id = first.json()["contact_id"]
    await eventually(lambda: case_of_contact(suite, contact_id))
    # Give a second case every chance to appear before counting.
    marker = await submit(suite, submission())
    await eventually(lambda: case_of_contact(suite, marker.json()["contact_id"]))
    assert len(await cases_of_contact(suite, contact_id)) == 1


async def test_a_malformed_submission_is_a_422_problem_and_creates_nothing(suite: Suite) -> None:
    before = (await suite.http["cases"].get("/cases", headers=suite.agent())).json()["total"]
    tag = uuid.uuid4().hex[:10]
    email = f"bad.{tag}@example.org"
    malformed = [
        {"name": "x", "email": "not-an-email", "subject": "s", "body": "b"},
        {"name": "x", "email": email, "subject": "", "body": "b"},
        {"name": "x", "email": email, "subject": "s", "body": "b", "unexpected": True},
        {"name": "x", "email": email, "subject": "nul \u0000 inside", "body": "b"},
    ]
    for body in malformed:
        r = await submit(suite, body, key=str(uuid.uuid4()))
        assert r.status_code == 422, (body, r.text)
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["status"] == 422
    not_json = await suite.http["intake"].post(
        "/web-submissions",
        content=b"{not json",
        headers={"X-Api-Key": API_KEY, "content-type": "application/json"},
    )
    assert not_json.status_code == 422

    # A valid submission after them is the barrier: once its case exists, anything the
    # malformed ones had caused would exist too.
    marker = await submit(suite, submission())
    await eventually(lambda: case_of_contact(suite, marker.json()["contact_id"]))
    contacts = await suite.http["intake"].get(
        "/contacts", params={"email": email}, headers=suite.agent()
    )
    assert contacts.json()["items"] == []
    after = (await suite.http["cases"].get("/cases", headers=suite.agent())).json()["total"]
    assert after == before + 1


async def test_killing_routing_mid_flow_loses_no_case_and_queues_none_twice(suite: Suite) -> None:
    n = 200
    bodies = [submission() for _ in range(n)]
    accepted: list[dict[str, Any]] = []
    limit = asyncio.Semaphore(16)

    async def send(body: dict[str, Any]) -> None:
        async with limit:
            r = await submit(suite, body, key=str(uuid.uuid4()))
            assert r.status_code == 202, r.text
            accepted.append(r.json())

    killed: list[int | None] = []

    async def chaos() -> None:
        # Kill routing a quarter of the way in, while cases are flowing into it.
        await eventually(lambda: _reached(accepted, n // 4), timeout=60)
        killed.append(await suite.stack.kill_service("routing"))
        sent_at_kill = len(accepted)
        await asyncio.sleep(2.0)
        await suite.stack.start_service("routing")
        assert sent_at_kill < n, "the kill came after the flow had ended"

    await asyncio.gather(chaos(), *(send(b) for b in bodies))
    assert len(accepted) == n
    assert killed == [-9], "routing was SIGKILLed"

    async def all_cases() -> list[dict[str, Any]] | None:
        found = await asyncio.gather(*(case_of_contact(suite, a["contact_id"]) for a in accepted))
        return [f for f in found if f] if all(found) else None

    cases = await eventually(all_cases, timeout=120)
    case_ids = {case["case_id"] for case in cases}
    assert len(case_ids) == n

    async def all_queued() -> list[dict[str, Any]] | None:
        items = await asyncio.gather(*(queue_item_of(suite, cid) for cid in case_ids))
        return [i for i in items if i] if all(items) else None

    items = await eventually(all_queued, timeout=120)
    assert {i["case_id"] for i in items} == case_ids

    # The state holds one item per case; the topic holds one distinct event per case (a
    # relay cut off by the kill may publish an event again, with the same id).
    queued = await read_topic(suite.stack.kafka_bootstrap, topics.ROUTING)
    ids_per_case: dict[str, set[str]] = {}
    for headers, event in queued:
        if isinstance(event, c.CaseQueued) and str(event.case_id) in case_ids:
            ids_per_case.setdefault(str(event.case_id), set()).add(headers["ce_id"])
    assert set(ids_per_case) == case_ids
    assert all(len(ids) == 1 for ids in ids_per_case.values())
    default = items[0]["queue_id"]
    r = await suite.http["routing"].get(
        f"/queues/{default}/items", params={"limit": 500}, headers=suite.agent()
    )
    listed = [i for i in r.json()["items"] if i["case_id"] in case_ids]
    assert len(listed) == n


async def _reached(items: list[Any], count: int) -> bool | None:
    return True if len(items) >= count else None


async def read_topic(bootstrap: str, topic: str) -> list[tuple[dict[str, str], c.Event]]:
    """Everything on `topic` so far, decoded."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    out: list[tuple[dict[str, str], c.Event]] = []
    try:
        await consumer.topics()
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        pending = {tp for tp, end in ends.items() if end > 0}
        while pending:
            batch = await consumer.getmany(*pending, timeout_ms=1000)
            for tp, records in batch.items():
                for record in records:
                    headers = {k: v.decode() for k, v in record.headers}
                    try:
                        out.append((headers, c.decode(headers["ce_type"], record.value)))
                    except (c.ContractError, KeyError):
                        continue
                if await consumer.position(tp) >= ends[tp]:
                    pending.discard(tp)
    finally:
        await consumer.stop()
    return out


async def test_a_message_cases_cannot_process_is_dead_lettered_and_the_flow_goes_on(
    suite: Suite,
) -> None:
    bootstrap = suite.stack.kafka_bootstrap
    poison = c.sample("interaction.received").model_copy(
        update={
            "interaction_id": uuid.uuid4(),
            "contact_id": uuid.uuid4(),
            "follow_up_of": None,
            # Valid JSON and a valid contract, but PostgreSQL text cannot hold NUL.
            "subject": "a subject with a \u0000 inside",
        }
    )
    envelope = c.new_envelope(poison, source="/e2e/buggy-producer")
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(
            topics.INTAKE_INTERACTIONS,
            c.encode(poison),
            key=c.partition_key(poison).encode(),
            headers=[(k, v.encode()) for k, v in c.to_headers(envelope).items()],
        )
    finally:
        await producer.stop()

    # Other messages keep flowing, before and after it.
    after = await submit(suite, submission())
    await eventually(lambda: case_of_contact(suite, after.json()["contact_id"]))

    async def dead_lettered() -> dict[str, str] | None:
        for headers, _ in await read_topic(bootstrap, topics.dlq(topics.INTAKE_INTERACTIONS)):
            if headers["ce_id"] == envelope.id:
                return headers
        return None

    headers = await eventually(dead_lettered, timeout=60)
    assert headers["x-dlq-reason"] == "handler_failed"
    assert headers["x-dlq-consumer"] == "cases"
    assert headers["x-dlq-attempts"] == "3"
    assert "character" in headers["x-dlq-error"].lower() or "0x00" in headers["x-dlq-error"]
    metrics = await suite.http["cases"].get("/metrics")
    assert 'caseflow_dead_letters_total{consumer="cases"' in metrics.text


async def test_an_idle_connection_stays_open_past_a_proxys_reuse(suite: Suite) -> None:
    # A proxy in front reuses an idle upstream connection for up to its own idle timeout;
    # the service must not close it first (HTTP_KEEP_ALIVE_SECONDS, 75 by default).
    url = httpx.URL(suite.stack.base_url("intake"))
    assert url.host is not None and url.port is not None
    reader, writer = await asyncio.open_connection(url.host, url.port)
    request = f"GET /health/live HTTP/1.1\r\nHost: {url.host}\r\n\r\n".encode()
    try:
        for pause in (0.0, 6.0):  # uvicorn's own default would close it after 5 s
            await asyncio.sleep(pause)
            writer.write(request)
            await writer.drain()
            status = await asyncio.wait_for(reader.readline(), timeout=10)
            assert status.startswith(b"HTTP/1.1 200"), status
            headers = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=10)
            length = next(
                int(line.split(b":", 1)[1])
                for line in headers.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            )
            await reader.readexactly(length)
    finally:
        writer.close()
        await writer.wait_closed()
