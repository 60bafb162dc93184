"""Use cases of the catalogues: define and change request types, define, change and retire
decisions, and ask a request type's questions step by step.

Every change raises the entry's version and records the entry whole on `cases.catalogue.v1`
(keyed by its code) in the same transaction, so a projection elsewhere (intake checking web
forms at its edge) keeps the highest version it has seen, in whatever order events arrive.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self
from uuid import UUID

import caseflow_contracts as c
from caseflow_forms import (
    Condition,
    Form,
    FormError,
    InvalidAnswers,
    Parameter,
    ParameterType,
    questions,
    validate,
)
from cases.app.ports import CatalogueRepository
from cases.domain.catalogue import Decision, RequestType
from cases.domain.catalogue_errors import (
    CatalogueEntryExists,
    CatalogueEntryNotFound,
    ImpossibleForm,
    InvalidCatalogueEntry,
)
from cases.domain.values import DecisionOutcome, Priority

CODE = re.compile(r"^[a-z0-9._-]{1,100}$")
"""What a catalogue code may look like: lower-case letters, digits, `.`, `_`, `-`."""


# -- ports ------------------------------------------------------------------------------------


class CatalogueStore(CatalogueRepository, Protocol):
    """The catalogues as their administration needs them: read, list, add, replace."""

    async def request_type(self, code: str, *, for_update: bool = False) -> RequestType | None: ...
    async def decision(self, code: str, *, for_update: bool = False) -> Decision | None: ...
    async def request_types(self, *, active: bool | None = None) -> list[RequestType]: ...
    async def decisions(self, *, include_retired: bool = False) -> list[Decision]: ...
    async def add_request_type(self, request_type: RequestType) -> bool: ...
    async def save_request_type(self, request_type: RequestType) -> None: ...
    async def add_decision(self, decision: Decision) -> bool: ...
    async def save_decision(self, decision: Decision) -> None: ...


class CatalogueUnitOfWork(Protocol):
    """One transaction over the catalogues and the events their changes imply."""

    @property
    def catalogue(self) -> CatalogueStore: ...

    async def __aenter__(self) -> Self: ...
    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...
    def record(self, event: c.Event, *, key: str) -> None: ...
    async def commit(self) -> None: ...


# -- the parameter spec of the contracts and the form's parameter ------------------------------


def parameter_of(spec: c.ParameterSpec) -> Parameter:
    """The form parameter a published parameter spec describes."""
    return Parameter(
        name=spec.name,
        type=ParameterType(spec.type.value),
        labels=dict(spec.labels),
        choices=tuple(spec.choices),
        required=spec.required,
        when=None
        if spec.when is None
        else Condition(parameter=spec.when.parameter, equals=frozenset(spec.when.equals)),
    )


def spec_of(parameter: Parameter) -> c.ParameterSpec:
    """The parameter spec that publishes a form parameter (condition values sorted)."""
    return c.ParameterSpec(
        name=parameter.name,
        type=c.ParameterType(parameter.type.value),
        labels=dict(parameter.labels),
        choices=list(parameter.choices),
        required=parameter.required,
        when=None
        if parameter.when is None
        else c.ParameterCondition(
            parameter=parameter.when.parameter, equals=sorted(parameter.when.equals)
        ),
    )


def form_of(parameters: Sequence[Parameter]) -> Form:
    """The form of `parameters`, in order; ImpossibleForm if it cannot be asked."""
    try:
        return Form(tuple(parameters))
    except FormError as error:
        raise ImpossibleForm(f"The form cannot be asked: {error}.") from None


def request_type_defined(request_type: RequestType, *, now: datetime) -> c.Event:
    """The event publishing `request_type` whole, at its version."""
    return c.CatalogueRequestTypeDefined(
        occurred_at=now,
        code=request_type.code,
        version=request_type.version,
        names=dict(request_type.names),
        default_priority=c.Priority(request_type.default_priority.value),
        parameters=[spec_of(p) for p in request_type.form.parameters],
        active=request_type.active,
    )


def decision_defined(decision: Decision, *, now: datetime) -> c.Event:
    """The event publishing `decision` whole, at its version."""
    return c.CatalogueDecisionDefined(
        occurred_at=now,
        code=decision.code,
        version=decision.version,
        names=dict(decision.names),
        outcome=c.DecisionOutcome(decision.outcome.value),
        requires_text=decision.requires_text,
        retired=decision.retired,
        creates_contract=decision.creates_contract,
        contract_template_id=decision.contract_template_id,
    )


# -- commands ---------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class DefineRequestType:
    """Add a request type to the catalogue."""

    code: str
    names: Mapping[str, str] = field(default_factory=dict)
    default_priority: Priority = Priority.NORMAL
    parameters: Sequence[Parameter] = ()
    active: bool = True


@dataclass(frozen=True, kw_only=True)
class ChangeRequestType:
    """Replace what a request type says: names, default priority, questions, active."""

    code: str
    names: Mapping[str, str] = field(default_factory=dict)
    default_priority: Priority = Priority.NORMAL
    parameters: Sequence[Parameter] = ()
    active: bool = True


@dataclass(frozen=True, kw_only=True)
class DefineDecision:
    """Add a decision to the catalogue."""

    code: str
    names: Mapping[str, str] = field(default_factory=dict)
    outcome: DecisionOutcome = DecisionOutcome.OTHER
    requires_text: bool = False
    creates_contract: bool = False
    contract_template_id: UUID | None = None


@dataclass(frozen=True, kw_only=True)
class ChangeDecision:
    """Replace what a decision says, retiring it or bringing it back."""

    code: str
    names: Mapping[str, str] = field(default_factory=dict)
    outcome: DecisionOutcome = DecisionOutcome.OTHER
    requires_text: bool = False
    retired: bool = False
    creates_contract: bool = False
    contract_template_id: UUID | None = None


@dataclass(frozen=True, kw_only=True)
class RetireDecision:
    """Take a decision out of use; cases that recorded it keep it."""

    code: str


# -- handlers ---------------------------------------------------------------------------------


def _checked_code(code: str) -> str:
    if not CODE.match(code):
        raise InvalidCatalogueEntry(
            f"The code {code[:100]!r} is not 1 to 100 of a-z, 0-9, '.', '_' and '-'."
        )
    return code


async def define_request_type(
    cmd: DefineRequestType, *, uow: CatalogueUnitOfWork, now: datetime
) -> RequestType:
    """Add a request type at version 1 and publish it."""
    request_type = RequestType(
        code=_checked_code(cmd.code),
        names=dict(cmd.names),
        default_priority=cmd.default_priority,
        form=form_of(cmd.parameters),
        active=cmd.active,
        version=1,
    )
    async with uow:
        if not await uow.catalogue.add_request_type(request_type):
            raise CatalogueEntryExists(f"The request type {cmd.code!r} exists already.")
        uow.record(request_type_defined(request_type, now=now), key=request_type.code)
        await uow.commit()
    return request_type


async def change_request_type(
    cmd: ChangeRequestType, *, uow: CatalogueUnitOfWork, now: datetime
) -> RequestType:
    """Replace a request type at its next version and publish it; a change that changes
    nothing keeps the version and publishes nothing."""
    form = form_of(cmd.parameters)
    async with uow:
        current = await uow.catalogue.request_type(cmd.code, for_update=True)
        if current is None:
            raise CatalogueEntryNotFound(f"There is no request type {cmd.code!r}.")
        changed = replace(
            current,
            names=dict(cmd.names),
            default_priority=cmd.default_priority,
            form=form,
            active=cmd.active,
        )
        if changed == current:
            return current
        changed = replace(changed, version=current.version + 1)
        await uow.catalogue.save_request_type(changed)
        uow.record(request_type_defined(changed, now=now), key=changed.code)
        await uow.commit()
    return changed


async def define_decision(
    cmd: DefineDecision, *, uow: CatalogueUnitOfWork, now: datetime
) -> Decision:
    """Add a decision at version 1 and publish it."""
    decision = Decision(
        code=_checked_code(cmd.code),
        names=dict(cmd.names),
        outcome=cmd.outcome,
        requires_text=cmd.requires_text,
        version=1,
        creates_contract=cmd.creates_contract,
        contract_template_id=cmd.contract_template_id,
    )
    async with uow:
        if not await uow.catalogue.add_decision(decision):
            raise CatalogueEntryExists(f"The decision {cmd.code!r} exists already.")
        uow.record(decision_defined(decision, now=now), key=decision.code)
        await uow.commit()
    return decision


async def change_decision(
    cmd: ChangeDecision, *, uow: CatalogueUnitOfWork, now: datetime
) -> Decision:
    """Replace a decision at its next version and publish it; a change that changes nothing
    keeps the version and publishes nothing."""
    async with uow:
        current = await uow.catalogue.decision(cmd.code, for_update=True)
        if current is None:
            raise CatalogueEntryNotFound(f"There is no decision {cmd.code!r}.")
        changed = replace(
            current,
            names=dict(cmd.names),
            outcome=cmd.outcome,
            requires_text=cmd.requires_text,
            retired=cmd.retired,
            creates_contract=cmd.creates_contract,
            contract_template_id=cmd.contract_template_id,
        )
        return await _save_decision(current, changed, uow=uow, now=now)


async def retire_decision(
    cmd: RetireDecision, *, uow: CatalogueUnitOfWork, now: datetime
) -> Decision:
    """Retire a decision (once; retiring it again changes nothing)."""
    async with uow:
        current = await uow.catalogue.decision(cmd.code, for_update=True)
        if current is None:
            raise CatalogueEntryNotFound(f"There is no decision {cmd.code!r}.")
        return await _save_decision(current, replace(current, retired=True), uow=uow, now=now)


async def _save_decision(
    current: Decision, changed: Decision, *, uow: CatalogueUnitOfWork, now: datetime
) -> Decision:
    if changed == current:
        return current
    changed = replace(changed, version=current.version + 1)
    await uow.catalogue.save_decision(changed)
    uow.record(decision_defined(changed, now=now), key=changed.code)
    await uow.commit()
    return changed


# -- asking the questions ---------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Question:
    """One question to ask now, worded in the language asked for."""

    name: str
    label: str
    type: ParameterType
    choices: tuple[str, ...]
    required: bool


@dataclass(frozen=True, kw_only=True)
class Questions:
    """Where a form stands given the answers so far: what to ask next, and whether the
    answers are complete (then `answers` holds them normalised), else what is wrong."""

    questions: tuple[Question, ...]
    complete: bool
    answers: Mapping[str, str] = field(default_factory=dict)
    problems: Mapping[str, str] = field(default_factory=dict)


def ask(request_type: RequestType, answers: Mapping[str, str], *, language: str) -> Questions:
    """The questions `request_type` asks now, given `answers`, labelled in `language` (else
    English, else the parameter's name)."""
    asked = tuple(
        Question(
            name=p.name,
            label=p.label(language),
            type=p.type,
            choices=p.choices,
            required=p.required,
        )
        for p in questions(request_type.form, answers)
    )
    try:
        clean = validate(request_type.form, answers)
    except InvalidAnswers as invalid:
        return Questions(questions=asked, complete=False, problems=invalid.problems)
    return Questions(questions=asked, complete=True, answers=clean)
