"""SLA policies, KPI definitions and choosing the policy for a case."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

import pytest

from sla.domain import (
    DEFAULT_LADDER,
    AppliesTo,
    CaseFacts,
    EscalationStep,
    EscalationTarget,
    InvalidPolicyError,
    KpiDefinition,
    NoApplicablePolicyError,
    SlaError,
    SlaPolicy,
    choose_policy,
)

pytestmark = pytest.mark.unit

CALENDAR_ID = UUID("00000000-0000-0000-0000-00000000ca1e")
FIRST_RESPONSE = KpiDefinition("first_response", timedelta(hours=4), timedelta(hours=1))
RESOLUTION = KpiDefinition("resolution", timedelta(hours=40))


def policy(
    number: int,
    name: str,
    applies_to: AppliesTo | None = None,
    *,
    is_default: bool = False,
) -> SlaPolicy:
    return SlaPolicy(
        policy_id=UUID(int=number),
        name=name,
        calendar_id=CALENDAR_ID,
        kpis=(FIRST_RESPONSE, RESOLUTION),
        applies_to=applies_to or AppliesTo(),
        is_default=is_default,
    )


URGENT_PHONE = policy(1, "urgent by phone", AppliesTo(priorities={"urgent"}, channels={"phone"}))
URGENT = policy(2, "urgent", AppliesTo(priorities=frozenset({"urgent", "high"})))
BILLING = policy(3, "billing", AppliesTo(request_types={"billing_question", "refund"}))
STANDARD = policy(4, "standard", is_default=True)
RANKED = [STANDARD, URGENT_PHONE, URGENT, BILLING]


@pytest.mark.parametrize(
    ("facts", "expected"),
    [
        (CaseFacts(priority="urgent", channel="phone"), URGENT_PHONE),
        (CaseFacts(priority="urgent", channel="email"), URGENT),
        (CaseFacts(priority="high", channel="phone", request_type="refund"), URGENT),
        (CaseFacts(priority="normal", channel="email", request_type="refund"), BILLING),
        (CaseFacts(priority="normal", channel="phone"), STANDARD),
        (CaseFacts(), STANDARD),
    ],
)
def test_the_first_matching_policy_wins_else_the_default(
    facts: CaseFacts, expected: SlaPolicy
) -> None:
    assert choose_policy(facts, RANKED) is expected


def test_order_decides_between_policies_that_both_match() -> None:
    facts = CaseFacts(priority="urgent", channel="phone")

    assert choose_policy(facts, [URGENT, URGENT_PHONE, STANDARD]) is URGENT


def test_without_a_default_an_unmatched_case_has_no_policy() -> None:
    with pytest.raises(NoApplicablePolicyError):
        choose_policy(CaseFacts(priority="low"), [URGENT, BILLING])
    with pytest.raises(NoApplicablePolicyError):
        choose_policy(CaseFacts(priority="low"), [])


def test_two_default_policies_are_refused() -> None:
    with pytest.raises(InvalidPolicyError, match="default"):
        choose_policy(
            CaseFacts(priority="urgent", channel="phone"),
            [URGENT_PHONE, STANDARD, policy(5, "fallback", is_default=True)],
        )


@pytest.mark.parametrize(
    ("applies_to", "facts", "matches"),
    [
        (AppliesTo(), CaseFacts(), True),
        (AppliesTo(), CaseFacts(priority="low", channel="web", request_type="x"), True),
        (AppliesTo(channels={"web", "email"}), CaseFacts(channel="email"), True),
        (AppliesTo(channels={"web", "email"}), CaseFacts(channel="phone"), False),
        (AppliesTo(request_types={"refund"}), CaseFacts(request_type=None), False),
        (AppliesTo(priorities={"high"}, channels={"web"}), CaseFacts("high", "web"), True),
        (AppliesTo(priorities={"high"}, channels={"web"}), CaseFacts("high", "phone"), False),
        (AppliesTo(priorities={"high"}, channels={"web"}), CaseFacts("low", "web"), False),
    ],
)
def test_conditions_must_all_hold(applies_to: AppliesTo, facts: CaseFacts, matches: bool) -> None:
    assert applies_to.matches(facts) is matches


def test_conditions_are_kept_as_frozen_sets() -> None:
    applies_to = AppliesTo(priorities=["high", "high"], channels=("web",))  # type: ignore[arg-type]

    assert applies_to.priorities == frozenset({"high"})
    assert applies_to.channels == frozenset({"web"})
    assert hash(applies_to) == hash(AppliesTo(priorities={"high"}, channels={"web"}))
    assert not applies_to.is_unconditional
    assert AppliesTo().is_unconditional


def test_a_kpi_warns_before_its_deadline() -> None:
    assert FIRST_RESPONSE.warn_after == timedelta(hours=3)
    assert RESOLUTION.warn_after is None


def test_a_kpi_can_warn_at_a_share_of_its_target() -> None:
    kpi = KpiDefinition.with_warning_share("resolution", timedelta(hours=8), elapsed=0.75)

    assert kpi.warn_before == timedelta(hours=2)
    assert kpi.warn_after == timedelta(hours=6)


@pytest.mark.parametrize("elapsed", [0.0, 1.0, 1.5, -0.25])
def test_a_warning_share_outside_the_target_is_refused(elapsed: float) -> None:
    with pytest.raises(InvalidPolicyError, match="share"):
        KpiDefinition.with_warning_share("resolution", timedelta(hours=8), elapsed=elapsed)


@pytest.mark.parametrize(
    ("name", "target", "warn_before", "message"),
    [
        ("", timedelta(hours=1), None, "name"),
        ("  ", timedelta(hours=1), None, "name"),
        ("resolution", timedelta(0), None, "positive"),
        ("resolution", -timedelta(hours=1), None, "positive"),
        ("resolution", timedelta(hours=1), timedelta(hours=1), "between"),
        ("resolution", timedelta(hours=1), timedelta(hours=2), "between"),
        ("resolution", timedelta(hours=1), timedelta(0), "between"),
        ("resolution", timedelta(hours=1), -timedelta(minutes=5), "between"),
    ],
)
def test_unusable_kpi_definitions_are_refused(
    name: str, target: timedelta, warn_before: timedelta | None, message: str
) -> None:
    with pytest.raises(InvalidPolicyError, match=message):
        KpiDefinition(name, target, warn_before)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kpis": ()}, "no KPIs"),
        ({"kpis": (FIRST_RESPONSE, RESOLUTION, FIRST_RESPONSE)}, "first_response"),
        ({"name": " "}, "name"),
        ({"is_default": True, "applies_to": AppliesTo(channels={"web"})}, "default"),
        (
            {
                "escalation": (
                    EscalationStep(timedelta(hours=2), EscalationTarget.MANAGER),
                    EscalationStep(timedelta(hours=1), EscalationTarget.DEPARTMENT_HEAD),
                )
            },
            "after the one before",
        ),
        (
            {
                "escalation": (
                    EscalationStep(timedelta(0), EscalationTarget.MANAGER),
                    EscalationStep(timedelta(0), EscalationTarget.QUEUE_OWNER),
                )
            },
            "after the one before",
        ),
        (
            {
                "escalation": tuple(
                    EscalationStep(timedelta(hours=n), EscalationTarget.MANAGER) for n in range(11)
                )
            },
            "at most 10 steps",
        ),
    ],
)
def test_unusable_policies_are_refused(kwargs: dict[str, object], message: str) -> None:
    fields: dict[str, object] = {
        "policy_id": UUID(int=9),
        "name": "standard",
        "calendar_id": CALENDAR_ID,
        "kpis": (FIRST_RESPONSE,),
    }
    with pytest.raises(InvalidPolicyError, match=message):
        SlaPolicy(**(fields | kwargs))  # type: ignore[arg-type]


def test_policy_errors_belong_to_the_sla_family() -> None:
    with pytest.raises(SlaError):
        choose_policy(CaseFacts(), [])
    with pytest.raises(ValueError, match="positive"):
        KpiDefinition("resolution", timedelta(0))


def test_a_queue_condition_matches_the_queue_routing_placed_the_case_in() -> None:
    billing, hardware = UUID(int=1), UUID(int=2)
    condition = AppliesTo(queue_ids={billing})

    assert condition.matches(CaseFacts(queue_id=billing))
    assert not condition.matches(CaseFacts(queue_id=hardware))
    assert not condition.matches(CaseFacts())  # not queued yet
    assert not condition.is_unconditional
    assert AppliesTo().matches(CaseFacts(queue_id=hardware))


def test_a_policy_without_a_ladder_tells_the_assignees_manager_at_the_breach() -> None:
    [step] = policy(1, "standard").escalation
    assert step == EscalationStep(timedelta(0), EscalationTarget.MANAGER)
    assert policy(1, "standard").escalation == DEFAULT_LADDER


@pytest.mark.parametrize(
    ("after", "to", "agent_id", "message"),
    [
        (timedelta(hours=-1), EscalationTarget.MANAGER, None, "before the breach"),
        (timedelta(0), EscalationTarget.AGENT, None, "names the agent"),
        (timedelta(0), EscalationTarget.MANAGER, UUID(int=7), "names the agent"),
    ],
)
def test_unusable_escalation_steps_are_refused(
    after: timedelta, to: EscalationTarget, agent_id: UUID | None, message: str
) -> None:
    with pytest.raises(InvalidPolicyError, match=message):
        EscalationStep(after, to, agent_id)
