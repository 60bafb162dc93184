"""The intake HTTP API: the web form and REST intake, and interactions (the customer card:
`customers_http`).

A request is taken in as JSON or, with files, as multipart/form-data: the same fields as form
fields (`parameters` JSON-encoded) and each file in a `files` field. Both are checked by the
same model, so either is refused with the same 422 problem naming the field.
"""

# No `from __future__ import annotations` here: FastAPI reads the `Annotated` dependencies
# of the routes below at definition time, and they refer to locals of `router`.

import json
from collections.abc import Callable, Sequence
from datetime import datetime
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Header, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints, ValidationError
from starlette.datastructures import FormData, UploadFile

from caseflow_servicekit import Authenticator, Clock, NotFound, Principal, Problem, Role
from caseflow_servicekit.edge import Text
from intake.adapters.uow import SqlIntakeUnitOfWork
from intake.app.attachments import BlobStore
from intake.app.handlers import (
    Accepted,
    AdmitSubmission,
    IdempotencyKey,
    SubmitRequest,
    UploadedFile,
    admit_submission,
    submit_request,
)
from intake.app.ports import RateLimitCounter
from intake.domain.attachments import AttachmentLimits, check_size
from intake.domain.idempotency import MAX_KEY_LENGTH
from intake.domain.interactions import (
    MAX_BODY_LENGTH,
    MAX_PARAMETERS,
    MAX_SUBJECT_LENGTH,
    Channel,
    Interaction,
    submission_channel,
)
from intake.domain.rate_limits import RateLimits
from intake.entrypoints.uploads import (
    MAX_FILES_PER_REQUEST,
    MULTIPART,
    max_request_bytes,
    media_type_of,
    within_limit,
)

ParameterName = Annotated[Text, StringConstraints(min_length=1, max_length=100)]
ParameterValue = Annotated[Text, StringConstraints(max_length=2000)]


class WebSubmission(BaseModel):
    """A request as the web form or a REST client sends it."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[Text, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    email: EmailStr
    phone: Annotated[Text, StringConstraints(max_length=50)] | None = None
    subject: Annotated[
        Text, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_SUBJECT_LENGTH)
    ]
    body: Annotated[Text, StringConstraints(max_length=MAX_BODY_LENGTH)]
    request_type: Annotated[Text, StringConstraints(min_length=1, max_length=200)] | None = None
    parameters: dict[ParameterName, ParameterValue] = Field(
        default_factory=dict, max_length=MAX_PARAMETERS
    )
    locale: Annotated[Text, StringConstraints(max_length=35)] | None = None
    channel: Literal["phone", "email", "letter", "visit", "api"] | None = Field(
        default=None,
        description="How the request came in, named by an agent taking it down (a call, a "
        "letter, a visit); `api` when left out. A web form's key cannot name one: it is the web.",
    )


class InteractionAccepted(BaseModel):
    """The answer to a request taken in."""

    interaction_id: UUID
    contact_id: UUID
    account_id: UUID | None
    first_contact: bool
    status: Literal["accepted"] = "accepted"

    @classmethod
    def of(cls, accepted: Accepted) -> "InteractionAccepted":
        return cls(
            interaction_id=accepted.interaction_id,
            contact_id=accepted.contact_id,
            account_id=accepted.account_id,
            first_contact=accepted.first_contact,
        )


class InteractionView(BaseModel):
    """An interaction as the API shows it."""

    interaction_id: UUID
    channel: str
    contact_id: UUID
    account_id: UUID | None
    first_contact: bool
    subject: str
    body: str
    request_type: str | None
    parameters: dict[str, str]
    follow_up_of: str | None
    language: str | None
    submission_id: UUID | None
    received_at: datetime

    @classmethod
    def of(cls, interaction: Interaction) -> "InteractionView":
        return cls(
            interaction_id=interaction.interaction_id,
            channel=interaction.channel.value,
            contact_id=interaction.contact_id,
            account_id=interaction.account_id,
            first_contact=interaction.first_contact,
            subject=interaction.subject,
            body=interaction.body,
            request_type=interaction.request_type,
            parameters=dict(interaction.parameters),
            follow_up_of=interaction.follow_up_of,
            language=interaction.language,
            submission_id=interaction.submission_id,
            received_at=interaction.received_at,
        )


FILES_FIELD = "files"
JSON = "application/json"


def request_bodies(max_files: int) -> dict[str, Any]:
    """What `POST /web-submissions` takes, for its OpenAPI operation: the route reads its body
    itself (JSON or a form, by its media type), so FastAPI cannot document it."""
    schema = WebSubmission.model_json_schema()
    # From a schema of their own: the document must not hold one dict in two places.
    fields = {
        name: _as_form_field(name, value)
        for name, value in WebSubmission.model_json_schema()["properties"].items()
    }
    form = {
        "title": "WebSubmissionForm",
        "description": "A request with files, as a web form sends it: the fields of a "
        "WebSubmission, and each file in a `files` field.",
        "type": "object",
        "properties": {
            **fields,
            FILES_FIELD: {
                "type": "array",
                "items": {"type": "string", "contentMediaType": "application/octet-stream"},
                "maxItems": max_files,
                "description": "A file sent with the request, of any type; the field may be "
                f"repeated, up to {max_files} files. Each is kept under a cleaned name, as the "
                "type its content shows.",
            },
        },
        "required": schema.get("required", []),
        "additionalProperties": False,
    }
    return {
        "requestBody": {
            "required": True,
            "content": {
                JSON: {"schema": schema},
                MULTIPART: {"schema": form, "encoding": {"parameters": {"contentType": JSON}}},
            },
        }
    }


def _as_form_field(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    if name == "parameters":
        return {
            "type": "string",
            "contentMediaType": JSON,
            "contentSchema": schema,
            "title": schema.get("title", name),
            "description": "The parameters as one JSON object of texts.",
        }
    # A form cannot send null: an optional field is left out, or left empty.
    branches = [branch for branch in schema.get("anyOf", []) if branch.get("type") != "null"]
    if len(branches) != 1:
        return schema
    described = {key: value for key, value in schema.items() if key != "anyOf"}
    return {**branches[0], **described}


def _checked(values: object, *, errors: Sequence[dict[str, Any]] = ()) -> WebSubmission:
    """`values` as a submission; a RequestValidationError (422) naming each field at fault,
    those of `errors` (found while reading the body) first."""
    found = list(errors)
    try:
        submission = WebSubmission.model_validate(values)
    except ValidationError as error:
        found += [{**e, "loc": ("body", *e["loc"])} for e in error.errors(include_url=False)]
    if found:
        raise RequestValidationError(found)
    return submission


async def _json_submission(request: Request) -> WebSubmission:
    """The submission a JSON body holds, refused as FastAPI refuses a JSON body."""
    body = await request.body()
    if not body:
        missing = {"type": "missing", "loc": ("body",), "msg": "Field required", "input": None}
        raise RequestValidationError([missing])
    try:
        values = json.loads(body)
    except json.JSONDecodeError as error:
        invalid = {
            "type": "json_invalid",
            "loc": ("body", error.pos),
            "msg": "JSON decode error",
            "input": {},
            "ctx": {"error": error.msg},
        }
        raise RequestValidationError([invalid]) from None
    except (ValueError, RecursionError):
        invalid = {"type": "json_invalid", "loc": ("body",), "msg": "JSON decode error"}
        raise RequestValidationError([invalid]) from None
    return _checked(values)


def _form_submission(form: FormData) -> tuple[WebSubmission, list[UploadFile]]:
    """The submission and the files a form holds."""
    values: dict[str, Any] = {}
    files: list[UploadFile] = []
    errors: list[dict[str, Any]] = []
    for index, upload in enumerate(form.getlist(FILES_FIELD)):
        # A browser sends a part without a filename or bytes for a file input left empty; an
        # empty part is no file, however it is sent.
        if isinstance(upload, str):
            if upload:
                errors.append(
                    {
                        "type": "file_expected",
                        "loc": ("body", FILES_FIELD, index),
                        "msg": "A file was expected, not a text field.",
                    }
                )
        elif upload.filename or upload.size:
            files.append(upload)
    for name, value in form.multi_items():
        if name == FILES_FIELD:
            continue
        field = WebSubmission.model_fields.get(name)
        # A form sends every field, those left empty too: an empty optional field is left out.
        if value == "" and field is not None and not field.is_required():
            continue
        values[name] = value
    parameters = values.get("parameters")
    if isinstance(parameters, str):
        try:
            values["parameters"] = json.loads(parameters)
        except (ValueError, RecursionError):
            del values["parameters"]
            errors.append(
                {
                    "type": "json_invalid",
                    "loc": ("body", "parameters"),
                    "msg": "The parameters must be a JSON object, JSON-encoded.",
                }
            )
    return _checked(values, errors=errors), files


IPNetwork = IPv4Network | IPv6Network


def client_address(
    peer: str | None, forwarded_for: Sequence[str], trusted_proxies: Sequence[IPNetwork]
) -> str:
    """The address a request came from: its peer's, or, when the peer is a trusted proxy, the
    right-most address in X-Forwarded-For that is not a trusted proxy itself.

    Each proxy appends the address it was called from, so the entries right of the client are
    the proxies' own; whatever is left of it the client may have written, and is ignored.
    """
    address = _ip(peer)
    if address is None:
        return peer or "unknown"
    hops = [hop.strip() for header in forwarded_for for hop in header.split(",")]
    while _is_trusted(address, trusted_proxies) and hops:
        hop = _ip(hops.pop())
        if hop is None:
            # No proxy of ours writes that; the proxy that passed it on is what is known.
            break
        address = hop
    return str(address)


def _ip(text: str | None) -> IPv4Address | IPv6Address | None:
    try:
        address = ip_address((text or "").strip())
    except ValueError:
        return None
    # An IPv4 client seen through a dual-stack socket is the same client.
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _is_trusted(address: IPv4Address | IPv6Address, proxies: Sequence[IPNetwork]) -> bool:
    return any(address in network for network in proxies)


def router(
    *,
    uow_factory: Callable[[], SqlIntakeUnitOfWork],
    auth: Authenticator,
    clock: Clock,
    rate_limit_counter: RateLimitCounter,
    rate_limits: RateLimits,
    blobs: BlobStore,
    limits: AttachmentLimits,
    trusted_proxies: Sequence[IPNetwork] = (),
    phone_region: str | None = None,
    max_files: int = MAX_FILES_PER_REQUEST,
) -> APIRouter:
    """Routes for taking requests in and reading interactions; the senders' numbers are read
    in `phone_region` when national, and the files sent with a request kept in `blobs`, up to
    `max_files` of them, each within `limits`."""
    api = APIRouter()
    submitter = Depends(auth.requires(Role.CHANNEL, Role.AGENT))
    agent = Depends(auth.requires(Role.AGENT))
    proxies = tuple(trusted_proxies)
    max_bytes = max_request_bytes(limits, max_files)
    # Each field once, and room for text sent where files belong, to be refused by name.
    max_fields = len(WebSubmission.model_fields) + max_files

    async def submission_of(request: Request) -> tuple[WebSubmission, tuple[UploadedFile, ...]]:
        """What the request sends, by its media type; no Content-Type is read as JSON, as the
        edge guard reads it."""
        media = media_type_of(request)
        if media in ("", JSON) or (media.startswith("application/") and media.endswith("+json")):
            return await _json_submission(request), ()
        if media != MULTIPART:
            raise Problem(
                "Send the request as application/json, or with files as multipart/form-data.",
                status=415,
            )
        bounded = within_limit(request, max_bytes=max_bytes, limits=limits)
        async with bounded.form(max_files=max_files, max_fields=max_fields) as form:
            submission, uploads = _form_submission(form)
            for upload in uploads:
                check_size(upload.size or 0, limits)
            # The form parser spooled large files to disk; now they are read, one by one.
            files = tuple(
                [
                    UploadedFile(
                        content=await upload.read(),
                        filename=upload.filename,
                        declared_type=upload.content_type,
                    )
                    for upload in uploads
                ]
            )
        return submission, files

    async def within_rate_limits(
        request: Request, principal: Annotated[Principal, submitter]
    ) -> None:
        """Count the request against its address's and channel key's limits, before anything
        else is done with it; RateLimited (429) once one is spent."""
        peer = request.client.host if request.client is not None else None
        address = client_address(peer, request.headers.getlist("x-forwarded-for"), proxies)
        await admit_submission(
            AdmitSubmission(address=address, channel=principal.channel),
            counter=rate_limit_counter,
            limits=rate_limits,
            now=clock.now(),
        )

    @api.post(
        "/web-submissions",
        status_code=202,
        response_model=InteractionAccepted,
        tags=["intake"],
        dependencies=[Depends(within_rate_limits)],
        openapi_extra=request_bodies(max_files),
        responses={
            400: {"description": f"More than {max_files} files, or a form that cannot be read."},
            409: {"description": "The Idempotency-Key was used for another payload."},
            413: {
                "description": "A file larger than the limit (`max_bytes`), or a body larger "
                "than a request may be."
            },
            415: {"description": "The body is neither JSON nor multipart/form-data."},
            422: {
                "description": "The request is not valid: a field, a channel the caller may not "
                "name, a request type the catalogue does not offer, or parameters that do not fit "
                "its form; `errors` names each field."
            },
            429: {
                "description": "Too many requests from this address or under this channel key.",
                "headers": {
                    "Retry-After": {
                        "description": "Whole seconds until the caller may try again.",
                        "schema": {"type": "integer"},
                    }
                },
            },
        },
    )
    async def submit_web_request(
        request: Request,
        principal: Annotated[Principal, submitter],
        idempotency_key: Annotated[
            str | None,
            Header(alias="Idempotency-Key", min_length=1, max_length=MAX_KEY_LENGTH),
        ] = None,
    ) -> InteractionAccepted:
        """Take a customer's request in, as JSON or, with files, as multipart/form-data; a
        repeat under the same Idempotency-Key is answered as the first and changes nothing.

        With a `request_type`, the type must be one the catalogue offers and `parameters` must
        answer its form: the interaction carries them normalised. Without one, parameters are
        free. Files may be of any type, each within the size limit (`max_bytes` in a 413): each
        is kept under a cleaned name, as the type its content shows, and the interaction refers
        to them."""
        # Read only now, after the caller and the rate limits were checked.
        submission, files = await submission_of(request)
        # A channel's key means the public web form; a person's token, the REST intake.
        channel = submission_channel(
            by_channel_key=principal.channel is not None,
            named=None if submission.channel is None else Channel(submission.channel),
        )
        accepted = await submit_request(
            SubmitRequest(
                channel=channel,
                name=submission.name,
                email=str(submission.email),
                phone=submission.phone,
                subject=submission.subject,
                body=submission.body,
                request_type=submission.request_type,
                parameters=submission.parameters,
                locale=submission.locale,
                files=files,
            ),
            uow=uow_factory(),
            now=clock.now(),
            region=phone_region,
            blobs=blobs,
            limits=limits,
            idempotency=None
            if idempotency_key is None
            else IdempotencyKey(owner=principal.subject, key=idempotency_key),
        )
        return InteractionAccepted.of(accepted)

    @api.get("/interactions/{interaction_id}", response_model=InteractionView, tags=["intake"])
    async def get_interaction(
        interaction_id: UUID, _: Annotated[Principal, agent]
    ) -> InteractionView:
        """One received interaction."""
        async with uow_factory() as uow:
            interaction = await uow.interactions.get(interaction_id)
        if interaction is None:
            raise NotFound(f"There is no interaction {interaction_id}.")
        return InteractionView.of(interaction)

    return api
