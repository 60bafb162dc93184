"""End to end: an SLA story on a moved clock, through every service as a process.

The stack's services read `now` from one clock file, which this story moves forward; nothing
sleeps for a deadline. A gold account's high-priority case is submitted at 16:30 on a Friday
and gets a 1 h first response on a 9–17 calendar, due Monday 09:30. An agent takes it and
answers, which meets the first response. On Monday the case waits for the customer and comes
back; its priority is raised to urgent, and its resolution is re-evaluated to the urgent
target with the working time already used kept. Time is moved to the warning, which the agent
is told of by mail; to the deadline, where the breach escalates the case to the agent's
manager; and an hour on, to the next step of the policy's ladder, the department head. The
cases service records both levels. The case is resolved, reopened, and its resolution goes on.

It has a stack of its own, on a broker of its own: time in a running stack only goes
forward, and on the shared stack the move would make every other test's open case fall due.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from caseflow_devstack import PgServer
from sla.domain import Calendar, WorkingInterval, add_working_time, working_time_between

from .conftest import API_KEY, Suite, running_suite
from .test_case_work import _agent, _ok
from .test_sla_policies import events_applied as _applied
from .test_walking_skeleton import eventually

pytestmark = pytest.mark.e2e

VILNIUS = ZoneInfo("Europe/Vilnius")
OFFICE = Calendar.weekly(
    "Europe/Vilnius", {day: [WorkingInterval.parse("09:00-17:00")] for day in range(5)}
)
HOUR = timedelta(hours=1)


@pytest.fixture(scope="module")
async def clocked(
    tmp_path_factory: pytest.TempPathFactory, pg_server: PgServer
) -> AsyncIterator[Suite]:
    """A stack of this story's own, its services' clock read from a file the story moves."""
    home = tmp_path_factory.mktemp("clocked")
    async with running_suite(home, pg_server, prefix="clocked", clock_file=home / "clock") as s:
        yield s


def _moment(text: str | None) -> datetime:
    assert text is not None
    return datetime.fromisoformat(text)


def _next_friday_half_past_four(after: datetime) -> datetime:
    local = after.astimezone(VILNIUS) + timedelta(minutes=1)
    day = local.date() + timedelta(days=(4 - local.weekday()) % 7)
    friday = datetime.combine(day, time(16, 30), tzinfo=VILNIUS)
    return friday if friday > local else friday + timedelta(days=7)


async def test_a_late_case_warns_its_agent_and_climbs_the_ladder_on_a_moved_clock(
    clocked: Suite,
) -> None:
    suite = clocked
    admin = suite.agent()
    tag = uuid.uuid4().hex[:8]
    intake, cases, routing, sla = (suite.http[n] for n in ("intake", "cases", "routing", "sla"))
    assert suite.stack.mailsink_url is not None
    sink = httpx.AsyncClient(base_url=suite.stack.mailsink_url, timeout=30)

    # The terms: office hours; gold cases answered within 1 h, resolved within 16 h (high) or
    # 4 h (urgent), warned at three quarters; a breach goes to the manager, an hour later to
    # the department head.
    office = await _ok(
        await sla.post(
            "/calendars",
            headers=admin,
            json={
                "name": f"Office {tag}",
                "time_zone": "Europe/Vilnius",
                "week": {
                    day: ["09:00-17:00"]
                    for day in ("monday", "tuesday", "wednesday", "thursday", "friday")
                },
            },
        ),
        201,
    )

    def item(priority: str, resolution_hours: int) -> dict[str, Any]:
        return {
            "name": priority,
            "applies_to": {"priorities": [priority]},
            "kpis": [
                {"name": "first_response", "target_seconds": 3600},
                {
                    "name": "resolution",
                    "target_seconds": resolution_hours * 3600,
                    "warn_at_share": 0.75,
                },
            ],
        }

    policy = await _ok(
        await sla.post(
            "/policies",
            headers=admin,
            json={
                "name": f"Gold ladder {tag}",
                "calendar_id": office["calendar_id"],
                "applies_to": {"tiers": [f"gold-{tag}"]},
                "items": [
                    item("urgent", 4),
                    item("high", 16),
                    {
                        "name": "the rest",
                        "kpis": [{"name": "first_response", "target_seconds": 8 * 3600}],
                    },
                ],
                "escalation": [
                    {"to": "manager"},
                    {"after_seconds": 3600, "to": "department_head"},
                ],
            },
        ),
        201,
    )
    incident, fixed = f"incident-{tag}", f"fixed-{tag}"
    await _ok(
        await cases.post(
            "/request-types",
            headers=admin,
            json={"code": incident, "names": {"en": "Incident"}, "default_priority": "high"},
        ),
        201,
    )
    await _ok(
        await cases.post(
            "/decisions",
            headers=admin,
            json={"code": fixed, "names": {"en": "Fixed"}, "outcome": "accepted"},
        ),
        201,
    )

    # The people: an agent, their manager, and the manager's own manager.
    head, manager, agent_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    mailbox = {
        person: f"{role}.{tag}@desk.example"
        for person, role in ((head, "head"), (manager, "manager"), (agent_id, "agent"))
    }
    agents_before = await _applied(sla, "routing.agent.v1")
    addresses_before = await _applied(intake, "routing.agent.v1")
    for person, name, boss in (
        (head, "Hedda Head", None),
        (manager, "Mona Manager", head),
        (agent_id, "Aldona Agent", manager),
    ):
        await _ok(
            await routing.post(
                "/agents",
                headers=admin,
                json={
                    "agent_id": str(person),
                    "name": f"{name} {tag}",
                    "email": mailbox[person],
                    "manager_id": None if boss is None else str(boss),
                    "capacity": 5,
                    "presence": "available",
                    "languages": ["en"],
                },
            ),
            201,
        )
    accounts_before = await _applied(sla, "intake.customer.v1")
    domain = f"{tag}.example"
    await _ok(
        await intake.post(
            "/accounts",
            headers=admin,
            json={"name": f"Gold {tag}", "domains": [domain], "tier": f"gold-{tag}"},
        ),
        201,
    )

    async def learnt() -> bool | None:
        # SLA knows the managers and the tier; intake the addresses.
        done = (
            await _applied(sla, "routing.agent.v1") >= agents_before + 3
            and await _applied(intake, "routing.agent.v1") >= addresses_before + 3
            and await _applied(sla, "intake.customer.v1") > accounts_before
        )
        return True if done else None

    await eventually(learnt)

    # 1–2. Friday 16:30: the case is submitted; its first response is due Monday 09:30.
    present = suite.stack.shift_clock(timedelta(0))
    friday = suite.stack.move_clock(_next_friday_half_past_four(present))
    accepted = await _ok(
        await intake.post(
            "/web-submissions",
            headers={"X-Api-Key": API_KEY, "Idempotency-Key": str(uuid.uuid4())},
            json={
                "name": "Ann",
                "email": f"ann@{domain}",
                "subject": f"Down {tag}",
                "body": "Nothing works.",
                "request_type": incident,
            },
        ),
        202,
    )

    async def opened() -> str | None:
        r = await cases.get("/cases", params={"contact_id": accepted["contact_id"]}, headers=admin)
        items = (await _ok(r))["items"]
        return str(items[0]["case_id"]) if items else None

    case_id = await eventually(opened)

    async def kpis(predicate: Any = lambda k: True) -> dict[str, dict[str, Any]]:
        async def probe() -> dict[str, dict[str, Any]] | None:
            r = await sla.get(f"/cases/{case_id}/kpis", headers=admin)
            found = {k["kpi"]: k for k in r.json()} if r.status_code == 200 else {}
            return (
                found
                if {"first_response", "resolution"} <= set(found) and predicate(found)
                else None
            )

        return await eventually(probe)

    measured = await kpis()
    first, resolution = measured["first_response"], measured["resolution"]
    assert {first["policy_id"], resolution["policy_id"]} == {policy["policy_id"]}
    assert (first["target_seconds"], first["calendar_id"]) == (3600, office["calendar_id"])
    started = _moment(first["started_at"])
    assert friday <= started < friday + timedelta(minutes=5)
    due = _moment(first["due_at"]).astimezone(VILNIUS)
    assert due == add_working_time(started, HOUR, OFFICE)
    assert (due.weekday(), due.hour, due.minute) == (0, 9, 30)  # Monday 09:30
    assert resolution["target_seconds"] == 16 * 3600

    # 3. The agent takes the case and answers the customer: the first response is met.
    agent = _agent(suite, agent_id)
    await _ok(await cases.post(f"/cases/{case_id}/accept", headers=agent))

    async def assigned() -> bool | None:
        case = await _ok(await cases.get(f"/cases/{case_id}", headers=admin))
        return True if case.get("assignee_id") == str(agent_id) else None

    await eventually(assigned)
    await _ok(
        await cases.post(
            f"/cases/{case_id}/replies",
            headers=agent,
            json={"text": "We are on it.", "duration_minutes": 5, "billable": True},
        ),
        201,
    )
    met = await kpis(lambda k: k["first_response"]["status"] == "succeeded")
    assert met["first_response"]["breached"] is False

    # 4. Monday 10:00 the case waits for the customer; at 11:00 it comes back.
    monday = due.replace(hour=10, minute=0, second=0, microsecond=0)
    suite.stack.move_clock(monday)
    await _ok(await cases.post(f"/cases/{case_id}/wait", headers=agent))
    paused = await kpis(lambda k: k["resolution"]["status"] == "paused")
    paused_at = _moment(paused["resolution"]["paused_at"])
    used = working_time_between(started, paused_at, OFFICE)
    assert abs(paused["resolution"]["consumed_seconds"] - used.total_seconds()) <= 1
    suite.stack.move_clock(monday + HOUR)
    await _ok(await cases.post(f"/cases/{case_id}/resume", headers=agent))
    resumed = (await kpis(lambda k: k["resolution"]["status"] == "in_progress"))["resolution"]
    resumed_at = _moment(resumed["log"][-1]["at"])
    assert resumed["log"][-1]["state"] == "resumed"
    assert _moment(resumed["due_at"]) == add_working_time(
        resumed_at, timedelta(hours=16) - used, OFFICE
    )

    # 5. Its priority is raised: the resolution is re-evaluated to 4 h, the time used kept.
    read = await cases.get(f"/cases/{case_id}", headers=admin)
    await _ok(read)
    await _ok(
        await cases.patch(
            f"/cases/{case_id}",
            headers={**admin, "If-Match": read.headers["ETag"]},
            json={"priority": "urgent"},
        )
    )
    raised = (await kpis(lambda k: k["resolution"]["target_seconds"] == 4 * 3600))["resolution"]
    last = raised["log"][-1]
    assert last["state"] == "re_evaluated" and "urgent" in (last["reason"] or "")
    changed_at = _moment(last["at"])
    kept = used + working_time_between(resumed_at, changed_at, OFFICE)
    assert abs(raised["consumed_seconds"] - kept.total_seconds()) <= 1
    due_at = _moment(raised["due_at"])
    warn_at = _moment(raised["warn_at"])
    assert due_at == add_working_time(changed_at, timedelta(hours=4) - kept, OFFICE)
    assert warn_at == add_working_time(changed_at, timedelta(hours=3) - kept, OFFICE)

    async def mail_to(person: uuid.UUID, subject: str) -> list[dict[str, Any]]:
        async def probe() -> list[dict[str, Any]] | None:
            listing = await _ok(await sink.get("/messages", params={"to": mailbox[person]}))
            found = [m for m in listing["messages"] if subject in m["subject"].lower()]
            return found or None

        return await eventually(probe)

    # 6. At the warning the agent is told; at the deadline the manager, an hour on the head.
    suite.stack.move_clock(warn_at + timedelta(seconds=1))
    warned = await kpis(lambda k: k["resolution"]["status"] == "nearing_breach")
    assert _moment(warned["resolution"]["warned_at"]) == warn_at
    await mail_to(agent_id, "deadline")

    suite.stack.move_clock(due_at + timedelta(seconds=1))
    breached = await kpis(lambda k: k["resolution"]["escalation_level"] == 1)
    assert breached["resolution"]["status"] == "breached"
    assert _moment(breached["resolution"]["breached_at"]) == due_at

    async def escalated(level: int) -> dict[str, Any]:
        async def probe() -> dict[str, Any] | None:
            case = await _ok(await cases.get(f"/cases/{case_id}", headers=admin))
            return case if case["escalation_level"] >= level else None

        return await eventually(probe)

    case = await escalated(1)
    [first_step] = case["escalations"]
    assert (first_step["level"], first_step["target"], first_step["manager_id"]) == (
        1,
        "next_level",
        str(manager),
    )
    assert first_step["escalated_by"] is None
    assert "resolution passed its deadline" in first_step["claim"]
    assert _moment(first_step["escalated_at"]) == due_at
    await mail_to(manager, "escalated")

    suite.stack.move_clock(due_at + HOUR + timedelta(seconds=1))
    case = await escalated(2)
    second_step = case["escalations"][1]
    assert (second_step["level"], second_step["target"], second_step["manager_id"]) == (
        2,
        "department_head",
        str(head),
    )
    await mail_to(head, "escalated")
    # The agent heard of both escalations of their case.
    assert len(await mail_to(agent_id, "escalated")) >= 1

    # 7. Resolved late, then reopened: the resolution goes on with the time it had used.
    await _ok(
        await cases.post(
            f"/cases/{case_id}/decisions",
            headers=agent,
            json={"code": fixed, "text": "Restarted the service"},
        ),
        201,
    )
    await _ok(
        await cases.post(
            f"/cases/{case_id}/resolve",
            headers=agent,
            json={"code": fixed, "text": "Service restarted"},
        )
    )
    ended = (await kpis(lambda k: k["resolution"]["status"] == "succeeded"))["resolution"]
    assert ended["breached"] is True
    suite.stack.shift_clock(HOUR)
    await _ok(
        await cases.post(f"/cases/{case_id}/reopen", headers=agent, json={"reason": "Down again"})
    )
    again = (await kpis(lambda k: k["resolution"]["ended_at"] is None))["resolution"]
    assert again["instance_id"] == ended["instance_id"]
    assert again["status"] == "breached"  # its deadline stays missed
    assert again["log"][-1]["state"] == "resumed"
    assert again["consumed_seconds"] >= ended["consumed_seconds"]
    assert again["escalation_level"] == 2  # both steps climbed: the ladder has no more
    await sink.aclose()
