"""End to end: a case is worked from a web submission to its second resolution, through every
service as a process.

A request type with dynamic questions is defined; a customer submits a request of that type;
the case is routed, an agent accepts it, logs work and replies; first response is met; a
decision is recorded and the case resolved with its billable time; the queue item goes and
resolution is met; the case is reopened (the resolution KPI goes on with the time it had
consumed) and resolved again; the report shows it under its agent and account.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import caseflow_contracts as c
from caseflow_contracts import topics
from caseflow_servicekit.auth import mint_token

from .conftest import API_KEY, Suite
from .test_walking_skeleton import eventually, read_topic

pytestmark = pytest.mark.e2e


def _agent(suite: Suite, agent_id: uuid.UUID) -> dict[str, str]:
    token = mint_token(
        suite.stack.auth_secret, subject=str(agent_id), roles=["agent"], ttl=timedelta(hours=1)
    )
    return {"Authorization": f"Bearer {token}"}


async def _ok(response: Any, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_a_case_is_worked_from_submission_to_report(suite: Suite) -> None:
    admin = suite.agent()
    tag = uuid.uuid4().hex[:8]
    cases, intake, routing, sla = (suite.http[n] for n in ("cases", "intake", "routing", "sla"))

    # The catalogues: a request type whose second question depends on the first, a decision.
    request_type = f"repair-{tag}"
    await _ok(
        await cases.post(
            "/request-types",
            headers=admin,
            json={
                "code": request_type,
                "names": {"en": "Repair"},
                "default_priority": "high",
                "parameters": [
                    {
                        "name": "warranty",
                        "labels": {"en": "Is the device under warranty?"},
                        "type": "choice",
                        "choices": ["yes", "no"],
                        "required": True,
                    },
                    {
                        "name": "invoice_date",
                        "type": "date",
                        "required": True,
                        "when": {"parameter": "warranty", "equals": ["yes"]},
                    },
                ],
            },
        ),
        201,
    )
    decision = f"repaired-{tag}"
    await _ok(
        await cases.post(
            "/decisions",
            headers=admin,
            json={"code": decision, "names": {"en": "Repaired"}, "outcome": "accepted"},
        ),
        201,
    )
    questions = await _ok(
        await cases.get(
            f"/request-types/{request_type}/questions",
            params={"answers": '{"warranty": "yes"}'},
            headers={"X-Api-Key": API_KEY},
        )
    )
    assert [q["name"] for q in questions["questions"]] == ["invoice_date"]

    # The customer's company, so the case has an account.
    domain = f"{tag}.example"
    account = await _ok(
        await intake.post(
            "/accounts", headers=admin, json={"name": f"Acme {tag}", "domains": [domain]}
        ),
        201,
    )
    submission = {
        "name": "Grace Hopper",
        "email": f"grace@{domain}",
        "subject": f"Broken laptop ({tag})",
        "body": "It does not start.",
        "request_type": request_type,
        "parameters": {"warranty": "yes"},
    }

    # Intake learns the request type from events, and then checks the answers at its edge.
    async def refused_for_the_missing_date() -> dict[str, Any] | None:
        r = await intake.post("/web-submissions", json=submission, headers={"X-Api-Key": API_KEY})
        assert r.status_code == 422, r.text
        located = [e["loc"] for e in r.json().get("errors", [])]
        return r.json() if ["body", "parameters", "invoice_date"] in located else None

    await eventually(refused_for_the_missing_date)
    submission["parameters"] = {"warranty": "yes", "invoice_date": "2026-01-15"}
    accepted = await _ok(
        await intake.post(
            "/web-submissions",
            json=submission,
            headers={"X-Api-Key": API_KEY, "Idempotency-Key": str(uuid.uuid4())},
        ),
        202,
    )
    assert accepted["account_id"] == account["account_id"]

    async def the_case() -> dict[str, Any] | None:
        r = await cases.get("/cases", params={"contact_id": accepted["contact_id"]}, headers=admin)
        items = (await _ok(r))["items"]
        return items[0] if items else None

    summary = await eventually(the_case)
    case_id = summary["case_id"]
    case = await _ok(await cases.get(f"/cases/{case_id}", headers=admin))
    assert case["request_type"] == request_type and case["priority"] == "high"
    assert case["parameters"] == {"warranty": "yes", "invoice_date": "2026-01-15"}

    # Routed, and timed.
    async def queue_item() -> dict[str, Any] | None:
        r = await routing.get(f"/cases/{case_id}/queue-item", headers=admin)
        return r.json() if r.status_code == 200 else None

    await eventually(queue_item)

    async def kpis(predicate: Any) -> dict[str, dict[str, Any]] | None:
        r = await sla.get(f"/cases/{case_id}/kpis", headers=admin)
        found = {k["kpi"]: k for k in r.json()} if r.status_code == 200 else {}
        return found if found and predicate(found) else None

    await eventually(lambda: kpis(lambda k: {"first_response", "resolution"} <= set(k)))

    # An agent takes it into work: the queue item becomes theirs.
    agent_id = uuid.uuid4()
    agent = _agent(suite, agent_id)
    await _ok(await cases.post(f"/cases/{case_id}/accept", headers=agent))

    async def worked_by_the_agent() -> dict[str, Any] | None:
        item = await queue_item()
        return item if item and item["worked_by"] == str(agent_id) else None

    await eventually(worked_by_the_agent)

    # Work is logged; a note is no first response, the reply is.
    await _ok(
        await cases.post(
            f"/cases/{case_id}/activities",
            headers=agent,
            json={
                "kind": "call",
                "subject": "Diagnosed by phone",
                "duration_minutes": 20,
                "billable": True,
            },
        ),
        201,
    )
    await _ok(
        await cases.post(
            f"/cases/{case_id}/activities",
            headers=agent,
            json={
                "kind": "note",
                "subject": "Board fault",
                "duration_minutes": 5,
                "billable": False,
            },
        ),
        201,
    )
    # Had the note met first response, the KPI would have ended before the reply was sent.
    before_reply = datetime.now(UTC)
    await _ok(
        await cases.post(
            f"/cases/{case_id}/replies",
            headers=agent,
            json={
                "text": "We will repair it under warranty.",
                "duration_minutes": 10,
                "billable": True,
            },
        ),
        201,
    )
    replied = await eventually(lambda: kpis(lambda k: k["first_response"]["status"] == "succeeded"))
    assert datetime.fromisoformat(replied["first_response"]["ended_at"]) >= before_reply

    # A decision, then the resolution with the billable time the activities add up to.
    await _ok(
        await cases.post(
            f"/cases/{case_id}/decisions",
            headers=agent,
            json={"code": decision, "text": "Covered by the warranty"},
        ),
        201,
    )
    resolved = await _ok(
        await cases.post(
            f"/cases/{case_id}/resolve",
            headers=agent,
            json={"code": decision, "text": "Mainboard replaced"},
        )
    )
    assert resolved["status"] == "resolved"
    assert resolved["resolution"]["billable_minutes"] == 30
    assert resolved["resolution"]["total_minutes"] == 35

    async def dequeued() -> bool | None:
        r = await routing.get(f"/cases/{case_id}/queue-item", headers=admin)
        return True if r.status_code == 404 else None

    await eventually(dequeued)
    met = await eventually(lambda: kpis(lambda k: k["resolution"]["status"] == "succeeded"))
    consumed_at_resolution = met["resolution"]["consumed_seconds"]

    # Reopened: back in a queue, the resolution KPI going on from where it stood.
    await _ok(
        await cases.post(f"/cases/{case_id}/reopen", headers=agent, json={"reason": "Fan is noisy"})
    )
    await eventually(queue_item)
    running = await eventually(lambda: kpis(lambda k: k["resolution"]["status"] == "in_progress"))
    assert running["resolution"]["consumed_seconds"] >= consumed_at_resolution
    assert running["resolution"]["instance_id"] == met["resolution"]["instance_id"]
    await _ok(
        await cases.post(
            f"/cases/{case_id}/activities",
            headers=agent,
            json={
                "kind": "task",
                "subject": "Fan replaced",
                "duration_minutes": 15,
                "billable": True,
            },
        ),
        201,
    )
    again = await _ok(
        await cases.post(
            f"/cases/{case_id}/resolve",
            headers=agent,
            json={"code": decision, "text": "Fan replaced"},
        )
    )
    assert again["resolution"]["billable_minutes"] == 45
    await eventually(lambda: kpis(lambda k: k["resolution"]["status"] == "succeeded"))

    # The customer was told along the way.
    async def told() -> set[str] | None:
        templates = {
            event.template
            for _, event in await read_topic(
                suite.stack.kafka_bootstrap, topics.INTAKE_NOTIFICATIONS
            )
            if isinstance(event, c.NotificationRequested) and event.case_id == uuid.UUID(case_id)
        }
        wanted = {"case.received", "case.accepted", "case.reply", "case.resolved"}
        return templates if wanted <= templates else None

    await eventually(told)

    # The report shows the case under its agent and its account.
    async def reported() -> dict[str, Any] | None:
        now = datetime.now(UTC)
        r = await cases.get(
            "/reports/cases",
            params={
                "from": (now - timedelta(hours=1)).isoformat(),
                "to": (now + timedelta(hours=1)).isoformat(),
                "group_by": "agent,account",
            },
            headers=admin,
        )
        rows = (await _ok(r))["rows"]
        for row in rows:
            group = row["group"]
            if group == {"agent": str(agent_id), "account": account["account_id"]}:
                return row
        return None

    row = await eventually(reported)
    assert row["opened"] == 1 and row["resolved"] == 1 and row["reopened"] == 1
    assert row["billable_minutes"] == 45


async def test_an_agent_opens_a_case_for_a_customer_not_on_file(suite: Suite) -> None:
    tag = uuid.uuid4().hex[:8]
    agent = _agent(suite, uuid.uuid4())
    cases, intake = suite.http["cases"], suite.http["intake"]
    email = f"walk.in.{tag}@example.org"

    # Taken at the counter: intake identifies (here: creates) the customer, then the case opens.
    r = await cases.post(
        "/cases",
        headers=agent,
        json={
            "customer": {"name": "Walk-in Customer", "email": email},
            "channel": "visit",
            "subject": f"Screen cracked ({tag})",
            "description": "Brought the device to the counter.",
        },
    )
    requested = await _ok(r, 202)
    assert r.headers["location"] == f"/cases?interaction_id={requested['interaction_id']}"

    async def opened() -> dict[str, Any] | None:
        found = await cases.get(
            "/cases", params={"interaction_id": requested["interaction_id"]}, headers=agent
        )
        items = (await _ok(found))["items"]
        return items[0] if items else None

    case = await eventually(opened)
    assert case["channel"] == "visit"
    contacts = await _ok(await intake.get("/contacts", params={"email": email}, headers=agent))
    [contact] = contacts["items"]
    assert case["contact_id"] == contact["contact_id"]
    full = await _ok(await cases.get(f"/cases/{case['case_id']}", headers=agent))
    assert full["first_contact"] is True
