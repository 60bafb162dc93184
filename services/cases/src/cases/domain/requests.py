"""What a request says, checked against the catalogues: its type's form and its decisions.

The catalogue entries are handed in (the use case looks them up); these rules only judge.
"""

from __future__ import annotations

from collections.abc import Mapping

from caseflow_forms import InvalidAnswers, validate
from cases.domain.catalogue import Decision, RequestType
from cases.domain.errors import (
    CaseValidationError,
    InvalidParametersError,
    UnknownDecisionError,
    UnknownRequestTypeError,
)


def checked_parameters(
    request_type: RequestType | None,
    code: str,
    parameters: Mapping[str, str],
    *,
    must_be_offered: bool = True,
) -> dict[str, str]:
    """The answers to a request of type `code`, normalised by its form.

    Raises when the catalogue has no such type, when it is no longer offered (unless the case
    had it already: `must_be_offered` False), or when the answers do not fit its form.
    """
    if request_type is None:
        raise UnknownRequestTypeError(f"there is no request type {code!r}")
    if must_be_offered and not request_type.active:
        raise UnknownRequestTypeError(f"request type {code!r} is no longer offered")
    try:
        return validate(request_type.form, parameters)
    except InvalidAnswers as error:
        raise InvalidParametersError(error.problems) from error


def checked_decision(decision: Decision | None, code: str, text: str) -> Decision:
    """The decision `code` of the catalogue, if it may be taken with this text."""
    if decision is None:
        raise UnknownDecisionError(f"there is no decision {code!r}")
    if decision.retired:
        raise UnknownDecisionError(f"decision {code!r} is retired")
    if decision.requires_text and not text.strip():
        raise CaseValidationError(f"decision {code!r} needs a text saying why")
    return decision
