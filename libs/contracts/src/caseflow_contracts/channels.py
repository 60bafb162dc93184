"""Inbound events published by systems outside Caseflow on the documented channel topics.

Web channels publish ``WebSubmitted`` to ``channels.web.v1`` keyed by ``submission_id``;
telephony adapters publish the call events to ``channels.cti.v1`` keyed by ``call_id``.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal
from uuid import UUID

from pydantic import AwareDatetime, EmailStr, Field, StringConstraints

from caseflow_contracts.base import Event
from caseflow_contracts.values import AttachmentRef, CallDisposition


class WebSubmitted(Event):
    """A customer sent the web form (or a partner portal posted a request)."""

    key_field: ClassVar[str] = "submission_id"

    type: Literal["web.submitted"] = "web.submitted"
    submission_id: UUID
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    email: EmailStr
    phone: str | None = None
    subject: Annotated[str, StringConstraints(min_length=1, max_length=500)]
    body: Annotated[str, StringConstraints(max_length=100_000)]
    request_type: str | None = None
    parameters: dict[str, str] = Field(default_factory=dict)
    locale: str | None = None
    attachments: list[AttachmentRef] = Field(default_factory=list)


class CallEventBase(Event):
    """Base of the telephony events: one call, as the switch identifies it."""

    key_field: ClassVar[str] = "call_id"

    call_id: Annotated[str, StringConstraints(min_length=1)]
    caller_number: str
    """The calling number exactly as the switch gave it; intake normalises it."""
    dialled_number: str
    agent_extension: str | None = None


class CallRinging(CallEventBase):
    """An inbound call started ringing."""

    type: Literal["call.ringing"] = "call.ringing"
    ringing_at: AwareDatetime


class CallAnswered(CallEventBase):
    """An inbound call was picked up."""

    type: Literal["call.answered"] = "call.answered"
    ringing_at: AwareDatetime | None = None
    answered_at: AwareDatetime


class CallEnded(CallEventBase):
    """An inbound call was hung up, answered or not."""

    type: Literal["call.ended"] = "call.ended"
    ringing_at: AwareDatetime | None = None
    answered_at: AwareDatetime | None = None
    ended_at: AwareDatetime
    duration_seconds: Annotated[int, Field(ge=0)]
    disposition: CallDisposition | None = None


class CallMissed(CallEventBase):
    """An inbound call rang and was not picked up (the caller hung up, or it timed out)."""

    type: Literal["call.missed"] = "call.missed"
    ringing_at: AwareDatetime | None = None
    missed_at: AwareDatetime


class CallTransferred(CallEventBase):
    """A call moved to another extension; `agent_extension` is where it went."""

    type: Literal["call.transferred"] = "call.transferred"
    from_extension: str | None = None
    transferred_at: AwareDatetime
