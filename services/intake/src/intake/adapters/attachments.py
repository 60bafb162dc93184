"""What intake knows of each stored file, in PostgreSQL; the bytes are in the blob store."""

from __future__ import annotations

from datetime import datetime
from typing import cast
from uuid import UUID

from sqlalchemy import RowMapping, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from caseflow_servicekit import SqlUnitOfWork
from intake.adapters.tables import attachments
from intake.domain.attachments import AttachmentRecord, AttachmentSource, StoredAttachment


class SqlAttachmentRepository:
    """Stored files' names, types, sizes, digests and where they came from."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

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
        await self._session.execute(
            insert(attachments).values(
                attachment_id=attachment.attachment_id,
                sha256=attachment.sha256,
                filename=attachment.filename,
                content_type=attachment.content_type,
                size=attachment.size,
                source=source,
                inline=inline,
                content_id=content_id,
                mail_id=mail_id,
                interaction_id=interaction_id,
                case_id=case_id,
                uploaded_by=uploaded_by,
                created_at=created_at,
            )
        )

    async def get(self, attachment_id: UUID) -> AttachmentRecord | None:
        """The file recorded under `attachment_id`, or None."""
        query = select(attachments).where(attachments.c.attachment_id == attachment_id)
        row = (await self._session.execute(query)).mappings().one_or_none()
        return None if row is None else _record(row)


def _record(row: RowMapping) -> AttachmentRecord:
    return AttachmentRecord(
        attachment=StoredAttachment(
            attachment_id=row["attachment_id"],
            filename=row["filename"],
            content_type=row["content_type"],
            size=row["size"],
            sha256=row["sha256"],
        ),
        source=cast(AttachmentSource, row["source"]),
        inline=row["inline"],
        content_id=row["content_id"],
        mail_id=row["mail_id"],
        interaction_id=row["interaction_id"],
        case_id=row["case_id"],
        uploaded_by=row["uploaded_by"],
        created_at=row["created_at"],
    )


class SqlAttachmentUnitOfWork(SqlUnitOfWork):
    """A transaction over the attachments' records alone."""

    attachments: SqlAttachmentRepository

    async def on_open(self, session: AsyncSession) -> None:
        self.attachments = SqlAttachmentRepository(session)
