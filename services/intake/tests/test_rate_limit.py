"""The anti-abuse limits on POST /web-submissions, against a real PostgreSQL: counted before
anything is done, shared by replicas, answered with 429 and Retry-After."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from faststream.kafka import TestKafkaBroker
from sqlalchemy import func, select

from caseflow_servicekit import ServiceApp
from caseflow_servicekit.testing import bearer, running
from intake.adapters.rate_limits import SqlRateLimitCounter
from intake.adapters.tables import (
    contacts,
    idempotency_keys,
    interactions,
    metadata,
    rate_limit_hits,
)
from intake.bootstrap import MIGRATIONS, build
from intake.settings import IntakeSettings

pytestmark = pytest.mark.service

WEB_KEY = "web-form-key-123"
OTHER_KEY = "partner-form-key-456"
PROBLEM_JSON = "application/problem+json"
MINUTE = timedelta(minutes=1)
outbox_table = metadata.tables["outbox"]


class MovingClock:
    """A clock the test moves; starts 15 seconds into a one-minute window."""

    def __init__(self) -> None:
        self.moment = datetime(2026, 5, 4, 10, 0, 15, tzinfo=UTC)

    def now(self) -> datetime:
        return self.moment

    def advance(self, seconds: float) -> None:
        self.moment += timedelta(seconds=seconds)


class Replica:
    """One running intake app, posting from whichever client address a test names."""

    def __init__(self, app: ServiceApp, stack: AsyncExitStack) -> None:
        self.app = app
        self._stack = stack
        self._clients: dict[str, httpx.AsyncClient] = {}
        self._sent = 0

    async def post(
        self, address: str, *, key: str | None = WEB_KEY, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        client = self._clients.get(address)
        if client is None:
            transport = httpx.ASGITransport(app=self.app, client=(address, 51000))
            client = httpx.AsyncClient(transport=transport, base_url="http://intake")
            self._clients[address] = await self._stack.enter_async_context(client)
        self._sent += 1
        credentials = {"X-Api-Key": key} if key is not None else bearer(self.app, "agent")
        return await client.post(
            "/web-submissions",
            json=submission(self._sent),
            headers={**credentials, **(headers or {})},
        )

    async def count(self, table: Any) -> int:
        async with self.app.kit.engine.connect() as conn:
            return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())


def submission(n: int) -> dict[str, Any]:
    return {
        "name": f"Customer {n}",
        "email": f"customer-{n}@example.org",
        "subject": f"Request {n}",
        "body": "The printer is on fire.",
    }


@asynccontextmanager
async def replica(database: str, clock: MovingClock, **settings: Any) -> AsyncIterator[Replica]:
    app = build(
        IntakeSettings(
            database_url=database,
            kafka_bootstrap_servers="test:9092",
            channel_api_keys=f"web:{WEB_KEY},partner:{OTHER_KEY}",
            **settings,
        ),
        clock=clock,
        configure_process=False,
    )
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(TestKafkaBroker(app.kit.kafka))
        await stack.enter_async_context(running(app, migrations=MIGRATIONS))
        yield Replica(app, stack)


def statuses(responses: list[httpx.Response]) -> list[int]:
    return [r.status_code for r in responses]


async def test_the_request_past_the_address_limit_is_a_429_that_creates_nothing(
    fresh_database: str,
) -> None:
    async with replica(fresh_database, MovingClock(), rate_limit_per_address=3) as intake:
        admitted = [await intake.post("203.0.113.7") for _ in range(3)]
        assert statuses(admitted) == [202, 202, 202], admitted[-1].text
        refused = await intake.post("203.0.113.7", headers={"Idempotency-Key": "form-4"})

        assert refused.status_code == 429
        assert refused.headers["content-type"] == PROBLEM_JSON
        assert refused.headers["retry-after"] == "45"
        problem = refused.json()
        assert (problem["status"], problem["title"]) == (429, "RateLimited")
        assert problem["detail"] == "Too many requests from this address; try again in 45 seconds."
        for table, expected in (
            (contacts, 3),
            (interactions, 3),
            (idempotency_keys, 0),
            # Each admitted request: its interaction received and its first contact registered.
            (outbox_table, 6),
        ):
            assert await intake.count(table) == expected, table.name
        # Every caller of the route counts, a person's token as well as a channel's key ...
        assert (await intake.post("203.0.113.7", key=None)).status_code == 429
        # ... and one address's excess is not held against another.
        assert (await intake.post("203.0.113.8")).status_code == 202


async def test_concurrent_requests_from_one_address_admit_exactly_the_limit(
    fresh_database: str,
) -> None:
    async with replica(fresh_database, MovingClock(), rate_limit_per_address=4) as intake:
        answers = await asyncio.gather(*(intake.post("203.0.113.7") for _ in range(10)))
        assert sorted(statuses(answers)) == [202] * 4 + [429] * 6
        assert await intake.count(interactions) == 4


async def test_the_key_limit_counts_all_the_key_s_addresses_and_no_other_caller(
    fresh_database: str,
) -> None:
    async with replica(
        fresh_database, MovingClock(), rate_limit_per_address=100, rate_limit_per_key=3
    ) as intake:
        admitted = [await intake.post(f"198.51.100.{i}") for i in range(1, 4)]
        assert statuses(admitted) == [202, 202, 202]
        refused = await intake.post("198.51.100.4")
        assert refused.status_code == 429
        assert refused.headers["retry-after"] == "45"
        assert "this channel's key" in refused.json()["detail"]
        # Another channel's key, and a person's token, have budgets of their own.
        assert (await intake.post("198.51.100.4", key=OTHER_KEY)).status_code == 202
        assert (await intake.post("198.51.100.4", key=None)).status_code == 202
        assert await intake.count(interactions) == 5


async def test_a_limit_of_zero_is_no_limit(fresh_database: str) -> None:
    async with replica(
        fresh_database, MovingClock(), rate_limit_per_address=0, rate_limit_per_key=0
    ) as intake:
        answers = [await intake.post("203.0.113.7") for _ in range(5)]
        assert statuses(answers) == [202] * 5
        assert await intake.count(rate_limit_hits) == 0  # not even counted


async def test_the_next_window_admits_again_and_old_windows_are_swept(
    fresh_database: str,
) -> None:
    clock = MovingClock()
    async with replica(fresh_database, clock, rate_limit_per_address=2) as intake:
        assert statuses([await intake.post("203.0.113.7") for _ in range(2)]) == [202, 202]
        clock.advance(40)  # 10:00:55
        refused = await intake.post("203.0.113.7")
        assert (refused.status_code, refused.headers["retry-after"]) == (429, "5")

        clock.advance(5)  # 10:01:00, as Retry-After said
        assert (await intake.post("203.0.113.7")).status_code == 202
        async with intake.app.kit.engine.connect() as conn:
            rows = (
                await conn.execute(select(rate_limit_hits.c.bucket, rate_limit_hits.c.window_start))
            ).all()
        # The first count of the new window took the last window's rows away.
        new_window = datetime(2026, 5, 4, 10, 1, tzinfo=UTC)
        assert sorted(tuple(r) for r in rows) == [
            ("address:203.0.113.7", new_window),
            ("channel:web", new_window),
        ]


async def test_old_windows_go_in_small_batches_and_a_sweep_is_bounded(
    fresh_database: str,
) -> None:
    async with replica(fresh_database, MovingClock()) as intake:
        counter = SqlRateLimitCounter(intake.app.kit.engine, batch_size=500, max_batches=2)
        old = datetime(2026, 5, 4, 9, 58, tzinfo=UTC)
        current = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)
        async with intake.app.kit.engine.begin() as conn:
            await conn.execute(
                rate_limit_hits.insert(),
                [
                    {"bucket": f"address:{i}", "window_start": old + i % 2 * MINUTE, "hits": 1}
                    for i in range(1200)
                ],
            )
        await counter.hit("address:203.0.113.7", window_start=current)
        assert await intake.count(rate_limit_hits) == 201  # one sweep: two batches of 500
        assert await counter.forget_windows_before(current) == 200
        assert await intake.count(rate_limit_hits) == 1


async def test_forwarded_for_is_believed_only_from_a_trusted_proxy(fresh_database: str) -> None:
    async with replica(
        fresh_database,
        MovingClock(),
        rate_limit_per_address=1,
        trusted_proxies="10.0.0.0/8, 192.0.2.1",
    ) as intake:

        def via(chain: str) -> dict[str, str]:
            return {"X-Forwarded-For": chain}

        # Behind the proxies, each customer has a limit of their own ...
        assert (await intake.post("10.1.2.3", headers=via("198.51.100.1"))).status_code == 202
        assert (await intake.post("10.1.2.3", headers=via("198.51.100.2"))).status_code == 202
        # ... whichever proxy they come through, and whatever they wrote left of themselves.
        again = await intake.post("192.0.2.1", headers=via("6.6.6.6, 198.51.100.1, 10.9.9.9"))
        assert again.status_code == 429

        # From anyone else the header is ignored: a client cannot dodge by rewriting it.
        assert (await intake.post("203.0.113.9", headers=via("198.51.100.3"))).status_code == 202
        dodge = await intake.post("203.0.113.9", headers=via("198.51.100.4"))
        assert dodge.status_code == 429
        # Nor can a forged header spend someone else's budget.
        assert (await intake.post("198.51.100.3")).status_code == 202


async def test_two_replicas_on_one_database_share_one_limit(fresh_database: str) -> None:
    clock = MovingClock()
    async with (
        replica(fresh_database, clock, rate_limit_per_address=3) as first,
        replica(fresh_database, clock, rate_limit_per_address=3) as second,
    ):
        assert (await first.post("203.0.113.7")).status_code == 202
        assert (await second.post("203.0.113.7")).status_code == 202
        assert (await first.post("203.0.113.7")).status_code == 202
        assert (await second.post("203.0.113.7")).status_code == 429
        assert (await first.post("203.0.113.7")).status_code == 429
        assert await first.count(interactions) == 3


async def test_the_429_is_in_the_openapi_document(fresh_database: str) -> None:
    async with replica(fresh_database, MovingClock()) as intake:
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=intake.app), base_url="http://intake"
        )
        async with client:
            doc = (await client.get("/openapi.json")).json()
    responses = doc["paths"]["/web-submissions"]["post"]["responses"]
    assert {"202", "409", "429"} <= set(responses)
    assert responses["429"]["headers"]["Retry-After"]["schema"] == {"type": "integer"}
