"""SLA timer benchmark: KPI warnings and breaches fired by the timer, due time to outbox.

Starts the embedded PostgreSQL (with `track_commit_timestamp` on, so that the moment each
outbox row was committed can be read back), migrates an SLA database and loads `--pending`
KPI instances due over the coming days straight into `kpi_instances` and `case_slas` with
`INSERT … SELECT generate_series`, on the default policy and 24x7 calendar the migration
seeds (looked up in the database): cases opened over the last five days, each with its
resolution KPI running towards its deadline, and the cases opened in the last hours with
their first response running towards its warning too. Nothing of these falls due during the
run. A sample of the loaded rows is read back into the domain's `KpiInstance` to check that
their deadlines, warnings and `next_check_at` are the ones the domain would give them.

Then `--due` more KPI instances, built with the domain's `start_kpi` (and `tick`, for the
ones whose warning has already fired) and loaded with COPY, fall due within
`--window-seconds`: a third are resolutions reaching their deadline, a third first responses
reaching their warning and a third first responses, already warned, reaching their deadline;
each must fire exactly one event (`kpi.breached` or `kpi.nearing_breach`), and each breach
the first step of the default escalation ladder (`kpi.escalated`, in the same transaction).
With `--assigned`, that share of their cases is assigned to agents with managers (in SLA's
copies of routing's data), so that the timer also asks intake to tell the agent of a warning
(one `notification.requested` each) and escalates a breach to the agent's manager (the
step's `escalated_to`), counted and checked too.

The SLA timer runs on them as the service runs it: `sla.bootstrap.build` wires the service
(its own `Kit`: engine, sessions, outbox) and its `PeriodicJob` (`tick_kpis` on a fresh
`SqlSlaUnitOfWork` per batch of `timer_batch_size`, with the system clock, every
`timer_interval_seconds`: the service's defaults unless `--interval` or `--batch-size` say
otherwise) is started alone, without the HTTP app or Kafka. The window opens half an
interval after the timer's first pass, so the burst meets the timer at no particularly lucky
or unlucky moment.

Measured, from the database: the firing lag, from each KPI's due moment (the event's
`occurred_at`) to the commit of the transaction that put its event in the outbox (the
commit timestamp of the outbox row), p50, p99 and max; the firings per second while the
burst drains (from the start of the first transaction that fired one of them to the commit
of the last), and while a transaction was firing (their busy time, overlaps counted once).
The claim's query plan is printed (EXPLAIN ANALYZE, with the burst due and with nothing
due), and the claim statement the service sent, captured from its engine. Then the same with
two replicas on a fresh burst: two `build`s, two engines, two timers started together in
this one process (so sharing its one Python thread); and once more with each of the two in
a process of its own, as replicas are deployed. Last, one replica again on the same number
falling due over `--spread-seconds` (20 s: 1,000 a second, half the rate goal), as deadlines
arrive from day to day, below the rate the timer fires at: its lag is the one the goal of
1 s (p99) is held to, the way latency is judged below saturation; the bursts' rate is the
one the goal of 2,000 firings per second is (a burst faster than the timers fire waits, and
its lag is printed too). Every outbox row is counted per KPI instance and event type: none
may fire twice, and none may be missed.

No Kafka runs: the events stay in the outbox table, where the relay would take them from. The
last line printed is one JSON object with the figures. `make bench-sla-timers` runs it with
defaults; `--quick` runs a small one.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import random
import shutil
import signal
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg  # type: ignore[import-untyped]
import structlog
import uvloop
from sqlalchemy import event

from caseflow_devstack import EmbeddedPostgres
from caseflow_devstack.children import exit_with_parent
from caseflow_servicekit import PeriodicJob, ServiceApp
from caseflow_servicekit.migrations import upgrade
from sla.app.handlers import FIRST_RESPONSE, RESOLUTION
from sla.bootstrap import MIGRATIONS, build
from sla.domain import Calendar, KpiDefinition, KpiInstance, KpiStatus, WorkingInterval, start_kpi
from sla.settings import SlaSettings

GOAL_P99_LAG_MS = 1000
GOAL_FIRINGS_PER_S = 2000
DEFAULT_INTERVAL = float(SlaSettings.model_fields["timer_interval_seconds"].default)
DEFAULT_BATCH = int(SlaSettings.model_fields["timer_batch_size"].default)
BREACHED = "kpi.breached"
NEARING_BREACH = "kpi.nearing_breach"
ESCALATED = "kpi.escalated"
# Nothing loaded as pending falls due before this long after loading: not during the run.
PENDING_HORIZON = timedelta(hours=1)
WHOLE_DAY = "00:00-24:00"
# The bench's own database sessions, left out of what the timer's sessions are seen doing.
BENCH_APP = "caseflow-bench"

KPI_COLUMNS = (
    "instance_id",
    "case_id",
    "policy_id",
    "kpi",
    "target",
    "warn_after",
    "started_at",
    "status",
    "consumed",
    "running_since",
    "due_at",
    "warn_at",
    "warned_at",
    "next_check_at",
    "updated_at",
)
CASE_COLUMNS = ("case_id", "policy_id", "calendar_id", "opened_at", "recorded_at")
MANAGERS = 20
AGENTS = 200
# As `SqlKpiRepository.claim_due` words it, for EXPLAIN (the run prints the statement the
# service really sent, captured from its engine).
CLAIM_SQL = (
    "SELECT * FROM kpi_instances WHERE next_check_at <= $1 ORDER BY next_check_at "
    "LIMIT $2 FOR UPDATE SKIP LOCKED"
)

CLAIM = "claim (SELECT ... FOR UPDATE SKIP LOCKED)"
FAILED_PASSES: Counter[str] = Counter()


# --- what the migration seeded ------------------------------------------------------------------


@dataclass(frozen=True)
class Seeded:
    policy_id: UUID
    calendar_id: UUID
    calendar: Calendar
    first_response: KpiDefinition
    resolution: KpiDefinition


async def seeded(connection: asyncpg.Connection) -> Seeded:
    """The default policy, its KPIs and its calendar, as the migration seeded them."""
    policy = await connection.fetchrow(
        "SELECT policy_id, calendar_id FROM sla_policies WHERE is_default"
    )
    if policy is None:
        raise RuntimeError("the migration seeded no default SLA policy")
    calendar = await connection.fetchrow(
        "SELECT time_zone, week FROM calendars WHERE calendar_id = $1", policy["calendar_id"]
    )
    week = json.loads(calendar["week"])
    if any(day != [WHOLE_DAY] for day in week):
        # The pending rows are written with SQL that adds targets as plain intervals.
        raise RuntimeError(f"the default calendar is not 24x7: {week}")
    definitions = {
        row["name"]: KpiDefinition(row["name"], row["target"], row["warn_before"])
        for row in await connection.fetch(
            "SELECT name, target, warn_before FROM sla_policy_kpis WHERE policy_id = $1",
            policy["policy_id"],
        )
    }
    first, resolution = definitions.get(FIRST_RESPONSE), definitions.get(RESOLUTION)
    if first is None or resolution is None or first.warn_after is None:
        raise RuntimeError(f"the default policy's KPIs are not as expected: {definitions}")
    return Seeded(
        policy_id=policy["policy_id"],
        calendar_id=policy["calendar_id"],
        calendar=Calendar(
            time_zone=calendar["time_zone"],
            week=tuple(tuple(WorkingInterval.parse(text) for text in day) for day in week),
            holidays=frozenset(),
            special_days={},
        ),
        first_response=first,
        resolution=resolution,
    )


# --- the pending KPIs, loaded in bulk -----------------------------------------------------------


def _kpi_insert(where: str) -> str:
    """One KPI for each case of `bench_cases` matching `where`, from its opening: running,
    warned already if its warning moment has passed ($5), checked next at its warning or
    deadline (as `KpiInstance.next_check_at`; on the 24x7 calendar a target is a plain
    interval). $1 policy, $2 KPI name, $3 target, $4 warn_after."""
    return f"""
        INSERT INTO kpi_instances ({", ".join(KPI_COLUMNS)})
        SELECT gen_random_uuid(), case_id, $1, $2, $3::interval, $4::interval, opened_at,
               CASE WHEN opened_at + $4 <= $5 THEN 'nearing_breach' ELSE 'in_progress' END,
               interval '0', opened_at, opened_at + $3, opened_at + $4,
               CASE WHEN opened_at + $4 <= $5 THEN opened_at + $4 END,
               CASE WHEN opened_at + $4 > $5 THEN opened_at + $4 ELSE opened_at + $3 END,
               opened_at
        FROM bench_cases WHERE {where}
    """  # noqa: S608 (`where` is one of two constants)


async def load_pending(connection: asyncpg.Connection, ref: Seeded, count: int) -> int:
    """`count` pending KPI instances on cases opened over the last days; how many cases.

    Cases opened in the last hours (before their first response's warning is `PENDING_HORIZON`
    away) have their first response and resolution running; older ones have met their first
    response (those ended rows are not loaded: the timer never reads them) and their
    resolution runs. Every next check is at least `PENDING_HORIZON` ahead.
    """
    now = datetime.now(UTC)
    first, resolution = ref.first_response, ref.resolution
    assert first.warn_after is not None
    recent_span = first.warn_after - PENDING_HORIZON  # opened since: warning still ahead
    oldest = resolution.target - PENDING_HORIZON  # opened since: deadline still ahead
    # Cases open uniformly over the last `oldest`: the recent ones count two KPIs each.
    share = recent_span / oldest
    recent = round(count * share / (1 + share))
    older = count - 2 * recent
    async with connection.transaction():
        await connection.execute(
            """
            CREATE TEMP TABLE bench_cases ON COMMIT DROP AS
            SELECT gen_random_uuid() AS case_id,
                   $1::timestamptz - $2::interval * random() AS opened_at, true AS recent
            FROM generate_series(1, $3)
            UNION ALL
            SELECT gen_random_uuid(),
                   $1::timestamptz - $2::interval - ($4::interval - $2::interval) * random(),
                   false
            FROM generate_series(1, $5)
            """,
            now,
            recent_span,
            recent,
            oldest,
            older,
        )
        await connection.execute(
            f"INSERT INTO case_slas ({', '.join(CASE_COLUMNS)}) "  # noqa: S608
            "SELECT case_id, $1, $2, opened_at, opened_at FROM bench_cases",
            ref.policy_id,
            ref.calendar_id,
        )
        await connection.execute(
            _kpi_insert("true"),
            ref.policy_id,
            resolution.name,
            resolution.target,
            resolution.warn_after,
            now,
        )
        await connection.execute(
            _kpi_insert("recent"), ref.policy_id, first.name, first.target, first.warn_after, now
        )
    # As a database that has been running a while: statistics, visibility map, hint bits.
    await connection.execute("VACUUM (ANALYZE) kpi_instances")
    await connection.execute("VACUUM (ANALYZE) case_slas")
    return recent + older


async def check_consistent(connection: asyncpg.Connection, ref: Seeded, sample: int) -> int:
    """Read a sample of the loaded rows into `KpiInstance`; raise unless the domain agrees
    with their deadlines, warnings and next checks. How many were checked."""
    rows = await connection.fetch(
        "SELECT * FROM kpi_instances TABLESAMPLE SYSTEM (1) LIMIT $1", sample
    )
    definitions = {d.name: d for d in (ref.first_response, ref.resolution)}
    for row in rows:
        definition = definitions[row["kpi"]]
        instance, _ = start_kpi(
            instance_id=row["instance_id"],
            case_id=row["case_id"],
            policy_id=row["policy_id"],
            definition=definition,
            calendar=ref.calendar,
            now=row["started_at"],
        )
        if row["warned_at"] is not None:
            instance.tick(row["warned_at"])
        stored = KpiInstance(
            **{k: row[k] for k in _INSTANCE_FIELDS}, status=KpiStatus(row["status"])
        )
        if (
            stored != instance
            or stored.next_check_at != row["next_check_at"]
            or stored.consumed_at(row["started_at"], ref.calendar) != timedelta(0)
        ):
            raise RuntimeError(f"loaded row differs from the domain's KPI: {dict(row)}")
    return len(rows)


_INSTANCE_FIELDS = (
    "instance_id",
    "case_id",
    "policy_id",
    "kpi",
    "target",
    "warn_after",
    "started_at",
    "consumed",
    "running_since",
    "due_at",
    "warn_at",
    "paused_at",
    "warned_at",
    "breached_at",
    "ended_at",
)


async def load_agents(connection: asyncpg.Connection, seed: int) -> list[UUID]:
    """`AGENTS` agents in SLA's copy of the agent directory, each with one of `MANAGERS`
    managers; the agents' ids."""
    rng = random.Random(seed)
    managers = [uuid.UUID(int=rng.getrandbits(128), version=4) for _ in range(MANAGERS)]
    agents = [uuid.UUID(int=rng.getrandbits(128), version=4) for _ in range(AGENTS)]
    await connection.executemany(
        "INSERT INTO agents (agent_id, name, manager_id, version) VALUES ($1, $2, $3, 1)",
        [(m, f"Manager {n + 1}", None) for n, m in enumerate(managers)]
        + [(a, f"Agent {n + 1}", managers[n % MANAGERS]) for n, a in enumerate(agents)],
    )
    return agents


# --- the burst: KPIs due within the window, built by the domain ---------------------------------


@dataclass(frozen=True)
class Expected:
    event: str
    at: datetime
    case_id: UUID
    assigned: bool


@dataclass
class Burst:
    expected: dict[UUID, Expected]
    kpi_rows: list[tuple[Any, ...]]
    case_rows: list[tuple[Any, ...]]
    assignees: list[tuple[UUID, UUID]]


def extra_pending(due: int) -> int:
    """Resolutions, due later, of the burst's cases whose first response fires."""
    return sum(1 for i in range(due) if i % 3)


def make_burst(
    ref: Seeded,
    count: int,
    start: datetime,
    window: float,
    seed: int,
    assigned: float,
    agents: Sequence[UUID],
) -> Burst:
    """`count` KPIs falling due from `start` over `window` seconds, in turn: a resolution
    reaching its deadline; a first response reaching its warning; a first response, warned,
    reaching its deadline (these cases' resolutions run on, due days later). A share
    `assigned` of the cases is with one of `agents` (each of whom has a manager)."""
    rng = random.Random(seed)
    burst = Burst({}, [], [], [])
    loaded = datetime.now(UTC)
    first, resolution = ref.first_response, ref.resolution
    assert first.warn_after is not None

    def add(definition: KpiDefinition, case_id: UUID, opened: datetime) -> KpiInstance:
        instance, _ = start_kpi(
            instance_id=uuid.UUID(int=rng.getrandbits(128), version=4),
            case_id=case_id,
            policy_id=ref.policy_id,
            definition=definition,
            calendar=ref.calendar,
            now=opened,
        )
        if instance.warn_at is not None and instance.warn_at <= loaded:
            instance.tick(instance.warn_at)  # the warning fired long ago
        assert instance.next_check_at is not None and instance.next_check_at > loaded
        burst.kpi_rows.append(
            (
                instance.instance_id,
                case_id,
                ref.policy_id,
                instance.kpi,
                instance.target,
                instance.warn_after,
                instance.started_at,
                instance.status.value,
                instance.consumed,
                instance.running_since,
                instance.due_at,
                instance.warn_at,
                instance.warned_at,
                instance.next_check_at,
                opened,
            )
        )
        return instance

    for i in range(count):
        at = start + timedelta(seconds=window * i / max(1, count - 1))
        case_id = uuid.UUID(int=rng.getrandbits(128), version=4)
        kind = i % 3
        if kind == 0:
            opened = at - resolution.target
            fires = add(resolution, case_id, opened)
        else:
            opened = at - (first.warn_after if kind == 1 else first.target)
            fires = add(first, case_id, opened)
            add(resolution, case_id, opened)
        assert fires.next_check_at == at
        assignee = rng.choice(agents) if rng.random() < assigned else None
        burst.expected[fires.instance_id] = Expected(
            NEARING_BREACH if kind == 1 else BREACHED, at, case_id, assignee is not None
        )
        burst.case_rows.append((case_id, ref.policy_id, ref.calendar_id, opened, opened))
        if assignee is not None:
            burst.assignees.append((case_id, assignee))
    return burst


# --- the timer, as the service wires it ---------------------------------------------------------


@dataclass
class Replica:
    app: ServiceApp
    timer: PeriodicJob
    statements: Counter[str] = field(default_factory=Counter)
    claim_sql: str = ""


def replica(url: str, interval: float, batch_size: int) -> Replica:
    """The SLA service as `sla.bootstrap.build` wires it, its timer at hand (not started);
    the statements its engine sends are counted."""
    settings = SlaSettings(
        database_url=url, timer_interval_seconds=interval, timer_batch_size=batch_size
    )
    app = build(settings, configure_process=False)
    timer = app.fastapi.state.kpi_timer
    assert isinstance(timer, PeriodicJob)
    made = Replica(app, timer)

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        kind = statement.lstrip().split(None, 1)[0].upper()
        if "FOR UPDATE SKIP LOCKED" in statement:
            kind = CLAIM
            made.claim_sql = made.claim_sql or " ".join(statement.split())
        made.statements[kind] += 1

    event.listen(app.kit.engine.sync_engine, "before_cursor_execute", count)
    return made


@dataclass
class Stopped:
    """What a replica's timer did, once stopped."""

    statements: Counter[str]
    claim_sql: str
    failed_passes: int
    cpu_s: float | None
    """CPU of the replica's own process while its timer ran; None when it is this one."""


class LocalReplica:
    """A replica in this process, on an engine of its own."""

    def __init__(self, url: str, interval: float, batch_size: int) -> None:
        self._replica = replica(url, interval, batch_size)
        self._failed = 0

    async def start(self) -> None:
        self._failed = sum(FAILED_PASSES.values())
        await self._replica.timer.start()

    async def stop(self) -> Stopped:
        await self._replica.timer.stop()
        await self._replica.app.kit.stop()
        failed = sum(FAILED_PASSES.values()) - self._failed
        return Stopped(self._replica.statements, self._replica.claim_sql, failed, None)


class ProcessReplica:
    """A replica in a process of its own (this script with `--replica-of`): it builds the
    service, says `ready`, starts its timer on `start` and stops it on `stop`, then writes
    what it did as one JSON line."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self._process = process

    @classmethod
    async def open(cls, url: str, interval: float, batch_size: int) -> ProcessReplica:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            __file__,
            "--replica-of",
            url,
            "--interval",
            str(interval),
            "--batch-size",
            str(batch_size),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            # Gone with us if we are killed before we stop it.
            preexec_fn=exit_with_parent(signal.SIGTERM),
        )
        made = cls(process)
        if (await made._line()) != "ready":
            raise RuntimeError("a replica process did not start")
        return made

    async def _line(self) -> str:
        assert self._process.stdout is not None
        async with asyncio.timeout(120):
            return (await self._process.stdout.readline()).decode().strip()

    async def _say(self, word: str) -> None:
        assert self._process.stdin is not None
        self._process.stdin.write(f"{word}\n".encode())
        await self._process.stdin.drain()

    async def start(self) -> None:
        await self._say("start")

    async def stop(self) -> Stopped:
        await self._say("stop")
        done = json.loads(await self._line())
        await self._process.wait()
        return Stopped(
            Counter(done["statements"]), done["claim_sql"], done["failed_passes"], done["cpu_s"]
        )


async def serve_replica(url: str, interval: float, batch_size: int) -> None:
    """The `--replica-of` side of `ProcessReplica`."""
    local = LocalReplica(url, interval, batch_size)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    print("ready", flush=True)
    if (await reader.readline()).strip() != b"start":
        raise RuntimeError("expected `start`")
    cpu = time.process_time()
    await local.start()
    await reader.readline()  # `stop`, or the end of the input
    stopped = await local.stop()
    done = {
        "statements": dict(stopped.statements),
        "claim_sql": stopped.claim_sql,
        "failed_passes": stopped.failed_passes,
        "cpu_s": time.process_time() - cpu,
    }
    print(json.dumps(done), flush=True)


# --- measuring ----------------------------------------------------------------------------------


def _percentile(values: Sequence[float], q: float) -> float:
    """As bench/reports.py reads percentiles."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


def _ms(values: Sequence[float], q: float) -> float:
    return round(_percentile(values, q), 1) if values else 0.0


def process_cpu(pid: int) -> float | None:
    """CPU seconds of a process and its children (live and reaped), from /proc; Linux only."""
    try:
        ticks = os.sysconf("SC_CLK_TCK")
        total = 0
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            with contextlib.suppress(OSError):
                fields = Path(f"/proc/{entry}/stat").read_text().rpartition(")")[2].split()
                if int(entry) == pid:
                    total += sum(int(f) for f in fields[11:15])  # utime stime cutime cstime
                elif int(fields[1]) == pid:
                    total += int(fields[11]) + int(fields[12])
        return total / ticks
    except (OSError, ValueError):
        return None


Sample = tuple[float, tuple[str, ...]]


async def sampling(url: str, stop: asyncio.Event, samples: list[Sample]) -> None:
    """What the timer's database sessions do, every 20 ms (the bench's own are left out):
    waiting on a lock or on I/O, running, or idle in transaction (waiting on Python)."""
    connection = await asyncpg.connect(url, server_settings={"application_name": BENCH_APP})
    try:
        while not stop.is_set():
            rows = await connection.fetch(
                "SELECT state, wait_event_type, wait_event FROM pg_stat_activity "
                "WHERE datname = current_database() AND backend_type = 'client backend' "
                "AND state <> 'idle' AND application_name <> $1",
                BENCH_APP,
            )
            states = []
            for row in rows:
                if row["state"] == "idle in transaction":
                    states.append("client (idle in transaction)")
                elif row["wait_event_type"] is None:
                    states.append("running (CPU)")
                else:
                    states.append(f"{row['wait_event_type']}:{row['wait_event']}")
            samples.append((time.time(), tuple(states)))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=0.02)
    finally:
        await connection.close()


def _union_seconds(intervals: Sequence[tuple[datetime, datetime]]) -> float:
    total = 0.0
    end: datetime | None = None
    for start, stop in sorted(intervals):
        if end is None or start > end:
            total += (stop - start).total_seconds()
            end = stop
        elif stop > end:
            total += (stop - end).total_seconds()
            end = stop
    return total


async def explain_claim(
    connection: asyncpg.Connection, now: datetime, limit: int
) -> tuple[list[str], float]:
    """The plan of the timer's claim at `now` (run, then rolled back), and its time in ms."""
    transaction = connection.transaction()
    await transaction.start()
    try:
        rows = await connection.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {CLAIM_SQL}", now, limit)
    finally:
        await transaction.rollback()
    lines = [row[0] for row in rows]
    took = next(
        (float(line.split(":")[1].split()[0]) for line in lines if "Execution Time" in line), 0.0
    )
    return lines, took


async def run_burst(
    args: argparse.Namespace,
    url: str,
    connection: asyncpg.Connection,
    ref: Seeded,
    agents: Sequence[UUID],
    replicas: int,
    postgres_pid: int | None,
    seed: int,
    *,
    explain: bool = False,
    processes: bool = False,
) -> dict[str, Any]:
    """Load a burst, run `replicas` timers on it until everything fired, measure. The timers
    run in this process, or each in a process of its own."""
    label = "1 replica" if replicas == 1 else f"{replicas} replicas"
    label += " (processes of their own)" if processes else " (in this process)"
    base_id = await connection.fetchval("SELECT coalesce(max(id), 0) FROM outbox")
    # The replicas first: a process of its own takes seconds to import and build the service.
    made: list[LocalReplica | ProcessReplica] = []
    for _ in range(replicas):
        if processes:
            made.append(await ProcessReplica.open(url, args.interval, args.batch_size))
        else:
            made.append(LocalReplica(url, args.interval, args.batch_size))
    # The window opens half an interval after the timers' first pass (centred in the wait
    # when it is shorter than an interval), and after the burst has been loaded.
    offset = max(0.5, (args.interval - args.window_seconds) / 2)
    start_at = time.time() + 4.0 + args.due / 4000
    window_start = datetime.fromtimestamp(start_at + offset, UTC)
    window_end = window_start + timedelta(seconds=args.window_seconds)
    burst = make_burst(
        ref, args.due, window_start, args.window_seconds, seed, args.assigned, agents
    )
    async with connection.transaction():
        await connection.copy_records_to_table(
            "case_slas", records=burst.case_rows, columns=CASE_COLUMNS
        )
        if burst.assignees:
            await connection.copy_records_to_table(
                "case_assignees", records=burst.assignees, columns=("case_id", "agent_id")
            )
        await connection.copy_records_to_table(
            "kpi_instances", records=burst.kpi_rows, columns=KPI_COLUMNS
        )
    await connection.execute("ANALYZE kpi_instances")
    pending = await connection.fetchval(
        "SELECT count(*) FROM kpi_instances WHERE next_check_at > $1", window_end
    )
    assigned = sum(1 for e in burst.expected.values() if e.assigned)
    print(
        f"{label}: {args.due} KPIs due over {args.window_seconds:g} s "
        f"({len(burst.kpi_rows)} rows loaded; {assigned} of their cases assigned to an agent "
        f"with a manager), {pending} pending later; timer every {args.interval:g} s, batches "
        f"of {args.batch_size}",
        flush=True,
    )
    if explain:
        for at, what in ((window_end, f"with the {args.due} due"), (datetime.now(UTC), "none due")):
            plan, took = await explain_claim(connection, at, args.batch_size)
            print(f"  claim plan, {what} ({took:.2f} ms):", flush=True)
            for line in plan:
                print(f"    {line}", flush=True)
    if time.time() > start_at:
        print(f"  (the timers start {time.time() - start_at:.1f} s late)", flush=True)
    await asyncio.sleep(max(0.0, start_at - time.time()))

    samples: list[Sample] = []
    stop_sampling = asyncio.Event()
    sampler = asyncio.create_task(sampling(url, stop_sampling, samples))
    cpu_before = time.process_time()
    pg_before = process_cpu(postgres_pid) if postgres_pid else None
    for r in made:
        await r.start()
    deadline = window_end.timestamp() + 2 * args.interval + 30 + args.due / 100
    try:
        while time.time() < deadline:
            fired = await connection.fetchval(
                "SELECT count(*) FROM outbox WHERE id > $1 "
                "AND headers->>'ce_type' IN ('kpi.breached', 'kpi.nearing_breach')",
                base_id,
            )
            if fired >= args.due:
                break
            await asyncio.sleep(0.2)
        cpu = time.process_time() - cpu_before
        pg_after = process_cpu(postgres_pid) if postgres_pid else None
        stop_sampling.set()
        # One more pass of every timer: anything it fired would be fired twice.
        await asyncio.sleep(args.interval + 0.5)
    finally:
        stop_sampling.set()
        stopped = [await r.stop() for r in made]
        await sampler
    failed = sum(st.failed_passes for st in stopped)
    if processes:  # the timers' CPU, not this process's polling
        cpu = sum(st.cpu_s or 0.0 for st in stopped)

    rows = await connection.fetch(
        """
        SELECT headers->>'ce_type' AS type, convert_from(payload, 'UTF8')::jsonb AS payload,
               created_at, pg_xact_commit_timestamp(xmin) AS committed,
               xmin::text::bigint AS txid
        FROM outbox WHERE id > $1
        """,
        base_id,
    )
    if rows and rows[0]["committed"] is None:
        raise RuntimeError("no commit timestamps: track_commit_timestamp is off")
    kpi_rows = [r for r in rows if r["type"] in (BREACHED, NEARING_BREACH)]
    steps = [json.loads(r["payload"]) for r in rows if r["type"] == ESCALATED]
    notes = [json.loads(r["payload"]) for r in rows if r["type"] == "notification.requested"]
    others = len(rows) - len(kpi_rows) - len(steps) - len(notes)
    per_event = Counter(
        (UUID(json.loads(r["payload"])["kpi_instance_id"]), r["type"]) for r in kpi_rows
    )
    first: dict[UUID, tuple[datetime, datetime]] = {}  # committed, claimed
    for r in kpi_rows:
        key = UUID(json.loads(r["payload"])["kpi_instance_id"])
        if key not in first or r["committed"] < first[key][0]:
            first[key] = (r["committed"], r["created_at"])
    lags, waited = [], []
    missed = 0
    for instance_id, expected in burst.expected.items():
        if per_event[(instance_id, expected.event)] == 0:
            missed += 1
            continue
        committed, claimed = first[instance_id]
        lags.append((committed - expected.at).total_seconds() * 1000)
        waited.append((claimed - expected.at).total_seconds() * 1000)
    fired_twice = sum(1 for n in per_event.values() if n > 1)
    unexpected = sum(
        n
        for (instance_id, kind), n in per_event.items()
        if instance_id not in burst.expected or burst.expected[instance_id].event != kind
    )
    # An assigned case's warning is told to its agent; every breach climbs the first step of
    # the ladder, to the agent's manager when the case has an agent.
    per_note = Counter((note["case_id"], note["template"]) for note in notes)
    notified_twice = sum(1 for n in per_note.values() if n > 1)
    told = {note["case_id"] for note in notes}
    per_step = Counter(UUID(step["kpi_instance_id"]) for step in steps)
    step_to = {UUID(step["kpi_instance_id"]): step["escalated_to"] for step in steps}
    breaches = {i: e for i, e in burst.expected.items() if e.event == BREACHED}
    steps_missed = sum(1 for i in breaches if per_step[i] == 0)
    steps_twice = sum(1 for n in per_step.values() if n > 1)
    not_told = sum(
        1
        for e in burst.expected.values()
        if e.assigned and e.event == NEARING_BREACH and str(e.case_id) not in told
    ) + sum(1 for i, e in breaches.items() if e.assigned and step_to.get(i) is None)
    still_due = await connection.fetchval(
        "SELECT count(*) FROM kpi_instances WHERE instance_id = ANY($1::uuid[]) "
        "AND next_check_at <= $2",
        list(burst.expected),
        window_end,
    )
    # A transaction per batch: its start (the outbox rows' created_at is now(), the start of
    # the transaction), its commit, its firings.
    batches: dict[int, list[Any]] = {}
    for r in kpi_rows:
        batch = batches.setdefault(r["txid"], [r["created_at"], r["committed"], 0])
        batch[2] += 1
    spans = [(b[0], b[1]) for b in batches.values()]
    began = min((b[0] for b in spans), default=window_start)
    ended = max((b[1] for b in spans), default=window_start)
    drain = (ended - began).total_seconds()
    busy = _union_seconds(spans)
    batch_ms = [(b[1] - b[0]).total_seconds() * 1000 for b in batches.values()]
    fired = len(kpi_rows)
    rate = fired / drain if drain else 0.0
    busy_rate = fired / busy if busy else 0.0
    statements = Counter[str]()
    for st in stopped:
        statements.update(st.statements)
    total_statements = sum(statements.values())
    updates = [st.statements["UPDATE"] for st in stopped]
    pg_cpu = None if pg_before is None or pg_after is None else pg_after - pg_before
    # The sessions while the burst drained.
    draining = [states for at, states in samples if began.timestamp() <= at <= ended.timestamp()]
    waits = Counter(state for states in draining for state in states)
    p50, p99, most = _ms(lags, 50), _ms(lags, 99), _ms(lags, 100)
    per_firing = 1000 / max(1, fired)
    print(
        f"  fired {fired} KPI events in {len(batches)} transactions; missed {missed}, fired "
        f"twice {fired_twice}, unexpected {unexpected}, still due {still_due}, failed passes "
        f"{failed}; {len(steps)} escalation steps for {len(breaches)} breaches (missed "
        f"{steps_missed}, twice {steps_twice}); {len(notes)} notifications for {assigned} "
        f"assigned (not told {not_told}, told twice {notified_twice}), {others} other events\n"
        f"  firing lag (due -> committed in the outbox)  p50 {p50:.0f} ms  p99 {p99:.0f} ms  "
        f"max {most:.0f} ms  (goal p99 {GOAL_P99_LAG_MS} ms: "
        f"{'met' if p99 <= GOAL_P99_LAG_MS else 'not met'})\n"
        f"    of which waiting for a pass to claim it   p50 {_ms(waited, 50):.0f} ms  "
        f"p99 {_ms(waited, 99):.0f} ms  max {_ms(waited, 100):.0f} ms\n"
        f"  firings per second  {rate:8.1f} draining the burst "
        f"(first claim to last commit, {drain:.2f} s)  "
        + (
            f"(goal {GOAL_FIRINGS_PER_S}: {'met' if rate >= GOAL_FIRINGS_PER_S else 'not met'})"
            if args.window_seconds == args.burst_seconds
            else f"(as fast as they fell due: {args.due / max(args.window_seconds, 1e-9):.0f}/s)"
        )
        + "\n"
        f"                      {busy_rate:8.1f} while a batch was in hand ({busy:.2f} s busy)\n"
        f"  batch transaction   p50 {_ms(batch_ms, 50):.0f} ms  max {_ms(batch_ms, 100):.0f} ms"
        f"  (p50 {_percentile([b[2] for b in batches.values()], 50) if batches else 0} firings)\n"
        f"  SQL statements {total_statements} ({total_statements * per_firing / 1000:.2f} "
        f"per firing, BEGIN/COMMIT aside): {dict(statements.most_common())}"
        + (f"; UPDATEs per replica {updates}" if replicas > 1 else "")
        + f"\n  CPU per firing: the timers' Python {cpu * per_firing:.2f} ms"
        + (f", PostgreSQL {pg_cpu * per_firing:.2f} ms" if pg_cpu is not None else "")
        + f"; over the drain, the timers' Python {cpu / max(drain, 1e-9):.0%} of a core"
        + (f", PostgreSQL {pg_cpu / max(drain, 1e-9):.0%}" if pg_cpu is not None else "")
        + f" ({os.cpu_count()} cores)\n"
        f"  timer sessions while draining, on average: "
        + (
            ", ".join(f"{name} {n / max(1, len(draining)):.2f}" for name, n in waits.most_common(5))
            or "none busy"
        )
        + f"\n  claim statement sent: {stopped[0].claim_sql or '(none)'}",
        flush=True,
    )
    return {
        "replicas": replicas,
        "replica_processes": processes,
        "pending": pending,
        "due": args.due,
        "fired": fired,
        "p50_lag_ms": p50,
        "p99_lag_ms": p99,
        "max_lag_ms": most,
        "p50_wait_for_claim_ms": _ms(waited, 50),
        "p99_wait_for_claim_ms": _ms(waited, 99),
        "firings_per_second": round(rate, 1),
        "busy_firings_per_second": round(busy_rate, 1),
        "drain_s": round(drain, 2),
        "transactions": len(batches),
        "p50_batch_ms": _ms(batch_ms, 50),
        "statements_per_firing": round(total_statements / max(1, fired), 2),
        "statements": dict(statements),
        "updates_per_replica": updates,
        "fired_twice": fired_twice,
        "missed": missed,
        "unexpected": unexpected,
        "still_due": still_due,
        "failed_passes": failed,
        "assigned": assigned,
        "notifications": len(notes),
        "escalation_steps": len(steps),
        "escalation_steps_missed": steps_missed,
        "escalation_steps_twice": steps_twice,
        "not_told": not_told,
        "notified_twice": notified_twice,
        "client_cpu_ms_per_firing": round(cpu * per_firing, 3),
        "postgres_cpu_ms_per_firing": None if pg_cpu is None else round(pg_cpu * per_firing, 3),
        "session_states": {name: round(n / max(1, len(draining)), 2) for name, n in waits.items()},
    }


async def main(args: argparse.Namespace, home: Path) -> dict[str, Any]:
    postgres = EmbeddedPostgres(
        home / "postgres",
        log_file=home / "postgres.log",
        settings={"track_commit_timestamp": "on"},
        exit_with_parent=True,
    )
    with postgres:
        print("starting PostgreSQL...", flush=True)
        postgres.ensure_database("caseflow_sla")
        url = postgres.url("caseflow_sla")
        await asyncio.to_thread(upgrade, url, MIGRATIONS)
        connection = await asyncpg.connect(url, server_settings={"application_name": BENCH_APP})
        try:
            ref = await seeded(connection)
            bulk = args.pending - extra_pending(args.due)
            print(
                f"loading {bulk} pending KPI instances with INSERT … SELECT generate_series "
                f"(policy {ref.policy_id}, calendar {ref.calendar_id})...",
                flush=True,
            )
            started = time.perf_counter()
            cases = await load_pending(connection, ref, bulk)
            load_s = time.perf_counter() - started
            checked = await check_consistent(connection, ref, 1000)
            print(
                f"  {bulk} KPI instances of {cases} cases in {load_s:.1f} s (with VACUUM "
                f"ANALYZE); {checked} sampled rows agree with the domain's KPIs",
                flush=True,
            )
            agents = await load_agents(connection, args.seed) if args.assigned else []
            pid = postgres.pid
            one = await run_burst(
                args, url, connection, ref, agents, 1, pid, args.seed, explain=True
            )
            two = await run_burst(args, url, connection, ref, agents, 2, pid, args.seed + 1)
            apart = await run_burst(
                args, url, connection, ref, agents, 2, pid, args.seed + 2, processes=True
            )
            # The same number due, spread over a longer window: deadlines arriving below the
            # rate the timer fires at, as they arrive from day to day.
            spread = argparse.Namespace(**{**vars(args), "window_seconds": args.spread_seconds})
            on_time = await run_burst(spread, url, connection, ref, agents, 1, pid, args.seed + 3)
            outbox = await connection.fetchval("SELECT count(*) FROM outbox")
        finally:
            await connection.close()
    print(f"no Kafka: the {outbox} events stay in the outbox table", flush=True)
    return {
        "pending": one["pending"],
        "due": args.due,
        "window_s": args.window_seconds,
        "spread_window_s": args.spread_seconds,
        "interval_s": args.interval,
        "batch_size": args.batch_size,
        # The lag as deadlines arrive below the firing rate; the rate in the burst.
        **{k: on_time[k] for k in ("p50_lag_ms", "p99_lag_ms", "max_lag_ms")},
        "lag_at_due_per_second": round(args.due / max(args.spread_seconds, 1e-9), 1),
        "firings_per_second": one["firings_per_second"],
        "burst_due_per_second": round(args.due / max(args.window_seconds, 1e-9), 1),
        "burst_p99_lag_ms": one["p99_lag_ms"],
        "one_replica": one,
        "two_replicas": two,
        "two_replica_processes": apart,
        "one_replica_spread": on_time,
        "fired_twice": sum(r["fired_twice"] for r in (one, two, apart, on_time)),
        "missed": sum(r["missed"] for r in (one, two, apart, on_time)),
        "assigned_share": args.assigned,
        "load_s": round(load_s, 1),
        "kafka": "none: events stay in the outbox",
        "goal_p99_lag_ms": GOAL_P99_LAG_MS,
        "goal_firings_per_second": GOAL_FIRINGS_PER_S,
        "met": on_time["p99_lag_ms"] <= GOAL_P99_LAG_MS
        and all(r["firings_per_second"] >= GOAL_FIRINGS_PER_S for r in (one, two, apart))
        and all(
            not r["missed"]
            and not r["fired_twice"]
            and not r["escalation_steps_missed"]
            and not r["escalation_steps_twice"]
            for r in (one, two, apart, on_time)
        ),
    }


def _configure_logging() -> None:
    """Warnings and errors only, on stderr; failed timer passes counted."""
    structlog.configure(
        processors=[
            _count_failed_passes,
            structlog.processors.add_log_level,
            structlog.dev.ConsoleRenderer(colors=False),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(30),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
    )


def _count_failed_passes(_logger: Any, _method: str, event_dict: Any) -> Any:
    name = str(event_dict.get("event", ""))
    if name.endswith(".pass_failed"):
        FAILED_PASSES[name] += 1
    return event_dict


QUICK = {"pending": 50_000, "due": 2_000}
FULL = {"pending": 1_000_000, "due": 20_000}


def cli() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--replica-of", help=argparse.SUPPRESS)  # ProcessReplica's child
    parser.add_argument("--pending", type=int, help="KPI instances due later (1,000,000)")
    parser.add_argument("--due", type=int, help="KPI instances due within the window (20,000)")
    parser.add_argument(
        "--window-seconds", type=float, default=2.0, help="the due ones fall due over this"
    )
    parser.add_argument(
        "--spread-seconds",
        type=float,
        default=20.0,
        help="the same number due over this, on one replica, for the lag below the firing rate",
    )
    parser.add_argument(
        "--interval",
        type=float,
        default=DEFAULT_INTERVAL,
        help=f"the timer's interval, s (the service's default: {DEFAULT_INTERVAL:g})",
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=DEFAULT_BATCH,
        help=f"KPIs claimed per transaction (the service's default: {DEFAULT_BATCH})",
    )
    parser.add_argument(
        "--assigned",
        type=float,
        default=0.0,
        help="share of the due KPIs' cases assigned to an agent, who is told of a warning and "
        "whose manager is told of a breach (0: none, as the issue describes the load)",
    )
    parser.add_argument("--seed", type=int, default=17, help="seed of the generated KPIs")
    parser.add_argument(
        "--quick", action="store_true", help="a small run: 50,000 pending, 2,000 due"
    )
    args = parser.parse_args()
    args.burst_seconds = args.window_seconds
    for name, value in (QUICK if args.quick else FULL).items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if args.due < 3 or args.pending <= extra_pending(args.due):
        parser.error("--due must be 3 or more and --pending more than two thirds of --due")
    if not 0 <= args.assigned <= 1:
        parser.error("--assigned is a share, from 0 to 1")
    if (
        min(args.window_seconds, args.spread_seconds) < 0
        or args.interval <= 0
        or args.batch_size < 1
    ):
        parser.error("the window must not be negative, the interval and batch size positive")
    # The service logs at info level; only warnings, and away from stdout.
    _configure_logging()
    if args.replica_of:
        uvloop.run(serve_replica(args.replica_of, args.interval, args.batch_size))
        return
    home = Path(tempfile.mkdtemp(prefix="caseflow-bench-sla-timers-"))
    try:
        figures = uvloop.run(main(args, home))
    except BaseException:
        print(f"the run failed; its logs are kept in {home}", file=sys.stderr, flush=True)
        raise
    shutil.rmtree(home, ignore_errors=True)
    print(json.dumps(figures))


if __name__ == "__main__":
    cli()
