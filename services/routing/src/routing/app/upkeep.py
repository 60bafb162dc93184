"""Routing's periodic pass: overflow what waited too long (or where nobody is there to work
it), hand out what waits in queues that assign, and read each queue's figures."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from functools import partial

import structlog

from routing.app.assignment import assign_items, assign_waiting
from routing.app.ports import RoutingUnitOfWork
from routing.domain import Queue, QueueItem

log = structlog.get_logger(__name__)

OVERFLOW_BATCH = 200
"""How many waiting items of one queue one pass looks at."""


async def overflow_queue(queue: Queue, *, uow: RoutingUnitOfWork, now: datetime) -> int:
    """Move the items of `queue` its overflow rule says should leave, to its overflow queue;
    how many moved. The target queue then hands them out if it assigns."""
    rule = queue.overflow
    if not rule.configured or rule.queue_id is None:
        return 0
    async with uow:
        target = await uow.queues.get(rule.queue_id)
        if target is None:
            return 0
        waiting = await uow.queue_items.waiting(queue.queue_id, limit=OVERFLOW_BATCH)
        if not waiting:
            return 0
        available = await uow.agents.available_members(queue) if rule.when_unstaffed else 1
        moved: list[QueueItem] = []
        for index, item in enumerate(waiting):
            # Its place among the items still in the queue: those moved on no longer count.
            position = index - len(moved)
            reason = queue.overflow_reason(
                waited=now - item.entered_at, position=position, members_available=available
            )
            if reason is None:
                continue
            events = item.transfer(target.queue_id, now=now, reason=reason.value)
            await uow.queue_items.save(item)
            uow.emit(events, queue=target)
            moved.append(item)
        if moved:
            await assign_items(uow, target, moved, now=now)
            log.info("routing.overflowed", queue=queue.name, to=target.name, items=len(moved))
        await uow.commit()
        return len(moved)


Settle = Callable[[Callable[[], Awaitable[int]]], Awaitable[int]]
"""Runs a unit of work, again if the database rolled it back to break a lock cycle."""


async def _once(call: Callable[[], Awaitable[int]]) -> int:
    return await call()


async def upkeep(
    *, uow_factory: Callable[[], RoutingUnitOfWork], now: datetime, settle: Settle = _once
) -> int:
    """One pass over every queue: overflow, then assign what waits; how many items moved or
    were given.

    Each queue's step is its own transaction, run through `settle`: it locks agents' rows as
    requests assigning at the same moment do, so the database may roll one back.
    """
    async with uow_factory() as uow:
        queues = await uow.queues.all()

    async def overflow(queue: Queue) -> int:
        return await overflow_queue(queue, uow=uow_factory(), now=now)

    done = 0
    for queue in queues:
        done += await settle(partial(overflow, queue))

    async def hand_out(queue: Queue) -> int:
        # Work that found nobody when it came (everyone full or away) is handed out now.
        async with uow_factory() as uow:
            given = len(await assign_waiting(uow, queue, now=now))
            await uow.commit()
        return given

    for queue in queues:
        if queue.assigns:
            done += await settle(partial(hand_out, queue))
    return done
