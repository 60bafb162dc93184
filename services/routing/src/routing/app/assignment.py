"""Assignment: queued items given to agents by their queue's chain of strategies.

It happens when a case is queued (or queued again), when an agent becomes available or frees
capacity, and when an item overflows into another queue. The strategies decide in the domain;
the database then has the last word twice over: the agent's load rises only if it stays
within their capacity (`take_units`), and the item is written as worked only if nobody works
it (`claim`). Whatever loses either race stays waiting, and nothing is half-written.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import structlog

from routing.app.ports import RoutingUnitOfWork
from routing.domain import (
    Agent,
    AssignmentStrategy,
    Queue,
    QueueItem,
    QueueItemStatus,
    WorkItem,
    choose,
)

log = structlog.get_logger(__name__)

ASSIGN_BATCH = 20
"""How many of a queue's waiting items one pass looks at, head first."""

ROUNDS = 3
"""How many times a pass offers again the items of agents the database refused."""


async def assign_items(
    uow: RoutingUnitOfWork,
    queue: Queue,
    items: Sequence[QueueItem],
    *,
    now: datetime,
    exclude: Iterable[UUID] = (),
) -> list[QueueItem]:
    """Give `items` (waiting in `queue`, in its order) to agents; the ones given."""
    return await assign_in_queues(uow, [(queue, items)], now=now, exclude=exclude)


Scope = Callable[[UUID], AbstractContextManager[object]]
"""The context a case's events are recorded in, by case id (its trace, in a consumer)."""


def no_scope(case_id: UUID) -> AbstractContextManager[object]:
    return contextlib.nullcontext()


@dataclass
class _Pass:
    """One queue's part of an assignment pass: its items, and who may get them."""

    queue: Queue
    items: list[QueueItem]
    members: list[UUID]
    """The queue's members able to take work."""
    outsiders: set[UUID]
    """Last workers outside the members: they may take back their own case only."""
    last: UUID | None = None
    """Round robin's place in the ring."""
    ring: bool = False
    moved: bool = False


@dataclass(frozen=True)
class _Offer:
    step: _Pass
    item: QueueItem
    agent: Agent
    units: int
    strategy: AssignmentStrategy


async def assign_in_queues(
    uow: RoutingUnitOfWork,
    batches: Sequence[tuple[Queue, Sequence[QueueItem]]],
    *,
    now: datetime,
    exclude: Iterable[UUID] = (),
    scope: Scope = no_scope,
) -> list[QueueItem]:
    """Give the items waiting in each queue (in its order) to agents; the ones given.

    The strategies choose for every item in memory, each choice counting against the agent's
    room for the next, in whichever queue it is made; then the database takes every chosen
    agent's units in one statement and claims every item in another, refusing an agent who
    filled up meanwhile and an item someone else took. The items of a refused agent are
    offered again without them, up to `ROUNDS` times. An item coming back to its last worker
    (a reopened case) tries them first, whatever the queue's chain; an item of a queue that
    does not assign by itself otherwise waits.
    """
    excluded = set(exclude)
    wanted_in = [
        (queue, wanted)
        for queue, items in batches
        if (wanted := [item for item in items if queue.assigns or _returning(item)])
    ]
    if not wanted_in:
        return []
    members = await uow.agents.candidates_many([queue for queue, _ in wanted_in])
    # Everyone this pass may give work to, with the load it gave them so far.
    state: dict[UUID, Agent] = {}
    steps: list[_Pass] = []
    for queue, wanted in wanted_in:
        pool = [a for a in members.get(queue.queue_id, []) if a.agent_id not in excluded]
        state.update((agent.agent_id, agent) for agent in pool if agent.agent_id not in state)
        outsiders: set[UUID] = set()
        for item in wanted:
            agent_id = item.last_worked_by
            if not _returning(item) or agent_id is None or agent_id in excluded:
                continue
            if any(agent.agent_id == agent_id for agent in pool) or agent_id in outsiders:
                continue
            agent = state.get(agent_id) or await uow.agents.get(agent_id)
            if agent is not None and agent.is_able(item.work_type):
                state.setdefault(agent_id, agent)
                outsiders.add(agent_id)
        if not pool and not outsiders:
            continue
        ring = AssignmentStrategy.ROUND_ROBIN in queue.strategies
        ids = [agent.agent_id for agent in pool]
        steps.append(_Pass(queue, wanted, ids, outsiders, ring=ring))
    # The ring's row is read (and written) only by a queue that uses it, so other queues'
    # assignments never wait on each other's queue row.
    rings = await uow.queues.last_assigned_many([s.queue.queue_id for s in steps if s.ring])
    for step in steps:
        step.last = rings.get(step.queue.queue_id)
    given: list[QueueItem] = []
    for _ in range(ROUNDS):
        offers = [offer for step in steps for offer in _offer_all(step, state, now=now)]
        if not offers:
            break
        wanted_units: dict[UUID, int] = {}
        for offer in offers:
            agent_id = offer.agent.agent_id
            wanted_units[agent_id] = wanted_units.get(agent_id, 0) + offer.units
        taken = await uow.agents.take_units_many(wanted_units, at=now)
        # Whatever found nobody finds nobody in a later round either (the pool only shrinks):
        # a later round offers only the items of refused agents.
        for step in steps:
            step.items = []
        accepted: list[_Offer] = []
        for offer in offers:
            if offer.agent.agent_id in taken:
                accepted.append(offer)
                continue
            # Filled meanwhile by another transaction: not this pass, and their item is
            # offered to someone else.
            state.pop(offer.agent.agent_id, None)
            offer.step.items.append(offer.item)
        if not accepted:
            continue
        events = {
            offer.item.queue_item_id: offer.item.assign(
                offer.agent, now=now, strategy=offer.strategy
            )
            for offer in accepted
        }
        claimed = await uow.queue_items.claim_many([(o.item, o.units) for o in accepted])
        lost: dict[UUID, int] = {}
        for offer in accepted:
            agent_id = offer.agent.agent_id
            if offer.item.queue_item_id not in claimed:
                lost[agent_id] = lost.get(agent_id, 0) + offer.units
                log.info("routing.claim_lost", queue_item_id=str(offer.item.queue_item_id))
                continue
            offer.step.last = agent_id
            offer.step.moved = True
            with scope(offer.item.case_id):
                uow.emit(events[offer.item.queue_item_id], queue=offer.step.queue)
                await uow.notify_assignee(offer.item, agent_id=agent_id, queue=offer.step.queue)
            given.append(offer.item)
        await uow.agents.free_units_many(lost)
    # Last, after every agent row this pass locked: one lock order for all.
    await uow.queues.note_assigned_many(
        {
            step.queue.queue_id: step.last
            for step in steps
            if step.ring and step.moved and step.last is not None
        }
    )
    return given


def _offer_all(step: _Pass, state: dict[UUID, Agent], *, now: datetime) -> list[_Offer]:
    """Choose an agent for each of the step's items, in the queue's order, in memory; each
    choice counts against the agent's room in `state`."""
    offers: list[_Offer] = []
    last = step.last
    for item in step.items:
        candidates = [state[agent_id] for agent_id in step.members if agent_id in state]
        back_to = item.last_worked_by if _returning(item) else None
        if back_to in step.outsiders and back_to in state:
            candidates.append(state[back_to])
        choice = choose(
            _chain(step.queue, item),
            candidates,
            WorkItem(
                work_type=item.work_type,
                required_skills=item.required_skills,
                preferred_agent=item.preferred_agent,
                skill_match=step.queue.skill_match,
            ),
            last_assigned=last,
        )
        if choice is None:
            continue
        agent = choice.agent
        units = agent.units_for(item.work_type)
        offers.append(_Offer(step, item, agent, units, choice.strategy))
        state[agent.agent_id] = dataclasses.replace(
            agent, active_items=agent.active_items + units, last_assigned_at=now
        )
        last = agent.agent_id
    return offers


async def assign_waiting(
    uow: RoutingUnitOfWork,
    queue: Queue,
    *,
    now: datetime,
    limit: int = ASSIGN_BATCH,
    exclude: Iterable[UUID] = (),
) -> list[QueueItem]:
    """Give the head of `queue`'s waiting items to agents; the ones given."""
    if not queue.assigns:
        return []
    items = await uow.queue_items.waiting(queue.queue_id, limit=limit)
    return await assign_items(uow, queue, items, now=now, exclude=exclude)


async def offer_agent(uow: RoutingUnitOfWork, agent_id: UUID, *, now: datetime) -> int:
    """An agent became available or freed capacity: the queues they belong to hand out their
    waiting items. How many were given (to them or to others)."""
    return await offer_agents(uow, [agent_id], now=now)


async def offer_agents(uow: RoutingUnitOfWork, agent_ids: Sequence[UUID], *, now: datetime) -> int:
    """Agents became available or freed capacity: the queues any of them belongs to hand out
    the head of their waiting items, in one pass. How many were given (to them or others)."""
    if not agent_ids:
        return 0
    able = [agent for agent in (await uow.agents.get_many(agent_ids)).values() if agent.is_able()]
    if not able:
        return 0
    queues = [
        queue
        for queue in await uow.queues.all()
        if queue.assigns and any(_member(queue, agent) for agent in able)
    ]
    waiting = await uow.queue_items.waiting_many(
        [queue.queue_id for queue in queues], limit=ASSIGN_BATCH
    )
    batches = [(queue, waiting[queue.queue_id]) for queue in queues if waiting.get(queue.queue_id)]
    return len(await assign_in_queues(uow, batches, now=now))


def _member(queue: Queue, agent: Agent) -> bool:
    return queue.visible_to(agent.agent_id, agent.teams, supervises=False)


def _returning(item: QueueItem) -> bool:
    """Whether the item is a reopened case waiting for the agent who worked it last."""
    return (
        item.status is QueueItemStatus.WAITING
        and item.last_worked_by is not None
        and item.preferred_agent == item.last_worked_by
    )


def _chain(queue: Queue, item: QueueItem) -> tuple[AssignmentStrategy, ...]:
    if not _returning(item):
        return queue.strategies
    # A case back from the dead goes to who worked it, when they can take it.
    rest = tuple(s for s in queue.strategies if s is not AssignmentStrategy.PREFERRED_AGENT)
    return (AssignmentStrategy.PREFERRED_AGENT, *rest)
