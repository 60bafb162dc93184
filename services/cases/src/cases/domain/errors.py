"""Errors raised by the cases domain.

All of them derive from one base, so callers can catch the family at once::

    CaseError
    ├── CaseValidationError        bad input: empty subject, negative minutes, naive time, ...
    │   └── CaseNumberError        a case number that cannot be read or formed
    ├── InvalidTransitionError     the status change is not in the transition table
    └── CaseClosedError            the case is resolved or cancelled; reopen it first

``CaseValidationError`` is also a ``ValueError``: it is the caller's input that is wrong.
"""

from __future__ import annotations


class CaseError(Exception):
    """Base of every error the cases domain raises."""


class CaseValidationError(CaseError, ValueError):
    """Input that breaks a rule of the case model."""


class CaseNumberError(CaseValidationError):
    """A case number that cannot be parsed, or a year or sequence that cannot form one."""


class InvalidTransitionError(CaseError):
    """A status change the transition table does not allow."""


class CaseClosedError(CaseError):
    """Work on a resolved or cancelled case, which only accepts being reopened."""
