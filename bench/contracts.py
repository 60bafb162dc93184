"""Contract report benchmark: `GET /reports/contracts` over 2,000 contracts of 3 lines and
200,000 ledger entries, on the embedded stack.

Starts the embedded PostgreSQL and Tansu, migrates a cases database and fills it with COPY:
contracts over several accounts in every status, ending from a year ago to eighteen months
ahead; three lines each (cases and minutes, some allowing overdraft); the cases that drew on
them, with their billable minutes; and the ledger: drawdowns (with overage once a line is
used up), restores of reopened cases, and draws again. Then it serves the cases service
(`python -m cases serve`, as `bench/reports.py` does, whose server helpers it uses) and times
report pages over HTTP, one request at a time: each a few times to warm up, then `--repeat`
times.

Each page's p50/p95/max is printed; the last line is one JSON object with the figures.
`make bench-contracts` runs it with defaults.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import shutil
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import httpx
import uvloop

# bench/reports.py, beside this file: the cases service as a process, its token secret, and
# how percentiles are read.
from reports import SECRET, _percentile, serving, wait_ready

from caseflow_devstack import EmbeddedKafka, EmbeddedPostgres, free_port
from caseflow_servicekit import mint_token
from caseflow_servicekit.migrations import upgrade
from cases.bootstrap import MIGRATIONS

# The service counts days to expiry from its own clock: the contracts end around today.
TODAY = datetime.now(UTC).date()
NOW = datetime.combine(TODAY, datetime.min.time(), UTC)
# The account and contract the filtered pages ask for (from the generated data).
PICKED: dict[str, str] = {}

# name: (query parameters, Accept header); `{account}` and `{contract}` are filled in.
REPORTS: dict[str, tuple[dict[str, str], str]] = {
    "first_page_50": ({}, "application/json"),
    "page_500": ({"limit": "500"}, "application/json"),
    "deep_page_500": ({"limit": "500", "offset": "5000"}, "application/json"),
    "active_ending_90_days": (
        {"status": "active", "ending_within_days": "90", "limit": "500"},
        "application/json",
    ),
    "one_account": ({"account_id": "{account}"}, "application/json"),
    "one_contract": ({"contract_id": "{contract}"}, "application/json"),
    "csv_page_500": ({"limit": "500"}, "text/csv"),
}

STATUSES = ("active", "draft", "on_hold", "expired", "cancelled")
STATUS_WEIGHTS = (70, 8, 5, 12, 5)
LINES = (
    ("Support cases", "cases", (20, 200)),
    ("Advice minutes", "minutes", (600, 6000)),
    ("On-site", "cases", (5, 40)),
)

CONTRACT_COLUMNS = (
    "contract_id",
    "number",
    "account_id",
    "name",
    "status",
    "starts_on",
    "ends_on",
    "contacts",
    "created_at",
    "updated_at",
)
LINE_COLUMNS = (
    "line_id",
    "contract_id",
    "number",
    "name",
    "allocation",
    "allotment",
    "starts_on",
    "ends_on",
    "channels",
    "request_types",
    "allow_overdraft",
)
CASE_COLUMNS = (
    "case_id",
    "number",
    "channel",
    "contact_id",
    "account_id",
    "subject",
    "description",
    "parameters",
    "priority",
    "status",
    "opened_at",
    "updated_at",
    "resolved_at",
    "billable_minutes",
    "total_minutes",
    "entitlement_id",
    "contract_id",
)
LEDGER_COLUMNS = (
    "entry_id",
    "line_id",
    "contract_id",
    "case_id",
    "kind",
    "amount",
    "overage",
    "reason",
    "at",
)

Rows = list[tuple[Any, ...]]


def _uuid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def _period(rng: random.Random, status: str) -> tuple[date, date]:
    days = rng.choice((182, 365, 365, 730))
    if status == "expired":
        ends = TODAY - timedelta(days=rng.randint(1, 365))
    elif status == "draft":
        ends = TODAY + timedelta(days=rng.randint(0, 60) + days)
    else:
        ends = TODAY + timedelta(days=rng.randint(-30 if status == "cancelled" else 0, 540))
    return ends - timedelta(days=days), ends


def _drawdown(
    rng: random.Random,
    line: tuple[Any, ...],
    used: list[int],
    case_id: uuid.UUID,
    billable: int,
    at: datetime,
) -> tuple[Any, ...]:
    """The ledger entry of a case resolved on `line`, as the domain's `drawdown` makes it: an
    overdraft line covers it all, another what it has left, the rest being overage."""
    line_id, contract_id, _, _, allocation, allotment, *_, overdraft = line
    wanted = 1 if allocation == "cases" else billable
    taken = wanted if overdraft else max(0, min(wanted, allotment - used[0]))
    used[0] += taken
    return (
        _uuid(rng),
        line_id,
        contract_id,
        case_id,
        "drawdown",
        taken,
        wanted - taken,
        "resolved",
        at,
    )


def generate(contracts: int, entries: int, seed: int = 11) -> tuple[Rows, Rows, Rows, Rows]:
    """`contracts` contracts of three lines, the cases drawn on them and `entries` ledger
    entries."""
    rng = random.Random(seed)
    accounts = [_uuid(rng) for _ in range(400)]
    contract_rows: Rows = []
    line_rows: Rows = []
    # The lines cases may draw on (not a draft's), with what each has used and its weight.
    drawable: list[tuple[tuple[Any, ...], list[int]]] = []
    weights: list[float] = []
    for n in range(contracts):
        contract_id = _uuid(rng)
        status = rng.choices(STATUSES, STATUS_WEIGHTS)[0]
        starts, ends = _period(rng, status)
        contract_rows.append(
            (
                contract_id,
                f"CON-{starts.year}-{n + 1:06d}",
                rng.choice(accounts),
                f"Contract {n + 1}",
                status,
                starts,
                ends,
                "[]",
                NOW,
                NOW,
            )
        )
        for number, (name, allocation, (low, high)) in enumerate(LINES, start=1):
            line = (
                _uuid(rng),
                contract_id,
                number,
                name,
                allocation,
                rng.randint(low, high),
                starts,
                ends,
                "[]",
                "[]",
                rng.random() < 0.2,
            )
            line_rows.append(line)
            if status != "draft":
                drawable.append((line, [0]))
                weights.append(rng.lognormvariate(0, 0.8))
    case_rows: Rows = []
    ledger: Rows = []
    while len(ledger) < entries:
        for index in rng.choices(range(len(drawable)), weights, k=min(10_000, entries)):
            line, used = drawable[index]
            line_id, contract_id, *_ = line
            case_id = _uuid(rng)
            billable = int(rng.expovariate(1 / 45)) + 1
            at = NOW - timedelta(seconds=rng.uniform(0, 365 * 86400))
            case_rows.append(
                (
                    case_id,
                    f"CAS-{at.year}-{len(case_rows) + 1:07d}",
                    "email",
                    _uuid(rng),
                    None,
                    "Drew on a contract",
                    "Generated for the contracts benchmark.",
                    "{}",
                    "normal",
                    "resolved",
                    at - timedelta(hours=4),
                    at,
                    at,
                    billable,
                    billable,
                    line_id,
                    contract_id,
                )
            )
            entry = _drawdown(rng, line, used, case_id, billable, at)
            ledger.append(entry)
            if rng.random() < 0.05:  # reopened: what it drew is given back
                amount, overage = entry[5], entry[6]
                used[0] -= amount
                back = at + timedelta(hours=rng.uniform(1, 72))
                entry_id = _uuid(rng)
                restore = (entry_id, line_id, contract_id, case_id, "restore", -amount, -overage)
                ledger.append((*restore, "reopened", back))
                if rng.random() < 0.5:  # and resolved again
                    again = back + timedelta(hours=rng.uniform(1, 48))
                    ledger.append(_drawdown(rng, line, used, case_id, billable, again))
    del ledger[entries:]
    PICKED["account"] = str(contract_rows[0][2])
    PICKED["contract"] = str(contract_rows[len(contract_rows) // 2][0])
    return contract_rows, line_rows, case_rows, ledger


async def load(url: str, contracts: int, entries: int) -> tuple[dict[str, int], float]:
    """Migrate and fill the cases database; (rows by table, seconds)."""
    started = time.perf_counter()
    await asyncio.to_thread(upgrade, url, MIGRATIONS)
    contract_rows, line_rows, case_rows, ledger = generate(contracts, entries)
    tables = {
        "contracts": (contract_rows, CONTRACT_COLUMNS),
        "contract_lines": (line_rows, LINE_COLUMNS),
        "cases": (case_rows, CASE_COLUMNS),
        "contract_ledger": (ledger, LEDGER_COLUMNS),
    }
    connection = await asyncpg.connect(url)
    try:
        for table, (records, columns) in tables.items():
            await connection.copy_records_to_table(table, records=records, columns=columns)
        await connection.execute("ANALYZE " + ", ".join(tables))
    finally:
        await connection.close()
    counts = {table: len(records) for table, (records, _) in tables.items()}
    return counts, time.perf_counter() - started


async def time_reports(
    client: httpx.AsyncClient, repeat: int, warmup: int
) -> dict[str, dict[str, Any]]:
    token = mint_token(SECRET, subject="bench", roles=("supervisor",), ttl=timedelta(hours=1))
    results: dict[str, dict[str, Any]] = {}
    for name, (params, accept) in REPORTS.items():
        query = {key: value.format(**PICKED) for key, value in params.items()}
        headers = {"Authorization": f"Bearer {token}", "Accept": accept}
        samples: list[float] = []
        rows = total = 0
        for i in range(warmup + repeat):
            started = time.perf_counter()
            r = await client.get("/reports/contracts", params=query, headers=headers)
            elapsed = (time.perf_counter() - started) * 1000
            r.raise_for_status()
            if i >= warmup:
                samples.append(elapsed)
            if i == 0:
                if accept == "text/csv":
                    rows, total = len(r.text.splitlines()) - 1, int(r.headers["x-total-count"])
                else:
                    body = r.json()
                    rows, total = len(body["rows"]), body["total"]
        results[name] = {
            "p50_ms": round(_percentile(samples, 50), 1),
            "p95_ms": round(_percentile(samples, 95), 1),
            "max_ms": round(max(samples), 1),
            "rows": rows,
            "total": total,
        }
        figures = results[name]
        print(
            f"  {name:24s} p50 {figures['p50_ms']:7.1f} ms  p95 {figures['p95_ms']:7.1f} ms"
            f"  max {figures['max_ms']:7.1f} ms  ({rows} of {total} rows)",
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
        print(
            f"loading {args.contracts} contracts and {args.entries} ledger entries...", flush=True
        )
        counts, seconds = await load(url, args.contracts, args.entries)
        loaded = ", ".join(f"{n} {table}" for table, n in counts.items())
        print(f"  {loaded} in {seconds:.1f} s", flush=True)
        port = free_port()
        process = stack.enter_context(
            serving(url, kafka.bootstrap_servers, port, home / "cases.log")
        )
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            await wait_ready(client, process)
            print(
                f"timing {len(REPORTS)} report pages, {args.repeat} times each "
                f"after {args.warmup} warm-up requests...",
                flush=True,
            )
            reports = await time_reports(client, args.repeat, args.warmup)
    return {
        **counts,
        "repeat": args.repeat,
        "reports": reports,
        "max_p95_ms": max(r["p95_ms"] for r in reports.values()),
    }


def cli() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--contracts", type=int, default=2_000, help="contracts to load")
    parser.add_argument("--entries", type=int, default=200_000, help="ledger entries to load")
    parser.add_argument("--repeat", type=int, default=20, help="timed requests per page")
    parser.add_argument("--warmup", type=int, default=3, help="untimed requests per page")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="caseflow-bench-contracts-"))
    try:
        figures = uvloop.run(main(args, home))
    except BaseException:
        print(f"the run failed; its logs are kept in {home}", file=sys.stderr, flush=True)
        raise
    shutil.rmtree(home, ignore_errors=True)
    print(json.dumps(figures))


if __name__ == "__main__":
    cli()
