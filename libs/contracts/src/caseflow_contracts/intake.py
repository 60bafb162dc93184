"""Events owned by intake: normalised interactions and the outbound notification commands.

``InteractionReceived`` goes to ``intake.interaction.v1`` keyed by ``contact_id``, so one
customer's interactions stay in order (a follow-up never overtakes the request it follows).
``NotificationRequested`` goes to ``intake.notification.v1`` keyed by ``notification_id``:
any service asks intake to tell someone something, and intake sends it by the channel it owns.
``InteractionRequested`` goes to ``intake.request.v1`` keyed by ``interaction_id``: an agent
took a request from a customer not on file (a call, a letter, a visit), and intake, which owns
customers, identifies or creates them and receives the request as an interaction.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal
from uuid import UUID

from pydantic import Field, StringConstraints

from caseflow_contracts.base import Event
from caseflow_contracts.values import AttachmentRef, CaseNumber, Channel, Recipient


class InteractionReceived(Event):
    """A customer request arrived and its customer is identified."""

    key_field: ClassVar[str] = "contact_id"

    type: Literal["interaction.received"] = "interaction.received"
    interaction_id: UUID
    channel: Channel
    account_id: UUID | None = None
    contact_id: UUID
    first_contact: bool
    subject: str
    body: str
    attachments: list[AttachmentRef] = Field(default_factory=list)
    request_type: str | None = None
    parameters: dict[str, str] = Field(default_factory=dict)
    follow_up_of: CaseNumber | None = None
    """The number of the existing case this interaction continues, if recognised."""
    language: str | None = None
    call_id: str | None = None
    auto_reply: bool = False
    """An automatic answer (out-of-office, autoresponder) to the desk's mail: it is kept on the
    case it threads to, and asks for nothing (no acknowledgement, no reopening)."""
    message_id: str | None = None
    """The Internet Message-ID of the mail this interaction came as."""


class NotificationRequested(Event):
    """Someone must be told something; intake renders the template and sends it."""

    key_field: ClassVar[str] = "notification_id"

    type: Literal["notification.requested"] = "notification.requested"
    notification_id: UUID
    recipient: Recipient
    template: Annotated[str, StringConstraints(min_length=1)]
    language: Annotated[str, StringConstraints(min_length=1)]
    case_id: UUID | None = None
    parameters: dict[str, str] = Field(default_factory=dict)
    attachments: list[AttachmentRef] = Field(default_factory=list)
    """Files intake holds that go with the message (an agent's reply with its files)."""
    interaction_id: UUID | None = None
    """The customer's interaction the notification answers (the request an acknowledgement
    confirms), so that it goes out as a reply to it."""


class InteractionRequested(Event):
    """An agent took a customer's request; intake identifies the customer and receives it."""

    key_field: ClassVar[str] = "interaction_id"

    type: Literal["interaction.requested"] = "interaction.requested"
    interaction_id: UUID
    """The id the interaction gets: the agent's answer names it, and the case is found by it."""
    channel: Channel
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    email: str | None = None
    phone: str | None = None
    subject: Annotated[str, StringConstraints(min_length=1)]
    body: str = ""
    request_type: str | None = None
    parameters: dict[str, str] = Field(default_factory=dict)
    language: str | None = None
    requested_by: UUID | None = None
    """The agent who took the request."""
