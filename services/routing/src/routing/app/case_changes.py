"""The changes in a case's life that move its queue item, as the routing use cases take them.

They come from the cases service's events; each names the moment it happened there.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID


@dataclass(frozen=True, kw_only=True)
class DequeueCase:
    """The case was resolved or cancelled (`reason`): take it out of its queue for good."""

    case_id: UUID
    at: datetime
    reason: str


@dataclass(frozen=True, kw_only=True)
class RequeueCase:
    """The case was reopened: put it back in the queue it was last in."""

    case_id: UUID
    at: datetime


@dataclass(frozen=True, kw_only=True)
class AcceptCase:
    """An agent took the case into work: they now work its queue item."""

    case_id: UUID
    at: datetime
    agent_id: UUID


CaseChange = DequeueCase | RequeueCase | AcceptCase
"""A change to a case that moves its queue item."""
