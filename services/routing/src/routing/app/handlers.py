"""Use cases of the routing service: load, decide in the domain, record, commit."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

import structlog

from caseflow_contracts.ids import random_uuid
from routing.app.assignment import (
    ASSIGN_BATCH,
    Scope,
    assign_in_queues,
    assign_items,
    assign_waiting,
    no_scope,
    offer_agent,
    offer_agents,
)
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
    QueueNotVisibleError,
    RuleNotFound,
    UnknownAgentError,
    UnknownQueueError,
    UnknownSkillError,
    UnknownTeamError,
)
from routing.app.ports import RoutingUnitOfWork, StoredRule
from routing.domain import (
    Agent,
    AgentAtCapacityError,
    AssignmentStrategy,
    CaseFacts,
    ItemAlreadyWorkedError,
    Overflow,
    Queue,
    QueueChoice,
    QueueItem,
    QueueKind,
    RoutingRule,
    RoutingValidationError,
    RuleBook,
    SkillMatch,
    choose_queue,
    enqueue,
    parse_skill,
    priority_rank,
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
    parameters: Mapping[str, str] = field(default_factory=dict)

    def facts(self, *, tier: str | None, region: str | None) -> CaseFacts:
        """What the routing rules match, with the account's tier and region as known."""
        return CaseFacts(
            case_id=self.case_id,
            channel=self.channel,
            priority=self.priority,
            subject=self.subject,
            request_type=self.request_type,
            account_id=self.account_id,
            entitled=self.entitled,
            not_entitled=self.not_entitled,
            tier=tier,
            region=region,
            parameters=self.parameters,
        )


@dataclass(frozen=True, kw_only=True)
class CreateQueue:
    """Add a queue cases can be routed to."""

    name: str
    kind: QueueKind = QueueKind.PUBLIC
    strategies: tuple[AssignmentStrategy, ...] = (AssignmentStrategy.MANUAL,)
    skill_match: SkillMatch = SkillMatch.EXACT
    team_id: UUID | None = None
    owner_id: UUID | None = None
    overflow: Overflow = field(default_factory=Overflow)


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
    tiers: frozenset[str] = frozenset()
    regions: frozenset[str] = frozenset()
    parameters: Mapping[str, str] = field(default_factory=dict)
    active: bool = True
    rule_id: UUID | None = None
    """Given by `PUT /routing-rules/{id}`: the rule to write under that id."""


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
    new_id: Callable[[], UUID] = random_uuid,
) -> QueueItem:
    """Place a newly opened case in the queue the routing rules choose, and only once; then
    give it to an agent if the queue assigns by itself."""
    (item,) = await route_cases([cmd], uow=uow, now=now, new_id=new_id)
    return item


async def route_cases(
    cmds: Sequence[RouteCase],
    *,
    uow: RoutingUnitOfWork,
    now: datetime,
    new_id: Callable[[], UUID] = random_uuid,
    scope: Scope = no_scope,
) -> list[QueueItem]:
    """Place newly opened cases in the queues the routing rules choose, each only once; then
    give them to agents where the queue assigns by itself. The item of each case, in order;
    `scope` gives the context each case's events are recorded in (its trace, in a consumer).

    The cases are read and written together, in a number of statements that does not grow
    with how many there are, and assigned in one pass per queue in the queue's order.
    """
    async with uow:
        known_accounts = await uow.cases.accounts_of(
            {cmd.account_id for cmd in cmds if cmd.account_id is not None}
        )
        facts_of: dict[UUID, CaseFacts] = {}
        owners: dict[UUID, UUID | None] = {}
        for cmd in cmds:
            owner, tier, region = (
                (None, None, None)
                if cmd.account_id is None
                else known_accounts.get(cmd.account_id, (None, None, None))
            )
            owners[cmd.case_id] = owner
            facts_of.setdefault(cmd.case_id, cmd.facts(tier=tier, region=region))
        await uow.cases.remember_many(
            [(facts_of[cmd.case_id], cmd.number, cmd.opened_at) for cmd in cmds]
        )
        # The case id, not the event id, says whether a case was routed already: a producer
        # that retries publishes the same case under a new event id. Any item counts, a
        # removed one too: a resolved case's opening delivered again must not queue it again.
        items = await uow.queue_items.last_for_cases(list(facts_of))
        fresh: dict[UUID, RouteCase] = {}
        for cmd in cmds:
            if cmd.case_id not in items:
                fresh.setdefault(cmd.case_id, cmd)
        if fresh:
            await _place(
                list(fresh.values()),
                facts_of,
                owners,
                items,
                uow=uow,
                now=now,
                new_id=new_id,
                scope=scope,
            )
        await uow.commit()
        return [items[cmd.case_id] for cmd in cmds]


async def _place(
    cmds: Sequence[RouteCase],
    facts_of: Mapping[UUID, CaseFacts],
    owners: Mapping[UUID, UUID | None],
    items: dict[UUID, QueueItem],
    *,
    uow: RoutingUnitOfWork,
    now: datetime,
    new_id: Callable[[], UUID],
    scope: Scope,
) -> None:
    """Queue cases routing has never placed, assign them, then apply their parked changes."""
    default = await uow.queues.get_default()
    if default is None:
        raise QueueNotFound("there is no default queue to route cases to")
    rules = RuleBook.of(stored.rule for stored in await uow.rules.all())
    # The SLA service's KPIs may have come first: an item takes its place by their deadline.
    dues = await uow.cases.sla_dues([cmd.case_id for cmd in cmds])
    queues: dict[UUID, Queue] = {}
    placed: dict[UUID, list[QueueItem]] = {}
    for cmd in cmds:
        item, events = enqueue(
            facts_of[cmd.case_id],
            rules,
            default.queue_id,
            queue_item_id=new_id(),
            now=now,
            preferred_agent=owners[cmd.case_id],
        )
        if item.queue_id not in queues:
            queues[item.queue_id] = await _queue(uow, item.queue_id)
        with scope(cmd.case_id):
            uow.emit(events, queue=queues[item.queue_id])
        items[cmd.case_id] = item
        placed.setdefault(item.queue_id, []).append(item)
    await uow.queue_items.add_many(
        [item for queued in placed.values() for item in queued], sla_due=dues
    )

    def order(item: QueueItem) -> tuple[Any, ...]:
        due = dues.get(item.case_id)
        return (priority_rank(item.priority), due is None, due or item.entered_at)

    # Changes that arrived before the openings, taken now and applied after the assignments.
    parked = await uow.cases.take_parked_many([cmd.case_id for cmd in cmds])
    # The placements go to the outbox before the agents' rows are locked: others wait on
    # those rows until this transaction ends.
    await uow.write_events()
    await assign_in_queues(
        uow,
        [(queues[queue_id], sorted(queued, key=order)) for queue_id, queued in placed.items()],
        now=now,
        scope=scope,
    )
    # The parked changes, in the order they happened.
    for cmd in cmds:
        for change in parked.get(cmd.case_id, []):
            with scope(cmd.case_id):
                changed = await _apply(change, uow=uow, now=now, new_id=new_id)
            items[cmd.case_id] = changed or items[cmd.case_id]


async def dequeue_cases(
    changes: Sequence[DequeueCase],
    *,
    uow: RoutingUnitOfWork,
    now: datetime,
    scope: Scope = no_scope,
) -> None:
    """Take resolved or cancelled cases out of their queues, free their agents' capacity and
    hand those agents (and their queues' other members) what waits, in a number of statements
    that does not grow with how many cases there are. `scope` gives the context each case's
    events are recorded in.

    A change to a case whose opening has not come yet is parked, as `apply_case_change` does.
    """
    async with uow:
        known = await uow.cases.known_of([change.case_id for change in changes])
        for change in changes:
            if change.case_id not in known:
                await uow.cases.park(change)
        # Locked, as a pick locks them, so neither overwrites the other.
        items = await uow.queue_items.last_for_cases(sorted(known), for_update=True)
        removals: list[tuple[QueueItem, str]] = []
        for change in changes:
            if (item := items.get(change.case_id)) is not None:
                removals.append((item, change.reason))
            elif change.case_id in known:
                log.warning("routing.case_without_item", case_id=str(change.case_id))
        await _remove(removals, uow=uow, now=now, scope=scope)
        await uow.commit()


async def _remove(
    removals: Sequence[tuple[QueueItem, str]],
    *,
    uow: RoutingUnitOfWork,
    now: datetime,
    scope: Scope = no_scope,
) -> None:
    """Take loaded (and locked) items out of their queues for the reasons given; the agents
    who worked them are freed and offered what waits."""
    held = await uow.queue_items.units_held_many(
        [item.queue_item_id for item, _ in removals if item.worked_by is not None]
    )
    changed: list[QueueItem] = []
    freed: dict[UUID, int] = {}
    for item, reason in removals:
        worker = item.worked_by
        events = item.remove(reason, now=now)  # none if it was removed already
        if not events:
            continue
        changed.append(item)
        with scope(item.case_id):
            uow.emit(events, queue=await _queue(uow, item.queue_id))
        if worker is not None:
            freed[worker] = freed.get(worker, 0) + held.get(item.queue_item_id, 0)
    await uow.queue_items.save_many(changed)
    await uow.write_events()  # before the agents' rows are locked, as `_place` does
    # Their capacity freed: the queues they belong to hand out what waits.
    await uow.agents.free_units_many(freed)
    await offer_agents(uow, sorted(freed), now=now)


async def apply_case_change(
    change: CaseChange,
    *,
    uow: RoutingUnitOfWork,
    now: datetime,
    new_id: Callable[[], UUID] = random_uuid,
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
    cmd: CreateQueue, *, uow: RoutingUnitOfWork, new_id: Callable[[], UUID] = random_uuid
) -> Queue:
    """Add a queue under a name no other queue has."""
    queue = Queue(
        queue_id=new_id(),
        name=cmd.name.strip(),
        kind=cmd.kind,
        strategies=cmd.strategies,
        skill_match=cmd.skill_match,
        team_id=cmd.team_id,
        owner_id=cmd.owner_id,
        overflow=cmd.overflow,
    )
    async with uow:
        if await uow.queues.find_by_name(queue.name) is not None:
            raise NameTakenError(f"a queue named {queue.name!r} exists already")
        await _check_queue_refs(uow, queue)
        await uow.queues.add(queue)
        await uow.commit()
    return queue


async def change_queue(
    queue_id: UUID, changes: Mapping[str, Any], *, uow: RoutingUnitOfWork, now: datetime
) -> Queue:
    """Change a queue's kind, team, chain of strategies, skill matching or overflow; a queue
    that now assigns by itself hands out what waits in it."""
    async with uow:
        current = await _queue(uow, queue_id)
        queue = dataclasses.replace(current, **changes)
        if queue.name != current.name:
            other = await uow.queues.find_by_name(queue.name)
            if other is not None and other.queue_id != queue_id:
                raise NameTakenError(f"a queue named {queue.name!r} exists already")
        await _check_queue_refs(uow, queue)
        await uow.queues.save(queue)
        await assign_waiting(uow, queue, now=now)
        await uow.commit()
    return queue


async def add_routing_rule(
    cmd: AddRoutingRule, *, uow: RoutingUnitOfWork, new_id: Callable[[], UUID] = random_uuid
) -> StoredRule:
    """Add a rule under a name no other rule has, sending cases to an existing queue."""
    if cmd.order < 0:
        raise RoutingValidationError(f"a rule's order must be 0 or more, not {cmd.order}")
    stored = StoredRule(
        rule_id=cmd.rule_id or new_id(),
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
            tiers=cmd.tiers,
            regions=cmd.regions,
            parameters=cmd.parameters,
            active=cmd.active,
        ),
    )
    async with uow:
        if await uow.queues.get(cmd.queue_id) is None:
            raise UnknownQueueError(f"there is no queue {cmd.queue_id} to route to")
        names = {parse_skill(skill)[0] for skill in stored.rule.required_skills}
        if unknown := await uow.agents.unknown_skills(names):
            raise UnknownSkillError(
                f"no agent has the skill {', '.join(sorted(unknown))}: "
                "give an agent the skill first"
            )
        same_name = await uow.rules.find_by_name(stored.rule.name)
        if same_name is not None and same_name.rule_id != stored.rule_id:
            raise NameTakenError(f"a routing rule named {stored.rule.name!r} exists already")
        if cmd.rule_id is not None and await uow.rules.get(cmd.rule_id) is not None:
            await uow.rules.save(stored)
        else:
            await uow.rules.add(stored)
        await uow.commit()
    return stored


async def delete_routing_rule(rule_id: UUID, *, uow: RoutingUnitOfWork) -> None:
    """Remove a rule; the cases it placed stay where they are."""
    async with uow:
        if not await uow.rules.delete(rule_id):
            raise RuleNotFound(f"there is no routing rule {rule_id}")
        await uow.commit()


async def try_routing_rules(
    facts: CaseFacts, *, uow: RoutingUnitOfWork
) -> tuple[QueueChoice, Queue]:
    """Where a case with these facts would go, routing nothing: the rule, queue and skills.

    An account known to routing lends its tier and region where the facts leave them out.
    """
    async with uow:
        if facts.account_id is not None and (facts.tier is None or facts.region is None):
            _, tier, region = await uow.cases.account(facts.account_id)
            facts = dataclasses.replace(
                facts, tier=facts.tier or tier, region=facts.region or region
            )
        default = await uow.queues.get_default()
        if default is None:
            raise QueueNotFound("there is no default queue to route cases to")
        rules = [stored.rule for stored in await uow.rules.all()]
        choice = choose_queue(facts, rules, default.queue_id)
        return choice, await _queue(uow, choice.queue_id)


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
        queue = await _queue(uow, item.queue_id)
        agent = await uow.agents.enroll(
            cmd.by.agent_id, name=cmd.by.name, capacity=new_agent_capacity
        )
        _require_visible(queue, agent, cmd.by)
        events = item.pick(agent, now=now)
        if events:
            await _start(uow, item, agent, now=now)
            uow.emit(events, queue=queue)
            await uow.commit()
        return item


async def pick_next(
    queue_id: UUID,
    by: Caller,
    *,
    uow: RoutingUnitOfWork,
    now: datetime,
    new_agent_capacity: int = NEW_AGENT_CAPACITY,
) -> QueueItem | None:
    """Let an agent take the head of a queue (priority, SLA due time, age): the first waiting
    item they have the skills for; None when nothing waits for them."""
    async with uow:
        queue = await _queue(uow, queue_id)
        agent = await uow.agents.enroll(by.agent_id, name=by.name, capacity=new_agent_capacity)
        _require_visible(queue, agent, by)
        for item in await uow.queue_items.waiting(queue_id, limit=ASSIGN_BATCH):
            if not agent.has_skills(item.required_skills):
                continue
            events = item.pick(agent, now=now)
            await _start(uow, item, agent, now=now)
            uow.emit(events, queue=queue)
            await uow.commit()
            return item
        return None


async def assign_queue_item(
    queue_item_id: UUID,
    agent_id: UUID,
    by: Caller,
    *,
    uow: RoutingUnitOfWork,
    now: datetime,
) -> QueueItem:
    """A supervisor gives a queued case to an agent of the directory, who must be present
    (not offline) and have room for it."""
    async with uow:
        item = await _item(uow, queue_item_id)
        queue = await _queue(uow, item.queue_id)
        agent = await uow.agents.get(agent_id, for_update=True)
        if agent is None:
            raise UnknownAgentError(f"there is no agent {agent_id} in the directory")
        if not queue.visible_to(agent.agent_id, agent.teams, supervises=False):
            raise QueueNotVisibleError(f"agent {agent_id} is not a member of queue {queue.name!r}")
        freed = item.worked_by
        if freed is not None and freed != agent_id:
            # Taken from whoever works it: they are released first, and their load drops.
            units_freed = await uow.queue_items.units_held(item.queue_item_id)
            uow.emit(item.release(now=now), queue=queue)
            await uow.queue_items.save(item)
            await uow.agents.free_units(freed, units_freed)
        events = item.assign(agent, now=now, by=by.agent_id)
        if events:
            await _start(uow, item, agent, now=now)
            uow.emit(events, queue=queue)
            await uow.notify_assignee(item, agent_id=agent_id, queue=queue)
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
        worker = item.worked_by
        units = await uow.queue_items.units_held(item.queue_item_id)
        events = item.release(now=now)
        await uow.queue_items.save(item)
        if worker is not None:
            await uow.agents.free_units(worker, units)
        queue = await _queue(uow, item.queue_id)
        uow.emit(events, queue=queue)
        # Someone else may take it now; not straight back to who gave it up.
        await assign_items(uow, queue, [item], now=now, exclude={worker} if worker else ())
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
        if not cmd.by.supervises:
            caller = await uow.agents.get(cmd.by.agent_id)
            teams = caller.teams if caller is not None else frozenset()
            if not target.visible_to(cmd.by.agent_id, teams, supervises=False):
                raise QueueNotVisibleError(
                    f"queue {target.name!r} is not one you can see: a supervisor may transfer there"
                )
        worker = item.worked_by
        units = await uow.queue_items.units_held(item.queue_item_id)
        events = item.transfer(target.queue_id, now=now, by=cmd.by.agent_id)
        await uow.queue_items.save(item)
        uow.emit(events, queue=target)
        if worker is not None:
            await uow.agents.free_units(worker, units)
        # Moved away from whoever worked it: someone else in the target queue takes it.
        await assign_items(uow, target, [item], now=now, exclude={worker} if worker else ())
        if worker is not None:
            await offer_agent(uow, worker, now=now)
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
            await _remove([(item, reason)], uow=uow, now=now)
            return item
        case RequeueCase():
            item, events = requeue(item, queue_item_id=new_id(), now=now)
            if events:
                await uow.queue_items.add(item)
                await uow.queue_items.set_sla_due(
                    item.case_id, await uow.cases.sla_due(item.case_id)
                )
                queue = await _queue(uow, item.queue_id)
                uow.emit(events, queue=queue)
                await assign_items(uow, queue, [item], now=now)
            return item
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
                units = agent.units_for(item.work_type)
                await uow.queue_items.claim(item, units=units)
                await uow.agents.add_units(agent_id, units, at=now)
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


async def _start(uow: RoutingUnitOfWork, item: QueueItem, agent: Agent, *, now: datetime) -> None:
    """Write that `agent` works `item` now; the database refuses an agent over capacity or
    an item someone else took meanwhile."""
    units = agent.units_for(item.work_type)
    if not await uow.agents.take_units(agent.agent_id, units, at=now):
        raise AgentAtCapacityError(f"agent {agent.agent_id} has no room for the item")
    if not await uow.queue_items.claim(item, units=units):
        raise ItemAlreadyWorkedError(f"queue item {item.queue_item_id} was taken meanwhile")


async def _check_queue_refs(uow: RoutingUnitOfWork, queue: Queue) -> None:
    if queue.team_id is not None and await uow.teams.get(queue.team_id) is None:
        raise UnknownTeamError(f"there is no team {queue.team_id}")
    if queue.owner_id is not None and await uow.agents.entry(queue.owner_id) is None:
        raise UnknownAgentError(f"there is no agent {queue.owner_id} in the directory")
    target = queue.overflow.queue_id
    if target is not None and await uow.queues.get(target) is None:
        raise UnknownQueueError(f"there is no queue {target} to overflow into")


def _require_visible(queue: Queue, agent: Agent, caller: Caller) -> None:
    if not queue.visible_to(agent.agent_id, agent.teams, supervises=caller.supervises):
        raise QueueNotVisibleError(
            f"queue {queue.name!r} belongs to a team you are not in, or to another agent"
        )


def _require_may_change(item: QueueItem, caller: Caller) -> None:
    if caller.supervises or (item.worked_by is not None and item.worked_by == caller.agent_id):
        return
    raise NotPermittedError(
        f"queue item {item.queue_item_id} is not worked by you; a supervisor may change it"
    )
