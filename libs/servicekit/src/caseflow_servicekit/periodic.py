"""A periodic job: while a service runs, it works off whatever has fallen due, pass by pass.

A pass asks `tick(now)` for one batch after another, all at the same `now`, until a batch
finds nothing; each batch is expected to be its own transaction that claims its items (e.g.
`FOR UPDATE SKIP LOCKED`), so several replicas may run the same job side by side. A pass
that fails is logged and the next one tries again: a database that is away for a while
delays the work, it does not end the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import datetime

import structlog

from caseflow_servicekit.clock import Clock

log = structlog.get_logger(__name__)

MIN_WAIT_SECONDS = 0.05
"""The shortest wait between passes of a job that knows when its next item falls due."""

Tick = Callable[[datetime], Awaitable[int]]
"""One batch of the items due at a moment; returns how many it handled (0: none left)."""

NextDue = Callable[[], Awaitable[datetime | None]]
"""When the next item falls due (None: nothing is waiting)."""


class PeriodicJob:
    """Every `interval` seconds, runs a pass over what is due at the clock's `now`.

    With `next_due`, a pass is followed by a wait only until the next item falls due (at most
    `interval`): an item is handled about when it falls due, not up to an interval later.

    `name` names the background task and prefixes the job's log events
    (`<name>.pass`, `<name>.pass_failed`).
    """

    def __init__(
        self,
        *,
        name: str,
        tick: Tick,
        clock: Clock,
        interval: float,
        next_due: NextDue | None = None,
    ) -> None:
        if interval < 0:
            msg = f"the interval of {name!r} must not be negative, not {interval}"
            raise ValueError(msg)
        self.name = name
        self._tick = tick
        self._clock = clock
        self._interval = interval
        self._next_due = next_due
        self._pass_event = f"{name}.pass"
        self._failed_event = f"{name}.pass_failed"
        self._stopping = asyncio.Event()
        self._woken = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Run a pass at once, then one every interval, in the background; idempotent."""
        if self._task is not None:
            return
        self._stopping = asyncio.Event()
        self._woken = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        """Stop the loop, letting a pass in hand finish; harmless when not started."""
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping.set()
        self._woken.set()
        await task

    def wake(self) -> None:
        """Run the next pass now rather than at the end of the interval (new work came)."""
        self._woken.set()

    async def run_once(self) -> int:
        """Work off every batch due at `clock.now()`; how many items the batches handled."""
        now = self._clock.now()
        total = 0
        # `now` stays fixed, so what falls due during the pass waits for the next one and the
        # pass ends; a tick that returned a negative count must not keep it going either.
        while (count := await self._tick(now)) > 0:
            total += count
        return total

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                handled = await self.run_once()
            except Exception:
                # The cause (the database away) is usually passing: the next pass retries.
                log.exception(self._failed_event, job=self.name)
            else:
                if handled:
                    log.debug(self._pass_event, job=self.name, items=handled)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(await self._wait()):
                    await self._woken.wait()
            self._woken.clear()

    async def _wait(self) -> float:
        """Seconds to wait before the next pass: the interval, or less when an item falls due
        sooner."""
        if self._next_due is None:
            return self._interval
        try:
            due = await self._next_due()
        except Exception:
            log.exception(self._failed_event, job=self.name)
            return self._interval
        if due is None:
            return self._interval
        # Not less than a moment: an item due but held by another replica is left to it.
        wait = (due - self._clock.now()).total_seconds()
        return min(self._interval, max(MIN_WAIT_SECONDS, wait))
