"""The intake HTTP API: the web form and REST intake, and interactions (the customer card:
`customers_http`)."""

# No `from __future__ import annotations` here: FastAPI reads the `Annotated` dependencies
# of the routes below at definition time, and they refer to locals of `router`.

from collections.abc import Callable, Sequence
from datetime import datetime
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address
from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Header, Request
from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints

from caseflow_servicekit import Authenticator, Clock, NotFound, Principal, Role
from caseflow_servicekit.edge import Text
from intake.adapters.uow import SqlIntakeUnitOfWork
from intake.app.handlers import (
    Accepted,
    AdmitSubmission,
    IdempotencyKey,
    SubmitRequest,
    admit_submission,
    submit_request,
)
from intake.app.ports import RateLimitCounter
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
    trusted_proxies: Sequence[IPNetwork] = (),
    phone_region: str | None = None,
) -> APIRouter:
    """Routes for taking requests in and reading interactions; the senders' numbers are read
    in `phone_region` when national."""
    api = APIRouter()
    submitter = Depends(auth.requires(Role.CHANNEL, Role.AGENT))
    agent = Depends(auth.requires(Role.AGENT))
    proxies = tuple(trusted_proxies)

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
        responses={
            409: {"description": "The Idempotency-Key was used for another payload."},
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
        submission: WebSubmission,
        principal: Annotated[Principal, submitter],
        idempotency_key: Annotated[
            str | None,
            Header(alias="Idempotency-Key", min_length=1, max_length=MAX_KEY_LENGTH),
        ] = None,
    ) -> InteractionAccepted:
        """Take a customer's request in; a repeat under the same Idempotency-Key is answered
        as the first and changes nothing.

        With a `request_type`, the type must be one the catalogue offers and `parameters` must
        answer its form: the interaction carries them normalised. Without one, parameters are
        free."""
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
            ),
            uow=uow_factory(),
            now=clock.now(),
            region=phone_region,
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
