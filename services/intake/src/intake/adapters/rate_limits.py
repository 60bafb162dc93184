"""Rate-limit counts in PostgreSQL, so that every replica of intake counts against one limit."""

from __future__ import annotations

from datetime import datetime

import structlog
from sqlalchemy import text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncEngine

from intake.adapters.tables import rate_limit_hits

log = structlog.get_logger(__name__)

_HIT = (
    pg_insert(rate_limit_hits)
    .on_conflict_do_update(
        index_elements=[rate_limit_hits.c.window_start, rate_limit_hits.c.bucket],
        set_={"hits": rate_limit_hits.c.hits + 1},
    )
    .returning(rate_limit_hits.c.hits)
)

# One small batch of old rows. SKIP LOCKED: two replicas sweeping at once take different rows
# instead of waiting on each other; and no writer touches an old window's rows, so none waits.
_FORGET = text(
    "DELETE FROM rate_limit_hits WHERE ctid = ANY(ARRAY("
    "SELECT ctid FROM rate_limit_hits WHERE window_start < :before "
    "LIMIT :batch FOR UPDATE SKIP LOCKED))"
)


class SqlRateLimitCounter:
    """Request counts, one row per bucket and window, in intake's own database.

    A count is one atomic upsert in a transaction of its own (the connection autocommits),
    never the submission's: it holds the row's lock for that one statement, and a refused
    request leaves nothing but its count behind.

    The first count of each new window (as this process sees it) also deletes the rows of the
    windows before it: at most `max_batches` batches of `batch_size` rows, each a statement of
    its own, so the table stays small without long transactions. What one sweep leaves, the
    next window's sweep (on this replica or another) takes.
    """

    def __init__(
        self, engine: AsyncEngine, *, batch_size: int = 500, max_batches: int = 20
    ) -> None:
        self._engine = engine.execution_options(isolation_level="AUTOCOMMIT")
        self._batch_size = batch_size
        self._max_batches = max_batches
        self._swept_before: datetime | None = None

    async def hit(self, bucket: str, *, window_start: datetime) -> int:
        """Count one more request for `bucket` in the window starting at `window_start`."""
        if self._swept_before is None or window_start > self._swept_before:
            # Set before sweeping, so that the requests arriving meanwhile do not sweep too.
            self._swept_before = window_start
            await self._sweep(before=window_start)
        async with self._engine.connect() as conn:
            result = await conn.execute(
                _HIT.values(bucket=bucket, window_start=window_start, hits=1)
            )
            return int(result.scalar_one())

    async def forget_windows_before(self, moment: datetime) -> int:
        """Delete the counts of windows that started before `moment`, one bounded sweep;
        returns how many rows went."""
        forgotten = 0
        async with self._engine.connect() as conn:
            for _ in range(self._max_batches):
                result = await conn.execute(_FORGET, {"before": moment, "batch": self._batch_size})
                forgotten += result.rowcount
                if result.rowcount < self._batch_size:
                    break
        return forgotten

    async def _sweep(self, *, before: datetime) -> None:
        try:
            forgotten = await self.forget_windows_before(before)
        except Exception:
            # Housekeeping must not turn a request away; the next window's sweep tries again.
            log.warning("intake.rate_limit_sweep_failed", exc_info=True)
            return
        if forgotten:
            log.debug("intake.rate_limit_swept", rows=forgotten)
