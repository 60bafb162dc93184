"""Entitlements: which one covers a new case, and what a resolved case uses up."""

from __future__ import annotations

from datetime import UTC, date, datetime
from uuid import UUID

import pytest

from cases.domain import (
    CaseValidationError,
    Channel,
    Entitlement,
    EntitlementDeducted,
    EntitlementKind,
    EntitlementRefusal,
    check_entitlement,
)

pytestmark = pytest.mark.unit

NOW = datetime(2026, 3, 2, 17, 0, tzinfo=UTC)
ACME = UUID(int=1)
GLOBEX = UUID(int=2)
INITECH = UUID(int=3)
UNKNOWN = UUID(int=99)
CASE_1 = UUID(int=101)
CASE_2 = UUID(int=102)


def entitlement(
    n: int,
    *,
    account_id: UUID = ACME,
    kind: EntitlementKind = EntitlementKind.CASES,
    total: int = 10,
    remaining: int | None = None,
    starts_on: date = date(2026, 1, 1),
    ends_on: date = date(2026, 12, 31),
    channels: frozenset[Channel] = frozenset(),
) -> Entitlement:
    return Entitlement(
        entitlement_id=UUID(int=n),
        account_id=account_id,
        kind=kind,
        total=total,
        remaining=total if remaining is None else remaining,
        starts_on=starts_on,
        ends_on=ends_on,
        channels=channels,
    )


ACME_YEAR = entitlement(11, remaining=3)
ACME_PHONE_HALF_YEAR = entitlement(
    12,
    kind=EntitlementKind.MINUTES,
    total=600,
    ends_on=date(2026, 6, 30),
    channels=frozenset({Channel.PHONE}),
)
ACME_USED_UP = entitlement(13, total=5, remaining=0, ends_on=date(2026, 1, 31))
GLOBEX_USED_UP = entitlement(21, account_id=GLOBEX, remaining=0)
GLOBEX_LAST_YEAR = entitlement(
    22, account_id=GLOBEX, starts_on=date(2025, 1, 1), ends_on=date(2025, 12, 31)
)
INITECH_NEXT_YEAR = entitlement(
    31, account_id=INITECH, starts_on=date(2027, 1, 1), ends_on=date(2027, 12, 31)
)
INITECH_WEB_ONLY = entitlement(32, account_id=INITECH, channels=frozenset({Channel.WEB}))

ALL = [
    ACME_YEAR,
    ACME_PHONE_HALF_YEAR,
    ACME_USED_UP,
    GLOBEX_USED_UP,
    GLOBEX_LAST_YEAR,
    INITECH_NEXT_YEAR,
    INITECH_WEB_ONLY,
]


@pytest.mark.parametrize(
    ("account_id", "channel", "on", "expected"),
    [
        (ACME, Channel.EMAIL, date(2026, 3, 1), ACME_YEAR),
        (ACME, Channel.PHONE, date(2026, 3, 1), ACME_PHONE_HALF_YEAR),  # the one ending first
        (ACME, Channel.PHONE, date(2026, 6, 30), ACME_PHONE_HALF_YEAR),  # last day counts
        (ACME, Channel.PHONE, date(2026, 7, 1), ACME_YEAR),
        (ACME, Channel.WEB, date(2026, 1, 1), ACME_YEAR),  # first day counts
        (INITECH, Channel.WEB, date(2026, 5, 5), INITECH_WEB_ONLY),
    ],
)
def test_check_entitlement_finds_the_one_that_covers_the_case(
    account_id: UUID, channel: Channel, on: date, expected: Entitlement
) -> None:
    check = check_entitlement(ALL, account_id=account_id, channel=channel, on=on)
    assert check.covered
    assert check.entitlement is expected
    assert check.refusal is None


@pytest.mark.parametrize(
    ("account_id", "channel", "on", "refusal"),
    [
        (None, Channel.EMAIL, date(2026, 3, 1), EntitlementRefusal.NO_ACCOUNT),
        (UNKNOWN, Channel.EMAIL, date(2026, 3, 1), EntitlementRefusal.NO_ENTITLEMENT),
        (GLOBEX, Channel.EMAIL, date(2026, 3, 1), EntitlementRefusal.EXHAUSTED),
        (GLOBEX, Channel.EMAIL, date(2027, 3, 1), EntitlementRefusal.EXPIRED),
        (INITECH, Channel.EMAIL, date(2026, 3, 1), EntitlementRefusal.CHANNEL_NOT_ALLOWED),
        (INITECH, Channel.WEB, date(2025, 12, 31), EntitlementRefusal.NOT_STARTED),
        (ACME, Channel.EMAIL, date(2027, 1, 1), EntitlementRefusal.EXPIRED),
    ],
)
def test_check_entitlement_says_why_none_covers_the_case(
    account_id: UUID | None, channel: Channel, on: date, refusal: EntitlementRefusal
) -> None:
    check = check_entitlement(ALL, account_id=account_id, channel=channel, on=on)
    assert not check.covered
    assert check.entitlement is None
    assert check.refusal is refusal


def test_check_entitlement_lists_the_reason_of_each_refused_entitlement() -> None:
    check = check_entitlement(ALL, account_id=ACME, channel=Channel.EMAIL, on=date(2026, 3, 1))
    assert check.refusals == {
        ACME_PHONE_HALF_YEAR.entitlement_id: EntitlementRefusal.CHANNEL_NOT_ALLOWED,
        ACME_USED_UP.entitlement_id: EntitlementRefusal.EXPIRED,
    }


def test_equal_end_dates_choose_predictably() -> None:
    later_start = entitlement(41, starts_on=date(2026, 2, 1))
    earlier_start = entitlement(42)
    for order in ([later_start, earlier_start], [earlier_start, later_start]):
        check = check_entitlement(order, account_id=ACME, channel=Channel.API, on=date(2026, 3, 1))
        assert check.entitlement is earlier_start


# -- deduct ----------------------------------------------------------------------------


def test_a_case_entitlement_is_charged_one_case_once() -> None:
    cases = entitlement(50, total=10, remaining=4)

    first = cases.deduct(case_id=CASE_1, billable_minutes=90, now=NOW)
    again = cases.deduct(case_id=CASE_1, billable_minutes=120, now=NOW)
    other = cases.deduct(case_id=CASE_2, billable_minutes=0, now=NOW)

    assert first == [
        EntitlementDeducted(
            case_id=CASE_1,
            occurred_at=NOW,
            entitlement_id=UUID(int=50),
            account_id=ACME,
            amount=1,
            overage=0,
            remaining=3,
        )
    ]
    assert again == []
    assert [(e.amount, e.remaining) for e in other] == [(1, 2)]
    assert cases.remaining == 2


@pytest.mark.parametrize(
    ("remaining", "charges", "amounts", "overages", "left"),
    [
        (600, [90], [90], [0], 510),
        (600, [90, 120], [90, 30], [0, 0], 480),  # resolved again after reopening
        (600, [90, 60], [90], [0], 510),  # nothing new to charge
        (600, [0], [], [], 600),
        (30, [50], [50], [20], 0),
        (0, [15], [15], [15], 0),
        (100, [60, 150], [60, 90], [0, 50], 0),
    ],
)
def test_a_minutes_entitlement_is_charged_the_billable_minutes_added(
    remaining: int, charges: list[int], amounts: list[int], overages: list[int], left: int
) -> None:
    minutes = entitlement(60, kind=EntitlementKind.MINUTES, total=600, remaining=remaining)

    events = [
        event
        for billable in charges
        for event in minutes.deduct(case_id=CASE_1, billable_minutes=billable, now=NOW)
    ]

    assert [e.amount for e in events] == amounts
    assert [e.overage for e in events] == overages
    assert minutes.remaining == left
    assert events == [] or events[-1].remaining == left
    assert minutes.charged.get(CASE_1, 0) == max([0, *charges])


def test_a_used_up_case_entitlement_records_the_overage() -> None:
    cases = entitlement(70, total=2, remaining=0)
    (event,) = cases.deduct(case_id=CASE_1, billable_minutes=5, now=NOW)
    assert (event.amount, event.overage, event.remaining) == (1, 1, 0)


@pytest.mark.parametrize(
    ("billable_minutes", "now"),
    [(-1, NOW), (10, datetime(2026, 3, 2, 17, 0))],
)
def test_deduct_refuses_bad_input(billable_minutes: int, now: datetime) -> None:
    minutes = entitlement(80, kind=EntitlementKind.MINUTES)
    with pytest.raises(CaseValidationError):
        minutes.deduct(case_id=CASE_1, billable_minutes=billable_minutes, now=now)
    assert minutes.remaining == minutes.total


@pytest.mark.parametrize(
    "overrides",
    [
        {"total": -1, "remaining": 0},
        {"total": 5, "remaining": 6},
        {"total": 5, "remaining": -1},
        {"starts_on": date(2026, 2, 1), "ends_on": date(2026, 1, 31)},
    ],
)
def test_an_entitlement_refuses_impossible_figures(overrides: dict[str, object]) -> None:
    with pytest.raises(CaseValidationError):
        entitlement(90, **overrides)  # type: ignore[arg-type]
