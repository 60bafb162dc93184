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

Tick = Callable[[datetime], Awaitable[int]]
"""One batch of the items due at a moment; returns how many it handled (0: none left)."""


class PeriodicJob:
    """Every `interval` seconds, runs a pass over what is due at the clock's `now`.

    `name` names the background task and prefixes the job's log events
    (`<name>.pass`, `<name>.pass_failed`).
    """

    def __init__(self, *, name: str, tick: Tick, clock: Clock, interval: float) -> None:
        if interval < 0:
            msg = f"the interval of {name!r} must not be negative, not {interval}"
            raise ValueError(msg)
        self.name = name
        self._tick = tick
        self._clock = clock
        self._interval = interval
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
                async with asyncio.timeout(self._interval):
                    await self._woken.wait()
            self._woken.clear()
