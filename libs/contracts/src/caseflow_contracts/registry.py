"""Every Caseflow event type, the per-topic unions, and reading and writing payloads."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Annotated, Any, get_args

from pydantic import Field, ValidationError

from caseflow_contracts.base import Event
from caseflow_contracts.cases import (
    ActivityLogged,
    CaseCancelled,
    CaseEntitlementChanged,
    CaseEscalated,
    CaseOpened,
    CaseReopened,
    CaseResolved,
    CaseStatusChanged,
    CaseUpdated,
    CatalogueDecisionDefined,
    CatalogueRequestTypeDefined,
    DecisionRecorded,
)
from caseflow_contracts.channels import (
    CallAnswered,
    CallEnded,
    CallMissed,
    CallRinging,
    CallTransferred,
    WebSubmitted,
)
from caseflow_contracts.customers import (
    AccountChanged,
    AccountRegistered,
    CallFinished,
    CallIdentified,
    ContactChanged,
    ContactErased,
    ContactMerged,
    ContactRegistered,
)
from caseflow_contracts.entitlements import (
    ContractActivated,
    ContractAllotmentExhausted,
    ContractAllotmentLow,
    ContractCancelled,
    ContractCreated,
    ContractEndingSoon,
    ContractExpired,
    ContractHeld,
    ContractLineDrawnDown,
    ContractLineRestored,
    ContractRenewed,
    ContractResumed,
    ContractUpdated,
)
from caseflow_contracts.errors import InvalidPayload, UnknownEventType
from caseflow_contracts.intake import (
    InteractionReceived,
    InteractionRequested,
    NotificationRequested,
)
from caseflow_contracts.knowledge import (
    ArticleArchived,
    ArticleLinked,
    ArticlePublished,
    ArticleSent,
    ArticlesSuggested,
    ArticleVersioned,
)
from caseflow_contracts.messages import MessageBounced, MessageFailed, MessageSent
from caseflow_contracts.routing import (
    AgentChanged,
    AgentPresenceChanged,
    AgentRegistered,
    CaseAssigned,
    CaseDequeued,
    CaseQueued,
    CaseReleased,
    CaseTransferred,
)
from caseflow_contracts.scheduling import BookingCancelled, BookingConfirmed, BookingRescheduled
from caseflow_contracts.sla import (
    KpiBreached,
    KpiCancelled,
    KpiEscalated,
    KpiNearingBreach,
    KpiPaused,
    KpiReEvaluated,
    KpiResumed,
    KpiStarted,
    KpiSucceeded,
)
from caseflow_contracts.topics import (
    CASES,
    CATALOGUE,
    CHANNELS_CTI,
    CHANNELS_WEB,
    CONTRACTS,
    INTAKE_CALLS,
    INTAKE_CUSTOMERS,
    INTAKE_INTERACTIONS,
    INTAKE_MESSAGES,
    INTAKE_NOTIFICATIONS,
    INTAKE_REQUESTS,
    KNOWLEDGE,
    ROUTING,
    ROUTING_AGENTS,
    SCHEDULING,
    SLA,
    TOPIC_EVENTS,
    event_type_of,
)

# One discriminated union per topic, for subscribers: the payload's ``type`` picks the model.
WebEvent = Annotated[WebSubmitted, Field(discriminator="type")]
CallEvent = Annotated[
    CallRinging | CallAnswered | CallEnded | CallMissed | CallTransferred,
    Field(discriminator="type"),
]
CustomerEvent = Annotated[
    AccountRegistered
    | AccountChanged
    | ContactRegistered
    | ContactChanged
    | ContactMerged
    | ContactErased,
    Field(discriminator="type"),
]
CallRecordEvent = Annotated[CallIdentified | CallFinished, Field(discriminator="type")]
InteractionEvent = Annotated[InteractionReceived, Field(discriminator="type")]
NotificationEvent = Annotated[NotificationRequested, Field(discriminator="type")]
RequestEvent = Annotated[InteractionRequested, Field(discriminator="type")]
MessageEvent = Annotated[MessageSent | MessageFailed | MessageBounced, Field(discriminator="type")]
CaseEvent = Annotated[
    CaseOpened
    | CaseUpdated
    | CaseStatusChanged
    | ActivityLogged
    | CaseResolved
    | CaseReopened
    | CaseCancelled
    | CaseEscalated
    | DecisionRecorded
    | CaseEntitlementChanged,
    Field(discriminator="type"),
]
CatalogueEvent = Annotated[
    CatalogueRequestTypeDefined | CatalogueDecisionDefined, Field(discriminator="type")
]
ContractEvent = Annotated[
    ContractCreated
    | ContractUpdated
    | ContractActivated
    | ContractHeld
    | ContractResumed
    | ContractExpired
    | ContractCancelled
    | ContractRenewed
    | ContractEndingSoon
    | ContractLineDrawnDown
    | ContractLineRestored
    | ContractAllotmentLow
    | ContractAllotmentExhausted,
    Field(discriminator="type"),
]
QueueItemEvent = Annotated[
    CaseQueued | CaseAssigned | CaseReleased | CaseTransferred | CaseDequeued,
    Field(discriminator="type"),
]
AgentEvent = Annotated[
    AgentRegistered | AgentChanged | AgentPresenceChanged, Field(discriminator="type")
]
KpiEvent = Annotated[
    KpiStarted
    | KpiPaused
    | KpiReEvaluated
    | KpiResumed
    | KpiNearingBreach
    | KpiBreached
    | KpiSucceeded
    | KpiCancelled
    | KpiEscalated,
    Field(discriminator="type"),
]
ArticleEvent = Annotated[
    ArticlePublished
    | ArticlesSuggested
    | ArticleLinked
    | ArticleVersioned
    | ArticleArchived
    | ArticleSent,
    Field(discriminator="type"),
]
BookingEvent = Annotated[
    BookingConfirmed | BookingRescheduled | BookingCancelled, Field(discriminator="type")
]

TOPIC_UNIONS: Mapping[str, Any] = MappingProxyType(
    {
        CHANNELS_WEB: WebEvent,
        CHANNELS_CTI: CallEvent,
        INTAKE_INTERACTIONS: InteractionEvent,
        INTAKE_NOTIFICATIONS: NotificationEvent,
        INTAKE_REQUESTS: RequestEvent,
        INTAKE_CUSTOMERS: CustomerEvent,
        INTAKE_CALLS: CallRecordEvent,
        INTAKE_MESSAGES: MessageEvent,
        CASES: CaseEvent,
        CATALOGUE: CatalogueEvent,
        CONTRACTS: ContractEvent,
        ROUTING: QueueItemEvent,
        ROUTING_AGENTS: AgentEvent,
        SLA: KpiEvent,
        KNOWLEDGE: ArticleEvent,
        SCHEDULING: BookingEvent,
    }
)
"""The discriminated union of the events each topic carries."""


def union_members(union: Any) -> tuple[type[Event], ...]:
    """The event models of one of the per-topic unions."""
    members = get_args(get_args(union)[0]) or (get_args(union)[0],)
    return tuple(members)


def _index(topic_events: Mapping[str, tuple[type[Event], ...]]) -> dict[str, type[Event]]:
    index: dict[str, type[Event]] = {}
    for models in topic_events.values():
        for model in models:
            event_type = event_type_of(model)
            if event_type in index:
                raise RuntimeError(f"event type {event_type!r} is defined twice")
            index[event_type] = model
    return index


EVENT_TYPES: Mapping[str, type[Event]] = MappingProxyType(_index(TOPIC_EVENTS))
"""Every concrete event model by its type string."""


def model_of(event_type: str) -> type[Event]:
    """The model of an event type."""
    try:
        return EVENT_TYPES[event_type]
    except KeyError:
        raise UnknownEventType(event_type) from None


def decode(event_type: str, body: bytes | str) -> Event:
    """Read a JSON payload as the event of the given type, ignoring unknown fields."""
    model = model_of(event_type)
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        raise InvalidPayload(event_type, exc.errors(include_url=False)) from exc


def encode(event: Event) -> bytes:
    """Write an event as its compact JSON payload."""
    return event.model_dump_json(by_alias=True).encode("utf-8")


def partition_key(event: Event) -> str:
    """The Kafka message key of an event: the id of the aggregate it is about."""
    return event.partition_key()
