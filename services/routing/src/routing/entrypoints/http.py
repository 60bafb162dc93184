"""The routing HTTP API: queues, their items, routing rules, and pick/release/transfer.

Agents read and work items; supervisors may also release and transfer items others work;
admins manage queues and rules. Errors are raised, and answered as problem+json by the
mapping in `routing.bootstrap`.
"""

# No `from __future__ import annotations` here: FastAPI must evaluate the route signatures,
# whose dependencies are local to `router`.

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from caseflow_contracts import Channel, Priority
from caseflow_servicekit import Authenticator, Clock, NotFound, Principal, Role
from caseflow_servicekit.edge import Int32, Limit, Offset
from routing.adapters.uow import SqlRoutingUnitOfWork
from routing.app.handlers import (
    AddRoutingRule,
    Caller,
    CreateQueue,
    PickQueueItem,
    ReleaseQueueItem,
    TransferQueueItem,
    add_routing_rule,
    create_queue,
    pick_queue_item,
    release_queue_item,
    transfer_queue_item,
)
from routing.app.ports import StoredRule
from routing.domain import AssignmentStrategy, QueueItemStatus, QueueKind


class ItemCounts(BaseModel):
    """How many of a queue's active items stand in each status."""

    waiting: int
    assigned: int
    released: int


class QueueView(BaseModel):
    """A queue as the API shows it."""

    queue_id: UUID
    name: str
    kind: QueueKind
    is_default: bool
    strategy: AssignmentStrategy
    items: ItemCounts


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
            active=rule.active,
        )


class NewQueue(BaseModel):
    """A queue to create."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=200)]
    kind: QueueKind = QueueKind.PUBLIC
    strategy: AssignmentStrategy = AssignmentStrategy.MANUAL


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
    required_skills: list[str] = []
    entitlement: list[str] = []
    active: bool = True


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
                CreateQueue(name=body.name, kind=body.kind, strategy=body.strategy), uow=uow
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

    @api.get("/queues/{queue_id}/items", response_model=QueueItemPage)
    async def list_queue_items(
        queue_id: UUID,
        _: Annotated[Principal, agent],
        status: QueueItemStatus | None = None,
        limit: Annotated[Limit, Query()] = 50,
        offset: Annotated[Offset, Query()] = 0,
    ) -> dict[str, Any]:
        """A queue's items, longest waiting first; all active ones unless a status is asked."""
        async with uow_factory() as uow:
            if await uow.queues.get(queue_id) is None:
                raise NotFound(f"There is no queue {queue_id}.")
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
        async with uow_factory() as uow:
            await pick_queue_item(
                PickQueueItem(queue_item_id=queue_item_id, by=_caller(principal)),
                uow=uow,
                now=clock.now(),
            )
            return await _described(uow, queue_item_id)

    @api.post("/queue-items/{queue_item_id}/release", response_model=QueueItemView)
    async def release(
        queue_item_id: UUID, principal: Annotated[Principal, agent]
    ) -> dict[str, Any]:
        """Give a case back to its queue (one's own, or any for a supervisor)."""
        async with uow_factory() as uow:
            await release_queue_item(
                ReleaseQueueItem(queue_item_id=queue_item_id, by=_caller(principal)),
                uow=uow,
                now=clock.now(),
            )
            return await _described(uow, queue_item_id)

    @api.post("/queue-items/{queue_item_id}/transfer", response_model=QueueItemView)
    async def transfer(
        queue_item_id: UUID, body: Transfer, principal: Annotated[Principal, agent]
    ) -> dict[str, Any]:
        """Move a case to another queue (one's own, or any for a supervisor)."""
        async with uow_factory() as uow:
            await transfer_queue_item(
                TransferQueueItem(
                    queue_item_id=queue_item_id, to_queue_id=body.queue_id, by=_caller(principal)
                ),
                uow=uow,
                now=clock.now(),
            )
            return await _described(uow, queue_item_id)

    @api.get("/routing-rules", response_model=list[RuleView])
    async def list_rules(_: Annotated[Principal, admin]) -> list[RuleView]:
        """Every routing rule, in the order they are tried."""
        async with uow_factory() as uow:
            return [RuleView.of(stored) for stored in await uow.rules.all()]

    @api.post("/routing-rules", response_model=RuleView, status_code=201)
    async def add_rule(body: NewRule, _: Annotated[Principal, admin]) -> RuleView:
        """Add a routing rule; it applies to the cases opened from now on."""
        stored = await add_routing_rule(
            AddRoutingRule(
                name=body.name,
                order=body.order,
                queue_id=body.queue_id,
                channels=frozenset(c.value for c in body.channels),
                priorities=frozenset(p.value for p in body.priorities),
                request_types=frozenset(body.request_types),
                subject_keywords=frozenset(body.subject_keywords),
                account_ids=frozenset(body.account_ids),
                required_skills=frozenset(body.required_skills),
                entitlement=frozenset(body.entitlement),
                active=body.active,
            ),
            uow=uow_factory(),
        )
        return RuleView.of(stored)

    return api


def _caller(principal: Principal) -> Caller:
    return Caller(
        agent_id=principal.agent_id,
        name=principal.subject,
        supervises=principal.has(Role.SUPERVISOR),
    )


async def _described(uow: SqlRoutingUnitOfWork, queue_item_id: UUID) -> dict[str, Any]:
    view = await uow.queue_items.describe(queue_item_id)
    assert view is not None  # the use case just loaded and saved it
    return view
