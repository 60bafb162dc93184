"""End to end: an account's service contract is checked as cases open and drawn down as they are
resolved, through every service as a process.

An account has a contract of 3 email cases and 120 phone minutes, on its own calendar. A web
request is not entitled (the channel is not covered) and a routing rule sends it to billing. An
email case draws 1 case; a phone case with 45 billable minutes draws 45 minutes, and is timed on
the contract's calendar. Reopening it restores the 45; resolving it again draws the new total,
60. Two more email cases use the line up, and the contract's owner is told; the fourth email
case is not entitled (exhausted). The contracts report shows the same figures.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

import caseflow_contracts as c
from caseflow_contracts import topics

from .conftest import API_KEY, Suite
from .test_case_work import _agent, _ok
from .test_walking_skeleton import eventually, read_topic

pytestmark = pytest.mark.e2e


async def test_a_contract_is_checked_at_opening_and_drawn_down_at_resolution(
    suite: Suite,
) -> None:
    admin = suite.agent()
    tag = uuid.uuid4().hex[:8]
    cases, intake, routing, sla = (suite.http[n] for n in ("cases", "intake", "routing", "sla"))
    owner_id = uuid.uuid4()
    agent = _agent(suite, uuid.uuid4())

    decision = f"done-{tag}"
    await _ok(
        await cases.post(
            "/decisions",
            headers=admin,
            json={"code": decision, "names": {"en": "Done"}, "outcome": "accepted"},
        ),
        201,
    )
    domain = f"{tag}.example"
    account = await _ok(
        await intake.post(
            "/accounts", headers=admin, json={"name": f"Contoso {tag}", "domains": [domain]}
        ),
        201,
    )
    account_id = account["account_id"]

    # Cases under the contract are timed on its office-hours calendar, by the default policy.
    calendar = await _ok(
        await sla.post(
            "/calendars",
            headers=admin,
            json={
                "name": f"Contoso hours {tag}",
                "time_zone": "Europe/Berlin",
                "week": {day: ["08:00-18:00"] for day in ("monday", "tuesday", "wednesday")},
            },
        ),
        201,
    )
    [policy] = await _ok(await sla.get("/policies", headers=admin))

    # Not-entitled cases of this account go to billing.
    billing = await _ok(
        await routing.post("/queues", headers=admin, json={"name": f"Billing {tag}"}), 201
    )
    await _ok(
        await routing.post(
            "/routing-rules",
            headers=admin,
            json={
                "name": f"unpaid {tag}",
                "order": 1,
                "queue_id": billing["queue_id"],
                "account_ids": [account_id],
                "entitlement": ["not_entitled"],
            },
        ),
        201,
    )

    # 1. The contract: 3 email cases and 120 phone minutes.
    contract = await _ok(
        await cases.post(
            f"/accounts/{account_id}/contracts",
            headers=admin,
            json={
                "name": f"Support {tag}",
                "owner_id": str(owner_id),
                "sla_policy_id": policy["policy_id"],
                "calendar_id": calendar["calendar_id"],
                "lines": [
                    {
                        "name": "Email",
                        "allocation": "cases",
                        "allotment": 3,
                        "channels": ["email"],
                    },
                    {
                        "name": "Phone",
                        "allocation": "minutes",
                        "allotment": 120,
                        "channels": ["phone"],
                    },
                ],
            },
        ),
        201,
    )
    contract_id = contract["contract_id"]
    assert contract["status"] == "draft"
    email_line, phone_line = (line["line_id"] for line in contract["lines"])
    active = await _ok(await cases.post(f"/contracts/{contract_id}/activate", headers=admin))
    assert active["status"] == "active"

    # 4 (first, for the contact it files). A web request: the web is not covered.
    accepted = await _ok(
        await intake.post(
            "/web-submissions",
            json={
                "name": "Alan Turing",
                "email": f"alan@{domain}",
                "subject": f"Invoice question ({tag})",
                "body": "Which plan am I on?",
            },
            headers={"X-Api-Key": API_KEY, "Idempotency-Key": str(uuid.uuid4())},
        ),
        202,
    )
    assert accepted["account_id"] == account_id
    contact_id = accepted["contact_id"]

    async def web_case() -> dict[str, Any] | None:
        r = await cases.get("/cases", params={"contact_id": contact_id}, headers=admin)
        items = (await _ok(r))["items"]
        return items[0] if items else None

    web = await _ok(
        await cases.get(f"/cases/{(await eventually(web_case))['case_id']}", headers=admin)
    )
    assert web["entitlement"] == {
        "status": "not_entitled",
        "line_id": None,
        "contract_id": None,
        "reason": "channel_not_covered",
        "rule": None,
    }

    async def in_billing() -> dict[str, Any] | None:
        r = await routing.get(f"/cases/{web['case_id']}/queue-item", headers=admin)
        return r.json() if r.status_code == 200 else None

    assert (await eventually(in_billing))["queue_id"] == billing["queue_id"]

    async def opened(channel: str, subject: str) -> dict[str, Any]:
        return await _ok(
            await cases.post(
                "/cases",
                headers=agent,
                json={
                    "contact_id": contact_id,
                    "account_id": account_id,
                    "channel": channel,
                    "subject": f"{subject} ({tag})",
                },
            ),
            201,
        )

    async def resolved(case: dict[str, Any]) -> dict[str, Any]:
        return await _ok(
            await cases.post(
                f"/cases/{case['case_id']}/resolve",
                headers=agent,
                json={"code": decision, "text": "Sorted out"},
            )
        )

    async def balances() -> dict[str, tuple[int, int]]:
        got = await _ok(await cases.get(f"/contracts/{contract_id}", headers=agent))
        return {line["line_id"]: (line["used"], line["remaining"]) for line in got["lines"]}

    # 2. An email case is covered by the email line, and draws 1 case.
    first_email = await opened("email", "Password reset")
    assert first_email["entitlement"]["status"] == "entitled"
    assert first_email["entitlement"]["line_id"] == email_line
    await resolved(first_email)
    assert (await balances())[email_line] == (1, 2)

    # 3. A phone case with 45 billable minutes draws 45 minutes, timed on the contract's calendar.
    call = await opened("phone", "Printer setup")
    assert call["entitlement"]["line_id"] == phone_line
    await _ok(
        await cases.post(
            f"/cases/{call['case_id']}/activities",
            headers=agent,
            json={
                "kind": "call",
                "subject": "Walked through setup",
                "duration_minutes": 45,
                "billable": True,
            },
        ),
        201,
    )
    assert (await resolved(call))["billable_minutes"] == 45
    assert (await balances())[phone_line] == (45, 75)

    async def timed_on_the_contract() -> list[c.KpiStarted] | None:
        started = [
            event
            for _, event in await read_topic(suite.stack.kafka_bootstrap, topics.SLA)
            if isinstance(event, c.KpiStarted) and str(event.case_id) == call["case_id"]
        ]
        return started or None

    for started in await eventually(timed_on_the_contract):
        assert str(started.calendar_id) == calendar["calendar_id"]
        assert str(started.policy_id) == policy["policy_id"]

    # 5. Reopening restores the 45 minutes; resolving again draws the new total.
    await _ok(
        await cases.post(
            f"/cases/{call['case_id']}/reopen", headers=agent, json={"reason": "Still jams"}
        )
    )
    assert (await balances())[phone_line] == (0, 120)
    await _ok(
        await cases.post(
            f"/cases/{call['case_id']}/activities",
            headers=agent,
            json={
                "kind": "call",
                "subject": "Replaced the tray",
                "duration_minutes": 15,
                "billable": True,
            },
        ),
        201,
    )
    assert (await resolved(call))["billable_minutes"] == 60
    assert (await balances())[phone_line] == (60, 60)
    ledger = await _ok(
        await cases.get(
            f"/contracts/{contract_id}/ledger", params={"line_id": phone_line}, headers=agent
        )
    )
    assert [(e["kind"], e["amount"]) for e in ledger["items"]] == [
        ("drawdown", 45),
        ("restore", -45),
        ("drawdown", 60),
    ]

    # 6. Two more email cases use the line up; the owner is told; the fourth is not entitled.
    for subject in ("VPN access", "Mailbox full"):
        await resolved(await opened("email", subject))
    assert (await balances())[email_line] == (3, 0)
    fourth = await opened("email", "Shared drive")
    assert fourth["entitlement"]["status"] == "not_entitled"
    assert fourth["entitlement"]["reason"] == "exhausted"

    async def owner_told() -> c.NotificationRequested | None:
        return next(
            (
                event
                for _, event in await read_topic(
                    suite.stack.kafka_bootstrap, topics.INTAKE_NOTIFICATIONS
                )
                if isinstance(event, c.NotificationRequested)
                and event.recipient.id == owner_id
                and event.template == "contract.allotment_exhausted"
            ),
            None,
        )

    notice = await eventually(owner_told)
    assert notice.parameters["contract_number"] == contract["number"]
    assert notice.parameters["line_name"] == "Email"

    published = {
        event.type
        for _, event in await read_topic(suite.stack.kafka_bootstrap, topics.CONTRACTS)
        if getattr(event, "contract_id", None) == uuid.UUID(contract_id)
    }
    assert {
        "contract.created",
        "contract.activated",
        "contract.line_drawn_down",
        "contract.line_restored",
        "contract.allotment_exhausted",
    } <= published

    # The report: per line, allotment, used, remaining, cases and minutes drawn.
    report = await _ok(
        await cases.get("/reports/contracts", params={"account_id": account_id}, headers=admin)
    )
    rows = {row["line_id"]: row for row in report["rows"]}
    assert (rows[email_line]["used"], rows[email_line]["remaining"]) == (3, 0)
    assert rows[email_line]["cases_drawn"] == 3
    assert (rows[phone_line]["used"], rows[phone_line]["minutes_drawn"]) == (60, 60)
    assert rows[phone_line]["cases_drawn"] == 1
    csv = await cases.get(
        "/reports/contracts",
        params={"account_id": account_id},
        headers={**admin, "Accept": "text/csv"},
    )
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert contract["number"] in csv.text
