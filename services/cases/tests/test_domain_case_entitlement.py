"""The case and its contract line: the coverage it opens with, and an agent changing it."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from uuid import UUID

import pytest

from cases.domain import (
    Case,
    CaseClosedError,
    CaseEntitlementChanged,
    CaseOpened,
    CaseStatus,
    CaseValidationError,
    Channel,
    Coverage,
    Customer,
    NotEntitled,
    open_case,
)
from cases.domain.contracts import (
    Allocation,
    Contract,
    ContractLine,
    ContractStatus,
    LineInForce,
    cover,
)

pytestmark = pytest.mark.unit

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
LATER = T0 + timedelta(minutes=30)
CASE_ID = UUID(int=1)
CONTACT = UUID(int=100)
ACCOUNT = UUID(int=200)
AGENT = UUID(int=300)
LINE = UUID(int=400)
CONTRACT = UUID(int=401)
POLICY = UUID(int=402)
CALENDAR = UUID(int=403)
OTHER_LINE = UUID(int=410)
OTHER_CONTRACT = UUID(int=411)
OTHER_POLICY = UUID(int=412)
Recorded = tuple[UUID | None, UUID | None, str | None, str | None]
"""A case's line, contract, reason for no line, and the rule that chose."""

RULE = "ends first: of 2 lines that apply, the one ending soonest (2026-06-30)"

COVERED = Coverage(
    line_id=LINE,
    contract_id=CONTRACT,
    rule=RULE,
    sla_policy_id=POLICY,
    calendar_id=CALENDAR,
)
ELSEWHERE = Coverage(
    line_id=OTHER_LINE,
    contract_id=OTHER_CONTRACT,
    rule="chosen by an agent",
    sla_policy_id=OTHER_POLICY,
)
USED_UP = Coverage(not_entitled=NotEntitled.EXHAUSTED)


def opened(coverage: Coverage | None = None) -> tuple[Case, CaseOpened]:
    case, events = open_case(
        case_id=CASE_ID,
        number="CAS-2026-000123",
        channel=Channel.PHONE,
        customer=Customer(CONTACT, ACCOUNT),
        subject="Invoice wrong",
        description="The March invoice counts a case twice.",
        now=T0,
        request_type="billing",
        coverage=coverage,
    )
    (event,) = events
    assert isinstance(event, CaseOpened)
    return case, event


def entitlement_of(case: Case) -> Recorded:
    return (case.entitlement_id, case.contract_id, case.not_entitled, case.entitlement_rule)


# -- opening ----------------------------------------------------------------------------------


def test_a_case_opens_under_the_line_that_covers_it() -> None:
    case, event = opened(COVERED)

    assert entitlement_of(case) == (LINE, CONTRACT, None, RULE)
    assert (
        event.entitlement_id,
        event.contract_id,
        event.not_entitled,
        event.entitlement_rule,
        event.sla_policy_id,
        event.calendar_id,
    ) == (LINE, CONTRACT, None, RULE, POLICY, CALENDAR)


def test_a_case_opens_saying_why_no_line_covers_it() -> None:
    case, event = opened(USED_UP)

    assert entitlement_of(case) == (None, None, "exhausted", None)
    assert (event.entitlement_id, event.contract_id, event.not_entitled) == (
        None,
        None,
        "exhausted",
    )
    assert (event.sla_policy_id, event.calendar_id) == (None, None)


def test_a_case_opened_without_coverage_records_none() -> None:
    case, event = opened()

    assert entitlement_of(case) == (None, None, None, None)
    assert (event.entitlement_id, event.not_entitled, event.sla_policy_id) == (None, None, None)


def test_a_case_opens_under_the_line_cover_chose() -> None:
    contract = Contract(
        contract_id=CONTRACT,
        number="CON-2026-000001",
        account_id=ACCOUNT,
        name="Premium support",
        status=ContractStatus.ACTIVE,
        starts_on=date(2026, 1, 1),
        ends_on=date(2026, 12, 31),
        sla_policy_id=POLICY,
        calendar_id=CALENDAR,
        lines=[
            ContractLine(
                line_id=LINE,
                number=1,
                name="Phone",
                allocation=Allocation.CASES,
                allotment=10,
                starts_on=date(2026, 1, 1),
                ends_on=date(2026, 12, 31),
                channels=frozenset({Channel.PHONE}),
            )
        ],
    )
    coverage = cover(
        [LineInForce(contract=contract, line=contract.lines[0], remaining=3)],
        account_id=ACCOUNT,
        contact_id=CONTACT,
        channel=Channel.PHONE,
        request_type="billing",
        on=T0.date(),
    )

    case, event = opened(coverage)

    assert entitlement_of(case) == (LINE, CONTRACT, None, None)
    assert (event.sla_policy_id, event.calendar_id) == (POLICY, CALENDAR)


# -- change_entitlement -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "target", "recorded"),
    [
        (COVERED, ELSEWHERE, (OTHER_LINE, OTHER_CONTRACT, None, "chosen by an agent")),
        (COVERED, USED_UP, (None, None, "exhausted", None)),
        (USED_UP, COVERED, (LINE, CONTRACT, None, RULE)),
        (None, COVERED, (LINE, CONTRACT, None, RULE)),
        (COVERED, Coverage(), (None, None, None, None)),
        (
            COVERED,
            Coverage(line_id=LINE, contract_id=CONTRACT, rule="chosen by an agent"),
            (LINE, CONTRACT, None, "chosen by an agent"),
        ),
        (
            USED_UP,
            Coverage(not_entitled=NotEntitled.CHANNEL_NOT_COVERED),
            (None, None, "channel_not_covered", None),
        ),
    ],
    ids=["other-line", "to-none", "from-none", "from-nothing", "cleared", "new-rule", "new-reason"],
)
def test_change_entitlement(start: Coverage | None, target: Coverage, recorded: Recorded) -> None:
    case, _ = opened(start)

    events = case.change_entitlement(target, now=LATER, by=AGENT)

    assert entitlement_of(case) == recorded
    entitlement_id, contract_id, not_entitled, rule = recorded
    assert events == [
        CaseEntitlementChanged(
            case_id=CASE_ID,
            occurred_at=LATER,
            entitlement_id=entitlement_id,
            contract_id=contract_id,
            not_entitled=not_entitled,
            rule=rule,
            sla_policy_id=target.sla_policy_id,
            calendar_id=target.calendar_id,
            by=AGENT,
        )
    ]


@pytest.mark.parametrize(
    ("start", "same"),
    [
        (COVERED, COVERED),
        (USED_UP, Coverage(not_entitled=NotEntitled.EXHAUSTED)),
        (None, Coverage()),
    ],
    ids=["same-line", "same-reason", "still-nothing"],
)
def test_change_entitlement_to_what_it_is_changes_nothing(
    start: Coverage | None, same: Coverage
) -> None:
    case, _ = opened(start)
    before = entitlement_of(case)

    assert case.change_entitlement(same, now=LATER, by=AGENT) == []
    assert entitlement_of(case) == before


def test_a_resolved_case_keeps_its_line() -> None:
    case, _ = opened(COVERED)
    case.resolve(resolution_type="fixed", summary="Invoice corrected", now=LATER)

    with pytest.raises(CaseClosedError) as raised:
        case.change_entitlement(ELSEWHERE, now=LATER, by=AGENT)

    assert raised.value.status == CaseStatus.RESOLVED
    assert entitlement_of(case) == (LINE, CONTRACT, None, RULE)


def test_a_cancelled_case_keeps_its_line() -> None:
    case, _ = opened(COVERED)
    case.cancel("Sent twice", now=LATER)

    with pytest.raises(CaseClosedError):
        case.change_entitlement(USED_UP, now=LATER, by=AGENT)
    assert case.entitlement_id == LINE


def test_change_entitlement_needs_an_aware_time() -> None:
    case, _ = opened(COVERED)
    with pytest.raises(CaseValidationError):
        case.change_entitlement(ELSEWHERE, now=datetime(2026, 3, 2, 9, 30), by=AGENT)
    assert case.entitlement_id == LINE
