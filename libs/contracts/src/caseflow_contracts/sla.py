"""Events owned by sla, published on ``sla.kpi.v1`` keyed by ``case_id``.

Every event is about one KPI instance: one KPI (``first_response``, ``resolution``, ...) of
one case, measured on the business-hours calendar of its SLA policy.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal
from uuid import UUID

from pydantic import AwareDatetime, Field, StringConstraints

from caseflow_contracts.base import Event

KpiName = Annotated[str, StringConstraints(min_length=1, max_length=100)]
"""The KPI measured, e.g. ``first_response`` or ``resolution``."""


class KpiEventBase(Event):
    """Base of every event about one KPI instance of a case."""

    key_field: ClassVar[str] = "case_id"

    kpi_instance_id: UUID
    case_id: UUID
    kpi: KpiName


class KpiStarted(KpiEventBase):
    """A KPI started counting for a case."""

    type: Literal["kpi.started"] = "kpi.started"
    policy_id: UUID
    calendar_id: UUID
    started_at: AwareDatetime
    due_at: AwareDatetime
    warn_at: AwareDatetime | None = None


class KpiPaused(KpiEventBase):
    """A KPI stopped counting while the case waits."""

    type: Literal["kpi.paused"] = "kpi.paused"
    paused_at: AwareDatetime


class KpiResumed(KpiEventBase):
    """A paused KPI counts again, with its deadline pushed back."""

    type: Literal["kpi.resumed"] = "kpi.resumed"
    resumed_at: AwareDatetime
    due_at: AwareDatetime


class KpiNearingBreach(KpiEventBase):
    """A KPI reached its warning time and is close to its deadline."""

    type: Literal["kpi.nearing_breach"] = "kpi.nearing_breach"
    due_at: AwareDatetime


class KpiBreached(KpiEventBase):
    """A KPI passed its deadline without being met."""

    type: Literal["kpi.breached"] = "kpi.breached"
    due_at: AwareDatetime


class KpiSucceeded(KpiEventBase):
    """A KPI was met (before or after its deadline)."""

    type: Literal["kpi.succeeded"] = "kpi.succeeded"
    succeeded_at: AwareDatetime
    due_at: AwareDatetime


class KpiCancelled(KpiEventBase):
    """A KPI no longer applies to the case and stopped without an outcome."""

    type: Literal["kpi.cancelled"] = "kpi.cancelled"


class KpiReEvaluated(KpiEventBase):
    """The facts of the case changed (priority, request type, contract): the KPI is measured
    against another target, or on another calendar, keeping the working time it had used."""

    type: Literal["kpi.re_evaluated"] = "kpi.re_evaluated"
    policy_id: UUID
    calendar_id: UUID
    target_seconds: Annotated[int, Field(ge=1)]
    status: Literal["in_progress", "paused", "nearing_breach"]
    due_at: AwareDatetime | None = None
    """None while the KPI is paused: its deadline moves by the time waited."""
    warn_at: AwareDatetime | None = None
    reason: Annotated[str, StringConstraints(min_length=1, max_length=200)]


class KpiEscalated(KpiEventBase):
    """A breached KPI reached a step of its policy's escalation ladder: SLA asks the cases
    service to raise the case one level, to the person the step found. The cases service
    records the escalation and tells that person (and the assignee)."""

    type: Literal["kpi.escalated"] = "kpi.escalated"
    level: Annotated[int, Field(ge=1)]
    """The step of the ladder, 1 for the first."""
    target: Literal["manager", "department_head", "queue_owner", "agent"]
    """Whom the step goes to: the assignee's manager, that manager's own manager, the
    manager configured for the case's queue, or a person the step names."""
    escalated_to: UUID | None = None
    """The person told; None when SLA knows nobody for the step (the level rises all the
    same)."""
    assignee_id: UUID | None = None
    """Who worked the case when the step fell due."""
    queue_id: UUID | None = None
    breached_at: AwareDatetime
    """The deadline the KPI missed."""
    reason: Annotated[str, StringConstraints(min_length=1, max_length=500)]
