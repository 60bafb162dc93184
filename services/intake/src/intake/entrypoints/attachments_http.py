"""Attachments over HTTP: agents upload files, and download any stored file with its metadata.

Files are kept by their content (SHA-256) in the blob store; intake records each under an
id of its own, with the cleaned name and the type its content shows. A download is always
offered as a file to save (`Content-Disposition: attachment`), never rendered: a file a
customer sent may be anything. Errors are raised, and answered as problem+json by the mapping
in `intake.bootstrap`.
"""

# No `from __future__ import annotations` here: FastAPI reads the `Annotated` dependencies
# of the routes below at definition time, and they refer to locals of `router`.

import unicodedata
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import quote
from uuid import UUID

from fastapi import APIRouter, Depends, File, Form, Request, Response, UploadFile
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field

from caseflow_servicekit import Authenticator, Clock, NotFound, Principal, Problem, Role
from intake.app.attachments import (
    AttachmentUnitOfWork,
    BlobStore,
    find_attachment,
    read_attachment,
    store_attachment,
)
from intake.domain.attachments import (
    AttachmentLimits,
    AttachmentRecord,
    StoredAttachment,
    check_size,
)
from intake.entrypoints.uploads import (
    MAX_FILES_PER_REQUEST,
    MULTIPART,
    max_request_bytes,
    media_type_of,
    within_limit,
)

# A stored file is offered for saving only: no script in it runs, even if a browser were
# to render it.
DOWNLOAD_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Cache-Control": "private, no-cache",
}


class AttachmentView(BaseModel):
    """A stored file, as interactions and events refer to it."""

    attachment_id: UUID
    filename: str = Field(description="The name it was given, cleaned to be safe to save.")
    content_type: str = Field(description="Its type, as its content shows when recognised.")
    size: int = Field(description="In bytes.")
    sha256: str = Field(description="The SHA-256 of its bytes, lower-case hex.")

    @classmethod
    def of(cls, attachment: StoredAttachment) -> "AttachmentView":
        return cls(
            attachment_id=attachment.attachment_id,
            filename=attachment.filename,
            content_type=attachment.content_type,
            size=attachment.size,
            sha256=attachment.sha256,
        )


class UploadedAttachments(BaseModel):
    """The files of an upload, in the order they were sent."""

    attachments: list[AttachmentView]


class AttachmentMeta(AttachmentView):
    """A stored file and where it came from."""

    source: str = Field(description="`email`, `web` (a web form) or `agent` (an upload).")
    inline: bool = Field(description="Shown within the body of its mail, not beside it.")
    content_id: str | None = Field(description="How the body of its mail refers to it.")
    mail_id: UUID | None
    interaction_id: UUID | None
    case_id: UUID | None
    uploaded_by: UUID | None = Field(description="The agent who uploaded it.")
    created_at: datetime

    @classmethod
    def of_record(cls, record: AttachmentRecord) -> "AttachmentMeta":
        return cls(
            **AttachmentView.of(record.attachment).model_dump(),
            source=record.source,
            inline=record.inline,
            content_id=record.content_id,
            mail_id=record.mail_id,
            interaction_id=record.interaction_id,
            case_id=record.case_id,
            uploaded_by=record.uploaded_by,
            created_at=record.created_at,
        )


def content_disposition(filename: str) -> str:
    """`attachment` with the name in UTF-8 (RFC 6266, RFC 8187) and an ASCII fallback for the
    clients that know only `filename=`."""
    fallback = "".join(
        char if " " <= char <= "~" and char not in '"\\' else "_"
        for char in unicodedata.normalize("NFKD", filename)
        if not unicodedata.combining(char)
    )
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def router(
    *,
    uow_factory: Callable[[], AttachmentUnitOfWork],
    auth: Authenticator,
    blobs: BlobStore,
    limits: AttachmentLimits,
    clock: Clock,
    max_files: int = MAX_FILES_PER_REQUEST,
) -> APIRouter:
    """Routes of the attachments."""
    api = APIRouter(tags=["attachments"])
    agent_role = auth.requires(Role.AGENT)
    agent = Depends(agent_role)
    max_bytes = max_request_bytes(limits, max_files)

    class TakesUploads(APIRoute):
        """Looks at who calls and what they send before the body is read: the caller first,
        then the media type, then the size, so that nothing large is spooled to disk for a
        caller who may not upload or for a body that is no form."""

        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            handle = super().get_route_handler()

            async def handler(request: Request) -> Response:
                await agent_role(request)
                if media_type_of(request) != MULTIPART:
                    raise Problem(
                        "Send the files as multipart/form-data, each in a `file` field.",
                        status=415,
                    )
                return await handle(within_limit(request, max_bytes=max_bytes, limits=limits))

            return handler

    async def upload_attachments(
        principal: Annotated[Principal, agent],
        file: Annotated[
            list[UploadFile],
            File(description="A file to attach; the field may be repeated for several."),
        ],
        case_id: Annotated[
            UUID | None, Form(description="The case the files are attached to.")
        ] = None,
    ) -> UploadedAttachments:
        """Upload one or more files, for a reply or a case.

        Each file is kept by its content: the same bytes uploaded twice are stored once, under
        two ids. Its name is cleaned (no directories, control characters or names Windows
        refuses) and its type taken from its content where recognised, whatever was declared.
        Either every file of the request is kept or none is."""
        for upload in file:
            check_size(upload.size or 0, limits)
        now = clock.now()
        stored: list[StoredAttachment] = []
        uow = uow_factory()
        async with uow:
            # One file in memory at a time; the form parser spooled the rest to disk.
            for upload in file:
                content = await upload.read()
                stored.append(
                    await store_attachment(
                        content=content,
                        filename=upload.filename,
                        declared_type=upload.content_type,
                        source="agent",
                        case_id=case_id,
                        uploaded_by=principal.agent_id,
                        repository=uow.attachments,
                        blobs=blobs,
                        limits=limits,
                        now=now,
                    )
                )
            await uow.commit()
        return UploadedAttachments(attachments=[AttachmentView.of(item) for item in stored])

    api.add_api_route(
        "/attachments",
        upload_attachments,
        methods=["POST"],
        status_code=201,
        response_model=UploadedAttachments,
        route_class_override=TakesUploads,
        form_limits={"max_files": max_files, "max_fields": 10},
        responses={
            400: {"description": f"More than {max_files} files, or a form that cannot be read."},
            413: {
                "description": f"A file larger than the limit (`max_bytes`), or a request "
                f"larger than {max_files} such files."
            },
            415: {"description": "The body is not multipart/form-data."},
            422: {"description": "No file was sent, or a value is not valid."},
        },
    )

    @api.get(
        "/attachments/{attachment_id}",
        response_class=Response,
        responses={
            200: {
                "description": "The file's bytes, offered for saving under its name.",
                "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
                "headers": {
                    "Content-Disposition": {
                        "description": "`attachment`, with the name in UTF-8 and in ASCII.",
                        "schema": {"type": "string"},
                    },
                    "ETag": {
                        "description": "The SHA-256 of the bytes, quoted.",
                        "schema": {"type": "string"},
                    },
                },
            },
            404: {"description": "No file is stored under this id."},
        },
    )
    async def download_attachment(attachment_id: UUID, _: Annotated[Principal, agent]) -> Response:
        """A stored file's bytes, as its stored type, to be saved rather than shown."""
        found = await read_attachment(attachment_id, uow=uow_factory(), blobs=blobs)
        if found is None:
            raise NotFound(f"There is no attachment {attachment_id}.")
        attachment = found.record.attachment
        return Response(
            content=found.content,
            headers={
                # Given as a header, not as `media_type`, so that no charset is added to a
                # text type: intake does not know the encoding of a file it was sent.
                "Content-Type": attachment.content_type,
                **DOWNLOAD_HEADERS,
                "Content-Disposition": content_disposition(attachment.filename),
                "ETag": f'"{attachment.sha256}"',
            },
        )

    @api.get(
        "/attachments/{attachment_id}/meta",
        response_model=AttachmentMeta,
        responses={404: {"description": "No file is stored under this id."}},
    )
    async def attachment_meta(
        attachment_id: UUID, _: Annotated[Principal, agent]
    ) -> AttachmentMeta:
        """What is known of a stored file: its name, type, size and digest, where it came
        from, and who uploaded it when."""
        record = await find_attachment(attachment_id, uow=uow_factory())
        if record is None:
            raise NotFound(f"There is no attachment {attachment_id}.")
        return AttachmentMeta.of_record(record)

    return api
