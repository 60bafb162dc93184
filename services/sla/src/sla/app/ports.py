"""What the SLA use cases need from the outside world, and the records they keep there."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any, Protocol, Self
from uuid import UUID

from sla.app.commands import CaseChange
from sla.domain import Calendar, KpiEscalated, KpiEvent, KpiInstance, SlaPolicy


@dataclass(frozen=True, kw_only=True)
class CaseSla:
    """A case SLA has seen open: the policy and calendar its KPIs are measured on, both None
    when no policy applied to it."""

    case_id: UUID
    policy_id: UUID | None
    calendar_id: UUID | None
    opened_at: datetime
    number: str | None = None
    priority: str | None = None
    channel: str | None = None
    request_type: str | None = None
    account_id: UUID | None = None
    contract_id: UUID | None = None
    sla_policy_id: UUID | None = None
    """The policy the case's contract names, if any."""
    contract_calendar_id: UUID | None = None


@dataclass(frozen=True, kw_only=True)
class NamedCalendar:
    """A business-hours calendar as it is kept and named."""

    calendar_id: UUID
    name: str
    calendar: Calendar


@dataclass(frozen=True, kw_only=True)
class KpiCompliance:
    """How often one KPI was met in time and how often it was breached, over a period."""

    kpi: str
    met: int
    breached: int


COMPLIANCE_GROUPS = ("policy", "kpi", "priority", "account", "agent", "queue")
"""What the compliance report may be grouped by: the policy, the KPI, the case's priority, its
account, the agent who works it, the queue it was last placed in."""


@dataclass(frozen=True)
class ComplianceRow:
    """One group of the compliance report over a period: its KPIs met in time, breached, and
    still in progress, and how much of their targets the met ones used (median and 90th
    percentile of consumed / target; None when none was met)."""

    group: dict[str, str | None]
    met: int
    breached: int
    in_progress: int
    median_share: float | None
    p90_share: float | None


class CaseSlaRepository(Protocol):
    """Which cases SLA has seen open, and the changes that came before their opening."""

    async def get(self, case_id: UUID) -> CaseSla | None: ...
    async def add(self, sla: CaseSla) -> None: ...
    async def park(self, change: CaseChange) -> None: ...
    async def take_parked(self, case_id: UUID) -> list[CaseChange]: ...
    async def save(self, sla: CaseSla) -> None: ...
    async def set_assignee(self, case_id: UUID, agent_id: UUID | None) -> None: ...
    async def set_queue(self, case_id: UUID, queue_id: UUID) -> None: ...
    async def queue_of(self, case_id: UUID) -> UUID | None: ...
    async def placements(
        self, case_ids: Collection[UUID]
    ) -> dict[UUID, tuple[UUID | None, UUID | None]]:
        """Each case's assignee and the queue it was last placed in, where routing said."""
        ...

    async def get_many(self, case_ids: Collection[UUID]) -> dict[UUID, CaseSla]:
        """The SLA records of those of the cases that have opened here."""
        ...

    async def assignees(self, case_ids: Collection[UUID]) -> dict[UUID, UUID]:
        """Who works each of the cases now (cases nobody works are left out)."""
        ...

    async def people(
        self, agent_ids: Collection[UUID]
    ) -> dict[UUID, tuple[str | None, UUID | None]]:
        """Each agent's name and manager, as the agent directory said (agents not heard of
        are left out)."""
        ...

    async def keep_agent(
        self, agent_id: UUID, *, name: str, manager_id: UUID | None, version: int
    ) -> None: ...
    async def log(self, case_id: UUID) -> list[dict[str, Any]]:
        """Every KPI state change of the case, oldest first."""
        ...


class KpiRepository(Protocol):
    """Where KPI instances are kept."""

    async def of_case(self, case_id: UUID, *, for_update: bool = False) -> list[KpiInstance]: ...
    async def add(self, instance: KpiInstance) -> None: ...
    async def save(self, instance: KpiInstance) -> None: ...
    async def save_many(self, instances: Sequence[KpiInstance]) -> None: ...
    async def claim_due(self, now: datetime, *, limit: int) -> list[KpiInstance]: ...
    async def next_check(self) -> datetime | None:
        """When the timer next has something to fire (None: nothing is pending)."""
        ...

    async def compliance(self, *, since: datetime, until: datetime) -> list[KpiCompliance]: ...
    async def compliance_rows(
        self, *, since: datetime, until: datetime, group_by: Sequence[str]
    ) -> list[ComplianceRow]:
        """The compliance report grouped by `group_by` (names of `COMPLIANCE_GROUPS`)."""
        ...


class PolicyRepository(Protocol):
    """Where SLA policies are kept."""

    async def list(self) -> list[SlaPolicy]: ...
    async def get(self, policy_id: UUID) -> SlaPolicy | None: ...
    async def find_by_name(self, name: str) -> SlaPolicy | None: ...
    async def next_position(self) -> int: ...
    async def add(self, policy: SlaPolicy, *, position: int) -> None: ...
    async def save(self, policy: SlaPolicy) -> None: ...
    async def retire(self, policy_id: UUID, *, at: datetime) -> None: ...


class AccountRepository(Protocol):
    """What SLA knows of accounts (tier and region), from intake's customer card."""

    async def keep(
        self, account_id: UUID, *, tier: str | None, region: str | None, version: int
    ) -> None: ...
    async def tier_and_region(self, account_id: UUID) -> tuple[str | None, str | None]: ...


class QueueManagerRepository(Protocol):
    """The manager configured for each queue: whom a breach goes to when the directory names
    nobody, and a ladder's "queue owner"."""

    async def get(self, queue_id: UUID) -> UUID | None: ...
    async def put(self, queue_id: UUID, manager_id: UUID) -> None: ...
    async def delete(self, queue_id: UUID) -> bool:
        """Forget the queue's manager; whether it had one."""
        ...

    async def all(self) -> dict[UUID, UUID]: ...
    async def of_queues(self, queue_ids: Collection[UUID]) -> dict[UUID, UUID]:
        """The managers of those of the queues that have one."""
        ...


class CalendarRepository(Protocol):
    """Where business-hours calendars are kept."""

    async def get(self, calendar_id: UUID) -> NamedCalendar | None: ...
    async def get_by_name(self, name: str) -> NamedCalendar | None: ...
    async def list(self) -> list[NamedCalendar]: ...
    async def add(self, calendar: NamedCalendar) -> None: ...
    async def save(self, calendar: NamedCalendar) -> None: ...


class SlaUnitOfWork(Protocol):
    """One transaction over SLA state and the KPI events its changes imply."""

    @property
    def cases(self) -> CaseSlaRepository: ...
    @property
    def kpis(self) -> KpiRepository: ...
    @property
    def policies(self) -> PolicyRepository: ...
    @property
    def calendars(self) -> CalendarRepository: ...
    @property
    def accounts(self) -> AccountRepository: ...
    @property
    def queue_managers(self) -> QueueManagerRepository: ...

    async def __aenter__(self) -> Self: ...
    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...
    def emit(
        self,
        events: Iterable[KpiEvent],
        *,
        calendar_id: UUID | None = None,
        due_at: datetime | None = None,
    ) -> None: ...
    def escalate(
        self,
        step: KpiEscalated,
        *,
        escalated_to: UUID | None,
        assignee_id: UUID | None,
        queue_id: UUID | None,
        reason: str,
    ) -> None:
        """Ask the cases service to raise the case a level, to `escalated_to`, when this
        commits."""
        ...

    def notify(
        self,
        *,
        recipient: UUID,
        template: str,
        case_id: UUID,
        at: datetime,
        parameters: dict[str, str],
    ) -> None:
        """Ask intake to tell an agent something, when this commits."""
        ...

    async def commit(self) -> None: ...
