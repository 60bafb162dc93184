"""Domain KPI events translated to the contracts the SLA service publishes.

The timer loop itself is the kit's `PeriodicJob`, tested in libs/servicekit.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TypedDict
from uuid import UUID

import pytest

import caseflow_contracts as c
from sla.adapters.published import to_contract
from sla.domain import kpi as d

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
