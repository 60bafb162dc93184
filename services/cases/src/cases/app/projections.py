"""What cases learns from routing and SLA events: queue, assignee, SLA state and overdue.

Cases never calls routing or sla; it keeps its own copy of the few facts it shows and
reports on, built from their events (`routing.queue-item.v1`, `sla.kpi.v1`).

The copy is order-tolerant. Each fact keeps the `occurred_at` of the event that set it (the
queue, the assignee, each KPI), and an event older than that is not applied, so a replay, a
redelivery or events of one case arriving out of order across topics never move the copy
backwards. Two events of the same moment are settled by what they mean, not by arrival: a
case leaving its queue wins over a move between queues, and a KPI's end (met or cancelled)
wins over its breach, which wins over its running states.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from types import TracebackType
from typing import Protocol, Self
from uuid import UUID

import structlog

log = structlog.get_logger(__name__)


class KpiStatus(StrEnum):
    """Where a KPI of the case stands, in the SLA service's words."""

    IN_PROGRESS = "in_progress"
    PAUSED = "paused"
    NEARING_BREACH = "nearing_breach"
    BREACHED = "breached"
    SUCCEEDED = "succeeded"
    CANCELLED = "cancelled"

    @property
    def is_ended(self) -> bool:
        """Whether the KPI no longer waits: it was met or cancelled."""
        return self in (KpiStatus.SUCCEEDED, KpiStatus.CANCELLED)

    @property
    def rank(self) -> int:
        """Which of two statuses of the same moment stands: the later in a KPI's life."""
        if self.is_ended:
            return 2
        return 1 if self is KpiStatus.BREACHED else 0


@dataclass(frozen=True, kw_only=True)
class KpiState:
    """What the case knows of one KPI: its status, deadline, whether it breached, and when
    it learnt that (`at`, the `occurred_at` of the last event applied)."""

    status: KpiStatus
    due_at: datetime | None
    breached: bool
    at: datetime
    instance_id: UUID | None = None


@dataclass(frozen=True, kw_only=True)
class RoutingState:
    """What the case knows of its place in routing, with when each part was learnt."""

    queue_id: UUID | None = None
    queue_name: str | None = None
    queue_at: datetime | None = None
    assignee_id: UUID | None = None
    assignee_at: datetime | None = None
    # The names of the queues this case has been placed in, by queue id.
    queue_names: Mapping[UUID, str] = field(default_factory=dict)

    @property
    def dequeued(self) -> bool:
        """Whether the last queue fact known is that the case left its queue."""
        return self.queue_id is None and self.queue_at is not None


@dataclass(frozen=True, kw_only=True)
class CaseProjection:
    """The routing and SLA facts a case keeps."""

    routing: RoutingState = field(default_factory=RoutingState)
    kpis: Mapping[str, KpiState] = field(default_factory=dict)

    @property
    def overdue(self) -> bool:
        """Whether the case is overdue: at least one of its KPIs breached its deadline (a
        breach event was seen, or it was met at or after its deadline) and that KPI is
        neither met (`succeeded`) nor cancelled since. A KPI met late is not overdue any
        more; a deadline passed without the SLA service having said so yet does not count."""
        return any(k.breached and not k.status.is_ended for k in self.kpis.values())


# -- commands: what routing and sla said, in the cases service's words ------------------------


@dataclass(frozen=True, kw_only=True)
class RecordQueued:
    """Routing placed the case in a queue."""

    case_id: UUID
    queue_id: UUID
    queue_name: str
    at: datetime


@dataclass(frozen=True, kw_only=True)
class RecordAssigned:
    """Routing made an agent responsible for the case."""

    case_id: UUID
    agent_id: UUID
    at: datetime


@dataclass(frozen=True, kw_only=True)
class RecordReleased:
    """The agent gave the case back to its queue."""

    case_id: UUID
    agent_id: UUID
    at: datetime


@dataclass(frozen=True, kw_only=True)
class RecordTransferred:
    """Routing moved the case to another queue."""

    case_id: UUID
    from_queue_id: UUID
    to_queue_id: UUID
    at: datetime


@dataclass(frozen=True, kw_only=True)
class RecordDequeued:
    """The case left its queue for good."""

    case_id: UUID
    queue_id: UUID
    at: datetime


RoutingChange = RecordQueued | RecordAssigned | RecordReleased | RecordTransferred | RecordDequeued


@dataclass(frozen=True, kw_only=True)
class RecordKpiChange:
    """The SLA service reported a change of one KPI of the case.

    `due_at` is the deadline the event carries; `keeps_due_at` says the event carries none
    and the one known stays (a cancellation). `breached` is True when the event itself says
    the deadline passed (a breach, or the KPI met at or after its deadline).
    """

    case_id: UUID
    kpi: str
    instance_id: UUID
    status: KpiStatus
    at: datetime
    due_at: datetime | None = None
    keeps_due_at: bool = False
    breached: bool = False


# -- the rules, pure ---------------------------------------------------------------------------


def _newer(at: datetime, known: datetime | None) -> bool:
    return known is None or at > known


def apply_routing(
    state: RoutingState, change: RoutingChange, *, queue_name: str | None = None
) -> RoutingState:
    """The routing facts after `change`; unchanged when `change` is older than what they hold.

    `queue_name` is the last known name of the queue a transfer leads to, if any is known.
    """
    match change:
        case RecordQueued():
            names = {**state.queue_names, change.queue_id: change.queue_name}
            if _newer(change.at, state.queue_at) or (
                change.at == state.queue_at and not state.dequeued
            ):
                return replace(
                    state,
                    queue_id=change.queue_id,
                    queue_name=change.queue_name,
                    queue_at=change.at,
                    queue_names=names,
                )
            # Older, but it still names a queue: the one the case is in, maybe.
            name = change.queue_name if state.queue_id == change.queue_id else state.queue_name
            return replace(state, queue_name=name, queue_names=names)
        case RecordTransferred():
            if _newer(change.at, state.queue_at) or (
                change.at == state.queue_at and not state.dequeued
            ):
                return replace(
                    state, queue_id=change.to_queue_id, queue_name=queue_name, queue_at=change.at
                )
            return state
        case RecordDequeued():
            if change.at == state.queue_at or _newer(change.at, state.queue_at):
                return replace(state, queue_id=None, queue_name=None, queue_at=change.at)
            return state
        case RecordAssigned():
            if change.at == state.assignee_at or _newer(change.at, state.assignee_at):
                return replace(state, assignee_id=change.agent_id, assignee_at=change.at)
            return state
        case RecordReleased():
            if change.at == state.assignee_at or _newer(change.at, state.assignee_at):
                return replace(state, assignee_id=None, assignee_at=change.at)
            return state


def apply_kpi(known: KpiState | None, change: RecordKpiChange) -> KpiState:
    """The KPI's state after `change`.

    The newer event sets the status and deadline (of two of the same moment, the one later
    in a KPI's life). A breach is a fact that stays: an older event of the same KPI instance
    saying it breached still marks it breached, whatever arrived before it.
    """
    if known is None:
        return KpiState(
            status=change.status,
            due_at=None if change.keeps_due_at else change.due_at,
            breached=change.breached,
            at=change.at,
            instance_id=change.instance_id,
        )
    same_instance = known.instance_id in (None, change.instance_id)
    newer = change.at > known.at or (
        change.at == known.at and change.status.rank >= known.status.rank
    )
    if not newer:
        if same_instance and change.breached and not known.breached:
            return replace(known, breached=True)
        return known
    return KpiState(
        status=change.status,
        due_at=known.due_at if change.keeps_due_at and same_instance else change.due_at,
        # A new instance of the KPI (the case was reopened, say) starts with a clean slate.
        breached=change.breached or (same_instance and known.breached),
        at=change.at,
        instance_id=change.instance_id,
    )


# -- ports and use cases -----------------------------------------------------------------------


class CaseProjections(Protocol):
    """Where the routing and SLA facts of cases are kept."""

    async def get(self, case_id: UUID) -> CaseProjection | None:
        """The facts of a case, locked until the transaction ends; None for an unknown case."""
        ...

    async def save(self, case_id: UUID, projection: CaseProjection) -> None: ...

    async def queue_name(self, queue_id: UUID) -> str | None:
        """The last name any case has seen for `queue_id`, if one has."""
        ...


class ProjectionsUnitOfWork(Protocol):
    """One transaction over the projected facts of cases."""

    @property
    def projections(self) -> CaseProjections: ...

    async def __aenter__(self) -> Self: ...
    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...
    async def commit(self) -> None: ...


async def project_routing(change: RoutingChange, *, uow: ProjectionsUnitOfWork) -> bool:
    """Keep what routing said about a case's queue and assignee; False if the case is unknown."""
    async with uow:
        projection = await uow.projections.get(change.case_id)
        if projection is None:
            # Cases published the opening, so this should not happen; nothing to keep it on.
            log.debug("projection.unknown_case", case_id=str(change.case_id))
            return False
        state = projection.routing
        name: str | None = None
        if isinstance(change, RecordTransferred):
            name = state.queue_names.get(change.to_queue_id)
            if name is None:
                name = await uow.projections.queue_name(change.to_queue_id)
        routing = apply_routing(state, change, queue_name=name)
        if routing != state:
            await uow.projections.save(change.case_id, replace(projection, routing=routing))
            await uow.commit()
        return True


async def project_kpi(change: RecordKpiChange, *, uow: ProjectionsUnitOfWork) -> bool:
    """Keep what the SLA service said about a KPI of a case; False if the case is unknown."""
    async with uow:
        projection = await uow.projections.get(change.case_id)
        if projection is None:
            log.debug("projection.unknown_case", case_id=str(change.case_id))
            return False
        known = projection.kpis.get(change.kpi)
        kpi = apply_kpi(known, change)
        if kpi != known:
            kpis = {**projection.kpis, change.kpi: kpi}
            await uow.projections.save(change.case_id, replace(projection, kpis=kpis))
            await uow.commit()
        return True
