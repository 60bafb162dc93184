"""The KPI timer loop with a fake pass, and domain events translated to published contracts."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import TypedDict
from uuid import UUID

import pytest

import caseflow_contracts as c
from sla.adapters.published import to_contract
from sla.domain import kpi as d
from sla.entrypoints.timer import KpiTimer

pytestmark = pytest.mark.unit

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
CASE = UUID("ca5e0000-0000-4000-8000-000000000001")
INSTANCE = UUID("5e1a0000-0000-4000-8000-000000000001")
POLICY = UUID("9011c400-0000-4000-8000-000000000001")
CALENDAR = UUID("ca1e0000-0000-4000-8000-000000000001")


class About(TypedDict):
    instance_id: UUID
    case_id: UUID
    kpi: str
    occurred_at: datetime


ABOUT: About = {
    "instance_id": INSTANCE,
    "case_id": CASE,
    "kpi": "first_response",
    "occurred_at": NOW,
}


class StillClock:
    def now(self) -> datetime:
        return NOW


class FakeTick:
    """A timer pass that finds `batches` of due KPIs, then none; may fail first."""

    def __init__(self, batches: list[int], *, failures: int = 0) -> None:
        self.batches = list(batches)
        self.failures = failures
        self.calls: list[datetime] = []
        self.drained = asyncio.Event()

    async def __call__(self, now: datetime) -> int:
        self.calls.append(now)
        if self.failures:
            self.failures -= 1
            raise ConnectionError("database away")
        if self.batches:
            return self.batches.pop(0)
        self.drained.set()
        return 0


async def test_one_pass_repeats_until_nothing_is_due() -> None:
    tick = FakeTick([200, 200, 7])
    timer = KpiTimer(tick=tick, clock=StillClock(), interval=60)

    assert await timer.run_once() == 407
    assert tick.calls == [NOW] * 4


async def test_the_loop_ticks_at_start_and_stops_when_asked() -> None:
    tick = FakeTick([3])
    timer = KpiTimer(tick=tick, clock=StillClock(), interval=3600)

    await timer.start()
    await asyncio.wait_for(tick.drained.wait(), timeout=5)
    await asyncio.wait_for(timer.stop(), timeout=5)  # does not wait out the hour

    assert len(tick.calls) == 2


async def test_a_failed_pass_does_not_end_the_loop() -> None:
    tick = FakeTick([], failures=2)
    timer = KpiTimer(tick=tick, clock=StillClock(), interval=0)

    await timer.start()
    await asyncio.wait_for(tick.drained.wait(), timeout=5)
    await timer.stop()

    assert len(tick.calls) >= 3


def test_a_started_kpi_is_published_with_its_calendar() -> None:
    event = d.KpiStarted(
        **ABOUT,
        policy_id=POLICY,
        target=timedelta(hours=8),
        due_at=NOW + timedelta(hours=8),
        warn_at=NOW + timedelta(hours=6),
    )

    published = to_contract(event, calendar_id=CALENDAR)

    assert published == c.KpiStarted(
        kpi_instance_id=INSTANCE,
        case_id=CASE,
        kpi="first_response",
        occurred_at=NOW,
        policy_id=POLICY,
        calendar_id=CALENDAR,
        started_at=NOW,
        due_at=NOW + timedelta(hours=8),
        warn_at=NOW + timedelta(hours=6),
    )
    with pytest.raises(ValueError, match="calendar"):
        to_contract(event)


def test_a_breach_is_published_with_its_deadline_and_a_success_with_the_one_given() -> None:
    breached = to_contract(d.KpiBreached(**ABOUT))
    assert isinstance(breached, c.KpiBreached) and breached.due_at == NOW

    met = to_contract(d.KpiSucceeded(**ABOUT, breached=False), due_at=NOW + timedelta(hours=1))
    assert isinstance(met, c.KpiSucceeded)
    assert (met.succeeded_at, met.due_at) == (NOW, NOW + timedelta(hours=1))
    with pytest.raises(ValueError, match="deadline"):
        to_contract(d.KpiSucceeded(**ABOUT, breached=False))


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        (
            d.KpiPaused(**ABOUT, consumed=timedelta(hours=1), remaining=timedelta(hours=7)),
            {"type": "kpi.paused", "paused_at": NOW},
        ),
        (
            d.KpiResumed(**ABOUT, due_at=NOW + timedelta(hours=3), warn_at=None),
            {"type": "kpi.resumed", "resumed_at": NOW, "due_at": NOW + timedelta(hours=3)},
        ),
        (
            d.KpiNearingBreach(**ABOUT, due_at=NOW + timedelta(hours=2)),
            {"type": "kpi.nearing_breach", "due_at": NOW + timedelta(hours=2)},
        ),
        (d.KpiCancelled(**ABOUT), {"type": "kpi.cancelled"}),
    ],
)
def test_each_kpi_event_has_its_contract(event: d.KpiEvent, expected: dict[str, object]) -> None:
    published = to_contract(event).model_dump()
    assert published["kpi_instance_id"] == INSTANCE and published["case_id"] == CASE
    assert {key: published[key] for key in expected} == expected
    assert c.partition_key(to_contract(event)) == str(CASE)
