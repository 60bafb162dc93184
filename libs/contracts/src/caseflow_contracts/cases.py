"""Events owned by cases, published on ``cases.case.v1`` keyed by ``case_id``."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal, Self
from uuid import UUID

from pydantic import Field, JsonValue, model_validator

from caseflow_contracts.base import Event
from caseflow_contracts.entitlements import NotEntitledReason
from caseflow_contracts.values import (
    ActivityKind,
    AttachmentRef,
    CaseNumber,
    CaseStatus,
    Channel,
    DecisionOutcome,
    EscalationTarget,
    ParameterSpec,
    Priority,
)


class CaseEventBase(Event):
    """Base of every event about one case."""

    key_field: ClassVar[str] = "case_id"

    case_id: UUID
    number: CaseNumber


class CaseOpened(CaseEventBase):
    """A case was opened from an interaction."""

    type: Literal["case.opened"] = "case.opened"
    channel: Channel
    interaction_id: UUID
    contact_id: UUID
    account_id: UUID | None = None
    subject: str
    request_type: str | None = None
    parameters: dict[str, str] = Field(default_factory=dict)
    priority: Priority
    status: CaseStatus
    entitlement_id: UUID | None = None
    """The contract line that covers the case, if one does."""
    contract_id: UUID | None = None
    not_entitled: NotEntitledReason | None = None
    """Why no line covers the case (the case opens all the same)."""
    entitlement_rule: str | None = None
    """How the line was chosen when more than one applied."""
    sla_policy_id: UUID | None = None
    """The SLA policy of the covering contract; none: the SLA service chooses."""
    calendar_id: UUID | None = None
    """The working-time calendar of the covering contract, if it names one."""
    first_contact: bool = False
    """The customer had never written or called before this request."""
    call_id: str | None = None
    """The telephone call during which an agent opened the case."""
    attachments: list[AttachmentRef] = Field(default_factory=list)
    """The files the request came with (references: the bytes stay with intake)."""
    related_case_id: UUID | None = None
    """The earlier case this one continues: the customer wrote on it after it was closed."""
    related_number: CaseNumber | None = None


class CaseEntitlementChanged(CaseEventBase):
    """An agent chose another contract line for an open case, or cleared it."""

    type: Literal["case.entitlement_changed"] = "case.entitlement_changed"
    entitlement_id: UUID | None = None
    contract_id: UUID | None = None
    not_entitled: NotEntitledReason | None = None
    entitlement_rule: str | None = None
    sla_policy_id: UUID | None = None
    calendar_id: UUID | None = None
    by: UUID | None = None


class CaseUpdated(CaseEventBase):
    """Some fields of a case changed.

    ``changes`` maps every changed field to its new value (``null`` when cleared). The typed
    fields repeat the changes readers commonly act on; ``None`` there means "not changed".
    """

    type: Literal["case.updated"] = "case.updated"
    changes: Annotated[dict[str, JsonValue], Field(min_length=1)]
    priority: Priority | None = None
    subject: str | None = None
    request_type: str | None = None

    @model_validator(mode="after")
    def _typed_fields_agree_with_changes(self) -> Self:
        for name in ("priority", "subject", "request_type"):
            value = getattr(self, name)
            if value is not None and self.changes.get(name, None) != value:
                raise ValueError(f"{name} is set but changes[{name!r}] does not hold {value!r}")
        return self


class CaseStatusChanged(CaseEventBase):
    """A case moved from one status to another."""

    type: Literal["case.status_changed"] = "case.status_changed"
    from_status: CaseStatus
    to_status: CaseStatus
    reason: str | None = None
    by: UUID | None = None
    """The agent who moved it (who took it into work, for ``in_progress``), when one did."""


class ActivityLogged(CaseEventBase):
    """An agent recorded work on a case."""

    type: Literal["activity.logged"] = "activity.logged"
    activity_id: UUID
    kind: ActivityKind
    agent_id: UUID | None = None
    duration_minutes: Annotated[int, Field(ge=0)]
    billable: bool
    description: str
    to_customer: bool = False
    """The work was an answer sent to the customer (it meets first response); an internal
    note is not."""
    attachments: list[AttachmentRef] = Field(default_factory=list)
    """The files sent with it or received with it (references: the bytes stay with intake)."""
    interaction_id: UUID | None = None
    """The customer's interaction this records, when it is one of theirs."""
    contact_id: UUID | None = None
    """Who wrote, when it is a customer's message on the case."""
    from_other_contact: bool = False
    """The message came from someone other than the case's contact."""
    auto_reply: bool = False
    """The message was an automatic answer (an out-of-office), not the customer writing."""


class CaseResolved(CaseEventBase):
    """A case was resolved; its billable time is the sum of its billable activities."""

    type: Literal["case.resolved"] = "case.resolved"
    resolution: str
    decision_code: str | None = None
    billable_minutes: Annotated[int, Field(ge=0)]
    resolved_by: UUID | None = None
    total_minutes: Annotated[int, Field(ge=0)] | None = None
    """All minutes logged on the case, billable or not."""
    logged_billable_minutes: Annotated[int, Field(ge=0)] | None = None
    """The billable minutes the activities add up to, when the agent corrected them."""
    correction_reason: str | None = None


class CaseReopened(CaseEventBase):
    """A resolved or cancelled case was opened again."""

    type: Literal["case.reopened"] = "case.reopened"
    reason: str


class CaseCancelled(CaseEventBase):
    """A case was cancelled without a resolution."""

    type: Literal["case.cancelled"] = "case.cancelled"
    reason: str


class CaseEscalated(CaseEventBase):
    """A case was escalated to a higher support level."""

    type: Literal["case.escalated"] = "case.escalated"
    level: Annotated[int, Field(ge=1)]
    reason: str
    escalated_to: UUID | None = None
    """The manager it went to."""
    target: EscalationTarget | None = None
    escalated_by: UUID | None = None


class DecisionRecorded(CaseEventBase):
    """A decision was taken on the request: an entry of the decisions catalogue, and why."""

    type: Literal["decision.recorded"] = "decision.recorded"
    decision_id: UUID
    decision_code: Annotated[str, Field(min_length=1, max_length=100)]
    outcome: DecisionOutcome
    text: str = ""
    recorded_by: UUID | None = None


class CatalogueEventBase(Event):
    """Base of the catalogue events, published on ``cases.catalogue.v1`` keyed by code.

    Each carries the entry whole, with a version that grows with every change, so that a
    projection keeps the highest version it has seen whatever order events arrive in.
    """

    key_field: ClassVar[str] = "code"

    code: Annotated[str, Field(min_length=1, max_length=100)]
    version: Annotated[int, Field(ge=1)]
    names: dict[str, str] = Field(default_factory=dict)
    """The entry's name by language."""


class CatalogueRequestTypeDefined(CatalogueEventBase):
    """A request type was added or changed, with the questions it asks."""

    type: Literal["catalogue.request_type_defined"] = "catalogue.request_type_defined"
    default_priority: Priority = Priority.NORMAL
    parameters: list[ParameterSpec] = Field(default_factory=list)
    active: bool = True


class CatalogueDecisionDefined(CatalogueEventBase):
    """A decision of the decisions catalogue was added, changed or retired."""

    type: Literal["catalogue.decision_defined"] = "catalogue.decision_defined"
    outcome: DecisionOutcome
    requires_text: bool = False
    retired: bool = False
    creates_contract: bool = False
    """Taking it draws up a draft contract for the case's account ("accepted: contract")."""
    contract_template_id: UUID | None = None
    """The template that draft contract follows; none: an empty draft."""
