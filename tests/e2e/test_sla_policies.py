"""End to end: an SLA policy written through the API takes effect, through every service as a
process.

A 9–17 weekday calendar and a policy for gold-tier accounts are written in the SLA service;
the policy's first item gives urgent cases a 1 h first response, its last item the rest 8 h.
A gold account's urgent case gets the 1 h first response counted on the calendar; its normal
case the 8 h one. Once the policy is retired, the next gold case falls to the default policy,
and the cases already under the retired policy keep their KPIs.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from sla.domain import Calendar, WorkingInterval, add_working_time, working_time_between

from .conftest import API_KEY, Suite
from .test_walking_skeleton import eventually

pytestmark = pytest.mark.e2e

HOURS = ["09:00-17:00"]
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday")


async def _ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


async def test_a_policy_written_through_the_api_measures_the_cases_it_covers(
    suite: Suite,
) -> None:
    admin = suite.agent()
    tag = uuid.uuid4().hex[:8]
    intake, cases, sla = (suite.http[n] for n in ("intake", "cases", "sla"))

    calendar = await _ok(
        await sla.post(
            "/calendars",
            headers=admin,
            json={
                "name": f"Office hours {tag}",
                "time_zone": "Europe/Vilnius",
                "week": {day: HOURS for day in WEEKDAYS},
            },
        ),
        201,
    )
    policy = await _ok(
        await sla.post(
            "/policies",
            headers=admin,
            json={
                "name": f"Gold {tag}",
                "calendar_id": calendar["calendar_id"],
                "applies_to": {"tiers": [f"gold-{tag}"]},
                "items": [
                    {
                        "name": "urgent",
                        "applies_to": {"priorities": ["urgent"]},
                        "kpis": [
                            {"name": "first_response", "target_seconds": 3600},
                            {
                                "name": "resolution",
                                "target_seconds": 8 * 3600,
                                "warn_at_share": 0.75,
                            },
                        ],
                    },
                    {
                        "name": "the rest",
                        "kpis": [{"name": "first_response", "target_seconds": 8 * 3600}],
                    },
                ],
            },
        ),
        201,
    )
    # Refused: an item list that leaves some of the policy's cases without KPIs.
    refused = await sla.post(
        "/policies",
        headers=admin,
        json={
            "name": f"Broken {tag}",
            "calendar_id": calendar["calendar_id"],
            "items": [
                {
                    "name": "only urgent",
                    "applies_to": {"priorities": ["urgent"]},
                    "kpis": [{"name": "first_response", "target_seconds": 60}],
                }
            ],
        },
    )
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")

    # A request type whose cases are urgent, and a gold account.
    urgent_type = f"outage-{tag}"
    await _ok(
        await cases.post(
            "/request-types",
            headers=admin,
            json={"code": urgent_type, "names": {"en": "Outage"}, "default_priority": "urgent"},
        ),
        201,
    )
    domain = f"{tag}.example"
    before = await _accounts_applied(sla)
    await _ok(
        await intake.post(
            "/accounts",
            headers=admin,
            json={"name": f"Gold {tag}", "domains": [domain], "tier": f"gold-{tag}"},
        ),
        201,
    )

    async def opened(email: str, **extra: Any) -> str:
        body = {"name": "Ann", "email": email, "subject": f"Help {tag}", "body": "x", **extra}

        async def accepted() -> dict[str, Any] | None:
            r = await intake.post(
                "/web-submissions",
                headers={"X-Api-Key": API_KEY, "Idempotency-Key": str(uuid.uuid4())},
                json=body,
            )
            # Intake learns the request type from the catalogue's events.
            return r.json() if r.status_code == 202 else None

        submitted = await eventually(accepted)

        async def case_id() -> str | None:
            r = await cases.get(
                "/cases", params={"contact_id": submitted["contact_id"]}, headers=admin
            )
            items = (await _ok(r))["items"]
            return str(items[0]["case_id"]) if items else None

        return await eventually(case_id)

    async def kpis(case: str, count: int) -> dict[str, dict[str, Any]]:
        async def probe() -> dict[str, dict[str, Any]] | None:
            r = await sla.get(f"/cases/{case}/kpis", headers=admin)
            found = {k["kpi"]: k for k in r.json()} if r.status_code == 200 else {}
            return found if len(found) >= count else None

        return await eventually(probe)

    # SLA learns the account's tier from intake's events before the case comes.
    async def tier_known() -> bool | None:
        return True if await _accounts_applied(sla) > before else None

    await eventually(tier_known)
    office = Calendar.weekly(
        "Europe/Vilnius",
        {day: [WorkingInterval.parse(h) for h in HOURS] for day in range(5)},
    )

    urgent = await opened(f"ann@{domain}", request_type=urgent_type)
    measured = await kpis(urgent, 2)
    first = measured["first_response"]
    assert first["policy_id"] == policy["policy_id"]
    assert first["target_seconds"] == 3600
    started = datetime.fromisoformat(first["started_at"])
    assert datetime.fromisoformat(first["due_at"]) == add_working_time(
        started, timedelta(hours=1), office
    )
    assert measured["resolution"]["target_seconds"] == 8 * 3600

    normal = await opened(f"bob@{domain}")
    measured = await kpis(normal, 1)
    assert set(measured) == {"first_response"}
    assert measured["first_response"]["target_seconds"] == 8 * 3600

    # Its priority is raised: the first response is re-evaluated to the urgent item's 1 h,
    # with the working time already used kept, and the log says why.
    read = await cases.get(f"/cases/{normal}", headers=admin)
    await _ok(read)
    await _ok(
        await cases.patch(
            f"/cases/{normal}",
            headers={**admin, "If-Match": read.headers["ETag"]},
            json={"priority": "urgent"},
        )
    )

    async def re_evaluated() -> dict[str, Any] | None:
        first = (await kpis(normal, 1))["first_response"]
        return first if first["target_seconds"] == 3600 else None

    first = await eventually(re_evaluated)
    last = first["log"][-1]
    assert last["state"] == "re_evaluated" and "urgent" in (last["reason"] or "")
    changed_at = datetime.fromisoformat(last["at"])
    started = datetime.fromisoformat(first["started_at"])
    used = working_time_between(started, changed_at, office)
    assert datetime.fromisoformat(first["due_at"]) == add_working_time(
        changed_at, max(timedelta(hours=1) - used, timedelta(0)), office
    )

    # Retired: the next gold case falls to the default policy; those under it keep theirs.
    retired = await _ok(await sla.post(f"/policies/{policy['policy_id']}/retire", headers=admin))
    assert retired["retired"] is True
    later = await opened(f"cy@{domain}", request_type=urgent_type)
    measured = await kpis(later, 1)
    assert measured["first_response"]["policy_id"] != policy["policy_id"]
    still = await kpis(urgent, 2)
    assert still["first_response"]["policy_id"] == policy["policy_id"]
    assert still["first_response"]["status"] == "in_progress"


async def _accounts_applied(sla: httpx.AsyncClient) -> float:
    """How many account events the SLA service has applied."""
    return await events_applied(sla, "intake.customer.v1")


async def events_applied(client: httpx.AsyncClient, topic: str) -> float:
    """How many events of `topic` a service has applied, from its `/metrics`."""
    text = (await client.get("/metrics")).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("caseflow_events_consumed_total{")
        and f'topic="{topic}"' in line
        and 'outcome="applied"' in line
    )
