"""Reading multipart uploads within limits, for every route that takes files.

A request is refused with 413 before its body is read when its Content-Length already says
it is larger than the most a route takes; without one (chunked), its body is counted as it
comes and refused as soon as it passes that. The files' own limit is checked file by file
once the form is read (`intake.domain.attachments.check_size`).
"""

from fastapi import Request
from starlette.exceptions import HTTPException
from starlette.types import Message, Receive

from caseflow_servicekit import Problem
from intake.domain.attachments import AttachmentLimits

MAX_FILES_PER_REQUEST = 20
MULTIPART_OVERHEAD = 64 * 1024
"""Room for the boundaries, part headers and form fields of a request, beyond its files."""
MULTIPART = "multipart/form-data"


def media_type_of(request: Request) -> str:
    """The `type/subtype` of the request's Content-Type, lower case; "" when it has none."""
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def max_request_bytes(limits: AttachmentLimits, max_files: int) -> int:
    """The largest multipart body a route taking up to `max_files` files accepts."""
    return max_files * (limits.max_bytes + MULTIPART_OVERHEAD)


def within_limit(request: Request, *, max_bytes: int, limits: AttachmentLimits) -> Request:
    """`request` with its body held to `max_bytes`: a 413 problem at once when its
    Content-Length says more, else an HTTPException 413 as soon as more has come."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise Problem(
            f"The request body is larger than {max_bytes} bytes.",
            status=413,
            max_bytes=limits.max_bytes,
        )
    return Request(request.scope, _limited(request.receive, max_bytes))


def _limited(receive: Receive, limit: int) -> Receive:
    received = 0

    async def receive_at_most() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                # An HTTPException is what the form parser lets through unchanged.
                raise HTTPException(413, f"The request body is larger than {limit} bytes.")
        return message

    return receive_at_most
