"""Case reports benchmark: `GET /reports/cases` over 100,000 cases, on the embedded stack.

Starts the embedded PostgreSQL and Tansu (the service connects to a broker at start, though a
report reads only the database), migrates a cases database and fills it with COPY: a year of
cases over several accounts, contacts, agents, channels, request types and statuses, with
time totals, resolutions, reopenings, cancellations, decisions and overdue flags. Then it
serves the cases service (`python -m cases serve`) and times reports over HTTP, one request
at a time: each report a few times to warm up, then `--repeat` times.

Each report's p50/p95/max is printed; the last line is one JSON object with the figures.
`make bench-reports` runs it with defaults.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import random
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import httpx
import uvloop

from caseflow_devstack import EmbeddedKafka, EmbeddedPostgres, free_port
from caseflow_devstack.children import exit_with_parent
from caseflow_servicekit import mint_token
from caseflow_servicekit.migrations import upgrade
from cases.bootstrap import MIGRATIONS

# Tokens for this run only, signed with a secret of its own.
SECRET = secrets.token_urlsafe(32)
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
YEAR_AGO = NOW - timedelta(days=365)
QUARTER_AGO = NOW - timedelta(days=91)
MONTH_AGO = NOW - timedelta(days=30)

# name: (query parameters, Accept header)
REPORTS: dict[str, tuple[dict[str, str], str]] = {
    "by_agent_year": ({"group_by": "agent"}, "application/json"),
    "by_account_status_year": ({"group_by": "account,status"}, "application/json"),
    "by_request_type_channel_quarter": (
        {"group_by": "request_type,channel", "from": QUARTER_AGO.isoformat()},
        "application/json",
    ),
    "by_decision_resolution_quarter": (
        {"group_by": "decision,resolution", "from": QUARTER_AGO.isoformat()},
        "application/json",
    ),
    "by_agent_status_month_email": (
        {"group_by": "agent,status", "from": MONTH_AGO.isoformat(), "channel": "email"},
        "application/json",
    ),
    "by_account_agent_year": ({"group_by": "account,agent"}, "application/json"),
    "csv_by_account_agent_year": ({"group_by": "account,agent"}, "text/csv"),
}

CHANNELS = ("email", "web", "phone", "api")
CHANNEL_WEIGHTS = (45, 30, 20, 5)
REQUEST_TYPES = tuple(
    f"{kind}.{topic}"
    for kind in ("repair", "billing", "access", "delivery")
    for topic in ("standard", "urgent", "question")
)
STATUSES = ("new", "in_progress", "on_hold", "waiting_for_customer", "resolved", "cancelled")
RESOLUTIONS = ("fixed", "replaced", "refunded", "workaround", "no_fault_found", "duplicate")
DECISIONS = (("accept", "accepted"), ("refuse", "refused"), ("refer", "other"))
PRIORITIES = ("low", "normal", "high", "urgent")

CASE_COLUMNS = (
    "case_id",
    "number",
    "channel",
    "contact_id",
    "account_id",
    "subject",
    "description",
    "request_type",
    "parameters",
    "priority",
    "status",
    "opened_at",
    "updated_at",
    "reopen_count",
    "first_contact",
    "resolved_at",
    "closed_at",
    "reopened_at",
    "resolution_code",
    "billable_minutes",
    "total_minutes",
    "call_minutes",
    "queue_id",
    "queue_name",
    "assignee_id",
    "sla",
    "overdue",
)
DECISION_COLUMNS = ("decision_id", "case_id", "code", "outcome", "text", "recorded_at")


def _uuid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def _sla(due: datetime, status: str, breached: bool, at: datetime) -> str:
    entry = {"status": status, "due_at": due.isoformat(), "breached": breached}
    return json.dumps({"resolution": {**entry, "at": at.isoformat(), "instance_id": None}})


def generate(count: int, seed: int = 7) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """`count` cases opened over the year to NOW, and the decisions recorded on some."""
    rng = random.Random(seed)
    accounts = [_uuid(rng) for _ in range(400)]
    contacts = [(_uuid(rng), rng.choice(accounts)) for _ in range(12_000)]
    agents = [_uuid(rng) for _ in range(40)]
    queues = [(_uuid(rng), f"Queue {n}") for n in range(8)]
    cases: list[tuple[Any, ...]] = []
    decisions: list[tuple[Any, ...]] = []
    for n in range(count):
        case_id = _uuid(rng)
        opened = YEAR_AGO + timedelta(seconds=rng.uniform(0, 365 * 86400))
        age = NOW - opened
        contact, account = rng.choice(contacts)
        # Older cases are more often finished.
        finished = rng.random() < min(0.97, 0.3 + age / timedelta(days=20))
        status = (
            ("resolved" if rng.random() < 0.9 else "cancelled")
            if finished
            else rng.choice(STATUSES[:4])
        )
        resolve_after = timedelta(hours=rng.lognormvariate(math.log(20), 1.2))
        resolved_at = closed_at = reopened_at = None
        resolution = None
        reopens = 0
        if status == "resolved":
            resolved_at = min(opened + resolve_after, NOW)
            closed_at = resolved_at
            resolution = rng.choice(RESOLUTIONS)
            if rng.random() < 0.05:  # reopened once, resolved again
                reopened_at = resolved_at + timedelta(hours=rng.uniform(1, 72))
                resolved_at = reopened_at + timedelta(hours=rng.uniform(1, 48))
                reopened_at, resolved_at = min(reopened_at, NOW), min(resolved_at, NOW)
                closed_at = resolved_at
                reopens = 1
        elif status == "cancelled":
            closed_at = min(opened + timedelta(hours=rng.uniform(0.1, 96)), NOW)
        elif rng.random() < 0.1:  # reopened and open again
            reopened_at = min(opened + resolve_after, NOW)
            resolved_at = opened + resolve_after / 2
            reopens = 1
        total = int(rng.expovariate(1 / 45)) if status != "new" else 0
        billable = int(total * rng.uniform(0.3, 1.0))
        calls = int(total * rng.uniform(0, 0.6)) if rng.random() < 0.5 else 0
        due = opened + timedelta(hours=24)
        breached = (resolved_at or NOW) >= due
        open_now = status not in ("resolved", "cancelled")
        overdue = breached and open_now
        sla_status = "breached" if overdue else ("succeeded" if not open_now else "in_progress")
        queue_id, queue_name = rng.choice(queues) if open_now else (None, None)
        agent = rng.choice(agents) if status != "new" or rng.random() < 0.3 else None
        cases.append(
            (
                case_id,
                f"CAS-{opened.year}-{n + 1:07d}",
                rng.choices(CHANNELS, CHANNEL_WEIGHTS)[0],
                contact,
                account if rng.random() < 0.9 else None,
                f"Request {n}",
                "Generated for the reports benchmark.",
                rng.choice(REQUEST_TYPES) if rng.random() < 0.95 else None,
                "{}",
                rng.choice(PRIORITIES),
                status,
                opened,
                closed_at or opened,
                reopens,
                rng.random() < 0.1,
                resolved_at,
                closed_at,
                reopened_at,
                resolution,
                billable,
                total,
                calls,
                queue_id,
                queue_name,
                agent,
                _sla(due, sla_status, breached, min(due, NOW)),
                overdue,
            )
        )
        if status == "resolved" and rng.random() < 0.3:
            for k in range(rng.choice((1, 1, 2))):
                code, outcome = rng.choice(DECISIONS)
                decisions.append(
                    (
                        _uuid(rng),
                        case_id,
                        code,
                        outcome,
                        "",
                        opened + (resolve_after * (k + 1) / 3),
                    )
                )
    return cases, decisions


async def load(url: str, count: int) -> tuple[int, int, float]:
    """Migrate and fill the cases database; (cases, decisions, seconds)."""
    started = time.perf_counter()
    await asyncio.to_thread(upgrade, url, MIGRATIONS)
    cases, decisions = generate(count)
    connection = await asyncpg.connect(url)
    try:
        await connection.copy_records_to_table("cases", records=cases, columns=CASE_COLUMNS)
        await connection.copy_records_to_table(
            "case_decisions", records=decisions, columns=DECISION_COLUMNS
        )
        await connection.execute("ANALYZE cases; ANALYZE case_decisions")
    finally:
        await connection.close()
    return len(cases), len(decisions), time.perf_counter() - started


@contextlib.contextmanager
def serving(url: str, bootstrap: str, port: int, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """The cases service as a process of its own, stopped on leaving."""
    environ = {
        **os.environ,
        "CASES_DATABASE_URL": url,
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "HTTP_HOST": "127.0.0.1",
        "HTTP_PORT": str(port),
        "CASEFLOW_AUTH_SECRET": SECRET,
        "CASEFLOW_LOG_LEVEL": "WARNING",
    }
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "cases", "serve"],
            env=environ,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            # Gone with us if we are killed before we stop it.
            preexec_fn=exit_with_parent(signal.SIGTERM),
        )
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def wait_ready(client: httpx.AsyncClient, process: subprocess.Popen[bytes]) -> None:
    deadline = time.perf_counter() + 60
    while time.perf_counter() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the cases service exited with {process.returncode}")
        with contextlib.suppress(httpx.TransportError):
            if (await client.get("/health/live")).status_code == 200:
                return
        await asyncio.sleep(0.2)
    raise TimeoutError("the cases service did not start within 60 s")


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


async def time_reports(
    client: httpx.AsyncClient, repeat: int, warmup: int
) -> dict[str, dict[str, Any]]:
    token = mint_token(SECRET, subject="bench", roles=("supervisor",), ttl=timedelta(hours=1))
    results: dict[str, dict[str, Any]] = {}
    for name, (params, accept) in REPORTS.items():
        query = {"from": YEAR_AGO.isoformat(), "to": NOW.isoformat(), **params}
        headers = {"Authorization": f"Bearer {token}", "Accept": accept}
        samples: list[float] = []
        rows = 0
        for i in range(warmup + repeat):
            started = time.perf_counter()
            r = await client.get("/reports/cases", params=query, headers=headers)
            elapsed = (time.perf_counter() - started) * 1000
            r.raise_for_status()
            if i >= warmup:
                samples.append(elapsed)
            if i == 0:
                rows = (
                    len(r.text.splitlines()) - 1 if accept == "text/csv" else len(r.json()["rows"])
                )
        results[name] = {
            "p50_ms": round(_percentile(samples, 50), 1),
            "p95_ms": round(_percentile(samples, 95), 1),
            "max_ms": round(max(samples), 1),
            "rows": rows,
        }
        figures = results[name]
        print(
            f"  {name:34s} p50 {figures['p50_ms']:7.1f} ms  p95 {figures['p95_ms']:7.1f} ms"
            f"  max {figures['max_ms']:7.1f} ms  ({rows} rows)",
            flush=True,
        )
    return results


async def main(args: argparse.Namespace, home: Path) -> dict[str, Any]:
    postgres = EmbeddedPostgres(
        home / "postgres", log_file=home / "postgres.log", exit_with_parent=True
    )
    kafka = EmbeddedKafka(log_file=home / "tansu.log", exit_with_parent=True)
    with contextlib.ExitStack() as stack:
        print("starting PostgreSQL and Tansu...", flush=True)
        stack.enter_context(postgres)
        stack.enter_context(kafka)
        postgres.ensure_database("caseflow_cases")
        url = postgres.url("caseflow_cases")
        print(f"loading {args.cases} cases...", flush=True)
        count, decided, seconds = await load(url, args.cases)
        print(f"  {count} cases, {decided} decisions in {seconds:.1f} s", flush=True)
        port = free_port()
        process = stack.enter_context(
            serving(url, kafka.bootstrap_servers, port, home / "cases.log")
        )
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            await wait_ready(client, process)
            print(
                f"timing {len(REPORTS)} reports, {args.repeat} times each "
                f"after {args.warmup} warm-up requests...",
                flush=True,
            )
            reports = await time_reports(client, args.repeat, args.warmup)
    return {
        "cases": count,
        "decisions": decided,
        "repeat": args.repeat,
        "reports": reports,
        "max_p95_ms": max(r["p95_ms"] for r in reports.values()),
    }


def cli() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cases", type=int, default=100_000, help="cases to load")
    parser.add_argument("--repeat", type=int, default=20, help="timed requests per report")
    parser.add_argument("--warmup", type=int, default=3, help="untimed requests per report")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="caseflow-bench-reports-"))
    try:
        figures = uvloop.run(main(args, home))
    except BaseException:
        print(f"the run failed; its logs are kept in {home}", file=sys.stderr, flush=True)
        raise
    shutil.rmtree(home, ignore_errors=True)
    print(json.dumps(figures))


if __name__ == "__main__":
    cli()
