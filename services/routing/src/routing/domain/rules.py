"""Routing rules: which queue a case goes to, from the facts known about it.

Rules are tried by ascending ``order`` (then by name, so equal orders stay predictable); the
first active rule whose conditions all hold names the queue. A case no rule matches goes to
the default queue. Within a condition any listed value will do; a condition left empty holds
for every case, so a rule without conditions is a catch-all. Texts compare without regard
to letter case.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple
from uuid import UUID

from routing.domain.agents import normalize_skills
from routing.domain.errors import RoutingValidationError


@dataclass(frozen=True, kw_only=True)
class CaseFacts:
    """What routing knows about a case when it places it in a queue."""

    case_id: UUID
    channel: str
    priority: str
    subject: str
    request_type: str | None = None
    account_id: UUID | None = None


@dataclass(frozen=True, kw_only=True)
class RoutingRule:
    """Conditions on a case's facts, the queue they send it to and the skills it then needs.

    ``subject_keywords`` holds when the subject contains one of the keywords.
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
    active: bool = True

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise RoutingValidationError("a routing rule needs a name")
        for label in ("channels", "priorities", "request_types", "subject_keywords"):
            values: frozenset[str] = getattr(self, label)
            if any(not value.strip() for value in values):
                raise RoutingValidationError(f"rule {self.name!r} has a blank entry in {label}")
        object.__setattr__(self, "required_skills", normalize_skills(self.required_skills))

    def matches(self, facts: CaseFacts) -> bool:
        """Whether the case meets every condition of the rule."""
        if self.request_types and facts.request_type is None:
            return False
        subject = _fold(facts.subject)
        return (
            _holds(self.channels, facts.channel)
            and _holds(self.priorities, facts.priority)
            and _holds(self.request_types, facts.request_type or "")
            and (
                not self.subject_keywords
                or any(_fold(word) in subject for word in self.subject_keywords)
            )
            and (not self.account_ids or facts.account_id in self.account_ids)
        )


class QueueChoice(NamedTuple):
    """Where a case goes: the queue, the rule that chose it (None: default) and skills needed."""

    queue_id: UUID
    rule_name: str | None
    required_skills: frozenset[str]


def choose_queue(
    facts: CaseFacts, rules: Iterable[RoutingRule], default_queue_id: UUID
) -> QueueChoice:
    """The queue for a case: the first matching active rule's by order, the default otherwise."""
    for rule in sorted(rules, key=lambda r: (r.order, r.name)):
        if rule.active and rule.matches(facts):
            return QueueChoice(rule.queue_id, rule.name, rule.required_skills)
    return QueueChoice(default_queue_id, None, frozenset())


def _holds(allowed: frozenset[str], value: str) -> bool:
    return not allowed or _fold(value) in {_fold(v) for v in allowed}


def _fold(text: str) -> str:
    return text.strip().casefold()
