"""SLA policies: which KPIs a case gets, how much working time each allows, which cases a
policy covers, and how the policy for a case is chosen."""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import timedelta
from uuid import UUID

from sla.domain.errors import InvalidPolicyError, NoApplicablePolicyError

_ZERO = timedelta(0)


@dataclass(frozen=True, slots=True)
class KpiDefinition:
    """A KPI of a policy: the working time allowed to meet it, and how long before the
    deadline to warn (no warning when `warn_before` is None)."""

    name: str
    target: timedelta
    warn_before: timedelta | None = None

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise InvalidPolicyError("a KPI needs a name")
        if self.target <= _ZERO:
            raise InvalidPolicyError(f"KPI {self.name!r}: the target must be positive")
        if self.warn_before is not None and not _ZERO < self.warn_before < self.target:
            raise InvalidPolicyError(
                f"KPI {self.name!r}: the warning must come between the start and the deadline"
            )

    @classmethod
    def with_warning_share(cls, name: str, target: timedelta, *, elapsed: float) -> KpiDefinition:
        """A KPI that warns once the share `elapsed` (between 0 and 1) of its target is used."""
        if not 0 < elapsed < 1:
            raise InvalidPolicyError(
                f"KPI {name!r}: the warning share must lie between 0 and 1, got {elapsed}"
            )
        return cls(name, target, target - target * elapsed)

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


@dataclass(frozen=True, slots=True)
class AppliesTo:
    """Which cases a policy covers: each non-empty set must contain the case's value, and an
    empty set accepts any value."""

    priorities: AbstractSet[str] = frozenset()
    channels: AbstractSet[str] = frozenset()
    request_types: AbstractSet[str] = frozenset()

    def __post_init__(self) -> None:
        # Accept any set of names, but keep the condition immutable and hashable.
        object.__setattr__(self, "priorities", frozenset(self.priorities))
        object.__setattr__(self, "channels", frozenset(self.channels))
        object.__setattr__(self, "request_types", frozenset(self.request_types))

    @property
    def is_unconditional(self) -> bool:
        """Whether every case matches."""
        return not (self.priorities or self.channels or self.request_types)

    def matches(self, facts: CaseFacts) -> bool:
        """Whether a case with these facts is covered."""
        return (
            _accepts(self.priorities, facts.priority)
            and _accepts(self.channels, facts.channel)
            and _accepts(self.request_types, facts.request_type)
        )


@dataclass(frozen=True, slots=True)
class SlaPolicy:
    """An SLA: KPIs measured on one calendar for the cases it applies to; the default policy
    covers the cases no other policy matches."""

    policy_id: UUID
    name: str
    calendar_id: UUID
    kpis: tuple[KpiDefinition, ...]
    applies_to: AppliesTo = AppliesTo()
    is_default: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "kpis", tuple(self.kpis))
        if not self.name.strip():
            raise InvalidPolicyError("an SLA policy needs a name")
        if not self.kpis:
            raise InvalidPolicyError(f"SLA policy {self.name!r} has no KPIs")
        names = [kpi.name for kpi in self.kpis]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise InvalidPolicyError(
                f"SLA policy {self.name!r} defines KPIs more than once: {', '.join(repeated)}"
            )
        if self.is_default and not self.applies_to.is_unconditional:
            raise InvalidPolicyError(
                f"SLA policy {self.name!r} is the default, so it cannot have conditions"
            )

    def kpi_named(self, name: str) -> KpiDefinition | None:
        """The policy's KPI of that name, if it has one."""
        return next((kpi for kpi in self.kpis if kpi.name == name), None)


def choose_policy(facts: CaseFacts, policies: Iterable[SlaPolicy]) -> SlaPolicy:
    """The first policy, in the given order, that applies to the case; else the default."""
    chosen: SlaPolicy | None = None
    default: SlaPolicy | None = None
    for policy in policies:
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
