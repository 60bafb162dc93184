"""Routing benchmark: routing decisions from rule match to committed assignment, on PostgreSQL.

Starts the embedded PostgreSQL, migrates a routing database and builds its state through the
routing use cases and repositories, as the service would: `--queues` team queues (each with
its team) whose chains mix skills, least busy, most idle, round robin and preferred agent;
`--agents` agents registered in the directory with mixed skills (levels 1-5), capacities and
presences, each in their queue's team and some in a second one; accounts with owners, tiers
and regions (routing's projection of intake's customer card); `--rules` routing rules, each
on a channel and request types and most on one more fact (priority, keyword, tier, region or
entitlement), whose required skills the queue's members hold, and catch-alls last.

Then `--cases` cases are routed as the service routes a batch of openings from Kafka:
`--workers` asyncio workers each take up to `--batch` cases at a time and route them together
with `route_cases` on a fresh `SqlRoutingUnitOfWork` (match the rules, queue the cases, choose
agents by each queue's chain, take their capacity, claim the items, commit with the events in
the outbox), sharing one engine the way `Kit` builds `sessions` and `outbox`; a case's latency
is its batch's, from the rule match to the commit. Meanwhile one task sets random agents'
presence (`set_presence`, `--flips-per-second`), and `--resolvers` tasks resolve the oldest
assigned cases (`dequeue_cases`, up to `--batch` at a time) whenever more than
`--resolve-above` of the agents' total capacity is in use, which frees capacity (and hands
waiting work to the freed agents) so that assignment keeps happening. A batch that loses a
deadlock or serialization race is tried again, as the consumer would, and its latency includes
the retry. No Kafka runs: the events stay in the outbox table, where a relay would take them
from. With `--replicas 2` (or more) the routing runs in processes of their own instead, each
routing every n-th case and resolving its share, as replicas of the service share a database.

Below saturation, `--paced-cases` more cases are then offered at a steady rate (`--rate`, half
the rate measured unless given) and routed by one consumer as they arrive, up to `--batch` at a
time; their latency runs from when each was due to arrive to the commit.

The same decisions are then made by the pure domain functions alone (`choose_queue`, then
`choose` over the same agents, with their load, presence and resolutions kept in memory), and
the ratio domain rate / database rate says what the database costs. The goal is 2,000
decisions per second (judged at saturation) with a p99 of 50 ms (judged below it, where latency
is not queueing). The last line printed is one JSON object with the figures.
`make bench-routing` runs it with defaults; `--quick` runs a small one.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Python puts this file's directory first on the path, where this module, `routing`, would
# hide the routing service's package of that name.
sys.path.remove(str(Path(__file__).resolve().parent))

import argparse
import asyncio
import contextlib
import dataclasses
import gc
import json
import math
import os
import random
import shutil
import tempfile
import time
import traceback
import uuid
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar
from uuid import UUID

import asyncpg  # type: ignore[import-untyped]
import structlog
import uvloop
from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError

from caseflow_devstack import EmbeddedPostgres
from caseflow_servicekit import Outbox, create_engine, session_factory
from caseflow_servicekit.cache import TtlCache
from caseflow_servicekit.db import OUTBOX_TABLE, sqlstate
from caseflow_servicekit.migrations import upgrade
from routing.adapters.tables import metadata
from routing.adapters.uow import SqlRoutingUnitOfWork
from routing.app.case_changes import DequeueCase
from routing.app.directory import Who, create_team, register_agent, set_presence
from routing.app.handlers import (
    AddRoutingRule,
    CreateQueue,
    RouteCase,
    add_routing_rule,
    create_queue,
    dequeue_cases,
    route_cases,
)
from routing.app.ports import AgentEntry
from routing.app.projections import keep_account
from routing.bootstrap import MIGRATIONS
from routing.domain import (
    Agent,
    AssignmentStrategy,
    Presence,
    QueueItemStatus,
    QueueKind,
    RoutingRule,
    SkillMatch,
    WorkItem,
    choose,
    choose_queue,
    skill_levels,
    skill_text,
    work_type_of,
)

T = TypeVar("T")

GOAL_DECISIONS_PER_S = 2000
GOAL_P99_MS = 50
OPENED = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
# Deadlock, serialization failure: the transaction lost a race; the caller tries again.
RETRIED_SQLSTATES = {"40P01": "deadlock", "40001": "serialization"}
MAX_ATTEMPTS = 5

S = AssignmentStrategy
# Queue chains, in turn: (strategies, how the skills strategy matches).
CHAINS: tuple[tuple[tuple[AssignmentStrategy, ...], SkillMatch], ...] = (
    ((S.SKILLS, S.LEAST_BUSY), SkillMatch.EXACT),
    ((S.ROUND_ROBIN,), SkillMatch.EXACT),
    ((S.PREFERRED_AGENT, S.MOST_IDLE), SkillMatch.EXACT),
    ((S.SKILLS,), SkillMatch.CLOSEST),
    ((S.LEAST_BUSY,), SkillMatch.EXACT),
    ((S.PREFERRED_AGENT, S.SKILLS, S.ROUND_ROBIN), SkillMatch.CLOSEST),
    ((S.MOST_IDLE,), SkillMatch.EXACT),
)
SKILLS = (
    "printers", "billing", "network", "sap", "german", "french", "spanish", "hardware",
    "software", "security", "contracts", "shipping", "returns", "mobile", "cloud", "vip",
)  # fmt: skip
CHANNELS = ("email", "web", "phone", "api")
CHANNEL_WEIGHTS = (45, 30, 20, 5)
PRIORITIES = ("low", "normal", "high", "urgent")
PRIORITY_WEIGHTS = (15, 60, 20, 5)
REQUEST_TYPES = tuple(
    f"{kind}.{topic}"
    for kind in ("repair", "billing", "access", "delivery")
    for topic in ("standard", "urgent", "question")
)
KEYWORDS = (
    "printer", "invoice", "password", "delivery", "refund", "outage", "contract", "update",
    "license", "vpn",
)  # fmt: skip
FILLER = ("please", "help", "again", "since", "monday", "error", "our", "office", "the", "with")
TIERS = ("gold", "silver", "bronze")
REGIONS = ("eu", "us", "apac")
# A rule's entitlement condition, and facts that meet it.
ENTITLEMENT_FACTS = {
    "entitled": (True, None),
    "not_entitled": (False, "no_contract"),
    "exhausted": (False, "exhausted"),
}
AWAY = (Presence.BUSY, Presence.AWAY, Presence.OFFLINE)


# --- the plan: everything the run creates, generated up front ---------------------------------


@dataclass(frozen=True)
class QueuePlan:
    queue_id: UUID
    team_id: UUID
    name: str
    chain: tuple[AssignmentStrategy, ...]
    skill_match: SkillMatch
    focus: tuple[str, ...]
    """The skills the queue's work needs and its team's members hold."""


@dataclass(frozen=True)
class Account:
    account_id: UUID
    owner_id: UUID
    tier: str
    region: str


@dataclass
class Plan:
    queues: list[QueuePlan]
    agents: list[AgentEntry]
    accounts: list[Account]
    rules: list[AddRoutingRule]
    warmup: list[RouteCase]
    cases: list[RouteCase]
    paced: list[RouteCase]
    """Cases offered at a steady rate after the timed run, for latency below saturation."""

    @property
    def total_capacity(self) -> int:
        return sum(agent.capacity for agent in self.agents)


def _uuid(rng: random.Random) -> UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def plan_queues(count: int, rng: random.Random) -> list[QueuePlan]:
    queues = []
    for n in range(count):
        chain, match = CHAINS[n % len(CHAINS)]
        queues.append(
            QueuePlan(
                queue_id=_uuid(rng),
                team_id=_uuid(rng),
                name=f"Queue {n + 1:02d}",
                chain=chain,
                skill_match=match,
                focus=tuple(rng.sample(SKILLS, 3)),
            )
        )
    return queues


def plan_agents(count: int, queues: Sequence[QueuePlan], rng: random.Random) -> list[AgentEntry]:
    """Each agent in the team of queue `i % queues` (with all its skills, at levels 1-5), a
    third of them in a second team too; capacities of 10-30 units, a phone case taking 2 of
    some agents; about 15% not available at first."""
    agents = []
    for i in range(count):
        primary = queues[i % len(queues)]
        teams = [primary.team_id]
        skills = {name: rng.randint(1, 5) for name in primary.focus}
        if len(queues) > 1 and rng.random() < 0.33:
            second = rng.choice([q for q in queues if q is not primary])
            teams.append(second.team_id)
            name = rng.choice(second.focus)
            skills[name] = max(skills.get(name, 0), rng.randint(1, 5))
        for name in rng.sample(SKILLS, rng.randint(1, 3)):
            skills.setdefault(name, rng.randint(1, 5))
        agents.append(
            AgentEntry(
                agent_id=_uuid(rng),
                name=f"Agent {i + 1:04d}",
                email=f"agent{i + 1}@caseflow.example",
                phone_extension=str(2000 + i),
                languages=("en",) if rng.random() < 0.6 else ("de", "en"),
                teams=tuple(teams),
                skills=frozenset(skill_text(name, level) for name, level in skills.items()),
                capacity=rng.randint(10, 30),
                work_units={"case": 1, "case:phone": 2} if rng.random() < 0.25 else {"case": 1},
                presence=Presence.AVAILABLE if rng.random() < 0.85 else rng.choice(AWAY),
            )
        )
    return agents


def plan_accounts(count: int, agents: Sequence[AgentEntry], rng: random.Random) -> list[Account]:
    return [
        Account(_uuid(rng), rng.choice(agents).agent_id, rng.choice(TIERS), rng.choice(REGIONS))
        for _ in range(count)
    ]


def plan_rules(count: int, queues: Sequence[QueuePlan], rng: random.Random) -> list[AddRoutingRule]:
    """`count` rules sending to queue `r % queues`: each on a channel and one or two request
    types, most also on one more fact (priority, keyword, tier, region or entitlement), and
    needing up to two of the queue's skills at levels 1-3. The last three are catch-alls for
    email, web and phone (api cases no other rule places go to the manual default queue)."""
    catch_alls = min(3, count)
    rules = []
    for r in range(count - catch_alls):
        queue = queues[r % len(queues)]
        extra = rng.choice(("", "", "priorities", "keywords", "tiers", "regions", "entitlement"))
        needs = rng.sample(queue.focus, rng.choice((0, 1, 1, 2)))
        rules.append(
            AddRoutingRule(
                name=f"Rule {r + 1:03d}",
                order=(r + 1) * 10,
                queue_id=queue.queue_id,
                channels=frozenset({rng.choice(CHANNELS)}),
                request_types=_some(rng, REQUEST_TYPES, 2),
                priorities=_some(rng, PRIORITIES, 2) if extra == "priorities" else frozenset(),
                subject_keywords=_some(rng, KEYWORDS, 2) if extra == "keywords" else frozenset(),
                tiers=_some(rng, TIERS, 2) if extra == "tiers" else frozenset(),
                regions=_some(rng, REGIONS, 2) if extra == "regions" else frozenset(),
                entitlement=(
                    _some(rng, tuple(ENTITLEMENT_FACTS), 1)
                    if extra == "entitlement"
                    else frozenset()
                ),
                required_skills=frozenset(
                    skill_text(name, rng.choice((1, 1, 2, 2, 3))) for name in needs
                ),
            )
        )
    for k in range(catch_alls):
        rules.append(
            AddRoutingRule(
                name=f"Catch-all {CHANNELS[k]}",
                order=100_000 + k,
                queue_id=queues[k % len(queues)].queue_id,
                channels=frozenset({CHANNELS[k]}),
            )
        )
    return rules


def _some(rng: random.Random, values: Sequence[str], most: int) -> frozenset[str]:
    return frozenset(rng.sample(values, rng.randint(1, most)))


def plan_cases(
    count: int,
    rules: Sequence[AddRoutingRule],
    accounts: Sequence[Account],
    rng: random.Random,
    start: int = 0,
) -> list[RouteCase]:
    """Four in five cases are made to meet a random rule (an earlier one may place them
    first); the others have random facts."""
    targets = [r for r in rules if r.order < 100_000] or list(rules)
    by_tier_region: dict[tuple[str, str], list[Account]] = {}
    for account in accounts:
        by_tier_region.setdefault((account.tier, account.region), []).append(account)
    cases = []
    for n in range(start, start + count):
        rule = rng.choice(targets) if rng.random() < 0.8 else None

        def pick(values: frozenset[str], default: str | None) -> str | None:
            return rng.choice(sorted(values)) if values else default

        channel = pick(rule.channels, None) if rule else None
        channel = channel or rng.choices(CHANNELS, CHANNEL_WEIGHTS)[0]
        priority = pick(rule.priorities, None) if rule else None
        priority = priority or rng.choices(PRIORITIES, PRIORITY_WEIGHTS)[0]
        request_type = pick(rule.request_types, None) if rule else None
        if request_type is None and rng.random() < 0.9:
            request_type = rng.choice(REQUEST_TYPES)
        words = rng.sample(FILLER, 5)
        keyword = pick(rule.subject_keywords, None) if rule else None
        if keyword is None and rng.random() < 0.3:
            keyword = rng.choice(KEYWORDS)
        if keyword:
            words.insert(rng.randint(0, len(words)), keyword)
        account: Account | None = None
        if rule and (rule.tiers or rule.regions):
            matching = [
                a
                for (tier, region), found in by_tier_region.items()
                if (not rule.tiers or tier in rule.tiers)
                and (not rule.regions or region in rule.regions)
                for a in found
            ]
            account = rng.choice(matching) if matching else None
        if account is None and rng.random() < 0.9:
            account = rng.choice(accounts)
        if rule and rule.entitlement:
            entitled, not_entitled = ENTITLEMENT_FACTS[rng.choice(sorted(rule.entitlement))]
        else:
            entitled, not_entitled = rng.choice(((None, None), (True, None), (False, "expired")))
        cases.append(
            RouteCase(
                case_id=_uuid(rng),
                number=f"CAS-2026-{n + 1:07d}",
                channel=channel,
                priority=priority,
                subject=" ".join(words).capitalize(),
                opened_at=OPENED,
                request_type=request_type,
                account_id=account.account_id if account else None,
                entitled=entitled,
                not_entitled=not_entitled,
            )
        )
    return cases


def make_plan(args: argparse.Namespace) -> Plan:
    rng = random.Random(args.seed)
    queues = plan_queues(args.queues, rng)
    agents = plan_agents(args.agents, queues, rng)
    accounts = plan_accounts(max(20, args.agents * 3 // 5), agents, rng)
    rules = plan_rules(args.rules, queues, rng)
    warmup = plan_cases(args.warmup, rules, accounts, rng)
    cases = plan_cases(args.cases, rules, accounts, rng, start=args.warmup)
    paced = plan_cases(args.paced_cases, rules, accounts, rng, start=args.warmup + args.cases)
    return Plan(queues, agents, accounts, rules, warmup, cases, paced)


# --- the service's pieces, as `Kit` and `routing.bootstrap` wire them ----------------------------


class Routing:
    """The engine, sessions, outbox and cache the routing service runs on, without Kafka."""

    def __init__(self, url: str, pool_size: int) -> None:
        self.engine = create_engine(url, pool_size=pool_size)
        self.sessions = session_factory(self.engine)
        self.outbox = Outbox(metadata.tables[OUTBOX_TABLE], source="/caseflow/routing")
        # As bootstrap.build: queues and rules kept for a few seconds.
        self.cache: TtlCache[Any] = TtlCache(5.0)
        self.statements = 0

        def count(*_: Any) -> None:
            self.statements += 1

        event.listen(self.engine.sync_engine, "before_cursor_execute", count)

    def uow(self) -> SqlRoutingUnitOfWork:
        return SqlRoutingUnitOfWork(self.sessions, self.outbox, cache=self.cache)


def now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Tally:
    """What the tasks of one run did."""

    latencies_ms: list[float] = field(default_factory=list)
    assigned: int = 0
    waited: int = 0
    resolved: int = 0
    flips: int = 0
    flip_ms: list[float] = field(default_factory=list)
    resolve_ms: list[float] = field(default_factory=list)
    retries: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    waits: Counter[str] = field(default_factory=Counter)
    samples: int = 0


async def retrying(call: Callable[[], Awaitable[T]], tally: Tally) -> T | None:
    """`call`, again after a deadlock or serialization failure; None when it failed."""
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            return await call()
        except DBAPIError as exc:
            reason = RETRIED_SQLSTATES.get(sqlstate(exc) or "")
            if reason is not None and attempt < MAX_ATTEMPTS:
                tally.retries[reason] += 1
                continue
            _failed(exc, tally)
            return None
        except Exception as exc:
            _failed(exc, tally)
            return None
    return None


def _failed(exc: Exception, tally: Tally) -> None:
    name = type(exc).__name__
    if not tally.errors[name]:
        print(f"first {name}:", file=sys.stderr)
        traceback.print_exception(exc, file=sys.stderr)
    tally.errors[name] += 1


async def gather_limited(calls: Sequence[Callable[[], Awaitable[Any]]], limit: int) -> None:
    """Run `calls`, at most `limit` at once."""
    waiting = iter(calls)

    async def worker() -> None:
        for call in waiting:
            await call()

    await asyncio.gather(*(worker() for _ in range(limit)))


# --- replicas in processes of their own ----------------------------------------------------------


class Replica:
    """A routing replica in a process of its own (this script with `--replica-of`): it routes
    every n-th case of the same plan and resolves its share of the assigned ones, on an engine
    of its own, the way replicas of the service share one database."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self._process = process
        self.cpu_s = 0.0

    @classmethod
    async def start(cls, args: argparse.Namespace, url: str, k: int) -> Replica:
        options = {
            "cases": args.cases,
            "agents": args.agents,
            "rules": args.rules,
            "queues": args.queues,
            "warmup": args.warmup,
            "workers": args.workers,
            "batch": args.batch,
            "resolvers": args.resolvers,
            "resolve-above": args.resolve_above,
            "seed": args.seed,
            "replicas": args.replicas,
        }
        argv = [f"--{name}={value}" for name, value in options.items()]
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            __file__,
            f"--replica-of={url}",
            f"--replica={k}",
            *argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            limit=1 << 24,  # its figures come as one line, every latency in it
        )
        replica = cls(process)
        if await replica._line() != "ready":
            raise RuntimeError(f"replica {k} did not start")
        return replica

    async def _line(self) -> str:
        assert self._process.stdout is not None
        return (await self._process.stdout.readline()).decode().strip()

    async def go(self) -> None:
        assert self._process.stdin is not None
        self._process.stdin.write(b"go\n")
        await self._process.stdin.drain()

    async def finish(self, tally: Tally) -> None:
        """Wait for the replica's figures and add them to `tally`."""
        figures = json.loads(await self._line())
        await self._process.wait()
        tally.latencies_ms.extend(figures["latencies_ms"])
        tally.resolve_ms.extend(figures["resolve_ms"])
        tally.assigned += figures["assigned"]
        tally.waited += figures["waited"]
        tally.resolved += figures["resolved"]
        tally.retries.update(figures["retries"])
        tally.errors.update(figures["errors"])
        self.cpu_s = figures["cpu_s"]


async def replica_main(args: argparse.Namespace) -> None:
    """The `--replica-of` side of `Replica`."""
    k, of = args.replica, args.replicas
    plan = make_plan(args)
    routing = Routing(args.replica_of, pool_size=max(10, args.workers + args.resolvers + 3))
    threshold = int(plan.total_capacity * args.resolve_above)
    tally = Tally()
    try:
        print("ready", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        stop = asyncio.Event()
        resolver = asyncio.create_task(
            resolving(routing, threshold, args.resolvers, args.batch, stop, tally, share=(k, of))
        )
        cpu = time.process_time()
        await decide_all(routing, plan.cases[k::of], args.workers, args.batch, tally)
        cpu = time.process_time() - cpu
        stop.set()
        await resolver
    finally:
        await routing.engine.dispose()
    figures = {
        "latencies_ms": tally.latencies_ms,
        "resolve_ms": tally.resolve_ms,
        "assigned": tally.assigned,
        "waited": tally.waited,
        "resolved": tally.resolved,
        "retries": dict(tally.retries),
        "errors": dict(tally.errors),
        "cpu_s": cpu,
    }
    print(json.dumps(figures), flush=True)


# --- setup through the use cases ---------------------------------------------------------------


async def populate(routing: Routing, plan: Plan) -> None:
    """Teams, queues, agents, accounts and rules, each through its use case."""
    for queue in plan.queues:
        await create_team(
            f"Team of {queue.name}", None, uow=routing.uow(), new_id=lambda t=queue.team_id: t
        )
        await create_queue(
            CreateQueue(
                name=queue.name,
                kind=QueueKind.TEAM,
                strategies=queue.chain,
                skill_match=queue.skill_match,
                team_id=queue.team_id,
            ),
            uow=routing.uow(),
            new_id=lambda q=queue.queue_id: q,
        )
    await gather_limited(
        [
            lambda entry=entry: register_agent(entry, uow=routing.uow(), now=now())
            for entry in plan.agents
        ],
        8,
    )
    await gather_limited(
        [
            lambda a=a: keep_account(
                a.account_id,
                owner_id=a.owner_id,
                tier=a.tier,
                region=a.region,
                version=1,
                uow=routing.uow(),
            )
            for a in plan.accounts
        ],
        8,
    )
    for rule in plan.rules:
        await add_routing_rule(rule, uow=routing.uow())


# --- the decisions on the database ---------------------------------------------------------


async def decide_all(
    routing: Routing, cases: Sequence[RouteCase], workers: int, batch: int, tally: Tally
) -> None:
    """Route `cases` with `workers` workers, each taking up to `batch` cases at a time and
    routing them together on a fresh unit of work, as a consumer routes a batch of openings."""
    waiting = list(reversed(cases))

    async def worker() -> None:
        while waiting:
            cmds = [waiting.pop() for _ in range(min(batch, len(waiting)))]
            started = time.perf_counter()
            items = await retrying(
                lambda cmds=cmds: route_cases(cmds, uow=routing.uow(), now=now()), tally
            )
            if items is None:
                continue
            latency = (time.perf_counter() - started) * 1000
            tally.latencies_ms.extend([latency] * len(items))
            for item in items:
                if item.status is QueueItemStatus.ASSIGNED:
                    tally.assigned += 1
                else:
                    tally.waited += 1

    await asyncio.gather(*(worker() for _ in range(workers)))


async def offer_paced(
    routing: Routing, cases: Sequence[RouteCase], rate: float, batch: int, tally: Tally
) -> None:
    """Offer `cases` at `rate` a second and route them as one consumer does: whatever has
    arrived, up to `batch`, together. A case's latency runs from when it was due to arrive
    (not when it was taken) to the commit, so time spent waiting behind a batch counts."""
    arrived: asyncio.Queue[tuple[float, RouteCase] | None] = asyncio.Queue()

    async def producer() -> None:
        start = time.perf_counter()
        for n, cmd in enumerate(cases):
            due = start + n / rate
            if (delay := due - time.perf_counter()) > 0:
                await asyncio.sleep(delay)
            arrived.put_nowait((due, cmd))
        arrived.put_nowait(None)

    async def consumer() -> None:
        while (first := await arrived.get()) is not None:
            taken = [first]
            while len(taken) < batch and not arrived.empty():
                if (more := arrived.get_nowait()) is None:
                    arrived.put_nowait(None)  # the end, for the next look
                    break
                taken.append(more)
            cmds = [cmd for _, cmd in taken]
            items = await retrying(
                lambda cmds=cmds: route_cases(cmds, uow=routing.uow(), now=now()), tally
            )
            if items is None:
                continue
            done = time.perf_counter()
            tally.latencies_ms.extend((done - due) * 1000 for due, _ in taken)

    await asyncio.gather(producer(), consumer())


async def resolve(routing: Routing, case_ids: Sequence[UUID], tally: Tally) -> None:
    """Resolve cases together, as the service dequeues a batch of resolutions."""
    started = time.perf_counter()
    changes = [DequeueCase(case_id=case_id, at=now(), reason="resolved") for case_id in case_ids]

    async def dequeue() -> bool:
        await dequeue_cases(changes, uow=routing.uow(), now=now())
        return True

    if await retrying(dequeue, tally) is not None:
        tally.resolved += len(changes)
        tally.resolve_ms.extend([(time.perf_counter() - started) * 1000] * len(changes))


async def resolving(
    routing: Routing,
    threshold: int,
    resolvers: int,
    batch: int,
    stop: asyncio.Event,
    tally: Tally,
    share: tuple[int, int] = (0, 1),
) -> None:
    """Resolve the oldest assigned cases, up to `batch` at a time, while more than
    `threshold` are assigned; of those only the `share` (k of n) a replica k of n follows, as
    Kafka gives each replica its partitions' cases."""
    pending: asyncio.Queue[UUID | None] = asyncio.Queue()
    taken: set[UUID] = set()
    oldest = text(
        "SELECT case_id, n FROM (SELECT case_id, worked_since, seq, count(*) OVER () AS n "
        "FROM queue_items WHERE status = 'assigned') AS a "
        "WHERE abs(hashtext(case_id::text)) % :of = :k ORDER BY worked_since, seq LIMIT :limit"
    )
    k, of = share

    async def fetch() -> None:
        while not stop.is_set():
            if pending.qsize() >= resolvers * batch:
                await asyncio.sleep(0.002)
                continue
            async with routing.engine.connect() as connection:
                rows = (
                    await connection.execute(
                        oldest, {"limit": resolvers * batch + len(taken), "k": k, "of": of}
                    )
                ).all()
            # This replica's part of the excess.
            excess = ((rows[0].n if rows else 0) - threshold) // of - len(taken)
            fresh = [row.case_id for row in rows if row.case_id not in taken][: max(0, excess)]
            if not fresh:
                await asyncio.sleep(0.01)
            for case_id in fresh:
                taken.add(case_id)
                pending.put_nowait(case_id)
        for _ in range(resolvers):
            pending.put_nowait(None)

    async def resolver() -> None:
        while (case_id := await pending.get()) is not None:
            case_ids = [case_id]
            while len(case_ids) < batch and not pending.empty():
                if (more := pending.get_nowait()) is None:
                    pending.put_nowait(None)  # the stop is for the next one to see
                    break
                case_ids.append(more)
            await resolve(routing, case_ids, tally)
            taken.difference_update(case_ids)

    await asyncio.gather(fetch(), *(resolver() for _ in range(resolvers)))


@dataclass
class Presences:
    """Who is available and who is not, as the flipping keeps it."""

    available: list[UUID]
    away: list[UUID]
    target_away: int

    @classmethod
    def of(cls, agents: Sequence[AgentEntry]) -> Presences:
        available = [a.agent_id for a in agents if a.presence is Presence.AVAILABLE]
        away = [a.agent_id for a in agents if a.presence is not Presence.AVAILABLE]
        return cls(available, away, max(1, len(agents) // 5))

    def next_flip(self, rng: random.Random) -> tuple[UUID, Presence]:
        """An agent and their new presence: about a fifth of the agents are away."""
        near = abs(len(self.away) - self.target_away) <= max(1, self.target_away // 10)
        go_away = rng.random() < 0.5 if near else len(self.away) < self.target_away
        if not self.away:
            go_away = True
        elif not self.available:
            go_away = False
        source, target = (self.available, self.away) if go_away else (self.away, self.available)
        index = rng.randrange(len(source))
        source[index], source[-1] = source[-1], source[index]
        agent_id = source.pop()
        target.append(agent_id)
        return agent_id, rng.choice(AWAY) if go_away else Presence.AVAILABLE


async def flipping(
    routing: Routing,
    presences: Presences,
    supervisor: Who,
    rate: float,
    stop: asyncio.Event,
    rng: random.Random,
    tally: Tally,
) -> None:
    """Set random agents' presence, `rate` times a second, until `stop`."""
    if rate <= 0:
        return
    interval = 1 / rate
    due = time.perf_counter()
    while not stop.is_set():
        agent_id, presence = presences.next_flip(rng)
        started = time.perf_counter()
        done = await retrying(
            lambda agent_id=agent_id, presence=presence: set_presence(
                agent_id, presence, by=supervisor, uow=routing.uow(), now=now()
            ),
            tally,
        )
        if done is not None:
            tally.flips += 1
            tally.flip_ms.append((time.perf_counter() - started) * 1000)
        due = max(due + interval, time.perf_counter() - interval)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=max(0.0, due - time.perf_counter()))


async def sampling(url: str, stop: asyncio.Event, tally: Tally) -> None:
    """What the database's sessions are doing, every 20 ms: waiting on a lock, on I/O, on
    the client ("idle in transaction": the Python side has not sent the next statement)."""
    connection = await asyncpg.connect(url)
    try:
        while not stop.is_set():
            rows = await connection.fetch(
                "SELECT state, wait_event_type, wait_event FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                "AND backend_type = 'client backend' AND state <> 'idle'"
            )
            tally.samples += 1
            for row in rows:
                if row["state"] == "idle in transaction":
                    tally.waits["client (idle in transaction)"] += 1
                elif row["wait_event_type"] is None:
                    tally.waits["running (CPU)"] += 1
                else:
                    tally.waits[f"{row['wait_event_type']}:{row['wait_event']}"] += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=0.02)
    finally:
        await connection.close()


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
                ppid = int(fields[1])
                if int(entry) == pid:
                    total += sum(int(f) for f in fields[11:15])  # utime stime cutime cstime
                elif ppid == pid:
                    total += int(fields[11]) + int(fields[12])
        return total / ticks
    except (OSError, ValueError):
        return None


async def tallies(url: str) -> dict[str, Any]:
    connection = await asyncpg.connect(url)
    try:
        items = {
            row["status"]: row["n"]
            for row in await connection.fetch(
                "SELECT status, count(*) AS n FROM queue_items GROUP BY status"
            )
        }
        per_queue = {
            row["queue_id"]: row["n"]
            for row in await connection.fetch(
                "SELECT queue_id, count(*) AS n FROM queue_items GROUP BY queue_id"
            )
        }
        outbox = {
            row["topic"]: row["n"]
            for row in await connection.fetch(
                "SELECT topic, count(*) AS n FROM outbox GROUP BY topic ORDER BY topic"
            )
        }
    finally:
        await connection.close()
    return {"items": items, "outbox": outbox, "per_queue": per_queue}


# --- the same decisions in the domain alone ---------------------------------------------------


@dataclass
class DomainFigures:
    elapsed: float
    assigned: int
    waited: int


def domain_decisions(
    plan: Plan,
    rules: Sequence[RoutingRule],
    default_queue_id: UUID,
    cases: Sequence[RouteCase],
    *,
    threshold: int,
    flip_every: float,
    seed: int,
) -> DomainFigures:
    """`choose_queue` then `choose` for each case, over the agents kept in memory: each
    assignment raises the agent's load, the oldest assignments are resolved while more than
    `threshold` are held, and an agent's presence changes every `flip_every` decisions."""
    rng = random.Random(seed)
    agents = {
        e.agent_id: Agent(
            agent_id=e.agent_id,
            name=e.name,
            skills=skill_levels(e.skills),
            capacity=e.capacity,
            presence=e.presence,
            teams=frozenset(e.teams),
            work_units=dict(e.work_units),
        )
        for e in plan.agents
    }
    queues = {q.queue_id: q for q in plan.queues}
    members: dict[UUID, list[UUID]] = {q.queue_id: [] for q in plan.queues}
    by_team = {q.team_id: q.queue_id for q in plan.queues}
    for e in plan.agents:
        for team in e.teams:
            members[by_team[team]].append(e.agent_id)
    accounts = {a.account_id: a for a in plan.accounts}
    presences = Presences.of(plan.agents)
    last: dict[UUID, UUID | None] = {}
    held: deque[tuple[UUID, int]] = deque()
    assigned = waited = 0
    flips_due = flip_every
    started = time.perf_counter()
    for n, cmd in enumerate(cases, start=1):
        account = accounts.get(cmd.account_id) if cmd.account_id else None
        facts = cmd.facts(
            tier=account.tier if account else None,
            region=account.region if account else None,
        )
        choice = choose_queue(facts, rules, default_queue_id)
        queue = queues.get(choice.queue_id)
        work_type = work_type_of(cmd.channel)
        chosen = None
        if queue is not None:
            chosen = choose(
                queue.chain,
                [agents[a] for a in members[queue.queue_id]],
                WorkItem(
                    work_type=work_type,
                    required_skills=choice.required_skills,
                    preferred_agent=account.owner_id if account else None,
                    skill_match=queue.skill_match,
                ),
                last_assigned=last.get(queue.queue_id),
            )
        if chosen is None:
            waited += 1
        else:
            assigned += 1
            agent = chosen.agent
            units = agent.units_for(work_type)
            agents[agent.agent_id] = dataclasses.replace(
                agent, active_items=agent.active_items + units, last_assigned_at=OPENED
            )
            last[choice.queue_id] = agent.agent_id
            held.append((agent.agent_id, units))
            while len(held) > threshold:
                agent_id, units = held.popleft()
                agent = agents[agent_id]
                agents[agent_id] = dataclasses.replace(
                    agent, active_items=max(0, agent.active_items - units)
                )
        while flip_every and n >= flips_due:
            flips_due += flip_every
            agent_id, presence = presences.next_flip(rng)
            agents[agent_id] = dataclasses.replace(agents[agent_id], presence=presence)
    return DomainFigures(time.perf_counter() - started, assigned, waited)


# --- the run -----------------------------------------------------------------------------------


def _percentile(values: list[float], q: float) -> float:
    """As bench/reports.py reads percentiles (which this file cannot import: see the top)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


def _ms(values: list[float], q: float) -> float:
    return round(_percentile(values, q), 2) if values else 0.0


async def main(args: argparse.Namespace, home: Path) -> dict[str, Any]:
    plan = make_plan(args)
    postgres = EmbeddedPostgres(
        home / "postgres", log_file=home / "postgres.log", exit_with_parent=True
    )
    with postgres:
        print("starting PostgreSQL...", flush=True)
        postgres.ensure_database("caseflow_routing")
        url = postgres.url("caseflow_routing")
        await asyncio.to_thread(upgrade, url, MIGRATIONS)
        # Enough connections for every task: the pool is not what is measured.
        routing = Routing(url, pool_size=max(10, args.workers + args.resolvers + 3))
        try:
            return await measure(args, plan, routing, url, postgres.pid)
        finally:
            await routing.engine.dispose()


async def measure(
    args: argparse.Namespace, plan: Plan, routing: Routing, url: str, postgres_pid: int | None
) -> dict[str, Any]:
    print(
        f"setting up {len(plan.queues)} team queues, {len(plan.agents)} agents, "
        f"{len(plan.accounts)} accounts and {len(plan.rules)} rules through the use cases...",
        flush=True,
    )
    started = time.perf_counter()
    await populate(routing, plan)
    print(f"  done in {time.perf_counter() - started:.1f} s", flush=True)
    async with routing.uow() as uow:
        stored_rules = [stored.rule for stored in await uow.rules.all()]
        default = await uow.queues.get_default()
    assert default is not None
    threshold = int(plan.total_capacity * args.resolve_above)

    # Warm-up: connections, caches; a few decisions alone count the statements of one, and
    # one batch alone those of a batch.
    warm = Tally()
    sequential = min(20, len(plan.warmup))
    before = routing.statements
    await decide_all(routing, plan.warmup[:sequential], 1, 1, warm)
    statements = (routing.statements - before) / max(1, sequential)
    together = plan.warmup[sequential : sequential + args.batch]
    before = routing.statements
    await decide_all(routing, together, 1, args.batch, warm)
    per_batch = routing.statements - before
    await decide_all(routing, plan.warmup[sequential + len(together) :], 1, args.batch, warm)
    # Queues empty, loads back to nothing.
    await resolve(routing, [cmd.case_id for cmd in plan.warmup], warm)
    print(
        f"warm-up: {len(plan.warmup)} decisions ({warm.assigned} assigned), then resolved; "
        f"SQL statements: {statements:.1f} for one case alone, {per_batch} for "
        f"{len(together)} together",
        flush=True,
    )

    # As a started service does (`Kit.start`): what setup built, the plan here, is moved out of
    # the collector's way, so that a full collection does not walk it.
    gc.collect()
    gc.freeze()
    print(
        f"routing {len(plan.cases)} cases with {args.workers} workers, "
        f"{args.flips_per_second:g} presence changes/s, {args.resolvers} resolvers "
        f"(above {threshold} of {plan.total_capacity} capacity units in use)...",
        flush=True,
    )
    tally = Tally()
    stop = asyncio.Event()
    supervisor = Who(agent_id=uuid.UUID(int=1), supervises=True)
    rng = random.Random(args.seed + 1)
    presences = Presences.of(plan.agents)
    # Replicas in processes of their own are started first: each takes a while to import.
    replicas = (
        [await Replica.start(args, url, k) for k in range(args.replicas)]
        if args.replicas > 1
        else []
    )
    background = [
        asyncio.create_task(
            flipping(routing, presences, supervisor, args.flips_per_second, stop, rng, tally)
        ),
        asyncio.create_task(sampling(url, stop, tally)),
    ]
    if not replicas:
        background.append(
            asyncio.create_task(
                resolving(routing, threshold, args.resolvers, args.batch, stop, tally)
            )
        )
    cpu_before = time.process_time()
    pg_before = process_cpu(postgres_pid) if postgres_pid else None
    started = time.perf_counter()
    try:
        if replicas:
            for replica in replicas:
                await replica.go()
            for replica in replicas:
                await replica.finish(tally)
        else:
            await decide_all(routing, plan.cases, args.workers, args.batch, tally)
    finally:
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu_before + sum(r.cpu_s for r in replicas)
        pg_after = process_cpu(postgres_pid) if postgres_pid else None
        stop.set()
        await asyncio.gather(*background)
    decided = len(tally.latencies_ms)
    rate = decided / elapsed

    # Below saturation: more cases offered at a steady rate (half the rate just measured
    # unless `--rate` says), presence still changing and cases still resolved meanwhile.
    paced_rate = args.rate or rate / 2
    paced = Tally()
    if plan.paced and not replicas:
        print(
            f"offering {len(plan.paced)} more cases at {paced_rate:.0f}/s, routed as they "
            f"arrive (up to {args.batch} together)...",
            flush=True,
        )
        stop = asyncio.Event()
        background = [
            asyncio.create_task(
                flipping(routing, presences, supervisor, args.flips_per_second, stop, rng, paced)
            ),
            asyncio.create_task(
                resolving(routing, threshold, args.resolvers, args.batch, stop, paced)
            ),
        ]
        try:
            await offer_paced(routing, plan.paced, paced_rate, args.batch, paced)
        finally:
            stop.set()
            await asyncio.gather(*background)
    paced_p50, paced_p99, paced_p999 = (_ms(paced.latencies_ms, q) for q in (50, 99, 99.9))
    state = await tallies(url)

    flip_every = decided / tally.flips if tally.flips else 0.0

    def domain_pass(cases: Sequence[RouteCase]) -> DomainFigures:
        return domain_decisions(
            plan,
            stored_rules,
            default.queue_id,
            cases,
            threshold=threshold,
            flip_every=flip_every,
            seed=args.seed,
        )

    # Once untimed (warm), then timed, over and over until a second has passed.
    domain_pass(plan.warmup)
    passes: list[DomainFigures] = []
    while sum(p.elapsed for p in passes) < 1.0:
        passes.append(domain_pass(plan.cases))
    domain = passes[0]
    domain_rate = len(plan.cases) * len(passes) / sum(p.elapsed for p in passes)
    ratio = domain_rate / rate

    p50, p99, p999 = (_ms(tally.latencies_ms, q) for q in (50, 99, 99.9))
    pg_cpu = None if pg_before is None or pg_after is None else (pg_after - pg_before) / elapsed
    in_db = sum(tally.waits.values())
    waits = ", ".join(
        f"{name} {n / max(1, tally.samples):.1f}" for name, n in tally.waits.most_common(6)
    )
    outbox_total = sum(state["outbox"].values())
    # How unevenly the rules spread the cases over the team queues (the default one aside).
    per_queue = sorted((state["per_queue"].get(q.queue_id, 0) for q in plan.queues), reverse=True)
    busiest, quietest = (n / max(1, sum(per_queue)) for n in (per_queue[0], per_queue[-1]))
    print(
        f"{decided} decisions over {len(plan.rules)} rules, {len(plan.queues)} queues and "
        f"{len(plan.agents)} agents, {args.workers} workers, in {elapsed:.1f} s\n"
        f"  route_cases on PostgreSQL {rate:9.1f} decisions/s"
        f"  (goal {GOAL_DECISIONS_PER_S}: {'met' if rate >= GOAL_DECISIONS_PER_S else 'not met'})\n"
        f"  decision latency          p50 {p50} ms  p99 {p99} ms  p99.9 {p999} ms"
        f"  max {_ms(tally.latencies_ms, 100)} ms"
        f"  (at saturation)\n"
        + (
            f"  at {paced_rate:.0f}/s offered      p50 {paced_p50} ms  p99 {paced_p99} ms  "
            f"p99.9 {paced_p999} ms  (goal p99 {GOAL_P99_MS} ms: "
            f"{'met' if paced_p99 <= GOAL_P99_MS else 'not met'})\n"
            if paced.latencies_ms
            else "  below saturation          not run (replicas in processes of their own)\n"
        )
        + f"  assigned {tally.assigned}, waited {tally.waited}"
        f"  (domain alone: assigned {domain.assigned}, waited {domain.waited})\n"
        f"  domain alone              {domain_rate:9.1f} decisions/s"
        f"  (choose_queue + choose, one thread, {len(passes)} passes)\n"
        f"  database cost             {ratio:9.1f}x  (domain rate / database rate)\n"
        f"  meanwhile: {tally.flips} presence changes (p50 {_ms(tally.flip_ms, 50)} ms), "
        f"{tally.resolved} cases resolved (p50 {_ms(tally.resolve_ms, 50)} ms)\n"
        f"  retries {dict(tally.retries) or 0}, errors {dict(tally.errors) or 0}\n"
        f"  SQL statements {statements:.1f} for one case, {per_batch} for a batch of "
        f"{len(together)}; CPU: this process "
        f"{cpu / elapsed:.0%} of a core"
        + (f", PostgreSQL {pg_cpu:.0%} of a core" if pg_cpu is not None else "")
        + f" ({os.cpu_count()} cores)\n"
        f"  busy database sessions on average {in_db / max(1, tally.samples):.1f}: {waits}\n"
        f"  queue items now {state['items']}; of the team queues' items the busiest queue "
        f"holds {busiest:.0%}, the quietest {quietest:.0%}\n"
        f"  no Kafka: {outbox_total} events stay in the outbox table {state['outbox']}",
        flush=True,
    )
    return {
        "decisions_per_second": round(rate, 1),
        "p50_ms": p50,
        "p99_ms": p99,
        "p999_ms": p999,
        "paced_rate": round(paced_rate, 1) if paced.latencies_ms else None,
        "paced_p50_ms": paced_p50 if paced.latencies_ms else None,
        "paced_p99_ms": paced_p99 if paced.latencies_ms else None,
        "paced_p999_ms": paced_p999 if paced.latencies_ms else None,
        "batch": args.batch,
        "replicas": args.replicas,
        "max_ms": _ms(tally.latencies_ms, 100),
        "domain_decisions_per_second": round(domain_rate, 1),
        "db_cost_ratio": round(ratio, 1),
        "assigned": tally.assigned,
        "waited": tally.waited,
        "cases": len(plan.cases),
        "agents": len(plan.agents),
        "rules": len(plan.rules),
        "queues": len(plan.queues),
        "workers": args.workers,
        "elapsed_s": round(elapsed, 2),
        "resolved": tally.resolved,
        "presence_changes": tally.flips,
        "retries": dict(tally.retries),
        "errors": dict(tally.errors),
        "statements_per_decision": round(statements, 1),
        "statements_per_batch": per_batch,
        "client_cpu_share": round(cpu / elapsed, 2),
        "postgres_cpu_share": None if pg_cpu is None else round(pg_cpu, 2),
        "session_states": {
            name: round(n / max(1, tally.samples), 2) for name, n in tally.waits.most_common()
        },
        "outbox_events": outbox_total,
        "kafka": "none: events stay in the outbox",
        "goal_decisions_per_second": GOAL_DECISIONS_PER_S,
        "goal_p99_ms": GOAL_P99_MS,
        # The rate at saturation; the p99 below it, where latency is not queueing.
        "met": bool(
            rate >= GOAL_DECISIONS_PER_S and paced.latencies_ms and paced_p99 <= GOAL_P99_MS
        ),
    }


QUICK = {"cases": 500, "agents": 60, "rules": 30, "queues": 6, "warmup": 50, "paced_cases": 200}
FULL = {
    "cases": 10_000,
    "agents": 500,
    "rules": 200,
    "queues": 20,
    "warmup": 200,
    "paced_cases": 3_000,
}


def cli() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cases", type=int, help="cases routed, timed (10,000)")
    parser.add_argument("--agents", type=int, help="agents in the directory (500)")
    parser.add_argument("--rules", type=int, help="routing rules (200)")
    parser.add_argument("--queues", type=int, help="team queues besides the default (20)")
    parser.add_argument("--warmup", type=int, help="untimed decisions first (200)")
    parser.add_argument("--workers", type=int, default=2, help="batches routed at once")
    parser.add_argument(
        "--batch", type=int, default=100, help="cases routed together, at most (as a consumer)"
    )
    parser.add_argument(
        "--resolvers", type=int, default=2, help="batches of resolutions applied at once"
    )
    parser.add_argument(
        "--resolve-above",
        type=float,
        default=0.25,
        help="resolve the oldest assigned cases above this share of the total capacity",
    )
    parser.add_argument("--flips-per-second", type=float, default=20.0, help="presence changes")
    parser.add_argument(
        "--paced-cases", type=int, help="cases offered at a steady rate afterwards (3,000)"
    )
    parser.add_argument(
        "--rate", type=float, help="their rate a second (half the rate measured first)"
    )
    parser.add_argument(
        "--replicas",
        type=int,
        default=1,
        help="routing replicas: 1 routes in this process; more, each in a process of its own",
    )
    parser.add_argument("--replica-of", help=argparse.SUPPRESS)
    parser.add_argument("--replica", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=13, help="seed of the generated state")
    parser.add_argument(
        "--quick", action="store_true", help="a small run: 500 cases, 60 agents, 30 rules, 6 queues"
    )
    args = parser.parse_args()
    for name, value in (QUICK if args.quick else FULL).items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if min(args.cases, args.agents, args.rules, args.queues, args.workers) < 1:
        parser.error("cases, agents, rules, queues and workers must be 1 or more")
    # The use cases log at info level; only warnings, and away from stdout.
    structlog.configure(
        wrapper_class=structlog.make_filtering_bound_logger(30),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
    )
    if args.replica_of:
        uvloop.run(replica_main(args))
        return
    home = Path(tempfile.mkdtemp(prefix="caseflow-bench-routing-"))
    try:
        figures = uvloop.run(main(args, home))
    except BaseException:
        print(f"the run failed; its logs are kept in {home}", file=sys.stderr, flush=True)
        raise
    shutil.rmtree(home, ignore_errors=True)
    print(json.dumps(figures))


if __name__ == "__main__":
    cli()
