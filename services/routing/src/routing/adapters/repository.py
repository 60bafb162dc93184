"""Routing's state in PostgreSQL: queues, rules, agents, queue items and known cases."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import (
    ARRAY,
    RowMapping,
    Select,
    Uuid,
    bindparam,
    case,
    delete,
    exists,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from caseflow_servicekit.cache import TtlCache
from routing.adapters.tables import (
    accounts,
    case_facts,
    case_kpis,
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
    AssignmentStrategy,
    CaseFacts,
    Overflow,
    Queue,
    QueueItem,
    QueueItemStatus,
    QueueKind,
    RoutingRule,
    SkillMatch,
    priority_rank,
)

_REMOVED = QueueItemStatus.REMOVED.value
_UNWORKED = (QueueItemStatus.WAITING.value, QueueItemStatus.RELEASED.value)
_COUNTING = ("running", "nearing", "breached")
# A queue's order: priority, then the earliest SLA deadline (none last), then age.
_ORDER = (
    queue_items.c.priority_rank,
    queue_items.c.sla_due_at.asc().nulls_last(),
    queue_items.c.entered_at,
    queue_items.c.queue_item_id,
)


def _any(column: Any, name: str = "ids") -> Any:
    """`column = ANY(:name)`: one array parameter, however many values it holds."""
    return column == func.any(bindparam(name, type_=ARRAY(column.type)))


_KNOWN = select(case_facts.c.case_id).where(_any(case_facts.c.case_id))
_ACCOUNTS = select(
    accounts.c.account_id, accounts.c.owner_id, accounts.c.tier, accounts.c.region
).where(_any(accounts.c.account_id))
_SLA_DUES = (
    select(case_kpis.c.case_id, func.min(case_kpis.c.due_at).label("due_at"))
    .where(_any(case_kpis.c.case_id), case_kpis.c.state.in_(_COUNTING))
    .group_by(case_kpis.c.case_id)
)
_UNITS_HELD = select(queue_items.c.queue_item_id, queue_items.c.units).where(
    _any(queue_items.c.queue_item_id)
)
_TAKE_PARKED = (
    delete(parked_case_events)
    .where(_any(parked_case_events.c.case_id))
    .returning(
        parked_case_events.c.case_id,
        parked_case_events.c.parked_id,
        parked_case_events.c.kind,
        parked_case_events.c.occurred_at,
        parked_case_events.c.payload,
    )
)
"""Statements of the batch reads, built once: each takes its ids as one array."""

_LAST_ASSIGNED = select(queues.c.queue_id, queues.c.last_assigned_agent).where(
    _any(queues.c.queue_id)
)
_NOTE_ASSIGNED = text(
    """
    WITH last AS (
        SELECT * FROM unnest(CAST(:ids AS uuid[]), CAST(:agents AS uuid[])) AS l(id, agent)
    ), locked AS (
        SELECT q.queue_id FROM queues AS q JOIN last ON last.id = q.queue_id
        ORDER BY q.queue_id FOR NO KEY UPDATE OF q
    )
    UPDATE queues AS q SET last_assigned_agent = last.agent
    FROM last
    WHERE q.queue_id = last.id AND q.queue_id IN (SELECT queue_id FROM locked)
    """
)
"""Round robin's place in several queues' rings, written at once; the rows are locked as an
update of a column that is no key locks them, so items being queued there (the key share their
foreign key takes) never wait on it."""

_LAST_FOR_CASES = (
    select(queue_items)
    .where(_any(queue_items.c.case_id))
    .ext(distinct_on(queue_items.c.case_id))
    .order_by(queue_items.c.case_id, queue_items.c.seq.desc())
)
"""Each case's last item."""

_LAST_FOR_CASES_LOCKED = text(
    """
    SELECT last.* FROM unnest(CAST(:ids AS uuid[])) WITH ORDINALITY AS c(id, n)
    CROSS JOIN LATERAL (
        SELECT * FROM queue_items WHERE case_id = c.id
        ORDER BY seq DESC LIMIT 1 FOR UPDATE
    ) AS last
    ORDER BY c.n
    """
)
"""Each case's last item, locked case after case in the order given."""

_WAITING_MANY = text(
    """
    SELECT head.* FROM unnest(CAST(:ids AS uuid[])) AS q(id)
    CROSS JOIN LATERAL (
        SELECT * FROM queue_items
        WHERE queue_id = q.id AND status IN ('waiting', 'released')
        ORDER BY priority_rank, sla_due_at ASC NULLS LAST, entered_at, queue_item_id
        LIMIT :limit FOR UPDATE SKIP LOCKED
    ) AS head
    """
)
"""The head of each queue's unworked items, in the queue's order (`_ORDER`), locked."""

_SAVED_ITEM_COLUMNS = (
    "queue_id",
    "status",
    "worked_by",
    "worked_since",
    "entered_at",
    "required_skills",
    "work_type",
    "priority",
    "priority_rank",
    "preferred_agent",
    "last_worked_by",
    "rule_name",
)
"""What writing an item back sets: every column `_item_row` gives but its ids."""

_SAVE_ITEM = (
    update(queue_items)
    .where(queue_items.c.queue_item_id == bindparam("key"))
    .values(
        {
            **{
                name: bindparam(name, type_=queue_items.c[name].type)
                for name in _SAVED_ITEM_COLUMNS
            },
            # Nobody's capacity is held by an item nobody works.
            "units": case(
                (bindparam("worked_by", type_=Uuid).is_(None), 0), else_=queue_items.c.units
            ),
        }
    )
)
"""A loaded item written back: the statement built once, run for many."""

_CLAIM = text(
    """
    UPDATE queue_items AS q
    SET status = c.status, worked_by = c.worker, worked_since = c.since, units = c.units
    FROM unnest(
        CAST(:ids AS uuid[]), CAST(:statuses AS text[]), CAST(:workers AS uuid[]),
        CAST(:since AS timestamptz[]), CAST(:units AS integer[])
    ) AS c(id, status, worker, since, units)
    WHERE q.queue_item_id = c.id AND q.worked_by IS NULL AND q.status IN ('waiting', 'released')
    RETURNING q.queue_item_id
    """
)
"""Items claimed for their workers, each only while nobody works it."""

_REMEMBER = pg_insert(case_facts).on_conflict_do_nothing(index_elements=[case_facts.c.case_id])
"""Cases recorded as they opened, those already known left as they are."""


class SqlQueueRepository:
    """Loads and adds queues; reads them with their item counts for the API."""

    def __init__(self, session: AsyncSession, cache: TtlCache[Any] | None = None) -> None:
        self._session = session
        self._cache = cache

    async def get(self, queue_id: UUID) -> Queue | None:
        """The queue with `queue_id`, or None (kept a few seconds, like the rules)."""
        key = f"queue:{queue_id}"
        if self._cache is not None and (kept := self._cache.get(key)) is not None:
            return kept  # type: ignore[no-any-return]
        found = await self._one(select(queues).where(queues.c.queue_id == queue_id))
        if found is not None and self._cache is not None:
            self._cache.put(key, found)
        return found

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
            insert(queues).values(queue_id=queue.queue_id, **_queue_values(queue))
        )

    async def save(self, queue: Queue) -> None:
        """Write a changed queue back."""
        if self._cache is not None:
            self._cache.clear()
        await self._session.execute(
            update(queues).where(queues.c.queue_id == queue.queue_id).values(**_queue_values(queue))
        )

    async def all(self) -> list[Queue]:
        """Every queue (kept a few seconds)."""
        if self._cache is not None and (kept := self._cache.get("queues")) is not None:
            return list(kept)
        rows = await self._session.execute(select(queues).order_by(queues.c.name))
        found = [_queue(row) for row in rows.mappings()]
        if self._cache is not None:
            self._cache.put("queues", tuple(found))
        return found

    async def note_assigned_many(self, last: Mapping[UUID, UUID]) -> None:
        """Remember who got each queue's last item, with one statement (the queues' rows locked
        in the order of their ids)."""
        if not last:
            return
        ids = sorted(last)
        await self._session.execute(_NOTE_ASSIGNED, {"ids": ids, "agents": [last[i] for i in ids]})

    async def last_assigned_many(self, queue_ids: Collection[UUID]) -> dict[UUID, UUID | None]:
        """Who got each queue's last item."""
        if not queue_ids:
            return {}
        rows = await self._session.execute(_LAST_ASSIGNED, {"ids": list(queue_ids)})
        return {row.queue_id: row.last_assigned_agent for row in rows}

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

    async def get(self, rule_id: UUID) -> StoredRule | None:
        """The rule with `rule_id`, or None."""
        row = (
            (
                await self._session.execute(
                    select(routing_rules).where(routing_rules.c.rule_id == rule_id)
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
        await self._session.execute(
            insert(routing_rules).values(rule_id=stored.rule_id, **_rule_values(stored.rule))
        )

    async def save(self, stored: StoredRule) -> None:
        """Overwrite a rule."""
        if self._cache is not None:
            self._cache.clear()
        await self._session.execute(
            update(routing_rules)
            .where(routing_rules.c.rule_id == stored.rule_id)
            .values(**_rule_values(stored.rule))
        )

    async def delete(self, rule_id: UUID) -> bool:
        """Remove a rule; whether there was one."""
        if self._cache is not None:
            self._cache.clear()
        gone = await self._session.scalar(
            delete(routing_rules)
            .where(routing_rules.c.rule_id == rule_id)
            .returning(routing_rules.c.rule_id)
        )
        return gone is not None


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

    async def last_for_cases(
        self, case_ids: Sequence[UUID], *, for_update: bool = False
    ) -> dict[UUID, QueueItem]:
        """The item each of the cases was placed in last, whatever its status (cases never
        placed are left out); locked in the order of `case_ids` if `for_update`."""
        if not case_ids:
            return {}
        stmt = _LAST_FOR_CASES_LOCKED if for_update else _LAST_FOR_CASES
        rows = await self._session.execute(stmt, {"ids": list(case_ids)})
        return {row["case_id"]: _item(row) for row in rows.mappings()}

    async def waiting_many(
        self, queue_ids: Sequence[UUID], *, limit: int
    ) -> dict[UUID, list[QueueItem]]:
        """Each queue's first `limit` unworked items in its order, locked, skipping those
        held elsewhere (queues with none are left out)."""
        if not queue_ids:
            return {}
        rows = await self._session.execute(_WAITING_MANY, {"ids": list(queue_ids), "limit": limit})
        found: dict[UUID, list[QueueItem]] = {}
        for row in rows.mappings():
            found.setdefault(row["queue_id"], []).append(_item(row))
        return found

    async def add_many(
        self, items: Sequence[QueueItem], *, sla_due: Mapping[UUID, datetime] | None = None
    ) -> None:
        """Insert new queue items, each ordered by its case's deadline in `sla_due`."""
        if not items:
            return
        dues = sla_due or {}
        rows = [_item_row(item) | {"sla_due_at": dues.get(item.case_id)} for item in items]
        await self._session.execute(insert(queue_items), rows)

    async def waiting(self, queue_id: UUID, *, limit: int, lock: bool = True) -> list[QueueItem]:
        """The queue's unworked items in its order; locked, skipping those held elsewhere."""
        stmt = (
            select(queue_items)
            .where(queue_items.c.queue_id == queue_id, queue_items.c.status.in_(_UNWORKED))
            .order_by(*_ORDER)
            .limit(limit)
        )
        if lock:
            stmt = stmt.with_for_update(skip_locked=True)
        rows = (await self._session.execute(stmt)).mappings()
        return [_item(row) for row in rows]

    async def claim(self, item: QueueItem, *, units: int) -> bool:
        """Write an item an agent now works, only if nobody works it in the database."""
        values = _item_row(item)
        values.pop("queue_item_id")
        values.pop("case_id")
        values["units"] = units
        done = await self._session.scalar(
            update(queue_items)
            .where(
                queue_items.c.queue_item_id == item.queue_item_id,
                queue_items.c.worked_by.is_(None),
                queue_items.c.status.in_(_UNWORKED),
            )
            .values(**values)
            .returning(queue_items.c.queue_item_id)
        )
        return done is not None

    async def claim_many(self, claims: Sequence[tuple[QueueItem, int]]) -> set[UUID]:
        """Write that agents now work the items (each with the units it holds), each only if
        nobody works it in the database; the ids of the items written."""
        if not claims:
            return set()
        rows = await self._session.execute(
            _CLAIM,
            {
                "ids": [item.queue_item_id for item, _ in claims],
                "statuses": [item.status.value for item, _ in claims],
                "workers": [item.worked_by for item, _ in claims],
                "since": [item.worked_since for item, _ in claims],
                "units": [units for _, units in claims],
            },
        )
        return set(rows.scalars())

    async def units_held_many(self, queue_item_ids: Collection[UUID]) -> dict[UUID, int]:
        """The units of its worker's capacity each item holds."""
        if not queue_item_ids:
            return {}
        rows = await self._session.execute(_UNITS_HELD, {"ids": list(queue_item_ids)})
        return {row.queue_item_id: row.units for row in rows}

    async def units_held(self, queue_item_id: UUID) -> int:
        """The units of its worker's capacity the item holds."""
        return int(
            await self._session.scalar(
                select(queue_items.c.units).where(queue_items.c.queue_item_id == queue_item_id)
            )
            or 0
        )

    async def set_sla_due(self, case_id: UUID, due_at: datetime | None) -> None:
        """Order the case's active items by its earliest running deadline."""
        await self._session.execute(
            update(queue_items)
            .where(queue_items.c.case_id == case_id, queue_items.c.status != _REMOVED)
            .values(sla_due_at=due_at)
        )

    async def worked_by_agent(
        self, agent_id: UUID, *, limit: int = 50, offset: int = 0
    ) -> tuple[list[dict[str, Any]], int]:
        """The items an agent works (their own queue of work), oldest first."""
        condition = (queue_items.c.worked_by == agent_id) & (
            queue_items.c.status == QueueItemStatus.ASSIGNED.value
        )
        rows = (
            await self._session.execute(
                _view().where(condition).order_by(*_ORDER).limit(limit).offset(offset)
            )
        ).mappings()
        total = await self._session.scalar(
            select(func.count()).select_from(queue_items).where(condition)
        )
        return [_view_row(r) for r in rows], int(total or 0)

    async def stats(self, queue_id: UUID, *, now: datetime) -> dict[str, Any]:
        """The queue's figures: items by status, the oldest waiting, those at SLA risk."""
        t = queue_items.c
        at_risk = exists().where(
            case_kpis.c.case_id == t.case_id, case_kpis.c.state.in_(("nearing", "breached"))
        )
        row = (
            await self._session.execute(
                select(
                    func.count().filter(t.status.in_(_UNWORKED)).label("waiting"),
                    func.count()
                    .filter(t.status == QueueItemStatus.ASSIGNED.value)
                    .label("assigned"),
                    func.min(t.entered_at).filter(t.status.in_(_UNWORKED)).label("oldest"),
                    func.count().filter(at_risk).label("at_risk"),
                ).where(t.queue_id == queue_id, t.status != _REMOVED)
            )
        ).one()
        oldest = row.oldest
        return {
            "waiting": int(row.waiting),
            "assigned": int(row.assigned),
            "oldest_waiting_seconds": (
                0.0 if oldest is None else max(0.0, (now - oldest).total_seconds())
            ),
            "at_sla_risk": int(row.at_risk),
        }

    async def figures(self, *, now: datetime) -> list[dict[str, Any]]:
        """Every queue's figures, by queue name: waiting, assigned, the oldest waiting (in
        seconds), and the items at SLA risk."""
        t = queue_items.c
        at_risk = exists().where(
            case_kpis.c.case_id == t.case_id, case_kpis.c.state.in_(("nearing", "breached"))
        )
        rows = await self._session.execute(
            select(
                queues.c.name,
                func.count(t.queue_item_id).filter(t.status.in_(_UNWORKED)).label("waiting"),
                func.count(t.queue_item_id)
                .filter(t.status == QueueItemStatus.ASSIGNED.value)
                .label("assigned"),
                func.min(t.entered_at).filter(t.status.in_(_UNWORKED)).label("oldest"),
                func.count(t.queue_item_id).filter(at_risk).label("at_risk"),
            )
            .select_from(queues)
            .outerjoin(queue_items, (t.queue_id == queues.c.queue_id) & (t.status != _REMOVED))
            .group_by(queues.c.name)
        )
        return [
            {
                "name": row.name,
                "waiting": int(row.waiting),
                "assigned": int(row.assigned),
                "oldest_waiting_seconds": (
                    0.0 if row.oldest is None else max(0.0, (now - row.oldest).total_seconds())
                ),
                "at_sla_risk": int(row.at_risk),
            }
            for row in rows
        ]

    async def save(self, item: QueueItem) -> None:
        """Write a loaded queue item back."""
        values = _item_row(item)
        values.pop("queue_item_id")
        values.pop("case_id")
        if item.worked_by is None:
            values["units"] = 0  # nobody's capacity is held any more
        await self._session.execute(
            update(queue_items)
            .where(queue_items.c.queue_item_id == item.queue_item_id)
            .values(**values)
        )

    async def save_many(self, items: Sequence[QueueItem]) -> None:
        """Write loaded queue items back, with one statement."""
        if not items:
            return
        rows = []
        for item in items:
            values = _item_row(item)
            values.pop("case_id")
            values["key"] = values.pop("queue_item_id")
            rows.append(values)
        await self._session.execute(_SAVE_ITEM, rows)

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
        """A queue's items in its order (priority, SLA due time, age), with the total.

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
                .order_by(*_ORDER)
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
        # What this transaction learnt of cases, so that a notification need not read it back.
        self._summaries: dict[UUID, tuple[str, str]] = {}

    async def summary(self, case_id: UUID) -> tuple[str, str] | None:
        """The case's number and subject."""
        if (known := self._summaries.get(case_id)) is not None:
            return known
        row = (
            await self._session.execute(
                select(case_facts.c.number, case_facts.c.subject).where(
                    case_facts.c.case_id == case_id
                )
            )
        ).first()
        return None if row is None else (row.number, row.subject)

    async def remember_many(self, cases: Sequence[tuple[CaseFacts, str, datetime]]) -> None:
        """Record newly opened cases (facts, number, opening time) with one statement; a case
        already known keeps what was recorded."""
        if not cases:
            return
        rows = []
        for facts, number, opened_at in cases:
            self._summaries[facts.case_id] = (number, facts.subject)
            rows.append(_facts_row(facts, number=number, opened_at=opened_at))
        await self._session.execute(_REMEMBER, rows)

    async def change_entitlement(
        self, case_id: UUID, *, entitled: bool, not_entitled: str | None
    ) -> None:
        """Record that a known case's entitlement changed."""
        await self._session.execute(
            update(case_facts)
            .where(case_facts.c.case_id == case_id)
            .values(entitled=entitled, not_entitled=not_entitled)
        )

    async def known_of(self, case_ids: Collection[UUID]) -> set[UUID]:
        """Those of the cases whose opening has been applied."""
        if not case_ids:
            return set()
        rows = await self._session.execute(_KNOWN, {"ids": list(case_ids)})
        return set(rows.scalars())

    async def is_known(self, case_id: UUID) -> bool:
        """Whether the case's opening has been applied."""
        return bool(
            await self._session.scalar(select(exists().where(case_facts.c.case_id == case_id)))
        )

    async def accounts_of(
        self, account_ids: Collection[UUID]
    ) -> dict[UUID, tuple[UUID | None, str | None, str | None]]:
        """Each known account's owner, tier and region (unknown accounts are left out)."""
        if not account_ids:
            return {}
        rows = await self._session.execute(_ACCOUNTS, {"ids": list(account_ids)})
        return {row.account_id: (row.owner_id, row.tier, row.region) for row in rows}

    async def account(self, account_id: UUID) -> tuple[UUID | None, str | None, str | None]:
        """The account's owner, tier and region, as far as routing knows them."""
        row = (
            await self._session.execute(
                select(accounts.c.owner_id, accounts.c.tier, accounts.c.region).where(
                    accounts.c.account_id == account_id
                )
            )
        ).first()
        return (None, None, None) if row is None else (row.owner_id, row.tier, row.region)

    async def keep_account(
        self,
        account_id: UUID,
        *,
        owner_id: UUID | None,
        tier: str | None,
        region: str | None,
        version: int,
    ) -> None:
        """Keep the account's card, unless a later version is kept already."""
        values = {"owner_id": owner_id, "tier": tier, "region": region, "version": version}
        await self._session.execute(
            pg_insert(accounts)
            .values(account_id=account_id, **values)
            .on_conflict_do_update(
                index_elements=[accounts.c.account_id],
                set_=values,
                where=accounts.c.version < version,
            )
        )

    async def sla_due(self, case_id: UUID) -> datetime | None:
        """The earliest deadline of the case's KPIs that still count."""
        found: datetime | None = await self._session.scalar(
            select(func.min(case_kpis.c.due_at)).where(
                case_kpis.c.case_id == case_id, case_kpis.c.state.in_(_COUNTING)
            )
        )
        return found

    async def sla_dues(self, case_ids: Collection[UUID]) -> dict[UUID, datetime]:
        """The earliest deadline of each case's KPIs that still count (cases with none are
        left out)."""
        if not case_ids:
            return {}
        rows = await self._session.execute(_SLA_DUES, {"ids": list(case_ids)})
        return {row.case_id: row.due_at for row in rows if row.due_at is not None}

    async def keep_kpi(
        self, kpi_instance_id: UUID, *, case_id: UUID, state: str, due_at: datetime | None
    ) -> None:
        """Keep a KPI's state and deadline; one that ended stays ended."""
        values: dict[str, Any] = {"state": state}
        if due_at is not None:
            values["due_at"] = due_at
        await self._session.execute(
            pg_insert(case_kpis)
            .values(kpi_instance_id=kpi_instance_id, case_id=case_id, due_at=due_at, state=state)
            .on_conflict_do_update(
                index_elements=[case_kpis.c.kpi_instance_id],
                set_=values,
                where=case_kpis.c.state != "done",
            )
        )

    async def park(self, change: CaseChange) -> None:
        """Keep a change to a case whose opening has not arrived."""
        kind, payload = _change_row(change)
        await self._session.execute(
            insert(parked_case_events).values(
                case_id=change.case_id, kind=kind, occurred_at=change.at, payload=payload
            )
        )

    async def take_parked_many(self, case_ids: Collection[UUID]) -> dict[UUID, list[CaseChange]]:
        """The changes parked for each of the cases, in the order they happened, removed from
        the parking (cases with none are left out)."""
        if not case_ids:
            return {}
        rows = (await self._session.execute(_TAKE_PARKED, {"ids": list(case_ids)})).all()
        parked: dict[UUID, list[CaseChange]] = {}
        for row in sorted(rows, key=lambda row: (row.occurred_at, row.parked_id)):
            change = _change_of(row.case_id, row.kind, row.occurred_at, row.payload)
            parked.setdefault(row.case_id, []).append(change)
        return parked


def _queue_fields(row: RowMapping) -> dict[str, Any]:
    return {
        "queue_id": row["queue_id"],
        "name": row["name"],
        "kind": row["kind"],
        "is_default": row["is_default"],
        "strategy": row["strategies"][0] if row["strategies"] else "manual",
        "strategies": list(row["strategies"]),
        "skill_match": row["skill_match"],
        "team_id": row["team_id"],
        "owner_id": row["owner_id"],
        "overflow": {
            "queue_id": row["overflow_queue_id"],
            "after_seconds": row["overflow_after_seconds"],
            "max_length": row["overflow_max_length"],
            "when_unstaffed": row["overflow_when_unstaffed"],
        },
    }


def _queue(row: RowMapping) -> Queue:
    after = row["overflow_after_seconds"]
    return Queue(
        queue_id=row["queue_id"],
        name=row["name"],
        kind=QueueKind(row["kind"]),
        is_default=row["is_default"],
        strategies=tuple(AssignmentStrategy(s) for s in row["strategies"]),
        skill_match=SkillMatch(row["skill_match"]),
        team_id=row["team_id"],
        owner_id=row["owner_id"],
        overflow=Overflow(
            queue_id=row["overflow_queue_id"],
            after=None if after is None else timedelta(seconds=after),
            max_length=row["overflow_max_length"],
            when_unstaffed=row["overflow_when_unstaffed"],
        ),
    )


def _queue_values(queue: Queue) -> dict[str, Any]:
    after = queue.overflow.after
    return {
        "name": queue.name,
        "kind": queue.kind.value,
        "is_default": queue.is_default,
        "strategies": [s.value for s in queue.strategies],
        "skill_match": queue.skill_match.value,
        "team_id": queue.team_id,
        "owner_id": queue.owner_id,
        "overflow_queue_id": queue.overflow.queue_id,
        "overflow_after_seconds": None if after is None else int(after.total_seconds()),
        "overflow_max_length": queue.overflow.max_length,
        "overflow_when_unstaffed": queue.overflow.when_unstaffed,
    }


def _rule_values(rule: RoutingRule) -> dict[str, Any]:
    return {
        "name": rule.name,
        "order": rule.order,
        "queue_id": rule.queue_id,
        "channels": sorted(rule.channels),
        "priorities": sorted(rule.priorities),
        "request_types": sorted(rule.request_types),
        "subject_keywords": sorted(rule.subject_keywords),
        "account_ids": sorted(rule.account_ids),
        "required_skills": sorted(rule.required_skills),
        "entitlement": sorted(rule.entitlement),
        "tiers": sorted(rule.tiers),
        "regions": sorted(rule.regions),
        "parameters": dict(rule.parameters),
        "active": rule.active,
    }


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
            tiers=frozenset(row["tiers"]),
            regions=frozenset(row["regions"]),
            parameters=dict(row["parameters"] or {}),
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
        work_type=row["work_type"],
        priority=row["priority"],
        preferred_agent=row["preferred_agent"],
        last_worked_by=row["last_worked_by"],
        rule_name=row["rule_name"],
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
        "work_type": item.work_type,
        "priority": item.priority,
        "priority_rank": priority_rank(item.priority),
        "preferred_agent": item.preferred_agent,
        "last_worked_by": item.last_worked_by,
        "rule_name": item.rule_name,
    }


def _facts_row(facts: CaseFacts, *, number: str, opened_at: datetime) -> dict[str, Any]:
    return {
        "case_id": facts.case_id,
        "number": number,
        "channel": facts.channel,
        "priority": facts.priority,
        "subject": facts.subject,
        "request_type": facts.request_type,
        "account_id": facts.account_id,
        "opened_at": opened_at,
        "entitled": facts.entitled,
        "not_entitled": facts.not_entitled,
        "parameters": dict(facts.parameters),
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
            queue_items.c.priority.label("priority_item"),
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
        "priority": row["priority_item"],
        "sla_due_at": row["sla_due_at"],
        "preferred_agent": row["preferred_agent"],
        "rule": row["rule_name"],
        "case": case,
    }
