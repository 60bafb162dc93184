"""Keeping files and handing them back: the bytes in a content-addressed blob store, what is
known of each file in intake's own tables.

The bytes go in first and the record after, in the caller's transaction: a transaction that
rolls back leaves bytes no record points to, which cost space but never a broken reference.
The same bytes, however often they come, are kept once.

Errors::

    BlobMissing (KeyError)      the store has no bytes under that SHA-256
    AttachmentTooLarge          a file over the limit (intake.domain.attachments)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self
from uuid import UUID, uuid4

from intake.domain.attachments import (
    AttachmentLimits,
    AttachmentRecord,
    AttachmentSource,
    StoredAttachment,
    check_size,
    clean_content_id,
    sanitize_filename,
    sniff_content_type,
)


class BlobMissing(KeyError):
    """The blob store has no bytes under the SHA-256 asked for."""


class BlobStore(Protocol):
    """Bytes kept under their SHA-256."""

    async def put(self, content: bytes) -> str:
        """Keep `content`; returns its SHA-256 (lower-case hex). The same bytes are kept once."""
        ...

    async def get(self, sha256: str) -> bytes:
        """The bytes kept under `sha256`; raises BlobMissing when there are none."""
        ...

    async def exists(self, sha256: str) -> bool:
        """Whether bytes are kept under `sha256`."""
        ...


class AttachmentRepository(Protocol):
    """What intake knows of each stored file."""

    async def add(
        self,
        attachment: StoredAttachment,
        *,
        source: AttachmentSource,
        inline: bool,
        content_id: str | None,
        mail_id: UUID | None,
        interaction_id: UUID | None,
        case_id: UUID | None,
        uploaded_by: UUID | None,
        created_at: datetime,
    ) -> None:
        """Record a stored file."""
        ...

    async def get(self, attachment_id: UUID) -> AttachmentRecord | None:
        """The file recorded under `attachment_id`, or None."""
        ...


class AttachmentUnitOfWork(Protocol):
    """One transaction over the attachments' records."""

    @property
    def attachments(self) -> AttachmentRepository: ...

    async def __aenter__(self) -> Self: ...
    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...
    async def commit(self) -> None: ...


@dataclass(frozen=True)
class AttachmentContent:
    """A stored file with its bytes."""

    record: AttachmentRecord
    content: bytes


async def store_attachment(
    *,
    content: bytes,
    filename: str | None,
    declared_type: str | None,
    source: AttachmentSource,
    inline: bool = False,
    content_id: str | None = None,
    mail_id: UUID | None = None,
    interaction_id: UUID | None = None,
    case_id: UUID | None = None,
    uploaded_by: UUID | None = None,
    repository: AttachmentRepository,
    blobs: BlobStore,
    limits: AttachmentLimits,
    now: datetime,
    new_id: Callable[[], UUID] = uuid4,
) -> StoredAttachment:
    """Keep a file: its bytes in the blob store, its cleaned name, the type its content shows
    and where it came from in the repository (the caller commits). Raises AttachmentTooLarge
    before anything is kept."""
    check_size(len(content), limits)
    name = sanitize_filename(filename)
    content_type = sniff_content_type(content, declared=declared_type, filename=name)
    sha256 = await blobs.put(content)
    stored = StoredAttachment(
        attachment_id=new_id(),
        filename=name,
        content_type=content_type,
        size=len(content),
        sha256=sha256,
    )
    await repository.add(
        stored,
        source=source,
        inline=inline,
        content_id=clean_content_id(content_id),
        mail_id=mail_id,
        interaction_id=interaction_id,
        case_id=case_id,
        uploaded_by=uploaded_by,
        created_at=now,
    )
    return stored


async def find_attachment(
    attachment_id: UUID, *, uow: AttachmentUnitOfWork
) -> AttachmentRecord | None:
    """What is known of a stored file; None when no file is recorded under `attachment_id`."""
    async with uow:
        return await uow.attachments.get(attachment_id)


async def read_attachment(
    attachment_id: UUID, *, uow: AttachmentUnitOfWork, blobs: BlobStore
) -> AttachmentContent | None:
    """A stored file with its bytes; None when no file is recorded under `attachment_id`.
    Raises BlobMissing when the record outlived its bytes."""
    # The transaction ends before the bytes are fetched: a large file from a remote store
    # must not hold a database connection while it comes.
    record = await find_attachment(attachment_id, uow=uow)
    if record is None:
        return None
    return AttachmentContent(record, await blobs.get(record.attachment.sha256))
