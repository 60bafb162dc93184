"""The projection rules of routing and SLA facts, pure: order-tolerance and overdue."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from cases.app.projections import (
    CaseProjection,
    KpiState,
    KpiStatus,
    RecordAssigned,
    RecordDequeued,
    RecordKpiChange,
    RecordQueued,
    RecordReleased,
    RecordTransferred,
    RoutingChange,
    RoutingState,
    apply_kpi,
    apply_routing,
)

T0 = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
CASE = uuid.uuid4()
Q1, Q2 = uuid.uuid4(), uuid.uuid4()
AGENT, OTHER = uuid.uuid4(), uuid.uuid4()
INSTANCE = uuid.uuid4()


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def routed(changes: list[RoutingChange], names: dict[uuid.UUID, str] | None = None) -> RoutingState:
    state = RoutingState()
    for change in changes:
        name = None
        if isinstance(change, RecordTransferred):
            name = state.queue_names.get(change.to_queue_id) or (names or {}).get(
                change.to_queue_id
            )
        state = apply_routing(state, change, queue_name=name)
    return state


def kpi(status: KpiStatus, minutes: int, **kw: object) -> RecordKpiChange:
    values: dict[str, object] = {
        "case_id": CASE,
        "kpi": "resolution",
        "instance_id": INSTANCE,
        "status": status,
        "at": at(minutes),
        **kw,
    }
    return RecordKpiChange(**values)  # type: ignore[arg-type]


def kpi_after(changes: list[RecordKpiChange]) -> KpiState | None:
    state: KpiState | None = None
    for change in changes:
        state = apply_kpi(state, change)
    return state


ROUTING_HISTORY: list[RoutingChange] = [
    RecordQueued(case_id=CASE, queue_id=Q1, queue_name="Billing", at=at(0)),
    RecordAssigned(case_id=CASE, agent_id=AGENT, at=at(1)),
    RecordReleased(case_id=CASE, agent_id=AGENT, at=at(2)),
    RecordTransferred(case_id=CASE, from_queue_id=Q1, to_queue_id=Q2, at=at(3)),
    RecordAssigned(case_id=CASE, agent_id=OTHER, at=at(4)),
]


@pytest.mark.parametrize("order", list(itertools.permutations(range(len(ROUTING_HISTORY)))))
def test_routing_facts_do_not_depend_on_the_order_events_arrive_in(
    order: tuple[int, ...],
) -> None:
    state = routed([ROUTING_HISTORY[i] for i in order])
    assert (state.queue_id, state.assignee_id) == (Q2, OTHER)
    assert (state.queue_at, state.assignee_at) == (at(3), at(4))


def test_a_transfer_takes_the_last_known_name_of_its_queue_or_none() -> None:
    unknown = routed(ROUTING_HISTORY[:4])
    assert unknown.queue_name is None
    known = routed(ROUTING_HISTORY[:4], names={Q2: "Refunds"})
    assert known.queue_name == "Refunds"
    # Back to a queue the case has been in: its own memory has the name.
    back = routed(
        [
            *ROUTING_HISTORY,
            RecordTransferred(case_id=CASE, from_queue_id=Q2, to_queue_id=Q1, at=at(5)),
        ]
    )
    assert (back.queue_id, back.queue_name) == (Q1, "Billing")


def test_an_older_queued_event_fills_in_the_name_of_the_queue_the_case_is_in() -> None:
    state = routed(
        [
            RecordTransferred(case_id=CASE, from_queue_id=Q1, to_queue_id=Q2, at=at(3)),
            RecordQueued(case_id=CASE, queue_id=Q2, queue_name="Refunds", at=at(1)),
        ]
    )
    assert (state.queue_id, state.queue_name, state.queue_at) == (Q2, "Refunds", at(3))


def test_dequeued_clears_the_queue_keeps_the_agent_and_wins_a_tie() -> None:
    dequeued = RecordDequeued(case_id=CASE, queue_id=Q2, at=at(4))
    tie = RecordTransferred(case_id=CASE, from_queue_id=Q2, to_queue_id=Q1, at=at(4))
    for changes in ([*ROUTING_HISTORY, dequeued, tie], [*ROUTING_HISTORY, tie, dequeued]):
        state = routed(changes)
        assert (state.queue_id, state.queue_name, state.assignee_id) == (None, None, OTHER)


def test_a_breach_stays_whatever_order_the_kpi_events_come_in() -> None:
    due = at(60)
    events = [
        kpi(KpiStatus.IN_PROGRESS, 0, due_at=due),
        kpi(KpiStatus.NEARING_BREACH, 45, due_at=due),
        kpi(KpiStatus.BREACHED, 60, due_at=due, breached=True),
        kpi(KpiStatus.SUCCEEDED, 90, due_at=due, breached=True),
    ]
    for order in itertools.permutations(events):
        state = kpi_after(list(order))
        assert state is not None
        assert (state.status, state.breached, state.at, state.due_at) == (
            KpiStatus.SUCCEEDED,
            True,
            at(90),
            due,
        )
    # Without the met event, the last word is the breach, and the case is overdue.
    for order in itertools.permutations(events[:3]):
        state = kpi_after(list(order))
        assert state is not None
        assert (state.status, state.breached) == (KpiStatus.BREACHED, True)
        assert CaseProjection(kpis={"resolution": state}).overdue


def test_an_older_breach_marks_a_kpi_met_since_as_breached() -> None:
    state = kpi_after(
        [
            kpi(KpiStatus.SUCCEEDED, 90, due_at=at(120)),
            kpi(KpiStatus.BREACHED, 60, due_at=at(60), breached=True),
        ]
    )
    assert state is not None
    assert (state.status, state.breached) == (KpiStatus.SUCCEEDED, True)
    assert not CaseProjection(kpis={"resolution": state}).overdue


def test_a_cancellation_keeps_the_deadline_and_a_pause_drops_it() -> None:
    paused = kpi_after([kpi(KpiStatus.IN_PROGRESS, 0, due_at=at(60)), kpi(KpiStatus.PAUSED, 10)])
    assert paused is not None and paused.due_at is None
    cancelled = kpi_after(
        [
            kpi(KpiStatus.IN_PROGRESS, 0, due_at=at(60)),
            kpi(KpiStatus.CANCELLED, 10, keeps_due_at=True),
        ]
    )
    assert cancelled is not None
    assert (cancelled.status, cancelled.due_at) == (KpiStatus.CANCELLED, at(60))


def test_a_new_instance_of_a_kpi_starts_clean_and_an_old_one_is_ignored() -> None:
    breached = kpi_after([kpi(KpiStatus.BREACHED, 60, due_at=at(60), breached=True)])
    again = uuid.uuid4()
    fresh = apply_kpi(breached, kpi(KpiStatus.IN_PROGRESS, 120, due_at=at(180), instance_id=again))
    assert (fresh.status, fresh.breached, fresh.instance_id) == (
        KpiStatus.IN_PROGRESS,
        False,
        again,
    )
    late = apply_kpi(fresh, kpi(KpiStatus.BREACHED, 61, due_at=at(60), breached=True))
    assert late == fresh


@pytest.mark.parametrize(
    ("kpis", "overdue"),
    [
        ({}, False),
        ({"a": (KpiStatus.IN_PROGRESS, False)}, False),
        ({"a": (KpiStatus.BREACHED, True)}, True),
        ({"a": (KpiStatus.PAUSED, True)}, True),
        ({"a": (KpiStatus.SUCCEEDED, True)}, False),
        ({"a": (KpiStatus.CANCELLED, True)}, False),
        ({"a": (KpiStatus.SUCCEEDED, True), "b": (KpiStatus.BREACHED, True)}, True),
    ],
)
def test_overdue_is_a_breached_kpi_not_yet_met_or_cancelled(
    kpis: dict[str, tuple[KpiStatus, bool]], overdue: bool
) -> None:
    projection = CaseProjection(
        kpis={
            name: KpiState(status=status, due_at=None, breached=breached, at=T0)
            for name, (status, breached) in kpis.items()
        }
    )
    assert projection.overdue is overdue
