"""The catalogues a case is described with: request types (with the questions each asks) and
the decisions that can be taken on a request.

Entries are changed, never deleted: a request type is deactivated, a decision retired, so the
cases that used them keep a readable history. Every change raises the entry's version.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from uuid import UUID

from caseflow_forms import Form
from cases.domain.values import DecisionOutcome, Priority


@dataclass(frozen=True, kw_only=True)
class RequestType:
    """A kind of request, its default priority and the questions it asks."""

    code: str
    names: Mapping[str, str] = field(default_factory=dict)
    default_priority: Priority = Priority.NORMAL
    form: Form = field(default_factory=Form)
    active: bool = True
    version: int = 1


@dataclass(frozen=True, kw_only=True)
class Decision:
    """A decision that can be taken on a request, from the reference list."""

    code: str
    names: Mapping[str, str] = field(default_factory=dict)
    outcome: DecisionOutcome = DecisionOutcome.OTHER
    requires_text: bool = False
    retired: bool = False
    version: int = 1
    creates_contract: bool = False
    """Taking it draws up a draft contract for the case's account ("accepted: contract")."""
    contract_template_id: UUID | None = None
    """The template that contract follows; none: an empty draft."""
