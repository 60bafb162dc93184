"""End to end: a known customer calls, the agent sees them before answering, opens a case during
the call, and the call lands on the case with its duration; an unknown caller is filed.

Through every service as a process: the telephone switch reports the call on `channels.cti.v1`
(ringing) and through the webhook (answered, ended); the agent's console keeps the screen-pop
stream open; the case is opened in the cases service with the call's id.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer

import caseflow_contracts as c
from caseflow_contracts import topics

from .conftest import API_KEY, Suite
from .test_case_work import _agent, _ok
from .test_walking_skeleton import eventually

pytestmark = pytest.mark.e2e


@contextlib.asynccontextmanager
async def screen_pops(
    client: httpx.AsyncClient, extension: str, headers: dict[str, str]
) -> AsyncIterator[asyncio.Queue[dict[str, Any]]]:
    """The cards the agent's console receives at `extension`, as they come."""
    cards: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    opened = asyncio.Event()

    async def listen() -> None:
        async with client.stream(
            "GET",
            "/screen-pops/stream",
            params={"extension": extension},
            headers=headers,
            timeout=httpx.Timeout(30, read=None),
        ) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            opened.set()
            event: str | None = None
            async for line in response.aiter_lines():
                if line.startswith("event:"):
                    event = line.removeprefix("event:").strip()
                elif line.startswith("data:") and event == "screen-pop":
                    await cards.put(json.loads(line.removeprefix("data:").strip()))

    task = asyncio.create_task(listen())
    try:
        await asyncio.wait_for(opened.wait(), timeout=30)
        yield cards
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def switch_says(suite: Suite, event: c.Event) -> None:
    """The telephone switch publishes `event` on the CTI topic, as a telephony adapter does."""
    envelope = c.new_envelope(event, source="/e2e/pbx")
    producer = AIOKafkaProducer(bootstrap_servers=suite.stack.kafka_bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(
            topics.CHANNELS_CTI,
            c.encode(event),
            key=c.partition_key(event).encode(),
            headers=[(k, v.encode()) for k, v in c.to_headers(envelope).items()],
        )
    finally:
        await producer.stop()


async def webhook(intake: httpx.AsyncClient, event: c.Event) -> None:
    """The switch reports `event` over HTTP instead."""
    r = await intake.post(
        "/cti/events", json=event.model_dump(mode="json"), headers={"X-Api-Key": API_KEY}
    )
    assert r.status_code == 202, r.text


async def next_card(cards: asyncio.Queue[dict[str, Any]], call_id: str) -> dict[str, Any]:
    while True:
        card = await asyncio.wait_for(cards.get(), timeout=30)
        if card["call"]["call_id"] == call_id:
            return card


async def test_a_call_is_identified_shown_and_logged_on_the_case(suite: Suite) -> None:
    admin = suite.agent()
    cases, intake = suite.http["cases"], suite.http["intake"]
    tag = uuid.uuid4().hex[:8]
    agent_id = uuid.uuid4()
    agent = _agent(suite, agent_id)
    extension = f"2{random.randint(10_000, 99_999)}"
    subscriber = f"{random.randint(1_000_000, 9_999_999)}"

    # The customer on file: a contact with a Berlin number, at an account on credit hold, with
    # a case open.
    account = await _ok(
        await intake.post(
            "/accounts",
            headers=admin,
            json={
                "name": f"Initech {tag}",
                "tier": "gold",
                "credit_hold": True,
                "credit_hold_reason": "Invoice 2026-0117 overdue",
            },
        ),
        201,
    )
    contact = await _ok(
        await intake.post(
            "/contacts",
            headers=admin,
            json={
                "name": "Peter Gibbons",
                "account_id": account["account_id"],
                "phones": [{"number": f"+49 30 {subscriber}", "kind": "work"}],
            },
        ),
        201,
    )
    assert contact["phones"] == [f"+4930{subscriber}"]
    open_case = await _ok(
        await cases.post(
            "/cases",
            headers=agent,
            json={
                "contact_id": contact["contact_id"],
                "account_id": account["account_id"],
                "channel": "email",
                "subject": f"TPS report cover sheets ({tag})",
            },
        ),
        201,
    )

    async def in_history() -> dict[str, Any] | None:
        r = await intake.get(f"/contacts/{contact['contact_id']}/history", headers=agent)
        return r.json() if open_case["number"] in r.text else None

    await eventually(in_history)

    async with screen_pops(intake, extension, agent) as cards:
        # 1-2. They call from the same number written another way; the card pops up.
        call_id = f"pbx-{tag}-1"
        rang = datetime.now(UTC)
        await switch_says(
            suite,
            c.CallRinging(
                occurred_at=rang,
                call_id=call_id,
                caller_number=f"0049 (0)30 {subscriber}",
                dialled_number="+4930555000",
                agent_extension=extension,
                ringing_at=rang,
            ),
        )
        card = await next_card(cards, call_id)
        assert card["match"] == "contact" and card["first_contact"] is False
        assert card["contact"]["contact_id"] == contact["contact_id"]
        assert card["account"]["credit_hold"] is True
        assert card["account"]["credit_hold_reason"] == "Invoice 2026-0117 overdue"
        assert [x["number"] for x in card["open_cases"]] == [open_case["number"]]

        # 3. The agent answers and opens a case during the call.
        answered = rang + timedelta(seconds=4)
        await webhook(
            intake,
            c.CallAnswered(
                occurred_at=answered,
                call_id=call_id,
                caller_number=f"0049 (0)30 {subscriber}",
                dialled_number="+4930555000",
                agent_extension=extension,
                answered_at=answered,
            ),
        )
        new_case = await _ok(
            await cases.post(
                "/cases",
                headers=agent,
                json={
                    "contact_id": contact["contact_id"],
                    "account_id": account["account_id"],
                    "channel": "phone",
                    "subject": f"Stapler missing ({tag})",
                    "call_id": call_id,
                },
            ),
            201,
        )

        # 4. The call ends after 5 minutes of talk.
        ended = answered + timedelta(minutes=5)
        await webhook(
            intake,
            c.CallEnded(
                occurred_at=ended,
                call_id=call_id,
                caller_number=f"0049 (0)30 {subscriber}",
                dialled_number="+4930555000",
                agent_extension=extension,
                ringing_at=rang,
                answered_at=answered,
                ended_at=ended,
                duration_seconds=304,
            ),
        )

        # 5. The case shows the call, with its duration and the agent who took it.
        async def call_logged() -> dict[str, Any] | None:
            got = await _ok(await cases.get(f"/cases/{new_case['case_id']}", headers=agent))
            calls = [a for a in got["activities"] if a["kind"] == "call"]
            return calls[0] if calls else None

        activity = await eventually(call_logged)
        assert activity["duration_minutes"] == 5
        assert activity["performed_by"] == str(agent_id)
        call = await _ok(await intake.get(f"/calls/{call_id}", headers=agent))
        assert call["call"]["agent_id"] == str(agent_id)
        assert call["call"]["interaction_id"] is not None

        # 6. An unknown caller: no one on file, then filed as a first contact.
        stranger = f"+49 89 {random.randint(1_000_000, 9_999_999)}"
        unknown_call = f"pbx-{tag}-2"
        rang = datetime.now(UTC)
        await webhook(
            intake,
            c.CallRinging(
                occurred_at=rang,
                call_id=unknown_call,
                caller_number=stranger,
                dialled_number="+4930555000",
                agent_extension=extension,
                ringing_at=rang,
            ),
        )
        card = await next_card(cards, unknown_call)
        assert card["match"] == "unknown" and card["contact"] is None
        assert card["first_contact"] is True

    await webhook(
        intake,
        c.CallEnded(
            occurred_at=rang + timedelta(minutes=2),
            call_id=unknown_call,
            caller_number=stranger,
            dialled_number="+4930555000",
            agent_extension=extension,
            ringing_at=rang,
            answered_at=rang + timedelta(seconds=3),
            ended_at=rang + timedelta(minutes=2),
            duration_seconds=120,
        ),
    )

    async def filed() -> dict[str, Any] | None:
        r = await intake.get("/contacts", params={"phone": stranger}, headers=agent)
        items = (await _ok(r))["items"]
        return items[0] if items else None

    newcomer = await eventually(filed)
    interaction_id = (await _ok(await intake.get(f"/calls/{unknown_call}", headers=agent)))["call"][
        "interaction_id"
    ]
    interaction = await _ok(await intake.get(f"/interactions/{interaction_id}", headers=agent))
    assert interaction["channel"] == "phone"
    assert interaction["contact_id"] == newcomer["contact_id"]
    assert interaction["first_contact"] is True
