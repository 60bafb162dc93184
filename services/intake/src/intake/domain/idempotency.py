"""Idempotent requests: a client may send a request again under the same Idempotency-Key.

The first request with a key is carried out and its answer kept with a fingerprint of its
payload. A repeat with the same payload gets the kept answer and changes nothing; a repeat
with a different payload is refused, since the client has mixed up its keys.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

MAX_KEY_LENGTH = 255


class Decision(StrEnum):
    """What to do with a request carrying an Idempotency-Key."""

    PROCEED = "proceed"
    """The key is new: carry the request out."""
    REPLAY = "replay"
    """The same request came before: answer as then, change nothing."""
    REUSED = "reused"
    """The key came before with another payload: refuse."""
    IN_FLIGHT = "in_flight"
    """The same request is still being carried out: the client should retry later."""


@dataclass(frozen=True, kw_only=True)
class StoredRequest:
    """A request under a key: its payload's fingerprint and the answer, once given."""

    fingerprint: str
    response: Mapping[str, object] | None


def fingerprint(payload: Mapping[str, object]) -> str:
    """A digest of a request payload, equal for equal payloads whatever their key order."""
    canonical = json.dumps(
        payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def decide(stored: StoredRequest | None, request_fingerprint: str) -> Decision:
    """Whether a keyed request is new, a harmless repeat, or a key reused for another payload."""
    if stored is None:
        return Decision.PROCEED
    if stored.fingerprint != request_fingerprint:
        return Decision.REUSED
    return Decision.REPLAY if stored.response is not None else Decision.IN_FLIGHT
