"""The routing domain: queues, routing rules, agents and assignment, as pure Python."""

from routing.domain.agents import (
    Agent,
    AssignmentStrategy,
    Presence,
    choose_agent,
    least_busy,
    normalize_skills,
    round_robin,
)
from routing.domain.errors import (
    AgentAtCapacityError,
    AgentUnavailableError,
    ItemAlreadyWorkedError,
    ItemNotWorkedError,
    QueueItemRemovedError,
    RoutingError,
    RoutingValidationError,
    SameQueueError,
)
from routing.domain.events import (
    CaseAssigned,
    CaseDequeued,
    CaseQueued,
    CaseReleased,
    CaseTransferred,
    RoutingEvent,
)
from routing.domain.queues import (
    Queue,
    QueueItem,
    QueueItemStatus,
    QueueKind,
    default_queue,
    enqueue,
)
from routing.domain.rules import CaseFacts, QueueChoice, RoutingRule, choose_queue

__all__ = [
    "Agent",
    "AgentAtCapacityError",
    "AgentUnavailableError",
    "AssignmentStrategy",
    "CaseAssigned",
    "CaseDequeued",
    "CaseFacts",
    "CaseQueued",
    "CaseReleased",
    "CaseTransferred",
    "ItemAlreadyWorkedError",
    "ItemNotWorkedError",
    "Presence",
    "Queue",
    "QueueChoice",
    "QueueItem",
    "QueueItemRemovedError",
    "QueueItemStatus",
    "QueueKind",
    "RoutingError",
    "RoutingEvent",
    "RoutingRule",
    "RoutingValidationError",
    "SameQueueError",
    "choose_agent",
    "choose_queue",
    "default_queue",
    "enqueue",
    "least_busy",
    "normalize_skills",
    "round_robin",
]
