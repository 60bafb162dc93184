"""The per-process cache of policies and calendars."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

from sla.adapters.repository import ReferenceCache
from sla.app.ports import NamedCalendar
from sla.domain import Calendar, KpiDefinition, SlaPolicy


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


POLICY = SlaPolicy(
    policy_id=UUID(int=1),
    name="Default",
    calendar_id=UUID(int=2),
    kpis=(KpiDefinition("first_response", timedelta(hours=8)),),
    is_default=True,
)
CALENDAR = NamedCalendar(calendar_id=UUID(int=2), name="24x7", calendar=Calendar.always_open())


def test_policies_and_calendars_are_kept_for_the_ttl_and_then_read_again() -> None:
    clock = FakeClock()
    cache = ReferenceCache(5.0, clock=clock)
    assert cache.policies() is None
    cache.keep_policies([POLICY])
    cache.keep_calendar(CALENDAR)
    clock.now += 5.0
    assert cache.policies() == [POLICY]
    assert cache.calendar(CALENDAR.calendar_id) == CALENDAR
    clock.now += 0.1
    assert cache.policies() is None
    assert cache.calendar(CALENDAR.calendar_id) is None


def test_a_change_clears_what_is_kept() -> None:
    cache = ReferenceCache(60.0, clock=FakeClock())
    cache.keep_policies([POLICY])
    cache.keep_calendar(CALENDAR)
    cache.clear()
    assert cache.policies() is None
    assert cache.calendar(CALENDAR.calendar_id) is None


def test_a_zero_ttl_keeps_nothing_past_the_moment() -> None:
    clock = FakeClock()
    cache = ReferenceCache(0.0, clock=clock)
    cache.keep_policies([POLICY])
    clock.now += 0.001
    assert cache.policies() is None
