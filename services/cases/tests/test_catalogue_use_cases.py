"""The catalogue use cases with a fake repository, and the conversion between the published
parameter specs and the form's parameters: no database, no broker."""

from __future__ import annotations

from datetime import UTC, datetime
from types import TracebackType
from typing import Self

import pytest

import caseflow_contracts as c
from caseflow_forms import Condition, Parameter, ParameterType
from cases.app.catalogue import (
    ChangeDecision,
    ChangeRequestType,
    DefineDecision,
    DefineRequestType,
    RetireDecision,
    ask,
    change_decision,
    change_request_type,
    define_decision,
    define_request_type,
    form_of,
    parameter_of,
    retire_decision,
    spec_of,
)
from cases.domain.catalogue import Decision, RequestType
from cases.domain.catalogue_errors import (
    CatalogueEntryExists,
    CatalogueEntryNotFound,
    ImpossibleForm,
    InvalidCatalogueEntry,
)
from cases.domain.errors import CaseValidationError
from cases.domain.values import DecisionOutcome, Priority

pytestmark = pytest.mark.unit

NOW = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)

WARRANTY = Parameter(
    name="warranty",
    type=ParameterType.CHOICE,
    labels={"en": "Under warranty?", "de": "Garantie?"},
    choices=("yes", "no"),
    required=True,
)
INVOICE_DATE = Parameter(
    name="invoice_date",
    type=ParameterType.DATE,
    labels={"en": "Invoice date"},
    required=True,
    when=Condition(parameter="warranty", equals=frozenset({"yes"})),
)
SERIAL = Parameter(name="serial", labels={"fr": "Numéro de série"})


class FakeCatalogue:
    def __init__(self) -> None:
        self.types: dict[str, RequestType] = {}
        self.decided: dict[str, Decision] = {}

    async def request_type(self, code: str, *, for_update: bool = False) -> RequestType | None:
        return self.types.get(code)

    async def decision(self, code: str, *, for_update: bool = False) -> Decision | None:
        return self.decided.get(code)

    async def request_types(self, *, active: bool | None = None) -> list[RequestType]:
        return [t for t in self.types.values() if active is None or t.active is active]

    async def decisions(self, *, include_retired: bool = False) -> list[Decision]:
        return [d for d in self.decided.values() if include_retired or not d.retired]

    async def add_request_type(self, request_type: RequestType) -> bool:
        if request_type.code in self.types:
            return False
        self.types[request_type.code] = request_type
        return True

    async def save_request_type(self, request_type: RequestType) -> None:
        self.types[request_type.code] = request_type

    async def add_decision(self, decision: Decision) -> bool:
        if decision.code in self.decided:
            return False
        self.decided[decision.code] = decision
        return True

    async def save_decision(self, decision: Decision) -> None:
        self.decided[decision.code] = decision


class FakeCatalogueUnitOfWork:
    def __init__(self) -> None:
        self.catalogue = FakeCatalogue()
        self.recorded: list[tuple[c.Event, str]] = []
        self.committed = 0

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None

    def record(self, event: c.Event, *, key: str) -> None:
        self.recorded.append((event, key))

    async def commit(self) -> None:
        self.committed += 1


# -- conversion --------------------------------------------------------------------------------


@pytest.mark.parametrize("parameter", [WARRANTY, INVOICE_DATE, SERIAL])
def test_a_parameter_survives_the_trip_through_its_published_spec(parameter: Parameter) -> None:
    spec = spec_of(parameter)
    assert isinstance(spec, c.ParameterSpec)
    assert parameter_of(c.ParameterSpec.model_validate_json(spec.model_dump_json())) == parameter


def test_a_spec_carries_the_condition_and_the_choices() -> None:
    spec = spec_of(
        Parameter(
            name="p",
            when=Condition(parameter="warranty", equals=frozenset({"yes", "maybe"})),
        )
    )
    assert spec.when == c.ParameterCondition(parameter="warranty", equals=["maybe", "yes"])
    assert spec_of(WARRANTY).choices == ["yes", "no"]
    assert spec_of(WARRANTY).type is c.ParameterType.CHOICE


@pytest.mark.parametrize(
    ("parameters", "named"),
    [
        ((WARRANTY, WARRANTY), "defined twice"),
        ((INVOICE_DATE, WARRANTY), "not asked before it"),
        ((Parameter(name="x", when=Condition("nowhere", frozenset({"a"}))),), "'nowhere'"),
        ((Parameter(name="kind", type=ParameterType.CHOICE),), "offers no choices"),
    ],
)
def test_a_form_that_cannot_be_asked_is_refused_naming_the_problem(
    parameters: tuple[Parameter, ...], named: str
) -> None:
    with pytest.raises(ImpossibleForm, match=named) as raised:
        form_of(parameters)
    assert isinstance(raised.value, CaseValidationError)


# -- request types -----------------------------------------------------------------------------


async def test_defining_a_request_type_stores_and_publishes_version_1() -> None:
    uow = FakeCatalogueUnitOfWork()
    defined = await define_request_type(
        DefineRequestType(
            code="repair",
            names={"en": "Repair", "de": "Reparatur"},
            default_priority=Priority.HIGH,
            parameters=(WARRANTY, INVOICE_DATE),
        ),
        uow=uow,
        now=NOW,
    )
    assert defined.version == 1
    assert uow.catalogue.types["repair"] == defined
    assert uow.committed == 1
    [(event, key)] = uow.recorded
    assert key == "repair"
    assert isinstance(event, c.CatalogueRequestTypeDefined)
    assert (event.code, event.version, event.default_priority, event.active) == (
        "repair",
        1,
        c.Priority.HIGH,
        True,
    )
    assert [p.name for p in event.parameters] == ["warranty", "invoice_date"]
    assert event.names == {"en": "Repair", "de": "Reparatur"}
    assert event.occurred_at == NOW


async def test_a_code_is_defined_once() -> None:
    uow = FakeCatalogueUnitOfWork()
    await define_request_type(DefineRequestType(code="repair"), uow=uow, now=NOW)
    with pytest.raises(CatalogueEntryExists):
        await define_request_type(DefineRequestType(code="repair"), uow=uow, now=NOW)
    assert len(uow.recorded) == 1


@pytest.mark.parametrize("code", ["", "Repair", "re pair", "a" * 101, "répare"])
async def test_a_malformed_code_is_refused(code: str) -> None:
    uow = FakeCatalogueUnitOfWork()
    with pytest.raises(InvalidCatalogueEntry):
        await define_request_type(DefineRequestType(code=code), uow=uow, now=NOW)
    with pytest.raises(InvalidCatalogueEntry):
        await define_decision(DefineDecision(code=code), uow=uow, now=NOW)
    assert uow.recorded == []


async def test_an_impossible_form_is_neither_stored_nor_published() -> None:
    uow = FakeCatalogueUnitOfWork()
    with pytest.raises(ImpossibleForm):
        await define_request_type(
            DefineRequestType(code="repair", parameters=(INVOICE_DATE,)), uow=uow, now=NOW
        )
    assert uow.catalogue.types == {}
    assert uow.recorded == []


async def test_changing_a_request_type_replaces_it_at_the_next_version() -> None:
    uow = FakeCatalogueUnitOfWork()
    await define_request_type(
        DefineRequestType(code="repair", names={"en": "Repair"}), uow=uow, now=NOW
    )
    changed = await change_request_type(
        ChangeRequestType(
            code="repair",
            names={"en": "Repair"},
            parameters=(WARRANTY, INVOICE_DATE),
            default_priority=Priority.URGENT,
        ),
        uow=uow,
        now=NOW,
    )
    deactivated = await change_request_type(
        ChangeRequestType(
            code="repair",
            names={"en": "Repair"},
            parameters=(WARRANTY, INVOICE_DATE),
            default_priority=Priority.URGENT,
            active=False,
        ),
        uow=uow,
        now=NOW,
    )
    assert (changed.version, deactivated.version) == (2, 3)
    assert not uow.catalogue.types["repair"].active
    assert [e.version for e, _ in uow.recorded] == [1, 2, 3]  # type: ignore[attr-defined]
    assert uow.recorded[-1][0].active is False  # type: ignore[attr-defined]


async def test_a_change_that_changes_nothing_keeps_the_version() -> None:
    uow = FakeCatalogueUnitOfWork()
    cmd = DefineRequestType(code="repair", names={"en": "Repair"}, parameters=(WARRANTY,))
    await define_request_type(cmd, uow=uow, now=NOW)
    same = await change_request_type(
        ChangeRequestType(code="repair", names={"en": "Repair"}, parameters=(WARRANTY,)),
        uow=uow,
        now=NOW,
    )
    assert same.version == 1
    assert len(uow.recorded) == 1


async def test_changing_an_unknown_request_type_is_not_found() -> None:
    with pytest.raises(CatalogueEntryNotFound):
        await change_request_type(
            ChangeRequestType(code="nothing"), uow=FakeCatalogueUnitOfWork(), now=NOW
        )


async def test_a_changed_form_must_still_be_askable() -> None:
    uow = FakeCatalogueUnitOfWork()
    await define_request_type(DefineRequestType(code="repair"), uow=uow, now=NOW)
    with pytest.raises(ImpossibleForm):
        await change_request_type(
            ChangeRequestType(code="repair", parameters=(SERIAL, SERIAL)), uow=uow, now=NOW
        )
    assert uow.catalogue.types["repair"].version == 1


# -- decisions ---------------------------------------------------------------------------------


async def test_decisions_are_defined_changed_and_retired_with_growing_versions() -> None:
    uow = FakeCatalogueUnitOfWork()
    await define_decision(
        DefineDecision(code="refund", names={"en": "Refund"}, outcome=DecisionOutcome.ACCEPTED),
        uow=uow,
        now=NOW,
    )
    await change_decision(
        ChangeDecision(
            code="refund",
            names={"en": "Refund", "de": "Erstattung"},
            outcome=DecisionOutcome.ACCEPTED,
            requires_text=True,
        ),
        uow=uow,
        now=NOW,
    )
    retired = await retire_decision(RetireDecision(code="refund"), uow=uow, now=NOW)
    again = await retire_decision(RetireDecision(code="refund"), uow=uow, now=NOW)
    assert (retired.version, retired.retired, retired.requires_text) == (3, True, True)
    assert again == retired
    events = [e for e, _ in uow.recorded]
    assert all(isinstance(e, c.CatalogueDecisionDefined) for e in events)
    assert [(e.version, e.retired) for e in events] == [  # type: ignore[attr-defined]
        (1, False),
        (2, False),
        (3, True),
    ]
    assert {key for _, key in uow.recorded} == {"refund"}
    assert await uow.catalogue.decisions() == []
    assert await uow.catalogue.decisions(include_retired=True) == [retired]


async def test_a_decision_is_defined_once_and_unknown_ones_are_not_found() -> None:
    uow = FakeCatalogueUnitOfWork()
    await define_decision(DefineDecision(code="refund"), uow=uow, now=NOW)
    with pytest.raises(CatalogueEntryExists):
        await define_decision(DefineDecision(code="refund"), uow=uow, now=NOW)
    with pytest.raises(CatalogueEntryNotFound):
        await retire_decision(RetireDecision(code="nothing"), uow=uow, now=NOW)
    with pytest.raises(CatalogueEntryNotFound):
        await change_decision(ChangeDecision(code="nothing"), uow=uow, now=NOW)


# -- asking the questions ----------------------------------------------------------------------


REPAIR = RequestType(code="repair", form=form_of((WARRANTY, INVOICE_DATE, SERIAL)))


def test_questions_are_asked_step_by_step() -> None:
    first = ask(REPAIR, {}, language="de")
    assert [(q.name, q.label) for q in first.questions] == [
        ("warranty", "Garantie?"),
        ("serial", "serial"),  # no German, no English: the name
    ]
    assert first.questions[0].choices == ("yes", "no")
    assert not first.complete
    assert first.problems == {"warranty": "required"}

    second = ask(REPAIR, {"warranty": "yes"}, language="fr")
    assert [(q.name, q.label) for q in second.questions] == [
        ("invoice_date", "Invoice date"),  # no French: English
        ("serial", "Numéro de série"),
    ]
    assert not second.complete
    assert second.problems == {"invoice_date": "required"}

    done = ask(REPAIR, {"warranty": "yes", "invoice_date": " 2026-01-31 "}, language="en")
    assert done.complete
    assert [q.name for q in done.questions] == ["serial"]  # optional, still to ask
    assert done.answers == {"warranty": "yes", "invoice_date": "2026-01-31"}


def test_without_warranty_the_invoice_date_is_not_asked() -> None:
    asked = ask(REPAIR, {"warranty": "no"}, language="en")
    assert [q.name for q in asked.questions] == ["serial"]
    assert asked.complete


def test_wrong_answers_are_named() -> None:
    asked = ask(REPAIR, {"warranty": "perhaps", "colour": "red"}, language="en")
    assert not asked.complete
    assert set(asked.problems) == {"warranty", "colour"}
