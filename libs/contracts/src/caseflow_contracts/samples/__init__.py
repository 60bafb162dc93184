"""Golden sample payloads: one realistic JSON payload per event type, shipped as package data.

Producers and consumers test against them; a change that makes one fail to validate is a
breaking change of the contract.
"""

from __future__ import annotations

from importlib.resources import files

from caseflow_contracts.base import Event
from caseflow_contracts.registry import decode, model_of

_SUFFIX = ".json"


def sample_types() -> tuple[str, ...]:
    """The event types that have a golden sample, sorted."""
    return tuple(
        sorted(
            entry.name.removesuffix(_SUFFIX)
            for entry in files(__name__).iterdir()
            if entry.is_file() and entry.name.endswith(_SUFFIX)
        )
    )


def sample_payload(event_type: str) -> bytes:
    """The golden JSON payload of an event type, as published."""
    model_of(event_type)  # an unknown type is reported as such, not as a missing file
    return files(__name__).joinpath(f"{event_type}{_SUFFIX}").read_bytes()


def sample(event_type: str) -> Event:
    """The golden sample of an event type, validated against its contract."""
    return decode(event_type, sample_payload(event_type))
