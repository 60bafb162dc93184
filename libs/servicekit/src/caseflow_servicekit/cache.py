"""Reference data kept per process for a few seconds: rules, policies, calendars.

Such data changes rarely and nearly every event needs it. A change made in another replica
is in force here within `ttl`; a change made in this process clears the cache at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

V = TypeVar("V")


class TtlCache(Generic[V]):
    """Values by key, each forgotten `ttl` seconds after it was kept."""

    def __init__(self, ttl: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl
        self._clock = clock
        self._kept: dict[Hashable, tuple[float, V]] = {}

    def get(self, key: Hashable) -> V | None:
        """The value kept under `key`, if still fresh."""
        kept = self._kept.get(key)
        if kept is None or self._clock() - kept[0] > self._ttl:
            return None
        return kept[1]

    def put(self, key: Hashable, value: V) -> None:
        """Keep `value` under `key` from now."""
        self._kept[key] = (self._clock(), value)

    def clear(self) -> None:
        """Forget everything, after a change."""
        self._kept.clear()
