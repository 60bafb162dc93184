"""Events owned by intake about the mail it sends, on ``intake.message.v1`` keyed by
``outbound_id``.

Each outbound message (a rendered notification) ends sent, failed (every attempt refused, or no
address to send to) or bounced (sent, then returned by a mail server's delivery report).
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal
from uuid import UUID

from pydantic import Field

from caseflow_contracts.base import Event
from caseflow_contracts.values import CaseNumber, Recipient


class MessageEventBase(Event):
    """Base of the events about one outbound message."""

    key_field: ClassVar[str] = "outbound_id"

    outbound_id: UUID
    notification_id: UUID | None = None
    """The `notification.requested` the message was rendered from."""
    case_id: UUID | None = None
    case_number: CaseNumber | None = None
    recipient: Recipient
    address: str
    """Where it went (or was to go); empty when no address was known."""
    template: Annotated[str, Field(min_length=1)]
    message_id: str
    """Its Internet Message-ID, which replies name in In-Reply-To."""
    attempts: Annotated[int, Field(ge=0)] = 0


class MessageSent(MessageEventBase):
    """The mail server accepted the message."""

    type: Literal["message.sent"] = "message.sent"


class MessageFailed(MessageEventBase):
    """The message could not be sent; `reason` says why."""

    type: Literal["message.failed"] = "message.failed"
    reason: str


class MessageBounced(MessageEventBase):
    """A delivery report returned the message after it was sent."""

    type: Literal["message.bounced"] = "message.bounced"
    reason: str
    status: str | None = None
    """The delivery status code of the report (RFC 3464), e.g. ``5.1.1``."""
