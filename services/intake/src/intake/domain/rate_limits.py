"""Anti-abuse limits on submissions: so many requests per caller in a window of time.

Windows are fixed and tile time from the Unix epoch, so every replica agrees on them and a
caller's count in one window is a single row. The price is that a caller may get up to twice
its limit through across a window's edge (the end of one window, the start of the next); a
sliding window would not allow that, but would need a row per request.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, kw_only=True)
class RateLimits:
    """How many submissions a caller may make per window; a limit of 0 is no limit."""

    per_address: int
    """Requests from one client address, whoever the caller."""
    per_key: int
    """Requests under one channel's key, from all its addresses together."""
    window: timedelta

    def __post_init__(self) -> None:
        if self.per_address < 0 or self.per_key < 0:
            msg = "a rate limit cannot be negative"
            raise ValueError(msg)
        if self.window < timedelta(seconds=1):
            msg = "a rate limit window lasts a second at least"
            raise ValueError(msg)


@dataclass(frozen=True, kw_only=True)
class Window:
    """One fixed window of time: from `start`, up to but not including `end`."""

    start: datetime
    end: datetime


def window_at(now: datetime, length: timedelta) -> Window:
    """The fixed window of `length` that `now` falls in."""
    elapsed = now - _EPOCH
    start = _EPOCH + (elapsed // length) * length
    return Window(start=start, end=start + length)


def retry_after(*, hits: int, limit: int, window: Window, now: datetime) -> int | None:
    """Whole seconds a caller must wait after its `hits`-th request in `window`, or None
    when that request is within `limit` (a limit of 0 admits everything)."""
    if limit == 0 or hits <= limit:
        return None
    # Rounded up, so that a caller that waits exactly as told lands in the next window.
    return max(1, math.ceil((window.end - now).total_seconds()))
