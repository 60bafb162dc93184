"""The errors of the customer card (their tree is in `intake.domain.customers`)."""

from __future__ import annotations

from collections.abc import Mapping
from uuid import UUID

from intake.domain.errors import IntakeError


class CustomerError(IntakeError):
    """Base of the customer card's errors."""


class ContactRejected(CustomerError, ValueError):
    """A contact whose details break a rule; `problems` names the fields at fault."""

    problems: Mapping[tuple[str | int, ...], str]

    def __init__(
        self, detail: str, *, problems: Mapping[tuple[str | int, ...], str] | None = None
    ) -> None:
        super().__init__(detail)
        self.problems = dict(problems or {})

    @property
    def problem_members(self) -> dict[str, object]:
        """The fields at fault as `errors`, in the shape of every invalid request's."""
        if not self.problems:
            return {}
        return {
            "errors": [
                {"loc": ["body", *path], "msg": why, "type": "value_error"}
                for path, why in self.problems.items()
            ]
        }


class UnknownAccount(ContactRejected):
    """A contact names an account that is not on file."""

    def __init__(self, account_id: UUID) -> None:
        detail = f"There is no account {account_id}."
        super().__init__(detail, problems={("account_id",): detail})


class MergeRefused(ContactRejected):
    """A contact cannot be merged into itself."""

    def __init__(self, contact_id: UUID) -> None:
        detail = f"Contact {contact_id} cannot be merged into itself."
        super().__init__(detail, problems={("duplicate_id",): detail})


class CustomerNotFound(CustomerError):
    """An account or contact that is not on file."""


class AccountNotFound(CustomerNotFound):
    """No account has this id."""


class ContactNotFound(CustomerNotFound):
    """No contact has this id."""


class ContactMergedAway(ContactNotFound):
    """A contact folded into another: it lives on as `merged_into`."""

    def __init__(self, contact_id: UUID, merged_into: UUID) -> None:
        super().__init__(f"Contact {contact_id} was merged into contact {merged_into}.")
        self.merged_into = merged_into

    @property
    def problem_members(self) -> dict[str, object]:
        """Where the contact lives on."""
        return {"merged_into": str(self.merged_into)}


class CustomerConflict(CustomerError):
    """A change the current state of the customer card does not allow."""


class EmailTaken(CustomerConflict):
    """An email address that already belongs to another contact."""


class ContactInactive(CustomerConflict):
    """A contact merged into another or erased: it can no longer change or be merged."""


class StaleCard(CustomerError):
    """The card changed since the caller read it (its version)."""
