"""The scheduling service with a real PostgreSQL; what it publishes caught on TestKafkaBroker."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from faststream.kafka import TestKafkaBroker
from faststream.kafka.annotations import KafkaMessage
from sqlalchemy import func, select, text

import caseflow_contracts as c
from caseflow_contracts import topics
from caseflow_contracts.scheduling import BookingEventBase
from caseflow_servicekit import ServiceApp
from caseflow_servicekit.testing import bearer, eventually, running
from scheduling.adapters.tables import booking_resources, bookings
from scheduling.adapters.uow import SqlSchedulingUnitOfWork
from scheduling.bootstrap import MIGRATIONS, build
from scheduling.domain import Booking, BookingConflict, Period, book
from scheduling.settings import SchedulingSettings

pytestmark = pytest.mark.service

NOW = datetime(2026, 5, 4, 8, 0, tzinfo=UTC)
SERVICE_ID = uuid.uuid4()


def at(hhmm: str) -> str:
    hours, minutes = hhmm.split(":")
    return NOW.replace(hour=int(hours), minute=int(minutes)).isoformat()


class FixedClock:
    def now(self) -> datetime:
        return NOW


@dataclass
class Service:
    app: ServiceApp
    client: httpx.AsyncClient
    published: list[tuple[str, c.Event]] = field(default_factory=list)

    @property
    def agent(self) -> dict[str, str]:
        return bearer(self.app, "agent")

    async def resource(self, name: str = "Field engineer", kind: str = "person") -> str:
        r = await self.client.post(
            "/resources", json={"name": name, "kind": kind}, headers=bearer(self.app, "admin")
        )
        assert r.status_code == 201, r.text
        return str(r.json()["resource_id"])

    async def book(
        self, resources: list[str], start: str, end: str, case_id: uuid.UUID | None = None
    ) -> httpx.Response:
        body: dict[str, Any] = {
            "service_id": str(SERVICE_ID),
            "resource_ids": resources,
            "starts_at": at(start),
            "ends_at": at(end),
        }
        if case_id is not None:
            body["case_id"] = str(case_id)
        return await self.client.post("/bookings", json=body, headers=self.agent)

    def uow(self) -> SqlSchedulingUnitOfWork:
        return SqlSchedulingUnitOfWork(self.app.kit.sessions, self.app.kit.outbox)

    async def events(self, n: int) -> list[tuple[str, c.Event]]:
        async def probe() -> list[tuple[str, c.Event]] | None:
            return list(self.published) if len(self.published) >= n else None

        return await eventually(probe)

    async def count(self, stmt: Any) -> int:
        async with self.app.kit.engine.connect() as conn:
            return int((await conn.execute(stmt)).scalar_one())


@pytest.fixture
async def service(fresh_database: str) -> AsyncIterator[Service]:
    settings = SchedulingSettings(database_url=fresh_database, kafka_bootstrap_servers="test:9092")
    app = build(settings, clock=FixedClock(), configure_process=False)
    published: list[tuple[str, c.Event]] = []

    @app.kit.kafka.subscriber(topics.SCHEDULING, group_id="probe")
    async def probe(message: KafkaMessage) -> None:
        key = message.raw_message.key.decode()  # type: ignore[union-attr]
        published.append((key, c.decode(message.headers["ce_type"], message.body)))

    async with TestKafkaBroker(app.kit.kafka), running(app, migrations=MIGRATIONS) as client:
        yield Service(app, client, published)


async def test_a_booking_is_confirmed_readable_and_published_keyed_by_its_case(
    service: Service,
) -> None:
    engineer = await service.resource()
    van = await service.resource("Van", "equipment")
    # Not in sorted order: a booking keeps its resources in the order booked.
    held = sorted([engineer, van], reverse=True)
    case_id = uuid.uuid4()
    r = await service.book(held, "09:00", "10:00", case_id=case_id)
    assert r.status_code == 201, r.text
    booking = r.json()
    assert (booking["status"], booking["resource_ids"]) == ("confirmed", held)

    [(key, confirmed)] = await service.events(1)
    assert isinstance(confirmed, c.BookingConfirmed)
    assert key == str(case_id)
    assert (str(confirmed.booking_id), confirmed.case_id) == (booking["booking_id"], case_id)
    assert confirmed.resource_ids == [uuid.UUID(r) for r in held]

    got = await service.client.get(f"/bookings/{booking['booking_id']}", headers=service.agent)
    assert got.json() == booking
    calendar = await service.client.get(
        f"/resources/{engineer}/bookings",
        params={"from": at("00:00"), "to": at("23:00")},
        headers=service.agent,
    )
    assert [b["booking_id"] for b in calendar.json()] == [booking["booking_id"]]


async def test_two_overlapping_bookings_of_one_resource_the_second_is_409(service: Service) -> None:
    engineer = await service.resource()
    van = await service.resource("Van", "equipment")
    assert (await service.book([engineer], "09:00", "10:00")).status_code == 201
    second = await service.book([van, engineer], "09:30", "10:30")
    assert second.status_code == 409, second.text
    assert second.headers["content-type"] == "application/problem+json"
    assert second.json()["status"] == 409
    # Back to back is fine: periods are half-open.
    assert (await service.book([engineer], "10:00", "11:00")).status_code == 201
    assert await service.count(select(func.count()).select_from(bookings)) == 2


async def test_concurrent_overlapping_bookings_exactly_one_succeeds_the_rest_are_409(
    service: Service,
) -> None:
    engineer = await service.resource()
    van = await service.resource("Van", "equipment")
    # Every request holds the engineer and covers 09:30-09:45, some with the van named
    # first: whatever the interleaving, one wins and the others see a conflict, not a 500.
    requests = [
        ([engineer], "09:00", "10:00"),
        ([engineer], "09:30", "10:30"),
        ([van, engineer], "09:15", "09:45"),
        ([engineer, van], "08:30", "09:50"),
        ([engineer], "09:29", "09:46"),
        ([van, engineer], "09:00", "11:00"),
    ] * 2
    results = await asyncio.gather(*(service.book(*r) for r in requests))
    assert sorted(r.status_code for r in results) == [201] + [409] * (len(requests) - 1), [
        r.text for r in results if r.status_code not in (201, 409)
    ]
    events = await service.events(1)
    assert [e.type for _, e in events] == ["booking.confirmed"]
    assert await service.count(select(func.count()).select_from(bookings)) == 1


async def test_concurrent_reschedules_into_one_slot_exactly_one_succeeds(
    service: Service,
) -> None:
    room = await service.resource("Room 1", "room")
    moving = [(await service.book([room], f"{h:02d}:00", f"{h:02d}:30")).json() for h in (9, 10)]
    results = await asyncio.gather(
        *(
            service.client.post(
                f"/bookings/{b['booking_id']}/reschedule",
                json={"starts_at": at("12:00"), "ends_at": at("13:00")},
                headers=service.agent,
            )
            for b in moving
        )
    )
    assert sorted(r.status_code for r in results) == [200, 409], [r.text for r in results]
    stmt = (
        select(func.count())
        .select_from(bookings)
        .where(bookings.c.starts_at == datetime.fromisoformat(at("12:00")))
    )
    assert await service.count(stmt) == 1


def unchecked(resource_id: uuid.UUID, start: str, end: str) -> Booking:
    """A booking made with `existing=[]`: as if its request had read an empty calendar."""
    booking, _ = book(
        booking_id=uuid.uuid4(),
        service_id=SERVICE_ID,
        resource_ids=[resource_id],
        period=Period(datetime.fromisoformat(at(start)), datetime.fromisoformat(at(end))),
        case_id=None,
        existing=[],
        now=NOW,
    )
    return booking


async def someone_waits_on_a_lock(service: Service) -> bool | None:
    waiting = await service.count(
        text(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
    )
    return True if waiting else None


@pytest.mark.parametrize("second_request", ["book", "reschedule"])
async def test_a_request_waits_for_a_booking_in_progress_on_its_resource_then_sees_it(
    service: Service, second_request: str
) -> None:
    engineer = await service.resource()
    if second_request == "book":
        request = service.book([engineer], "09:30", "10:30")
    else:
        moving = (await service.book([engineer], "14:00", "15:00")).json()
        request = service.client.post(
            f"/bookings/{moving['booking_id']}/reschedule",
            json={"starts_at": at("09:30"), "ends_at": at("10:30")},
            headers=service.agent,
        )
    async with service.uow() as uow:
        # A first request as far as make_booking takes it before committing.
        await uow.resources.get_many([uuid.UUID(engineer)], for_update=True)
        await uow.bookings.add(unchecked(uuid.UUID(engineer), "09:00", "10:00"))
        second = asyncio.create_task(request)
        await eventually(lambda: someone_waits_on_a_lock(service))
        await uow.commit()
    refused = await second
    assert refused.status_code == 409, refused.text
    # Refused by the calendar it read once the first had committed, which names the booking
    # in the way, and not by the exclusion constraint after racing it.
    assert f"from {at('09:00')} to {at('10:00')}" in refused.json()["detail"]


async def test_the_database_refuses_an_overlap_the_application_did_not_see(
    service: Service,
) -> None:
    engineer = uuid.UUID(await service.resource())

    async def second_writer() -> None:
        async with service.uow() as uow:
            await uow.bookings.add(unchecked(engineer, "09:30", "10:30"))
            await uow.commit()

    async with service.uow() as uow:
        await uow.bookings.add(unchecked(engineer, "09:00", "10:00"))
        racing = asyncio.create_task(second_writer())
        # The second insert waits for the first transaction to decide, then is refused.
        await eventually(lambda: someone_waits_on_a_lock(service))
        await uow.commit()
    with pytest.raises(BookingConflict):
        await racing
    assert await service.count(select(func.count()).select_from(booking_resources)) == 1


async def test_reschedule_cancel_and_availability(service: Service) -> None:
    room = await service.resource("Room 1", "room")
    booking = (await service.book([room], "09:00", "10:00")).json()
    blocker = (await service.book([room], "11:00", "12:00")).json()

    async def free(duration: int = 60) -> list[tuple[str, str]]:
        r = await service.client.get(
            "/availability",
            params={
                "resource_id": room,
                "from": at("09:00"),
                "to": at("13:00"),
                "duration_minutes": duration,
            },
            headers=service.agent,
        )
        assert r.status_code == 200, r.text
        return [(s["starts_at"], s["ends_at"]) for s in r.json()["slots"]]

    def iso(hhmm: str) -> str:
        return datetime.fromisoformat(at(hhmm)).isoformat().replace("+00:00", "Z")

    assert await free() == [(iso("10:00"), iso("11:00")), (iso("12:00"), iso("13:00"))]

    clash = await service.client.post(
        f"/bookings/{booking['booking_id']}/reschedule",
        json={"starts_at": at("10:30"), "ends_at": at("11:30")},
        headers=service.agent,
    )
    assert clash.status_code == 409
    moved = await service.client.post(
        f"/bookings/{booking['booking_id']}/reschedule",
        json={"starts_at": at("10:00"), "ends_at": at("11:00")},
        headers=service.agent,
    )
    assert moved.status_code == 200, moved.text
    assert await free() == [(iso("09:00"), iso("10:00")), (iso("12:00"), iso("13:00"))]

    cancelled = await service.client.post(
        f"/bookings/{blocker['booking_id']}/cancel",
        json={"reason": "no longer needed"},
        headers=service.agent,
    )
    assert cancelled.json()["status"] == "cancelled"
    again = await service.client.post(
        f"/bookings/{blocker['booking_id']}/cancel", headers=service.agent
    )
    assert again.status_code == 409
    assert await free(120) == [(iso("11:00"), iso("13:00"))]

    events = await service.events(4)
    assert [e.type for _, e in events] == [
        "booking.confirmed",
        "booking.confirmed",
        "booking.rescheduled",
        "booking.cancelled",
    ]
    # Without a case, a booking's events are keyed by the booking.
    blocker_id = uuid.UUID(blocker["booking_id"])
    keys = [
        key for key, e in events if isinstance(e, BookingEventBase) and e.booking_id == blocker_id
    ]
    assert keys == [blocker["booking_id"]] * 2


async def test_who_may_do_what_and_bad_input(service: Service) -> None:
    denied = await service.client.post(
        "/resources", json={"name": "Room", "kind": "room"}, headers=service.agent
    )
    assert denied.status_code == 403
    assert (await service.client.get("/resources")).status_code == 401
    engineer = await service.resource()
    listed = await service.client.get("/resources", headers=service.agent)
    assert [r["resource_id"] for r in listed.json()] == [engineer]

    naive = await service.client.post(
        "/bookings",
        json={
            "service_id": str(SERVICE_ID),
            "resource_ids": [engineer],
            "starts_at": "2026-05-04T09:00:00",
            "ends_at": "2026-05-04T10:00:00",
        },
        headers=service.agent,
    )
    assert naive.status_code == 422
    backwards = await service.book([engineer], "10:00", "09:00")
    assert backwards.status_code == 422 and backwards.json()["title"] == "SchedulingValidationError"
    past = await service.book([engineer], "07:00", "07:30")
    assert past.status_code == 422
    unknown = await service.book([str(uuid.uuid4())], "09:00", "10:00")
    assert unknown.status_code == 404
    missing = await service.client.get(f"/bookings/{uuid.uuid4()}", headers=service.agent)
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"


async def test_health_metrics_and_asyncapi(service: Service) -> None:
    assert (await service.client.get("/health/live")).json() == {"status": "ok"}
    ready = await service.client.get("/health/ready")
    assert ready.status_code == 200 and ready.json()["checks"]["database"] == "ok"
    assert "caseflow_http_requests_total" in (await service.client.get("/metrics")).text
    doc = (await service.client.get("/asyncapi.json")).json()
    assert set(doc["channels"]) == {"scheduling.booking.v1:publish"}
