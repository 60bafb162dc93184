"""End to end: routing assigns, through every service as a process.

Two agents with different skills are filed in the directory, and a rule sends printer cases
to a queue that assigns by skills. The case goes to the agent with `printers:3`, who is told
by mail. A case of an account whose owner is available goes to the owner; with the owner
away, it falls back to the queue's next strategy. The first case is resolved: its item is
gone and its agent's load drops. An item nobody can take waits past its queue's threshold and
overflows into another queue.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest

from caseflow_contracts import topics
from caseflow_servicekit.auth import mint_token

from .conftest import API_KEY, Suite
from .test_walking_skeleton import eventually, read_topic

pytestmark = pytest.mark.e2e


async def _ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def _as(suite: Suite, agent_id: uuid.UUID) -> dict[str, str]:
    token = mint_token(
        suite.stack.auth_secret, subject=str(agent_id), roles=["agent"], ttl=timedelta(hours=1)
    )
    return {"Authorization": f"Bearer {token}"}


async def test_cases_are_assigned_by_skills_owner_and_overflow(suite: Suite) -> None:
    admin = suite.agent()
    tag = uuid.uuid4().hex[:8]
    intake, cases, routing = (suite.http[n] for n in ("intake", "cases", "routing"))

    # 1. Two agents with different skills, and queues that assign.
    skilled, other = uuid.uuid4(), uuid.uuid4()
    for agent_id, name, skills in (
        (skilled, "Ada Skilled", ["printers:3", "networks:2"]),
        (other, "Bob Other", ["printers:1", "billing:4"]),
    ):
        await _ok(
            await routing.post(
                "/agents",
                headers=admin,
                json={
                    "agent_id": str(agent_id),
                    "name": f"{name} {tag}",
                    "email": f"{name.split()[0].lower()}.{tag}@desk.example",
                    "skills": skills,
                    "capacity": 3,
                    "presence": "available",
                    "languages": ["en"],
                },
            ),
            201,
        )
    overflow = await _ok(
        await routing.post("/queues", headers=admin, json={"name": f"Overflow {tag}"}), 201
    )
    printers = await _ok(
        await routing.post(
            "/queues",
            headers=admin,
            json={
                "name": f"Printers {tag}",
                "strategies": ["skills", "least_busy"],
                "overflow": {"queue_id": overflow["queue_id"], "after_seconds": 2},
            },
        ),
        201,
    )
    keyword = f"printer-{tag}"
    await _ok(
        await routing.post(
            "/routing-rules",
            headers=admin,
            json={
                "name": f"Printers {tag}",
                "order": 1,
                "queue_id": printers["queue_id"],
                "subject_keywords": [keyword],
                "required_skills": ["printers:3"],
            },
        ),
        201,
    )
    tested = await _ok(
        await routing.post(
            "/routing-rules/test",
            headers=admin,
            json={"channel": "web", "subject": f"My {keyword} jams"},
        )
    )
    assert tested["queue_id"] == printers["queue_id"]
    assert tested["required_skills"] == ["printers:3"]

    async def submitted(email: str, subject: str) -> str:
        accepted = await _ok(
            await intake.post(
                "/web-submissions",
                headers={"X-Api-Key": API_KEY, "Idempotency-Key": str(uuid.uuid4())},
                json={"name": "Grace Hopper", "email": email, "subject": subject, "body": "Help"},
            ),
            202,
        )

        async def opened() -> str | None:
            r = await cases.get(
                "/cases", params={"contact_id": accepted["contact_id"]}, headers=admin
            )
            items = (await _ok(r))["items"]
            return str(items[0]["case_id"]) if items else None

        return await eventually(opened)

    async def item_of(case_id: str, predicate: Any) -> dict[str, Any]:
        async def probe() -> dict[str, Any] | None:
            r = await routing.get(f"/cases/{case_id}/queue-item", headers=admin)
            item = r.json() if r.status_code == 200 else None
            return item if item is not None and predicate(item) else None

        return await eventually(probe)

    # 2. The printer case goes to the skilled agent, by skills and the rule; they are told.
    first = await submitted(f"grace.{tag}@customer.example", f"The {keyword} is on fire")
    item = await item_of(first, lambda i: i["worked_by"] is not None)
    assert item["worked_by"] == str(skilled)
    assert item["queue_id"] == printers["queue_id"] and item["rule"] == f"Printers {tag}"
    assigned = [
        e
        for _, e in await read_topic(suite.stack.kafka_bootstrap, topics.ROUTING)
        if e.type == "case.assigned" and str(getattr(e, "case_id", "")) == first
    ]
    assert [(str(e.agent_id), e.strategy, e.rule) for e in assigned] == [  # type: ignore[attr-defined]
        (str(skilled), "skills", f"Printers {tag}")
    ]
    assert suite.stack.mailsink_url is not None
    async with httpx.AsyncClient(base_url=suite.stack.mailsink_url, timeout=30) as sink:

        async def told() -> list[dict[str, Any]] | None:
            listing = await _ok(
                await sink.get("/messages", params={"to": f"ada.{tag}@desk.example"})
            )
            return listing["messages"] or None

        mail = await eventually(told)
    assert "assigned" in mail[0]["subject"].lower()

    # 3. A case of an account whose owner is available goes to the owner.
    domain = f"{tag}.example"
    account = await _ok(
        await intake.post(
            "/accounts",
            headers=admin,
            json={"name": f"Acme {tag}", "domains": [domain], "owner_id": str(other)},
        ),
        201,
    )
    owned = await _ok(
        await routing.post(
            "/queues",
            headers=admin,
            json={"name": f"Key accounts {tag}", "strategies": ["preferred_agent", "least_busy"]},
        ),
        201,
    )
    await _ok(
        await routing.post(
            "/routing-rules",
            headers=admin,
            json={
                "name": f"Key accounts {tag}",
                "order": 2,
                "queue_id": owned["queue_id"],
                "account_ids": [account["account_id"]],
            },
        ),
        201,
    )

    # Routing learns the owner from intake's account event before the case comes.
    async def owner_known() -> bool | None:
        r = await routing.post(
            "/routing-rules/test",
            headers=admin,
            json={"channel": "web", "subject": "x", "account_id": account["account_id"]},
        )
        return True if (await _ok(r))["queue_id"] == owned["queue_id"] else None

    await eventually(owner_known)
    second = await submitted(f"ann@{domain}", f"Invoice question {tag}")
    item = await item_of(second, lambda i: i["worked_by"] is not None)
    assert item["worked_by"] == str(other)

    # 4. With the owner away, the next case of the account falls back to the least busy.
    await _ok(
        await routing.put(
            "/agents/me/presence", headers=_as(suite, other), json={"presence": "away"}
        )
    )
    third = await submitted(f"bea@{domain}", f"Another invoice question {tag}")
    item = await item_of(third, lambda i: i["worked_by"] is not None)
    assert item["worked_by"] == str(skilled)
    load = (await _ok(await routing.get(f"/agents/{skilled}", headers=admin)))["load_units"]
    assert load == 2

    # 5. The first case is resolved: its item is gone and the agent's load drops.
    agent = _as(suite, skilled)
    decision = f"fixed-{tag}"
    await _ok(
        await cases.post(
            "/decisions",
            headers=admin,
            json={"code": decision, "names": {"en": "Fixed"}, "outcome": "accepted"},
        ),
        201,
    )
    await _ok(await cases.post(f"/cases/{first}/accept", headers=agent))
    await _ok(
        await cases.post(
            f"/cases/{first}/decisions", headers=agent, json={"code": decision, "text": "Reset"}
        ),
        201,
    )
    await _ok(
        await cases.post(
            f"/cases/{first}/resolve", headers=agent, json={"code": decision, "text": "Reset"}
        )
    )

    async def dequeued() -> bool | None:
        r = await routing.get(f"/cases/{first}/queue-item", headers=admin)
        return True if r.status_code == 404 else None

    await eventually(dequeued)
    entry = await _ok(await routing.get(f"/agents/{skilled}", headers=admin))
    assert entry["load_units"] == 1
    stats = await _ok(await routing.get(f"/queues/{printers['queue_id']}/stats", headers=admin))
    assert stats["waiting"] == 0 and stats["assigned"] == 0
    assert {a["agent_id"]: a["load_units"] for a in stats["agents"]}[str(skilled)] == 1

    # 6. With the skilled agent away nobody can take a printer case: past the threshold it
    # overflows into the other queue.
    await _ok(
        await routing.put(f"/agents/{skilled}/presence", headers=admin, json={"presence": "away"})
    )
    fourth = await submitted(f"cy.{tag}@customer.example", f"The {keyword} again")
    waiting = await item_of(fourth, lambda i: True)
    assert waiting["queue_id"] == printers["queue_id"] and waiting["worked_by"] is None
    moved = await item_of(fourth, lambda i: i["queue_id"] == overflow["queue_id"])
    assert moved["status"] == "waiting"
    transfers = [
        e
        for _, e in await read_topic(suite.stack.kafka_bootstrap, topics.ROUTING)
        if e.type == "case.transferred" and str(getattr(e, "case_id", "")) == fourth
    ]
    assert [e.reason for e in transfers] == ["waited_too_long"]  # type: ignore[attr-defined]
    metrics = (await routing.get("/metrics")).text
    assert f'caseflow_queue_depth{{queue="Overflow {tag}"}}' in metrics
