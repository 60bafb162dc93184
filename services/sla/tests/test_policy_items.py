"""Policy items, the new conditions (tier, region, contract) and retired policies."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

import pytest

from sla.domain import (
    AppliesTo,
    CaseFacts,
    InvalidPolicyError,
    KpiDefinition,
    NoApplicablePolicyError,
    PolicyItem,
    SlaPolicy,
    choose_policy,
)

pytestmark = pytest.mark.unit

POLICY_CALENDAR = UUID("00000000-0000-0000-0000-00000000ca1e")
OFFICE_CALENDAR = UUID("00000000-0000-0000-0000-0000000000ff")
CONTRACT = UUID("00000000-0000-0000-0000-00000000c0c0")
OTHER_CONTRACT = UUID("00000000-0000-0000-0000-00000000c0c1")

FAST = (
    KpiDefinition("first_response", timedelta(hours=1)),
    KpiDefinition("resolution", timedelta(hours=8)),
)
CONTRACTED = (KpiDefinition("first_response", timedelta(hours=2)),)
STANDARD_KPIS = (
    KpiDefinition("first_response", timedelta(hours=8), timedelta(hours=2)),
    KpiDefinition("resolution", timedelta(days=5)),
)

GOLD_URGENT = PolicyItem(
    "gold urgent",
    FAST,
    AppliesTo(tiers={"gold"}, priorities={"urgent"}),
    calendar_id=OFFICE_CALENDAR,
)
UNDER_CONTRACT = PolicyItem("under contract", CONTRACTED, AppliesTo(contract_ids={CONTRACT}))
EVERYONE_ELSE = PolicyItem("everyone else", STANDARD_KPIS)


def tiered(
    *items: PolicyItem,
    number: int = 1,
    name: str = "tiered",
    applies_to: AppliesTo | None = None,
    retired: bool = False,
) -> SlaPolicy:
    return SlaPolicy(
        policy_id=UUID(int=number),
        name=name,
        calendar_id=POLICY_CALENDAR,
        items=items or (GOLD_URGENT, UNDER_CONTRACT, EVERYONE_ELSE),
        applies_to=applies_to or AppliesTo(),
        retired=retired,
    )


def plain(
    number: int,
    name: str,
    applies_to: AppliesTo | None = None,
    *,
    is_default: bool = False,
    retired: bool = False,
) -> SlaPolicy:
    return SlaPolicy(
        policy_id=UUID(int=number),
        name=name,
        calendar_id=POLICY_CALENDAR,
        kpis=STANDARD_KPIS,
        applies_to=applies_to or AppliesTo(),
        is_default=is_default,
        retired=retired,
    )


# --- AppliesTo: tiers, regions, contracts --------------------------------------------------


@pytest.mark.parametrize(
    ("applies_to", "facts", "matches"),
    [
        (AppliesTo(tiers={"gold"}), CaseFacts(tier="gold"), True),
        (AppliesTo(tiers={"gold", "silver"}), CaseFacts(tier="silver"), True),
        (AppliesTo(tiers={"gold"}), CaseFacts(tier="bronze"), False),
        (AppliesTo(tiers={"gold"}), CaseFacts(tier=None), False),
        (AppliesTo(tiers={"gold"}), CaseFacts(tier="Gold"), False),
        (AppliesTo(regions={"DACH"}), CaseFacts(region="DACH"), True),
        (AppliesTo(regions={"DACH"}), CaseFacts(region="Nordics"), False),
        (AppliesTo(regions={"DACH"}), CaseFacts(), False),
        (AppliesTo(contract_ids={CONTRACT}), CaseFacts(contract_id=CONTRACT), True),
        (AppliesTo(contract_ids={CONTRACT}), CaseFacts(contract_id=OTHER_CONTRACT), False),
        (AppliesTo(contract_ids={CONTRACT}), CaseFacts(contract_id=None), False),
        (AppliesTo(), CaseFacts(tier="gold", region="DACH", contract_id=CONTRACT), True),
        (
            AppliesTo(tiers={"gold"}, regions={"DACH"}, contract_ids={CONTRACT}),
            CaseFacts(tier="gold", region="DACH", contract_id=CONTRACT),
            True,
        ),
        (
            AppliesTo(tiers={"gold"}, regions={"DACH"}),
            CaseFacts(tier="gold", region="Nordics"),
            False,
        ),
        (
            AppliesTo(tiers={"gold"}, priorities={"urgent"}),
            CaseFacts(priority="normal", tier="gold"),
            False,
        ),
    ],
)
def test_tier_region_and_contract_conditions_must_all_hold(
    applies_to: AppliesTo, facts: CaseFacts, matches: bool
) -> None:
    assert applies_to.matches(facts) is matches


@pytest.mark.parametrize(
    "applies_to",
    [
        AppliesTo(tiers={"gold"}),
        AppliesTo(regions={"DACH"}),
        AppliesTo(contract_ids={CONTRACT}),
    ],
)
def test_each_new_condition_makes_a_condition(applies_to: AppliesTo) -> None:
    assert not applies_to.is_unconditional


def test_new_conditions_are_kept_as_frozen_sets() -> None:
    applies_to = AppliesTo(
        tiers=["gold", "gold"],  # type: ignore[arg-type]
        regions=("DACH",),  # type: ignore[arg-type]
        contract_ids=[CONTRACT],  # type: ignore[arg-type]
    )

    assert applies_to.tiers == frozenset({"gold"})
    assert applies_to.regions == frozenset({"DACH"})
    assert applies_to.contract_ids == frozenset({CONTRACT})
    assert hash(applies_to) == hash(
        AppliesTo(tiers={"gold"}, regions={"DACH"}, contract_ids={CONTRACT})
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("tiers", ""),
        ("tiers", "  "),
        ("regions", ""),
        ("regions", "\t"),
        ("priorities", " "),
        ("channels", ""),
        ("request_types", "   "),
    ],
)
def test_a_blank_condition_value_is_refused(field: str, value: str) -> None:
    with pytest.raises(InvalidPolicyError, match=f"{field}.*blank"):
        AppliesTo(**{field: {"gold", value}})  # type: ignore[arg-type]


# --- PolicyItem ---------------------------------------------------------------------------


def test_a_policy_item_keeps_its_kpis_as_a_tuple() -> None:
    item = PolicyItem("gold", list(FAST))  # type: ignore[arg-type]

    assert item.kpis == FAST
    assert isinstance(item.kpis, tuple)
    assert item.applies_to.is_unconditional
    assert item.calendar_id is None


@pytest.mark.parametrize(
    ("name", "kpis", "message"),
    [
        ("", FAST, "name"),
        ("   ", FAST, "name"),
        ("gold", (), "no KPIs"),
        ("gold", (*FAST, FAST[0]), "more than once: first_response"),
    ],
)
def test_unusable_policy_items_are_refused(
    name: str, kpis: tuple[KpiDefinition, ...], message: str
) -> None:
    with pytest.raises(InvalidPolicyError, match=message):
        PolicyItem(name, kpis)


# --- SlaPolicy with items -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("facts", "expected"),
    [
        (CaseFacts(priority="urgent", tier="gold"), GOLD_URGENT),
        # Both the first and second items match: the first wins.
        (CaseFacts(priority="urgent", tier="gold", contract_id=CONTRACT), GOLD_URGENT),
        (CaseFacts(priority="normal", tier="gold", contract_id=CONTRACT), UNDER_CONTRACT),
        (CaseFacts(priority="urgent", tier="silver"), EVERYONE_ELSE),
        (CaseFacts(priority="urgent", contract_id=OTHER_CONTRACT), EVERYONE_ELSE),
        (CaseFacts(), EVERYONE_ELSE),
    ],
)
def test_the_first_matching_item_gives_the_terms(facts: CaseFacts, expected: PolicyItem) -> None:
    item, kpis, _ = tiered().terms_for(facts)

    assert item is expected
    assert kpis == expected.kpis


def test_item_order_decides_between_items_that_both_match() -> None:
    policy = tiered(UNDER_CONTRACT, GOLD_URGENT, EVERYONE_ELSE)

    item, kpis, calendar_id = policy.terms_for(
        CaseFacts(priority="urgent", tier="gold", contract_id=CONTRACT)
    )

    assert (item, kpis, calendar_id) == (UNDER_CONTRACT, CONTRACTED, POLICY_CALENDAR)


def test_an_item_counts_on_its_own_calendar_else_the_policys() -> None:
    policy = tiered()

    assert policy.terms_for(CaseFacts(priority="urgent", tier="gold"))[2] == OFFICE_CALENDAR
    assert policy.terms_for(CaseFacts(contract_id=CONTRACT))[2] == POLICY_CALENDAR
    assert policy.terms_for(CaseFacts())[2] == POLICY_CALENDAR


def test_a_policy_without_items_gives_its_own_kpis_and_calendar() -> None:
    policy = plain(7, "standard")

    assert policy.terms_for(CaseFacts(priority="urgent", tier="gold")) == (
        None,
        STANDARD_KPIS,
        POLICY_CALENDAR,
    )
    assert policy.calendar_ids == frozenset({POLICY_CALENDAR})


def test_calendar_ids_names_the_policys_and_its_items_calendars() -> None:
    assert tiered().calendar_ids == frozenset({POLICY_CALENDAR, OFFICE_CALENDAR})
    assert tiered(UNDER_CONTRACT, EVERYONE_ELSE).calendar_ids == frozenset({POLICY_CALENDAR})
    same = PolicyItem("same", FAST, AppliesTo(tiers={"gold"}), calendar_id=POLICY_CALENDAR)
    assert tiered(same, EVERYONE_ELSE).calendar_ids == frozenset({POLICY_CALENDAR})


def test_a_policy_keeps_its_items_as_a_tuple_and_has_no_kpis_of_its_own() -> None:
    policy = SlaPolicy(
        policy_id=UUID(int=3),
        name="listed",
        calendar_id=POLICY_CALENDAR,
        items=[GOLD_URGENT, EVERYONE_ELSE],  # type: ignore[arg-type]
    )

    assert policy.items == (GOLD_URGENT, EVERYONE_ELSE)
    assert policy.kpis == ()


@pytest.mark.parametrize(
    "items",
    [
        (GOLD_URGENT,),
        (EVERYONE_ELSE, GOLD_URGENT),
        (GOLD_URGENT, UNDER_CONTRACT),
        (EVERYONE_ELSE, PolicyItem("dach", FAST, AppliesTo(regions={"DACH"}))),
    ],
)
def test_the_last_item_must_take_every_remaining_case(items: tuple[PolicyItem, ...]) -> None:
    with pytest.raises(InvalidPolicyError, match="last item") as raised:
        tiered(*items)

    # An InvalidPolicyError is bad input: a ValueError, answered 422 by the service.
    assert isinstance(raised.value, ValueError)


def test_a_bad_policy_is_answered_422() -> None:
    from sla.bootstrap import ERRORS

    assert ERRORS[InvalidPolicyError] == 422


def test_a_policy_with_both_kpis_and_items_is_refused() -> None:
    with pytest.raises(InvalidPolicyError, match="items"):
        SlaPolicy(
            policy_id=UUID(int=4),
            name="both",
            calendar_id=POLICY_CALENDAR,
            kpis=STANDARD_KPIS,
            items=(EVERYONE_ELSE,),
        )


def test_a_policy_with_neither_kpis_nor_items_is_refused() -> None:
    with pytest.raises(InvalidPolicyError, match="no KPIs"):
        SlaPolicy(policy_id=UUID(int=4), name="empty", calendar_id=POLICY_CALENDAR)


def test_item_names_must_be_unique_within_a_policy() -> None:
    again = PolicyItem("gold urgent", CONTRACTED)  # unconditional, so only the name clashes

    with pytest.raises(InvalidPolicyError, match="items more than once: gold urgent"):
        tiered(GOLD_URGENT, again)


def test_the_same_kpi_name_may_appear_in_different_items() -> None:
    policy = tiered(GOLD_URGENT, EVERYONE_ELSE)

    assert {kpi.name for kpi in policy.items[0].kpis} == {kpi.name for kpi in policy.items[1].kpis}


def test_a_default_policy_may_have_items() -> None:
    policy = SlaPolicy(
        policy_id=UUID(int=5),
        name="standard",
        calendar_id=POLICY_CALENDAR,
        items=(GOLD_URGENT, EVERYONE_ELSE),
        is_default=True,
    )

    assert choose_policy(CaseFacts(tier="bronze"), [policy]) is policy
    assert policy.terms_for(CaseFacts(priority="urgent", tier="gold"))[0] is GOLD_URGENT


# --- Retired policies ---------------------------------------------------------------------

STANDARD = plain(10, "standard", is_default=True)
GOLD = plain(11, "gold", AppliesTo(tiers={"gold"}))
RETIRED_GOLD = plain(12, "old gold", AppliesTo(tiers={"gold"}), retired=True)
RETIRED_TIERED = tiered(number=13, name="old tiered", retired=True)


def test_a_retired_policy_is_passed_over_for_the_next_that_matches() -> None:
    facts = CaseFacts(tier="gold")

    assert choose_policy(facts, [RETIRED_GOLD, GOLD, STANDARD]) is GOLD


@pytest.mark.parametrize(
    "facts",
    [CaseFacts(tier="gold"), CaseFacts(priority="urgent", tier="gold"), CaseFacts()],
)
def test_with_only_retired_policies_matching_a_case_falls_to_the_default(
    facts: CaseFacts,
) -> None:
    assert choose_policy(facts, [RETIRED_GOLD, RETIRED_TIERED, STANDARD]) is STANDARD


def test_without_a_default_a_retired_policy_is_not_chosen_either() -> None:
    with pytest.raises(NoApplicablePolicyError):
        choose_policy(CaseFacts(tier="gold"), [RETIRED_GOLD])


def test_a_retired_policy_still_gives_its_terms() -> None:
    # A contract may still name it; its terms do not change by retiring.
    item, kpis, calendar_id = RETIRED_TIERED.terms_for(CaseFacts(priority="urgent", tier="gold"))

    assert (item, kpis, calendar_id) == (GOLD_URGENT, FAST, OFFICE_CALENDAR)
    assert RETIRED_TIERED.retired
    assert not GOLD.retired


def test_the_default_policy_cannot_retire() -> None:
    with pytest.raises(InvalidPolicyError, match=r"default.*cannot retire"):
        plain(14, "standard", is_default=True, retired=True)
