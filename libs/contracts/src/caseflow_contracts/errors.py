"""Errors raised while reading or writing Caseflow events.

ContractError                 base of everything this package raises
├── UnknownEventType          an event type string no contract defines
├── InvalidPayload            a payload that does not validate against its contract
└── InvalidEnvelope           CloudEvents headers missing or malformed
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic_core import ErrorDetails


class ContractError(Exception):
    """A message does not honour the Caseflow event contracts."""


class UnknownEventType(ContractError, LookupError):
    """The event type is not one Caseflow defines."""

    def __init__(self, event_type: str) -> None:
        super().__init__(f"unknown event type {event_type!r}")
        self.event_type = event_type


class InvalidPayload(ContractError, ValueError):
    """The payload does not validate against the contract of its event type."""

    def __init__(self, event_type: str, errors: Sequence[ErrorDetails]) -> None:
        details = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or '<root>'}: {error['msg']}"
            for error in errors
        )
        super().__init__(f"invalid {event_type!r} payload: {details}")
        self.event_type = event_type
        self.errors = tuple(errors)


class InvalidEnvelope(ContractError, ValueError):
    """The CloudEvents attributes of a message are missing or malformed."""
