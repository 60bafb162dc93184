"""Cases in PostgreSQL: `SqlCaseRepository` stores the aggregate in rows and reads it back."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from cases.adapters.tables import activities, case_number_seq, cases, interactions
from cases.domain.case import Activity, Case, Customer, Resolution
from cases.domain.values import ActivityKind, CaseStatus, Channel, Priority


class SqlCaseRepository:
    """Loads and saves cases; `save` writes only what changed since load."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self._known_activities: dict[UUID, set[UUID]] = {}
        self._loaded: set[UUID] = set()

    async def next_sequence(self) -> int:
        """The next case-number sequence value."""
        value = await self._session.scalar(select(case_number_seq.next_value()))
        assert value is not None
        return int(value)

    async def get(self, case_id: UUID, *, for_update: bool = False) -> Case | None:
        """The case with `case_id`, or None."""
        stmt = select(cases).where(cases.c.case_id == case_id)
        if for_update:
            stmt = stmt.with_for_update()
        row = (await self._session.execute(stmt)).mappings().first()
        return None if row is None else await self._load(row)

    async def get_by_number(self, number: str) -> Case | None:
        """The case with the readable `number`, or None."""
        row = (
            (await self._session.execute(select(cases).where(cases.c.number == number)))
            .mappings()
            .first()
        )
        return None if row is None else await self._load(row)

    async def case_of_interaction(self, interaction_id: UUID) -> UUID | None:
        """The case an interaction was attached to, if it was."""
        return await self._session.scalar(
            select(interactions.c.case_id).where(interactions.c.interaction_id == interaction_id)
        )

    async def attach_interaction(
        self, *, interaction_id: UUID, case_id: UUID, channel: str, subject: str, at: datetime
    ) -> None:
        """Remember that `interaction_id` belongs to `case_id`."""
        await self._session.execute(
            pg_insert(interactions)
            .values(
                interaction_id=interaction_id,
                case_id=case_id,
                channel=channel,
                subject=subject,
                received_at=at,
            )
            .on_conflict_do_nothing()
        )

    async def add(self, case: Case, *, interaction_id: UUID | None = None) -> None:
        """Insert a new case."""
        await self._session.execute(
            insert(cases).values(**_row(case), interaction_id=interaction_id)
        )
        await self._save_activities(case)
        self._loaded.add(case.case_id)

    async def save(self, case: Case) -> None:
        """Write a loaded case back."""
        values = _row(case)
        values.pop("case_id")
        values.pop("opened_at")
        await self._session.execute(
            update(cases).where(cases.c.case_id == case.case_id).values(**values)
        )
        await self._save_activities(case)

    async def search(
        self,
        *,
        status: str | None = None,
        contact_id: UUID | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[list[dict[str, Any]], int]:
        """Case rows, newest first, with the total count for paging."""
        stmt = select(cases)
        count = select(func.count()).select_from(cases)
        if status is not None:
            stmt = stmt.where(cases.c.status == status)
            count = count.where(cases.c.status == status)
        if contact_id is not None:
            stmt = stmt.where(cases.c.contact_id == contact_id)
            count = count.where(cases.c.contact_id == contact_id)
        rows = (
            await self._session.execute(
                stmt.order_by(cases.c.opened_at.desc(), cases.c.number.desc())
                .limit(limit)
                .offset(offset)
            )
        ).mappings()
        total = await self._session.scalar(count)
        return [dict(r) for r in rows], int(total or 0)

    async def _load(self, row: Any) -> Case:
        act_rows = (
            await self._session.execute(
                select(activities)
                .where(activities.c.case_id == row["case_id"])
                .order_by(activities.c.logged_at, activities.c.activity_id)
            )
        ).mappings()
        acts = [
            Activity(
                activity_id=a["activity_id"],
                kind=ActivityKind(a["kind"]),
                subject=a["subject"],
                duration_minutes=a["duration_minutes"],
                billable=a["billable"],
                performed_by=a["performed_by"],
                logged_at=a["logged_at"],
            )
            for a in act_rows
        ]
        self._known_activities[row["case_id"]] = {a.activity_id for a in acts}
        resolution = row["resolution"]
        return Case(
            case_id=row["case_id"],
            number=row["number"],
            channel=Channel(row["channel"]),
            customer=Customer(contact_id=row["contact_id"], account_id=row["account_id"]),
            subject=row["subject"],
            description=row["description"],
            request_type=row["request_type"],
            parameters=dict(row["parameters"]),
            priority=Priority(row["priority"]),
            status=CaseStatus(row["status"]),
            opened_at=row["opened_at"],
            activities=acts,
            resolution=None
            if resolution is None
            else Resolution(
                resolution_type=resolution["resolution_type"],
                summary=resolution["summary"],
                billable_minutes=resolution["billable_minutes"],
                total_minutes=resolution["total_minutes"],
                resolved_by=UUID(resolution["resolved_by"]) if resolution["resolved_by"] else None,
                resolved_at=datetime.fromisoformat(resolution["resolved_at"]),
            ),
            cancellation_reason=row["cancellation_reason"],
            reopen_count=row["reopen_count"],
            escalation_level=row["escalation_level"],
            entitlement_id=row["entitlement_id"],
        )

    async def _save_activities(self, case: Case) -> None:
        known = self._known_activities.setdefault(case.case_id, set())
        new = [a for a in case.activities if a.activity_id not in known]
        if new:
            await self._session.execute(
                insert(activities),
                [
                    {
                        "activity_id": a.activity_id,
                        "case_id": case.case_id,
                        "kind": a.kind.value,
                        "subject": a.subject,
                        "duration_minutes": a.duration_minutes,
                        "billable": a.billable,
                        "performed_by": a.performed_by,
                        "logged_at": a.logged_at,
                    }
                    for a in new
                ],
            )
            known.update(a.activity_id for a in new)


def _row(case: Case) -> dict[str, Any]:
    r = case.resolution
    return {
        "case_id": case.case_id,
        "number": case.number,
        "channel": case.channel.value,
        "contact_id": case.customer.contact_id,
        "account_id": case.customer.account_id,
        "subject": case.subject,
        "description": case.description,
        "request_type": case.request_type,
        "parameters": dict(case.parameters),
        "priority": case.priority.value,
        "status": case.status.value,
        "opened_at": case.opened_at,
        "updated_at": func.now(),
        "resolution": None
        if r is None
        else {
            "resolution_type": r.resolution_type,
            "summary": r.summary,
            "billable_minutes": r.billable_minutes,
            "total_minutes": r.total_minutes,
            "resolved_by": str(r.resolved_by) if r.resolved_by else None,
            "resolved_at": r.resolved_at.isoformat(),
        },
        "cancellation_reason": case.cancellation_reason,
        "reopen_count": case.reopen_count,
        "escalation_level": case.escalation_level,
        "entitlement_id": case.entitlement_id,
    }
