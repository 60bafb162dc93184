"""Routing's state in PostgreSQL: queues, rules, agents, queue items and known cases."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import RowMapping, Select, delete, exists, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from caseflow_servicekit.cache import TtlCache
from routing.adapters.tables import (
    agents,
    case_facts,
    parked_case_events,
    queue_items,
    queues,
    routing_rules,
)
from routing.app.case_changes import (
    AcceptCase,
    CaseChange,
    ChangeEntitlement,
    DequeueCase,
    RequeueCase,
)
from routing.app.ports import StoredRule
from routing.domain import (
    Agent,
    AssignmentStrategy,
    CaseFacts,
    Presence,
    Queue,
    QueueItem,
    QueueItemStatus,
    QueueKind,
    RoutingRule,
)

_REMOVED = QueueItemStatus.REMOVED.value


class SqlQueueRepository:
    """Loads and adds queues; reads them with their item counts for the API."""

    def __init__(self, session: AsyncSession, cache: TtlCache[Any] | None = None) -> None:
        self._session = session
        self._cache = cache

    async def get(self, queue_id: UUID) -> Queue | None:
        """The queue with `queue_id`, or None."""
        return await self._one(select(queues).where(queues.c.queue_id == queue_id))

    async def get_default(self) -> Queue | None:
        """The queue that takes the cases no rule places."""
        if self._cache is not None and (kept := self._cache.get("default-queue")) is not None:
            return kept  # type: ignore[no-any-return]
        found = await self._one(select(queues).where(queues.c.is_default.is_(True)))
        if found is not None and self._cache is not None:
            self._cache.put("default-queue", found)
        return found

    async def find_by_name(self, name: str) -> Queue | None:
        """The queue named `name`, whatever the letter case."""
        return await self._one(
            select(queues).where(func.lower(queues.c.name) == name.strip().lower())
        )

    async def add(self, queue: Queue) -> None:
        """Insert a new queue."""
        if self._cache is not None:
            self._cache.clear()
        await self._session.execute(
            insert(queues).values(
                queue_id=queue.queue_id,
                name=queue.name,
                kind=queue.kind.value,
                is_default=queue.is_default,
                strategy=queue.strategy.value,
            )
        )

    async def overview(self, queue_id: UUID | None = None) -> list[dict[str, Any]]:
        """Queues (or the one with `queue_id`) by name, each with its active items by status."""
        stmt = select(queues).order_by(queues.c.is_default.desc(), queues.c.name)
        counts = select(queue_items.c.queue_id, queue_items.c.status, func.count()).where(
            queue_items.c.status != _REMOVED
        )
        if queue_id is not None:
            stmt = stmt.where(queues.c.queue_id == queue_id)
            counts = counts.where(queue_items.c.queue_id == queue_id)
        rows = (await self._session.execute(stmt)).mappings().all()
        tally: dict[UUID, dict[str, int]] = {}
        for qid, status, n in await self._session.execute(
            counts.group_by(queue_items.c.queue_id, queue_items.c.status)
        ):
            tally.setdefault(qid, {})[status] = int(n)
        return [
            {
                **_queue_fields(row),
                "items": {
                    status.value: tally.get(row["queue_id"], {}).get(status.value, 0)
                    for status in QueueItemStatus
                    if status is not QueueItemStatus.REMOVED
                },
            }
            for row in rows
        ]

    async def _one(self, stmt: Select[Any]) -> Queue | None:
        row = (await self._session.execute(stmt)).mappings().first()
        return None if row is None else _queue(row)


class SqlRuleRepository:
    """Loads and adds routing rules."""

    def __init__(self, session: AsyncSession, cache: TtlCache[Any] | None = None) -> None:
        self._session = session
        self._cache = cache

    async def all(self) -> list[StoredRule]:
        """Every rule, in the order they are tried."""
        if self._cache is not None and (kept := self._cache.get("rules")) is not None:
            return list(kept)
        rows = await self._session.execute(
            select(routing_rules).order_by(routing_rules.c.order, routing_rules.c.name)
        )
        found = [_rule(row) for row in rows.mappings()]
        if self._cache is not None:
            self._cache.put("rules", tuple(found))
        return found

    async def find_by_name(self, name: str) -> StoredRule | None:
        """The rule named `name`, whatever the letter case."""
        row = (
            (
                await self._session.execute(
                    select(routing_rules).where(
                        func.lower(routing_rules.c.name) == name.strip().lower()
                    )
                )
            )
            .mappings()
            .first()
        )
        return None if row is None else _rule(row)

    async def add(self, stored: StoredRule) -> None:
        """Insert a new rule."""
        if self._cache is not None:
            self._cache.clear()
        rule = stored.rule
        await self._session.execute(
            insert(routing_rules).values(
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
        )


class SqlAgentRepository:
    """Agents, with the number of items each works counted from the queue items."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def enroll(self, agent_id: UUID, *, name: str, capacity: int) -> Agent:
        """The agent, registered (present, no skills) if unknown, and locked until commit."""
        # Insert-if-absent then lock: two first picks by one agent at once do not collide,
        # and picks by one agent are serialised so their capacity check holds.
        await self._session.execute(
            pg_insert(agents)
            .values(
                agent_id=agent_id,
                name=name,
                skills=[],
                capacity=capacity,
                presence=Presence.AVAILABLE.value,
            )
            .on_conflict_do_nothing(index_elements=[agents.c.agent_id])
        )
        row = (
            (
                await self._session.execute(
                    select(agents).where(agents.c.agent_id == agent_id).with_for_update()
                )
            )
            .mappings()
            .one()
        )
        active = await self._session.scalar(
            select(func.count())
            .select_from(queue_items)
            .where(
                queue_items.c.worked_by == agent_id,
                queue_items.c.status == QueueItemStatus.ASSIGNED.value,
            )
        )
        return Agent(
            agent_id=row["agent_id"],
            name=row["name"],
            skills=frozenset(row["skills"]),
            capacity=row["capacity"],
            presence=Presence(row["presence"]),
            active_items=int(active or 0),
            last_assigned_at=row["last_assigned_at"],
        )

    async def mark_assigned(self, agent_id: UUID, *, at: datetime) -> None:
        """Remember when the agent was last given an item."""
        await self._session.execute(
            update(agents).where(agents.c.agent_id == agent_id).values(last_assigned_at=at)
        )


class SqlQueueItemRepository:
    """Loads and saves queue items; reads them with their case and queue for the API."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, queue_item_id: UUID, *, for_update: bool = False) -> QueueItem | None:
        """The queue item with `queue_item_id`, or None."""
        stmt = select(queue_items).where(queue_items.c.queue_item_id == queue_item_id)
        if for_update:
            stmt = stmt.with_for_update()
        row = (await self._session.execute(stmt)).mappings().first()
        return None if row is None else _item(row)

    async def last_for_case(self, case_id: UUID, *, for_update: bool = False) -> QueueItem | None:
        """The item `case_id` was placed in last, whatever its status, or None."""
        stmt = (
            select(queue_items)
            .where(queue_items.c.case_id == case_id)
            .order_by(queue_items.c.seq.desc())
            .limit(1)
        )
        if for_update:
            stmt = stmt.with_for_update()
        row = (await self._session.execute(stmt)).mappings().first()
        return None if row is None else _item(row)

    async def add(self, item: QueueItem) -> None:
        """Insert a new queue item."""
        await self._session.execute(insert(queue_items).values(**_item_row(item)))

    async def save(self, item: QueueItem) -> None:
        """Write a loaded queue item back."""
        values = _item_row(item)
        values.pop("queue_item_id")
        values.pop("case_id")
        await self._session.execute(
            update(queue_items)
            .where(queue_items.c.queue_item_id == item.queue_item_id)
            .values(**values)
        )

    async def describe(self, queue_item_id: UUID) -> dict[str, Any] | None:
        """The item with its queue's name and what routing knows of its case."""
        row = (
            (
                await self._session.execute(
                    _view().where(queue_items.c.queue_item_id == queue_item_id)
                )
            )
            .mappings()
            .first()
        )
        return None if row is None else _view_row(row)

    async def describe_active_for_case(self, case_id: UUID) -> dict[str, Any] | None:
        """The active item of `case_id`, described, or None."""
        row = (
            (
                await self._session.execute(
                    _view()
                    .where(queue_items.c.case_id == case_id, queue_items.c.status != _REMOVED)
                    .order_by(queue_items.c.seq.desc())
                    .limit(1)
                )
            )
            .mappings()
            .first()
        )
        return None if row is None else _view_row(row)

    async def search(
        self,
        *,
        queue_id: UUID,
        status: QueueItemStatus | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[list[dict[str, Any]], int]:
        """A queue's items, longest waiting first, with the total for paging.

        Without `status`, the active items (every status but removed).
        """
        condition = (
            queue_items.c.status != _REMOVED
            if status is None
            else queue_items.c.status == status.value
        )
        rows = (
            await self._session.execute(
                _view()
                .where(queue_items.c.queue_id == queue_id, condition)
                .order_by(queue_items.c.entered_at, queue_items.c.queue_item_id)
                .limit(limit)
                .offset(offset)
            )
        ).mappings()
        total = await self._session.scalar(
            select(func.count())
            .select_from(queue_items)
            .where(queue_items.c.queue_id == queue_id, condition)
        )
        return [_view_row(r) for r in rows], int(total or 0)


class SqlCaseProjection:
    """Remembers the cases routing has heard of, as the cases service described them."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def remember(self, facts: CaseFacts, *, number: str, opened_at: datetime) -> None:
        """Record a newly opened case; a case already known keeps what was recorded."""
        await self._session.execute(
            pg_insert(case_facts)
            .values(
                case_id=facts.case_id,
                number=number,
                channel=facts.channel,
                priority=facts.priority,
                subject=facts.subject,
                request_type=facts.request_type,
                account_id=facts.account_id,
                opened_at=opened_at,
                entitled=facts.entitled,
                not_entitled=facts.not_entitled,
            )
            .on_conflict_do_nothing(index_elements=[case_facts.c.case_id])
        )

    async def change_entitlement(
        self, case_id: UUID, *, entitled: bool, not_entitled: str | None
    ) -> None:
        """Record that a known case's entitlement changed."""
        await self._session.execute(
            update(case_facts)
            .where(case_facts.c.case_id == case_id)
            .values(entitled=entitled, not_entitled=not_entitled)
        )

    async def is_known(self, case_id: UUID) -> bool:
        """Whether the case's opening has been applied."""
        return bool(
            await self._session.scalar(select(exists().where(case_facts.c.case_id == case_id)))
        )

    async def park(self, change: CaseChange) -> None:
        """Keep a change to a case whose opening has not arrived."""
        kind, payload = _change_row(change)
        await self._session.execute(
            insert(parked_case_events).values(
                case_id=change.case_id, kind=kind, occurred_at=change.at, payload=payload
            )
        )

    async def take_parked(self, case_id: UUID) -> list[CaseChange]:
        """The changes parked for a case, in the order they happened, removed from the parking."""
        t = parked_case_events.c
        rows = (
            await self._session.execute(
                delete(parked_case_events)
                .where(t.case_id == case_id)
                .returning(t.parked_id, t.kind, t.occurred_at, t.payload)
            )
        ).all()
        return [
            _change_of(case_id, row.kind, row.occurred_at, row.payload)
            for row in sorted(rows, key=lambda row: (row.occurred_at, row.parked_id))
        ]


def _queue_fields(row: RowMapping) -> dict[str, Any]:
    return {
        "queue_id": row["queue_id"],
        "name": row["name"],
        "kind": row["kind"],
        "is_default": row["is_default"],
        "strategy": row["strategy"],
    }


def _queue(row: RowMapping) -> Queue:
    return Queue(
        queue_id=row["queue_id"],
        name=row["name"],
        kind=QueueKind(row["kind"]),
        is_default=row["is_default"],
        strategy=AssignmentStrategy(row["strategy"]),
    )


def _rule(row: RowMapping) -> StoredRule:
    return StoredRule(
        rule_id=row["rule_id"],
        rule=RoutingRule(
            name=row["name"],
            order=row["order"],
            queue_id=row["queue_id"],
            channels=frozenset(row["channels"]),
            priorities=frozenset(row["priorities"]),
            request_types=frozenset(row["request_types"]),
            subject_keywords=frozenset(row["subject_keywords"]),
            account_ids=frozenset(row["account_ids"]),
            required_skills=frozenset(row["required_skills"]),
            entitlement=frozenset(row["entitlement"]),
            active=row["active"],
        ),
    )


def _item(row: RowMapping) -> QueueItem:
    return QueueItem(
        queue_item_id=row["queue_item_id"],
        case_id=row["case_id"],
        queue_id=row["queue_id"],
        entered_at=row["entered_at"],
        status=QueueItemStatus(row["status"]),
        worked_by=row["worked_by"],
        worked_since=row["worked_since"],
        required_skills=frozenset(row["required_skills"]),
    )


def _item_row(item: QueueItem) -> dict[str, Any]:
    return {
        "queue_item_id": item.queue_item_id,
        "case_id": item.case_id,
        "queue_id": item.queue_id,
        "status": item.status.value,
        "worked_by": item.worked_by,
        "worked_since": item.worked_since,
        "entered_at": item.entered_at,
        "required_skills": sorted(item.required_skills),
    }


def _change_row(change: CaseChange) -> tuple[str, dict[str, Any]]:
    match change:
        case DequeueCase():
            return "dequeue", {"reason": change.reason}
        case RequeueCase():
            return "requeue", {}
        case AcceptCase():
            return "accept", {"agent_id": str(change.agent_id)}
        case ChangeEntitlement():
            return "entitlement", {
                "entitled": change.entitled,
                "not_entitled": change.not_entitled,
            }
    msg = f"cannot park {type(change).__name__}"
    raise TypeError(msg)


def _change_of(case_id: UUID, kind: str, at: datetime, payload: Mapping[str, Any]) -> CaseChange:
    match kind:
        case "dequeue":
            return DequeueCase(case_id=case_id, at=at, reason=str(payload["reason"]))
        case "requeue":
            return RequeueCase(case_id=case_id, at=at)
        case "accept":
            return AcceptCase(case_id=case_id, at=at, agent_id=UUID(str(payload["agent_id"])))
        case "entitlement":
            reason = payload.get("not_entitled")
            return ChangeEntitlement(
                case_id=case_id,
                at=at,
                entitled=bool(payload["entitled"]),
                not_entitled=None if reason is None else str(reason),
            )
    msg = f"unknown parked change {kind!r}"
    raise ValueError(msg)


def _view() -> Select[Any]:
    return (
        select(
            queue_items,
            queues.c.name.label("queue_name"),
            case_facts.c.number,
            case_facts.c.subject,
            case_facts.c.priority,
            case_facts.c.channel,
        )
        .join(queues, queues.c.queue_id == queue_items.c.queue_id)
        .outerjoin(case_facts, case_facts.c.case_id == queue_items.c.case_id)
    )


def _view_row(row: RowMapping) -> dict[str, Any]:
    case = (
        None
        if row["number"] is None
        else {
            "number": row["number"],
            "subject": row["subject"],
            "priority": row["priority"],
            "channel": row["channel"],
        }
    )
    return {
        "queue_item_id": row["queue_item_id"],
        "case_id": row["case_id"],
        "queue_id": row["queue_id"],
        "queue_name": row["queue_name"],
        "status": row["status"],
        "worked_by": row["worked_by"],
        "worked_since": row["worked_since"],
        "entered_at": row["entered_at"],
        "required_skills": sorted(row["required_skills"]),
        "case": case,
    }
