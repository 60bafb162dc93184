"""Routing rules: which queue a case goes to, from the facts known about it.

Rules are tried by ascending ``order`` (then by name, so equal orders stay predictable); the
first active rule whose conditions all hold names the queue. A case no rule matches goes to
the default queue. Within a condition any listed value will do; a condition left empty holds
for every case, so a rule without conditions is a catch-all. Texts compare without regard
to letter case.

The entitlement condition asks whether a contract line covers the case: ``entitled``,
``not_entitled`` (for any reason) or one reason by name (``exhausted``, ...). A case opened
before contracts existed is neither, and meets no entitlement condition.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple
from uuid import UUID

from routing.domain.agents import normalize_skills
from routing.domain.errors import RoutingValidationError

ENTITLED = "entitled"
"""A case a contract line covers."""

NOT_ENTITLED = "not_entitled"
"""A case no contract line covers, whatever the reason."""

NOT_ENTITLED_REASONS = frozenset(
    {
        "no_contract",
        "not_started",
        "expired",
        "on_hold",
        "contact_not_covered",
        "channel_not_covered",
        "request_type_not_covered",
        "exhausted",
    }
)
"""Why no contract line covers a case, as the cases service says it (`NotEntitledReason`)."""

ENTITLEMENTS = frozenset({ENTITLED, NOT_ENTITLED}) | NOT_ENTITLED_REASONS
"""The values a rule's entitlement condition may list."""


@dataclass(frozen=True, kw_only=True)
class CaseFacts:
    """What routing knows about a case when it places it in a queue.

    ``entitled`` is None when the case says nothing of contracts (it opened before they
    existed); ``not_entitled`` is the reason no line covers it, when one was given.
    """

    case_id: UUID
    channel: str
    priority: str
    subject: str
    request_type: str | None = None
    account_id: UUID | None = None
    entitled: bool | None = None
    not_entitled: str | None = None
    tier: str | None = None
    """The account's tier (``gold``), as intake's customer card says."""
    region: str | None = None
    parameters: Mapping[str, str] = field(default_factory=dict)
    """The request's parameters, name → value."""


@dataclass(frozen=True, kw_only=True)
class RoutingRule:
    """Conditions on a case's facts, the queue they send it to and the skills it then needs.

    ``subject_keywords`` holds when the subject contains one of the keywords; ``entitlement``
    lists values of `ENTITLEMENTS` and holds when the case's entitlement is one of them.
    """

    name: str
    order: int
    queue_id: UUID
    channels: frozenset[str] = frozenset()
    priorities: frozenset[str] = frozenset()
    request_types: frozenset[str] = frozenset()
    subject_keywords: frozenset[str] = frozenset()
    account_ids: frozenset[UUID] = frozenset()
    required_skills: frozenset[str] = frozenset()
    entitlement: frozenset[str] = frozenset()
    tiers: frozenset[str] = frozenset()
    regions: frozenset[str] = frozenset()
    parameters: Mapping[str, str] = field(default_factory=dict)
    """Request parameters the case must carry with these values (compared folded)."""
    active: bool = True

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise RoutingValidationError("a routing rule needs a name")
        for label in (
            "channels",
            "priorities",
            "request_types",
            "subject_keywords",
            "tiers",
            "regions",
        ):
            values: frozenset[str] = getattr(self, label)
            if any(not value.strip() for value in values):
                raise RoutingValidationError(f"rule {self.name!r} has a blank entry in {label}")
        entitlement = frozenset(_fold(value) for value in self.entitlement)
        if unknown := entitlement - ENTITLEMENTS:
            listed = ", ".join(map(repr, sorted(unknown)))
            raise RoutingValidationError(
                f"rule {self.name!r} has unknown entitlement {listed}; "
                f"use one of {', '.join(sorted(ENTITLEMENTS))}"
            )
        object.__setattr__(self, "entitlement", entitlement)
        object.__setattr__(self, "required_skills", normalize_skills(self.required_skills))

    def matches(self, facts: CaseFacts, folded: _FoldedFacts | None = None) -> bool:
        """Whether the case meets every condition of the rule; `folded` is its facts as
        rules compare them, when the caller has them already."""
        if folded is None:
            folded = _FoldedFacts.of(facts)
        if self.request_types and facts.request_type is None:
            return False
        return (
            _holds(self.channels, folded.channel)
            and _holds(self.priorities, folded.priority)
            and _holds(self.request_types, folded.request_type)
            and (
                not self.subject_keywords
                or any(word in folded.subject for word in _folded(self.subject_keywords))
            )
            and (not self.account_ids or facts.account_id in self.account_ids)
            and (not self.entitlement or _entitlement_holds(self.entitlement, facts))
            and (not self.tiers or (folded.tier is not None and _holds(self.tiers, folded.tier)))
            and (
                not self.regions
                or (folded.region is not None and _holds(self.regions, folded.region))
            )
            and all(
                _fold(str(facts.parameters.get(name, ""))) == _fold(value)
                for name, value in self.parameters.items()
            )
        )


class QueueChoice(NamedTuple):
    """Where a case goes: the queue, the rule that chose it (None: default) and skills needed."""

    queue_id: UUID
    rule_name: str | None
    required_skills: frozenset[str]


class RuleBook(tuple[RoutingRule, ...]):
    """Rules in the order they are tried: by `order`, then by name. Sorted once, it is
    matched against every case of a batch as it is."""

    __slots__ = ()

    @classmethod
    def of(cls, rules: Iterable[RoutingRule]) -> RuleBook:
        if isinstance(rules, RuleBook):
            return rules
        return cls(sorted(rules, key=lambda r: (r.order, r.name)))


class _FoldedFacts(NamedTuple):
    """A case's facts as rules compare them, folded once rather than once per rule."""

    channel: str
    priority: str
    request_type: str
    subject: str
    tier: str | None
    region: str | None

    @classmethod
    def of(cls, facts: CaseFacts) -> _FoldedFacts:
        return cls(
            _fold(facts.channel),
            _fold(facts.priority),
            _fold(facts.request_type or ""),
            _fold(facts.subject),
            None if facts.tier is None else _fold(facts.tier),
            None if facts.region is None else _fold(facts.region),
        )


def choose_queue(
    facts: CaseFacts, rules: Iterable[RoutingRule], default_queue_id: UUID
) -> QueueChoice:
    """The queue for a case: the first matching active rule's by order, the default otherwise."""
    folded = _FoldedFacts.of(facts)
    for rule in RuleBook.of(rules):
        if rule.active and rule.matches(facts, folded):
            return QueueChoice(rule.queue_id, rule.name, rule.required_skills)
    return QueueChoice(default_queue_id, None, frozenset())


def _entitlement_holds(allowed: frozenset[str], facts: CaseFacts) -> bool:
    if facts.entitled is None:
        return False  # the case says nothing of contracts: no entitlement condition holds
    if facts.entitled:
        return ENTITLED in allowed
    return NOT_ENTITLED in allowed or (
        facts.not_entitled is not None and _fold(facts.not_entitled) in allowed
    )


def _holds(allowed: frozenset[str], folded: str) -> bool:
    return not allowed or folded in _folded(allowed)


@functools.lru_cache(maxsize=4096)
def _folded(values: frozenset[str]) -> frozenset[str]:
    """A rule's values as compared, folded once per set rather than once per case."""
    return frozenset(_fold(value) for value in values)


def _fold(text: str) -> str:
    return text.strip().casefold()
