"""The routing HTTP API: queues, their items, routing rules, and pick/release/transfer.

Agents read and work items; supervisors may also release and transfer items others work;
admins manage queues and rules. Errors are raised, and answered as problem+json by the
mapping in `routing.bootstrap`.
"""

# No `from __future__ import annotations` here: FastAPI must evaluate the route signatures,
# whose dependencies are local to `router`.

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Annotated, Any, TypeVar
from uuid import UUID, uuid4

import structlog
from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from caseflow_contracts import Channel, Priority
from caseflow_servicekit import Authenticator, Clock, NotFound, Principal, Role
from caseflow_servicekit.edge import INT32_MAX, Int32, Limit, Offset
from routing.adapters.races import settled
from routing.adapters.uow import SqlRoutingUnitOfWork
from routing.app.errors import QueueNotVisibleError
from routing.app.handlers import (
    AddRoutingRule,
    Caller,
    CreateQueue,
    PickQueueItem,
    ReleaseQueueItem,
    TransferQueueItem,
    add_routing_rule,
    assign_queue_item,
    change_queue,
    create_queue,
    delete_routing_rule,
    pick_next,
    pick_queue_item,
    release_queue_item,
    transfer_queue_item,
    try_routing_rules,
)
from routing.app.ports import StoredRule
from routing.domain import (
    AssignmentStrategy,
    CaseFacts,
    Overflow,
    Queue,
    QueueItemStatus,
    QueueKind,
    SkillMatch,
)

log = structlog.get_logger(__name__)
T = TypeVar("T")

Word = Annotated[str, Field(min_length=1, max_length=100)]
Short = Annotated[str, Field(min_length=1, max_length=64)]
Value = Annotated[str, Field(max_length=1000)]


class ItemCounts(BaseModel):
    """How many of a queue's active items stand in each status."""

    waiting: int
    assigned: int
    released: int


class OverflowView(BaseModel):
    """When a queue's waiting items move on, and where to."""

    queue_id: UUID | None = None
    after_seconds: int | None = None
    max_length: int | None = None
    when_unstaffed: bool = False


class QueueView(BaseModel):
    """A queue as the API shows it. `strategy` is the first of its chain, `strategies`."""

    queue_id: UUID
    name: str
    kind: QueueKind
    is_default: bool
    strategy: AssignmentStrategy
    strategies: list[AssignmentStrategy]
    skill_match: SkillMatch
    team_id: UUID | None
    owner_id: UUID | None
    overflow: OverflowView
    items: ItemCounts


class AgentLoad(BaseModel):
    agent_id: UUID
    name: str
    presence: str
    capacity: int
    load_units: int
    items: int


class QueueStats(BaseModel):
    """A queue's figures now."""

    queue_id: UUID
    name: str
    waiting: int
    assigned: int
    oldest_waiting_seconds: float
    at_sla_risk: int
    agents: list[AgentLoad]


class CaseSummary(BaseModel):
    """What routing knows of the case a queue item holds."""

    number: str
    subject: str
    priority: str
    channel: str


class QueueItemView(BaseModel):
    """A case's place in a queue, and who works it."""

    queue_item_id: UUID
    case_id: UUID
    queue_id: UUID
    queue_name: str
    status: QueueItemStatus
    worked_by: UUID | None
    worked_since: datetime | None
    entered_at: datetime
    required_skills: list[str]
    priority: str
    sla_due_at: datetime | None
    preferred_agent: UUID | None
    rule: str | None
    case: CaseSummary | None


class QueueItemPage(BaseModel):
    items: list[QueueItemView]
    total: int
    limit: int
    offset: int


class RuleView(BaseModel):
    """A routing rule as the API shows it."""

    rule_id: UUID
    name: str
    order: int
    queue_id: UUID
    channels: list[str]
    priorities: list[str]
    request_types: list[str]
    subject_keywords: list[str]
    account_ids: list[UUID]
    required_skills: list[str]
    entitlement: list[str]
    tiers: list[str]
    regions: list[str]
    parameters: dict[str, str]
    active: bool

    @classmethod
    def of(cls, stored: StoredRule) -> "RuleView":
        rule = stored.rule
        return cls(
            rule_id=stored.rule_id,
            name=rule.name,
            order=rule.order,
            queue_id=rule.queue_id,
            channels=sorted(rule.channels),
            priorities=sorted(rule.priorities),
            request_types=sorted(rule.request_types),
            subject_keywords=sorted(rule.subject_keywords),
            account_ids=sorted(rule.account_ids),
            required_skills=sorted(rule.required_skills),
            entitlement=sorted(rule.entitlement),
            tiers=sorted(rule.tiers),
            regions=sorted(rule.regions),
            parameters=dict(rule.parameters),
            active=rule.active,
        )


class OverflowRule(BaseModel):
    """When waiting items leave for `queue_id`: after waiting `after_seconds`, beyond
    `max_length` items, or whenever no member is available (`when_unstaffed`)."""

    model_config = ConfigDict(extra="forbid")

    queue_id: UUID | None = None
    after_seconds: Annotated[int, Field(ge=1, le=INT32_MAX)] | None = None
    max_length: Annotated[int, Field(ge=0, le=INT32_MAX)] | None = None
    when_unstaffed: bool = False

    def domain(self) -> Overflow:
        return Overflow(
            queue_id=self.queue_id,
            after=None if self.after_seconds is None else timedelta(seconds=self.after_seconds),
            max_length=self.max_length,
            when_unstaffed=self.when_unstaffed,
        )


class NewQueue(BaseModel):
    """A queue to create.

    `strategies` is a chain tried in order, e.g. `["preferred_agent", "skills",
    "least_busy"]`; `manual` (agents pick) may only end it. `strategy` names a chain of one.
    A `team` queue needs `team_id` and only its members see it; a `personal` queue is one
    agent's (`owner_id`).
    """

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=200)]
    kind: QueueKind = QueueKind.PUBLIC
    strategy: AssignmentStrategy | None = None
    strategies: Annotated[list[AssignmentStrategy], Field(max_length=6)] | None = None
    skill_match: SkillMatch = SkillMatch.EXACT
    team_id: UUID | None = None
    owner_id: UUID | None = None
    overflow: OverflowRule = OverflowRule()

    def chain(self) -> tuple[AssignmentStrategy, ...]:
        if self.strategies:
            return tuple(self.strategies)
        return (self.strategy or AssignmentStrategy.MANUAL,)


class QueueChanges(BaseModel):
    """What to change in a queue; what is left out stays."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    kind: QueueKind | None = None
    strategies: Annotated[list[AssignmentStrategy], Field(min_length=1, max_length=6)] | None = None
    skill_match: SkillMatch | None = None
    team_id: UUID | None = None
    owner_id: UUID | None = None
    overflow: OverflowRule | None = None


class AssignTo(BaseModel):
    """The agent to give a queue item to."""

    model_config = ConfigDict(extra="forbid")

    agent_id: UUID


class CaseFactsIn(BaseModel):
    """A case's facts, to see where the rules would send it."""

    model_config = ConfigDict(extra="forbid")

    channel: Channel
    priority: Priority = Priority.NORMAL
    subject: Annotated[str, Field(max_length=1000)] = ""
    request_type: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    account_id: UUID | None = None
    tier: Short | None = None
    region: Short | None = None
    parameters: dict[
        Annotated[str, Field(max_length=100)], Annotated[str, Field(max_length=1000)]
    ] = {}
    entitled: bool | None = None
    not_entitled: Annotated[str, Field(min_length=1, max_length=32)] | None = None


class RuleTestResult(BaseModel):
    """Where the case would go: the rule (none: the default queue), queue and skills."""

    rule: str | None
    queue_id: UUID
    queue_name: str
    required_skills: list[str]


class NewRule(BaseModel):
    """A routing rule to add; empty conditions hold for every case.

    `entitlement` asks whether a service contract covers the case: `entitled`, `not_entitled`
    (for any reason) or the reason itself (`no_contract`, `not_started`, `expired`, `on_hold`,
    `contact_not_covered`, `channel_not_covered`, `request_type_not_covered`, `exhausted`);
    any value listed will do. A case opened before contracts existed meets none of them.
    """

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=200)]
    order: Annotated[Int32, Field(ge=0)]
    queue_id: UUID
    channels: list[Channel] = []
    priorities: list[Priority] = []
    request_types: list[str] = []
    subject_keywords: list[str] = []
    account_ids: list[UUID] = []
    required_skills: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=100)]], Field(max_length=50)
    ] = []
    entitlement: list[str] = []
    tiers: list[Short] = []
    regions: list[Short] = []
    parameters: dict[
        Annotated[str, Field(min_length=1, max_length=100)], Annotated[str, Field(max_length=1000)]
    ] = {}
    active: bool = True

    def command(self, rule_id: UUID | None = None) -> AddRoutingRule:
        return AddRoutingRule(
            rule_id=rule_id,
            name=self.name,
            order=self.order,
            queue_id=self.queue_id,
            channels=frozenset(c.value for c in self.channels),
            priorities=frozenset(p.value for p in self.priorities),
            request_types=frozenset(self.request_types),
            subject_keywords=frozenset(self.subject_keywords),
            account_ids=frozenset(self.account_ids),
            required_skills=frozenset(self.required_skills),
            entitlement=frozenset(self.entitlement),
            tiers=frozenset(self.tiers),
            regions=frozenset(self.regions),
            parameters=dict(self.parameters),
            active=self.active,
        )


class Transfer(BaseModel):
    """Where to move a queue item."""

    model_config = ConfigDict(extra="forbid")

    queue_id: UUID


def router(
    *,
    uow_factory: Callable[[], SqlRoutingUnitOfWork],
    auth: Authenticator,
    clock: Clock,
) -> APIRouter:
    """Routes for queues, queue items and routing rules."""
    api = APIRouter(tags=["routing"])
    agent = Depends(auth.requires(Role.AGENT))
    supervisor = Depends(auth.requires(Role.SUPERVISOR))
    admin = Depends(auth.requires(Role.ADMIN))

    @api.get("/queues", response_model=list[QueueView])
    async def list_queues(_: Annotated[Principal, agent]) -> list[dict[str, Any]]:
        """Every queue, the default first, with its active items counted by status."""
        async with uow_factory() as uow:
            return await uow.queues.overview()

    @api.post("/queues", response_model=QueueView, status_code=201)
    async def add_queue(body: NewQueue, _: Annotated[Principal, admin]) -> dict[str, Any]:
        """Create a queue."""
        async with uow_factory() as uow:
            queue = await create_queue(
                CreateQueue(
                    name=body.name,
                    kind=body.kind,
                    strategies=body.chain(),
                    skill_match=body.skill_match,
                    team_id=body.team_id,
                    owner_id=body.owner_id,
                    overflow=body.overflow.domain(),
                ),
                uow=uow,
            )
            [view] = await uow.queues.overview(queue.queue_id)
        return view

    @api.get("/queues/{queue_id}", response_model=QueueView)
    async def get_queue(queue_id: UUID, _: Annotated[Principal, agent]) -> dict[str, Any]:
        """One queue with its active items counted by status."""
        async with uow_factory() as uow:
            found = await uow.queues.overview(queue_id)
        if not found:
            raise NotFound(f"There is no queue {queue_id}.")
        return found[0]

    @api.patch("/queues/{queue_id}", response_model=QueueView)
    async def patch_queue(
        queue_id: UUID, body: QueueChanges, _: Annotated[Principal, admin]
    ) -> dict[str, Any]:
        """Change a queue's kind, team, chain of strategies, skill matching or overflow."""
        given = body.model_dump(exclude_unset=True)
        changes: dict[str, Any] = {}
        for name in ("name", "kind", "skill_match", "team_id", "owner_id"):
            if name in given and (given[name] is not None or name in ("team_id", "owner_id")):
                changes[name] = getattr(body, name)
        if body.strategies is not None:
            changes["strategies"] = tuple(body.strategies)
        if "overflow" in given:
            changes["overflow"] = (body.overflow or OverflowRule()).domain()
        await change_queue(queue_id, changes, uow=uow_factory(), now=clock.now())
        async with uow_factory() as uow:
            [view] = await uow.queues.overview(queue_id)
        return view

    @api.get("/queues/{queue_id}/stats", response_model=QueueStats)
    async def queue_stats(queue_id: UUID, principal: Annotated[Principal, agent]) -> dict[str, Any]:
        """Waiting and assigned items, the oldest wait, the items at SLA risk, and each
        member's load."""
        async with uow_factory() as uow:
            queue = await _visible_queue(uow, queue_id, principal)
            figures = await uow.queue_items.stats(queue_id, now=clock.now())
            loads = await uow.agents.loads(queue)
        return {"queue_id": queue_id, "name": queue.name, **figures, "agents": loads}

    @api.post("/queues/{queue_id}/next", response_model=QueueItemView)
    async def pick_next_item(
        queue_id: UUID, principal: Annotated[Principal, agent]
    ) -> dict[str, Any]:
        """Take the head of the queue (priority, then SLA due time, then age) that one has the
        skills for; 404 when nothing waits."""
        item = await settled(
            lambda: pick_next(queue_id, _caller(principal), uow=uow_factory(), now=clock.now())
        )
        if item is None:
            raise NotFound(f"Nothing waits in queue {queue_id} that you can take.")
        return await _described(uow_factory, item.queue_item_id)

    @api.get("/queues/{queue_id}/items", response_model=QueueItemPage)
    async def list_queue_items(
        queue_id: UUID,
        principal: Annotated[Principal, agent],
        status: QueueItemStatus | None = None,
        limit: Annotated[Limit, Query()] = 50,
        offset: Annotated[Offset, Query()] = 0,
    ) -> dict[str, Any]:
        """A queue's items in its order (priority, SLA due time, age); all active ones unless
        a status is asked. A team queue shows only to its members (and supervisors)."""
        async with uow_factory() as uow:
            await _visible_queue(uow, queue_id, principal)
            rows, total = await uow.queue_items.search(
                queue_id=queue_id, status=status, limit=limit, offset=offset
            )
        return {"items": rows, "total": total, "limit": limit, "offset": offset}

    @api.get("/cases/{case_id}/queue-item", response_model=QueueItemView)
    async def get_case_queue_item(case_id: UUID, _: Annotated[Principal, agent]) -> dict[str, Any]:
        """The queue item that holds a case now."""
        async with uow_factory() as uow:
            view = await uow.queue_items.describe_active_for_case(case_id)
        if view is None:
            raise NotFound(f"Case {case_id} is in no queue.")
        return view

    @api.get("/queue-items/{queue_item_id}", response_model=QueueItemView)
    async def get_queue_item(queue_item_id: UUID, _: Annotated[Principal, agent]) -> dict[str, Any]:
        """One queue item."""
        async with uow_factory() as uow:
            view = await uow.queue_items.describe(queue_item_id)
        if view is None:
            raise NotFound(f"There is no queue item {queue_item_id}.")
        return view

    @api.post("/queue-items/{queue_item_id}/pick", response_model=QueueItemView)
    async def pick(queue_item_id: UUID, principal: Annotated[Principal, agent]) -> dict[str, Any]:
        """Take a queued case to work it; picking an item one already works changes nothing."""
        await settled(
            lambda: pick_queue_item(
                PickQueueItem(queue_item_id=queue_item_id, by=_caller(principal)),
                uow=uow_factory(),
                now=clock.now(),
            )
        )
        return await _described(uow_factory, queue_item_id)

    @api.post("/queue-items/{queue_item_id}/assign", response_model=QueueItemView)
    async def assign(
        queue_item_id: UUID, body: AssignTo, principal: Annotated[Principal, supervisor]
    ) -> dict[str, Any]:
        """Give a queued case to an agent (supervisors): not offline, with room for it."""
        await settled(
            lambda: assign_queue_item(
                queue_item_id,
                body.agent_id,
                _caller(principal),
                uow=uow_factory(),
                now=clock.now(),
            )
        )
        return await _described(uow_factory, queue_item_id)

    @api.post("/queue-items/{queue_item_id}/release", response_model=QueueItemView)
    async def release(
        queue_item_id: UUID, principal: Annotated[Principal, agent]
    ) -> dict[str, Any]:
        """Give a case back to its queue (one's own, or any for a supervisor)."""
        await settled(
            lambda: release_queue_item(
                ReleaseQueueItem(queue_item_id=queue_item_id, by=_caller(principal)),
                uow=uow_factory(),
                now=clock.now(),
            )
        )
        return await _described(uow_factory, queue_item_id)

    @api.post("/queue-items/{queue_item_id}/transfer", response_model=QueueItemView)
    async def transfer(
        queue_item_id: UUID, body: Transfer, principal: Annotated[Principal, agent]
    ) -> dict[str, Any]:
        """Move a case to another queue (one's own, or any for a supervisor)."""
        await settled(
            lambda: transfer_queue_item(
                TransferQueueItem(
                    queue_item_id=queue_item_id, to_queue_id=body.queue_id, by=_caller(principal)
                ),
                uow=uow_factory(),
                now=clock.now(),
            )
        )
        return await _described(uow_factory, queue_item_id)

    @api.get("/routing-rules", response_model=list[RuleView])
    async def list_rules(_: Annotated[Principal, admin]) -> list[RuleView]:
        """Every routing rule, in the order they are tried."""
        async with uow_factory() as uow:
            return [RuleView.of(stored) for stored in await uow.rules.all()]

    @api.post("/routing-rules", response_model=RuleView, status_code=201)
    async def add_rule(body: NewRule, _: Annotated[Principal, admin]) -> RuleView:
        """Add a routing rule; it applies to the cases opened from now on."""
        stored = await add_routing_rule(body.command(), uow=uow_factory())
        return RuleView.of(stored)

    @api.post("/routing-rules/test", response_model=RuleTestResult)
    async def try_rules(body: CaseFactsIn, _: Annotated[Principal, admin]) -> dict[str, Any]:
        """Which rule and queue a case with these facts would hit; routes nothing."""
        choice, queue = await try_routing_rules(
            CaseFacts(
                case_id=uuid4(),
                channel=body.channel.value,
                priority=body.priority.value,
                subject=body.subject,
                request_type=body.request_type,
                account_id=body.account_id,
                entitled=body.entitled,
                not_entitled=body.not_entitled,
                tier=body.tier,
                region=body.region,
                parameters=dict(body.parameters),
            ),
            uow=uow_factory(),
        )
        return {
            "rule": choice.rule_name,
            "queue_id": queue.queue_id,
            "queue_name": queue.name,
            "required_skills": sorted(choice.required_skills),
        }

    @api.put("/routing-rules/{rule_id}", response_model=RuleView)
    async def put_rule(rule_id: UUID, body: NewRule, _: Annotated[Principal, admin]) -> RuleView:
        """Write a routing rule under this id, whole (created if new)."""
        stored = await add_routing_rule(body.command(rule_id), uow=uow_factory())
        return RuleView.of(stored)

    @api.delete("/routing-rules/{rule_id}", status_code=204)
    async def delete_rule(rule_id: UUID, _: Annotated[Principal, admin]) -> Response:
        """Remove a routing rule; the cases it placed stay where they are."""
        await delete_routing_rule(rule_id, uow=uow_factory())
        return Response(status_code=204)

    return api


async def _visible_queue(uow: SqlRoutingUnitOfWork, queue_id: UUID, principal: Principal) -> Queue:
    queue = await uow.queues.get(queue_id)
    if queue is None:
        raise NotFound(f"There is no queue {queue_id}.")
    me = await uow.agents.get(principal.agent_id)
    teams = me.teams if me is not None else frozenset()
    if not queue.visible_to(principal.agent_id, teams, supervises=principal.has(Role.SUPERVISOR)):
        raise QueueNotVisibleError(
            f"Queue {queue.name!r} belongs to a team you are not in, or to another agent."
        )
    return queue


def _caller(principal: Principal) -> Caller:
    return Caller(
        agent_id=principal.agent_id,
        name=principal.subject,
        supervises=principal.has(Role.SUPERVISOR),
    )


async def _described(
    uow_factory: Callable[[], SqlRoutingUnitOfWork], queue_item_id: UUID
) -> dict[str, Any]:
    async with uow_factory() as uow:
        view = await uow.queue_items.describe(queue_item_id)
    assert view is not None  # the use case just loaded and saved it
    return view
