"""The changes in a case's life routing follows, as the routing use cases take them.

Most move the case's queue item; a change of entitlement only updates what routing knows of
the case. They come from the cases service's events; each names the moment it happened there.
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


@dataclass(frozen=True, kw_only=True)
class ChangeEntitlement:
    """Another contract line (or none) covers the case now: remember it.

    ``entitled`` tells whether a line covers it; ``not_entitled`` why none does, if known.
    """

    case_id: UUID
    at: datetime
    entitled: bool
    not_entitled: str | None = None


CaseChange = DequeueCase | RequeueCase | AcceptCase | ChangeEntitlement
"""A change to a case routing follows."""
