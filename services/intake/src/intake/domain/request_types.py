"""Intake's copy of the request-type catalogue, and a submission's answers checked against it.

The cases service owns the catalogue and announces every change of an entry whole, with a
version that grows with each change. Intake keeps, per code, the highest version it has seen
(events may arrive in any order, or twice), and checks a web submission's request type and
answers against it at the edge, with the same form rules (`caseflow_forms`) cases applies.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from caseflow_forms import (
    Condition,
    Form,
    FormError,
    InvalidAnswers,
    Parameter,
    ParameterType,
    validate,
)
from intake.domain.errors import InvalidParameters, RequestTypeNotOffered


@dataclass(frozen=True, kw_only=True)
class AskedWhen:
    """A question is asked only when the answer to `parameter` is one of `equals`."""

    parameter: str
    equals: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class ParameterDefinition:
    """One question of a request type, as the catalogue defines it."""

    name: str
    type: str = ParameterType.TEXT.value
    labels: Mapping[str, str] = field(default_factory=dict)
    choices: tuple[str, ...] = ()
    required: bool = False
    when: AskedWhen | None = None


@dataclass(frozen=True, kw_only=True)
class RequestType:
    """A kind of request the service desk takes, at one version of the catalogue."""

    code: str
    version: int
    names: Mapping[str, str] = field(default_factory=dict)
    default_priority: str = "normal"
    parameters: tuple[ParameterDefinition, ...] = ()
    active: bool = True


def supersedes(incoming: RequestType, held: RequestType | None) -> bool:
    """Whether `incoming` replaces the entry held: it is the first seen, or a later version.

    An equal version is the same entry announced again, and an older one arrived late.
    """
    return held is None or incoming.version > held.version


def form_of(request_type: RequestType) -> Form:
    """The questions `request_type` asks, as the shared form rules take them.

    Raises FormError when the definition cannot be asked (a type the rules do not know, a
    duplicate name, a condition on a later question, a choice without choices).
    """
    parameters = []
    for definition in request_type.parameters:
        try:
            kind = ParameterType(definition.type)
        except ValueError:
            msg = f"parameter {definition.name!r} has an unknown type {definition.type!r}"
            raise FormError(msg) from None
        when = definition.when
        parameters.append(
            Parameter(
                name=definition.name,
                type=kind,
                labels=dict(definition.labels),
                choices=tuple(definition.choices),
                required=definition.required,
                when=None if when is None else Condition(when.parameter, frozenset(when.equals)),
            )
        )
    return Form(tuple(parameters))


def checked_parameters(
    code: str, request_type: RequestType | None, answers: Mapping[str, str]
) -> dict[str, str]:
    """The answers to request type `code`, normalised as its form says.

    `request_type` is the catalogue's entry for `code`, None when there is none. Raises
    RequestTypeNotOffered when the catalogue does not offer the type, and InvalidParameters naming
    every answer that is missing, unknown, not asked given the others, or malformed.
    """
    if request_type is None:
        raise RequestTypeNotOffered(code, f"there is no request type {code!r}")
    if not request_type.active:
        raise RequestTypeNotOffered(code, f"request type {code!r} is no longer offered")
    try:
        form = form_of(request_type)
    except FormError as error:
        # The catalogue's own entry is broken: no answer could be checked against it.
        detail = f"request type {code!r} cannot be asked: {error}"
        raise RequestTypeNotOffered(code, detail) from None
    try:
        return validate(form, answers)
    except InvalidAnswers as invalid:
        raise InvalidParameters(invalid.problems) from None
