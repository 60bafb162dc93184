"""Which case events move a queue item, and how: the subscriber's translation."""

from __future__ import annotations

import uuid

import pytest

import caseflow_contracts as c
from routing.app.case_changes import AcceptCase, ChangeEntitlement, DequeueCase, RequeueCase
from routing.domain import NOT_ENTITLED_REASONS
from routing.entrypoints.consumers import case_change, entitlement_of

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


LINE = uuid.uuid4()


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"entitlement_id": LINE, "not_entitled": None}, (True, None)),
        (
            {"entitlement_id": None, "not_entitled": c.NotEntitledReason.CHANNEL_NOT_COVERED},
            (False, "channel_not_covered"),
        ),
        ({"entitlement_id": None, "not_entitled": None}, (None, None)),
    ],
    ids=["entitled", "not entitled", "from before contracts"],
)
def test_an_opening_tells_whether_a_contract_covers_the_case(
    fields: dict[str, object], expected: tuple[bool | None, str | None]
) -> None:
    opened = _event("case.opened", **fields)
    assert isinstance(opened, c.CaseOpened)
    assert entitlement_of(opened) == expected


def test_an_opening_without_the_entitlement_fields_predates_contracts() -> None:
    raw = c.sample("case.opened").model_dump(
        mode="json",
        exclude={"entitlement_id", "contract_id", "not_entitled", "entitlement_rule"},
    )
    old = c.CaseOpened.model_validate(raw)
    assert entitlement_of(old) == (None, None)


@pytest.mark.parametrize(
    ("fields", "entitled", "reason"),
    [
        ({"entitlement_id": LINE, "not_entitled": None}, True, None),
        (
            {"entitlement_id": None, "not_entitled": c.NotEntitledReason.EXHAUSTED},
            False,
            "exhausted",
        ),
        ({"entitlement_id": None, "not_entitled": None}, False, None),  # the line was cleared
    ],
    ids=["another line", "not entitled", "cleared"],
)
def test_a_changed_entitlement_is_noted(
    fields: dict[str, object], entitled: bool, reason: str | None
) -> None:
    changed = _event("case.entitlement_changed", **fields)
    assert case_change(changed) == ChangeEntitlement(
        case_id=CASE, at=changed.occurred_at, entitled=entitled, not_entitled=reason
    )


def test_routing_knows_every_reason_the_cases_service_gives() -> None:
    assert {reason.value for reason in c.NotEntitledReason} == NOT_ENTITLED_REASONS
