"""Errors the routing use cases raise, beside those of the domain.

They extend the one family of the service, ``routing.domain.errors.RoutingError``::

    RoutingError
    ├── QueueNotFound            no queue has the id asked for
    ├── QueueItemNotFound        no queue item has the id asked for
    ├── NameTakenError           a queue or rule of that name exists already
    ├── NotPermittedError        the caller may not change this queue item
    ├── QueueNotVisibleError     the queue is another team's or another agent's
    ├── AgentNotFound / TeamNotFound / RuleNotFound
    ├── AgentExistsError         the directory has the agent already
    ├── ExtensionTakenError      another agent sits at the extension
    ├── VersionConflictError     the entry changed since the caller read it
    └── RoutingValidationError   (domain)
        ├── UnknownQueueError    a request names a queue that does not exist
        ├── UnknownAgentError    ... an agent the directory does not have
        ├── UnknownTeamError     ... a team that does not exist
        └── UnknownSkillError    a rule needs a skill no agent has
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


class AgentNotFound(RoutingError):
    """No agent of the directory has the id asked for."""


class TeamNotFound(RoutingError):
    """No team has the id asked for."""


class RuleNotFound(RoutingError):
    """No routing rule has the id asked for."""


class AgentExistsError(RoutingError):
    """An agent with that id is in the directory already."""


class ExtensionTakenError(RoutingError):
    """Another agent sits at that phone extension."""


class VersionConflictError(RoutingError):
    """The entry changed since the version the caller read (`If-Match`)."""


class UnknownAgentError(RoutingValidationError):
    """A request names an agent the directory does not have."""


class UnknownTeamError(RoutingValidationError):
    """A request names a team that does not exist."""


class UnknownSkillError(RoutingValidationError):
    """A rule needs a skill no agent of the directory has."""


class QueueNotVisibleError(RoutingError):
    """The caller may not see the queue: it is another team's, or another agent's own."""
