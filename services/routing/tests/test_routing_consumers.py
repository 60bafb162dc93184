"""Which case events move a queue item, and how: the subscriber's translation."""

from __future__ import annotations

import uuid

import pytest

import caseflow_contracts as c
from routing.app.case_changes import AcceptCase, DequeueCase, RequeueCase
from routing.entrypoints.consumers import case_change

pytestmark = pytest.mark.unit

CASE = uuid.uuid4()
AGENT = uuid.uuid4()


def _event(kind: str, **fields: object) -> c.Event:
    return c.sample(kind).model_copy(update={"case_id": CASE, **fields})


def test_a_resolved_or_cancelled_case_is_dequeued_saying_why() -> None:
    resolved, cancelled = _event("case.resolved"), _event("case.cancelled")
    assert case_change(resolved) == DequeueCase(
        case_id=CASE, at=resolved.occurred_at, reason="resolved"
    )
    assert case_change(cancelled) == DequeueCase(
        case_id=CASE, at=cancelled.occurred_at, reason="cancelled"
    )


def test_a_reopened_case_is_requeued() -> None:
    reopened = _event("case.reopened")
    assert case_change(reopened) == RequeueCase(case_id=CASE, at=reopened.occurred_at)


def test_an_agent_taking_the_case_into_work_accepts_it() -> None:
    taken = _event("case.status_changed", to_status=c.CaseStatus.IN_PROGRESS, by=AGENT)
    assert case_change(taken) == AcceptCase(case_id=CASE, at=taken.occurred_at, agent_id=AGENT)


@pytest.mark.parametrize(
    "event",
    [
        _event("case.status_changed", to_status=c.CaseStatus.IN_PROGRESS, by=None),
        _event("case.status_changed", to_status=c.CaseStatus.WAITING_FOR_CUSTOMER, by=AGENT),
        _event("case.status_changed", to_status=c.CaseStatus.ON_HOLD, by=AGENT),
        _event("case.updated"),
        _event("activity.logged"),
    ],
    ids=["in progress by nobody", "waiting", "on hold", "updated", "activity"],
)
def test_other_case_events_leave_the_queue_item_alone(event: c.Event) -> None:
    assert case_change(event) is None
