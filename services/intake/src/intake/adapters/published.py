"""Intake's domain events, translated to the contracts published on `intake.interaction.v1`."""

from __future__ import annotations

import caseflow_contracts as c
from intake.domain.interactions import InteractionReceived


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
    )
