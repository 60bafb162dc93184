"""The vocabulary of a case: channels, priorities, statuses, kinds of activity, attachments.

The values match the published event contracts, so adapters translate by value.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from uuid import UUID


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

    @property
    def is_closed(self) -> bool:
        """Whether the case is finished (resolved or cancelled) and only reopening applies."""
        return self in (CaseStatus.RESOLVED, CaseStatus.CANCELLED)


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


@dataclass(frozen=True, kw_only=True)
class Attachment:
    """A file that came with a message or goes with one; intake holds it, a case refers to it."""

    attachment_id: UUID
    filename: str
    content_type: str
    size: int
    sha256: str
    """The SHA-256 digest of the content, as 64 lower-case hexadecimal digits."""
