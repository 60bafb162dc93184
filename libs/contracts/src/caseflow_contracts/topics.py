"""Kafka topic names, ``<owner>.<stream>.v<major>``, and which event types each carries."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from caseflow_contracts import (
    cases,
    channels,
    customers,
    entitlements,
    intake,
    knowledge,
    messages,
    routing,
    scheduling,
    sla,
)
from caseflow_contracts.base import Event
from caseflow_contracts.errors import UnknownEventType

CHANNELS_WEB = "channels.web.v1"
CHANNELS_CTI = "channels.cti.v1"
INTAKE_INTERACTIONS = "intake.interaction.v1"
INTAKE_NOTIFICATIONS = "intake.notification.v1"
INTAKE_REQUESTS = "intake.request.v1"
INTAKE_CUSTOMERS = "intake.customer.v1"
INTAKE_CALLS = "intake.call.v1"
INTAKE_MESSAGES = "intake.message.v1"
CASES = "cases.case.v1"
CATALOGUE = "cases.catalogue.v1"
CONTRACTS = "cases.contract.v1"
ROUTING = "routing.queue-item.v1"
ROUTING_AGENTS = "routing.agent.v1"
SLA = "sla.kpi.v1"
KNOWLEDGE = "knowledge.article.v1"
SCHEDULING = "scheduling.booking.v1"

ALL_TOPICS: tuple[str, ...] = (
    CHANNELS_WEB,
    CHANNELS_CTI,
    INTAKE_INTERACTIONS,
    INTAKE_NOTIFICATIONS,
    INTAKE_REQUESTS,
    INTAKE_CUSTOMERS,
    INTAKE_CALLS,
    INTAKE_MESSAGES,
    CASES,
    CATALOGUE,
    CONTRACTS,
    ROUTING,
    ROUTING_AGENTS,
    SLA,
    KNOWLEDGE,
    SCHEDULING,
)

DLQ_SUFFIX = ".dlq"

TOPIC_EVENTS: Mapping[str, tuple[type[Event], ...]] = MappingProxyType(
    {
        CHANNELS_WEB: (channels.WebSubmitted,),
        CHANNELS_CTI: (
            channels.CallRinging,
            channels.CallAnswered,
            channels.CallEnded,
            channels.CallMissed,
            channels.CallTransferred,
        ),
        INTAKE_INTERACTIONS: (intake.InteractionReceived,),
        INTAKE_NOTIFICATIONS: (intake.NotificationRequested,),
        INTAKE_REQUESTS: (intake.InteractionRequested,),
        INTAKE_CUSTOMERS: (
            customers.AccountRegistered,
            customers.AccountChanged,
            customers.ContactRegistered,
            customers.ContactChanged,
            customers.ContactMerged,
            customers.ContactErased,
        ),
        INTAKE_CALLS: (customers.CallIdentified, customers.CallFinished),
        INTAKE_MESSAGES: (messages.MessageSent, messages.MessageFailed, messages.MessageBounced),
        CASES: (
            cases.CaseOpened,
            cases.CaseUpdated,
            cases.CaseStatusChanged,
            cases.ActivityLogged,
            cases.CaseResolved,
            cases.CaseReopened,
            cases.CaseCancelled,
            cases.CaseEscalated,
            cases.DecisionRecorded,
            cases.CaseEntitlementChanged,
        ),
        CATALOGUE: (cases.CatalogueRequestTypeDefined, cases.CatalogueDecisionDefined),
        CONTRACTS: (
            entitlements.ContractCreated,
            entitlements.ContractUpdated,
            entitlements.ContractActivated,
            entitlements.ContractHeld,
            entitlements.ContractResumed,
            entitlements.ContractExpired,
            entitlements.ContractCancelled,
            entitlements.ContractRenewed,
            entitlements.ContractEndingSoon,
            entitlements.ContractLineDrawnDown,
            entitlements.ContractLineRestored,
            entitlements.ContractAllotmentLow,
            entitlements.ContractAllotmentExhausted,
        ),
        ROUTING: (
            routing.CaseQueued,
            routing.CaseAssigned,
            routing.CaseReleased,
            routing.CaseTransferred,
            routing.CaseDequeued,
        ),
        ROUTING_AGENTS: (
            routing.AgentRegistered,
            routing.AgentChanged,
            routing.AgentPresenceChanged,
        ),
        SLA: (
            sla.KpiStarted,
            sla.KpiPaused,
            sla.KpiReEvaluated,
            sla.KpiResumed,
            sla.KpiNearingBreach,
            sla.KpiBreached,
            sla.KpiSucceeded,
            sla.KpiCancelled,
            sla.KpiEscalated,
        ),
        KNOWLEDGE: (
            knowledge.ArticlePublished,
            knowledge.ArticlesSuggested,
            knowledge.ArticleLinked,
            knowledge.ArticleVersioned,
            knowledge.ArticleArchived,
            knowledge.ArticleSent,
        ),
        SCHEDULING: (
            scheduling.BookingConfirmed,
            scheduling.BookingRescheduled,
            scheduling.BookingCancelled,
        ),
    }
)
"""The event models each topic carries."""


def event_type_of(model: type[Event]) -> str:
    """The type string of a concrete event model (the default of its ``type`` field)."""
    default = model.model_fields["type"].default
    if not isinstance(default, str):
        raise TypeError(f"{model.__name__} is not a concrete event: its type has no default")
    return default


EVENT_TOPICS: Mapping[str, str] = MappingProxyType(
    {event_type_of(model): topic for topic, models in TOPIC_EVENTS.items() for model in models}
)
"""The topic of every event type."""


def topic_of(event_type: str) -> str:
    """The topic an event of this type is published on."""
    try:
        return EVENT_TOPICS[event_type]
    except KeyError:
        raise UnknownEventType(event_type) from None


def dlq(topic: str) -> str:
    """The dead-letter topic of a topic."""
    return f"{topic}{DLQ_SUFFIX}"
