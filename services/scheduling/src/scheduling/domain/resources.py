"""Resources: the people, rooms and equipment appointments are booked with."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from uuid import UUID

from scheduling.domain.errors import SchedulingValidationError

MAX_NAME_LENGTH = 200


class ResourceKind(StrEnum):
    """What a resource is."""

    PERSON = "person"
    ROOM = "room"
    EQUIPMENT = "equipment"


@dataclass(frozen=True, kw_only=True)
class Resource:
    """Someone or something that can serve one appointment at a time."""

    resource_id: UUID
    name: str
    kind: ResourceKind
    # One appointment at a time; the bookings table enforces it with an exclusion constraint.
    capacity: int = 1


def new_resource(*, resource_id: UUID, name: str, kind: ResourceKind) -> Resource:
    """A resource ready to be booked, with its name tidied."""
    tidy = " ".join(name.split())
    if not tidy:
        raise SchedulingValidationError("a resource needs a name")
    if len(tidy) > MAX_NAME_LENGTH:
        raise SchedulingValidationError(f"a resource name has at most {MAX_NAME_LENGTH} characters")
    return Resource(resource_id=resource_id, name=tidy, kind=kind)
