"""Service contracts: which line covers a case, the ledger arithmetic, the contract's life,
its renewal and upkeep, and what its owner is told."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from itertools import count
from uuid import UUID

import pytest

from cases.domain.contracts import (
    Allocation,
    AllotmentExhausted,
    AllotmentLow,
    Balance,
    Contract,
    ContractActivated,
    ContractCancelled,
    ContractConflictError,
    ContractCreated,
    ContractEndingSoon,
    ContractEvent,
    ContractExpired,
    ContractHeld,
    ContractLine,
    ContractNotFoundError,
    ContractRenewed,
    ContractResumed,
    ContractStatus,
    ContractTemplate,
    ContractUpdated,
    Coverage,
    Draw,
    InvalidContractError,
    LineDrawnDown,
    LineInForce,
    NotEntitled,
    balance_warnings,
    cover,
    drawdown,
    format_contract_number,
    line_from_template,
    new_contract,
)
from cases.domain.errors import CaseValidationError
from cases.domain.notifications import (
    Notification,
    RecipientKind,
    Template,
    contract_notices,
)
from cases.domain.values import Channel

pytestmark = pytest.mark.unit

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
TODAY = T0.date()
JAN_1 = date(2026, 1, 1)
JUN_30 = date(2026, 6, 30)
JUL_1 = date(2026, 7, 1)
DEC_31 = date(2026, 12, 31)

ACCOUNT = UUID(int=200)
OTHER_ACCOUNT = UUID(int=201)
CONTACT = UUID(int=100)
OTHER_CONTACT = UUID(int=101)
OWNER = UUID(int=300)
AGENT = UUID(int=301)
CASE_ID = UUID(int=1)
CONTRACT_ID = UUID(int=500)
POLICY = UUID(int=402)
CALENDAR = UUID(int=403)
NUMBER = "CON-2026-000001"

CASES = Allocation.CASES
MINUTES = Allocation.MINUTES
EMAIL, WEB, PHONE = Channel.EMAIL, Channel.WEB, Channel.PHONE

DRAFT = ContractStatus.DRAFT
ACTIVE = ContractStatus.ACTIVE
ON_HOLD = ContractStatus.ON_HOLD
EXPIRED = ContractStatus.EXPIRED
CANCELLED = ContractStatus.CANCELLED


def line_id(number: int) -> UUID:
    return UUID(int=1000 + number)


LINE_ID = line_id(1)


def line(
    number: int = 1,
    *,
    allocation: Allocation = CASES,
    allotment: int = 10,
    starts_on: date = JAN_1,
    ends_on: date = DEC_31,
    channels: frozenset[Channel] = frozenset(),
    request_types: frozenset[str] = frozenset(),
    allow_overdraft: bool = False,
    warn_below_percent: int = 20,
) -> ContractLine:
    return ContractLine(
        line_id=line_id(number),
        number=number,
        name=f"Line {number}",
        allocation=allocation,
        allotment=allotment,
        starts_on=starts_on,
        ends_on=ends_on,
        channels=channels,
        request_types=request_types,
        allow_overdraft=allow_overdraft,
        warn_below_percent=warn_below_percent,
    )


def contract(
    *lines: ContractLine,
    status: ContractStatus = ACTIVE,
    number: str = NUMBER,
    contract_id: UUID = CONTRACT_ID,
    account_id: UUID = ACCOUNT,
    starts_on: date = JAN_1,
    ends_on: date = DEC_31,
    contacts: frozenset[UUID] = frozenset(),
    owner_id: UUID | None = OWNER,
) -> Contract:
    """A contract as a repository would load it (its lines are not checked again)."""
    return Contract(
        contract_id=contract_id,
        number=number,
        account_id=account_id,
        name="Premium support",
        status=status,
        starts_on=starts_on,
        ends_on=ends_on,
        contacts=contacts,
        owner_id=owner_id,
        sla_policy_id=POLICY,
        calendar_id=CALENDAR,
        lines=list(lines or (line(),)),
    )


def drawn_up(*lines: ContractLine, starts_on: date = JAN_1, ends_on: date = DEC_31) -> Contract:
    """A draft made by `new_contract`, which checks its lines."""
    made, events = new_contract(
        contract_id=CONTRACT_ID,
        number=NUMBER,
        account_id=ACCOUNT,
        name="Premium support",
        starts_on=starts_on,
        ends_on=ends_on,
        now=T0,
        lines=lines,
        owner_id=OWNER,
        contacts=frozenset({CONTACT}),
        sla_policy_id=POLICY,
        calendar_id=CALENDAR,
    )
    assert events == [ContractCreated(contract_id=CONTRACT_ID, occurred_at=T0)]
    return made


def active(*lines: ContractLine) -> Contract:
    made = drawn_up(*(lines or (line(),)))
    made.activate(today=TODAY, now=T0, by=AGENT)
    return made


def held(of: Contract, which: ContractLine | None = None, *, remaining: int = 5) -> LineInForce:
    return LineInForce(contract=of, line=which or of.lines[0], remaining=remaining)


def covering(
    *lines: LineInForce,
    account_id: UUID | None = ACCOUNT,
    channel: Channel = EMAIL,
    request_type: str | None = None,
    on: date = TODAY,
) -> Coverage:
    return cover(
        lines,
        account_id=account_id,
        contact_id=CONTACT,
        channel=channel,
        request_type=request_type,
        on=on,
    )


def ids() -> Callable[[], UUID]:
    numbers: Iterator[int] = count(9000)
    return lambda: UUID(int=next(numbers))


# -- cover: why no line covers a case ---------------------------------------------------------


def test_a_case_without_account_has_no_contract_even_if_lines_would_cover() -> None:
    coverage = covering(held(contract()), account_id=None)
    assert coverage == Coverage(not_entitled=NotEntitled.NO_CONTRACT)
    assert not coverage.entitled


def test_an_account_without_lines_has_no_contract() -> None:
    assert covering() == Coverage(not_entitled=NotEntitled.NO_CONTRACT)


@pytest.mark.parametrize(
    ("candidate", "request_type", "reason"),
    [
        (held(contract(status=DRAFT)), None, NotEntitled.NO_CONTRACT),
        (held(contract(status=CANCELLED)), None, NotEntitled.NO_CONTRACT),
        (held(contract(status=EXPIRED)), None, NotEntitled.EXPIRED),
        (
            held(contract(line(ends_on=date(2026, 2, 28)), ends_on=date(2026, 2, 28))),
            None,
            NotEntitled.EXPIRED,
        ),
        (held(contract(line(ends_on=date(2026, 3, 1)))), None, NotEntitled.EXPIRED),
        (held(contract(line(starts_on=date(2026, 3, 3)))), None, NotEntitled.NOT_STARTED),
        (
            held(contract(line(starts_on=JUL_1), starts_on=JUL_1)),
            None,
            NotEntitled.NOT_STARTED,
        ),
        (held(contract(status=ON_HOLD)), None, NotEntitled.ON_HOLD),
        (
            held(contract(contacts=frozenset({OTHER_CONTACT}))),
            None,
            NotEntitled.CONTACT_NOT_COVERED,
        ),
        (
            held(contract(line(channels=frozenset({PHONE, WEB})))),
            None,
            NotEntitled.CHANNEL_NOT_COVERED,
        ),
        (
            held(contract(line(request_types=frozenset({"billing"})))),
            "hardware.printer",
            NotEntitled.REQUEST_TYPE_NOT_COVERED,
        ),
        (
            held(contract(line(request_types=frozenset({"billing"})))),
            None,
            NotEntitled.REQUEST_TYPE_NOT_COVERED,
        ),
        (held(contract(), remaining=0), None, NotEntitled.EXHAUSTED),
        (held(contract(), remaining=-2), None, NotEntitled.EXHAUSTED),
    ],
    ids=[
        "draft",
        "cancelled",
        "expired-status",
        "past-contract-end",
        "past-line-end",
        "before-line-start",
        "before-contract-start",
        "on-hold",
        "contact",
        "channel",
        "request-type",
        "no-request-type",
        "remaining-0",
        "remaining-below-0",
    ],
)
def test_why_a_line_does_not_cover(
    candidate: LineInForce, request_type: str | None, reason: NotEntitled
) -> None:
    coverage = covering(candidate, request_type=request_type)
    assert coverage == Coverage(not_entitled=reason)
    assert not coverage.entitled


@pytest.mark.parametrize(
    ("candidate", "request_type", "on"),
    [
        (held(contract()), None, JAN_1),
        (held(contract()), None, DEC_31),
        (held(contract(contacts=frozenset({CONTACT, OTHER_CONTACT}))), None, TODAY),
        (held(contract(line(channels=frozenset({EMAIL, PHONE})))), None, TODAY),
        (held(contract(line(request_types=frozenset({"billing"})))), "billing", TODAY),
        (held(contract(), remaining=1), None, TODAY),
        (held(contract(line(allow_overdraft=True)), remaining=0), None, TODAY),
        (held(contract(line(allow_overdraft=True)), remaining=-7), None, TODAY),
    ],
    ids=[
        "first-day",
        "last-day",
        "listed-contact",
        "listed-channel",
        "listed-request-type",
        "one-left",
        "overdraft-at-0",
        "overdraft-below-0",
    ],
)
def test_a_line_covers(candidate: LineInForce, request_type: str | None, on: date) -> None:
    coverage = covering(candidate, request_type=request_type, on=on)
    assert coverage.entitled
    assert coverage.line_id == LINE_ID
    assert coverage.not_entitled is None


@pytest.mark.parametrize(
    ("first", "second", "reason"),
    [
        (
            held(contract(), remaining=0),
            held(contract(line(channels=frozenset({PHONE})), number="CON-2026-000002")),
            NotEntitled.EXHAUSTED,
        ),
        (
            held(contract(status=EXPIRED)),
            held(contract(status=ON_HOLD, number="CON-2026-000002")),
            NotEntitled.ON_HOLD,
        ),
        (
            held(contract(line(starts_on=JUL_1))),
            held(contract(status=EXPIRED, number="CON-2026-000002")),
            NotEntitled.NOT_STARTED,
        ),
        (
            held(contract(status=CANCELLED)),
            held(contract(status=EXPIRED, number="CON-2026-000002")),
            NotEntitled.EXPIRED,
        ),
        (
            held(contract(line(channels=frozenset({PHONE})))),
            held(contract(contacts=frozenset({OTHER_CONTACT}), number="CON-2026-000002")),
            NotEntitled.CHANNEL_NOT_COVERED,
        ),
    ],
    ids=[
        "exhausted-over-channel",
        "hold-over-expired",
        "not-started-over-expired",
        "expired-over-draft",
        "channel-over-contact",
    ],
)
def test_when_no_line_covers_the_nearest_reason_is_given(
    first: LineInForce, second: LineInForce, reason: NotEntitled
) -> None:
    assert covering(first, second) == Coverage(not_entitled=reason)
    assert covering(second, first) == Coverage(not_entitled=reason)


def test_lines_of_other_accounts_are_ignored() -> None:
    theirs = held(contract(account_id=OTHER_ACCOUNT, contract_id=UUID(int=501)))
    assert covering(theirs) == Coverage(not_entitled=NotEntitled.NO_CONTRACT)

    # Nor does their line's nearer reason stand in for ours.
    theirs_used_up = held(contract(account_id=OTHER_ACCOUNT), remaining=0)
    ours_for_phone = held(contract(line(channels=frozenset({PHONE}))))
    assert covering(theirs_used_up, ours_for_phone) == Coverage(
        not_entitled=NotEntitled.CHANNEL_NOT_COVERED
    )


# -- cover: which line, when several apply -----------------------------------------------------


def test_coverage_names_the_line_and_carries_the_contracts_sla_policy_and_calendar() -> None:
    assert covering(held(contract())) == Coverage(
        line_id=LINE_ID,
        contract_id=CONTRACT_ID,
        rule=None,
        sla_policy_id=POLICY,
        calendar_id=CALENDAR,
    )


def test_one_line_applying_among_others_needs_no_rule() -> None:
    used_up = held(
        contract(line(9), number="CON-2026-000009", contract_id=UUID(int=509)), remaining=0
    )
    coverage = covering(used_up, held(contract()))
    assert coverage.line_id == LINE_ID
    assert coverage.rule is None


def test_a_line_for_the_request_type_comes_before_a_general_one() -> None:
    general = held(contract(line(1, ends_on=JUN_30)))
    specific = held(
        contract(
            line(2, request_types=frozenset({"billing"})),
            number="CON-2026-000002",
            contract_id=UUID(int=502),
        )
    )

    coverage = covering(general, specific, request_type="billing")

    assert coverage.line_id == line_id(2)
    assert coverage.contract_id == UUID(int=502)
    assert coverage.rule is not None
    assert coverage.rule.startswith("request type: of 2 lines that apply")


def test_then_the_line_that_ends_first() -> None:
    later = held(contract(line(1)))
    sooner = held(contract(line(2, ends_on=JUN_30), number="CON-2026-000002"))

    coverage = covering(later, sooner)

    assert coverage.line_id == line_id(2)
    assert coverage.rule is not None
    assert coverage.rule.startswith("ends first: of 2 lines that apply")
    assert "2026-06-30" in coverage.rule


def test_then_the_lowest_contract_number() -> None:
    second = held(contract(line(1), number="CON-2026-000010", contract_id=UUID(int=510)))
    first = held(contract(line(2), number="CON-2026-000002", contract_id=UUID(int=502)))
    third = held(contract(line(3), number="CON-2026-000011", contract_id=UUID(int=511)))

    coverage = covering(second, third, first)

    assert (coverage.line_id, coverage.contract_id) == (line_id(2), UUID(int=502))
    assert coverage.rule is not None
    assert coverage.rule.startswith("order: of 3 lines that apply")
    assert "CON-2026-000002 line 2" in coverage.rule


def test_then_the_lowest_line_number() -> None:
    # Lines of one contract never overlap when drawn up; the order still holds if they do.
    both = contract(line(2, channels=frozenset({EMAIL})), line(1))

    coverage = covering(held(both, both.lines[0]), held(both, both.lines[1]))

    assert coverage.line_id == line_id(1)
    assert coverage.rule is not None
    assert f"{NUMBER} line 1" in coverage.rule


def test_the_choice_does_not_depend_on_the_order_lines_come_in() -> None:
    lines = [
        held(contract(line(1), number="CON-2026-000003")),
        held(contract(line(2, ends_on=JUN_30), number="CON-2026-000004")),
        held(contract(line(3, request_types=frozenset({"billing"})), number="CON-2026-000005")),
        held(contract(line(4, request_types=frozenset({"billing"}), ends_on=JUN_30))),
    ]
    chosen = {covering(*order, request_type="billing") for order in (lines, lines[::-1])}
    assert len(chosen) == 1
    (coverage,) = chosen
    assert coverage.line_id == line_id(4)
    assert coverage.rule is not None
    assert coverage.rule.startswith("ends first: of 4 lines")


# -- the ledger -------------------------------------------------------------------------------


def test_a_balance_remains_its_allotment_less_what_was_used() -> None:
    assert Balance(allotment=10, used=3).remaining == 7
    assert Balance(allotment=10, used=12).remaining == -2


@pytest.mark.parametrize(
    ("allocation", "overdraft", "remaining", "minutes", "expected"),
    [
        (CASES, False, 5, 90, Draw(amount=1, overage=0)),
        (CASES, False, 5, 0, Draw(amount=1, overage=0)),
        (CASES, False, 0, 30, Draw(amount=0, overage=1)),
        (MINUTES, False, 100, 45, Draw(amount=45, overage=0)),
        (MINUTES, False, 45, 45, Draw(amount=45, overage=0)),
        (MINUTES, False, 100, 0, Draw(amount=0, overage=0)),
        (MINUTES, False, 30, 45, Draw(amount=30, overage=15)),
        (MINUTES, False, 0, 45, Draw(amount=0, overage=45)),
        (MINUTES, False, -10, 45, Draw(amount=0, overage=45)),
        (MINUTES, True, 30, 45, Draw(amount=45, overage=0)),
        (MINUTES, True, -5, 45, Draw(amount=45, overage=0)),
        (CASES, True, 0, 30, Draw(amount=1, overage=0)),
    ],
    ids=[
        "case",
        "case-without-minutes",
        "case-none-left",
        "minutes",
        "minutes-exactly-left",
        "no-minutes",
        "minutes-partly-covered",
        "minutes-none-left",
        "minutes-below-0",
        "overdraft",
        "overdraft-below-0",
        "overdraft-case",
    ],
)
def test_drawdown(
    allocation: Allocation, overdraft: bool, remaining: int, minutes: int, expected: Draw
) -> None:
    drawn = drawdown(
        line(allocation=allocation, allow_overdraft=overdraft),
        remaining=remaining,
        billable_minutes=minutes,
    )
    assert drawn == expected


@pytest.mark.parametrize("allocation", [CASES, MINUTES])
def test_drawdown_refuses_negative_minutes(allocation: Allocation) -> None:
    with pytest.raises(InvalidContractError, match="billable minutes"):
        drawdown(line(allocation=allocation), remaining=10, billable_minutes=-1)


def low(remaining: int, threshold: int) -> AllotmentLow:
    return AllotmentLow(
        contract_id=CONTRACT_ID,
        occurred_at=T0,
        line_id=LINE_ID,
        remaining=remaining,
        threshold=threshold,
    )


def exhausted(remaining: int) -> AllotmentExhausted:
    return AllotmentExhausted(
        contract_id=CONTRACT_ID, occurred_at=T0, line_id=LINE_ID, remaining=remaining
    )


@pytest.mark.parametrize(
    ("watched", "before", "after", "expected"),
    [
        (line(allotment=10), 5, 3, []),
        (line(allotment=10), 3, 2, []),  # 2 of 10 is the mark, not below it
        (line(allotment=10), 3, 1, [low(1, threshold=2)]),
        (line(allotment=10), 2, 1, [low(1, threshold=2)]),
        (line(allotment=10), 10, 1, [low(1, threshold=2)]),
        (line(allocation=MINUTES, allotment=100), 15, 10, []),  # already below
        (line(allotment=7), 2, 1, [low(1, threshold=2)]),  # mark 1.4, shown rounded up
        (line(allotment=10, warn_below_percent=50), 6, 5, []),
        (line(allotment=10, warn_below_percent=50), 6, 4, [low(4, threshold=5)]),
        (line(allotment=10), 3, 0, [exhausted(0)]),
        (line(allotment=10), 1, 0, [exhausted(0)]),
        (line(allotment=10), 0, 0, []),
        (line(allotment=10), 0, 5, []),  # given back
        (line(allotment=0), 0, 0, []),
        (line(allotment=0, allow_overdraft=True), 0, -1, []),
        (line(allotment=10, warn_below_percent=0), 5, 1, []),
        (line(allotment=10, warn_below_percent=0), 1, 0, [exhausted(0)]),
        (line(allotment=10, warn_below_percent=0, allow_overdraft=True), 0, -1, []),
        (line(allotment=10, allow_overdraft=True), 1, -2, [exhausted(-2)]),
        (line(allotment=10, allow_overdraft=True), 5, 0, [exhausted(0)]),
        (line(allotment=10, allow_overdraft=True), 0, -1, []),
        (line(allotment=10, allow_overdraft=True), -1, -3, []),
    ],
)
def test_balance_warnings(
    watched: ContractLine, before: int, after: int, expected: list[ContractEvent]
) -> None:
    assert (
        balance_warnings(watched, contract_id=CONTRACT_ID, before=before, after=after, now=T0)
        == expected
    )


# -- drawing a contract up --------------------------------------------------------------------


def test_new_contract_is_a_draft_holding_its_lines() -> None:
    made = drawn_up(line(1, channels=frozenset({EMAIL})), line(2, channels=frozenset({PHONE})))
    assert made.status is DRAFT
    assert not made.in_force
    assert [x.number for x in made.lines] == [1, 2]
    assert made.line(line_id(2)).channels == {PHONE}
    assert made.next_line_number() == 3


@pytest.mark.parametrize(
    "outside",
    [
        line(starts_on=date(2025, 12, 31)),
        line(ends_on=date(2027, 1, 1)),
        line(starts_on=date(2027, 1, 1), ends_on=date(2027, 1, 31)),
    ],
    ids=["starts-before", "ends-after", "wholly-after"],
)
def test_a_line_must_lie_within_the_contracts_dates(outside: ContractLine) -> None:
    with pytest.raises(InvalidContractError) as raised:
        drawn_up(outside)
    assert raised.value.problem_members == {
        "contract_starts_on": "2026-01-01",
        "contract_ends_on": "2026-12-31",
    }


@pytest.mark.parametrize(
    "build",
    [
        lambda: line(allotment=-1),
        lambda: line(starts_on=JUL_1, ends_on=JUN_30),
        lambda: line(warn_below_percent=101),
        lambda: line(request_types=frozenset({" "})),
        lambda: ContractLine(
            line_id=LINE_ID,
            number=1,
            name="  ",
            allocation=CASES,
            allotment=1,
            starts_on=JAN_1,
            ends_on=DEC_31,
        ),
        lambda: drawn_up(starts_on=DEC_31, ends_on=JAN_1),
        lambda: drawn_up(ends_on=date(2040, 1, 1)),
    ],
    ids=[
        "negative-allotment",
        "line-ends-before-start",
        "percent",
        "blank-request-type",
        "blank-line-name",
        "contract-ends-before-start",
        "longer-than-ten-years",
    ],
)
def test_the_model_refuses_bad_input(build: Callable[[], object]) -> None:
    with pytest.raises(InvalidContractError) as raised:
        build()
    assert isinstance(raised.value, CaseValidationError)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (line(1), line(2)),
        (line(1), line(2, channels=frozenset({EMAIL}))),
        (line(1, channels=frozenset({EMAIL, WEB})), line(2, channels=frozenset({WEB, PHONE}))),
        (line(1), line(2, request_types=frozenset({"billing"}))),
        (
            line(1, request_types=frozenset({"billing", "hardware"})),
            line(2, request_types=frozenset({"hardware"}), channels=frozenset({PHONE})),
        ),
        (line(1, ends_on=JUN_30), line(2, starts_on=JUN_30)),  # both hold June 30
    ],
    ids=[
        "same",
        "channels-within-all",
        "shared-channel",
        "request-types-within-all",
        "shared-request-type",
        "touching-dates",
    ],
)
def test_overlapping_lines_conflict_naming_the_line(
    first: ContractLine, second: ContractLine
) -> None:
    made = drawn_up(first)

    with pytest.raises(ContractConflictError, match=r"overlaps line 1 \('Line 1'\)") as raised:
        made.add_line(second, now=T0)

    assert raised.value.problem_members == {"overlaps_line": 1}
    assert made.lines == [first]

    with pytest.raises(ContractConflictError):
        drawn_up(first, second)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (line(1, channels=frozenset({EMAIL, WEB})), line(2, channels=frozenset({PHONE}))),
        (line(1, ends_on=JUN_30), line(2, starts_on=JUL_1)),
        (
            line(1, request_types=frozenset({"billing"})),
            line(2, request_types=frozenset({"hardware", "network"})),
        ),
    ],
    ids=["other-channel", "later-dates", "other-request-types"],
)
def test_lines_apart_in_one_respect_are_fine(first: ContractLine, second: ContractLine) -> None:
    made = drawn_up(first)

    assert made.add_line(second, now=T0) == [
        ContractUpdated(contract_id=CONTRACT_ID, occurred_at=T0)
    ]
    assert made.lines == [first, second]


def test_a_line_is_added_once() -> None:
    made = drawn_up(line(1, channels=frozenset({EMAIL})))
    with pytest.raises(ContractConflictError, match="already has line"):
        made.add_line(line(1, channels=frozenset({PHONE})), now=T0)


def test_a_template_gives_the_first_line() -> None:
    template = ContractTemplate(
        template_id=UUID(int=600),
        name=" Gold ",
        allocation=MINUTES,
        default_allotment=600,
        default_duration_days=365,
        channels=frozenset({PHONE}),
        request_types=frozenset({" billing "}),
        allow_overdraft=True,
        warn_below_percent=10,
    )

    made = line_from_template(template, line_id=LINE_ID, starts_on=JAN_1, ends_on=DEC_31)

    assert made == ContractLine(
        line_id=LINE_ID,
        number=1,
        name="Gold",
        allocation=MINUTES,
        allotment=600,
        starts_on=JAN_1,
        ends_on=DEC_31,
        channels=frozenset({PHONE}),
        request_types=frozenset({"billing"}),
        allow_overdraft=True,
        warn_below_percent=10,
    )


@pytest.mark.parametrize(
    ("allotment", "days"),
    [(-1, 365), (10, 0), (10, 10 * 366 + 1)],
)
def test_a_template_refuses_bad_defaults(allotment: int, days: int) -> None:
    with pytest.raises(InvalidContractError):
        ContractTemplate(
            template_id=UUID(int=600),
            name="Gold",
            allocation=CASES,
            default_allotment=allotment,
            default_duration_days=days,
        )


@pytest.mark.parametrize(
    ("year", "sequence", "expected"),
    [(2026, 42, "CON-2026-000042"), (2026, 1, "CON-2026-000001"), (999, 123456, "CON-0999-123456")],
)
def test_format_contract_number(year: int, sequence: int, expected: str) -> None:
    assert format_contract_number(year, sequence) == expected


@pytest.mark.parametrize("sequence", [0, -1])
def test_a_contract_sequence_starts_at_1(sequence: int) -> None:
    with pytest.raises(InvalidContractError):
        format_contract_number(2026, sequence)


# -- the contract's life ----------------------------------------------------------------------


def test_activate_brings_a_draft_into_force_once() -> None:
    made = drawn_up(line())

    assert made.activate(today=TODAY, now=T0, by=AGENT) == [
        ContractActivated(contract_id=CONTRACT_ID, occurred_at=T0, by=AGENT)
    ]
    assert made.status is ACTIVE
    assert made.in_force
    assert made.activate(today=TODAY, now=T0, by=AGENT) == []


def test_activate_needs_lines() -> None:
    made = drawn_up()
    with pytest.raises(ContractConflictError, match="no lines"):
        made.activate(today=TODAY, now=T0, by=AGENT)
    assert made.status is DRAFT


def test_activate_refuses_a_contract_that_has_ended() -> None:
    last_day = drawn_up(line())
    last_day.activate(today=DEC_31, now=T0, by=None)
    assert last_day.status is ACTIVE

    ended = drawn_up(line())
    with pytest.raises(ContractConflictError, match="ended on 2026-12-31"):
        ended.activate(today=date(2027, 1, 1), now=T0, by=None)
    assert ended.status is DRAFT


@pytest.mark.parametrize("status", [ON_HOLD, EXPIRED, CANCELLED])
def test_only_a_draft_is_activated(status: ContractStatus) -> None:
    made = contract(status=status)
    with pytest.raises(ContractConflictError) as raised:
        made.activate(today=TODAY, now=T0, by=AGENT)
    assert raised.value.problem_members == {"contract_status": status.value}


def test_hold_and_resume() -> None:
    made = active()

    assert made.hold(reason=" Unpaid invoice ", now=T0, by=AGENT) == [
        ContractHeld(contract_id=CONTRACT_ID, occurred_at=T0, reason="Unpaid invoice", by=AGENT)
    ]
    assert (made.status, made.hold_reason) == (ON_HOLD, "Unpaid invoice")
    assert made.in_force
    assert made.hold(reason="again", now=T0, by=AGENT) == []
    assert made.hold_reason == "Unpaid invoice"

    assert made.resume(today=TODAY, now=T0, by=AGENT) == [
        ContractResumed(contract_id=CONTRACT_ID, occurred_at=T0, by=AGENT)
    ]
    assert made.status is ACTIVE
    assert made.hold_reason is None
    assert made.resume(today=TODAY, now=T0, by=AGENT) == []


def test_a_blank_hold_reason_is_none() -> None:
    made = active()
    (event,) = made.hold(reason="  ", now=T0, by=None)
    assert isinstance(event, ContractHeld)
    assert event.reason is None
    assert made.hold_reason is None


@pytest.mark.parametrize("status", [DRAFT, EXPIRED, CANCELLED])
def test_only_an_active_contract_is_held(status: ContractStatus) -> None:
    with pytest.raises(ContractConflictError):
        contract(status=status).hold(reason=None, now=T0, by=None)


@pytest.mark.parametrize("status", [DRAFT, EXPIRED, CANCELLED])
def test_only_a_contract_on_hold_is_resumed(status: ContractStatus) -> None:
    with pytest.raises(ContractConflictError):
        contract(status=status).resume(today=TODAY, now=T0, by=None)


def test_resuming_after_the_end_expires_instead() -> None:
    made = contract(status=ON_HOLD)
    assert made.resume(today=date(2027, 1, 1), now=T0, by=AGENT) == [
        ContractExpired(contract_id=CONTRACT_ID, occurred_at=T0, ended_on=DEC_31)
    ]
    assert made.status is EXPIRED


@pytest.mark.parametrize("status", [DRAFT, ACTIVE, ON_HOLD])
def test_cancel_says_why_once(status: ContractStatus) -> None:
    made = contract(status=status)

    assert made.cancel(reason=" Customer left ", now=T0, by=AGENT) == [
        ContractCancelled(contract_id=CONTRACT_ID, occurred_at=T0, reason="Customer left", by=AGENT)
    ]
    assert (made.status, made.cancel_reason) == (CANCELLED, "Customer left")
    assert not made.in_force
    assert made.cancel(reason="again", now=T0, by=AGENT) == []
    assert made.cancel_reason == "Customer left"


def test_cancel_needs_a_reason() -> None:
    made = active()
    with pytest.raises(InvalidContractError, match="reason"):
        made.cancel(reason="   ", now=T0, by=AGENT)
    assert made.status is ACTIVE


def test_an_expired_contract_is_not_cancelled() -> None:
    with pytest.raises(ContractConflictError):
        contract(status=EXPIRED).cancel(reason="late", now=T0, by=None)


@pytest.mark.parametrize(
    ("status", "today", "expires"),
    [
        (ACTIVE, date(2027, 1, 1), True),
        (ON_HOLD, date(2027, 3, 1), True),
        (ACTIVE, DEC_31, False),
        (ON_HOLD, TODAY, False),
        (DRAFT, date(2027, 1, 1), False),
        (CANCELLED, date(2027, 1, 1), False),
        (EXPIRED, date(2027, 1, 1), False),
    ],
)
def test_expire_only_a_contract_in_force_past_its_end(
    status: ContractStatus, today: date, expires: bool
) -> None:
    made = contract(status=status)

    events = made.expire(today=today, now=T0)

    if expires:
        assert events == [ContractExpired(contract_id=CONTRACT_ID, occurred_at=T0, ended_on=DEC_31)]
        assert made.status is EXPIRED
        assert made.expire(today=today, now=T0) == []
    else:
        assert events == []
        assert made.status is status


@pytest.mark.parametrize(
    ("status", "today", "days_left"),
    [
        (ACTIVE, date(2026, 12, 1), 30),
        (ACTIVE, DEC_31, 0),
        (ON_HOLD, date(2026, 12, 21), 10),
        (ACTIVE, date(2026, 11, 30), None),  # 31 days: not yet
        (ACTIVE, date(2027, 1, 1), None),  # over
        (DRAFT, date(2026, 12, 21), None),
        (CANCELLED, date(2026, 12, 21), None),
        (EXPIRED, date(2026, 12, 21), None),
    ],
)
def test_ending_notice_within_30_days_of_a_contract_in_force(
    status: ContractStatus, today: date, days_left: int | None
) -> None:
    made = contract(status=status)

    events = made.ending_notice(today=today, now=T0)

    if days_left is None:
        assert events == []
        assert made.ending_warned_on is None
    else:
        assert events == [
            ContractEndingSoon(
                contract_id=CONTRACT_ID, occurred_at=T0, ends_on=DEC_31, days_left=days_left
            )
        ]
        assert made.ending_warned_on == today


def test_ending_notice_is_given_once() -> None:
    made = contract()
    assert len(made.ending_notice(today=date(2026, 12, 1), now=T0)) == 1
    assert made.ending_notice(today=date(2026, 12, 2), now=T0) == []


def test_a_new_end_date_earns_a_new_notice() -> None:
    made = contract()
    made.ending_notice(today=date(2026, 12, 1), now=T0)

    made.change_terms(now=T0, ends_on=date(2027, 1, 15))

    assert made.ending_warned_on is None
    (event,) = made.ending_notice(today=date(2026, 12, 20), now=T0)
    assert isinstance(event, ContractEndingSoon)
    assert (event.ends_on, event.days_left) == (date(2027, 1, 15), 26)


def test_a_renewed_contract_gets_no_ending_notice() -> None:
    made = contract()
    made.renewed_to = UUID(int=777)
    assert made.ending_notice(today=date(2026, 12, 15), now=T0) == []


def test_the_notice_period_may_be_given() -> None:
    made = contract()
    assert made.ending_notice(today=date(2026, 12, 1), now=T0, notice_days=7) == []
    assert len(made.ending_notice(today=date(2026, 12, 24), now=T0, notice_days=7)) == 1


# -- changing lines and terms -----------------------------------------------------------------


def test_change_line_of_a_line_drawn_on_keeps_what_it_counts() -> None:
    made = active(line(1, allocation=MINUTES, allotment=600))

    with pytest.raises(ContractConflictError, match="cannot count cases"):
        made.change_line(line(1, allocation=CASES, allotment=600), drawn_on=True, now=T0)
    assert made.lines[0].allocation is MINUTES

    events = made.change_line(line(1, allocation=MINUTES, allotment=900), drawn_on=True, now=T0)

    assert events == [ContractUpdated(contract_id=CONTRACT_ID, occurred_at=T0)]
    assert made.lines[0].allotment == 900


def test_change_line_not_drawn_on_may_count_otherwise() -> None:
    made = active(line(1, allocation=MINUTES, allotment=600))

    assert made.change_line(line(1, allocation=CASES, allotment=20), drawn_on=False, now=T0) != []
    assert (made.lines[0].allocation, made.lines[0].allotment) == (CASES, 20)


def test_change_line_keeps_the_lines_number_and_place() -> None:
    made = active(line(1, channels=frozenset({EMAIL})), line(2, channels=frozenset({PHONE})))
    renumbered = ContractLine(
        line_id=line_id(1),
        number=7,
        name="Mail",
        allocation=CASES,
        allotment=10,
        starts_on=JAN_1,
        ends_on=DEC_31,
        channels=frozenset({EMAIL}),
    )

    made.change_line(renumbered, drawn_on=False, now=T0)

    assert [(x.number, x.name) for x in made.lines] == [(1, "Mail"), (2, "Line 2")]


def test_change_line_to_the_same_terms_changes_nothing() -> None:
    made = active(line(1))
    assert made.change_line(line(1), drawn_on=True, now=T0) == []


def test_change_line_may_not_overlap_another() -> None:
    made = active(line(1, channels=frozenset({EMAIL})), line(2, channels=frozenset({PHONE})))

    with pytest.raises(ContractConflictError) as raised:
        made.change_line(line(1), drawn_on=False, now=T0)

    assert raised.value.problem_members == {"overlaps_line": 2}
    assert made.lines[0].channels == {EMAIL}


def test_change_line_of_an_unknown_line() -> None:
    with pytest.raises(ContractNotFoundError):
        active().change_line(line(5), drawn_on=False, now=T0)


def test_remove_line_refuses_a_line_drawn_on() -> None:
    made = active(line(1, channels=frozenset({EMAIL})), line(2, channels=frozenset({PHONE})))

    with pytest.raises(ContractConflictError, match="has ledger entries"):
        made.remove_line(line_id(2), drawn_on=True, now=T0)
    assert len(made.lines) == 2

    assert made.remove_line(line_id(2), drawn_on=False, now=T0) == [
        ContractUpdated(contract_id=CONTRACT_ID, occurred_at=T0)
    ]
    assert [x.number for x in made.lines] == [1]
    with pytest.raises(ContractNotFoundError):
        made.line(line_id(2))


@pytest.mark.parametrize("status", [EXPIRED, CANCELLED])
def test_an_ended_contract_no_longer_changes(status: ContractStatus) -> None:
    made = contract(line(1, channels=frozenset({EMAIL})), status=status)
    attempts: list[Callable[[], object]] = [
        lambda: made.add_line(line(2, channels=frozenset({PHONE})), now=T0),
        lambda: made.change_line(line(1, allotment=99), drawn_on=False, now=T0),
        lambda: made.remove_line(line_id(1), drawn_on=False, now=T0),
        lambda: made.change_terms(now=T0, name="Other"),
    ]
    for attempt in attempts:
        with pytest.raises(ContractConflictError, match="no longer changes"):
            attempt()
    assert [x.allotment for x in made.lines] == [10]
    assert made.name == "Premium support"


def test_change_terms() -> None:
    made = active()
    new_owner, new_policy = UUID(int=310), UUID(int=410)

    events = made.change_terms(
        now=T0,
        name=" Gold support ",
        ends_on=date(2027, 3, 31),
        contacts=frozenset({OTHER_CONTACT}),
        owner_id=new_owner,
        sla_policy_id=new_policy,
    )

    assert events == [ContractUpdated(contract_id=CONTRACT_ID, occurred_at=T0)]
    assert made.name == "Gold support"
    assert (made.starts_on, made.ends_on) == (JAN_1, date(2027, 3, 31))
    assert made.contacts == {OTHER_CONTACT}
    assert (made.owner_id, made.sla_policy_id, made.calendar_id) == (
        new_owner,
        new_policy,
        CALENDAR,
    )
    assert made.change_terms(now=T0, name="Gold support", starts_on=JAN_1) == []


@pytest.mark.parametrize("status", [ACTIVE, ON_HOLD])
def test_a_contract_in_force_keeps_its_start(status: ContractStatus) -> None:
    made = contract(line(starts_on=date(2026, 2, 1)), status=status)
    with pytest.raises(ContractConflictError, match="start date no longer moves"):
        made.change_terms(now=T0, starts_on=date(2026, 2, 1))
    assert made.starts_on == JAN_1


def test_a_draft_may_move_its_start() -> None:
    made = drawn_up(line(starts_on=date(2026, 2, 1)))
    assert made.change_terms(now=T0, starts_on=date(2026, 2, 1)) != []
    assert made.starts_on == date(2026, 2, 1)


def test_change_terms_refuses_an_end_that_leaves_lines_outside() -> None:
    made = active(line(1, ends_on=JUN_30), line(2, starts_on=JUL_1))

    with pytest.raises(InvalidContractError, match="lines 2 of contract") as raised:
        made.change_terms(now=T0, ends_on=date(2026, 9, 30))

    assert raised.value.problem_members == {"lines": [2]}
    assert made.ends_on == DEC_31


def test_change_terms_refuses_an_end_before_the_start() -> None:
    made = drawn_up()
    with pytest.raises(InvalidContractError):
        made.change_terms(now=T0, ends_on=date(2025, 12, 31))


# -- renewal ----------------------------------------------------------------------------------

RENEWAL_ID = UUID(int=700)
RENEWAL_NUMBER = "CON-2026-000002"
NEW_LINE_IDS = [UUID(int=2001), UUID(int=2002)]


def renewable(status: ContractStatus = ACTIVE) -> Contract:
    made = contract(
        line(1, allocation=MINUTES, allotment=600, channels=frozenset({EMAIL})),
        line(2, allotment=5, starts_on=JUL_1, channels=frozenset({PHONE}), allow_overdraft=True),
        status=status,
        contacts=frozenset({CONTACT}),
    )
    made.template_id = UUID(int=600)
    return made


@pytest.mark.parametrize("status", [ACTIVE, ON_HOLD, EXPIRED])
def test_renew_draws_up_the_next_period(status: ContractStatus) -> None:
    old = renewable(status)

    renewal, renewal_events, old_events = old.renew(
        renewal_id=RENEWAL_ID,
        renewal_number=RENEWAL_NUMBER,
        line_ids=NEW_LINE_IDS,
        now=T0,
        by=AGENT,
    )

    assert renewal.status is DRAFT
    assert (renewal.contract_id, renewal.number) == (RENEWAL_ID, RENEWAL_NUMBER)
    assert (renewal.starts_on, renewal.ends_on) == (date(2027, 1, 1), date(2027, 12, 31))
    assert renewal.ends_on - renewal.starts_on == old.ends_on - old.starts_on
    assert (
        renewal.account_id,
        renewal.name,
        renewal.contacts,
        renewal.owner_id,
        renewal.template_id,
        renewal.sla_policy_id,
        renewal.calendar_id,
    ) == (
        ACCOUNT,
        "Premium support",
        frozenset({CONTACT}),
        OWNER,
        UUID(int=600),
        POLICY,
        CALENDAR,
    )
    assert renewal.lines == [
        ContractLine(
            line_id=NEW_LINE_IDS[0],
            number=1,
            name="Line 1",
            allocation=MINUTES,
            allotment=600,
            starts_on=date(2027, 1, 1),
            ends_on=date(2027, 12, 31),
            channels=frozenset({EMAIL}),
        ),
        ContractLine(
            line_id=NEW_LINE_IDS[1],
            number=2,
            name="Line 2",
            allocation=CASES,
            allotment=5,
            starts_on=date(2027, 7, 1),
            ends_on=date(2027, 12, 31),
            channels=frozenset({PHONE}),
            allow_overdraft=True,
        ),
    ]
    assert (renewal.renewed_from, renewal.renewed_to) == (CONTRACT_ID, None)
    assert old.renewed_to == RENEWAL_ID
    assert old.status is status
    assert [x.line_id for x in old.lines] == [line_id(1), line_id(2)]
    assert renewal_events == [ContractCreated(contract_id=RENEWAL_ID, occurred_at=T0)]
    assert old_events == [
        ContractRenewed(
            contract_id=CONTRACT_ID,
            occurred_at=T0,
            renewal_id=RENEWAL_ID,
            renewal_number=RENEWAL_NUMBER,
            by=AGENT,
        )
    ]


def test_renew_from_a_given_start() -> None:
    renewal, _, _ = renewable().renew(
        renewal_id=RENEWAL_ID,
        renewal_number=RENEWAL_NUMBER,
        line_ids=NEW_LINE_IDS,
        now=T0,
        by=None,
        starts_on=date(2027, 2, 1),
    )
    assert (renewal.starts_on, renewal.ends_on) == (date(2027, 2, 1), date(2028, 1, 31))
    assert [(x.starts_on, x.ends_on) for x in renewal.lines] == [
        (date(2027, 2, 1), date(2028, 1, 31)),
        (date(2027, 8, 1), date(2028, 1, 31)),
    ]


@pytest.mark.parametrize(
    ("period", "start", "end"),
    [
        # A calendar year stays a year across a leap day.
        ((date(2027, 1, 1), date(2027, 12, 31)), date(2028, 1, 1), date(2028, 12, 31)),
        # Whole months stay whole months.
        ((date(2026, 3, 1), date(2026, 5, 31)), date(2026, 6, 1), date(2026, 8, 31)),
        # Anything else keeps its length in days.
        ((date(2026, 1, 10), date(2026, 1, 19)), date(2026, 1, 20), date(2026, 1, 29)),
        # A period starting on the 31st cannot be counted in months: in days.
        ((date(2026, 1, 31), date(2026, 3, 30)), date(2026, 3, 31), date(2026, 5, 28)),
    ],
)
def test_a_renewal_runs_as_long_as_the_contract_it_renews(
    period: tuple[date, date], start: date, end: date
) -> None:
    contract, _ = new_contract(
        contract_id=CONTRACT_ID,
        number="CON-2026-000001",
        account_id=UUID(int=5),
        name="Support",
        starts_on=period[0],
        ends_on=period[1],
        now=T0,
    )
    contract.status = ContractStatus.EXPIRED
    renewal, _, _ = contract.renew(
        renewal_id=RENEWAL_ID, renewal_number=RENEWAL_NUMBER, line_ids=[], now=T0, by=None
    )
    assert (renewal.starts_on, renewal.ends_on) == (start, end)


def test_a_contract_is_renewed_once() -> None:
    old = renewable()
    old.renew(
        renewal_id=RENEWAL_ID, renewal_number=RENEWAL_NUMBER, line_ids=NEW_LINE_IDS, now=T0, by=None
    )

    with pytest.raises(ContractConflictError, match="renewed already"):
        old.renew(
            renewal_id=UUID(int=701),
            renewal_number="CON-2026-000003",
            line_ids=[UUID(int=2003), UUID(int=2004)],
            now=T0,
            by=None,
        )
    assert old.renewed_to == RENEWAL_ID


@pytest.mark.parametrize("status", [DRAFT, CANCELLED])
def test_a_draft_or_cancelled_contract_is_not_renewed(status: ContractStatus) -> None:
    old = renewable(status)
    with pytest.raises(ContractConflictError, match="cannot renew"):
        old.renew(
            renewal_id=RENEWAL_ID,
            renewal_number=RENEWAL_NUMBER,
            line_ids=NEW_LINE_IDS,
            now=T0,
            by=None,
        )
    assert old.renewed_to is None


def test_renew_needs_a_new_id_per_line_and_a_later_start() -> None:
    old = renewable()
    with pytest.raises(ValueError, match="one new line id"):
        old.renew(
            renewal_id=RENEWAL_ID,
            renewal_number=RENEWAL_NUMBER,
            line_ids=NEW_LINE_IDS[:1],
            now=T0,
            by=None,
        )
    with pytest.raises(InvalidContractError, match="starts after"):
        old.renew(
            renewal_id=RENEWAL_ID,
            renewal_number=RENEWAL_NUMBER,
            line_ids=NEW_LINE_IDS,
            now=T0,
            by=None,
            starts_on=JAN_1,
        )
    assert old.renewed_to is None


# -- what the owner is told -------------------------------------------------------------------


def notice(template: Template, parameters: dict[str, str], *, notification_id: int) -> Notification:
    return Notification(
        notification_id=UUID(int=notification_id),
        recipient_kind=RecipientKind.AGENT,
        recipient_id=OWNER,
        template=template,
        language="en",
        case_id=CASE_ID,
        occurred_at=T0,
        parameters=parameters,
    )


CONTRACT_PARAMETERS = {"contract_number": NUMBER, "contract_name": "Premium support"}
LINE_PARAMETERS = {
    **CONTRACT_PARAMETERS,
    "line_number": "1",
    "line_name": "Line 1",
    "allocation": "minutes",
    "allotment": "600",
}


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        (
            low(90, threshold=120),
            notice(
                Template.ALLOTMENT_LOW,
                {**LINE_PARAMETERS, "remaining": "90"},
                notification_id=9000,
            ),
        ),
        (
            exhausted(0),
            notice(
                Template.ALLOTMENT_EXHAUSTED,
                {**LINE_PARAMETERS, "remaining": "0"},
                notification_id=9000,
            ),
        ),
        (
            ContractEndingSoon(
                contract_id=CONTRACT_ID, occurred_at=T0, ends_on=DEC_31, days_left=12
            ),
            notice(
                Template.CONTRACT_ENDING,
                {**CONTRACT_PARAMETERS, "ends_on": "2026-12-31", "days_left": "12"},
                notification_id=9000,
            ),
        ),
    ],
    ids=["low", "exhausted", "ending"],
)
def test_contract_notices_tell_the_owner(event: ContractEvent, expected: Notification) -> None:
    watched = contract(line(1, allocation=MINUTES, allotment=600))
    assert contract_notices(watched, [event], new_id=ids(), case_id=CASE_ID) == [expected]


def test_contract_notices_follow_the_events_in_order_and_skip_the_others() -> None:
    watched = contract(line(1, allocation=MINUTES, allotment=600))
    events: list[ContractEvent] = [
        ContractUpdated(contract_id=CONTRACT_ID, occurred_at=T0),
        LineDrawnDown(
            contract_id=CONTRACT_ID,
            occurred_at=T0,
            line_id=LINE_ID,
            remaining=0,
            entry_id=UUID(int=800),
            case_id=CASE_ID,
            amount=30,
            overage=0,
            by=AGENT,
        ),
        exhausted(0),
        ContractEndingSoon(contract_id=CONTRACT_ID, occurred_at=T0, ends_on=DEC_31, days_left=3),
    ]

    told = contract_notices(watched, events, new_id=ids())

    assert [(n.template, n.notification_id, n.case_id) for n in told] == [
        (Template.ALLOTMENT_EXHAUSTED, UUID(int=9000), None),
        (Template.CONTRACT_ENDING, UUID(int=9001), None),
    ]


def test_contract_notices_need_an_owner() -> None:
    unowned = contract(owner_id=None)
    events: list[ContractEvent] = [
        exhausted(0),
        ContractEndingSoon(contract_id=CONTRACT_ID, occurred_at=T0, ends_on=DEC_31, days_left=3),
    ]
    assert contract_notices(unowned, events, new_id=ids()) == []
