"""The KPI timer: while the service runs, it fires the warnings and breaches that fall due."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import datetime

import structlog

from caseflow_servicekit import Clock

log = structlog.get_logger(__name__)

Tick = Callable[[datetime], Awaitable[int]]
"""One pass over the KPIs due at a moment; returns how many it looked at."""


class KpiTimer:
    """Every `interval` seconds, fires what has fallen due by the clock's `now`.

    Several replicas may run it at once: each pass claims due KPIs with
    `FOR UPDATE SKIP LOCKED`, so no KPI is fired twice. The events carry the moment the
    warning or breach fell due, however late the pass that found it.
    """

    def __init__(self, *, tick: Tick, clock: Clock, interval: float) -> None:
        self._tick = tick
        self._clock = clock
        self._interval = interval
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start ticking in the background, at once and then every interval."""
        if self._task is not None:
            return
        self._stopping = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name="sla-kpi-timer")

    async def stop(self) -> None:
        """Stop ticking, letting a pass in hand finish."""
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping.set()
        await task

    async def run_once(self) -> int:
        """Fire everything due now, batch after batch; how many KPIs were looked at."""
        now = self._clock.now()
        total = 0
        while (count := await self._tick(now)) > 0:
            total += count
        return total

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                fired = await self.run_once()
                if fired:
                    log.debug("sla.timer_pass", kpis=fired)
            except asyncio.CancelledError:
                raise
            except Exception:
                # A failed pass (the database away) is retried on the next one.
                log.exception("sla.timer_pass_failed")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._interval):
                    await self._stopping.wait()
