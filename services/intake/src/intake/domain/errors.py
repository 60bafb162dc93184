"""Errors raised by the intake domain.

All of them derive from one base, so callers can catch the family at once::

    IntakeError
    ├── SubmissionRejected          a request that breaks a rule: no subject, a NUL character
    │   ├── ChannelNotAllowed       a channel the caller may not name
    │   ├── RequestTypeNotOffered   a request type the catalogue lacks or no longer offers
    │   └── InvalidParameters       answers that do not fit the request type's form
    ├── AccountRejected             an account that breaks a rule: no name, a public domain
    ├── DomainTaken                 a mail domain that already belongs to another account
    ├── IdempotencyKeyReused        an Idempotency-Key sent again with a different payload
    ├── IdempotencyKeyInUse         an Idempotency-Key whose first request is still under way
    ├── RateLimited                 a caller that has spent its submissions for the window
    ├── CallRejected                a telephony event that cannot be kept (domain.calls)
    └── CustomerError               the customer card's errors (domain.customer_errors)

``SubmissionRejected`` and ``AccountRejected`` are also ``ValueError``: the caller's input is wrong.
"""

from __future__ import annotations

from collections.abc import Mapping


class IntakeError(Exception):
    """Base of every error the intake domain raises."""


class SubmissionRejected(IntakeError, ValueError):
    """A customer submission that cannot be recorded as it is."""

    problems: Mapping[tuple[str, ...], str]
    """What is wrong, by the path of the submitted field (``("parameters", "serial")``); empty
    when the rule concerns no one field."""

    def __init__(
        self, detail: str, *, problems: Mapping[tuple[str, ...], str] | None = None
    ) -> None:
        super().__init__(detail)
        self.problems = dict(problems or {})

    @property
    def problem_members(self) -> dict[str, object]:
        """The fields at fault as `errors`, in the shape of every invalid request's, so that
        a form can mark each (the fields are the request body's)."""
        if not self.problems:
            return {}
        return {
            "errors": [
                {"loc": ["body", *path], "msg": why, "type": "value_error"}
                for path, why in self.problems.items()
            ]
        }


class ChannelNotAllowed(SubmissionRejected):
    """A channel named by a caller whose channel is fixed: a web form's key is the web."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail, problems={("channel",): detail})


class RequestTypeNotOffered(SubmissionRejected):
    """A request type the catalogue does not have, or no longer offers."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail, problems={("request_type",): detail})
        self.code = code


class InvalidParameters(SubmissionRejected):
    """Answers that do not fit the request type's form; `parameters` says what is wrong with
    each, by parameter name."""

    def __init__(self, parameters: Mapping[str, str]) -> None:
        self.parameters = dict(parameters)
        listed = "; ".join(f"{name}: {why}" for name, why in sorted(self.parameters.items()))
        super().__init__(
            f"invalid parameters: {listed}",
            problems={("parameters", name): why for name, why in sorted(self.parameters.items())},
        )


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

    @property
    def problem_headers(self) -> dict[str, str]:
        """When the caller may try again."""
        return {"Retry-After": str(self.retry_after)}
