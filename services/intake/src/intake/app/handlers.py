"""Use cases of the intake service: load, decide in the domain, record, commit."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Protocol
from uuid import UUID, uuid4

import structlog

from intake.app.attachments import AttachmentRepository, BlobStore, store_attachment
from intake.app.customers import file_sender, identify_sender
from intake.app.ports import IntakeUnitOfWork, RateLimitCounter
from intake.domain.attachments import AttachmentLimits, StoredAttachment, check_size
from intake.domain.errors import (
    IdempotencyKeyInUse,
    IdempotencyKeyReused,
    RateLimited,
    SubmissionRejected,
)
from intake.domain.idempotency import Decision, decide, fingerprint
from intake.domain.interactions import Channel, Interaction, record_interaction
from intake.domain.rate_limits import RateLimits, retry_after, window_at
from intake.domain.request_types import RequestType, checked_parameters, supersedes

log = structlog.get_logger(__name__)

DEFAULT_LIMITS = AttachmentLimits()


class SubmissionUnitOfWork(IntakeUnitOfWork, Protocol):
    """The intake unit of work with the attachments' records, for requests that bring files."""

    @property
    def attachments(self) -> AttachmentRepository: ...


@dataclass(frozen=True, kw_only=True)
class UploadedFile:
    """A file a customer sent with a request: its bytes, and the name and type it came with."""

    content: bytes = field(repr=False)
    filename: str | None = None
    declared_type: str | None = None

    @property
    def sha256(self) -> str:
        """The SHA-256 of its bytes, lower-case hex."""
        return hashlib.sha256(self.content).hexdigest()


@dataclass(frozen=True, kw_only=True)
class SubmitRequest:
    """A customer sent a request through the web form, the REST intake or a web channel."""

    channel: Channel
    name: str
    email: str
    subject: str
    body: str
    phone: str | None = None
    request_type: str | None = None
    parameters: Mapping[str, str] = field(default_factory=dict)
    locale: str | None = None
    submission_id: UUID | None = None
    """The id a web channel gave the submission; a submission is recorded once."""
    files: tuple[UploadedFile, ...] = ()
    """What the customer attached, in the order sent."""

    def payload(self) -> dict[str, object]:
        """What the customer sent, as an idempotent retry must repeat it."""
        payload: dict[str, object] = {
            "name": self.name,
            "email": self.email,
            "phone": self.phone,
            "subject": self.subject,
            "body": self.body,
            "request_type": self.request_type,
            "parameters": dict(self.parameters),
            "locale": self.locale,
        }
        # Only a channel an agent named counts: the web form's and the API's requests keep the
        # fingerprints they had before agents could name one, so their keys stay valid.
        if self.channel not in (Channel.WEB, Channel.API):
            payload["channel"] = self.channel.value
        # Files count by their bytes, and only when there are some, for the same reason.
        if self.files:
            payload["files"] = [file.sha256 for file in self.files]
        return payload


@dataclass(frozen=True, kw_only=True)
class ReceiveRequestedInteraction:
    """An agent took a request from a customer who may not be on file, and another service
    (cases) asks intake to identify them and receive it as the interaction `interaction_id`."""

    interaction_id: UUID
    channel: Channel
    name: str
    email: str | None
    phone: str | None
    subject: str
    body: str = ""
    request_type: str | None = None
    parameters: Mapping[str, str] = field(default_factory=dict)
    language: str | None = None
    requested_by: UUID | None = None


@dataclass(frozen=True, kw_only=True)
class IdempotencyKey:
    """The Idempotency-Key a caller sent, scoped to that caller."""

    owner: str
    key: str


@dataclass(frozen=True, kw_only=True)
class Accepted:
    """A request taken in: its interaction and sender; `replayed` when it was taken before."""

    interaction_id: UUID
    contact_id: UUID
    account_id: UUID | None
    first_contact: bool
    replayed: bool = False

    @classmethod
    def of(cls, interaction: Interaction, *, replayed: bool = False) -> Accepted:
        return cls(
            interaction_id=interaction.interaction_id,
            contact_id=interaction.contact_id,
            account_id=interaction.account_id,
            first_contact=interaction.first_contact,
            replayed=replayed,
        )

    def as_record(self) -> dict[str, object]:
        """The answer as kept with an Idempotency-Key (plain JSON values)."""
        return {
            "interaction_id": str(self.interaction_id),
            "contact_id": str(self.contact_id),
            "account_id": None if self.account_id is None else str(self.account_id),
            "first_contact": self.first_contact,
        }

    @classmethod
    def from_record(cls, record: Mapping[str, object]) -> Accepted:
        """The answer kept with an Idempotency-Key, given again."""
        account_id = record["account_id"]
        return cls(
            interaction_id=UUID(str(record["interaction_id"])),
            contact_id=UUID(str(record["contact_id"])),
            account_id=None if account_id is None else UUID(str(account_id)),
            first_contact=bool(record["first_contact"]),
            replayed=True,
        )


@dataclass(frozen=True, kw_only=True)
class AdmitSubmission:
    """A caller is about to submit a request: from `address`, under `channel`'s key if any."""

    address: str
    channel: str | None = None


@dataclass(frozen=True, kw_only=True)
class RecordRequestType:
    """Keep a request type as the cases service's catalogue announced it."""

    request_type: RequestType


async def submit_request(
    cmd: SubmitRequest,
    *,
    uow: SubmissionUnitOfWork,
    now: datetime,
    region: str | None,
    idempotency: IdempotencyKey | None = None,
    new_id: Callable[[], UUID] = uuid4,
    check_request_type: bool = True,
    blobs: BlobStore | None = None,
    limits: AttachmentLimits = DEFAULT_LIMITS,
) -> Accepted:
    """Identify the sender, keep the files, record the interaction and announce it, once per
    key or submission.

    With `check_request_type`, a request naming a request type must name one the catalogue
    offers, with answers that fit its form; the interaction carries them normalised. Phone
    numbers are read in `region` when national. Files go to `blobs`, each within `limits`
    (AttachmentTooLarge before anything is kept), and the interaction and its event carry
    references to them, never their bytes.
    """
    if cmd.files and blobs is None:
        msg = "a request with files needs a blob store to keep them in"
        raise ValueError(msg)
    for file in cmd.files:
        check_size(len(file.content), limits)
    async with uow:
        if idempotency is not None:
            request_fingerprint = fingerprint(cmd.payload())
            claimed = await uow.idempotency.claim(
                owner=idempotency.owner,
                key=idempotency.key,
                fingerprint=request_fingerprint,
                now=now,
            )
            if not claimed:
                stored = await uow.idempotency.get(owner=idempotency.owner, key=idempotency.key)
                decision = decide(stored, request_fingerprint)
                if decision is Decision.REUSED:
                    raise IdempotencyKeyReused("Idempotency-Key reused with a different payload.")
                if decision is Decision.REPLAY and stored is not None and stored.response:
                    return Accepted.from_record(stored.response)
                # Taken but not answered (or just forgotten): the first request is under way.
                raise IdempotencyKeyInUse(
                    "A request with this Idempotency-Key is still being processed."
                )
        if cmd.submission_id is not None:
            known = await uow.interactions.by_submission(cmd.submission_id)
            if known is not None:
                return Accepted.of(known, replayed=True)
        # Checked after the key is claimed, so that a repeat is answered as the first was even
        # if the catalogue changed since; a refusal rolls the claim back with everything else.
        if check_request_type and cmd.request_type is not None and cmd.request_type.strip():
            code = cmd.request_type.strip()
            held = await uow.request_types.get(code)
            cmd = replace(cmd, parameters=checked_parameters(code, held, cmd.parameters))
        # The id comes first, so that the files refer to the interaction they belong to; they
        # are kept before the sender is identified, whose lock should not wait on a blob store.
        interaction_id = new_id()
        attachments = (
            ()
            if blobs is None  # and so no files
            else await _store_files(
                cmd.files,
                interaction_id=interaction_id,
                uow=uow,
                blobs=blobs,
                limits=limits,
                now=now,
                new_id=new_id,
            )
        )
        sender = await identify_sender(
            name=cmd.name,
            email=cmd.email,
            phone=cmd.phone,
            uow=uow,
            now=now,
            new_id=new_id,
            region=region,
            email_body=cmd.body if cmd.channel is Channel.EMAIL else None,
        )
        interaction, event = record_interaction(
            interaction_id=interaction_id,
            channel=cmd.channel,
            sender=sender,
            subject=cmd.subject,
            body=cmd.body,
            now=now,
            request_type=cmd.request_type,
            parameters=cmd.parameters,
            locale=cmd.locale,
            submission_id=cmd.submission_id,
            attachments=attachments,
        )
        await file_sender(sender, uow=uow, now=now)
        await uow.interactions.add(interaction)
        accepted = Accepted.of(interaction)
        if idempotency is not None:
            await uow.idempotency.complete(
                owner=idempotency.owner, key=idempotency.key, response=accepted.as_record()
            )
        uow.emit(event)
        await uow.commit()
    return accepted


async def _store_files(
    files: Sequence[UploadedFile],
    *,
    interaction_id: UUID,
    uow: SubmissionUnitOfWork,
    blobs: BlobStore,
    limits: AttachmentLimits,
    now: datetime,
    new_id: Callable[[], UUID],
) -> tuple[StoredAttachment, ...]:
    stored: list[StoredAttachment] = []
    for file in files:
        stored.append(
            await store_attachment(
                content=file.content,
                filename=file.filename,
                declared_type=file.declared_type,
                source="web",
                interaction_id=interaction_id,
                repository=uow.attachments,
                blobs=blobs,
                limits=limits,
                now=now,
                new_id=new_id,
            )
        )
    return tuple(stored)


async def receive_requested_interaction(
    cmd: ReceiveRequestedInteraction,
    *,
    uow: IntakeUnitOfWork,
    now: datetime,
    region: str | None,
    new_id: Callable[[], UUID] = uuid4,
) -> Accepted:
    """Identify the customer an agent took a request from (or file them), record the request
    under the interaction id it was given and announce it; once per interaction id. Phone
    numbers are read in `region` when national.

    The agent's service checked the request against its catalogue: its answers are normalised
    by intake's copy when that knows the type, and kept as sent when the copy disagrees.
    """
    async with uow:
        known = await uow.interactions.get(cmd.interaction_id)
        if known is not None:
            return Accepted.of(known, replayed=True)
        parameters = await _agents_answers(cmd, uow=uow)
        sender = await identify_sender(
            name=cmd.name,
            email=cmd.email,
            phone=cmd.phone,
            uow=uow,
            now=now,
            new_id=new_id,
            region=region,
            email_body=cmd.body if cmd.channel is Channel.EMAIL else None,
        )
        interaction, event = record_interaction(
            interaction_id=cmd.interaction_id,
            channel=cmd.channel,
            sender=sender,
            subject=cmd.subject,
            body=cmd.body,
            now=now,
            request_type=cmd.request_type,
            parameters=parameters,
            locale=cmd.language,
        )
        await file_sender(sender, uow=uow, now=now)
        await uow.interactions.add(interaction)
        uow.emit(event)
        await uow.commit()
    log.info(
        "interaction.requested_received",
        interaction_id=str(cmd.interaction_id),
        contact_id=str(interaction.contact_id),
        first_contact=interaction.first_contact,
        requested_by=None if cmd.requested_by is None else str(cmd.requested_by),
    )
    return Accepted.of(interaction)


async def _agents_answers(
    cmd: ReceiveRequestedInteraction, *, uow: IntakeUnitOfWork
) -> Mapping[str, str]:
    code = (cmd.request_type or "").strip()
    held = await uow.request_types.get(code) if code else None
    if held is None:
        return cmd.parameters  # a type intake's copy does not know (yet): nothing to normalise
    try:
        return checked_parameters(code, held, cmd.parameters)
    except SubmissionRejected as error:
        # The catalogue changed between the agent's check and ours, or our copy lags: the
        # request an agent took is never dropped, so it goes on as the agent sent it.
        log.warning(
            "interaction.request_not_in_catalogue_copy",
            interaction_id=str(cmd.interaction_id),
            request_type=code,
            error=str(error),
        )
        return cmd.parameters


async def admit_submission(
    cmd: AdmitSubmission, *, counter: RateLimitCounter, limits: RateLimits, now: datetime
) -> None:
    """Count a submission against its caller's limits; raises RateLimited once one is spent."""
    window = window_at(now, limits.window)
    # The address first, and the key only for requests the address limit lets through: one
    # abusive address must not spend the budget its channel shares with everyone else.
    buckets = [(f"address:{cmd.address}", limits.per_address, "this address")]
    if cmd.channel is not None:
        buckets.append((f"channel:{cmd.channel}", limits.per_key, "this channel's key"))
    for bucket, limit, whose in buckets:
        if limit == 0:
            continue
        hits = await counter.hit(bucket, window_start=window.start)
        wait = retry_after(hits=hits, limit=limit, window=window, now=now)
        if wait is not None:
            raise RateLimited(
                f"Too many requests from {whose}; try again in {wait} seconds.", retry_after=wait
            )


async def record_request_type(cmd: RecordRequestType, *, uow: IntakeUnitOfWork) -> bool:
    """Keep a catalogue entry in intake's copy unless the copy holds it at the same or a later
    version; True if it was kept."""
    async with uow:
        held = await uow.request_types.get(cmd.request_type.code)
        if not supersedes(cmd.request_type, held):
            return False
        await uow.request_types.save(cmd.request_type)
        await uow.commit()
    return True
