"""SLA policies: which KPIs a case gets, how much working time each allows, which cases a
policy covers, and how the policy for a case is chosen."""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from itertools import pairwise
from uuid import UUID

from sla.domain.errors import InvalidPolicyError, NoApplicablePolicyError

_ZERO = timedelta(0)

DEFAULT_PAUSE_STATUSES = frozenset({"waiting_for_customer", "on_hold"})
"""The case statuses that stop a KPI's clock unless its policy says otherwise: the case waits
on someone outside the desk."""

PAUSABLE_STATUSES = frozenset({"new", "in_progress", "waiting_for_customer", "on_hold"})
"""The case statuses a KPI may be paused in (a resolved or cancelled case ends its KPIs)."""


class ReopenMode(StrEnum):
    """What a reopened case does to its resolution KPI."""

    CONTINUE = "continue"
    """It runs on with the working time it had used."""
    RESTART = "restart"
    """It is measured afresh from the reopening, with its whole target."""


class EscalationTarget(StrEnum):
    """Whom a step of the escalation ladder goes to."""

    MANAGER = "manager"
    """The manager of the agent the case is assigned to (else the queue's manager)."""
    DEPARTMENT_HEAD = "department_head"
    """That manager's own manager (else the queue's manager)."""
    QUEUE_OWNER = "queue_owner"
    """The manager configured for the queue the case waits in."""
    AGENT = "agent"
    """A person the step names."""


MAX_LADDER_STEPS = 10


@dataclass(frozen=True, slots=True)
class EscalationStep:
    """A step of a policy's escalation ladder: `after` the breach (in elapsed time, not
    working time: a late case stays late at night), the case goes up a level, to `to`."""

    after: timedelta
    to: EscalationTarget
    agent_id: UUID | None = None
    """The person, for a step that goes to a named agent."""

    def __post_init__(self) -> None:
        if self.after < _ZERO:
            raise InvalidPolicyError("an escalation step cannot come before the breach")
        if (self.to is EscalationTarget.AGENT) != (self.agent_id is not None):
            raise InvalidPolicyError(
                "a step to an agent names the agent, and only such a step names one"
            )


DEFAULT_LADDER: tuple[EscalationStep, ...] = (EscalationStep(_ZERO, EscalationTarget.MANAGER),)
"""The ladder of a policy that sets none: the assignee's manager hears of the breach."""


def check_ladder(steps: Iterable[EscalationStep]) -> tuple[EscalationStep, ...]:
    """The steps as a ladder: each after the one before, at most `MAX_LADDER_STEPS`."""
    ladder = tuple(steps)
    if len(ladder) > MAX_LADDER_STEPS:
        raise InvalidPolicyError(f"an escalation ladder has at most {MAX_LADDER_STEPS} steps")
    for lower, upper in pairwise(ladder):
        if upper.after <= lower.after:
            raise InvalidPolicyError(
                "each step of the escalation ladder comes after the one before it"
            )
    return ladder


@dataclass(frozen=True, slots=True)
class KpiDefinition:
    """A KPI of a policy: the working time allowed to meet it, and how long before the
    deadline to warn (no warning when `warn_before` is None)."""

    name: str
    target: timedelta
    warn_before: timedelta | None = None
    pause_statuses: frozenset[str] = DEFAULT_PAUSE_STATUSES
    """The case statuses in which its clock stops."""
    calendar_id: UUID | None = None
    """The calendar it counts on, when not the one of its item (or policy, or contract)."""

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise InvalidPolicyError("a KPI needs a name")
        object.__setattr__(self, "pause_statuses", frozenset(self.pause_statuses))
        unknown = sorted(self.pause_statuses - PAUSABLE_STATUSES)
        if unknown:
            raise InvalidPolicyError(
                f"KPI {self.name!r}: a KPI can pause only in {', '.join(sorted(PAUSABLE_STATUSES))}"
                f", not in {', '.join(unknown)}"
            )
        if self.target <= _ZERO:
            raise InvalidPolicyError(f"KPI {self.name!r}: the target must be positive")
        if self.warn_before is not None and not _ZERO < self.warn_before < self.target:
            raise InvalidPolicyError(
                f"KPI {self.name!r}: the warning must come between the start and the deadline"
            )

    @classmethod
    def with_warning_share(
        cls,
        name: str,
        target: timedelta,
        *,
        elapsed: float,
        pause_statuses: frozenset[str] = DEFAULT_PAUSE_STATUSES,
        calendar_id: UUID | None = None,
    ) -> KpiDefinition:
        """A KPI that warns once the share `elapsed` (between 0 and 1) of its target is used."""
        if not 0 < elapsed < 1:
            raise InvalidPolicyError(
                f"KPI {name!r}: the warning share must lie between 0 and 1, got {elapsed}"
            )
        return cls(name, target, target - target * elapsed, pause_statuses, calendar_id)

    @property
    def warn_after(self) -> timedelta | None:
        """The working time used when the warning is due, or None without a warning."""
        return None if self.warn_before is None else self.target - self.warn_before


@dataclass(frozen=True, slots=True)
class CaseFacts:
    """What the policy conditions look at in a case."""

    priority: str | None = None
    channel: str | None = None
    request_type: str | None = None
    tier: str | None = None
    """The account's tier (``gold``), as intake's customer card says."""
    region: str | None = None
    contract_id: UUID | None = None
    """The contract that covers the case, if one does."""
    queue_id: UUID | None = None
    """The queue routing last placed the case in, if it has."""


@dataclass(frozen=True, slots=True)
class AppliesTo:
    """Which cases a policy covers: each non-empty set must contain the case's value, and an
    empty set accepts any value."""

    priorities: AbstractSet[str] = frozenset()
    channels: AbstractSet[str] = frozenset()
    request_types: AbstractSet[str] = frozenset()
    tiers: AbstractSet[str] = frozenset()
    regions: AbstractSet[str] = frozenset()
    contract_ids: AbstractSet[UUID] = frozenset()
    queue_ids: AbstractSet[UUID] = frozenset()

    def __post_init__(self) -> None:
        # Accept any set of names, but keep the condition immutable and hashable.
        for name in ("priorities", "channels", "request_types", "tiers", "regions"):
            values = frozenset(getattr(self, name))
            if any(not value.strip() for value in values):
                raise InvalidPolicyError(f"a condition on {name} has a blank value")
            object.__setattr__(self, name, values)
        object.__setattr__(self, "contract_ids", frozenset(self.contract_ids))
        object.__setattr__(self, "queue_ids", frozenset(self.queue_ids))

    @property
    def is_unconditional(self) -> bool:
        """Whether every case matches."""
        return not (
            self.priorities
            or self.channels
            or self.request_types
            or self.tiers
            or self.regions
            or self.contract_ids
            or self.queue_ids
        )

    def matches(self, facts: CaseFacts) -> bool:
        """Whether a case with these facts is covered."""
        return (
            _accepts(self.priorities, facts.priority)
            and _accepts(self.channels, facts.channel)
            and _accepts(self.request_types, facts.request_type)
            and _accepts(self.tiers, facts.tier)
            and _accepts(self.regions, facts.region)
            and (not self.contract_ids or facts.contract_id in self.contract_ids)
            and (not self.queue_ids or facts.queue_id in self.queue_ids)
        )


@dataclass(frozen=True, slots=True)
class PolicyItem:
    """One item of a policy: the cases it covers, their KPIs, and the calendar they count on
    (the policy's when None). A policy's first item that matches a case applies to it."""

    name: str
    kpis: tuple[KpiDefinition, ...]
    applies_to: AppliesTo = AppliesTo()
    calendar_id: UUID | None = None
    reopen: ReopenMode = ReopenMode.CONTINUE
    """What reopening a case does to its resolution KPI."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "kpis", tuple(self.kpis))
        if not self.name.strip():
            raise InvalidPolicyError("a policy item needs a name")
        if not self.kpis:
            raise InvalidPolicyError(f"policy item {self.name!r} has no KPIs")
        _require_unique([kpi.name for kpi in self.kpis], f"policy item {self.name!r}", "KPIs")


@dataclass(frozen=True, slots=True)
class SlaPolicy:
    """An SLA: KPIs measured on one calendar for the cases it applies to; the default policy
    covers the cases no other policy matches."""

    policy_id: UUID
    name: str
    calendar_id: UUID
    kpis: tuple[KpiDefinition, ...] = ()
    applies_to: AppliesTo = AppliesTo()
    is_default: bool = False
    items: tuple[PolicyItem, ...] = ()
    """Tried in order; the first that matches a case gives its KPIs. A policy with items has
    no KPIs of its own."""
    retired: bool = False
    """A retired policy is chosen for no new case; the KPIs it started run on."""
    reopen: ReopenMode = ReopenMode.CONTINUE
    """What reopening a case does to its resolution KPI (for a policy without items)."""
    escalation: tuple[EscalationStep, ...] = DEFAULT_LADDER
    """Who hears of a breached KPI, and when; an empty ladder escalates nothing."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "kpis", tuple(self.kpis))
        object.__setattr__(self, "items", tuple(self.items))
        object.__setattr__(self, "escalation", check_ladder(self.escalation))
        if not self.name.strip():
            raise InvalidPolicyError("an SLA policy needs a name")
        if self.items and self.kpis:
            raise InvalidPolicyError(f"SLA policy {self.name!r} has items: its KPIs belong in them")
        if not self.items and not self.kpis:
            raise InvalidPolicyError(f"SLA policy {self.name!r} has no KPIs")
        _require_unique([kpi.name for kpi in self.kpis], f"SLA policy {self.name!r}", "KPIs")
        _require_unique([i.name for i in self.items], f"SLA policy {self.name!r}", "items")
        if self.items and not self.items[-1].applies_to.is_unconditional:
            raise InvalidPolicyError(
                f"SLA policy {self.name!r}: its items leave some of its cases without KPIs; "
                "give the last item no condition, so that it takes the rest"
            )
        if self.is_default and not self.applies_to.is_unconditional:
            raise InvalidPolicyError(
                f"SLA policy {self.name!r} is the default, so it cannot have conditions"
            )
        if self.is_default and self.retired:
            raise InvalidPolicyError(f"SLA policy {self.name!r} is the default: it cannot retire")

    def terms_for(
        self, facts: CaseFacts
    ) -> tuple[PolicyItem | None, tuple[KpiDefinition, ...], UUID]:
        """The item that applies to a case (None for a policy without items), its KPIs and
        the calendar they count on (but for a KPI that names its own)."""
        for item in self.items:
            if item.applies_to.matches(facts):
                return item, item.kpis, item.calendar_id or self.calendar_id
        return None, self.kpis, self.calendar_id

    @property
    def calendar_ids(self) -> frozenset[UUID]:
        """Every calendar the policy counts on: its own, its items' and its KPIs'."""
        kpis = [*self.kpis, *(kpi for item in self.items for kpi in item.kpis)]
        return frozenset(
            {
                self.calendar_id,
                *(i.calendar_id for i in self.items if i.calendar_id is not None),
                *(kpi.calendar_id for kpi in kpis if kpi.calendar_id is not None),
            }
        )


def choose_policy(facts: CaseFacts, policies: Iterable[SlaPolicy]) -> SlaPolicy:
    """The first policy, in the given order, that applies to the case; else the default."""
    chosen: SlaPolicy | None = None
    default: SlaPolicy | None = None
    for policy in policies:
        if policy.retired:
            continue
        if policy.is_default:
            if default is not None:
                raise InvalidPolicyError(
                    f"both {default.name!r} and {policy.name!r} are marked as the default policy"
                )
            default = policy
        elif chosen is None and policy.applies_to.matches(facts):
            chosen = policy
    if chosen is not None:
        return chosen
    if default is not None:
        return default
    raise NoApplicablePolicyError(f"no SLA policy applies to {facts} and none is the default")


def _accepts(allowed: AbstractSet[str], value: str | None) -> bool:
    return not allowed or (value is not None and value in allowed)


def _require_unique(names: list[str], owner: str, what: str) -> None:
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise InvalidPolicyError(f"{owner} defines {what} more than once: {', '.join(repeated)}")
