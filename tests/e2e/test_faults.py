"""Faults with hundreds of cases in flight: each service crashes, PostgreSQL restarts, the broker
restarts and forgets everything. None loses a request or repeats a side effect: one case per
submission, one queue item per case, one set of KPIs per case.

The load is sent as a channel sends it: each submission has its own Idempotency-Key, and a
submission that got no answer, or a 429 or 503, is sent again with the same key. A 500 is a bug,
never a reason to retry, and fails the test.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx
import pytest

from caseflow_devstack.databases import as_libpq
from caseflow_devstack.pytest_plugin import PgServer, TestBroker
from caseflow_devstack.stack import SERVICE_NAMES

from .conftest import API_KEY, Suite

pytestmark = pytest.mark.e2e

KPIS_PER_CASE = 2  # the default policy: first response and resolution
RETRYABLE = {429, 502, 503, 504}


@dataclass
class Load:
    """Submissions sent as a channel sends them, and what came back."""

    suite: Suite
    tag: str
    count: int
    rate: float
    accepted: dict[int, dict[str, Any]] = field(default_factory=dict)
    statuses: dict[int, int] = field(default_factory=dict)
    retries: int = 0
    progress: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def run(self) -> None:
        # At most 16 in flight, a new one every 1/rate s: while intake is down the senders
        # are busy retrying and no backlog builds up to burst in when it is back.
        limit = asyncio.Semaphore(16)
        tasks: list[asyncio.Task[None]] = []

        async def one(i: int) -> None:
            try:
                await self._submit(i)
            finally:
                limit.release()

        for i in range(self.count):
            await limit.acquire()
            tasks.append(asyncio.create_task(one(i)))
            await asyncio.sleep(1 / self.rate)
        await asyncio.gather(*tasks)

    async def _submit(self, i: int) -> None:
        key = f"{self.tag}-{i}"
        body = {
            "name": f"Fault {i}",
            "email": f"{self.tag}.{i}@faults.example",
            "subject": f"[{self.tag}] request {i}",
            "body": "Sent while something breaks.",
        }
        deadline = asyncio.get_running_loop().time() + 180
        delay = 0.1
        while True:
            try:
                r = await self.suite.http["intake"].post(
                    "/web-submissions",
                    json=body,
                    headers={"X-Api-Key": API_KEY, "Idempotency-Key": key},
                    timeout=10,
                )
                self.statuses[r.status_code] = self.statuses.get(r.status_code, 0) + 1
                if r.status_code == 202:
                    async with self.progress:
                        self.accepted[i] = r.json()
                        self.progress.notify_all()
                    return
                assert r.status_code in RETRYABLE, (r.status_code, r.text)
            except httpx.TransportError:
                pass  # intake is down or restarting: the channel tries again
            assert asyncio.get_running_loop().time() < deadline, f"submission {i} never accepted"
            self.retries += 1
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)

    async def reached(self, count: int) -> None:
        """Wait until `count` submissions were accepted."""
        async with self.progress:
            await self.progress.wait_for(lambda: len(self.accepted) >= count)


async def _query(suite: Suite, service: str, sql: str, *args: Any) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(as_libpq(suite.stack.database_url(service)))
    try:
        return list(await conn.fetch(sql, *args))
    finally:
        await conn.close()


async def _outcome(suite: Suite, tag: str) -> tuple[list[asyncpg.Record], int, int, int]:
    """The tagged cases, their queue items, their KPI rows and KPI (case, kpi) pairs."""
    cases = await _query(
        suite, "cases", "SELECT case_id, contact_id FROM cases WHERE subject LIKE $1", f"[{tag}]%"
    )
    ids = [row["case_id"] for row in cases]
    items = await _query(
        suite, "routing", "SELECT count(*) AS n FROM queue_items WHERE case_id = ANY($1)", ids
    )
    kpis = await _query(
        suite,
        "sla",
        "SELECT count(*) AS n, count(DISTINCT (case_id, kpi)) AS distinct_n "
        "FROM kpi_instances WHERE case_id = ANY($1)",
        ids,
    )
    return cases, items[0]["n"], kpis[0]["n"], kpis[0]["distinct_n"]


async def _where_missing(suite: Suite, ids: list[Any]) -> str:
    """Where the opening of the cases routing never queued stands: in the cases outbox, and
    in the inboxes of routing and SLA, beside the offsets around it that they did apply."""
    queued = await _query(
        suite, "routing", "SELECT case_id FROM queue_items WHERE case_id = ANY($1)", ids
    )
    missing = sorted(set(ids) - {row["case_id"] for row in queued})[:3]
    if not missing:
        return "every case is queued"
    found: list[str] = []
    for case_id in missing:
        rows = await _query(
            suite,
            "cases",
            "SELECT id, topic, relayed_at, cluster_id, headers->>'ce_id' AS event_id "
            "FROM outbox WHERE key = $1 ORDER BY id",
            str(case_id),
        )
        found.append(f"case {case_id}: outbox {[dict(r) for r in rows]}")
        for service in ("routing", "sla"):
            claims = await _query(
                suite,
                service,
                'SELECT consumer, event_id, partition, "offset", received_at FROM inbox '
                "WHERE event_id = ANY($1)",
                [r["event_id"] for r in rows],
            )
            found.append(f"{service} inbox {[dict(c) for c in claims]}")
    return "; ".join(found)


async def _all_flowed_through(suite: Suite, load: Load, *, timeout: float = 240) -> None:
    """Wait until every accepted submission has its case, queue item and KPIs; then check
    nothing happened twice."""
    n = load.count
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        cases, items, kpis, distinct_kpis = await _outcome(suite, load.tag)
        # A duplicate shows as soon as it exists: never more rows than submissions.
        assert len(cases) <= n, f"{len(cases)} cases for {n} submissions"
        assert len({row["contact_id"] for row in cases}) == len(cases), "a contact got two cases"
        assert items <= len(cases), f"{items} queue items for {len(cases)} cases"
        assert kpis == distinct_kpis, f"{kpis - distinct_kpis} KPIs started twice"
        if len(cases) == n and items == n and kpis == n * KPIS_PER_CASE:
            break
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(
                f"after {timeout:g} s: {len(cases)}/{n} cases, {items}/{n} queue items, "
                f"{kpis}/{n * KPIS_PER_CASE} KPIs; submissions answered {load.statuses}; "
                f"{await _where_missing(suite, [row['case_id'] for row in cases])}"
            )
        await asyncio.sleep(0.5)
    accepted_contacts = {str(a["contact_id"]) for a in load.accepted.values()}
    assert {str(row["contact_id"]) for row in cases} == accepted_contacts
    assert 500 not in load.statuses


async def _with_faults(
    suite: Suite,
    *,
    count: int,
    rate: float,
    faults: list[tuple[float, Callable[[], Awaitable[Any]]]],
    restarts: list[asyncio.Task[None]] | None = None,
) -> Load:
    load = Load(suite, tag=f"fault-{uuid.uuid4().hex[:8]}", count=count, rate=rate)

    async def inject() -> None:
        for share, fault in faults:
            await load.reached(int(count * share))
            await fault()
            assert len(load.accepted) < count, "the fault came after the stream had ended"

    await asyncio.gather(load.run(), inject())
    await asyncio.gather(*(restarts or ()))
    assert len(load.accepted) == count
    await _all_flowed_through(suite, load)
    return load


async def test_each_service_killed_in_turn_loses_no_case_and_repeats_nothing(
    suite: Suite,
) -> None:
    restarts: list[asyncio.Task[None]] = []

    def crash(name: str) -> Callable[[], Awaitable[None]]:
        async def kill_then_restart() -> None:
            assert await suite.stack.kill_service(name) == -9
            # The next crash does not wait for this restart: every crash lands mid-stream.
            restarts.append(asyncio.create_task(suite.stack.start_service(name)))

        return kill_then_restart

    order = list(SERVICE_NAMES)
    faults = [((i + 1) / (len(order) + 2), crash(name)) for i, name in enumerate(order)]
    load = await _with_faults(suite, count=600, rate=15, faults=faults, restarts=restarts)
    assert load.retries > 0, "intake's crash was not felt by the channel"


async def test_a_postgresql_restart_mid_stream_loses_no_case_and_repeats_nothing(
    suite: Suite, pg_server: PgServer
) -> None:
    server = pg_server.embedded
    if server is None:
        pytest.skip("PostgreSQL comes from outside this test run; it cannot be restarted here")

    async def restart() -> None:
        await asyncio.to_thread(server.stop)
        await asyncio.to_thread(server.start)

    await _with_faults(suite, count=500, rate=40, faults=[(0.3, restart)])


async def test_a_broker_restart_that_forgets_everything_loses_no_case_and_repeats_nothing(
    suite: Suite, kafka_broker: TestBroker
) -> None:
    broker = kafka_broker.embedded
    if broker is None:
        pytest.skip("the broker comes from outside this test run; it cannot be restarted here")

    async def restart() -> None:
        # Tansu keeps everything in memory: what was relayed and not yet consumed is gone.
        await asyncio.to_thread(broker.restart)

    await _with_faults(suite, count=500, rate=40, faults=[(0.5, restart)])
