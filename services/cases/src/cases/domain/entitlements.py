"""Entitlements: the support an account is owed, counted in cases or in minutes.

When a case opens, ``check_entitlement`` tells which of the account's entitlements covers it,
or why none does. When the case is resolved, ``Entitlement.deduct`` takes the case (or its
billable minutes) off what remains. Each case is charged once: resolving it again after a
reopening charges only the minutes added since.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from types import MappingProxyType
from uuid import UUID

from cases.domain.errors import CaseValidationError
from cases.domain.events import EntitlementDeducted
from cases.domain.values import Channel


class EntitlementKind(StrEnum):
    """What an entitlement counts."""

    CASES = "cases"
    MINUTES = "minutes"


class EntitlementRefusal(StrEnum):
    """Why an entitlement does not cover a new case."""

    NO_ACCOUNT = "no_account"
    NO_ENTITLEMENT = "no_entitlement"
    NOT_STARTED = "not_started"
    EXPIRED = "expired"
    CHANNEL_NOT_ALLOWED = "channel_not_allowed"
    EXHAUSTED = "exhausted"


# When no entitlement applies, the reason given is the one of the entitlement that came
# closest: one in its period but used up explains more than one that ended last year.
_CLOSENESS = {
    EntitlementRefusal.EXPIRED: 0,
    EntitlementRefusal.NOT_STARTED: 1,
    EntitlementRefusal.CHANNEL_NOT_ALLOWED: 2,
    EntitlementRefusal.EXHAUSTED: 3,
}


@dataclass(eq=False, kw_only=True)
class Entitlement:
    """Support owed to an account between two dates (inclusive), on some or all channels.

    An empty ``channels`` set allows every channel. ``charged`` records what each case has
    used so far, so charging a case again only takes what it added.
    """

    entitlement_id: UUID
    account_id: UUID
    kind: EntitlementKind
    total: int
    remaining: int
    starts_on: date
    ends_on: date
    channels: frozenset[Channel] = frozenset()
    charged: dict[UUID, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.total < 0:
            raise CaseValidationError(f"entitlement total must be 0 or more, not {self.total}")
        if not 0 <= self.remaining <= self.total:
            raise CaseValidationError(
                f"entitlement remaining {self.remaining} must be within 0..{self.total}"
            )
        if self.ends_on < self.starts_on:
            raise CaseValidationError("an entitlement cannot end before it starts")

    def refusal(self, *, channel: Channel, on: date) -> EntitlementRefusal | None:
        """Why this entitlement does not cover a case opened `on` that day by `channel`."""
        if on < self.starts_on:
            return EntitlementRefusal.NOT_STARTED
        if on > self.ends_on:
            return EntitlementRefusal.EXPIRED
        if self.channels and channel not in self.channels:
            return EntitlementRefusal.CHANNEL_NOT_ALLOWED
        if self.remaining <= 0:
            return EntitlementRefusal.EXHAUSTED
        return None

    def deduct(
        self, *, case_id: UUID, billable_minutes: int, now: datetime
    ) -> list[EntitlementDeducted]:
        """Charge a resolved case to the entitlement: one case, or its billable minutes."""
        if now.tzinfo is None or now.utcoffset() is None:
            raise CaseValidationError("now must be a timezone-aware datetime")
        if billable_minutes < 0:
            raise CaseValidationError(f"billable_minutes must be 0 or more, not {billable_minutes}")
        already = self.charged.get(case_id, 0)
        if self.kind is EntitlementKind.CASES:
            amount = 0 if case_id in self.charged else 1
        else:
            amount = max(0, billable_minutes - already)
        if amount == 0:
            return []
        taken = min(amount, self.remaining)
        self.remaining -= taken
        self.charged[case_id] = already + amount
        return [
            EntitlementDeducted(
                case_id=case_id,
                occurred_at=now,
                entitlement_id=self.entitlement_id,
                account_id=self.account_id,
                amount=amount,
                overage=amount - taken,
                remaining=self.remaining,
            )
        ]


@dataclass(frozen=True, kw_only=True)
class EntitlementCheck:
    """The entitlement that covers a new case, or the reason none does."""

    entitlement: Entitlement | None
    refusal: EntitlementRefusal | None
    refusals: Mapping[UUID, EntitlementRefusal] = field(
        default_factory=lambda: MappingProxyType({})
    )

    @property
    def covered(self) -> bool:
        """Whether an entitlement covers the case."""
        return self.entitlement is not None


def check_entitlement(
    entitlements: Iterable[Entitlement],
    *,
    account_id: UUID | None,
    channel: Channel,
    on: date,
) -> EntitlementCheck:
    """Which of the account's entitlements covers a case opened `on` that day, or why none."""
    if account_id is None:
        return EntitlementCheck(entitlement=None, refusal=EntitlementRefusal.NO_ACCOUNT)
    candidates = [e for e in entitlements if e.account_id == account_id]
    if not candidates:
        return EntitlementCheck(entitlement=None, refusal=EntitlementRefusal.NO_ENTITLEMENT)
    refusals: dict[UUID, EntitlementRefusal] = {}
    usable: list[Entitlement] = []
    for entitlement in candidates:
        reason = entitlement.refusal(channel=channel, on=on)
        if reason is None:
            usable.append(entitlement)
        else:
            refusals[entitlement.entitlement_id] = reason
    frozen_refusals = MappingProxyType(refusals)
    if usable:
        # Use first what runs out first, so nothing the customer paid for lapses unused.
        chosen = min(usable, key=lambda e: (e.ends_on, e.starts_on, str(e.entitlement_id)))
        return EntitlementCheck(entitlement=chosen, refusal=None, refusals=frozen_refusals)
    closest = max(refusals.values(), key=_CLOSENESS.__getitem__)
    return EntitlementCheck(entitlement=None, refusal=closest, refusals=frozen_refusals)
