"""Assignment: queued items given to agents by their queue's chain of strategies.

It happens when a case is queued (or queued again), when an agent becomes available or frees
capacity, and when an item overflows into another queue. The strategies decide in the domain;
the database then has the last word twice over: the agent's load rises only if it stays
within their capacity (`take_units`), and the item is written as worked only if nobody works
it (`claim`). Whatever loses either race stays waiting, and nothing is half-written.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
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


async def assign_items(
    uow: RoutingUnitOfWork,
    queue: Queue,
    items: Sequence[QueueItem],
    *,
    now: datetime,
    exclude: Iterable[UUID] = (),
) -> list[QueueItem]:
    """Give `items` (waiting in `queue`, in its order) to agents; the ones given.

    An item coming back to its last worker (a reopened case) tries them first, whatever the
    queue's chain; an item of a queue that does not assign by itself otherwise waits.
    """
    wanted = [item for item in items if queue.assigns or _returning(item)]
    if not wanted:
        return []
    excluded = set(exclude)
    pool = {
        agent.agent_id: agent
        for agent in await uow.agents.candidates(queue)
        if agent.agent_id not in excluded
    }
    # Last workers outside the queue's members: they may take back their own case only.
    outsiders: dict[UUID, Agent] = {}
    for item in wanted:
        agent_id = item.last_worked_by
        if not _returning(item) or agent_id is None or agent_id in pool or agent_id in excluded:
            continue
        agent = await uow.agents.get(agent_id)
        if agent is not None and agent.is_able(item.work_type):
            outsiders[agent_id] = agent
    if not pool and not outsiders:
        return []
    # Round robin's place in the ring; the row is read (and written) only by a queue that uses
    # it, so other queues' assignments never wait on each other's queue row.
    ring = AssignmentStrategy.ROUND_ROBIN in queue.strategies
    last = await uow.queues.last_assigned(queue.queue_id) if ring else None
    given: list[QueueItem] = []
    for item in wanted:
        candidates = list(pool.values())
        back_to = item.last_worked_by if _returning(item) else None
        own = None if back_to is None else outsiders.get(back_to)
        if own is not None:
            candidates.append(own)
        choice = choose(
            _chain(queue, item),
            candidates,
            WorkItem(
                work_type=item.work_type,
                required_skills=item.required_skills,
                preferred_agent=item.preferred_agent,
                skill_match=queue.skill_match,
            ),
            last_assigned=last,
        )
        if choice is None:
            continue
        agent = choice.agent
        holder = pool if agent.agent_id in pool else outsiders
        units = agent.units_for(item.work_type)
        if not await uow.agents.take_units(agent.agent_id, units, at=now):
            # Filled meanwhile by another transaction: not this pass.
            holder.pop(agent.agent_id, None)
            continue
        events = item.assign(agent, now=now, strategy=choice.strategy)
        if not await uow.queue_items.claim(item, units=units):
            await uow.agents.free_units(agent.agent_id, units)
            log.info("routing.claim_lost", queue_item_id=str(item.queue_item_id))
            continue
        holder[agent.agent_id] = dataclasses.replace(
            agent, active_items=agent.active_items + units, last_assigned_at=now
        )
        last = agent.agent_id
        uow.emit(events, queue=queue)
        await uow.notify_assignee(item, agent_id=agent.agent_id, queue=queue)
        given.append(item)
    if ring and given and last is not None:
        # Last, after every agent row this pass locked: one lock order for all.
        await uow.queues.note_assigned(queue.queue_id, last)
    return given


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
    agent = await uow.agents.get(agent_id)
    if agent is None or not agent.is_able():
        return 0
    given = 0
    for queue in await uow.queues.all():
        if queue.assigns and _member(queue, agent):
            given += len(await assign_waiting(uow, queue, now=now))
    return given


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
