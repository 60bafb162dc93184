"""Request forms: the questions a request type asks, and what a valid answer is.

A pure rule both the cases service (which owns the request-type catalogue) and intake (which
checks a web submission at its edge) apply, so they can never disagree. Plain Python: no I/O,
no framework, importable from any service's domain.

A form is a list of parameters. A parameter has a type, may be required, may offer choices,
and may be asked only when an earlier answer has one of some values (`when`): that is how a
form's questions come to depend on the customer's answers. `questions` says which to ask now;
`validate` checks a complete set of answers and normalises them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from enum import StrEnum


class ParameterType(StrEnum):
    """What kind of answer a parameter takes."""

    TEXT = "text"
    NUMBER = "number"
    DATE = "date"
    CHOICE = "choice"
    BOOLEAN = "boolean"
    EMAIL = "email"
    PHONE = "phone"


@dataclass(frozen=True)
class Condition:
    """Holds when the answer to `parameter` is one of `equals`."""

    parameter: str
    equals: frozenset[str]

    def holds(self, answers: Mapping[str, str]) -> bool:
        """Whether the answers so far satisfy it (an unanswered parameter does not)."""
        answer = answers.get(self.parameter)
        return answer is not None and answer in self.equals


@dataclass(frozen=True)
class Parameter:
    """One question of a form."""

    name: str
    type: ParameterType = ParameterType.TEXT
    labels: Mapping[str, str] = field(default_factory=dict)
    choices: tuple[str, ...] = ()
    required: bool = False
    when: Condition | None = None

    def label(self, language: str) -> str:
        """The question in `language`, else in English, else its name."""
        return self.labels.get(language) or self.labels.get("en") or self.name


class FormError(ValueError):
    """A form that cannot be asked: a duplicate name, a condition on an unknown or later
    parameter, a choice parameter without choices."""


class InvalidAnswers(ValueError):
    """Answers that do not fit the form; `problems` maps each parameter to what is wrong."""

    def __init__(self, problems: Mapping[str, str]) -> None:
        self.problems = dict(problems)
        listed = "; ".join(f"{name}: {why}" for name, why in sorted(self.problems.items()))
        super().__init__(f"invalid parameters: {listed}")


MAX_ANSWER_LENGTH = 2000

_TRUE = {"true", "yes", "1"}
_FALSE = {"false", "no", "0"}
# Deliberately loose: a mailbox, an @, a domain with a dot. The mail itself proves the rest.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE_DIGITS = re.compile(r"\d")
_PHONE_CHARS = re.compile(r"^\+?[\d\s().\-/]+$")


@dataclass(frozen=True)
class Form:
    """The questions of one request type, in the order they are asked."""

    parameters: tuple[Parameter, ...] = ()

    def __post_init__(self) -> None:
        seen: set[str] = set()
        for parameter in self.parameters:
            if not parameter.name.strip():
                raise FormError("a parameter needs a name")
            if parameter.name in seen:
                raise FormError(f"parameter {parameter.name!r} is defined twice")
            if parameter.when is not None and parameter.when.parameter not in seen:
                raise FormError(
                    f"{parameter.name!r} depends on {parameter.when.parameter!r}, "
                    "which is not asked before it"
                )
            if parameter.type is ParameterType.CHOICE and not parameter.choices:
                raise FormError(f"choice parameter {parameter.name!r} offers no choices")
            seen.add(parameter.name)

    def parameter(self, name: str) -> Parameter | None:
        """The parameter called `name`, if the form has one."""
        return next((p for p in self.parameters if p.name == name), None)


def questions(form: Form, answers: Mapping[str, str]) -> list[Parameter]:
    """The questions to ask now: those not answered yet whose condition holds."""
    asked = _asked(form, answers)
    return [p for p in asked if p.name not in answers]


def validate(form: Form, answers: Mapping[str, str]) -> dict[str, str]:
    """The answers normalised (trimmed; booleans as true/false; dates as YYYY-MM-DD); raises
    InvalidAnswers naming every parameter that is missing, unknown, not asked or malformed."""
    problems: dict[str, str] = {}
    asked = {p.name: p for p in _asked(form, answers)}
    clean: dict[str, str] = {}
    for name, raw in answers.items():
        parameter = form.parameter(name)
        if parameter is None:
            problems[name] = "this request type has no such parameter"
            continue
        if name not in asked:
            problems[name] = "not asked, given the other answers"
            continue
        value = raw.strip()
        if not value:
            continue  # an empty answer is no answer; required is checked below
        try:
            clean[name] = _normalised(parameter, value)
        except ValueError as error:
            problems[name] = str(error)
    for name, parameter in asked.items():
        if parameter.required and name not in clean and name not in problems:
            problems[name] = "required"
    if problems:
        raise InvalidAnswers(problems)
    return clean


def _asked(form: Form, answers: Mapping[str, str]) -> list[Parameter]:
    # A parameter is asked when its condition holds on answers to questions that were asked;
    # conditions only look back (the form guarantees it), so one pass in order suffices.
    asked: list[Parameter] = []
    effective: dict[str, str] = {}
    for parameter in form.parameters:
        if parameter.when is None or parameter.when.holds(effective):
            asked.append(parameter)
            if parameter.name in answers:
                effective[parameter.name] = answers[parameter.name].strip()
    return asked


def _normalised(parameter: Parameter, value: str) -> str:
    if len(value) > MAX_ANSWER_LENGTH:
        raise ValueError(f"longer than {MAX_ANSWER_LENGTH} characters")
    match parameter.type:
        case ParameterType.TEXT:
            return value
        case ParameterType.NUMBER:
            try:
                number = Decimal(value)
            except InvalidOperation:
                raise ValueError("not a number") from None
            if not number.is_finite():
                raise ValueError("not a finite number")
            return value
        case ParameterType.DATE:
            try:
                return date.fromisoformat(value).isoformat()
            except ValueError:
                raise ValueError("not a date (YYYY-MM-DD)") from None
        case ParameterType.CHOICE:
            if value not in parameter.choices:
                raise ValueError(f"not one of {', '.join(parameter.choices)}")
            return value
        case ParameterType.BOOLEAN:
            lowered = value.lower()
            if lowered in _TRUE:
                return "true"
            if lowered in _FALSE:
                return "false"
            raise ValueError("not yes or no")
        case ParameterType.EMAIL:
            if not _EMAIL.match(value):
                raise ValueError("not an email address")
            return value
        case ParameterType.PHONE:
            digits = len(_PHONE_DIGITS.findall(value))
            if not _PHONE_CHARS.match(value) or not 5 <= digits <= 20:
                raise ValueError("not a telephone number")
            return value
    raise ValueError(f"unknown parameter type {parameter.type}")  # pragma: no cover


__all__ = [
    "MAX_ANSWER_LENGTH",
    "Condition",
    "Form",
    "FormError",
    "InvalidAnswers",
    "Parameter",
    "ParameterType",
    "questions",
    "validate",
]
