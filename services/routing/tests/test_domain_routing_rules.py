"""Routing rules: the first matching active rule by order chooses the queue."""

from __future__ import annotations

from uuid import UUID

import pytest

from routing.domain import (
    ENTITLEMENTS,
    CaseFacts,
    QueueChoice,
    RoutingRule,
    RoutingValidationError,
    RuleBook,
    choose_queue,
)

pytestmark = pytest.mark.unit

DEFAULT = UUID(int=1)
MAJOR_ACCOUNTS = UUID(int=2)
PRINTERS = UUID(int=3)
PHONES = UUID(int=4)
URGENT = UUID(int=5)
BILLING = UUID(int=6)
RETIRED = UUID(int=7)

VIP = UUID(int=100)
OTHER_VIP = UUID(int=101)
SMALL_SHOP = UUID(int=200)

# Listed out of order on purpose: the `order` field decides, not the position.
RULES = [
    RoutingRule(name="billing words", order=50, queue_id=BILLING,
                subject_keywords=frozenset({"invoice", "refund"})),
    RoutingRule(name="phones", order=40, queue_id=PHONES, channels=frozenset({"phone"})),
    RoutingRule(name="major accounts", order=10, queue_id=MAJOR_ACCOUNTS,
                account_ids=frozenset({VIP, OTHER_VIP}), required_skills=frozenset({"VIP"})),
    RoutingRule(name="urgent printers", order=20, queue_id=URGENT,
                request_types=frozenset({"hardware.printer"}),
                priorities=frozenset({"urgent", "high"}), required_skills=frozenset({"printers"})),
    RoutingRule(name="printers", order=30, queue_id=PRINTERS,
                request_types=frozenset({"hardware.printer"})),
    RoutingRule(name="retired", order=0, queue_id=RETIRED, active=False),
]  # fmt: skip


def facts(
    *,
    channel: str = "email",
    priority: str = "normal",
    subject: str = "Something is wrong",
    request_type: str | None = None,
    account_id: UUID | None = SMALL_SHOP,
    entitled: bool | None = None,
    not_entitled: str | None = None,
) -> CaseFacts:
    return CaseFacts(
        case_id=UUID(int=999),
        channel=channel,
        priority=priority,
        subject=subject,
        request_type=request_type,
        account_id=account_id,
        entitled=entitled,
        not_entitled=not_entitled,
    )


@pytest.mark.parametrize(
    ("case", "queue_id", "rule_name"),
    [
        (facts(), DEFAULT, None),
        (facts(account_id=VIP, channel="phone"), MAJOR_ACCOUNTS, "major accounts"),
        (
            facts(account_id=OTHER_VIP, request_type="hardware.printer"),
            MAJOR_ACCOUNTS,
            "major accounts",
        ),
        (facts(request_type="hardware.printer", priority="urgent"), URGENT, "urgent printers"),
        (facts(request_type="Hardware.Printer", priority="HIGH"), URGENT, "urgent printers"),
        (facts(request_type="hardware.printer", priority="normal"), PRINTERS, "printers"),
        (facts(request_type="hardware.printer", channel="phone"), PRINTERS, "printers"),
        (facts(channel="phone"), PHONES, "phones"),
        (facts(channel=" Phone "), PHONES, "phones"),
        (facts(channel="phone", subject="Refund please"), PHONES, "phones"),
        (facts(subject="Where is my INVOICE?"), BILLING, "billing words"),
        (facts(subject="Re: refunded twice"), BILLING, "billing words"),  # contains the keyword
        (facts(subject="In voice mail"), DEFAULT, None),
        (facts(account_id=None), DEFAULT, None),
        (facts(request_type=None, priority="urgent"), DEFAULT, None),
    ],
)
def test_choose_queue(case: CaseFacts, queue_id: UUID, rule_name: str | None) -> None:
    choice = choose_queue(case, RULES, DEFAULT)
    assert (choice.queue_id, choice.rule_name) == (queue_id, rule_name)
    # A batch sorts its rules once into a book; the book chooses as the rules do.
    assert choose_queue(case, RuleBook.of(RULES), DEFAULT) == choice
    # Each rule tried before the chosen one does not match on its own either.
    tried = [rule for rule in RuleBook.of(RULES) if rule.active]
    before = tried if rule_name is None else tried[: [r.name for r in tried].index(rule_name)]
    assert not any(rule.matches(case) for rule in before)
    assert rule_name is None or next(r for r in tried if r.name == rule_name).matches(case)


def test_a_rule_book_is_the_rules_in_the_order_they_are_tried() -> None:
    book = RuleBook.of(RULES)
    assert [rule.name for rule in book] == [
        "retired",
        "major accounts",
        "urgent printers",
        "printers",
        "phones",
        "billing words",
    ]
    assert RuleBook.of(book) is book  # sorted once


@pytest.mark.parametrize(
    ("case", "skills"),
    [
        (facts(account_id=VIP), frozenset({"vip"})),
        (facts(request_type="hardware.printer", priority="urgent"), frozenset({"printers"})),
        (facts(request_type="hardware.printer"), frozenset()),
        (facts(), frozenset()),
    ],
)
def test_the_chosen_rule_brings_its_required_skills(
    case: CaseFacts, skills: frozenset[str]
) -> None:
    assert choose_queue(case, RULES, DEFAULT).required_skills == skills


def test_the_choice_unpacks_as_queue_and_rule_name() -> None:
    queue_id, rule_name, _skills = choose_queue(facts(channel="phone"), RULES, DEFAULT)
    assert (queue_id, rule_name) == (PHONES, "phones")


def test_without_rules_everything_goes_to_the_default_queue() -> None:
    assert choose_queue(facts(account_id=VIP), [], DEFAULT) == QueueChoice(
        DEFAULT, None, frozenset()
    )


def test_an_inactive_rule_never_matches_even_first_and_unconditional() -> None:
    retired = RoutingRule(name="retired", order=0, queue_id=RETIRED, active=False)
    assert retired.matches(facts())  # its conditions hold ...
    assert choose_queue(facts(), [retired], DEFAULT).queue_id == DEFAULT  # ... yet it is off


def test_equal_orders_are_tried_by_name() -> None:
    beta = RoutingRule(name="beta", order=1, queue_id=PHONES)
    alpha = RoutingRule(name="alpha", order=1, queue_id=PRINTERS)
    for rules in ([alpha, beta], [beta, alpha]):
        assert choose_queue(facts(), rules, DEFAULT).rule_name == "alpha"


def test_a_rule_without_conditions_is_a_catch_all() -> None:
    catch_all = RoutingRule(name="everything else", order=999, queue_id=BILLING)
    assert choose_queue(facts(), [*RULES, catch_all], DEFAULT).queue_id == BILLING
    assert choose_queue(facts(channel="phone"), [*RULES, catch_all], DEFAULT).queue_id == PHONES


@pytest.mark.parametrize(
    "bad",
    [
        {"name": "  "},
        {"channels": frozenset({""})},
        {"priorities": frozenset({" "})},
        {"request_types": frozenset({"ok", ""})},
        {"subject_keywords": frozenset({"  "})},
        {"required_skills": frozenset({" "})},
        {"entitlement": frozenset({"covered"})},
        {"entitlement": frozenset({"entitled", ""})},
    ],
)
def test_a_rule_refuses_blank_entries(bad: dict[str, object]) -> None:
    arguments: dict[str, object] = {"name": "rule", "order": 1, "queue_id": DEFAULT, **bad}
    with pytest.raises(RoutingValidationError):
        RoutingRule(**arguments)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("written", "kept"),
    [
        ({"Printers:3", " VIP "}, {"printers:3", "vip"}),
        ({"printers:1"}, {"printers"}),  # level 1 is written without the suffix
        ({"printers", "PRINTERS:4"}, {"printers:4"}),  # one name once, at its highest level
    ],
)
def test_a_rule_keeps_its_required_skills_with_their_levels_in_one_spelling(
    written: set[str], kept: set[str]
) -> None:
    rule = RoutingRule(name="rule", order=1, queue_id=PRINTERS, required_skills=frozenset(written))
    assert rule.required_skills == kept


@pytest.mark.parametrize("skill", ["printers:0", "printers:6", "printers:", "printers:high"])
def test_a_rule_refuses_an_impossible_skill_level(skill: str) -> None:
    with pytest.raises(RoutingValidationError):
        RoutingRule(name="rule", order=1, queue_id=PRINTERS, required_skills=frozenset({skill}))


# -- entitlement -----------------------------------------------------------------------------

ENTITLED = facts(entitled=True)
EXHAUSTED = facts(entitled=False, not_entitled="exhausted")
NO_CONTRACT = facts(entitled=False, not_entitled="no_contract")
CLEARED = facts(entitled=False)  # an agent cleared the line without a reason
BEFORE_CONTRACTS = facts()  # an opening from before contracts: says nothing of entitlement


def _asks(*entitlement: str, order: int = 1) -> RoutingRule:
    return RoutingRule(
        name="by entitlement", order=order, queue_id=BILLING, entitlement=frozenset(entitlement)
    )


@pytest.mark.parametrize(
    ("entitlement", "case", "holds"),
    [
        (("entitled",), ENTITLED, True),
        (("entitled",), EXHAUSTED, False),
        (("entitled",), CLEARED, False),
        (("not_entitled",), EXHAUSTED, True),
        (("not_entitled",), NO_CONTRACT, True),
        (("not_entitled",), CLEARED, True),
        (("not_entitled",), ENTITLED, False),
        (("exhausted",), EXHAUSTED, True),
        (("exhausted",), NO_CONTRACT, False),
        (("exhausted",), CLEARED, False),
        (("exhausted",), ENTITLED, False),
        (("exhausted", "expired"), EXHAUSTED, True),
        (("entitled", "no_contract"), NO_CONTRACT, True),
        (("entitled", "no_contract"), ENTITLED, True),
        (("entitled", "no_contract"), EXHAUSTED, False),
        (("Not_Entitled ",), EXHAUSTED, True),  # letter case and spaces do not matter
        ((), EXHAUSTED, True),
        ((), ENTITLED, True),
    ],
)
def test_the_entitlement_condition(
    entitlement: tuple[str, ...], case: CaseFacts, holds: bool
) -> None:
    assert _asks(*entitlement).matches(case) is holds


@pytest.mark.parametrize("entitlement", [*sorted(ENTITLEMENTS), "entitled not_entitled"])
def test_a_case_from_before_contracts_meets_no_entitlement_condition(entitlement: str) -> None:
    asked = entitlement.split()
    assert not _asks(*asked).matches(BEFORE_CONTRACTS)
    assert _asks().matches(BEFORE_CONTRACTS)  # asking nothing holds, as before contracts


def test_cases_no_contract_covers_go_where_the_entitlement_rule_sends_them() -> None:
    rules = [*RULES, _asks("not_entitled", order=100)]
    assert choose_queue(EXHAUSTED, rules, DEFAULT) == QueueChoice(
        BILLING, "by entitlement", frozenset()
    )
    assert choose_queue(ENTITLED, rules, DEFAULT).queue_id == DEFAULT
    assert choose_queue(BEFORE_CONTRACTS, rules, DEFAULT).queue_id == DEFAULT
    # Rules tried earlier still come first.
    assert choose_queue(facts(entitled=False, channel="phone"), rules, DEFAULT).queue_id == PHONES


def test_a_rule_keeps_its_entitlement_values_in_one_spelling() -> None:
    assert _asks(" Exhausted", "ENTITLED").entitlement == {"exhausted", "entitled"}


def test_an_unknown_entitlement_value_is_named_in_the_refusal() -> None:
    with pytest.raises(RoutingValidationError, match="'covered'"):
        _asks("entitled", "covered")
