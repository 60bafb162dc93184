"""Errors raised while keeping the catalogues (request types and decisions).

They belong to the cases service's family, under its one base::

    CaseError
    └── CatalogueError                 something about a request type or a decision
        ├── InvalidCatalogueEntry      an entry that cannot be kept as given (also a
        │   │                          CaseValidationError: the caller's input is wrong)
        │   └── ImpossibleForm         its questions cannot be asked: a duplicate name, a
        │                              condition on an unknown or later parameter, a choice
        │                              without choices
        ├── CatalogueEntryNotFound     no request type or decision has that code
        └── CatalogueEntryExists       the code is taken; change the entry instead
"""

from __future__ import annotations

from cases.domain.errors import CaseError, CaseValidationError


class CatalogueError(CaseError):
    """Base of every error about the request-type and decision catalogues."""


class InvalidCatalogueEntry(CatalogueError, CaseValidationError):
    """A request type or decision that breaks a rule of the catalogue (a malformed code, …)."""


class ImpossibleForm(InvalidCatalogueEntry):
    """A request type whose parameters do not make a form that can be asked."""


class CatalogueEntryNotFound(CatalogueError):
    """No entry of the catalogue has the code asked for."""


class CatalogueEntryExists(CatalogueError):
    """An entry with that code exists already: catalogue codes are never reused."""
