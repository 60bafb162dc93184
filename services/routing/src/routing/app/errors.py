"""Errors the routing use cases raise, beside those of the domain.

They extend the one family of the service, ``routing.domain.errors.RoutingError``::

    RoutingError
    ├── QueueNotFound            no queue has the id asked for
    ├── QueueItemNotFound        no queue item has the id asked for
    ├── NameTakenError           a queue or rule of that name exists already
    ├── NotPermittedError        the caller may not change this queue item
    └── RoutingValidationError   (domain)
        └── UnknownQueueError    a request names a queue that does not exist
"""

from __future__ import annotations

from routing.domain.errors import RoutingError, RoutingValidationError


class QueueNotFound(RoutingError):
    """No queue has the id asked for."""


class QueueItemNotFound(RoutingError):
    """No queue item has the id asked for."""


class NameTakenError(RoutingError):
    """A queue or routing rule of that name exists already."""


class NotPermittedError(RoutingError):
    """The caller may not change this queue item: it is not theirs and they do not supervise."""


class UnknownQueueError(RoutingValidationError):
    """A rule or a transfer names a queue that does not exist."""
