"""The periodic job with a fake tick and a clock that stands still: no sleeping, no database."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from structlog.testing import capture_logs

from caseflow_servicekit import PeriodicJob

pytestmark = pytest.mark.unit

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
WAIT = 5.0
"""Seconds a test waits for something the job is about to do before it fails."""


class StillClock:
    def now(self) -> datetime:
        return NOW


class FakeTick:
    """Finds `batches` of due items, then none; may fail first; may hold a batch until let go."""

    def __init__(self, batches: list[int], *, failures: int = 0, hold: bool = False) -> None:
        self.batches = list(batches)
        self.failures = failures
        self.calls: list[datetime] = []
        self.drained = asyncio.Event()
        self.entered = asyncio.Event()
        self.release = asyncio.Event()
        if not hold:
            self.release.set()

    async def __call__(self, now: datetime) -> int:
        self.calls.append(now)
        self.entered.set()
        await self.release.wait()
        if self.failures:
            self.failures -= 1
            raise ConnectionError("database away")
        if self.batches:
            return self.batches.pop(0)
        self.drained.set()
        return 0


def job(tick: FakeTick, *, interval: float = 3600) -> PeriodicJob:
    return PeriodicJob(name="test.job", tick=tick, clock=StillClock(), interval=interval)


def tasks_named(name: str) -> int:
    """How many unfinished tasks carry `name`."""
    return sum(1 for task in asyncio.all_tasks() if task.get_name() == name and not task.done())


async def test_a_pass_runs_batches_at_one_moment_until_one_finds_nothing() -> None:
    tick = FakeTick([200, 200, 7])

    assert await job(tick).run_once() == 407
    assert tick.calls == [NOW] * 4


async def test_the_loop_runs_a_pass_at_start_and_stops_without_waiting_out_the_interval() -> None:
    tick = FakeTick([3])
    periodic = job(tick, interval=3600)

    await periodic.start()
    await asyncio.wait_for(tick.drained.wait(), timeout=WAIT)
    await asyncio.wait_for(periodic.stop(), timeout=WAIT)

    assert len(tick.calls) == 2
    assert tasks_named("test.job") == 0


async def test_a_failed_pass_is_logged_and_the_next_one_runs() -> None:
    tick = FakeTick([], failures=2)
    periodic = job(tick, interval=0)

    with capture_logs() as logs:
        await periodic.start()
        await asyncio.wait_for(tick.drained.wait(), timeout=WAIT)
        await periodic.stop()

    assert len(tick.calls) >= 3  # with no interval, another pass may start before the stop
    assert [entry["event"] for entry in logs if entry["log_level"] == "error"] == [
        "test.job.pass_failed",
        "test.job.pass_failed",
    ]


async def test_starting_twice_runs_one_loop() -> None:
    tick = FakeTick([], hold=True)
    periodic = job(tick)

    await periodic.start()
    await periodic.start()
    await asyncio.wait_for(tick.entered.wait(), timeout=WAIT)

    assert tasks_named("test.job") == 1
    tick.release.set()
    await asyncio.wait_for(periodic.stop(), timeout=WAIT)
    assert tick.calls == [NOW]


async def test_stopping_lets_the_pass_in_hand_finish() -> None:
    tick = FakeTick([5, 2], hold=True)
    periodic = job(tick)
    await periodic.start()
    await asyncio.wait_for(tick.entered.wait(), timeout=WAIT)

    stopping = asyncio.create_task(periodic.stop())
    await asyncio.sleep(0)  # let stop() begin waiting on the pass
    assert not stopping.done()
    tick.release.set()
    await asyncio.wait_for(stopping, timeout=WAIT)

    assert tick.calls == [NOW] * 3  # every batch of the pass ran, then the loop ended
    assert tick.batches == []


async def test_a_job_can_be_stopped_before_it_starts_and_started_again_after_it_stops() -> None:
    tick = FakeTick([])
    periodic = job(tick)

    await periodic.stop()
    await periodic.start()
    await asyncio.wait_for(tick.drained.wait(), timeout=WAIT)
    await periodic.stop()
    tick.drained.clear()
    await periodic.start()
    await asyncio.wait_for(tick.drained.wait(), timeout=WAIT)
    await periodic.stop()

    assert len(tick.calls) == 2


def test_a_negative_interval_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        job(FakeTick([]), interval=-1)


async def test_a_job_that_knows_when_work_falls_due_waits_only_until_then() -> None:
    tick = FakeTick([])
    asked: list[datetime] = []
    third = asyncio.Event()

    # The next item falls due at the clock's moment: the next pass comes at once (after the
    # shortest wait), not an hour later.
    async def next_due() -> datetime | None:
        asked.append(NOW)
        if len(asked) == 3:
            third.set()
        return NOW

    periodic = PeriodicJob(
        name="test.job", tick=tick, clock=StillClock(), interval=3600, next_due=next_due
    )
    await periodic.start()
    try:
        async with asyncio.timeout(WAIT):
            await third.wait()
    finally:
        await periodic.stop()
    assert len(tick.calls) >= 3


async def test_a_job_whose_next_due_fails_or_knows_nothing_waits_its_interval() -> None:
    tick = FakeTick([])
    results: list[datetime | Exception | None] = [ConnectionError("database away"), None]
    both = asyncio.Event()

    async def next_due() -> datetime | None:
        result = results.pop(0) if results else None
        if not results:
            both.set()
        if isinstance(result, Exception):
            raise result
        return result

    periodic = PeriodicJob(
        name="test.job", tick=tick, clock=StillClock(), interval=0.05, next_due=next_due
    )
    with capture_logs() as logs:
        await periodic.start()
        try:
            async with asyncio.timeout(WAIT):
                await both.wait()
        finally:
            await periodic.stop()
    assert len(tick.calls) >= 2
    assert any(entry["event"] == "test.job.pass_failed" for entry in logs)
