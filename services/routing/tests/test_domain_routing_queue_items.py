"""Queue items: enqueue, assign, pick, release, transfer and remove."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest

from routing.domain import (
    Agent,
    AgentAtCapacityError,
    AgentUnavailableError,
    AssignmentStrategy,
    CaseAccepted,
    CaseAssigned,
    CaseDequeued,
    CaseFacts,
    CaseQueued,
    CaseReleased,
    CaseTransferred,
    ItemAlreadyWorkedError,
    ItemNotWorkedError,
    Presence,
    Queue,
    QueueItem,
    QueueItemRemovedError,
    QueueItemStatus,
    RoutingError,
    RoutingRule,
    RoutingValidationError,
    SameQueueError,
    enqueue,
    requeue,
)

pytestmark = pytest.mark.unit

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ITEM = UUID(int=1)
CASE = UUID(int=2)
DEFAULT = UUID(int=10)
PRINTERS = UUID(int=11)
TIER_2 = UUID(int=12)
ANNA = UUID(int=100)
BORIS = UUID(int=101)

WAITING = QueueItemStatus.WAITING
ASSIGNED = QueueItemStatus.ASSIGNED
RELEASED = QueueItemStatus.RELEASED
REMOVED = QueueItemStatus.REMOVED

PRINTER_RULE = RoutingRule(
    name="printers",
    order=1,
    queue_id=PRINTERS,
    request_types=frozenset({"hardware.printer"}),
    required_skills=frozenset({"printers"}),
)


def minutes(n: int) -> datetime:
    return T0 + timedelta(minutes=n)


def anna(**overrides: object) -> Agent:
    fields: dict[str, object] = {
        "agent_id": ANNA,
        "name": "Anna",
        "capacity": 3,
        "presence": Presence.AVAILABLE,
    }
    fields.update(overrides)
    return Agent(**fields)  # type: ignore[arg-type]


BORIS_AGENT = Agent(agent_id=BORIS, name="Boris", capacity=3, presence=Presence.AVAILABLE)


def item_in(status: QueueItemStatus, worked_by: UUID | None = None) -> QueueItem:
    """An item in the printers queue as a repository would load it."""
    return QueueItem(
        queue_item_id=ITEM,
        case_id=CASE,
        queue_id=PRINTERS,
        entered_at=T0,
        status=status,
        worked_by=worked_by,
        worked_since=None if worked_by is None else T0,
    )


def facts(request_type: str | None) -> CaseFacts:
    return CaseFacts(
        case_id=CASE, channel="email", priority="normal", subject="Jam", request_type=request_type
    )


# -- queues ----------------------------------------------------------------------------


def test_a_queue_needs_a_name() -> None:
    with pytest.raises(RoutingValidationError):
        Queue(queue_id=DEFAULT, name=" ")


# -- enqueue ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("request_type", "queue_id", "rule_name", "skills"),
    [
        ("hardware.printer", PRINTERS, "printers", frozenset({"printers"})),
        ("billing", DEFAULT, None, frozenset()),
        (None, DEFAULT, None, frozenset()),
    ],
)
def test_enqueue_places_the_case_where_the_rules_say(
    request_type: str | None, queue_id: UUID, rule_name: str | None, skills: frozenset[str]
) -> None:
    item, events = enqueue(facts(request_type), [PRINTER_RULE], DEFAULT, queue_item_id=ITEM, now=T0)

    assert (item.queue_item_id, item.case_id, item.queue_id) == (ITEM, CASE, queue_id)
    assert (item.status, item.worked_by, item.entered_at) == (WAITING, None, T0)
    assert item.required_skills == skills
    assert events == [
        CaseQueued(
            queue_item_id=ITEM,
            case_id=CASE,
            occurred_at=T0,
            queue_id=queue_id,
            rule_name=rule_name,
            required_skills=skills,
        )
    ]


def test_enqueue_refuses_a_naive_now() -> None:
    with pytest.raises(RoutingValidationError):
        enqueue(facts(None), [], DEFAULT, queue_item_id=ITEM, now=datetime(2026, 3, 2, 9))


# -- assign and pick -------------------------------------------------------------------


@pytest.mark.parametrize("status", [WAITING, RELEASED])
@pytest.mark.parametrize("picked", [False, True])
def test_an_agent_starts_working_a_waiting_item(status: QueueItemStatus, picked: bool) -> None:
    item = item_in(status)

    start_work = item.pick if picked else item.assign
    events = start_work(anna(), now=minutes(3))

    assert (item.status, item.worked_by, item.worked_since) == (ASSIGNED, ANNA, minutes(3))
    assert events == [
        CaseAssigned(
            queue_item_id=ITEM,
            case_id=CASE,
            occurred_at=minutes(3),
            queue_id=PRINTERS,
            agent_id=ANNA,
            picked=picked,
            strategy=AssignmentStrategy.MANUAL,
        )
    ]


@pytest.mark.parametrize("strategy", list(AssignmentStrategy))
def test_an_assignment_records_who_chose_the_agent(strategy: AssignmentStrategy) -> None:
    item = item_in(WAITING)
    (event,) = item.assign(anna(), now=minutes(3), strategy=strategy)
    assert isinstance(event, CaseAssigned)
    assert (event.strategy, event.picked) == (strategy, False)


@pytest.mark.parametrize("operation", ["assign", "pick"])
def test_giving_an_item_to_the_agent_already_working_it_changes_nothing(operation: str) -> None:
    item = item_in(ASSIGNED, worked_by=ANNA)
    # Even at full capacity: the item is already counted in Anna's load.
    events = getattr(item, operation)(anna(active_items=3), now=minutes(3))
    assert events == []
    assert (item.worked_by, item.worked_since) == (ANNA, T0)


@pytest.mark.parametrize(
    ("operation", "item", "agent", "error"),
    [
        ("assign", item_in(ASSIGNED, BORIS), anna(), ItemAlreadyWorkedError),
        ("pick", item_in(ASSIGNED, BORIS), anna(), ItemAlreadyWorkedError),
        ("assign", item_in(WAITING), anna(presence=Presence.OFFLINE), AgentUnavailableError),
        ("assign", item_in(WAITING), anna(active_items=3), AgentAtCapacityError),
        ("pick", item_in(WAITING), anna(active_items=3), AgentAtCapacityError),
        ("assign", item_in(RELEASED), anna(capacity=0), AgentAtCapacityError),
        ("assign", item_in(REMOVED), anna(), QueueItemRemovedError),
        ("pick", item_in(REMOVED), anna(), QueueItemRemovedError),
    ],
)
def test_assign_and_pick_refuse(
    operation: str, item: QueueItem, agent: Agent, error: type[RoutingError]
) -> None:
    before = (item.status, item.worked_by)
    with pytest.raises(error):
        getattr(item, operation)(agent, now=minutes(3))
    assert (item.status, item.worked_by) == before


@pytest.mark.parametrize("presence", [Presence.AVAILABLE, Presence.BUSY, Presence.AWAY])
def test_a_supervisor_may_assign_to_anyone_not_offline(presence: Presence) -> None:
    item = item_in(WAITING)
    item.assign(anna(presence=presence), now=minutes(3))
    assert item.worked_by == ANNA


def test_an_agent_may_pick_whatever_their_presence_says() -> None:
    item = item_in(WAITING)
    item.pick(anna(presence=Presence.OFFLINE), now=minutes(3))
    assert item.worked_by == ANNA


# -- release ---------------------------------------------------------------------------


def test_release_puts_the_item_back_to_wait() -> None:
    item = item_in(ASSIGNED, worked_by=ANNA)

    events = item.release(now=minutes(9))

    assert (item.status, item.worked_by, item.worked_since) == (RELEASED, None, None)
    assert item.queue_id == PRINTERS
    assert events == [
        CaseReleased(
            queue_item_id=ITEM,
            case_id=CASE,
            occurred_at=minutes(9),
            queue_id=PRINTERS,
            agent_id=ANNA,
        )
    ]


def test_a_released_item_can_go_to_someone_else() -> None:
    item = item_in(ASSIGNED, worked_by=ANNA)
    item.release(now=minutes(9))
    item.pick(BORIS_AGENT, now=minutes(10))
    assert (item.status, item.worked_by) == (ASSIGNED, BORIS)


@pytest.mark.parametrize(
    ("item", "error"),
    [
        (item_in(WAITING), ItemNotWorkedError),
        (item_in(RELEASED), ItemNotWorkedError),
        (item_in(REMOVED), QueueItemRemovedError),
    ],
)
def test_release_refuses(item: QueueItem, error: type[RoutingError]) -> None:
    with pytest.raises(error):
        item.release(now=minutes(9))


# -- transfer --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "worked_by"),
    [(WAITING, None), (RELEASED, None), (ASSIGNED, ANNA)],
)
def test_transfer_moves_the_item_to_wait_afresh_in_another_queue(
    status: QueueItemStatus, worked_by: UUID | None
) -> None:
    item = item_in(status, worked_by)

    events = item.transfer(TIER_2, now=minutes(20), by=BORIS)

    assert (item.queue_id, item.status, item.worked_by) == (TIER_2, WAITING, None)
    assert item.entered_at == minutes(20)
    assert events == [
        CaseTransferred(
            queue_item_id=ITEM,
            case_id=CASE,
            occurred_at=minutes(20),
            from_queue_id=PRINTERS,
            to_queue_id=TIER_2,
            released_agent_id=worked_by,
            transferred_by=BORIS,
        )
    ]


@pytest.mark.parametrize(
    ("item", "to_queue", "error"),
    [
        (item_in(WAITING), PRINTERS, SameQueueError),
        (item_in(ASSIGNED, ANNA), PRINTERS, SameQueueError),
        (item_in(REMOVED), TIER_2, QueueItemRemovedError),
    ],
)
def test_transfer_refuses(item: QueueItem, to_queue: UUID, error: type[RoutingError]) -> None:
    before = (item.queue_id, item.status, item.worked_by)
    with pytest.raises(error):
        item.transfer(to_queue, now=minutes(20))
    assert (item.queue_id, item.status, item.worked_by) == before


# -- remove ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "worked_by"),
    [(WAITING, None), (RELEASED, None), (ASSIGNED, BORIS)],
)
def test_remove_takes_the_item_out_for_good(
    status: QueueItemStatus, worked_by: UUID | None
) -> None:
    item = item_in(status, worked_by)

    events = item.remove(" Case resolved ", now=minutes(30))

    assert (item.status, item.worked_by, item.is_active) == (REMOVED, None, False)
    assert events == [
        CaseDequeued(
            queue_item_id=ITEM,
            case_id=CASE,
            occurred_at=minutes(30),
            queue_id=PRINTERS,
            reason="Case resolved",
            released_agent_id=worked_by,
        )
    ]


def test_removing_a_removed_item_changes_nothing() -> None:
    item = item_in(REMOVED)
    assert item.remove("Case cancelled", now=minutes(30)) == []
    assert item.status is REMOVED


def test_remove_needs_a_reason() -> None:
    item = item_in(WAITING)
    with pytest.raises(RoutingValidationError):
        item.remove("  ", now=minutes(30))
    assert item.is_active


# -- accept: an agent took the case into work -----------------------------------------


@pytest.mark.parametrize("status", [WAITING, RELEASED])
def test_an_agent_who_took_the_case_into_work_works_its_waiting_item(
    status: QueueItemStatus,
) -> None:
    item = item_in(status)

    events = item.accept(anna(), now=minutes(5))

    assert (item.status, item.worked_by, item.worked_since) == (ASSIGNED, ANNA, minutes(5))
    assert events == [
        CaseAccepted(
            queue_item_id=ITEM,
            case_id=CASE,
            occurred_at=minutes(5),
            queue_id=PRINTERS,
            agent_id=ANNA,
        )
    ]


@pytest.mark.parametrize(
    "agent",
    [
        anna(presence=Presence.OFFLINE),
        anna(capacity=0),
        anna(capacity=1, active_items=1),
        anna(skills=frozenset()),
    ],
)
def test_accepting_records_a_fact_whatever_the_agents_presence_capacity_or_skills(
    agent: Agent,
) -> None:
    item = dataclasses.replace(item_in(WAITING), required_skills=frozenset({"printers"}))
    assert [type(e) for e in item.accept(agent, now=minutes(5))] == [CaseAccepted]
    assert item.worked_by == ANNA


def test_accepting_an_item_one_already_works_changes_nothing() -> None:
    item = item_in(ASSIGNED, worked_by=ANNA)
    assert item.accept(anna(), now=minutes(5)) == []
    assert item.worked_since == T0


@pytest.mark.parametrize(
    ("item", "error"),
    [
        (item_in(ASSIGNED, worked_by=BORIS), ItemAlreadyWorkedError),
        (item_in(REMOVED), QueueItemRemovedError),
    ],
)
def test_accept_does_not_take_an_item_from_another_agent_nor_revive_a_removed_one(
    item: QueueItem, error: type[RoutingError]
) -> None:
    before = dataclasses.replace(item)
    with pytest.raises(error):
        item.accept(anna(), now=minutes(5))
    assert (item.status, item.worked_by) == (before.status, before.worked_by)


# -- requeue: a reopened case comes back ----------------------------------------------

NEW_ITEM = UUID(int=3)


def test_a_reopened_case_waits_afresh_in_the_queue_its_last_item_was_in() -> None:
    last = dataclasses.replace(
        item_in(ASSIGNED, worked_by=ANNA), required_skills=frozenset({"printers"})
    )
    last.transfer(TIER_2, now=minutes(1))
    last.remove("resolved", now=minutes(2))

    item, events = requeue(last, queue_item_id=NEW_ITEM, now=minutes(30))

    assert (item.queue_item_id, item.case_id, item.queue_id) == (NEW_ITEM, CASE, TIER_2)
    assert (item.status, item.worked_by, item.entered_at) == (WAITING, None, minutes(30))
    assert item.required_skills == frozenset({"printers"})
    assert events == [
        CaseQueued(
            queue_item_id=NEW_ITEM,
            case_id=CASE,
            occurred_at=minutes(30),
            queue_id=TIER_2,
            rule_name=None,
            required_skills=frozenset({"printers"}),
        )
    ]
    assert last.status is REMOVED  # the old item stays out


@pytest.mark.parametrize("status", [WAITING, ASSIGNED, RELEASED])
def test_a_case_still_in_its_queue_is_not_queued_again(status: QueueItemStatus) -> None:
    last = item_in(status, ANNA if status is ASSIGNED else None)
    item, events = requeue(last, queue_item_id=NEW_ITEM, now=minutes(30))
    assert (item, events) == (last, [])


def test_requeue_refuses_a_naive_now() -> None:
    with pytest.raises(RoutingValidationError):
        requeue(item_in(REMOVED), queue_item_id=NEW_ITEM, now=datetime(2026, 3, 2, 9))


# -- the whole way ---------------------------------------------------------------------


def test_a_case_through_the_queues() -> None:
    item, events = enqueue(
        facts("hardware.printer"), [PRINTER_RULE], DEFAULT, queue_item_id=ITEM, now=T0
    )
    events += item.assign(anna(skills=frozenset({"printers"})), now=minutes(1))
    events += item.release(now=minutes(2))
    events += item.pick(BORIS_AGENT, now=minutes(3))
    events += item.transfer(TIER_2, now=minutes(4))
    events += item.pick(anna(), now=minutes(5))
    events += item.remove("Case resolved", now=minutes(6))

    assert [type(e).__name__ for e in events] == [
        "CaseQueued",
        "CaseAssigned",
        "CaseReleased",
        "CaseAssigned",
        "CaseTransferred",
        "CaseAssigned",
        "CaseDequeued",
    ]
    assert [e.occurred_at for e in events] == [T0, *(minutes(n) for n in range(1, 7))]
    assert {e.case_id for e in events} == {CASE}
    transferred = events[4]
    assert isinstance(transferred, CaseTransferred)
    assert (transferred.released_agent_id, transferred.transferred_by) == (BORIS, None)


@pytest.mark.parametrize(
    ("operation", "arguments"),
    [
        ("assign", (anna(),)),
        ("pick", (anna(),)),
        ("transfer", (TIER_2,)),
        ("remove", ("Case resolved",)),
        ("accept", (anna(),)),
    ],
)
def test_operations_refuse_a_naive_now(operation: str, arguments: tuple[object, ...]) -> None:
    item = item_in(WAITING)
    with pytest.raises(RoutingValidationError):
        getattr(item, operation)(*arguments, now=datetime(2026, 3, 2, 9))
    assert (item.status, item.queue_id) == (WAITING, PRINTERS)


def test_events_are_immutable() -> None:
    _, (event,) = enqueue(facts(None), [], DEFAULT, queue_item_id=ITEM, now=T0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.queue_item_id = UUID(int=5)  # type: ignore[misc]


@pytest.mark.parametrize(
    "error",
    [
        RoutingValidationError,
        QueueItemRemovedError,
        ItemAlreadyWorkedError,
        ItemNotWorkedError,
        SameQueueError,
        AgentUnavailableError,
        AgentAtCapacityError,
    ],
)
def test_every_error_is_a_routing_error(error: type[Exception]) -> None:
    assert issubclass(error, RoutingError)
