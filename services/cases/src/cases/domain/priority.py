"""Priority rules: the priority a new case starts with, from what the request says.

A rule table is read from the top; the first rule whose conditions all hold gives the
priority, and a case no rule matches is of normal priority. A condition left empty holds
for every case, so a rule without conditions at the end of the table is a catch-all.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from cases.domain.errors import CaseValidationError
from cases.domain.values import Channel, Priority

DEFAULT_PRIORITY = Priority.NORMAL


@dataclass(frozen=True, kw_only=True)
class PriorityRule:
    """One row of the priority table: conditions on a new request, and the priority it gets.

    ``request_types`` and ``channels`` hold when the request has one of the listed values;
    ``parameters`` holds when the request carries every listed parameter with that value.
    Request types and parameter values compare without regard to letter case.
    """

    priority: Priority
    name: str = ""
    request_types: frozenset[str] = frozenset()
    channels: frozenset[Channel] = frozenset()
    parameters: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        if any(not code.strip() for code in self.request_types):
            raise CaseValidationError(f"priority rule {self.name!r} names a blank request type")
        if any(not key.strip() for key in self.parameters):
            raise CaseValidationError(f"priority rule {self.name!r} names a blank parameter")
        # Keep the rule immutable even if the caller later changes the mapping it passed.
        object.__setattr__(self, "parameters", MappingProxyType(dict(self.parameters)))

    def matches(
        self, request_type: str | None, parameters: Mapping[str, str], channel: Channel
    ) -> bool:
        """Whether a request with these facts meets every condition of the rule."""
        if self.channels and channel not in self.channels:
            return False
        if self.request_types and (
            request_type is None
            or _fold(request_type) not in {_fold(code) for code in self.request_types}
        ):
            return False
        for key, expected in self.parameters.items():
            actual = parameters.get(key)
            if actual is None or _fold(actual) != _fold(expected):
                return False
        return True


def initial_priority(
    request_type: str | None,
    parameters: Mapping[str, str],
    channel: Channel,
    rules: Sequence[PriorityRule],
) -> Priority:
    """The priority a new request starts with: the first matching rule's, normal otherwise."""
    for rule in rules:
        if rule.matches(request_type, parameters, channel):
            return rule.priority
    return DEFAULT_PRIORITY


def _fold(text: str) -> str:
    return text.strip().casefold()


def opening_priority(
    *,
    requested: Priority | None,
    type_default: Priority | None,
    request_type: str | None,
    parameters: Mapping[str, str],
    channel: Channel,
    rules: Sequence[PriorityRule],
) -> Priority:
    """The priority a new case opens with: the one asked for, else its request type's
    default, else the priority rules'."""
    if requested is not None:
        return requested
    if type_default is not None:
        return type_default
    return initial_priority(request_type, parameters, channel, rules)
