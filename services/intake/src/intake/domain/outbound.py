"""An outgoing message: a notification rendered for one recipient, and its delivery."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from uuid import UUID

from intake.domain.attachments import StoredAttachment
from intake.domain.mail_rules import OutboundStatus, retry_delay


@dataclass(frozen=True, kw_only=True)
class AgentAddress:
    """Where and how an agent or manager is written to, from the agent directory."""

    agent_id: UUID
    name: str
    email: str | None
    language: str | None
    manager_id: UUID | None
    active: bool
    version: int


@dataclass(frozen=True, kw_only=True)
class DeliveryPolicy:
    """How often and how patiently a message is offered to the mail server."""

    max_attempts: int = 6
    first_retry: timedelta = timedelta(seconds=30)
    longest_retry: timedelta = timedelta(hours=1)


@dataclass(frozen=True, kw_only=True)
class OutboundMessage:
    """A message intake sends, from its rendering to its delivery's end."""

    outbound_id: UUID
    notification_id: UUID | None
    template: str
    language: str
    recipient_kind: str
    recipient_id: UUID
    address: str
    subject: str
    body: str
    html: str | None
    message_id: str
    in_reply_to: str | None
    thread_ids: tuple[str, ...]
    case_id: UUID | None
    case_number: str | None
    status: OutboundStatus
    created_at: datetime
    updated_at: datetime
    attachments: tuple[StoredAttachment, ...] = ()
    attempts: int = 0
    next_attempt_at: datetime | None = None
    last_error: str | None = None
    sent_at: datetime | None = None

    @property
    def automatic(self) -> bool:
        """Whether the message answers the customer by itself (an acknowledgement), rather than
        carry a person's words: it asks other robots not to answer it."""
        return self.template == "case.received"

    def sent(self, *, now: datetime) -> OutboundMessage:
        """The mail server took it."""
        return replace(
            self,
            status=OutboundStatus.SENT,
            attempts=self.attempts + 1,
            sent_at=now,
            next_attempt_at=None,
            last_error=None,
            updated_at=now,
        )

    def attempt_failed(
        self, error: str, *, now: datetime, permanent: bool, policy: DeliveryPolicy
    ) -> OutboundMessage:
        """An attempt failed: tried again later, or failed for good when the server refused
        it outright or every attempt is spent."""
        attempts = self.attempts + 1
        if permanent or attempts >= policy.max_attempts:
            return replace(
                self,
                status=OutboundStatus.FAILED,
                attempts=attempts,
                next_attempt_at=None,
                last_error=error,
                updated_at=now,
            )
        delay = retry_delay(attempts, first=policy.first_retry, longest=policy.longest_retry)
        return replace(
            self, attempts=attempts, next_attempt_at=now + delay, last_error=error, updated_at=now
        )

    def bounced(self, reason: str, *, now: datetime) -> OutboundMessage:
        """A delivery report returned it after it was sent."""
        return replace(self, status=OutboundStatus.BOUNCED, last_error=reason, updated_at=now)
