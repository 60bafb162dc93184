"""Priority rules: the first matching rule gives a new case its priority."""

from __future__ import annotations

import pytest

from cases.domain import (
    DEFAULT_PRIORITY,
    CaseValidationError,
    Channel,
    Priority,
    PriorityRule,
    initial_priority,
)

pytestmark = pytest.mark.unit

RULES = [
    PriorityRule(
        name="outage",
        priority=Priority.URGENT,
        request_types=frozenset({"network.outage"}),
    ),
    PriorityRule(
        name="printer on fire",
        priority=Priority.URGENT,
        request_types=frozenset({"hardware.printer"}),
        parameters={"symptom": "smoke"},
    ),
    PriorityRule(
        name="calls are pressing",
        priority=Priority.HIGH,
        channels=frozenset({Channel.PHONE}),
    ),
    PriorityRule(
        name="whole-site hardware",
        priority=Priority.HIGH,
        request_types=frozenset({"hardware.printer", "hardware.laptop"}),
        parameters={"scope": "site", "floor": "all"},
    ),
    PriorityRule(
        name="questions can wait",
        priority=Priority.LOW,
        request_types=frozenset({"question"}),
        channels=frozenset({Channel.EMAIL, Channel.WEB}),
    ),
]


@pytest.mark.parametrize(
    ("request_type", "parameters", "channel", "expected"),
    [
        ("network.outage", {}, Channel.EMAIL, Priority.URGENT),
        (" Network.Outage ", {}, Channel.WEB, Priority.URGENT),
        ("hardware.printer", {"symptom": "smoke"}, Channel.WEB, Priority.URGENT),
        ("hardware.printer", {"symptom": " SMOKE "}, Channel.WEB, Priority.URGENT),
        ("hardware.printer", {"symptom": "jam"}, Channel.WEB, Priority.NORMAL),
        ("hardware.printer", {"symptom": "smoke"}, Channel.PHONE, Priority.URGENT),  # first wins
        ("hardware.printer", {"symptom": "jam"}, Channel.PHONE, Priority.HIGH),
        (None, {}, Channel.PHONE, Priority.HIGH),
        ("hardware.laptop", {"scope": "site", "floor": "all"}, Channel.API, Priority.HIGH),
        ("hardware.laptop", {"scope": "site"}, Channel.API, Priority.NORMAL),  # all must hold
        ("hardware.laptop", {}, Channel.API, Priority.NORMAL),
        ("question", {}, Channel.EMAIL, Priority.LOW),
        ("question", {}, Channel.API, Priority.NORMAL),
        ("question", {}, Channel.PHONE, Priority.HIGH),
        (None, {}, Channel.EMAIL, Priority.NORMAL),
        ("billing", {"amount": "1000"}, Channel.WEB, Priority.NORMAL),
    ],
)
def test_initial_priority(
    request_type: str | None, parameters: dict[str, str], channel: Channel, expected: Priority
) -> None:
    assert initial_priority(request_type, parameters, channel, RULES) == expected


def test_without_rules_every_case_is_normal() -> None:
    assert DEFAULT_PRIORITY is Priority.NORMAL
    assert initial_priority("network.outage", {}, Channel.PHONE, []) is Priority.NORMAL


def test_a_rule_without_conditions_catches_everything_after_it() -> None:
    rules = [*RULES, PriorityRule(name="rest", priority=Priority.LOW)]
    assert initial_priority(None, {}, Channel.API, rules) is Priority.LOW
    assert initial_priority("network.outage", {}, Channel.API, rules) is Priority.URGENT


def test_a_request_type_condition_fails_when_the_request_has_none() -> None:
    rule = PriorityRule(priority=Priority.HIGH, request_types=frozenset({"question"}))
    assert not rule.matches(None, {}, Channel.EMAIL)


def test_a_rule_keeps_its_own_copy_of_the_parameters() -> None:
    parameters = {"symptom": "smoke"}
    rule = PriorityRule(priority=Priority.URGENT, parameters=parameters)
    parameters["symptom"] = "jam"
    assert rule.matches(None, {"symptom": "smoke"}, Channel.WEB)
    assert not rule.matches(None, {"symptom": "jam"}, Channel.WEB)


@pytest.mark.parametrize(
    "bad",
    [
        {"request_types": frozenset({" "})},
        {"parameters": {"": "x"}},
    ],
)
def test_a_rule_refuses_blank_conditions(bad: dict[str, object]) -> None:
    with pytest.raises(CaseValidationError):
        PriorityRule(priority=Priority.HIGH, name="bad", **bad)  # type: ignore[arg-type]
