"""Working a case over HTTP, with a real PostgreSQL; what is published is captured in memory."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from faststream.kafka import TestKafkaBroker
from faststream.kafka.annotations import KafkaMessage
from sqlalchemy import func, select

import caseflow_contracts as c
from caseflow_contracts import topics
from caseflow_servicekit import ServiceApp, ServiceSettings
from caseflow_servicekit.auth import agent_id_of
from caseflow_servicekit.testing import bearer, eventually, publish_event, running
from cases.adapters.tables import metadata
from cases.bootstrap import MIGRATIONS, build

pytestmark = pytest.mark.service

NOW = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)
AGENT_SUBJECT = "ada"
AGENT = agent_id_of(AGENT_SUBJECT)
CONTACT = uuid.UUID(int=7)
ACCOUNT = uuid.UUID(int=8)
MANAGER = uuid.UUID(int=9)
ASSIGNEE = uuid.UUID(int=10)
outbox = metadata.tables["outbox"]


class TickingClock:
    """A second passes with every reading, so what was done first sorts first."""

    def __init__(self) -> None:
        self.ticks = 0

    def now(self) -> datetime:
        self.ticks += 1
        return NOW + timedelta(seconds=self.ticks)


class Desk:
    """The service, an agent's and an admin's headers, and what the service published."""

    def __init__(self, app: ServiceApp, client: httpx.AsyncClient, broker: Any) -> None:
        self.app, self.client, self.broker = app, client, broker
        self.events: list[c.Event] = []
        self.notifications: list[c.NotificationRequested] = []
        self.requests: list[tuple[bytes | None, c.Event]] = []
        self.agent = bearer(app, "agent", subject=AGENT_SUBJECT)
        self.admin = bearer(app, "admin")

    def of_type(self, kind: type[c.Event]) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]

    async def post(self, path: str, body: Any = None, **headers: str) -> httpx.Response:
        return await self.client.post(path, json=body, headers={**self.agent, **headers})

    async def open(self, **overrides: Any) -> dict[str, Any]:
        body = {
            "contact_id": str(CONTACT),
            "account_id": str(ACCOUNT),
            "channel": "phone",
            "subject": "Laptop does not start",
            "description": "Black screen since the update",
            **overrides,
        }
        r = await self.post("/cases", body)
        assert r.status_code == 201, r.text
        created: dict[str, Any] = r.json()
        return created


@pytest.fixture
async def desk(fresh_database: str) -> AsyncIterator[Desk]:
    settings = ServiceSettings(database_url=fresh_database, kafka_bootstrap_servers="test:9092")
    app = build(settings, clock=TickingClock(), configure_process=False)
    holder: list[Desk] = []

    @app.kit.kafka.subscriber(topics.CASES, group_id="probe-cases")
    async def on_case(message: KafkaMessage) -> None:
        holder[0].events.append(c.decode(message.headers["ce_type"], message.body))

    @app.kit.kafka.subscriber(topics.INTAKE_REQUESTS, group_id="probe-requests")
    async def on_request(message: KafkaMessage) -> None:
        record = message.raw_message
        assert not isinstance(record, tuple)  # one message per call, not a batch
        holder[0].requests.append((record.key, c.decode(message.headers["ce_type"], message.body)))

    @app.kit.kafka.subscriber(topics.INTAKE_NOTIFICATIONS, group_id="probe-notifications")
    async def on_notification(message: KafkaMessage) -> None:
        event = c.decode(message.headers["ce_type"], message.body)
        assert isinstance(event, c.NotificationRequested)
        holder[0].notifications.append(event)

    async with (
        TestKafkaBroker(app.kit.kafka) as broker,
        running(app, migrations=MIGRATIONS) as client,
    ):
        d = Desk(app, client, broker)
        holder.append(d)
        await _catalogue(d)
        yield d


async def _catalogue(d: Desk) -> None:
    entries = [
        (
            "/request-types",
            {
                "code": "repair",
                "names": {"en": "Repair"},
                "default_priority": "high",
                "parameters": [
                    {
                        "name": "warranty",
                        "type": "choice",
                        "choices": ["yes", "no"],
                        "required": True,
                    }
                ],
            },
        ),
        ("/decisions", {"code": "repaired", "names": {"en": "Repaired"}, "outcome": "accepted"}),
        (
            "/decisions",
            {
                "code": "refused",
                "names": {"en": "Refused"},
                "outcome": "refused",
                "requires_text": True,
            },
        ),
        ("/decisions", {"code": "old", "names": {"en": "Old"}, "outcome": "other"}),
    ]
    for path, body in entries:
        r = await d.client.post(path, json=body, headers=d.admin)
        assert r.status_code == 201, r.text
    r = await d.client.post("/decisions/old/retire", headers=d.admin)
    assert r.status_code == 200, r.text


async def _published(d: Desk, kind: type[c.Event], n: int = 1) -> list[Any] | None:
    found = d.of_type(kind)
    return found if len(found) >= n else None


async def _told(d: Desk, template: str) -> list[c.NotificationRequested] | None:
    found = [n for n in d.notifications if n.template == template]
    return found or None


def _problem(r: httpx.Response, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = r.json()
    return body


# -- opening and editing ---------------------------------------------------------------


async def test_an_agent_opens_a_case_numbered_published_and_acknowledged(desk: Desk) -> None:
    case = await desk.open(request_type="repair", parameters={"warranty": "yes"}, language="de")
    assert case["number"] == "CAS-2026-000001"
    assert (case["status"], case["priority"], case["version"]) == ("new", "high", 1)
    assert case["allowed"] == ["accept", "resolve", "cancel"]
    [opened] = await eventually(lambda: _published(desk, c.CaseOpened))
    assert (opened.case_id, opened.channel, opened.account_id) == (
        uuid.UUID(case["case_id"]),
        c.Channel.PHONE,
        ACCOUNT,
    )
    [told] = await eventually(lambda: _told(desk, "case.received"))
    assert (told.recipient.kind, told.recipient.id, told.language) == (
        c.RecipientKind.CONTACT,
        CONTACT,
        "de",
    )
    r = await desk.client.get(f"/cases/{case['case_id']}", headers=desk.agent)
    assert r.headers["ETag"] == '"1"'


@pytest.mark.parametrize(
    ("body", "located"),
    [
        ({"request_type": "repair", "parameters": {"warranty": "maybe"}}, "warranty"),
        ({"request_type": "repair", "parameters": {}}, "warranty"),
        ({"request_type": "repair", "parameters": {"warranty": "no", "x": "1"}}, "x"),
    ],
)
async def test_opening_with_answers_that_do_not_fit_is_422_naming_them(
    desk: Desk, body: dict[str, Any], located: str
) -> None:
    r = await desk.post(
        "/cases", {"contact_id": str(CONTACT), "channel": "email", "subject": "S", **body}
    )
    problem = _problem(r, 422)
    assert ["body", "parameters", located] in [e["loc"] for e in problem["errors"]]


@pytest.mark.parametrize(
    "body",
    [
        {"request_type": "nope"},
        {"channel": "fax"},
        {"subject": ""},
        {"contact_id": "not-a-uuid"},
        {"priority": "whenever"},
    ],
)
async def test_opening_with_bad_input_is_422(desk: Desk, body: dict[str, Any]) -> None:
    base = {"contact_id": str(CONTACT), "channel": "email", "subject": "S"}
    _problem(await desk.post("/cases", {**base, **body}), 422)


# -- a customer not on file -------------------------------------------------------------


def _for_new_customer(**overrides: Any) -> dict[str, Any]:
    return {
        "customer": {"name": "Jan Novák", "email": "Jan.Novak@Example.cz", "phone": "+420 601"},
        "channel": "phone",
        "subject": "Washing machine leaks",
        "description": "Water under the machine after every wash.",
        "request_type": "repair",
        "parameters": {"warranty": "no"},
        "language": "cs",
        **overrides,
    }


async def _requests_in_outbox(d: Desk) -> int:
    async with d.app.kit.engine.connect() as conn:
        found = await conn.scalar(
            select(func.count()).select_from(outbox).where(outbox.c.topic == topics.INTAKE_REQUESTS)
        )
    return int(found or 0)


async def _requested(d: Desk) -> list[tuple[bytes | None, c.Event]] | None:
    return list(d.requests) or None


async def test_a_new_customers_case_is_asked_of_intake_and_answered_202(desk: Desk) -> None:
    r = await desk.post("/cases", _for_new_customer())
    assert r.status_code == 202, r.text
    answer = r.json()
    assert answer["status"] == "identifying"
    assert r.headers["Location"] == f"/cases?interaction_id={answer['interaction_id']}"
    [(key, request)] = await eventually(lambda: _requested(desk))
    assert isinstance(request, c.InteractionRequested)
    assert key == answer["interaction_id"].encode()
    assert str(request.interaction_id) == answer["interaction_id"]
    assert (request.name, request.email, request.phone) == (
        "Jan Novák",
        "Jan.Novak@example.cz",
        "+420 601",
    )
    assert (request.channel, request.request_type, request.parameters, request.language) == (
        c.Channel.PHONE,
        "repair",
        {"warranty": "no"},
        "cs",
    )
    assert (request.subject, request.body, request.requested_by) == (
        "Washing machine leaks",
        "Water under the machine after every wash.",
        AGENT,
    )
    # No case yet: it opens from the interaction intake receives.
    found = await desk.client.get(
        "/cases", params={"interaction_id": answer["interaction_id"]}, headers=desk.agent
    )
    assert found.json()["items"] == []
    assert desk.of_type(c.CaseOpened) == []


async def test_a_new_customer_known_by_phone_alone_without_a_request_type(desk: Desk) -> None:
    body = _for_new_customer(customer={"name": "Walk-in", "phone": "601 234 567"})
    del body["request_type"], body["parameters"]
    r = await desk.post("/cases", body)
    assert r.status_code == 202, r.text
    [(_, request)] = await eventually(lambda: _requested(desk))
    assert isinstance(request, c.InteractionRequested)
    assert (request.email, request.phone, request.request_type) == (None, "601 234 567", None)


@pytest.mark.parametrize(
    ("body", "located"),
    [
        ({"parameters": {"warranty": "maybe"}}, ["body", "parameters", "warranty"]),
        ({"parameters": {}}, ["body", "parameters", "warranty"]),
        ({"parameters": {"warranty": "no", "x": "1"}}, ["body", "parameters", "x"]),
        ({"customer": {"name": "Jan", "phone": "no digits"}}, ["body", "customer", "phone"]),
    ],
)
async def test_a_new_customers_request_is_checked_first_and_nothing_is_asked(
    desk: Desk, body: dict[str, Any], located: list[str]
) -> None:
    problem = _problem(await desk.post("/cases", _for_new_customer(**body)), 422)
    assert located in [e["loc"] for e in problem["errors"]]
    assert await _requests_in_outbox(desk) == 0


@pytest.mark.parametrize(
    "body",
    [
        {"request_type": "nope"},
        {"request_type": None, "parameters": {"warranty": "no"}},
        {"customer": {"name": "Jan"}},
        {"customer": {"name": " ", "email": "jan@example.cz"}},
        {"customer": {"name": "Jan", "email": "not-an-address"}},
        {"customer": {"name": "Jan", "email": "jan@example.cz", "contact_id": str(CONTACT)}},
        {"contact_id": str(CONTACT)},
        {"customer": None},
        {"account_id": str(ACCOUNT)},
        {"priority": "urgent"},
    ],
)
async def test_a_new_customers_case_with_bad_input_is_422_and_nothing_is_asked(
    desk: Desk, body: dict[str, Any]
) -> None:
    _problem(await desk.post("/cases", _for_new_customer(**body)), 422)
    assert await _requests_in_outbox(desk) == 0


async def test_a_request_type_no_longer_offered_is_refused_for_a_new_customer(
    desk: Desk,
) -> None:
    r = await desk.client.put(
        "/request-types/repair",
        json={"names": {"en": "Repair"}, "active": False},
        headers=desk.admin,
    )
    assert r.status_code == 200, r.text
    problem = _problem(await desk.post("/cases", _for_new_customer(parameters={})), 422)
    assert "no longer offered" in problem["detail"]
    assert await _requests_in_outbox(desk) == 0


async def test_the_case_an_interaction_opened_is_found_by_its_id(desk: Desk) -> None:
    interaction_id = uuid.uuid4()
    received = c.InteractionReceived(
        interaction_id=interaction_id,
        occurred_at=NOW,
        channel=c.Channel.PHONE,
        contact_id=CONTACT,
        subject="Washing machine leaks",
        body="Water everywhere",
        first_contact=True,
    )
    await publish_event(desk.broker, received, topic=topics.INTAKE_INTERACTIONS)
    await desk.open(subject="Another case")

    async def found() -> list[dict[str, Any]] | None:
        r = await desk.client.get(
            "/cases", params={"interaction_id": str(interaction_id)}, headers=desk.agent
        )
        assert r.status_code == 200, r.text
        items: list[dict[str, Any]] = r.json()["items"]
        return items or None

    [case] = await eventually(found)
    assert (case["subject"], case["contact_id"], case["first_contact"]) == (
        "Washing machine leaks",
        str(CONTACT),
        True,
    )
    r = await desk.client.get(
        "/cases", params={"interaction_id": str(uuid.uuid4())}, headers=desk.agent
    )
    assert (r.json()["items"], r.json()["total"]) == ([], 0)


async def test_patch_needs_if_match_and_refuses_a_stale_one(desk: Desk) -> None:
    case = await desk.open()
    path = f"/cases/{case['case_id']}"
    missing = await desk.client.patch(path, json={"subject": "New"}, headers=desk.agent)
    _problem(missing, 428)
    ok = await desk.client.patch(
        path,
        json={"subject": "New", "priority": "urgent"},
        headers={**desk.agent, "If-Match": '"1"'},
    )
    assert ok.status_code == 200, ok.text
    assert ok.headers["ETag"] == '"2"'
    assert (ok.json()["subject"], ok.json()["priority"]) == ("New", "urgent")
    stale = await desk.client.patch(
        path, json={"subject": "Newer"}, headers={**desk.agent, "If-Match": '"1"'}
    )
    _problem(stale, 412)
    [updated] = await eventually(lambda: _published(desk, c.CaseUpdated))
    assert updated.subject == "New" and updated.priority is c.Priority.URGENT
    bad = await desk.client.patch(
        path,
        json={"request_type": "repair", "parameters": {"warranty": "sometimes"}},
        headers={**desk.agent, "If-Match": '"2"'},
    )
    assert ["body", "parameters", "warranty"] in [e["loc"] for e in _problem(bad, 422)["errors"]]


# -- the lifecycle ---------------------------------------------------------------------


async def test_a_case_is_worked_from_acceptance_to_a_corrected_resolution(desk: Desk) -> None:
    case = await desk.open(channel="email")
    base = f"/cases/{case['case_id']}"
    accepted = await desk.post(f"{base}/accept")
    assert accepted.status_code == 200, accepted.text
    assert (accepted.json()["status"], accepted.json()["accepted_by"]) == (
        "in_progress",
        str(AGENT),
    )
    [changed] = await eventually(lambda: _published(desk, c.CaseStatusChanged))
    assert (changed.to_status, changed.by) == (c.CaseStatus.IN_PROGRESS, AGENT)
    for step, status in (
        ("hold", "on_hold"),
        ("wait", "waiting_for_customer"),
        ("resume", "in_progress"),
    ):
        r = await desk.post(f"{base}/{step}", {"reason": f"{step} now"})
        assert (r.status_code, r.json()["status"]) == (200, status), r.text

    call = await desk.post(
        f"{base}/activities",
        {"kind": "call", "subject": "Diagnosed", "duration_minutes": 20, "billable": True},
    )
    assert call.status_code == 201, call.text
    assert call.json()["performed_by"] == str(AGENT)
    note = await desk.post(
        f"{base}/activities", {"kind": "note", "subject": "Board fault", "duration_minutes": 5}
    )
    assert note.status_code == 201 and note.json()["to_customer"] is False
    reply = await desk.post(
        f"{base}/replies", {"text": "We repair it.", "duration_minutes": 10, "billable": True}
    )
    assert reply.status_code == 201, reply.text
    assert (reply.json()["kind"], reply.json()["to_customer"]) == ("email", True)
    listed = await desk.client.get(f"{base}/activities", headers=desk.agent)
    assert [a["kind"] for a in listed.json()] == ["call", "note", "email"]

    decided = await desk.post(f"{base}/decisions", {"code": "refused", "text": "Not covered"})
    assert decided.status_code == 201, decided.text
    decisions = await desk.client.get(f"{base}/decisions", headers=desk.agent)
    assert [(d["code"], d["recorded_by"]) for d in decisions.json()] == [("refused", str(AGENT))]

    no_reason = await desk.post(
        f"{base}/resolve", {"code": "repaired", "text": "Fixed", "billable_minutes": 15}
    )
    _problem(no_reason, 422)
    resolved = await desk.post(
        f"{base}/resolve",
        {
            "code": "repaired",
            "text": "Fixed",
            "billable_minutes": 15,
            "correction_reason": "The call ran long on our side",
        },
    )
    assert resolved.status_code == 200, resolved.text
    body = resolved.json()
    assert body["status"] == "resolved" and body["allowed"] == ["reopen"]
    assert body["resolution"]["billable_minutes"] == 15
    assert body["resolution"]["total_minutes"] == 35
    assert body["resolution"]["logged_billable_minutes"] == 30
    assert (body["billable_minutes"], body["total_minutes"], body["call_minutes"]) == (15, 35, 20)
    assert body["resolved_at"] is not None and body["closed_at"] is not None

    [published] = await eventually(lambda: _published(desk, c.CaseResolved))
    assert (published.billable_minutes, published.total_minutes) == (15, 35)
    assert (published.logged_billable_minutes, published.correction_reason) == (
        30,
        "The call ran long on our side",
    )
    assert published.decision_code == "repaired"
    logged = await eventually(lambda: _published(desk, c.ActivityLogged, 3))
    assert [a.to_customer for a in logged] == [False, False, True]
    [recorded] = await eventually(lambda: _published(desk, c.DecisionRecorded))
    assert (recorded.decision_code, recorded.outcome) == ("refused", c.DecisionOutcome.REFUSED)

    await eventually(lambda: _told(desk, "case.resolved"))
    [answer] = await eventually(lambda: _told(desk, "case.reply"))
    assert answer.parameters == {
        "number": case["number"],
        "subject": case["subject"],
        "text": "We repair it.",
    }
    assert answer.language == "en" and answer.case_id == uuid.UUID(case["case_id"])
    assert await eventually(lambda: _told(desk, "case.accepted"))

    # Resolved: only reopening is allowed, and a reopened case is worked and resolved again.
    refused = _problem(await desk.post(f"{base}/hold"), 409)
    assert (refused["case_status"], refused["allowed"]) == ("resolved", ["reopen"])
    closed = _problem(
        await desk.post(f"{base}/activities", {"kind": "task", "subject": "Late"}), 409
    )
    assert closed["allowed"] == ["reopen"]
    reopened = await desk.post(f"{base}/reopen", {"reason": "Fan is noisy"})
    assert reopened.status_code == 200, reopened.text
    assert reopened.json()["reopened_at"] is not None and reopened.json()["resolution"] is None
    await desk.post(
        f"{base}/activities",
        {"kind": "task", "subject": "Fan", "duration_minutes": 15, "billable": True},
    )
    again = await desk.post(f"{base}/resolve", {"code": "repaired", "text": "Fan replaced"})
    assert again.json()["resolution"]["billable_minutes"] == 45


async def test_a_new_case_cannot_be_put_on_hold_and_409_names_the_steps(desk: Desk) -> None:
    case = await desk.open()
    problem = _problem(await desk.post(f"/cases/{case['case_id']}/resume"), 409)
    assert (problem["case_status"], problem["allowed"]) == ("new", ["accept", "resolve", "cancel"])
    assert problem["status"] == 409


@pytest.mark.parametrize("minutes", [-1, 1441, 100_000])
async def test_a_duration_outside_a_day_is_422(desk: Desk, minutes: int) -> None:
    case = await desk.open()
    r = await desk.post(
        f"/cases/{case['case_id']}/activities",
        {"kind": "call", "subject": "Call", "duration_minutes": minutes},
    )
    _problem(r, 422)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("decisions", {"code": "nope", "text": "x"}),
        ("decisions", {"code": "old", "text": "x"}),
        ("decisions", {"code": "refused"}),
        ("resolve", {"code": "nope", "text": "x"}),
        ("resolve", {"code": "old", "text": "x"}),
        ("resolve", {"code": "refused", "text": " "}),
    ],
)
async def test_unknown_retired_or_unexplained_decisions_are_422(
    desk: Desk, path: str, body: dict[str, Any]
) -> None:
    case = await desk.open()
    _problem(await desk.post(f"/cases/{case['case_id']}/{path}", body), 422)


async def test_cancel_tells_the_customer_and_unknown_cases_are_404(desk: Desk) -> None:
    case = await desk.open()
    r = await desk.post(f"/cases/{case['case_id']}/cancel", {"reason": "Withdrawn"})
    assert (r.status_code, r.json()["status"]) == (200, "cancelled")
    [cancelled] = await eventually(lambda: _published(desk, c.CaseCancelled))
    assert cancelled.reason == "Withdrawn"
    [told] = await eventually(lambda: _told(desk, "case.cancelled"))
    assert told.parameters["reason"] == "Withdrawn"
    _problem(await desk.post(f"/cases/{uuid.uuid4()}/accept"), 404)


async def test_an_escalation_is_stored_published_and_the_manager_told(desk: Desk) -> None:
    case = await desk.open()
    r = await desk.post(
        f"/cases/{case['case_id']}/escalate",
        {"target": "department_head", "claim": "Wants a refund", "manager_id": str(MANAGER)},
    )
    assert r.status_code == 201, r.text
    assert (r.json()["level"], r.json()["manager_id"]) == (1, str(MANAGER))
    [escalated] = await eventually(lambda: _published(desk, c.CaseEscalated))
    assert (escalated.escalated_to, escalated.target, escalated.escalated_by) == (
        MANAGER,
        c.EscalationTarget.DEPARTMENT_HEAD,
        AGENT,
    )
    [told] = await eventually(lambda: _told(desk, "case.escalated"))
    assert (told.recipient.kind, told.recipient.id) == (c.RecipientKind.MANAGER, MANAGER)
    shown = (await desk.client.get(f"/cases/{case['case_id']}", headers=desk.agent)).json()
    assert [e["claim"] for e in shown["escalations"]] == ["Wants a refund"]
    _problem(
        await desk.post(
            f"/cases/{case['case_id']}/escalate", {"target": "next_level", "claim": "x"}
        ),
        422,
    )


async def test_an_escalation_tells_the_assignee_too_unless_they_raised_it(desk: Desk) -> None:
    case = await desk.open()
    case_id = uuid.UUID(case["case_id"])
    assigned = c.CaseAssigned(
        case_id=case_id,
        queue_item_id=uuid.uuid4(),
        occurred_at=NOW + timedelta(minutes=1),
        queue_id=uuid.uuid4(),
        agent_id=ASSIGNEE,
        strategy="manual",
    )
    await publish_event(desk.broker, assigned, topic=topics.ROUTING)

    async def assignee_known() -> bool | None:
        r = await desk.client.get(f"/cases/{case_id}", headers=desk.agent)
        return True if r.json()["assignee_id"] == str(ASSIGNEE) else None

    await eventually(assignee_known)
    r = await desk.post(
        f"/cases/{case_id}/escalate",
        {"target": "next_level", "claim": "Third call this week", "manager_id": str(MANAGER)},
    )
    assert r.status_code == 201, r.text

    async def both_told() -> list[c.NotificationRequested] | None:
        found = [n for n in desk.notifications if n.template == "case.escalated"]
        return found if len(found) == 2 else None

    told = await eventually(both_told)
    assert {(n.recipient.kind, n.recipient.id) for n in told} == {
        (c.RecipientKind.MANAGER, MANAGER),
        (c.RecipientKind.AGENT, ASSIGNEE),
    }
    [to_assignee] = [n for n in told if n.recipient.kind is c.RecipientKind.AGENT]
    assert (to_assignee.case_id, to_assignee.parameters["claim"]) == (
        case_id,
        "Third call this week",
    )

    # The assignee raising it again is not told of their own escalation.
    assignee = bearer(desk.app, "agent", subject="assignee")
    assignee_id = agent_id_of("assignee")
    reassigned = assigned.model_copy(
        update={"agent_id": assignee_id, "occurred_at": NOW + timedelta(minutes=2)}
    )
    await publish_event(desk.broker, reassigned, topic=topics.ROUTING)

    async def reassigned_known() -> bool | None:
        r = await desk.client.get(f"/cases/{case_id}", headers=desk.agent)
        return True if r.json()["assignee_id"] == str(assignee_id) else None

    await eventually(reassigned_known)
    r = await desk.client.post(
        f"/cases/{case_id}/escalate",
        json={"target": "next_level", "claim": "Still broken", "manager_id": str(MANAGER)},
        headers=assignee,
    )
    assert r.status_code == 201, r.text

    async def told_again() -> list[c.NotificationRequested] | None:
        found = [n for n in desk.notifications if n.parameters.get("claim") == "Still broken"]
        return found or None

    [again] = await eventually(told_again)
    assert (again.recipient.kind, again.recipient.id) == (c.RecipientKind.MANAGER, MANAGER)


async def test_working_needs_the_agent_role(desk: Desk) -> None:
    case = await desk.open()
    r = await desk.client.post(f"/cases/{case['case_id']}/accept")
    _problem(r, 401)


# -- a case from intake ----------------------------------------------------------------


async def test_a_case_from_intake_keeps_language_and_first_contact_even_off_catalogue(
    desk: Desk,
) -> None:
    interaction = c.sample("interaction.received").model_copy(
        update={
            "interaction_id": uuid.uuid4(),
            "follow_up_of": None,
            "occurred_at": NOW,
            "language": "fr",
            "first_contact": True,
            "request_type": "repair",
            "parameters": {"warranty": "perhaps"},
        }
    )
    await publish_event(desk.broker, interaction, topic=topics.INTAKE_INTERACTIONS)
    [opened] = await eventually(lambda: _published(desk, c.CaseOpened))
    shown = (await desk.client.get(f"/cases/{opened.case_id}", headers=desk.agent)).json()
    assert (shown["language"], shown["first_contact"]) == ("fr", True)
    assert shown["parameters"] == {"warranty": "perhaps"}
    [told] = await eventually(lambda: _told(desk, "case.received"))
    assert told.language == "fr"


# -- the list --------------------------------------------------------------------------


async def test_the_list_filters_searches_and_pages_with_a_cursor(desk: Desk) -> None:
    for n in range(5):
        await desk.open(
            subject=f"Printer {n}" if n % 2 else f"Laptop {n}",
            channel="email" if n < 3 else "visit",
        )
    listed = await desk.client.get("/cases", params={"limit": 2}, headers=desk.agent)
    page = listed.json()
    assert (page["total"], len(page["items"])) == (5, 2)
    seen = [i["case_id"] for i in page["items"]]
    while page["next_cursor"]:
        page = (
            await desk.client.get(
                "/cases", params={"limit": 2, "cursor": page["next_cursor"]}, headers=desk.agent
            )
        ).json()
        seen += [i["case_id"] for i in page["items"]]
    assert len(set(seen)) == 5

    async def count(**params: Any) -> int:
        r = await desk.client.get("/cases", params=params, headers=desk.agent)
        assert r.status_code == 200, r.text
        total: int = r.json()["total"]
        return total

    assert await count(q="printer") == 2
    assert await count(channel="visit") == 2
    assert await count(channel="visit", q="PRINTER") == 1
    assert await count(account_id=str(ACCOUNT), status="new", priority="normal") == 5
    assert await count(overdue="true") == 0
    assert await count(first_contact="false") == 5
    assert await count(opened_from="2026-05-04T10:00:00Z", opened_to="2026-05-04T11:00:00Z") == 5
    assert await count(opened_from="2026-05-04T11:00:00Z") == 0
    assert await count(q="%") == 0
    oldest = await desk.client.get(
        "/cases", params={"sort": "opened_at", "limit": 1}, headers=desk.agent
    )
    assert oldest.json()["items"][0]["number"] == "CAS-2026-000001"
    _problem(await desk.client.get("/cases", params={"cursor": "garbage"}, headers=desk.agent), 422)
    _problem(await desk.client.get("/cases", params={"limit": 501}, headers=desk.agent), 422)


# -- attachments -----------------------------------------------------------------------

FIX_PDF = {
    "attachment_id": str(uuid.UUID(int=601)),
    "filename": "fix-instructions.pdf",
    "content_type": "application/pdf",
    "size": 48_213,
    "sha256": "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae",
}
EMPTY_TXT = {
    "attachment_id": str(uuid.UUID(int=602)),
    "filename": "empty.txt",
    "content_type": "text/plain",
    "size": 0,
    "sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
}


async def test_a_reply_with_attachments_sends_them_to_the_customer(desk: Desk) -> None:
    case = await desk.open(channel="email")
    base = f"/cases/{case['case_id']}"
    reply = await desk.post(
        f"{base}/replies", {"text": "The fix is attached.", "attachments": [FIX_PDF, EMPTY_TXT]}
    )
    assert reply.status_code == 201, reply.text
    assert reply.json()["attachments"] == [FIX_PDF, EMPTY_TXT]
    note = await desk.post(
        f"{base}/activities",
        {"kind": "note", "subject": "Sent the manual", "attachments": [FIX_PDF]},
    )
    assert note.status_code == 201, note.text
    assert note.json()["attachments"] == [FIX_PDF]
    plain = await desk.post(f"{base}/replies", {"text": "And no file this time."})
    assert plain.json()["attachments"] == []

    logged = await eventually(lambda: _published(desk, c.ActivityLogged, 3))
    assert [[a.model_dump(mode="json") for a in e.attachments] for e in logged] == [
        [FIX_PDF, EMPTY_TXT],
        [FIX_PDF],
        [],
    ]
    assert [e.to_customer for e in logged] == [True, False, True]
    answers = await eventually(lambda: _told_n(desk, "case.reply", 2))
    first, second = answers
    assert [a.model_dump(mode="json") for a in first.attachments] == [FIX_PDF, EMPTY_TXT]
    assert first.parameters == {
        "number": case["number"],
        "subject": case["subject"],
        "text": "The fix is attached.",
    }
    assert second.attachments == []
    shown = await desk.client.get(base, headers=desk.agent)
    assert [a["attachments"] for a in shown.json()["activities"]] == [
        [FIX_PDF, EMPTY_TXT],
        [FIX_PDF],
        [],
    ]


async def _told_n(d: Desk, template: str, n: int) -> list[c.NotificationRequested] | None:
    found = [x for x in d.notifications if x.template == template]
    return found if len(found) >= n else None


@pytest.mark.parametrize(
    "attachment",
    [
        {**FIX_PDF, "attachment_id": "not-a-uuid"},
        {**FIX_PDF, "filename": ""},
        {**FIX_PDF, "filename": "x" * 256},
        {**FIX_PDF, "content_type": ""},
        {**FIX_PDF, "size": -1},
        {**FIX_PDF, "sha256": FIX_PDF["sha256"].upper()},
        {**FIX_PDF, "sha256": "abc123"},
        {**FIX_PDF, "url": "https://example.com/f.pdf"},
        {key: value for key, value in FIX_PDF.items() if key != "sha256"},
        "fix-instructions.pdf",
    ],
)
@pytest.mark.parametrize("path", ["replies", "activities"])
async def test_an_attachment_of_the_wrong_shape_is_422(
    desk: Desk, path: str, attachment: Any
) -> None:
    case = await desk.open(channel="email")
    body = {"text": "See attached"} if path == "replies" else {"kind": "note", "subject": "S"}
    r = await desk.post(f"/cases/{case['case_id']}/{path}", {**body, "attachments": [attachment]})
    problem = _problem(r, 422)
    assert all(e["loc"][:3] == ["body", "attachments", 0] for e in problem["errors"])
    listed = await desk.client.get(f"/cases/{case['case_id']}/activities", headers=desk.agent)
    assert listed.json() == []


async def test_at_most_fifty_attachments_go_with_one_reply(desk: Desk) -> None:
    case = await desk.open(channel="email")
    many = [{**FIX_PDF, "attachment_id": str(uuid.uuid4())} for _ in range(51)]
    r = await desk.post(f"/cases/{case['case_id']}/replies", {"text": "Hi", "attachments": many})
    assert ["body", "attachments"] in [e["loc"] for e in _problem(r, 422)["errors"]]
    r = await desk.post(
        f"/cases/{case['case_id']}/replies", {"text": "Hi", "attachments": many[:50]}
    )
    assert r.status_code == 201, r.text
    assert len(r.json()["attachments"]) == 50
