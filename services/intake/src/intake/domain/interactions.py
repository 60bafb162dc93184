"""Interactions: each customer request as it arrived, with its sender identified.

Recording one checks what every channel must respect (a subject, bounded sizes, no NUL
characters, which no database text column can hold), recognises a follow-up to an existing
case from the case number in the subject, and yields the `InteractionReceived` event.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from intake.domain.attachments import StoredAttachment
from intake.domain.case_numbers import find_case_number
from intake.domain.errors import ChannelNotAllowed, SubmissionRejected
from intake.domain.identification import (
    Identification,
)

MAX_SUBJECT_LENGTH = 500
MAX_BODY_LENGTH = 100_000
MAX_PARAMETERS = 50

_LANGUAGE = re.compile(r"([A-Za-z]{2,3})(?:[-_][A-Za-z0-9-_]*)?", re.ASCII)


class Channel(StrEnum):
    """How a request reached the service desk."""

    EMAIL = "email"
    WEB = "web"
    PHONE = "phone"
    API = "api"
    LETTER = "letter"
    VISIT = "visit"


# The channels an agent may say a request came by when taking it down through the REST intake.
AGENT_CHANNELS: tuple[Channel, ...] = (
    Channel.PHONE,
    Channel.EMAIL,
    Channel.LETTER,
    Channel.VISIT,
    Channel.API,
)


def submission_channel(*, by_channel_key: bool, named: Channel | None) -> Channel:
    """The channel a request submitted to intake came by.

    A channel's key is the public web form, which is always the web and may name no other. A
    person's token is the REST intake: an agent taking down a call, a letter or a visit names
    that channel; a client that names none is the API itself.
    """
    if by_channel_key:
        if named is not None:
            raise ChannelNotAllowed("a web form's key cannot name a channel: it is the web")
        return Channel.WEB
    if named is None:
        return Channel.API
    if named not in AGENT_CHANNELS:
        raise ChannelNotAllowed(
            f"an agent may name one of {', '.join(AGENT_CHANNELS)}, not {named.value}"
        )
    return named


@dataclass(frozen=True, kw_only=True)
class Interaction:
    """One customer request as intake received it."""

    interaction_id: UUID
    channel: Channel
    contact_id: UUID
    account_id: UUID | None
    first_contact: bool
    subject: str
    body: str
    request_type: str | None
    parameters: Mapping[str, str]
    follow_up_of: str | None
    language: str | None
    submission_id: UUID | None
    received_at: datetime
    attachments: tuple[StoredAttachment, ...] = ()
    auto_reply: bool = False
    """An automatic answer (an out-of-office) rather than the customer writing."""
    message_id: str | None = None
    """The Internet Message-ID, for an interaction that came as mail."""


@dataclass(frozen=True, kw_only=True)
class InteractionReceived:
    """A customer request arrived and its sender is identified."""

    interaction_id: UUID
    channel: Channel
    contact_id: UUID
    account_id: UUID | None
    first_contact: bool
    subject: str
    body: str
    request_type: str | None
    parameters: Mapping[str, str]
    follow_up_of: str | None
    language: str | None
    occurred_at: datetime
    attachments: tuple[StoredAttachment, ...] = ()
    auto_reply: bool = False
    message_id: str | None = None


def language_of(locale: str | None) -> str | None:
    """The language a locale such as ``pl-PL`` names (``pl``), or None if it names none."""
    if locale is None:
        return None
    match = _LANGUAGE.fullmatch(locale.strip())
    return match.group(1).lower() if match else None


def record_interaction(
    *,
    interaction_id: UUID,
    channel: Channel,
    sender: Identification,
    subject: str,
    body: str,
    now: datetime,
    request_type: str | None = None,
    parameters: Mapping[str, str] | None = None,
    locale: str | None = None,
    submission_id: UUID | None = None,
    follow_up_of: str | None = None,
    attachments: tuple[StoredAttachment, ...] = (),
    auto_reply: bool = False,
    message_id: str | None = None,
) -> tuple[Interaction, InteractionReceived]:
    """A customer's request recorded for its sender, noting the case it follows up, if any:
    `follow_up_of` when the channel recognised it (mail threading), else a case number in the
    subject."""
    subject = subject.strip()
    if not subject:
        raise SubmissionRejected("a request needs a subject")
    if len(subject) > MAX_SUBJECT_LENGTH:
        raise SubmissionRejected(f"the subject is longer than {MAX_SUBJECT_LENGTH} characters")
    if len(body) > MAX_BODY_LENGTH:
        raise SubmissionRejected(f"the body is longer than {MAX_BODY_LENGTH} characters")
    request_type = (request_type or "").strip() or None
    params = dict(parameters or {})
    if len(params) > MAX_PARAMETERS:
        raise SubmissionRejected(f"a request takes at most {MAX_PARAMETERS} parameters")
    texts = [subject, body, request_type or "", *params.keys(), *params.values()]
    if any("\x00" in text for text in texts):
        raise SubmissionRejected("the request contains a NUL character")
    if any(not name.strip() for name in params):
        raise SubmissionRejected("a parameter needs a name")
    interaction = Interaction(
        interaction_id=interaction_id,
        channel=channel,
        contact_id=sender.contact.contact_id,
        account_id=sender.contact.account_id,
        first_contact=sender.first_contact,
        subject=subject,
        body=body,
        request_type=request_type,
        parameters=params,
        follow_up_of=follow_up_of or find_case_number(subject),
        language=language_of(locale),
        submission_id=submission_id,
        received_at=now,
        attachments=attachments,
        auto_reply=auto_reply,
        message_id=message_id,
    )
    event = InteractionReceived(
        interaction_id=interaction.interaction_id,
        channel=interaction.channel,
        contact_id=interaction.contact_id,
        account_id=interaction.account_id,
        first_contact=interaction.first_contact,
        subject=interaction.subject,
        body=interaction.body,
        request_type=interaction.request_type,
        parameters=dict(params),
        follow_up_of=interaction.follow_up_of,
        language=interaction.language,
        occurred_at=now,
        attachments=attachments,
        auto_reply=auto_reply,
        message_id=message_id,
    )
    return interaction, event
