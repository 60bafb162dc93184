"""The customer card over HTTP with a real PostgreSQL: accounts, contacts, search, merging,
erasing and the history, its events on intake.customer.v1 (TestKafkaBroker)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from faststream.kafka import KafkaBroker, TestKafkaBroker
from faststream.kafka.annotations import KafkaMessage
from sqlalchemy import func, select

import caseflow_contracts as c
from caseflow_contracts import topics
from caseflow_servicekit import ServiceApp
from caseflow_servicekit.testing import bearer, eventually, publish_event, running
from intake.adapters.tables import interactions, metadata
from intake.bootstrap import MIGRATIONS, build
from intake.settings import IntakeSettings

pytestmark = pytest.mark.service

NOW = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)
WEB_KEY = "web-form-key-123"
CHANNEL = {"X-Api-Key": WEB_KEY}
PROBLEM_JSON = "application/problem+json"
outbox_table = metadata.tables["outbox"]


class MovingClock:
    """Each reading a second after the last, so that what happens later is later."""

    def __init__(self) -> None:
        self._now = NOW

    def now(self) -> datetime:
        self._now += timedelta(seconds=1)
        return self._now


@dataclass
class Desk:
    app: ServiceApp
    client: httpx.AsyncClient
    broker: KafkaBroker
    events: list[tuple[c.Event, bytes | None]] = field(default_factory=list)

    @property
    def agent(self) -> dict[str, str]:
        return bearer(self.app, "agent")

    @property
    def supervisor(self) -> dict[str, str]:
        return bearer(self.app, "supervisor")

    async def count(self, table: Any) -> int:
        async with self.app.kit.engine.connect() as conn:
            return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())

    async def customer_events(self) -> list[c.Event]:
        """What was published on intake.customer.v1 once the outbox has drained."""

        async def drained() -> bool | None:
            unrelayed = outbox_table.select().where(outbox_table.c.relayed_at.is_(None))
            return True if await self.count(unrelayed.subquery()) == 0 else None

        await eventually(drained)
        return [event for event, _ in self.events]

    async def ok(self, response: httpx.Response, status: int = 200) -> Any:
        assert response.status_code == status, response.text
        return response.json()

    async def problem(self, response: httpx.Response, status: int) -> dict[str, Any]:
        assert response.status_code == status, response.text
        assert response.headers["content-type"] == PROBLEM_JSON
        body: dict[str, Any] = response.json()
        assert body["status"] == status
        return body

    async def account(self, **body: Any) -> dict[str, Any]:
        r = await self.client.post("/accounts", json={"name": "Acme", **body}, headers=self.agent)
        result: dict[str, Any] = await self.ok(r, 201)
        return result

    async def contact(self, **body: Any) -> dict[str, Any]:
        r = await self.client.post("/contacts", json={"name": "Jo Doe", **body}, headers=self.agent)
        result: dict[str, Any] = await self.ok(r, 201)
        return result

    async def submit(self, **overrides: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "name": "Marta Kowalska",
            "email": "marta@acme.example",
            "subject": "Printer jams",
            "body": "It jams on every page.",
        }
        body.update(overrides)
        r = await self.client.post("/web-submissions", json=body, headers=self.agent)
        result: dict[str, Any] = await self.ok(r, 202)
        return result


@pytest.fixture
async def desk(fresh_database: str) -> AsyncIterator[Desk]:
    settings = IntakeSettings(
        database_url=fresh_database,
        kafka_bootstrap_servers="test:9092",
        channel_api_keys=f"web:{WEB_KEY}",
    )
    app = build(settings, clock=MovingClock(), configure_process=False)
    events: list[tuple[c.Event, bytes | None]] = []

    @app.kit.kafka.subscriber(topics.INTAKE_CUSTOMERS, group_id="probe")
    async def probe(message: KafkaMessage) -> None:
        record = message.raw_message
        assert not isinstance(record, tuple)
        events.append((c.decode(dict(message.headers)["ce_type"], message.body), record.key))

    async with (
        TestKafkaBroker(app.kit.kafka) as broker,
        running(app, migrations=MIGRATIONS) as client,
    ):
        yield Desk(app, client, broker, events)


# -- accounts ---------------------------------------------------------------------------------


async def test_an_account_card_is_filed_read_and_changed_with_its_version(desk: Desk) -> None:
    owner = str(uuid.uuid4())
    r = await desk.client.post(
        "/accounts",
        json={
            "name": "Müller & Söhne GmbH",
            "domains": ["MUELLER.example"],
            "region": "DACH",
            "industry": "Machinery",
            "tier": "Gold",
            "owner_id": owner,
            "notes": "Pays late, orders a lot.",
        },
        headers=desk.agent,
    )
    created = await desk.ok(r, 201)
    account_id = created["account_id"]
    assert r.headers["ETag"] == '"1"'
    assert r.headers["Location"] == f"/accounts/{account_id}"
    assert (created["tier"], created["domains"], created["owner_id"]) == (
        "gold",
        ["mueller.example"],
        owner,
    )
    got = await desk.client.get(f"/accounts/{account_id}", headers=desk.agent)
    assert (await desk.ok(got))["open_cases"] == 0
    assert got.headers["ETag"] == '"1"'

    hold = {"credit_hold": True, "credit_hold_reason": "Invoices unpaid since March"}
    r = await desk.client.patch(
        f"/accounts/{account_id}", json=hold, headers={**desk.agent, "If-Match": '"1"'}
    )
    changed = await desk.ok(r)
    assert r.headers["ETag"] == '"2"'
    assert (changed["credit_hold"], changed["credit_hold_reason"], changed["version"]) == (
        True,
        "Invoices unpaid since March",
        2,
    )
    assert (changed["name"], changed["tier"]) == ("Müller & Söhne GmbH", "gold")  # kept
    stale = await desk.client.patch(
        f"/accounts/{account_id}",
        json={"tier": "silver"},
        headers={**desk.agent, "If-Match": '"1"'},
    )
    await desk.problem(stale, 412)
    # Without If-Match the change is made on whatever is current.
    cleared = await desk.ok(
        await desk.client.patch(
            f"/accounts/{account_id}", json={"region": None}, headers=desk.agent
        )
    )
    assert (cleared["region"], cleared["version"]) == (None, 3)
    # A change that changes nothing is no change.
    same = await desk.client.patch(
        f"/accounts/{account_id}", json={"tier": "GOLD"}, headers=desk.agent
    )
    assert same.headers["ETag"] == '"3"'

    events = await desk.customer_events()
    assert [(type(e).__name__, getattr(e, "version", None)) for e in events] == [
        ("AccountRegistered", 1),
        ("AccountChanged", 2),
        ("AccountChanged", 3),
    ]
    registered = events[0]
    assert isinstance(registered, c.AccountRegistered)
    assert (registered.tier, registered.domains, str(registered.owner_id)) == (
        "gold",
        ["mueller.example"],
        owner,
    )
    assert [key for _, key in desk.events] == [account_id.encode()] * 3


async def test_a_domain_another_account_claims_is_a_409(desk: Desk) -> None:
    await desk.account(domains=["acme.example"])
    other = await desk.account(name="Other", domains=["other.example"])
    taken = await desk.client.post(
        "/accounts", json={"name": "Copycat", "domains": ["ACME.example"]}, headers=desk.agent
    )
    assert "acme.example" in (await desk.problem(taken, 409))["detail"]
    moved = await desk.client.patch(
        f"/accounts/{other['account_id']}",
        json={"domains": ["other.example", "acme.example"]},
        headers=desk.agent,
    )
    await desk.problem(moved, 409)
    kept = await desk.ok(
        await desk.client.get(f"/accounts/{other['account_id']}", headers=desk.agent)
    )
    assert (kept["domains"], kept["version"]) == (["other.example"], 1)
    # Giving one up lets another account claim it.
    await desk.ok(
        await desk.client.patch(
            f"/accounts/{other['account_id']}", json={"domains": []}, headers=desk.agent
        )
    )
    await desk.account(name="Newcomer", domains=["other.example"])


async def test_accounts_are_found_by_name_without_accents_or_case_region_tier_domain(
    desk: Desk,
) -> None:
    muller = await desk.account(name="Müller & Söhne", region="DACH", tier="gold")
    await desk.account(name="Mullard Ltd", region="UK", tier="silver", domains=["mullard.example"])
    await desk.account(name="Zeta AG", region="DACH")

    async def names(**params: Any) -> list[str]:
        page = await desk.ok(await desk.client.get("/accounts", params=params, headers=desk.agent))
        return [a["name"] for a in page["items"]]

    assert await names(name="MULLER") == ["Müller & Söhne"]
    assert await names(name="söhne") == ["Müller & Söhne"]
    assert sorted(await names(name="mul")) == ["Mullard Ltd", "Müller & Söhne"]
    assert await names(region="DACH", tier="GOLD") == ["Müller & Söhne"]
    assert await names(domain="Mullard.example") == ["Mullard Ltd"]
    assert await names(domain="gmail.com") == []
    assert await names(name="50%") == []  # wildcards are text
    page = await desk.ok(
        await desk.client.get("/accounts", params={"limit": 2, "offset": 1}, headers=desk.agent)
    )
    assert (len(page["items"]), page["total"], page["limit"], page["offset"]) == (2, 3, 2, 1)
    assert muller["account_id"] in {
        a["account_id"]
        for a in (await desk.ok(await desk.client.get("/accounts", headers=desk.agent)))["items"]
    }


# -- contacts ---------------------------------------------------------------------------------


async def test_a_contact_is_filed_with_numbers_in_any_format_and_changed(desk: Desk) -> None:
    acme = await desk.account(domains=["acme.example"])
    r = await desk.client.post(
        "/contacts",
        json={
            "name": "José Müller",
            "account_id": acme["account_id"],
            "position": "Head of IT",
            "language": "de",
            "preferred_channel": "phone",
            "emails": ["Jose@Acme.example", {"email": "jose@home.example", "kind": "home"}],
            "phones": [
                "030 1234567",
                {"number": "+49 171 2345678", "kind": "mobile"},
                {"number": "12-34 ext. 5", "kind": "fax"},
            ],
        },
        headers=desk.agent,
    )
    created = await desk.ok(r, 201)
    contact_id = created["contact_id"]
    assert r.headers["ETag"] == '"1"'
    assert r.headers["Location"] == f"/contacts/{contact_id}"
    assert created["emails"] == ["jose@acme.example", "jose@home.example"]
    assert [e["kind"] for e in created["email_addresses"]] == ["work", "home"]
    assert created["phones"][:2] == ["+49301234567", "+491712345678"]
    work, mobile, fax = created["phone_numbers"]
    assert work == {
        "phone": "+49301234567",
        "raw": "030 1234567",
        "kind": "work",
        "valid": True,
        "verified": True,
    }
    assert mobile["kind"] == "mobile"
    assert (fax["kind"], fax["raw"]) == ("fax", "12-34 ext. 5")

    r = await desk.client.patch(
        f"/contacts/{contact_id}",
        json={"position": None, "phones": ["+49 (0) 30 1234567"]},
        headers={**desk.agent, "If-Match": r.headers["ETag"]},
    )
    changed = await desk.ok(r)
    assert r.headers["ETag"] == '"2"'
    assert (changed["position"], changed["phones"], changed["emails"]) == (
        None,
        ["+49301234567"],
        created["emails"],
    )
    stale = await desk.client.patch(
        f"/contacts/{contact_id}", json={"name": "X"}, headers={**desk.agent, "If-Match": '"1"'}
    )
    await desk.problem(stale, 412)
    weak = await desk.client.patch(
        f"/contacts/{contact_id}", json={"name": "X"}, headers={**desk.agent, "If-Match": 'W/"2"'}
    )
    await desk.problem(weak, 412)
    got = await desk.client.get(f"/contacts/{contact_id}", headers=desk.agent)
    assert got.headers["ETag"] == '"2"'

    events = await desk.customer_events()
    registered, changed_event = events[1:]
    assert isinstance(registered, c.ContactRegistered)
    assert (registered.first_contact, registered.version) == (False, 1)
    assert registered.preferred_channel is c.Channel.PHONE
    assert isinstance(changed_event, c.ContactChanged)
    assert (changed_event.phones, changed_event.version) == (["+49301234567"], 2)
    assert desk.events[-1][1] == contact_id.encode()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"phones": ["1" * 200]}, ["body", "phones", 0]),
        ({"phones": ["call me maybe"]}, ["body", "phones", 0]),
        ({"phones": [""]}, ["body", "phones", 0]),
        ({"phones": ["   "]}, ["body", "phones", 0]),
        ({"phones": [{"number": "030 1234567", "kind": "pager"}]}, ["body", "phones", 0]),
        ({"emails": ["not an address"]}, ["body", "emails", 0]),
        ({"name": "  "}, ["body", "name"]),
        ({"name": "Jo\x00"}, ["body", "name"]),
        ({"language": "Deutsch!"}, ["body", "language"]),
        ({"preferred_channel": "pigeon"}, ["body", "preferred_channel"]),
        ({"account_id": str(uuid.uuid4())}, ["body", "account_id"]),
        ({"account_id": "not-a-uuid"}, ["body", "account_id"]),
        ({"unexpected": 1}, ["body", "unexpected"]),
    ],
    ids=[
        "phone-200-chars",
        "phone-letters",
        "phone-empty",
        "phone-blank",
        "phone-kind",
        "email",
        "blank-name",
        "nul",
        "language",
        "channel",
        "unknown-account",
        "malformed-account",
        "extra-field",
    ],
)
async def test_a_contact_breaking_a_rule_is_a_422_naming_the_field(
    desk: Desk, body: dict[str, Any], field: list[Any]
) -> None:
    r = await desk.client.post("/contacts", json={"name": "Jo", **body}, headers=desk.agent)
    problem = await desk.problem(r, 422)
    assert problem["errors"][0]["loc"][: len(field)] == field
    assert await desk.customer_events() == []


async def test_unknown_ids_and_taken_addresses_are_clear_problems(desk: Desk) -> None:
    nobody = uuid.uuid4()
    for path in (f"/contacts/{nobody}", f"/accounts/{nobody}", f"/contacts/{nobody}/history"):
        await desk.problem(await desk.client.get(path, headers=desk.agent), 404)
    await desk.problem(
        await desk.client.patch(f"/contacts/{nobody}", json={"name": "X"}, headers=desk.agent), 404
    )
    await desk.problem(
        await desk.client.patch(f"/accounts/{nobody}", json={"name": "X"}, headers=desk.agent), 404
    )
    await desk.problem(await desk.client.get("/contacts/42", headers=desk.agent), 422)
    await desk.problem(
        await desk.client.get("/contacts", params={"limit": 0}, headers=desk.agent), 422
    )
    jo = await desk.contact(emails=["jo@acme.example"])
    taken = await desk.client.post(
        "/contacts", json={"name": "Other", "emails": ["JO@acme.example"]}, headers=desk.agent
    )
    assert jo["contact_id"] in (await desk.problem(taken, 409))["detail"]
    other = await desk.contact(name="Other")
    await desk.problem(
        await desk.client.patch(
            f"/contacts/{other['contact_id']}",
            json={"emails": ["jo@acme.example"]},
            headers=desk.agent,
        ),
        409,
    )
    await desk.problem(
        await desk.client.post("/contacts", json={"name": "X"}, headers=CHANNEL), 403
    )


async def test_contacts_are_found_by_name_email_phone_in_any_format_account_and_region(
    desk: Desk,
) -> None:
    acme = await desk.account(name="Acme", region="DACH")
    zeta = await desk.account(name="Zeta", region="UK")
    jose = await desk.contact(
        name="José Müller",
        account_id=acme["account_id"],
        emails=["jose@acme.example"],
        phones=["+49 30 1234567"],
    )
    await desk.contact(name="Josef Meier", account_id=zeta["account_id"], phones=["0171 2345678"])
    await desk.contact(name="Anna Schmidt")

    async def found(**params: Any) -> list[str]:
        page = await desk.ok(await desk.client.get("/contacts", params=params, headers=desk.agent))
        return [c["name"] for c in page["items"]]

    assert await found(name="jose muller") == ["José Müller"]
    assert await found(name="MÜLLER") == ["José Müller"]
    assert sorted(await found(name="jos")) == ["Josef Meier", "José Müller"]
    assert await found(email=" JOSE@acme.EXAMPLE") == ["José Müller"]
    for number in ("+49 30 1234567", "0049 30 1234567", "030 1234567", "+49 (0) 30 1234567"):
        assert await found(phone=number) == ["José Müller"], number
    assert await found(phone="n/a") == []
    assert await found(account_id=zeta["account_id"]) == ["Josef Meier"]
    assert await found(region="DACH") == ["José Müller"]
    assert await found(name="jos", region="UK") == ["Josef Meier"]
    page = await desk.ok(
        await desk.client.get("/contacts", params={"limit": 1}, headers=desk.agent)
    )
    assert (len(page["items"]), page["total"]) == (1, 3)
    assert jose["contact_id"] in {
        c["contact_id"]
        for c in (await desk.ok(await desk.client.get("/contacts", headers=desk.agent)))["items"]
    }


# -- identification ---------------------------------------------------------------------------


async def test_a_first_contact_is_registered_and_every_form_of_its_number_finds_it(
    desk: Desk,
) -> None:
    first = await desk.submit(phone="+49 30 1234567")
    assert first["first_contact"] is True
    for number in ("0049 30 1234567", "030 1234567", "+49 (0) 30 1234567"):
        await publish_event(
            desk.broker,
            c.InteractionRequested(
                interaction_id=uuid.uuid4(),
                occurred_at=NOW,
                channel=c.Channel.PHONE,
                name="Marta",
                email=None,
                phone=number,
                subject=f"Called from {number}",
            ),
            topic=topics.INTAKE_REQUESTS,
        )
    contact_id = first["contact_id"]

    async def three_more() -> int | None:
        n = await desk.count(
            interactions.select().where(interactions.c.contact_id == contact_id).subquery()
        )
        return n if n == 4 else None

    await eventually(three_more)
    events = await desk.customer_events()
    [registered] = events  # known by the number each time: nothing new to announce
    assert isinstance(registered, c.ContactRegistered)
    assert (str(registered.contact_id), registered.first_contact) == (contact_id, True)
    assert registered.phones == ["+49301234567"]


async def test_numbers_in_an_emails_signature_are_added_unverified(desk: Desk) -> None:
    known = await desk.submit(phone="030 1234567")
    body = (
        "Hello,\nthe printer still jams.\n\n-- \nMarta Kowalska\nAcme GmbH\n"
        "Tel. +49 30 1234567\nMobil 0171 2345678\n"
    )
    again = await desk.submit(channel="email", body=body, subject="Re: printer")
    assert again["contact_id"] == known["contact_id"]
    card = await desk.ok(
        await desk.client.get(f"/contacts/{known['contact_id']}", headers=desk.agent)
    )
    assert [(p["phone"], p["kind"], p["verified"]) for p in card["phone_numbers"]] == [
        ("+49301234567", "other", True),
        ("+491712345678", "other", False),
    ]
    changed = (await desk.customer_events())[-1]
    assert isinstance(changed, c.ContactChanged)
    assert (changed.phones, changed.version) == (["+49301234567", "+491712345678"], 2)


# -- merging and erasing ----------------------------------------------------------------------


async def test_merging_folds_a_duplicate_with_its_history_into_the_survivor(desk: Desk) -> None:
    marta = await desk.submit(email="marta@acme.example", phone="030 1234567")
    duplicate = await desk.submit(
        name="M. Kowalska", email="marta.k@home.example", phone="0171 2345678", subject="Invoice"
    )
    survivor_id, duplicate_id = marta["contact_id"], duplicate["contact_id"]
    assert survivor_id != duplicate_id
    path = f"/contacts/{survivor_id}/merge"
    body = {"duplicate_id": duplicate_id}
    await desk.problem(await desk.client.post(path, json=body, headers=desk.agent), 403)
    await desk.problem(
        await desk.client.post(path, json=body, headers={**desk.supervisor, "If-Match": '"7"'}),
        412,
    )
    r = await desk.client.post(path, json=body, headers=desk.supervisor)
    merged = await desk.ok(r)
    assert r.headers["ETag"] == f'"{merged["version"]}"'
    assert merged["emails"] == ["marta@acme.example", "marta.k@home.example"]
    assert merged["phones"] == ["+49301234567", "+491712345678"]

    gone = await desk.problem(
        await desk.client.get(f"/contacts/{duplicate_id}", headers=desk.agent), 404
    )
    assert gone["merged_into"] == survivor_id
    history = await desk.ok(
        await desk.client.get(f"/contacts/{survivor_id}/history", headers=desk.agent)
    )
    assert [e["subject"] for e in history["items"]] == ["Invoice", "Printer jams"]
    assert {e["interaction_id"] for e in history["items"]} == {
        marta["interaction_id"],
        duplicate["interaction_id"],
    }
    # Found by the duplicate's address now.
    again = await desk.submit(email="MARTA.K@home.example", subject="Thanks")
    assert (again["contact_id"], again["first_contact"]) == (survivor_id, False)

    await desk.problem(await desk.client.post(path, json=body, headers=desk.supervisor), 409)
    await desk.problem(
        await desk.client.post(path, json={"duplicate_id": survivor_id}, headers=desk.supervisor),
        422,
    )
    await desk.problem(
        await desk.client.post(
            path, json={"duplicate_id": str(uuid.uuid4())}, headers=desk.supervisor
        ),
        404,
    )
    events = await desk.customer_events()
    merge_events = [e for e in events if isinstance(e, c.ContactMerged)]
    assert [(str(e.contact_id), str(e.merged_contact_id)) for e in merge_events] == [
        (survivor_id, duplicate_id)
    ]
    after = events[events.index(merge_events[0]) + 1]
    assert isinstance(after, c.ContactChanged)
    assert (str(after.contact_id), after.version) == (survivor_id, merged["version"])


async def test_erasing_drops_the_person_and_what_they_wrote_once(desk: Desk) -> None:
    sent = await desk.submit(phone="030 1234567", body="My IBAN is DE89 3704 0044 0532 0130 00")
    contact_id = sent["contact_id"]
    path = f"/contacts/{contact_id}/erase"
    await desk.problem(await desk.client.post(path, headers=desk.agent), 403)
    erased = await desk.ok(await desk.client.post(path, headers=desk.supervisor))
    assert (erased["name"], erased["emails"], erased["phones"], erased["erased_at"]) == (
        "erased",
        [],
        [],
        erased["erased_at"],
    )
    assert erased["erased_at"] is not None
    interaction = await desk.ok(
        await desk.client.get(f"/interactions/{sent['interaction_id']}", headers=desk.agent)
    )
    assert (interaction["subject"], interaction["body"], interaction["contact_id"]) == (
        "",
        "",
        contact_id,
    )
    again = await desk.ok(await desk.client.post(path, headers=desk.supervisor))
    assert again["version"] == erased["version"]
    found = await desk.ok(
        await desk.client.get(
            "/contacts", params={"email": "marta@acme.example"}, headers=desk.agent
        )
    )
    assert found["items"] == []
    await desk.problem(
        await desk.client.patch(
            f"/contacts/{contact_id}", json={"name": "Marta"}, headers=desk.agent
        ),
        409,
    )
    # Writing again, the person is a first contact.
    back = await desk.submit(phone="030 1234567")
    assert (back["first_contact"], back["contact_id"] != contact_id) == (True, True)
    events = await desk.customer_events()
    assert [str(e.contact_id) for e in events if isinstance(e, c.ContactErased)] == [contact_id]


# -- the history with intake's copy of the cases ----------------------------------------------


def case_event(kind: str, case_id: uuid.UUID, at: datetime, **fields: Any) -> c.Event:
    base: dict[str, Any] = {"case_id": case_id, "number": "CAS-2026-000042", "occurred_at": at}
    if kind == "opened":
        return c.CaseOpened(
            **base,
            channel=c.Channel.WEB,
            interaction_id=uuid.uuid4(),
            priority=c.Priority.NORMAL,
            status=c.CaseStatus.NEW,
            **fields,
        )
    if kind == "resolved":
        return c.CaseResolved(**base, resolution="Replaced the roller.", billable_minutes=0)
    if kind == "reopened":
        return c.CaseReopened(**base, reason="Jams again.")
    if kind == "status":
        return c.CaseStatusChanged(**base, **fields)
    return c.CaseUpdated(**base, **fields)


async def test_the_history_shows_the_customers_cases_whatever_order_their_events_came_in(
    desk: Desk,
) -> None:
    acme = await desk.account(domains=["acme.example"])
    sent = await desk.submit()
    contact_id = uuid.UUID(sent["contact_id"])
    case_id = uuid.uuid4()
    t0 = NOW + timedelta(days=1)
    opened = case_event(
        "opened",
        case_id,
        t0,
        contact_id=contact_id,
        account_id=uuid.UUID(acme["account_id"]),
        subject="Printer jams",
    )
    in_work = case_event(
        "status",
        case_id,
        t0 + timedelta(minutes=1),
        from_status=c.CaseStatus.NEW,
        to_status=c.CaseStatus.IN_PROGRESS,
    )
    renamed = case_event(
        "updated",
        case_id,
        t0 + timedelta(minutes=2),
        changes={"subject": "Printer jams on every page"},
        subject="Printer jams on every page",
    )
    # The status change and the rename come before the opening.
    for event in (in_work, renamed, opened):
        await publish_event(desk.broker, event, topic=topics.CASES)

    async def history() -> dict[str, Any]:
        result: dict[str, Any] = await desk.ok(
            await desk.client.get(f"/contacts/{contact_id}/history", headers=desk.agent)
        )
        return result

    async def the_case() -> dict[str, Any] | None:
        found = [e for e in (await history())["items"] if e["kind"] == "case"]
        return found[0] if found and found[0]["opened_at"] else None

    case = await eventually(the_case)
    assert (case["number"], case["subject"], case["status"], case["channel"]) == (
        "CAS-2026-000042",
        "Printer jams on every page",
        "in_progress",
        "web",
    )
    account = await desk.ok(
        await desk.client.get(f"/accounts/{acme['account_id']}", headers=desk.agent)
    )
    assert account["open_cases"] == 1
    page = await history()
    assert [e["kind"] for e in page["items"]] == ["case", "interaction"]  # newest first
    assert page["total"] == 2

    await publish_event(
        desk.broker, case_event("resolved", case_id, t0 + timedelta(hours=1)), topic=topics.CASES
    )
    # A late copy of the opening never takes the case back to new.
    await publish_event(desk.broker, opened, topic=topics.CASES, event_id="opened-again")

    async def resolved() -> dict[str, Any] | None:
        found = [e for e in (await history())["items"] if e["kind"] == "case"]
        return found[0] if found[0]["status"] == "resolved" else None

    case = await eventually(resolved)
    assert case["resolved_at"] is not None
    await desk.problem(
        await desk.client.get(
            f"/contacts/{contact_id}/history", params={"offset": -1}, headers=desk.agent
        ),
        422,
    )
    paged = await desk.ok(
        await desk.client.get(
            f"/contacts/{contact_id}/history", params={"limit": 1, "offset": 1}, headers=desk.agent
        )
    )
    assert ([e["kind"] for e in paged["items"]], paged["total"]) == (["interaction"], 2)

    async def none_open() -> bool | None:
        card = await desk.ok(
            await desk.client.get(f"/accounts/{acme['account_id']}", headers=desk.agent)
        )
        return True if card["open_cases"] == 0 else None

    await eventually(none_open)
