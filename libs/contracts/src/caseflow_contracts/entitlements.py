"""Events owned by cases about service contracts and their lines (entitlements), published on
``cases.contract.v1`` keyed by ``contract_id``.

A contract's lifecycle (created, changed, activated, held, resumed, expired, cancelled,
renewed, ending soon) and every movement of a line's ledger (drawn down, restored), with the
warnings that follow from them (allotment low, exhausted). ``contract.created`` and
``contract.updated`` carry the contract whole, so a projection needs nothing else.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated, ClassVar, Literal
from uuid import UUID

from pydantic import Field

from caseflow_contracts.base import Event
from caseflow_contracts.values import Channel, Value


class Allocation(StrEnum):
    """What a contract line counts."""

    CASES = "cases"
    MINUTES = "minutes"


class ContractStatus(StrEnum):
    """Where a contract is in its life."""

    DRAFT = "draft"
    ACTIVE = "active"
    ON_HOLD = "on_hold"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


class NotEntitledReason(StrEnum):
    """Why no contract line covers a case."""

    NO_CONTRACT = "no_contract"
    NOT_STARTED = "not_started"
    EXPIRED = "expired"
    ON_HOLD = "on_hold"
    CONTACT_NOT_COVERED = "contact_not_covered"
    CHANNEL_NOT_COVERED = "channel_not_covered"
    REQUEST_TYPE_NOT_COVERED = "request_type_not_covered"
    EXHAUSTED = "exhausted"


class ContractLineSpec(Value):
    """One line of a contract: an allotment of cases or minutes, for some channels and request
    types (all when empty), between two dates within the contract's."""

    line_id: UUID
    number: Annotated[int, Field(ge=1)]
    name: str
    allocation: Allocation
    allotment: Annotated[int, Field(ge=0)]
    starts_on: date
    ends_on: date
    channels: list[Channel] = Field(default_factory=list)
    request_types: list[str] = Field(default_factory=list)
    allow_overdraft: bool = False
    warn_below_percent: Annotated[int, Field(ge=0, le=100)] = 20


class ContractEventBase(Event):
    """Base of every event about one contract."""

    key_field: ClassVar[str] = "contract_id"

    contract_id: UUID
    number: Annotated[str, Field(min_length=1, max_length=64)]
    account_id: UUID
    status: ContractStatus
    """The contract's status once the event happened."""


class ContractSnapshot(ContractEventBase):
    """A contract whole, as ``contract.created`` and ``contract.updated`` carry it."""

    name: str
    starts_on: date
    ends_on: date
    contacts: list[UUID] = Field(default_factory=list)
    """The contacts it covers; empty: everyone at the account."""
    owner_id: UUID | None = None
    """Who hears of low and exhausted allotments and of the coming end."""
    template_id: UUID | None = None
    sla_policy_id: UUID | None = None
    calendar_id: UUID | None = None
    origin_case_id: UUID | None = None
    """The case whose decision asked for the contract."""
    renewed_from: UUID | None = None
    lines: list[ContractLineSpec] = Field(default_factory=list)
    version: Annotated[int, Field(ge=1)]


class ContractCreated(ContractSnapshot):
    """A contract was drawn up (as a draft), from a template, from scratch, from a case's
    decision, or by renewing another."""

    type: Literal["contract.created"] = "contract.created"


class ContractUpdated(ContractSnapshot):
    """A contract or its lines changed; the contract as it now is."""

    type: Literal["contract.updated"] = "contract.updated"


class ContractActivated(ContractEventBase):
    """A contract came into force."""

    type: Literal["contract.activated"] = "contract.activated"
    by: UUID | None = None


class ContractHeld(ContractEventBase):
    """A contract was put on hold: its lines cover no new case until it resumes."""

    type: Literal["contract.held"] = "contract.held"
    reason: str | None = None
    by: UUID | None = None


class ContractResumed(ContractEventBase):
    """A contract on hold came back into force."""

    type: Literal["contract.resumed"] = "contract.resumed"
    by: UUID | None = None


class ContractExpired(ContractEventBase):
    """A contract's end date passed."""

    type: Literal["contract.expired"] = "contract.expired"
    ended_on: date


class ContractCancelled(ContractEventBase):
    """A contract was cancelled before its end."""

    type: Literal["contract.cancelled"] = "contract.cancelled"
    reason: str
    by: UUID | None = None


class ContractRenewed(ContractEventBase):
    """A contract was renewed into the next period, as a new contract."""

    type: Literal["contract.renewed"] = "contract.renewed"
    renewal_id: UUID
    renewal_number: Annotated[str, Field(min_length=1, max_length=64)]
    by: UUID | None = None


class ContractEndingSoon(ContractEventBase):
    """A contract in force ends within the warning period; its owner was told."""

    type: Literal["contract.ending_soon"] = "contract.ending_soon"
    ends_on: date
    days_left: Annotated[int, Field(ge=0)]


class LineEventBase(ContractEventBase):
    """Base of the events about one line's balance."""

    line_id: UUID
    line_number: Annotated[int, Field(ge=1)]
    allocation: Allocation
    allotment: Annotated[int, Field(ge=0)]
    remaining: int
    """What is left once the event happened (below 0 only on a line that allows overdraft)."""


class ContractLineDrawnDown(LineEventBase):
    """A resolved case drew on the line: one case, or its billable minutes.

    ``amount`` is what the line covered; ``overage`` what it could not (the line was used up
    and allows no overdraft), to be billed outside the contract.
    """

    type: Literal["contract.line_drawn_down"] = "contract.line_drawn_down"
    entry_id: UUID
    case_id: UUID
    amount: Annotated[int, Field(ge=0)]
    overage: Annotated[int, Field(ge=0)] = 0
    by: UUID | None = None


class ContractLineRestored(LineEventBase):
    """What a case drew was given back to the line (the case was reopened)."""

    type: Literal["contract.line_restored"] = "contract.line_restored"
    entry_id: UUID
    case_id: UUID
    amount: Annotated[int, Field(ge=0)]
    reason: str
    by: UUID | None = None


class ContractAllotmentLow(LineEventBase):
    """A line's remaining fell below its warning threshold; the contract's owner was told."""

    type: Literal["contract.allotment_low"] = "contract.allotment_low"
    threshold: Annotated[int, Field(ge=0)]


class ContractAllotmentExhausted(LineEventBase):
    """A line has nothing left; the contract's owner was told."""

    type: Literal["contract.allotment_exhausted"] = "contract.allotment_exhausted"
