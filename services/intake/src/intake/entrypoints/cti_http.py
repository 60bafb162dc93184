"""The phone channel's HTTP API: the CTI webhook, the screen-pop of a call, the screen-pop
stream an agent's console keeps open, and the telephony events the webhook refused."""

# No `from __future__ import annotations` here: FastAPI reads the `Annotated` dependencies
# of the routes below at definition time, and they refer to locals of `router`.

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Coroutine
from datetime import date, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Body, Depends, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import StreamingResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

import caseflow_contracts as c
from caseflow_servicekit import Authenticator, Clock, NotFound, Principal, Role
from caseflow_servicekit.edge import Limit, Offset, Text
from intake.adapters.calls import signal_of
from intake.adapters.screen_pops import PgScreenPopHub
from intake.adapters.uow import SqlIntakeUnitOfWork
from intake.app.calls import (
    AccountCard,
    CallRules,
    CaseLine,
    ContactCard,
    RejectedEvent,
    ScreenPop,
    apply_call_signal,
    reject_event,
    rejected_events,
    screen_pop,
    sit_at_extension,
)
from intake.domain.calls import (
    MAX_CALL_ID_LENGTH,
    MAX_EXTENSION_LENGTH,
    Call,
    CallRejected,
    checked,
)
from intake.domain.contract_copies import (
    ContractCopy,
)

MAX_NUMBER_LENGTH = 500
"""The longest phone number the webhook takes; longer ones are kept cut, as the switch's."""
MAX_EVENTS_PER_REQUEST = 100
MAX_REJECTED_BODY = 65_536
"""How much of a refused request is kept to look at."""

CallId = Annotated[Text, StringConstraints(min_length=1, max_length=MAX_CALL_ID_LENGTH)]
Extension = Annotated[Text, StringConstraints(min_length=1, max_length=MAX_EXTENSION_LENGTH)]
Number = Annotated[Text, StringConstraints(max_length=MAX_NUMBER_LENGTH)]
# As an event names it: empty, as some switches send it, is no extension.
EventExtension = Annotated[Text, StringConstraints(max_length=MAX_EXTENSION_LENGTH)]
State = Literal["ringing", "answered", "ended", "missed"]
MatchName = Literal["contact", "account", "candidates", "unknown"]


# -- the webhook's body: the contract's events, with the limits of the edge -------------------


class _AtTheEdge(BaseModel):
    call_id: CallId = Field(
        description="The switch's own id of the call, the same in every event about it."
    )
    caller_number: Number = Field(
        description="The calling number exactly as the switch gave it, national or "
        "international; empty when withheld. Intake reads it into E.164."
    )
    dialled_number: Number = Field(description="The number the caller dialled.")
    agent_extension: EventExtension | None = Field(
        default=None,
        description="The extension the call rings at, was answered at, moved to or ended at; "
        "null while it rings at a queue.",
    )


def _sample(event_type: str) -> dict[str, Any]:
    sample: dict[str, Any] = c.sample(event_type).model_dump(mode="json")
    return sample


class CtiCallRinging(_AtTheEdge, c.CallRinging):
    model_config = ConfigDict(title="call.ringing")


class CtiCallAnswered(_AtTheEdge, c.CallAnswered):
    model_config = ConfigDict(title="call.answered")


class CtiCallEnded(_AtTheEdge, c.CallEnded):
    model_config = ConfigDict(title="call.ended")


class CtiCallMissed(_AtTheEdge, c.CallMissed):
    model_config = ConfigDict(title="call.missed")


class CtiCallTransferred(_AtTheEdge, c.CallTransferred):
    model_config = ConfigDict(title="call.transferred")
    from_extension: EventExtension | None = None


CtiEvent = Annotated[
    CtiCallRinging | CtiCallAnswered | CtiCallEnded | CtiCallMissed | CtiCallTransferred,
    Field(discriminator="type"),
]
CtiEvents = Annotated[list[CtiEvent], Field(min_length=1, max_length=MAX_EVENTS_PER_REQUEST)]

WEBHOOK_EXAMPLES: dict[str, dict[str, Any]] = {
    **{
        event_type: {"summary": summary, "value": _sample(event_type)}
        for event_type, summary in (
            ("call.ringing", "A call rings (at a queue: no extension yet)"),
            ("call.answered", "An agent picks it up at extension 2417"),
            ("call.transferred", "It moves to another extension"),
            ("call.ended", "It is hung up"),
            ("call.missed", "No one picked it up"),
        )
    },
    "several": {
        "summary": "Several events in one request, applied in order",
        "value": [_sample("call.ringing"), _sample("call.answered")],
    },
}


class CallAck(BaseModel):
    """A call as it stands once an event was applied."""

    call_id: str
    state: State
    match: MatchName | None


class CtiEventsAccepted(BaseModel):
    """The answer to telephony events taken in."""

    accepted: int
    calls: list[CallAck]


# -- what the screen-pop shows -----------------------------------------------------------------


class CallView(BaseModel):
    """A call as intake knows it."""

    call_id: str
    state: State
    caller_number: str
    caller_e164: str | None
    dialled_number: str
    extension: str | None
    agent_id: UUID | None
    ringing_at: datetime | None
    answered_at: datetime | None
    ended_at: datetime | None
    duration_seconds: int | None
    timed_out: bool
    interaction_id: UUID | None

    @classmethod
    def of(cls, call: Call) -> "CallView":
        return cls(
            call_id=call.call_id,
            state=call.state.value,
            caller_number=call.caller_number,
            caller_e164=call.caller_e164,
            dialled_number=call.dialled_number,
            extension=call.extension,
            agent_id=call.agent_id,
            ringing_at=call.ringing_at,
            answered_at=call.answered_at,
            ended_at=call.ended_at,
            duration_seconds=call.duration_seconds if call.recorded else None,
            timed_out=call.timed_out,
            interaction_id=call.interaction_id,
        )


class CallerContact(BaseModel):
    """The caller's contact card."""

    contact_id: UUID
    name: str
    account_id: UUID | None
    position: str | None
    language: str | None
    emails: list[str]
    phones: list[str]

    @classmethod
    def of(cls, card: ContactCard) -> "CallerContact":
        return cls(
            contact_id=card.contact_id,
            name=card.name,
            account_id=card.account_id,
            position=card.position,
            language=card.language,
            emails=sorted(card.emails),
            phones=sorted(card.phones),
        )


class CallerAccount(BaseModel):
    """The caller's organisation."""

    account_id: UUID
    name: str
    tier: str | None
    region: str | None
    owner_id: UUID | None
    credit_hold: bool
    credit_hold_reason: str | None

    @classmethod
    def of(cls, card: AccountCard) -> "CallerAccount":
        return cls(**vars(card))


class CallerCase(BaseModel):
    """One of the caller's cases."""

    case_id: UUID
    number: str
    subject: str
    status: str
    opened_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None

    @classmethod
    def of(cls, case: CaseLine) -> "CallerCase":
        return cls(**vars(case))


class CallerContractLine(BaseModel):
    """A contract line: what it allots and what is left of it."""

    line_id: UUID
    number: int
    name: str
    allocation: str
    allotment: int
    remaining: int


class CallerContract(BaseModel):
    """One of the account's service contracts."""

    contract_id: UUID
    number: str
    name: str
    status: str
    starts_on: date | None
    ends_on: date | None
    lines: list[CallerContractLine]

    @classmethod
    def of(cls, contract: ContractCopy) -> "CallerContract":
        return cls(
            contract_id=contract.contract_id,
            number=contract.number,
            name=contract.name,
            status=contract.status,
            starts_on=contract.starts_on,
            ends_on=contract.ends_on,
            lines=[
                CallerContractLine(
                    line_id=line.line_id,
                    number=line.number,
                    name=line.name,
                    allocation=line.allocation,
                    allotment=line.allotment,
                    remaining=line.remaining,
                )
                for line in contract.lines
            ],
        )


class ScreenPopCard(BaseModel):
    """What the agent sees when a call rings: the call, who calls (a contact, an account whose
    people share the number, candidates, or no one known), the caller's open and recent cases
    and the account's contracts with what is left of each line."""

    call: CallView
    match: MatchName | None
    first_contact: bool = Field(
        description="The caller never wrote or called before (or no one on file has the number)."
    )
    contact: CallerContact | None
    account: CallerAccount | None
    candidates: list[CallerContact]
    open_cases: list[CallerCase]
    recent_cases: list[CallerCase]
    contracts: list[CallerContract]

    @classmethod
    def of(cls, pop: ScreenPop) -> "ScreenPopCard":
        call = pop.call
        return cls(
            call=CallView.of(call),
            match=None if call.match is None else call.match.value,
            first_contact=call.first_contact,
            contact=None if pop.contact is None else CallerContact.of(pop.contact),
            account=None if pop.account is None else CallerAccount.of(pop.account),
            candidates=[CallerContact.of(card) for card in pop.candidates],
            open_cases=[CallerCase.of(case) for case in pop.open_cases],
            recent_cases=[CallerCase.of(case) for case in pop.recent_cases],
            contracts=[CallerContract.of(contract) for contract in pop.contracts],
        )


class RejectedView(BaseModel):
    """A telephony event the webhook refused, as it came, with why."""

    rejected_id: UUID
    received_at: datetime
    source: str
    body: str
    error: str

    @classmethod
    def of(cls, rejected: RejectedEvent) -> "RejectedView":
        return cls(**vars(rejected))


class RejectedPage(BaseModel):
    items: list[RejectedView]
    total: int
    limit: int
    offset: int


class EventStreamResponse(StreamingResponse):
    media_type = "text/event-stream"


SSE_EXAMPLE = (
    ": screen-pops for extension 2417\n\n"
    "event: screen-pop\nid: 1716205512.4471@pbx-ams-01\n"
    'data: {"call": {"call_id": "1716205512.4471@pbx-ams-01", "state": "ringing", ...}, '
    '"match": "contact", ...}\n\n'
    ": keep-alive\n\n"
)


def router(
    *,
    uow_factory: Callable[[], SqlIntakeUnitOfWork],
    auth: Authenticator,
    clock: Clock,
    rules: CallRules,
    hub: PgScreenPopHub,
    keepalive_seconds: float = 15.0,
) -> APIRouter:
    """Routes of the phone channel."""
    api = APIRouter(tags=["phone"])
    channel_key = auth.requires(Role.CHANNEL)
    channel = Depends(channel_key)
    agent = Depends(auth.requires(Role.AGENT))
    supervisor = Depends(auth.requires(Role.SUPERVISOR))

    async def keep_refused(request: Request, principal: Principal, error: str) -> None:
        body = (await request.body())[:MAX_REJECTED_BODY].decode("utf-8", "replace")
        await reject_event(
            source=f"webhook:{principal.channel or principal.subject}",
            body=body.replace("\x00", "\ufffd"),
            error=error[:4000],
            uow=uow_factory(),
            now=clock.now(),
        )

    class KeepsRefusedEvents(APIRoute):
        """Keeps what the webhook refuses, for someone to look at, before answering 422."""

        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            handle = super().get_route_handler()

            async def handler(request: Request) -> Response:
                # The caller is known before its body is looked at: nothing is kept from
                # someone without a channel's key.
                principal = await channel_key(request)
                try:
                    return await handle(request)
                except RequestValidationError as exc:
                    errors = [
                        {"loc": list(e.get("loc", ())), "msg": e.get("msg"), "type": e.get("type")}
                        for e in exc.errors()
                    ]
                    await keep_refused(request, principal, json.dumps(errors, default=str))
                    raise
                except CallRejected as exc:
                    await keep_refused(request, principal, str(exc))
                    raise

            return handler

    async def receive_cti_events(
        events: Annotated[CtiEvent | CtiEvents, Body(openapi_examples=WEBHOOK_EXAMPLES)],
        _: Annotated[Principal, channel],
    ) -> CtiEventsAccepted:
        """Take in what the telephone switch says about calls: one event, or several in
        order.

        The events are those of the `channels.cti.v1` topic, with the same payloads; either way
        may be used, or both. Events about one call (the same `call_id`) may come in any order
        and more than once: they are merged into one call. When a call rings at an extension,
        the agent whose console listens there is shown the caller (`GET /screen-pops/stream`);
        once it ended or was missed it is recorded as an interaction with the caller. A call
        never ended is closed after `INTAKE_CALL_TIMEOUT_SECONDS`.

        An event that cannot be read is answered 422 and kept (`GET /cti/rejected`)."""
        batch = events if isinstance(events, list) else [events]
        # Every event is checked before any is applied: a refusal applies nothing.
        signals = [checked(signal_of(event)) for event in batch]
        applied = [
            await apply_call_signal(signal, uow=uow_factory(), rules=rules, now=clock.now())
            for signal in signals
        ]
        return CtiEventsAccepted(
            accepted=len(applied),
            calls=[
                CallAck(
                    call_id=call.call_id,
                    state=call.state.value,
                    match=None if call.match is None else call.match.value,
                )
                for call in applied
            ],
        )

    api.add_api_route(
        "/cti/events",
        receive_cti_events,
        methods=["POST"],
        status_code=202,
        response_model=CtiEventsAccepted,
        route_class_override=KeepsRefusedEvents,
        responses={
            422: {
                "description": "An event that is not JSON, of no known type, or that breaks "
                "the contract (a field missing or too long): nothing of the request is applied, "
                "and it is kept for inspection."
            }
        },
    )

    @api.get(
        "/calls/{call_id:path}",
        response_model=ScreenPopCard,
        responses={404: {"description": "Intake has not heard of this call."}},
    )
    async def get_call(
        call_id: Annotated[str, Path(min_length=1, max_length=MAX_CALL_ID_LENGTH)],
        _: Annotated[Principal, agent],
    ) -> ScreenPopCard:
        """A call's screen-pop: the call, who calls, their cases and their contracts."""
        pop = await screen_pop(call_id, uow=uow_factory())
        if pop is None:
            raise NotFound(f"There is no call {call_id}.")
        return ScreenPopCard.of(pop)

    @api.get(
        "/screen-pops/stream",
        response_class=EventStreamResponse,
        responses={
            200: {
                "description": "Server-Sent Events: `event: screen-pop`, `id:` the call id, "
                "`data:` the screen-pop as JSON (as `GET /calls/{call_id}` answers); a comment "
                "line as keep-alive every 15 seconds.",
                "content": {
                    "text/event-stream": {"schema": {"type": "string"}, "example": SSE_EXAMPLE}
                },
            }
        },
    )
    async def stream_screen_pops(
        extension: Annotated[Extension, Query(description="The extension the agent sits at.")],
        principal: Annotated[Principal, agent],
    ) -> EventStreamResponse:
        """The screen-pops of the calls that ring at (or are answered at, or are transferred
        to) an extension, for an agent's console or softphone to keep open.

        Opening it says the caller sits at that extension: the calls answered there are
        theirs. The first line is a comment; the stream stays open until the client leaves."""
        await sit_at_extension(
            extension=extension, agent_id=principal.agent_id, uow=uow_factory(), now=clock.now()
        )
        return EventStreamResponse(
            _screen_pops(extension),
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    async def _screen_pops(extension: str) -> AsyncIterator[str]:
        async with hub.watch(extension) as popped:
            yield f": screen-pops for extension {extension}\n\n"
            while True:
                try:
                    async with asyncio.timeout(keepalive_seconds):
                        call_id = await popped.get()
                except TimeoutError:
                    yield ": keep-alive\n\n"
                    continue
                pop = await screen_pop(call_id, uow=uow_factory())
                if pop is None:
                    continue
                card = ScreenPopCard.of(pop).model_dump_json()
                yield f"event: screen-pop\nid: {call_id}\ndata: {card}\n\n"

    @api.get("/cti/rejected", response_model=RejectedPage)
    async def list_rejected(
        _: Annotated[Principal, supervisor],
        limit: Annotated[Limit, Query()] = 50,
        offset: Annotated[Offset, Query()] = 0,
    ) -> RejectedPage:
        """The telephony events the webhook refused, newest first, as they came and why."""
        items, total = await rejected_events(uow=uow_factory(), limit=limit, offset=offset)
        return RejectedPage(
            items=[RejectedView.of(item) for item in items],
            total=total,
            limit=limit,
            offset=offset,
        )

    return api
