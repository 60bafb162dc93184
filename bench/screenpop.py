"""Screen-pop benchmark: from a ringing call to the agent's console, on the embedded stack.

Starts PostgreSQL, Tansu and the intake service as processes, files a known customer, and
opens a screen-pop stream (`GET /screen-pops/stream`) for one extension, as an agent's console
does. Then, one call at a time, it sends `call.ringing` for that customer at that extension and
times from just before sending to the screen-pop's arrival on the stream: `--count` calls
through the webhook (`POST /cti/events`), then as many through the Kafka topic
`channels.cti.v1`, measured separately.

Per path p50/p95/p99/max are printed; the last line is one JSON object with the figures.
`make bench-screenpop` runs it with defaults.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import secrets
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import httpx
import uvloop
from aiokafka import AIOKafkaProducer

import caseflow_contracts as c
from caseflow_contracts import topics
from caseflow_devstack import Stack, as_libpq, free_port
from caseflow_devstack.processes import ServiceSpec
from caseflow_servicekit import mint_token

API_KEY = "bench-cti-key"
EXTENSION = "7001"
CALLER = "+49 30 1234567"
DIALLED = "+4930555000"
# The console waits this long for a pop before the call counts as lost.
POP_TIMEOUT = 10.0


@dataclass
class Console:
    """An agent's console: one screen-pop stream, each pop's arrival time by call id."""

    arrived: dict[str, float] = field(default_factory=dict)
    waiting: dict[str, asyncio.Future[float]] = field(default_factory=dict)
    opened: asyncio.Event = field(default_factory=asyncio.Event)

    async def follow(self, client: httpx.AsyncClient, token: str) -> None:
        headers = {"Authorization": f"Bearer {token}"}
        params = {"extension": EXTENSION}
        async with client.stream(
            "GET", "/screen-pops/stream", params=params, headers=headers, timeout=None
        ) as response:
            response.raise_for_status()
            async for line in response.aiter_lines():
                now = time.perf_counter()
                if line.startswith(":"):
                    self.opened.set()
                elif line.startswith("id: "):
                    call_id = line[len("id: ") :]
                    self.arrived.setdefault(call_id, now)
                    future = self.waiting.pop(call_id, None)
                    if future is not None and not future.done():
                        future.set_result(now)

    async def time_pop(self, call_id: str, send: Callable[[str], Awaitable[None]]) -> float:
        """Milliseconds from just before `send(call_id)` to its pop on the stream."""
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self.waiting[call_id] = future
        started = time.perf_counter()
        await send(call_id)
        try:
            async with asyncio.timeout(POP_TIMEOUT):
                arrived = await future
        finally:
            self.waiting.pop(call_id, None)
        return (arrived - started) * 1000


def ringing(call_id: str) -> c.CallRinging:
    now = datetime.now(UTC)
    return c.CallRinging(
        call_id=call_id,
        caller_number=CALLER,
        dialled_number=DIALLED,
        agent_extension=EXTENSION,
        ringing_at=now,
        occurred_at=now,
    )


async def file_customer(database_url: str) -> None:
    """Acme and one of its people with the calling number, a case and a contract."""
    account_id, contact_id = uuid.uuid4(), uuid.uuid4()
    now = datetime.now(UTC)
    connection = await asyncpg.connect(as_libpq(database_url))
    try:
        async with connection.transaction():
            await connection.execute(
                "INSERT INTO accounts (account_id, name, created_at, tier, region) "
                "VALUES ($1, 'Acme GmbH', $2, 'gold', 'DE')",
                account_id,
                now,
            )
            await connection.execute(
                "INSERT INTO contacts (contact_id, name, account_id, created_at, position, "
                "language) VALUES ($1, 'Jana Novak', $2, $3, 'Buyer', 'de')",
                contact_id,
                account_id,
                now,
            )
            await connection.execute(
                "INSERT INTO contact_emails (email, contact_id, position) "
                "VALUES ('jana.novak@acme.example', $1, 0)",
                contact_id,
            )
            await connection.execute(
                "INSERT INTO contact_phones (contact_id, phone, position, raw) "
                "VALUES ($1, '+49301234567', 0, $2)",
                contact_id,
                CALLER,
            )
            await connection.execute(
                "INSERT INTO case_summaries (case_id, number, contact_id, account_id, subject, "
                "status, opened_at, updated_at) VALUES ($1, 'CAS-2026-000001', $2, $3, "
                "'Printer jams', 'in_progress', $4, $4)",
                uuid.uuid4(),
                contact_id,
                account_id,
                now - timedelta(days=1),
            )
            lines = json.dumps(
                [
                    {
                        "line_id": str(uuid.uuid4()),
                        "number": 1,
                        "name": "Repairs",
                        "allocation": "cases",
                        "allotment": 12,
                        "remaining": 9,
                        "drawn": 3,
                        "drawn_as_of": None,
                    }
                ]
            )
            await connection.execute(
                "INSERT INTO account_contracts (contract_id, account_id, number, name, status, "
                "lines, version, updated_at) VALUES ($1, $2, 'CON-2026-0001', 'Gold support', "
                "'active', $3::jsonb, 1, $4)",
                uuid.uuid4(),
                account_id,
                lines,
                now,
            )
    finally:
        await connection.close()


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


def figures(samples: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(_percentile(samples, 50), 1),
        "p95_ms": round(_percentile(samples, 95), 1),
        "p99_ms": round(_percentile(samples, 99), 1),
        "max_ms": round(max(samples), 1),
    }


def show(path: str, measured: dict[str, float], count: int) -> None:
    print(
        f"  {path:8s} p50 {measured['p50_ms']:7.1f} ms  p95 {measured['p95_ms']:7.1f} ms"
        f"  p99 {measured['p99_ms']:7.1f} ms  max {measured['max_ms']:7.1f} ms  ({count} calls)",
        flush=True,
    )


async def measure(
    console: Console, send: Callable[[str], Awaitable[None]], prefix: str, count: int, pause: float
) -> list[float]:
    samples: list[float] = []
    for i in range(count):
        call_id = f"{prefix}-{i}-{uuid.uuid4().hex[:8]}"
        samples.append(await console.time_pop(call_id, send))
        await asyncio.sleep(pause)
    return samples


async def warm_up(console: Console, send: Callable[[str], Awaitable[None]], prefix: str) -> None:
    """Send until a pop comes through: the consumer group may still be forming."""
    deadline = time.perf_counter() + 120
    while True:
        call_id = f"{prefix}-warm-{uuid.uuid4().hex[:8]}"
        try:
            await console.time_pop(call_id, send)
            return
        except TimeoutError:
            if time.perf_counter() > deadline:
                raise


async def run(args: argparse.Namespace, home: Path) -> dict[str, Any]:
    secret = secrets.token_urlsafe(32)
    environ = {
        **os.environ,
        "CASEFLOW_AUTH_SECRET": secret,
        "CASEFLOW_CHANNEL_API_KEYS": f"cti:{API_KEY}",
        "CASEFLOW_LOG_LEVEL": "WARNING",
    }
    for name in ("KAFKA_BOOTSTRAP_SERVERS", "CASEFLOW_DATABASE_URL", "INTAKE_DATABASE_URL"):
        environ.pop(name, None)
    services = [ServiceSpec("intake", free_port())]
    stack = Stack(
        home=home,
        services=services,
        environ=environ,
        postgres_port=free_port(),
        kafka_port=free_port(),
        ready_timeout=120,
    )
    print("starting PostgreSQL, Tansu and intake...", flush=True)
    async with stack:
        await file_customer(stack.database_url("intake"))
        token = mint_token(secret, subject="bench-agent", roles=("agent",), ttl=timedelta(hours=1))
        producer = AIOKafkaProducer(
            bootstrap_servers=stack.kafka_bootstrap, acks="all", linger_ms=0
        )
        await producer.start()
        console = Console()
        async with (
            httpx.AsyncClient(base_url=stack.base_url("intake"), timeout=30) as stream_client,
            httpx.AsyncClient(base_url=stack.base_url("intake"), timeout=30) as client,
        ):
            follower = asyncio.create_task(console.follow(stream_client, token))
            try:
                async with asyncio.timeout(30):
                    await console.opened.wait()

                async def by_webhook(call_id: str) -> None:
                    body = ringing(call_id).model_dump(mode="json")
                    r = await client.post("/cti/events", json=body, headers={"X-Api-Key": API_KEY})
                    r.raise_for_status()

                async def by_topic(call_id: str) -> None:
                    event = ringing(call_id)
                    envelope = c.new_envelope(event, source="/bench/pbx")
                    await producer.send_and_wait(
                        topics.CHANNELS_CTI,
                        c.encode(event),
                        key=call_id.encode(),
                        headers=[(k, v.encode()) for k, v in c.to_headers(envelope).items()],
                    )

                print("warming up (the consumer group forming)...", flush=True)
                for _ in range(args.warmup):
                    await warm_up(console, by_webhook, "warm-webhook")
                    await warm_up(console, by_topic, "warm-topic")
                pause = args.pause_ms / 1000
                print(f"timing {args.count} ringing calls per path, one at a time...", flush=True)
                webhook = await measure(console, by_webhook, "webhook", args.count, pause)
                measured_webhook = figures(webhook)
                show("webhook", measured_webhook, len(webhook))
                topic = await measure(console, by_topic, "topic", args.count, pause)
                measured_topic = figures(topic)
                show("topic", measured_topic, len(topic))
            finally:
                follower.cancel()
                with contextlib.suppress(asyncio.CancelledError, httpx.HTTPError):
                    await follower
                await producer.stop()
    return {
        "calls_per_path": args.count,
        "webhook": measured_webhook,
        "topic": measured_topic,
        "within_200ms": {
            "webhook": round(sum(s <= 200 for s in webhook) / len(webhook), 4),
            "topic": round(sum(s <= 200 for s in topic) / len(topic), 4),
        },
    }


def cli() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=300, help="timed calls per path")
    parser.add_argument("--warmup", type=int, default=10, help="untimed calls per path")
    parser.add_argument("--pause-ms", type=float, default=20.0, help="pause between calls")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="caseflow-bench-screenpop-"))
    try:
        result = uvloop.run(run(args, home))
    except BaseException:
        print(f"the run failed; its logs are kept in {home}", file=sys.stderr, flush=True)
        raise
    shutil.rmtree(home, ignore_errors=True)
    print(json.dumps(result))


if __name__ == "__main__":
    cli()
