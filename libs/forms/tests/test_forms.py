"""Which questions a request type asks, and which answers are valid."""

from __future__ import annotations

import pytest

from caseflow_forms import (
    Condition,
    Form,
    FormError,
    InvalidAnswers,
    Parameter,
    ParameterType,
    questions,
    validate,
)

pytestmark = pytest.mark.unit

REPAIR = Form(
    (
        Parameter("warranty", ParameterType.CHOICE, choices=("yes", "no"), required=True),
        Parameter(
            "invoice_date",
            ParameterType.DATE,
            required=True,
            when=Condition("warranty", frozenset({"yes"})),
        ),
        Parameter(
            "quote_accepted",
            ParameterType.BOOLEAN,
            required=True,
            when=Condition("warranty", frozenset({"no"})),
        ),
        Parameter("serial_number"),
        Parameter("contact_phone", ParameterType.PHONE),
    )
)


@pytest.mark.parametrize(
    ("answers", "asked"),
    [
        ({}, ["warranty", "serial_number", "contact_phone"]),
        ({"warranty": "yes"}, ["invoice_date", "serial_number", "contact_phone"]),
        ({"warranty": "no"}, ["quote_accepted", "serial_number", "contact_phone"]),
        (
            {"warranty": "yes", "invoice_date": "2026-01-02", "serial_number": "X1"},
            ["contact_phone"],
        ),
    ],
)
def test_the_questions_depend_on_the_answers_so_far(
    answers: dict[str, str], asked: list[str]
) -> None:
    assert [p.name for p in questions(REPAIR, answers)] == asked


def test_valid_answers_are_normalised() -> None:
    assert validate(
        REPAIR, {"warranty": "no", "quote_accepted": " Yes ", "contact_phone": "+49 30 1234567"}
    ) == {"warranty": "no", "quote_accepted": "true", "contact_phone": "+49 30 1234567"}


@pytest.mark.parametrize(
    ("answers", "problems"),
    [
        ({}, {"warranty": "required"}),
        ({"warranty": "yes"}, {"invoice_date": "required"}),
        ({"warranty": "maybe"}, {"warranty": "not one of yes, no"}),
        (
            {"warranty": "yes", "invoice_date": "2.1.2026"},
            {"invoice_date": "not a date (YYYY-MM-DD)"},
        ),
        (
            {"warranty": "yes", "invoice_date": "2026-01-02", "quote_accepted": "yes"},
            {"quote_accepted": "not asked, given the other answers"},
        ),
        ({"warranty": "no", "quote_accepted": "perhaps"}, {"quote_accepted": "not yes or no"}),
        (
            {"warranty": "no", "quote_accepted": "no", "colour": "red"},
            {"colour": "this request type has no such parameter"},
        ),
        (
            {"warranty": "no", "quote_accepted": "no", "contact_phone": "call me"},
            {"contact_phone": "not a telephone number"},
        ),
    ],
)
def test_invalid_answers_name_every_parameter_at_fault(
    answers: dict[str, str], problems: dict[str, str]
) -> None:
    with pytest.raises(InvalidAnswers) as raised:
        validate(REPAIR, answers)
    assert raised.value.problems == problems


def test_numbers_emails_and_length() -> None:
    form = Form(
        (Parameter("amount", ParameterType.NUMBER), Parameter("email", ParameterType.EMAIL))
    )
    assert validate(form, {"amount": "12.50", "email": "a@b.example"}) == {
        "amount": "12.50",
        "email": "a@b.example",
    }
    with pytest.raises(InvalidAnswers) as raised:
        validate(form, {"amount": "NaN", "email": "nobody"})
    assert set(raised.value.problems) == {"amount", "email"}
    with pytest.raises(InvalidAnswers):
        validate(Form((Parameter("note"),)), {"note": "x" * 2001})


@pytest.mark.parametrize(
    "parameters",
    [
        (Parameter("a"), Parameter("a")),
        (Parameter("b", when=Condition("a", frozenset({"x"}))), Parameter("a")),
        (Parameter("c", ParameterType.CHOICE),),
        (Parameter(" "),),
    ],
)
def test_a_form_that_cannot_be_asked_is_refused(parameters: tuple[Parameter, ...]) -> None:
    with pytest.raises(FormError):
        Form(parameters)


def test_labels_fall_back_to_english_then_the_name() -> None:
    parameter = Parameter("warranty", labels={"en": "Under warranty?", "de": "Garantie?"})
    assert parameter.label("de") == "Garantie?"
    assert parameter.label("pt") == "Under warranty?"
    assert Parameter("x").label("de") == "x"
