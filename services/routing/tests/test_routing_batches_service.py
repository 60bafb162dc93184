"""Openings routed together, on a real PostgreSQL: the way the routing service applies a batch
of case events from Kafka.

A batch's openings are read and written in statements whose number does not grow with the
batch; they are assigned in each queue's order; each case's events still apply in their
order; and batches racing each other, picks and upkeep never fill an agent past capacity nor
give an item twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import Any, TypeVar

import pytest
from sqlalchemy import event
from sqlalchemy.exc import DBAPIError

import caseflow_contracts as c
from caseflow_servicekit import Delivered
from caseflow_servicekit.db import sqlstate
from routing.adapters.tables import DEFAULT_QUEUE_ID
from routing.adapters.uow import SqlRoutingUnitOfWork
from routing.app.handlers import RouteCase, route_cases
from routing.domain import QueueItemStatus
from routing.entrypoints.consumers import case_handlers, route_command

from .test_routing_assignment_service import _about, _check_invariants, _patch_queue
from .test_routing_directory_service import Routing, routing_service  # noqa: F401
from .test_routing_service import NOW, _case_opened

pytestmark = pytest.mark.service

T = TypeVar("T")

_RELAY = ("SELECT pg_try_advisory_xact_lock", "SELECT outbox.", "UPDATE outbox")
"""How the outbox relay's statements begin: it runs beside what is counted."""


def _uow(routing: Routing) -> SqlRoutingUnitOfWork:
    kit = routing.app.kit
    return SqlRoutingUnitOfWork(kit.sessions, kit.outbox)


def _opening(priority: str = "normal", **overrides: Any) -> RouteCase:
    return route_command(_case_opened(priority=c.Priority(priority), **overrides))


@contextlib.contextmanager
def _statements(routing: Routing) -> Iterator[list[str]]:
    """The SQL statements run meanwhile, but for the outbox relay's."""
    seen: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        if not statement.startswith(_RELAY):
            seen.append(statement)

    engine = routing.app.kit.engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


async def _loads(routing: Routing, ids: Sequence[uuid.UUID]) -> list[int]:
    return [(await routing.agent(agent_id))["load_units"] for agent_id in ids]


async def test_openings_routed_together_take_as_many_statements_for_40_as_for_5(
    routing: Routing,
) -> None:
    ids = [uuid.uuid4() for _ in range(3)]
    for agent_id in ids:
        await routing.register(agent_id, capacity=20)
    assert (
        await _patch_queue(routing, DEFAULT_QUEUE_ID, strategies=["least_busy"])
    ).status_code == 200
    await routing.all_relayed()

    counts = []
    for size in (5, 40):
        with _statements(routing) as seen:
            items = await route_cases(
                [_opening() for _ in range(size)], uow=_uow(routing), now=routing.clock.now()
            )
        assert [item.status.value for item in items] == ["assigned"] * size
        counts.append(len(seen))
    assert counts[0] == counts[1], counts
    loads = await _loads(routing, ids)
    assert sum(loads) == 45
    assert max(loads) - min(loads) <= 1, "least busy spreads a batch as it would one by one"
    await _check_invariants(routing)


async def test_a_batch_short_of_room_gives_it_to_the_most_urgent_case(routing: Routing) -> None:
    anna = uuid.uuid4()
    await routing.register(anna, capacity=1)
    await _patch_queue(routing, DEFAULT_QUEUE_ID, strategies=["least_busy"])
    low, urgent, normal = (_opening(p) for p in ("low", "urgent", "normal"))

    items = await route_cases([low, urgent, normal], uow=_uow(routing), now=routing.clock.now())

    assert [(item.case_id, item.status.value) for item in items] == [
        (low.case_id, "waiting"),
        (urgent.case_id, "assigned"),
        (normal.case_id, "waiting"),
    ]
    assert items[1].worked_by == anna
    [assigned] = await routing.announced(urgent.case_id, c.CaseAssigned)
    assert assigned.agent_id == anna  # type: ignore[attr-defined]
    [told] = await routing.notified(urgent.case_id)
    assert told.recipient.id == anna  # type: ignore[attr-defined]


async def test_a_batch_of_case_events_applies_each_case_in_its_order(routing: Routing) -> None:
    anna = uuid.uuid4()
    await routing.register(anna, capacity=2)
    await _patch_queue(routing, DEFAULT_QUEUE_ID, strategies=["least_busy"])
    a, b, d, e = (_case_opened() for _ in range(4))
    entered: Counter[str] = Counter()

    def delivered(event: c.Event) -> Delivered:
        envelope = c.new_envelope(event, source="/tests")

        @contextlib.contextmanager
        def scope() -> Iterator[None]:
            entered[envelope.id] += 1
            yield

        return Delivered(event, envelope, scope)

    batch = [
        delivered(a),
        delivered(b),
        delivered(_about("case.resolved", a.case_id)),  # frees anna for what comes next
        delivered(_about("case.resolved", d.case_id)),  # before d opens: parked
        delivered(d),
        delivered(e),
        delivered(a.model_copy()),  # a's opening again, under a new event id
    ]
    _, on_batch = case_handlers(routing.clock)
    uow = _uow(routing)
    async with uow:
        await on_batch(batch, uow)
        await uow.commit()

    assert (await routing.item_of(b.case_id))["worked_by"] == str(anna)
    assert (await routing.item_of(e.case_id))["worked_by"] == str(anna)
    for gone in (a, d):
        response = await routing.client.get(
            f"/cases/{gone.case_id}/queue-item", headers=routing.admin
        )
        assert response.status_code == 404, response.text
    await routing.all_relayed()

    def told(case_id: uuid.UUID) -> list[str]:
        return [type(ev).__name__ for ev, _ in routing.published if ev.case_id == case_id]  # type: ignore[attr-defined]

    assert told(a.case_id) == ["CaseQueued", "CaseAssigned", "CaseDequeued"]
    assert told(d.case_id) == ["CaseQueued", "CaseAssigned", "CaseDequeued"]
    assert told(e.case_id) == ["CaseQueued", "CaseAssigned"]
    # Every event that published something did so inside its own scope (its trace, in the
    # service); d's early resolution was only parked, and a's repeated opening changed nothing.
    assert set(entered) == {batch[i].envelope.id for i in (0, 1, 2, 4, 5)}


async def _retried(call: Callable[[], Awaitable[T]]) -> T:
    """`call`, again when PostgreSQL broke a lock cycle: what the consumer does."""
    for _ in range(10):
        try:
            return await call()
        except DBAPIError as exc:
            if sqlstate(exc) not in ("40P01", "40001"):
                raise
    raise AssertionError("still deadlocked after 10 tries")


async def test_concurrent_batches_never_overfill_an_agent_nor_give_an_item_twice(
    routing: Routing,
) -> None:
    ids = [uuid.uuid4() for _ in range(4)]
    for agent_id in ids:
        await routing.register(agent_id, capacity=3)
    await _patch_queue(routing, DEFAULT_QUEUE_ID, strategies=["least_busy"])
    job = routing.app.fastapi.state.upkeep
    rng = random.Random(20261201)
    _, on_batch = case_handlers(routing.clock)
    opened: list[uuid.UUID] = []

    async def route(batch: list[RouteCase]) -> None:
        opened.extend(cmd.case_id for cmd in batch)
        await _retried(lambda: route_cases(batch, uow=_uow(routing), now=routing.clock.now()))

    async def resolve(case_ids: list[uuid.UUID]) -> None:
        async def apply() -> None:
            uow = _uow(routing)
            async with uow:
                batch = [
                    Delivered(
                        ev := _about("case.resolved", case_id),
                        c.new_envelope(ev, source="/tests"),
                        contextlib.nullcontext,
                    )
                    for case_id in case_ids
                ]
                await on_batch(batch, uow)
                await uow.commit()

        await _retried(apply)

    for round_ in range(3):
        work: list[Awaitable[object]] = [
            route(
                [_opening(rng.choice(["low", "normal", "high"])) for _ in range(rng.randint(3, 9))]
            )
            for _ in range(8)
        ]
        if opened:
            for _ in range(3):
                work.append(resolve(rng.sample(opened, min(5, len(opened)))))
        work.extend(_retried(job.run_once) for _ in range(2))
        rng.shuffle(work)
        await asyncio.gather(*work)

        loads = await _check_invariants(routing)
        assert all(load <= 3 for load in loads.values()), (round_, loads)
        # Waiting work and an agent with room never stay together after a pass.
        await job.run_once()
        loads = await _check_invariants(routing)
        waiting = [
            case_id
            for case_id in opened
            if (await routing.client.get(f"/cases/{case_id}/queue-item", headers=routing.admin))
            .json()
            .get("status")
            == "waiting"
        ]
        assert not waiting or sum(loads.values()) == 12, (round_, loads, len(waiting))

    assert routing.dead_letters == []
    await routing.all_relayed()
    # Given once per case: nothing here releases or moves an item, so an item is assigned
    # at most once.
    assigned = Counter(
        ev.queue_item_id for ev, _ in routing.published if isinstance(ev, c.CaseAssigned)
    )
    assert assigned and max(assigned.values()) == 1, assigned.most_common(3)


async def test_the_database_refuses_a_load_past_capacity_and_an_item_someone_works(
    routing: Routing,
) -> None:
    anna, boris = uuid.uuid4(), uuid.uuid4()
    await routing.register(anna, capacity=2)
    await routing.register(boris, capacity=2)
    opening = await routing.open_case()
    picked = await routing.client.post(
        f"/queue-items/{(await routing.item_of(opening.case_id))['queue_item_id']}/pick",
        headers=routing.as_agent(anna),
    )
    assert picked.status_code == 200, picked.text

    uow = _uow(routing)
    async with uow:
        # Anna holds one unit of two: two more do not fit, while Boris's two do.
        assert await uow.agents.take_units_many({anna: 2, boris: 2}, at=NOW) == {boris}
        # A copy of the item read before Anna picked it, now given to Boris.
        stale = await uow.queue_items.last_for_case(opening.case_id)
        assert stale is not None
        stale.worked_by, stale.status = boris, QueueItemStatus.ASSIGNED
        assert await uow.queue_items.claim_many([(stale, 1)]) == set()
        await uow.commit()

    assert await _loads(routing, [anna, boris]) == [1, 2]
    assert (await routing.item_of(opening.case_id))["worked_by"] == str(anna)
