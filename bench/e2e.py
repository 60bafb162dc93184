"""End-to-end benchmark: web submissions through intake, cases and sla, on the embedded stack.

Measured in one run, on one machine:
- throughput: N submissions sent as fast as the HTTP edge takes them; cases per second from
  the first submission to the last first-response KPI started (seen on `sla.kpi.v1`);
- latency at a fixed offered rate: from sending a submission to seeing its first-response
  KpiStarted, p50/p95/p99;
- a baseline: the same number of messages relayed through the same number of Kafka hops by
  bare aiokafka consumers and producers in separate processes, with no database, committing
  each offset after its send as the services do.

The last line printed is one JSON object with the figures. `make bench` runs it with defaults.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvloop
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

import caseflow_contracts as c
from caseflow_contracts import topics
from caseflow_devstack import Stack, create_topics, free_port
from caseflow_devstack.processes import ServiceSpec

API_KEY = "bench-web-key"
# The flow crosses three Kafka hops: intake -> cases -> sla -> (observer).
HOPS = 3
SERVICES = ("intake", "cases", "routing", "sla")


@dataclass
class Observer:
    """Follows cases.case.v1 and sla.kpi.v1 and timestamps what it sees."""

    bootstrap: str
    case_of_interaction: dict[str, str] = field(default_factory=dict)
    kpi_seen_at: dict[str, float] = field(default_factory=dict)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self, ready: asyncio.Event) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap, enable_auto_commit=False, fetch_max_wait_ms=10
        )
        await consumer.start()
        try:
            await consumer.topics()
            partitions = [
                TopicPartition(t, p)
                for t in (topics.CASES, topics.SLA)
                for p in consumer.partitions_for_topic(t) or ()
            ]
            consumer.assign(partitions)
            await consumer.seek_to_end(*partitions)
            for tp in partitions:
                await consumer.position(tp)
            ready.set()
            while True:
                batch = await consumer.getmany(timeout_ms=100)
                now = time.perf_counter()
                for records in batch.values():
                    for record in records:
                        kind = dict(record.headers).get("ce_type", b"").decode()
                        if kind == "case.opened":
                            event = c.decode(kind, record.value)
                            assert isinstance(event, c.CaseOpened)
                            self.case_of_interaction[str(event.interaction_id)] = str(event.case_id)
                        elif kind == "kpi.started":
                            event = c.decode(kind, record.value)
                            assert isinstance(event, c.KpiStarted)
                            if event.kpi == "first_response":
                                self.kpi_seen_at.setdefault(str(event.case_id), now)
                if batch:
                    self.changed.set()
        finally:
            await consumer.stop()

    def done_at(self, interaction_id: str) -> float | None:
        case_id = self.case_of_interaction.get(interaction_id)
        return None if case_id is None else self.kpi_seen_at.get(case_id)


def _submission(i: int) -> dict[str, Any]:
    tag = uuid.uuid4().hex[:12]
    return {
        "name": f"Customer {i}",
        "email": f"customer.{tag}@example.org",
        "subject": f"Request {i} ({tag})",
        "body": "Our invoice was charged twice; please refund the second charge.",
    }


async def _submit(client: httpx.AsyncClient, i: int, attempts: int = 3) -> tuple[str, float]:
    """Send one submission as a channel should: a connection lost on the way is retried
    with the same Idempotency-Key, which makes intake answer the first request's result."""
    sent = time.perf_counter()
    body = _submission(i)
    headers = {"X-Api-Key": API_KEY, "Idempotency-Key": str(uuid.uuid4())}
    attempt = 1
    while True:
        try:
            r = await client.post("/web-submissions", json=body, headers=headers)
        except httpx.TransportError:
            if attempt == attempts:
                raise
            attempt += 1
            continue
        r.raise_for_status()
        return str(r.json()["interaction_id"]), sent


async def _wait_all(observer: Observer, interactions: list[str], timeout: float) -> float:
    deadline = time.perf_counter() + timeout
    while True:
        done = [observer.done_at(i) for i in interactions]
        if all(d is not None for d in done):
            return max(d for d in done if d is not None)
        if time.perf_counter() > deadline:
            missing = sum(d is None for d in done)
            msg = f"{missing} of {len(interactions)} cases did not reach the SLA within {timeout}s"
            raise TimeoutError(msg)
        observer.changed.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(observer.changed.wait(), timeout=1.0)


async def throughput(
    client: httpx.AsyncClient, observer: Observer, n: int, concurrency: int
) -> float:
    """Cases per second: N submissions as fast as possible, until the last KPI started."""
    limit = asyncio.Semaphore(concurrency)
    results: list[tuple[str, float]] = []

    async def one(i: int) -> None:
        async with limit:
            results.append(await _submit(client, i))

    started = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(n)))
    finished = await _wait_all(observer, [r[0] for r in results], timeout=600)
    return n / (finished - started)


async def latency(
    client: httpx.AsyncClient, observer: Observer, rate: float, seconds: float
) -> list[float]:
    """Milliseconds from sending each submission to its first-response KPI, at `rate`/s."""
    count = int(rate * seconds)
    start = time.perf_counter() + 0.1
    tasks = []
    for i in range(count):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(_submit(client, i)))
    sent = await asyncio.gather(*tasks)
    await _wait_all(observer, [s[0] for s in sent], timeout=300)
    return [((observer.done_at(i) or 0.0) - t) * 1000 for i, t in sent]


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


# --- baseline: bare relays -----------------------------------------------------------------


async def relay(bootstrap: str, source: str, target: str, group: str) -> None:
    """Consume `source`, produce each message to `target`, commit after the send."""
    consumer = AIOKafkaConsumer(
        source,
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=50,
        session_timeout_ms=6000,
        heartbeat_interval_ms=500,
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=0)
    await consumer.start()
    await producer.start()
    try:
        async for record in consumer:
            await producer.send_and_wait(
                target, record.value, key=record.key, headers=record.headers
            )
            await consumer.commit()
    finally:
        await consumer.stop()
        await producer.stop()


async def baseline(bootstrap: str, n: int) -> float:
    """Messages per second through HOPS topics and HOPS - 1 relay processes."""
    run = uuid.uuid4().hex[:8]
    names = [f"bench-{run}.hop{i}" for i in range(HOPS)]
    await create_topics(bootstrap, names, partitions=3)
    relays = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            __file__,
            "--relay",
            bootstrap,
            names[i],
            names[i + 1],
            f"relay-{run}-{i}",
        )
        for i in range(HOPS - 1)
    ]
    sink = AIOKafkaConsumer(
        names[-1],
        bootstrap_servers=bootstrap,
        group_id=f"sink-{run}",
        auto_offset_reset="earliest",
        fetch_max_wait_ms=50,
        session_timeout_ms=6000,
        heartbeat_interval_ms=500,
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=0)
    await sink.start()
    await producer.start()
    try:
        # Warm the consumer groups up so their joining is not counted.
        await producer.send_and_wait(names[0], b"warm-up", key=b"w")
        await sink.getone()
        body = c.encode(c.sample("interaction.received"))
        started = time.perf_counter()
        sends = [producer.send(names[0], body, key=str(i % 97).encode()) for i in range(n)]
        await asyncio.gather(*(await asyncio.gather(*sends)))
        received = 0
        while received < n:
            batch = await sink.getmany(timeout_ms=1000)
            received += sum(len(r) for r in batch.values())
        return n / (time.perf_counter() - started)
    finally:
        await sink.stop()
        await producer.stop()
        for process in relays:
            process.terminate()
            await process.wait()


# --- main -----------------------------------------------------------------------------------


async def main(args: argparse.Namespace) -> dict[str, Any]:
    home = Path(tempfile.mkdtemp(prefix="caseflow-bench-"))
    try:
        result = await _measure(args, home)
    except BaseException:
        # The services' and brokers' logs tell why a run failed: keep them.
        print(f"the run failed; its logs are kept in {home}", file=sys.stderr, flush=True)
        raise
    shutil.rmtree(home, ignore_errors=True)
    return result


async def _measure(args: argparse.Namespace, home: Path) -> dict[str, Any]:
    environ = {
        **os.environ,
        "CASEFLOW_CHANNEL_API_KEYS": f"web:{API_KEY}",
        "CASEFLOW_LOG_LEVEL": "WARNING",
        # The benchmark is one abusive-looking client: one address, one key, thousands of
        # requests a minute. It measures the pipeline, so intake's anti-abuse limits are off.
        "INTAKE_RATE_LIMIT_PER_ADDRESS": "0",
        "INTAKE_RATE_LIMIT_PER_KEY": "0",
    }
    if not args.external:
        for name in ("KAFKA_BOOTSTRAP_SERVERS", "CASEFLOW_DATABASE_URL"):
            environ.pop(name, None)
    services = [ServiceSpec(name, free_port()) for name in SERVICES]
    async with Stack(home=home, services=services, environ=environ, ready_timeout=120) as stack:
        observer = Observer(stack.kafka_bootstrap)
        ready = asyncio.Event()
        watcher = asyncio.create_task(observer.run(ready))
        await ready.wait()
        limits = httpx.Limits(
            max_connections=args.concurrency, max_keepalive_connections=args.concurrency
        )
        async with httpx.AsyncClient(
            base_url=stack.base_url("intake"), timeout=60, limits=limits
        ) as client:
            print("warming up (consumer groups forming)...", flush=True)
            warm = [await _submit(client, i) for i in range(20)]
            await _wait_all(observer, [w[0] for w in warm], timeout=120)

            print(
                f"throughput: {args.count} submissions, {args.concurrency} at a time...", flush=True
            )
            cases_s = await throughput(client, observer, args.count, args.concurrency)
            print(f"  {cases_s:.1f} cases/s", flush=True)

            print(f"latency: {args.rate:g} submissions/s for {args.seconds:g} s...", flush=True)
            lat = await latency(client, observer, args.rate, args.seconds)
            p50, p95, p99 = (_percentile(lat, q) for q in (50, 95, 99))
            print(
                f"  p50 {p50:.1f} ms  p95 {p95:.1f} ms  p99 {p99:.1f} ms  max {max(lat):.1f} ms",
                flush=True,
            )
        watcher.cancel()

        print(f"baseline: {args.count} messages through {HOPS} hops, bare relays...", flush=True)
        base = await baseline(stack.kafka_bootstrap, args.count)
        print(f"  {base:.1f} msgs/s", flush=True)
    return {
        "throughput_cases_s": round(cases_s, 1),
        "p50_ms": round(p50, 1),
        "p95_ms": round(p95, 1),
        "p99_ms": round(p99, 1),
        "offered_rate": args.rate,
        "baseline_msgs_s": round(base, 1),
        "ratio_to_baseline": round(cases_s / base, 3),
        "cases_measured": args.count,
        "latency_samples": len(lat),
        "mean_ms": round(statistics.fmean(lat), 1),
    }


def cli() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--count", type=int, default=2000, help="submissions for the throughput run"
    )
    parser.add_argument("--concurrency", type=int, default=32, help="requests in flight at once")
    parser.add_argument("--rate", type=float, default=50.0, help="offered rate for the latency run")
    parser.add_argument("--seconds", type=float, default=30.0, help="length of the latency run")
    parser.add_argument(
        "--external",
        action="store_true",
        help="use KAFKA_BOOTSTRAP_SERVERS / CASEFLOW_DATABASE_URL",
    )
    parser.add_argument(
        "--relay",
        nargs=4,
        metavar=("BOOTSTRAP", "SOURCE", "TARGET", "GROUP"),
        help=argparse.SUPPRESS,
    )
    args = parser.parse_args()
    # The services run on uvloop; so do the load generator and the relays.
    if args.relay:
        uvloop.run(relay(*args.relay))
        return
    figures = uvloop.run(main(args))
    print(json.dumps(figures))


if __name__ == "__main__":
    cli()
