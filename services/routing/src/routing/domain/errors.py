"""Errors raised by the routing domain.

All of them derive from one base, so callers can catch the family at once::

    RoutingError
    ├── RoutingValidationError     bad input: blank rule name, negative capacity, naive time, ...
    ├── QueueItemRemovedError      the item has left its queue; nothing more can happen to it
    ├── ItemAlreadyWorkedError     the item is worked by another agent; release it first
    ├── ItemNotWorkedError         release of an item nobody works
    ├── SameQueueError             transfer of an item to the queue it is already in
    ├── AgentUnavailableError      assignment to an agent who is offline
    └── AgentAtCapacityError       assignment to (or pick by) an agent with no free capacity

``RoutingValidationError`` is also a ``ValueError``: it is the caller's input that is wrong.
"""

from __future__ import annotations


class RoutingError(Exception):
    """Base of every error the routing domain raises."""


class RoutingValidationError(RoutingError, ValueError):
    """Input that breaks a rule of the routing model."""


class QueueItemRemovedError(RoutingError):
    """An operation on a queue item that has already left its queue."""


class ItemAlreadyWorkedError(RoutingError):
    """An assignment or pick of an item another agent is working."""


class ItemNotWorkedError(RoutingError):
    """A release of an item that nobody is working."""


class SameQueueError(RoutingError):
    """A transfer of an item to the queue it is already in."""


class AgentUnavailableError(RoutingError):
    """An assignment to an agent who is offline."""


class AgentAtCapacityError(RoutingError):
    """An assignment to, or a pick by, an agent whose capacity is used up."""
