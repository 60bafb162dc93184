"""Value types shared by the Caseflow event contracts."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints


class Channel(StrEnum):
    """How a request reached the service desk."""

    EMAIL = "email"
    WEB = "web"
    PHONE = "phone"
    API = "api"
    LETTER = "letter"
    VISIT = "visit"


class Priority(StrEnum):
    """How urgently a case must be worked."""

    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class CaseStatus(StrEnum):
    """Where a case stands in its lifecycle."""

    NEW = "new"
    IN_PROGRESS = "in_progress"
    ON_HOLD = "on_hold"
    WAITING_FOR_CUSTOMER = "waiting_for_customer"
    RESOLVED = "resolved"
    CANCELLED = "cancelled"


class ActivityKind(StrEnum):
    """What kind of work an agent logged on a case."""

    NOTE = "note"
    EMAIL = "email"
    CALL = "call"
    TASK = "task"
    APPOINTMENT = "appointment"
    LETTER = "letter"
    MEETING = "meeting"


class DecisionOutcome(StrEnum):
    """What a decision taken on a request means for the customer."""

    ACCEPTED = "accepted"
    REFUSED = "refused"
    OTHER = "other"


class EscalationTarget(StrEnum):
    """Where an escalated case goes."""

    NEXT_LEVEL = "next_level"
    DEPARTMENT_HEAD = "department_head"


class ParameterType(StrEnum):
    """What kind of answer a request type's parameter takes."""

    TEXT = "text"
    NUMBER = "number"
    DATE = "date"
    CHOICE = "choice"
    BOOLEAN = "boolean"
    EMAIL = "email"
    PHONE = "phone"


class CallDisposition(StrEnum):
    """How a telephone call ended, as the switch reports it."""

    ANSWERED = "answered"
    MISSED = "missed"
    ABANDONED = "abandoned"
    VOICEMAIL = "voicemail"


class RecipientKind(StrEnum):
    """Who a notification is addressed to."""

    CONTACT = "contact"
    AGENT = "agent"
    MANAGER = "manager"
    QUEUE = "queue"


Sha256Hex = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
"""A SHA-256 digest as 64 lower-case hexadecimal digits."""

CaseNumber = Annotated[str, StringConstraints(min_length=1, max_length=64)]
"""The human-readable case number, e.g. ``CAS-2024-000123``."""

ArticleNumber = Annotated[str, StringConstraints(min_length=1, max_length=64)]
"""The human-readable knowledge article number, e.g. ``KA-01042``."""


class Value(BaseModel):
    """Base of the value objects nested inside events: immutable and tolerant."""

    model_config = ConfigDict(frozen=True, extra="ignore", use_attribute_docstrings=True)


class AttachmentRef(Value):
    """A stored attachment, referred to by id; the bytes stay with intake."""

    attachment_id: UUID
    filename: Annotated[str, StringConstraints(min_length=1, max_length=255)]
    content_type: Annotated[str, StringConstraints(min_length=1, max_length=255)]
    size: Annotated[int, Field(ge=0)]
    sha256: Sha256Hex


class Recipient(Value):
    """The addressee of a notification; ``address`` overrides the one on file."""

    kind: RecipientKind
    id: UUID
    address: str | None = None


class ParameterCondition(Value):
    """A parameter is asked only when an earlier answer has one of these values."""

    parameter: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    equals: Annotated[list[str], Field(min_length=1)]


class ParameterSpec(Value):
    """One question a request type asks, and what a valid answer is."""

    name: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    labels: dict[str, str] = Field(default_factory=dict)
    """The question's label by language (``en``, ``de``…)."""
    type: ParameterType = ParameterType.TEXT
    choices: list[str] = Field(default_factory=list)
    required: bool = False
    when: ParameterCondition | None = None
    """Asked only when this holds; ``None``: always asked."""


class ArticleSuggestion(Value):
    """One knowledge article proposed for a case, with its relevance score."""

    article_id: UUID
    number: ArticleNumber
    title: str
    score: Annotated[float, Field(allow_inf_nan=False)]
