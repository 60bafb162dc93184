"""Errors raised by the intake domain.

All of them derive from one base, so callers can catch the family at once::

    IntakeError
    ├── SubmissionRejected          a request that breaks a rule: no subject, a NUL character
    ├── AccountRejected             an account that breaks a rule: no name, a public domain
    ├── DomainTaken                 a mail domain that already belongs to another account
    ├── IdempotencyKeyReused        an Idempotency-Key sent again with a different payload
    ├── IdempotencyKeyInUse         an Idempotency-Key whose first request is still under way
    └── RateLimited                 a caller that has spent its submissions for the window

``SubmissionRejected`` and ``AccountRejected`` are also ``ValueError``: the caller's input is wrong.
"""

from __future__ import annotations


class IntakeError(Exception):
    """Base of every error the intake domain raises."""


class SubmissionRejected(IntakeError, ValueError):
    """A customer submission that cannot be recorded as it is."""


class AccountRejected(IntakeError, ValueError):
    """An account whose details break a rule."""


class DomainTaken(IntakeError):
    """A mail domain that another account already claims."""


class IdempotencyKeyReused(IntakeError):
    """An Idempotency-Key already used for a request with a different payload."""


class IdempotencyKeyInUse(IntakeError):
    """An Idempotency-Key whose first request has not finished yet."""


class RateLimited(IntakeError):
    """A caller that has made as many submissions as it may in the current window."""

    retry_after: int
    """Whole seconds until the caller may try again."""

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after
