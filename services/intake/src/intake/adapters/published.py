"""Intake's domain events, translated to the contracts it publishes: interactions on
`intake.interaction.v1`, the customer card on `intake.customer.v1`."""

from __future__ import annotations

import caseflow_contracts as c
from intake.domain.attachments import StoredAttachment
from intake.domain.customer_events import (
    AccountChanged,
    AccountRegistered,
    ContactChanged,
    ContactErased,
    ContactMerged,
    ContactRegistered,
    CustomerEvent,
)
from intake.domain.customers import (
    Account,
    Contact,
)
from intake.domain.interactions import InteractionReceived
from intake.domain.mail_rules import OutboundStatus
from intake.domain.outbound import OutboundMessage


def to_contract(event: InteractionReceived) -> c.InteractionReceived:
    """The contract event that tells other services an interaction arrived."""
    return c.InteractionReceived(
        interaction_id=event.interaction_id,
        channel=c.Channel(event.channel.value),
        contact_id=event.contact_id,
        account_id=event.account_id,
        first_contact=event.first_contact,
        subject=event.subject,
        body=event.body,
        request_type=event.request_type,
        parameters=dict(event.parameters),
        follow_up_of=event.follow_up_of,
        language=event.language,
        occurred_at=event.occurred_at,
        attachments=[attachment_ref(a) for a in event.attachments],
        auto_reply=event.auto_reply,
        message_id=event.message_id,
    )


def attachment_ref(attachment: StoredAttachment) -> c.AttachmentRef:
    """The reference events carry to a stored file."""
    return c.AttachmentRef(
        attachment_id=attachment.attachment_id,
        filename=attachment.filename,
        content_type=attachment.content_type,
        size=attachment.size,
        sha256=attachment.sha256,
    )


def customer_contract(event: CustomerEvent) -> c.Event:
    """The contract event that tells other services the customer card changed."""
    match event:
        case AccountRegistered():
            return c.AccountRegistered.model_validate(_account(event.account, event))
        case AccountChanged():
            return c.AccountChanged.model_validate(_account(event.account, event))
        case ContactRegistered():
            card = _contact(event.contact, event)
            return c.ContactRegistered.model_validate(
                {**card, "first_contact": event.first_contact}
            )
        case ContactChanged():
            return c.ContactChanged.model_validate(_contact(event.contact, event))
        case ContactMerged():
            return c.ContactMerged(
                contact_id=event.contact_id,
                merged_contact_id=event.merged_contact_id,
                occurred_at=event.occurred_at,
            )
        case ContactErased():
            return c.ContactErased(contact_id=event.contact_id, occurred_at=event.occurred_at)


def _account(account: Account, event: AccountRegistered | AccountChanged) -> dict[str, object]:
    return {
        "occurred_at": event.occurred_at,
        "account_id": account.account_id,
        "name": account.name,
        "region": account.region,
        "industry": account.industry,
        "tier": account.tier,
        "owner_id": account.owner_id,
        "credit_hold": account.credit_hold,
        "credit_hold_reason": account.credit_hold_reason,
        "domains": list(account.domains),
        "version": account.version,
    }


def _contact(contact: Contact, event: ContactRegistered | ContactChanged) -> dict[str, object]:
    return {
        "occurred_at": event.occurred_at,
        "contact_id": contact.contact_id,
        "account_id": contact.account_id,
        "name": contact.name,
        "position": contact.position,
        "language": contact.language,
        "preferred_channel": contact.preferred_channel,
        "emails": list(contact.emails),
        "phones": list(contact.phones),
        "version": contact.version,
    }


def message_contract(
    message: OutboundMessage, *, reason: str | None, status: str | None
) -> c.MessageSent | c.MessageFailed | c.MessageBounced:
    """The contract event that tells how an outbound message's delivery ended."""
    common = {
        "outbound_id": message.outbound_id,
        "notification_id": message.notification_id,
        "case_id": message.case_id,
        "case_number": message.case_number,
        "recipient": c.Recipient(
            kind=c.RecipientKind(message.recipient_kind), id=message.recipient_id
        ),
        "address": message.address,
        "template": message.template,
        "message_id": message.message_id,
        "attempts": message.attempts,
        "occurred_at": message.updated_at,
    }
    match message.status:
        case OutboundStatus.SENT:
            return c.MessageSent.model_validate(common)
        case OutboundStatus.BOUNCED:
            return c.MessageBounced.model_validate(
                {**common, "reason": reason or "returned", "status": status}
            )
    return c.MessageFailed.model_validate({**common, "reason": reason or "not sent"})
