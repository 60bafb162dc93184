"""Use cases of the routing service: load, decide in the domain, record, commit."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID, uuid4

import structlog

from routing.app.case_changes import (
    AcceptCase,
    CaseChange,
    ChangeEntitlement,
    DequeueCase,
    RequeueCase,
)
from routing.app.errors import (
    NameTakenError,
    NotPermittedError,
    QueueItemNotFound,
    QueueNotFound,
    UnknownQueueError,
)
from routing.app.ports import RoutingUnitOfWork, StoredRule
from routing.domain import (
    AssignmentStrategy,
    CaseFacts,
    Queue,
    QueueItem,
    QueueKind,
    RoutingRule,
    RoutingValidationError,
    enqueue,
    requeue,
)

log = structlog.get_logger(__name__)

NEW_AGENT_CAPACITY = 5
"""How many items at once an agent unknown to routing may work after their first pick."""


@dataclass(frozen=True, kw_only=True)
class Caller:
    """A person acting on queue items: the agent they are, and whether they supervise queues."""

    agent_id: UUID
    name: str
    supervises: bool = False


@dataclass(frozen=True, kw_only=True)
class RouteCase:
    """A case was opened; place it in a queue.

    ``entitled`` is None when the opening says nothing of contracts (it predates them).
    """

    case_id: UUID
    number: str
    channel: str
    priority: str
    subject: str
    opened_at: datetime
    request_type: str | None = None
    account_id: UUID | None = None
    entitled: bool | None = None
    not_entitled: str | None = None


@dataclass(frozen=True, kw_only=True)
class CreateQueue:
    """Add a queue cases can be routed to."""

    name: str
    kind: QueueKind = QueueKind.PUBLIC
    strategy: AssignmentStrategy = AssignmentStrategy.MANUAL


@dataclass(frozen=True, kw_only=True)
class AddRoutingRule:
    """Add a rule sending the cases that meet its conditions to a queue."""

    name: str
    order: int
    queue_id: UUID
    channels: frozenset[str] = frozenset()
    priorities: frozenset[str] = frozenset()
    request_types: frozenset[str] = frozenset()
    subject_keywords: frozenset[str] = frozenset()
    account_ids: frozenset[UUID] = frozenset()
    required_skills: frozenset[str] = frozenset()
    entitlement: frozenset[str] = frozenset()
    active: bool = True


@dataclass(frozen=True, kw_only=True)
class PickQueueItem:
    """An agent takes a queued case to work it."""

    queue_item_id: UUID
    by: Caller


@dataclass(frozen=True, kw_only=True)
class ReleaseQueueItem:
    """Stop working a queued case; it waits for someone else."""

    queue_item_id: UUID
    by: Caller


@dataclass(frozen=True, kw_only=True)
class TransferQueueItem:
    """Move a queued case to another queue."""

    queue_item_id: UUID
    to_queue_id: UUID
    by: Caller


async def route_case(
    cmd: RouteCase,
    *,
    uow: RoutingUnitOfWork,
    now: datetime,
    new_id: Callable[[], UUID] = uuid4,
) -> QueueItem:
    """Place a newly opened case in the queue the routing rules choose, and only once."""
    facts = CaseFacts(
        case_id=cmd.case_id,
        channel=cmd.channel,
        priority=cmd.priority,
        subject=cmd.subject,
        request_type=cmd.request_type,
        account_id=cmd.account_id,
        entitled=cmd.entitled,
        not_entitled=cmd.not_entitled,
    )
    async with uow:
        await uow.cases.remember(facts, number=cmd.number, opened_at=cmd.opened_at)
        # The case id, not the event id, says whether this case was routed already: a
        # producer that retries publishes the same case under a new event id. Any item counts,
        # a removed one too: a resolved case's opening delivered again must not queue it again.
        queued = await uow.queue_items.last_for_case(cmd.case_id)
        if queued is not None:
            await uow.commit()
            return queued
        default = await uow.queues.get_default()
        if default is None:
            raise QueueNotFound("there is no default queue to route cases to")
        rules = [stored.rule for stored in await uow.rules.all()]
        item, events = enqueue(facts, rules, default.queue_id, queue_item_id=new_id(), now=now)
        queue = await _queue(uow, item.queue_id)
        await uow.queue_items.add(item)
        uow.emit(events, queue=queue)
        # Changes that arrived before the opening are applied now, in the order they happened.
        for change in await uow.cases.take_parked(cmd.case_id):
            item = await _apply(change, uow=uow, now=now, new_id=new_id) or item
        await uow.commit()
        return item


async def apply_case_change(
    change: CaseChange,
    *,
    uow: RoutingUnitOfWork,
    now: datetime,
    new_id: Callable[[], UUID] = uuid4,
) -> QueueItem | None:
    """Follow a case's life: dequeue, requeue or give its item to an agent, or note its
    entitlement.

    Returns the case's item as it now stands, or None while the case is unknown.
    """
    async with uow:
        if not await uow.cases.is_known(change.case_id):
            # The case's opening has not been applied yet (one case's events can come late, e.g.
            # an opening dead-lettered and replayed later). The change is parked, not dropped:
            # dropping a resolution would leave the case waiting in a queue for good once it
            # opens. `route_case` applies parked changes right after queueing the case.
            await uow.cases.park(change)
            await uow.commit()
            return None
        item = await _apply(change, uow=uow, now=now, new_id=new_id)
        await uow.commit()
        return item


async def create_queue(
    cmd: CreateQueue, *, uow: RoutingUnitOfWork, new_id: Callable[[], UUID] = uuid4
) -> Queue:
    """Add a queue under a name no other queue has."""
    queue = Queue(queue_id=new_id(), name=cmd.name.strip(), kind=cmd.kind, strategy=cmd.strategy)
    async with uow:
        if await uow.queues.find_by_name(queue.name) is not None:
            raise NameTakenError(f"a queue named {queue.name!r} exists already")
        await uow.queues.add(queue)
        await uow.commit()
    return queue


async def add_routing_rule(
    cmd: AddRoutingRule, *, uow: RoutingUnitOfWork, new_id: Callable[[], UUID] = uuid4
) -> StoredRule:
    """Add a rule under a name no other rule has, sending cases to an existing queue."""
    if cmd.order < 0:
        raise RoutingValidationError(f"a rule's order must be 0 or more, not {cmd.order}")
    stored = StoredRule(
        rule_id=new_id(),
        rule=RoutingRule(
            name=cmd.name.strip(),
            order=cmd.order,
            queue_id=cmd.queue_id,
            channels=cmd.channels,
            priorities=cmd.priorities,
            request_types=cmd.request_types,
            subject_keywords=cmd.subject_keywords,
            account_ids=cmd.account_ids,
            required_skills=cmd.required_skills,
            entitlement=cmd.entitlement,
            active=cmd.active,
        ),
    )
    async with uow:
        if await uow.queues.get(cmd.queue_id) is None:
            raise UnknownQueueError(f"there is no queue {cmd.queue_id} to route to")
        if await uow.rules.find_by_name(stored.rule.name) is not None:
            raise NameTakenError(f"a routing rule named {stored.rule.name!r} exists already")
        await uow.rules.add(stored)
        await uow.commit()
    return stored


async def pick_queue_item(
    cmd: PickQueueItem,
    *,
    uow: RoutingUnitOfWork,
    now: datetime,
    new_agent_capacity: int = NEW_AGENT_CAPACITY,
) -> QueueItem:
    """Let an agent take a queued case, within their capacity; they now work it."""
    async with uow:
        item = await _item(uow, cmd.queue_item_id)
        agent = await uow.agents.enroll(
            cmd.by.agent_id, name=cmd.by.name, capacity=new_agent_capacity
        )
        events = item.pick(agent, now=now)
        if events:
            await uow.queue_items.save(item)
            await uow.agents.mark_assigned(agent.agent_id, at=now)
            uow.emit(events, queue=await _queue(uow, item.queue_id))
            await uow.commit()
        return item


async def release_queue_item(
    cmd: ReleaseQueueItem, *, uow: RoutingUnitOfWork, now: datetime
) -> QueueItem:
    """Give a queued case back to its queue: the agent working it, or a supervisor, may."""
    async with uow:
        item = await _item(uow, cmd.queue_item_id)
        if item.worked_by is not None:
            _require_may_change(item, cmd.by)
        events = item.release(now=now)
        await uow.queue_items.save(item)
        uow.emit(events, queue=await _queue(uow, item.queue_id))
        await uow.commit()
        return item


async def transfer_queue_item(
    cmd: TransferQueueItem, *, uow: RoutingUnitOfWork, now: datetime
) -> QueueItem:
    """Move a queued case to another queue: the agent working it, or a supervisor, may."""
    async with uow:
        item = await _item(uow, cmd.queue_item_id)
        target = await uow.queues.get(cmd.to_queue_id)
        if target is None:
            raise UnknownQueueError(f"there is no queue {cmd.to_queue_id} to transfer to")
        _require_may_change(item, cmd.by)
        events = item.transfer(target.queue_id, now=now, by=cmd.by.agent_id)
        await uow.queue_items.save(item)
        uow.emit(events, queue=target)
        await uow.commit()
        return item


async def _apply(
    change: CaseChange,
    *,
    uow: RoutingUnitOfWork,
    now: datetime,
    new_id: Callable[[], UUID],
    new_agent_capacity: int = NEW_AGENT_CAPACITY,
) -> QueueItem | None:
    """Apply `change` to a known case: move its last queue item, emitting what happened, or
    note its new entitlement."""
    if isinstance(change, ChangeEntitlement):
        # Only the facts change: this does not re-route a case already queued. Rules place a
        # case once, when it opens; an agent or supervisor transfers it if it should move.
        await uow.cases.change_entitlement(
            change.case_id, entitled=change.entitled, not_entitled=change.not_entitled
        )
        return await uow.queue_items.last_for_case(change.case_id)
    # The last item is the active one when there is one: a case is requeued only once its
    # last item was removed. Locked, as a pick locks it, so neither overwrites the other.
    item = await uow.queue_items.last_for_case(change.case_id, for_update=True)
    if item is None:
        log.warning("routing.case_without_item", case_id=str(change.case_id))
        return None
    match change:
        case DequeueCase(reason=reason):
            events = item.remove(reason, now=now)  # none if it was removed already
            if events:
                await uow.queue_items.save(item)
        case RequeueCase():
            item, events = requeue(item, queue_item_id=new_id(), now=now)
            if events:
                await uow.queue_items.add(item)
        case AcceptCase(agent_id=agent_id):
            if not item.is_active or item.worked_by not in (None, agent_id):
                # Closed meanwhile, or another agent works it: routing takes it from nobody.
                log.info(
                    "routing.accept_ignored",
                    case_id=str(change.case_id),
                    status=item.status.value,
                )
                return item
            agent = await uow.agents.enroll(
                agent_id, name=str(agent_id), capacity=new_agent_capacity
            )
            events = item.accept(agent, now=now)
            if events:
                await uow.queue_items.save(item)
                await uow.agents.mark_assigned(agent_id, at=now)
    if events:
        uow.emit(events, queue=await _queue(uow, item.queue_id))
    return item


async def _item(uow: RoutingUnitOfWork, queue_item_id: UUID) -> QueueItem:
    item = await uow.queue_items.get(queue_item_id, for_update=True)
    if item is None:
        raise QueueItemNotFound(f"there is no queue item {queue_item_id}")
    return item


async def _queue(uow: RoutingUnitOfWork, queue_id: UUID) -> Queue:
    queue = await uow.queues.get(queue_id)
    if queue is None:
        raise QueueNotFound(f"there is no queue {queue_id}")
    return queue


def _require_may_change(item: QueueItem, caller: Caller) -> None:
    if caller.supervises or (item.worked_by is not None and item.worked_by == caller.agent_id):
        return
    raise NotPermittedError(
        f"queue item {item.queue_item_id} is not worked by you; a supervisor may change it"
    )
