"""Cases in PostgreSQL: `SqlCaseRepository` stores the aggregate in rows and reads it back.

The projected columns of a case (queue, assignee, SLA, overdue) are written by the
projection consumers; this repository reads them for the API and never writes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import CompoundSelect, Select, and_, func, insert, or_, select, union, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from cases.adapters.tables import (
    activities,
    case_decisions,
    case_number_seq,
    cases,
    escalations,
    interactions,
)
from cases.domain.case import (
    Activity,
    Case,
    Customer,
    Escalation,
    RecordedDecision,
    Resolution,
)
from cases.domain.values import (
    ActivityKind,
    Attachment,
    CaseStatus,
    Channel,
    DecisionOutcome,
    EscalationTarget,
    Priority,
)

SUMMARY_COLUMNS = (
    cases.c.case_id,
    cases.c.number,
    cases.c.channel,
    cases.c.contact_id,
    cases.c.account_id,
    cases.c.subject,
    cases.c.request_type,
    cases.c.priority,
    cases.c.status,
    cases.c.opened_at,
    cases.c.first_contact,
    cases.c.queue_id,
    cases.c.queue_name,
    cases.c.assignee_id,
    cases.c.overdue,
    cases.c.version,
)
"""The columns a case list shows."""


@dataclass(frozen=True, kw_only=True)
class CaseFilter:
    """Which cases a search returns; a field left None does not filter."""

    status: str | None = None
    account_id: UUID | None = None
    contact_id: UUID | None = None
    assignee_id: UUID | None = None
    queue_id: UUID | None = None
    request_type: str | None = None
    channel: str | None = None
    priority: str | None = None
    overdue: bool | None = None
    first_contact: bool | None = None
    opened_from: datetime | None = None
    opened_to: datetime | None = None
    text: str | None = None
    interaction_id: UUID | None = None
    """The case an interaction opened, or was added to as a follow-up."""


class SqlCaseRepository:
    """Loads and saves cases; `save` writes only what changed since load."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self._known_activities: dict[UUID, set[UUID]] = {}
        self._known_decisions: dict[UUID, set[UUID]] = {}
        self._known_escalations: dict[UUID, set[UUID]] = {}

    async def next_sequence(self) -> int:
        """The next case-number sequence value."""
        value = await self._session.scalar(select(case_number_seq.next_value()))
        assert value is not None
        return int(value)

    async def get(self, case_id: UUID, *, for_update: bool = False) -> Case | None:
        """The case with `case_id`, or None."""
        return await self._get(cases.c.case_id == case_id, for_update=for_update)

    async def get_by_number(self, number: str, *, for_update: bool = False) -> Case | None:
        """The case with the readable `number`, or None."""
        return await self._get(cases.c.number == number, for_update=for_update)

    async def _get(self, condition: Any, *, for_update: bool) -> Case | None:
        stmt = select(cases).where(condition)
        if for_update:
            # NO KEY UPDATE: the case's activities and decisions (which reference it) may
            # still be added by others while this change is under way.
            stmt = stmt.with_for_update(key_share=True)
        row = (await self._session.execute(stmt)).mappings().first()
        return None if row is None else await self._load(row)

    async def projection(self, case_id: UUID) -> dict[str, Any] | None:
        """What the case's projections learnt from routing and SLA: queue, assignee, SLA."""
        c = cases.c
        row = (
            (
                await self._session.execute(
                    select(c.queue_id, c.queue_name, c.assignee_id, c.sla, c.overdue).where(
                        c.case_id == case_id
                    )
                )
            )
            .mappings()
            .first()
        )
        return None if row is None else dict(row)

    async def assignee(self, case_id: UUID) -> UUID | None:
        """The agent routing last assigned the case to, as the projection learnt it."""
        return await self._session.scalar(
            select(cases.c.assignee_id).where(cases.c.case_id == case_id)
        )

    async def cases_of_call(
        self, call_id: str, *, agent_id: UUID | None, start: datetime, end: datetime
    ) -> list[UUID]:
        """The cases worked during a call: opened for it, or opened or worked by its agent
        between `start` and `end`."""
        linked: Select[Any] | CompoundSelect[Any] = select(cases.c.case_id).where(
            cases.c.call_id == call_id
        )
        if agent_id is not None:
            linked = union(
                select(cases.c.case_id).where(cases.c.call_id == call_id),
                select(cases.c.case_id).where(
                    cases.c.opened_by == agent_id, cases.c.opened_at.between(start, end)
                ),
                select(activities.c.case_id).where(
                    activities.c.performed_by == agent_id,
                    activities.c.logged_at.between(start, end),
                ),
            )
        found = (await self._session.execute(linked)).scalars().all()
        return sorted(set(found), key=str)

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
            insert(cases).values(**_row(case), version=case.version, interaction_id=interaction_id)
        )
        await self._save_parts(case)

    async def save(self, case: Case) -> None:
        """Write a loaded case back, one version up."""
        values = _row(case)
        values.pop("case_id")
        values.pop("opened_at")
        version = await self._session.scalar(
            update(cases)
            .where(cases.c.case_id == case.case_id)
            .values(**values, version=cases.c.version + 1)
            .returning(cases.c.version)
        )
        if version is not None:
            case.version = int(version)
        await self._save_parts(case)

    async def search(
        self,
        where: CaseFilter,
        *,
        newest_first: bool = True,
        after: tuple[datetime, UUID] | None = None,
        limit: int = 50,
    ) -> tuple[list[dict[str, Any]], int, bool]:
        """Case rows in opening order (newest first unless not), starting after the key
        `after` (opened_at, case_id); the total that match, and whether more follow."""
        conditions = _conditions(where)
        key = (cases.c.opened_at, cases.c.case_id)
        stmt: Select[Any] = select(*SUMMARY_COLUMNS).where(*conditions)
        if after is not None:
            at, case_id = after
            if newest_first:
                stmt = stmt.where(or_(key[0] < at, and_(key[0] == at, key[1] < case_id)))
            else:
                stmt = stmt.where(or_(key[0] > at, and_(key[0] == at, key[1] > case_id)))
        order = [k.desc() for k in key] if newest_first else [k.asc() for k in key]
        rows = [
            dict(r)
            for r in (await self._session.execute(stmt.order_by(*order).limit(limit + 1)))
            .mappings()
            .all()
        ]
        total = await self._session.scalar(
            select(func.count()).select_from(cases).where(*conditions)
        )
        return rows[:limit], int(total or 0), len(rows) > limit

    async def _load(self, row: Any) -> Case:
        case_id = row["case_id"]
        act_rows = (
            await self._session.execute(
                select(activities)
                .where(activities.c.case_id == case_id)
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
                performed_at=a["performed_at"],
                description=a["description"],
                to_customer=a["to_customer"],
                attachments=_attachments(a["attachments"]),
                interaction_id=a["interaction_id"],
                contact_id=a["contact_id"],
                from_other_contact=a["from_other_contact"],
                auto_reply=a["auto_reply"],
            )
            for a in act_rows
        ]
        decision_rows = (
            await self._session.execute(
                select(case_decisions)
                .where(case_decisions.c.case_id == case_id)
                .order_by(case_decisions.c.recorded_at, case_decisions.c.decision_id)
            )
        ).mappings()
        decided = [
            RecordedDecision(
                decision_id=d["decision_id"],
                code=d["code"],
                outcome=DecisionOutcome(d["outcome"]),
                text=d["text"],
                recorded_by=d["recorded_by"],
                recorded_at=d["recorded_at"],
            )
            for d in decision_rows
        ]
        escalation_rows = (
            await self._session.execute(
                select(escalations)
                .where(escalations.c.case_id == case_id)
                .order_by(escalations.c.level, escalations.c.escalated_at)
            )
        ).mappings()
        raised = [
            Escalation(
                escalation_id=e["escalation_id"],
                level=e["level"],
                target=EscalationTarget(e["target"]),
                manager_id=e["manager_id"],
                claim=e["claim"],
                escalated_by=e["escalated_by"],
                escalated_at=e["escalated_at"],
            )
            for e in escalation_rows
        ]
        self._known_activities[case_id] = {a.activity_id for a in acts}
        self._known_decisions[case_id] = {d.decision_id for d in decided}
        self._known_escalations[case_id] = {e.escalation_id for e in raised}
        return Case(
            case_id=case_id,
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
            resolution=_resolution(row["resolution"]),
            cancellation_reason=row["cancellation_reason"],
            reopen_count=row["reopen_count"],
            escalation_level=row["escalation_level"],
            entitlement_id=row["entitlement_id"],
            contract_id=row["contract_id"],
            not_entitled=row["not_entitled"],
            entitlement_rule=row["entitlement_rule"],
            version=row["version"],
            first_contact=row["first_contact"],
            language=row["language"],
            accepted_by=row["accepted_by"],
            opened_by=row["opened_by"],
            call_id=row["call_id"],
            resolved_at=row["resolved_at"],
            closed_at=row["closed_at"],
            reopened_at=row["reopened_at"],
            decisions=decided,
            escalations=raised,
            attachments=_attachments(row["attachments"]),
            related_case_id=row["related_case_id"],
            related_number=row["related_number"],
        )

    async def _save_parts(self, case: Case) -> None:
        known = self._known_activities.setdefault(case.case_id, set())
        new_activities = [a for a in case.activities if a.activity_id not in known]
        if new_activities:
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
                        "performed_at": a.performed_at,
                        "description": a.description,
                        "to_customer": a.to_customer,
                        "attachments": _attachment_documents(a.attachments),
                        "interaction_id": a.interaction_id,
                        "contact_id": a.contact_id,
                        "from_other_contact": a.from_other_contact,
                        "auto_reply": a.auto_reply,
                    }
                    for a in new_activities
                ],
            )
            known.update(a.activity_id for a in new_activities)
        decided = self._known_decisions.setdefault(case.case_id, set())
        new_decisions = [d for d in case.decisions if d.decision_id not in decided]
        if new_decisions:
            await self._session.execute(
                insert(case_decisions),
                [
                    {
                        "decision_id": d.decision_id,
                        "case_id": case.case_id,
                        "code": d.code,
                        "outcome": d.outcome.value,
                        "text": d.text,
                        "recorded_by": d.recorded_by,
                        "recorded_at": d.recorded_at,
                    }
                    for d in new_decisions
                ],
            )
            decided.update(d.decision_id for d in new_decisions)
        raised = self._known_escalations.setdefault(case.case_id, set())
        new_escalations = [e for e in case.escalations if e.escalation_id not in raised]
        if new_escalations:
            await self._session.execute(
                insert(escalations),
                [
                    {
                        "escalation_id": e.escalation_id,
                        "case_id": case.case_id,
                        "level": e.level,
                        "target": e.target.value,
                        "manager_id": e.manager_id,
                        "claim": e.claim,
                        "escalated_by": e.escalated_by,
                        "escalated_at": e.escalated_at,
                    }
                    for e in new_escalations
                ],
            )
            raised.update(e.escalation_id for e in new_escalations)


def _conditions(where: CaseFilter) -> list[Any]:
    c = cases.c
    equal: list[tuple[Any, object]] = [
        (c.status, where.status),
        (c.account_id, where.account_id),
        (c.contact_id, where.contact_id),
        (c.assignee_id, where.assignee_id),
        (c.queue_id, where.queue_id),
        (c.request_type, where.request_type),
        (c.channel, where.channel),
        (c.priority, where.priority),
        (c.overdue, where.overdue),
        (c.first_contact, where.first_contact),
    ]
    conditions: list[Any] = [column == value for column, value in equal if value is not None]
    if where.opened_from is not None:
        conditions.append(c.opened_at >= where.opened_from)
    if where.opened_to is not None:
        conditions.append(c.opened_at < where.opened_to)
    if where.interaction_id is not None:
        conditions.append(
            c.case_id.in_(
                select(interactions.c.case_id).where(
                    interactions.c.interaction_id == where.interaction_id
                )
            )
        )
    if where.text:
        pattern = "%" + _escape_like(where.text) + "%"
        conditions.append(
            or_(c.subject.ilike(pattern, escape="\\"), c.description.ilike(pattern, escape="\\"))
        )
    return conditions


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _resolution(document: Any) -> Resolution | None:
    if document is None:
        return None
    return Resolution(
        resolution_type=document["resolution_type"],
        summary=document["summary"],
        billable_minutes=document["billable_minutes"],
        total_minutes=document["total_minutes"],
        resolved_by=UUID(document["resolved_by"]) if document["resolved_by"] else None,
        resolved_at=datetime.fromisoformat(document["resolved_at"]),
        logged_billable_minutes=document.get("logged_billable_minutes"),
        correction_reason=document.get("correction_reason"),
    )


def _attachments(documents: Any) -> tuple[Attachment, ...]:
    return tuple(
        Attachment(
            attachment_id=UUID(d["attachment_id"]),
            filename=d["filename"],
            content_type=d["content_type"],
            size=d["size"],
            sha256=d["sha256"],
        )
        for d in documents or ()
    )


def _attachment_documents(attachments: tuple[Attachment, ...]) -> list[dict[str, Any]]:
    return [
        {
            "attachment_id": str(a.attachment_id),
            "filename": a.filename,
            "content_type": a.content_type,
            "size": a.size,
            "sha256": a.sha256,
        }
        for a in attachments
    ]


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
            "logged_billable_minutes": r.logged_billable_minutes,
            "correction_reason": r.correction_reason,
        },
        "cancellation_reason": case.cancellation_reason,
        "reopen_count": case.reopen_count,
        "escalation_level": case.escalation_level,
        "entitlement_id": case.entitlement_id,
        "contract_id": case.contract_id,
        "not_entitled": case.not_entitled,
        "entitlement_rule": case.entitlement_rule,
        "first_contact": case.first_contact,
        "language": case.language,
        "accepted_by": case.accepted_by,
        "opened_by": case.opened_by,
        "call_id": case.call_id,
        "resolved_at": case.resolved_at,
        "closed_at": case.closed_at,
        "reopened_at": case.reopened_at,
        "attachments": _attachment_documents(case.attachments),
        "related_case_id": case.related_case_id,
        "related_number": case.related_number,
        "resolution_code": None if r is None else r.resolution_type,
        # The time totals, kept with every change for reports: what the case bills (the
        # resolution's figure once resolved), all minutes, and the minutes on the phone.
        "billable_minutes": case.billed_minutes,
        "total_minutes": case.total_minutes,
        "call_minutes": case.call_minutes,
    }
