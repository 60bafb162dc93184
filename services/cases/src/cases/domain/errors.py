"""Errors raised by the cases domain.

All of them derive from one base, so callers can catch the family at once::

    CaseError
    ├── CaseValidationError        bad input: empty subject, negative minutes, naive time, ...
    │   ├── CaseNumberError        a case number that cannot be read or formed
    │   ├── UnknownRequestTypeError    no active request type has that code
    │   ├── InvalidParametersError     answers that do not fit the request type's form
    │   └── UnknownDecisionError       no decision of the catalogue (or a retired one)
    ├── InvalidTransitionError     the status change is not in the transition table
    ├── CaseClosedError            the case is resolved or cancelled; reopen it first
    ├── CaseNotFoundError          no case has that id
    └── StaleCaseError             the case changed since the caller read it (its version)

``CaseValidationError`` is also a ``ValueError``: it is the caller's input that is wrong.
Every error may carry ``problem_members``: facts the caller needs to act on it (the case's
status and the steps allowed from it, the parameters that are wrong), which the HTTP API shows
beside the message.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence


class CaseError(Exception):
    """Base of every error the cases domain raises."""

    def __init__(self, message: str = "", *, members: Mapping[str, object] | None = None) -> None:
        super().__init__(message)
        self.problem_members: dict[str, object] = dict(members or {})


class CaseValidationError(CaseError, ValueError):
    """Input that breaks a rule of the case model."""


class CaseNumberError(CaseValidationError):
    """A case number that cannot be parsed, or a year or sequence that cannot form one."""


class UnknownRequestTypeError(CaseValidationError):
    """A request type code the catalogue does not know, or no longer offers."""


class InvalidParametersError(CaseValidationError):
    """Parameters that do not fit the request type's form; `problems` names each one."""

    def __init__(self, problems: Mapping[str, str]) -> None:
        self.problems = dict(problems)
        listed = "; ".join(f"{name}: {why}" for name, why in sorted(self.problems.items()))
        super().__init__(
            f"invalid parameters: {listed}",
            members={
                "errors": [
                    {"loc": ["body", "parameters", name], "msg": why, "type": "parameter"}
                    for name, why in sorted(self.problems.items())
                ]
            },
        )


class UnknownDecisionError(CaseValidationError):
    """A decision code the catalogue does not know, or has retired."""


class _StepError(CaseError):
    def __init__(
        self, message: str, *, status: str | None = None, allowed: Sequence[str] = ()
    ) -> None:
        # `case_status`, not `status`: in a problem document `status` is the HTTP status.
        members: dict[str, object] = {}
        if status is not None:
            members = {"case_status": status, "allowed": list(allowed)}
        super().__init__(message, members=members)
        self.status = status
        self.allowed = tuple(allowed)


class InvalidTransitionError(_StepError):
    """A status change the transition table does not allow."""


class CaseClosedError(_StepError):
    """Work on a resolved or cancelled case, which only accepts being reopened."""


class CaseNotFoundError(CaseError):
    """No case has the id asked for."""


class StaleCaseError(CaseError):
    """The case changed since the caller read it: the version they hold is not the current one."""

    def __init__(self, message: str, *, current_version: int) -> None:
        super().__init__(message)
        self.current_version = current_version
