"""Deleting rows once they are older than their table's retention window.

The kit registers the inbox (applied event ids, by `received_at`) and the relayed outbox rows
(by `relayed_at`; rows not relayed yet have none and are never deleted); a service adds its
own tables with `Retention.add`. Every `interval` each table is purged in small batches, one
short transaction each, that skip rows another transaction holds: retention never blocks a
writer. Windows are wall time, measured by PostgreSQL's `now()`, not the service's clock.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from datetime import timedelta

import structlog
from sqlalchemy import bindparam, text
from sqlalchemy.ext.asyncio import AsyncEngine

from caseflow_servicekit.metrics import KitMetrics

log = structlog.get_logger(__name__)

_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]*")


@dataclass(frozen=True)
class RetentionTarget:
    """Rows of `table` whose `column` (a timestamptz) is older than `window` are deleted."""

    table: str
    column: str
    window: timedelta


class Retention:
    """The periodic task that deletes expired rows, table by table, in batches."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        metrics: KitMetrics,
        batch_size: int = 1000,
        interval: float = 60.0,
    ) -> None:
        self._engine = engine
        self._metrics = metrics
        self._batch_size = batch_size
        self._interval = interval
        self._targets: dict[tuple[str, str], RetentionTarget] = {}
        self._task: asyncio.Task[None] | None = None

    @property
    def targets(self) -> list[RetentionTarget]:
        """What is purged, in the order it was added."""
        return list(self._targets.values())

    def add(self, table: str, column: str, window: timedelta) -> None:
        """Delete rows of `table` once `column` is older than `window` (replaces an earlier
        window for the same table and column)."""
        for name in (table, column):
            if not _IDENTIFIER.fullmatch(name):
                msg = f"{name!r} is not a plain lower-case SQL identifier"
                raise ValueError(msg)
        if window <= timedelta(0):
            msg = f"the retention window of {table}.{column} must be positive, not {window}"
            raise ValueError(msg)
        self._targets[(table, column)] = RetentionTarget(table, column, window)

    async def start(self) -> None:
        """Purge now, then every `interval`."""
        if self._task is None and self._targets:
            self._task = asyncio.create_task(self._run(), name="retention")

    async def stop(self) -> None:
        """Stop after the batch in hand (its transaction is rolled back or committed whole)."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait([self._task])
            self._task = None

    async def purge(self) -> dict[str, int]:
        """Delete every expired row now; how many went, by table."""
        deleted: dict[str, int] = {}
        for target in self.targets:
            deleted[target.table] = deleted.get(target.table, 0) + await self._purge(target)
        return deleted

    async def _purge(self, target: RetentionTarget) -> int:
        # `ctid` names the rows this batch picked (and locked) so the DELETE touches only
        # them; SKIP LOCKED leaves rows a writer holds for a later round.
        statement = text(
            f"DELETE FROM {target.table} WHERE ctid = ANY(ARRAY("  # noqa: S608 (checked names)
            f"SELECT ctid FROM {target.table} WHERE {target.column} < now() - :window "
            "LIMIT :limit FOR UPDATE SKIP LOCKED))"
        ).bindparams(bindparam("window", value=target.window), limit=self._batch_size)
        total = 0
        while True:
            async with self._engine.begin() as conn:
                count = (await conn.execute(statement)).rowcount
            total += count
            if count:
                self._metrics.retention_deleted.labels(table=target.table).inc(count)
            if count < self._batch_size:
                break
        if total:
            log.info("retention.deleted", table=target.table, rows=total)
        return total

    async def _run(self) -> None:
        while True:
            try:
                await self.purge()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("retention.failed", error=repr(exc), retry_in=self._interval)
            await asyncio.sleep(self._interval)
