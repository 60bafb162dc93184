"""Use cases run again when PostgreSQL broke a lock cycle they were part of."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import structlog
from sqlalchemy.exc import DBAPIError

from caseflow_servicekit.db import sqlstate

log = structlog.get_logger(__name__)
T = TypeVar("T")

_RACES = frozenset({"40P01", "40001"})  # deadlock detected, serialization failure
RACE_ATTEMPTS = 3


async def settled(call: Callable[[], Awaitable[T]]) -> T:
    """Run a use case again when PostgreSQL broke a lock cycle it was part of.

    Assignments lock the item and the agents they move load between; two at once may each
    hold what the other waits for, and PostgreSQL then rolls one back. Each attempt runs in
    a new transaction, so a repeat starts from what is committed.
    """
    for attempt in range(1, RACE_ATTEMPTS + 1):
        try:
            return await call()
        except DBAPIError as exc:
            if sqlstate(exc) not in _RACES or attempt == RACE_ATTEMPTS:
                raise
            log.info("routing.race_retried", attempt=attempt, sqlstate=sqlstate(exc))
    raise AssertionError("unreachable")
