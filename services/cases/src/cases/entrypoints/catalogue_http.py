"""The catalogues' HTTP API: request types with their questions, and decisions.

Agents read the catalogues; admins define and change entries, which are deactivated or retired,
never deleted. A web form (a channel key) or an agent's script asks a request type's questions
step by step. Errors are raised, and answered as problem+json by the mapping in
`cases.bootstrap`.
"""

# No `from __future__ import annotations` here: FastAPI must evaluate the route signatures.

import json
from collections.abc import Callable
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field, StringConstraints

from caseflow_forms import Condition, Parameter, ParameterType
from caseflow_servicekit import Authenticator, Clock, NotFound, Problem, Role
from caseflow_servicekit.edge import EdgeModel, Text, bad_strings
from cases.adapters.uow import SqlCasesUnitOfWork
from cases.app.catalogue import (
    ChangeDecision,
    ChangeRequestType,
    DefineDecision,
    DefineRequestType,
    Questions,
    RetireDecision,
    ask,
    change_decision,
    change_request_type,
    define_decision,
    define_request_type,
    retire_decision,
)
from cases.domain.catalogue import Decision, RequestType
from cases.domain.values import DecisionOutcome, Priority

Language = Annotated[Text, StringConstraints(min_length=1, max_length=16)]
Label = Annotated[Text, StringConstraints(min_length=1, max_length=500)]
ParameterName = Annotated[Text, StringConstraints(min_length=1, max_length=100)]
Choice = Annotated[Text, StringConstraints(min_length=1, max_length=200)]

Code = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=r"^[a-z0-9._-]+$")]
"""A catalogue code: lower-case letters, digits, `.`, `_`, `-`."""
Names = Annotated[dict[Language, Label], Field(min_length=1, max_length=50)]
"""An entry's name by language, e.g. `{"en": "Repair", "de": "Reparatur"}`."""

# The answers travel in the URL: past a few KiB, servers and proxies refuse the request line
# before any route sees it (and answer in plain text), so the limit is documented here.
MAX_ANSWERS_JSON = 4 * 1024


# -- bodies -----------------------------------------------------------------------------------


class ConditionBody(EdgeModel):
    """Ask the parameter only when the earlier parameter's answer is one of `equals`."""

    parameter: ParameterName
    equals: Annotated[list[Choice], Field(min_length=1, max_length=200)]


class ParameterBody(EdgeModel):
    """One question a request type asks."""

    name: ParameterName
    labels: Annotated[dict[Language, Label], Field(max_length=50)] = {}
    type: ParameterType = ParameterType.TEXT
    choices: Annotated[list[Choice], Field(max_length=200)] = []
    required: bool = False
    when: ConditionBody | None = None

    def parameter(self) -> Parameter:
        return Parameter(
            name=self.name,
            type=self.type,
            labels=dict(self.labels),
            choices=tuple(self.choices),
            required=self.required,
            when=None
            if self.when is None
            else Condition(parameter=self.when.parameter, equals=frozenset(self.when.equals)),
        )


class RequestTypeChange(EdgeModel):
    """What a request type says, replaced whole."""

    names: Names
    default_priority: Priority = Priority.NORMAL
    parameters: Annotated[list[ParameterBody], Field(max_length=100)] = []
    active: bool = True


class NewRequestType(RequestTypeChange):
    """A request type to add to the catalogue."""

    code: Code


class DecisionChange(EdgeModel):
    """What a decision says, replaced whole."""

    names: Names
    outcome: DecisionOutcome = DecisionOutcome.OTHER
    requires_text: bool = False
    retired: bool = False
    creates_contract: bool = False
    """Taking it draws up a draft contract for the case's account ("accepted: contract")."""
    contract_template_id: UUID | None = None
    """The template that contract follows (see `/contract-templates`); none: an empty draft."""


class NewDecision(EdgeModel):
    """A decision to add to the catalogue."""

    code: Code
    names: Names
    outcome: DecisionOutcome = DecisionOutcome.OTHER
    requires_text: bool = False
    creates_contract: bool = False
    """Taking it draws up a draft contract for the case's account ("accepted: contract")."""
    contract_template_id: UUID | None = None
    """The template that contract follows (see `/contract-templates`); none: an empty draft."""


# -- views ------------------------------------------------------------------------------------


class ConditionView(BaseModel):
    parameter: str
    equals: list[str]


class ParameterView(BaseModel):
    name: str
    labels: dict[str, str]
    type: ParameterType
    choices: list[str]
    required: bool
    when: ConditionView | None


class RequestTypeView(BaseModel):
    """A request type as the API shows it."""

    code: str
    names: dict[str, str]
    default_priority: Priority
    parameters: list[ParameterView]
    active: bool
    version: int

    @classmethod
    def of(cls, request_type: RequestType) -> "RequestTypeView":
        return cls(
            code=request_type.code,
            names=dict(request_type.names),
            default_priority=request_type.default_priority,
            parameters=[
                ParameterView(
                    name=p.name,
                    labels=dict(p.labels),
                    type=p.type,
                    choices=list(p.choices),
                    required=p.required,
                    when=None
                    if p.when is None
                    else ConditionView(parameter=p.when.parameter, equals=sorted(p.when.equals)),
                )
                for p in request_type.form.parameters
            ],
            active=request_type.active,
            version=request_type.version,
        )


class DecisionView(BaseModel):
    """A decision as the API shows it."""

    code: str
    names: dict[str, str]
    outcome: DecisionOutcome
    requires_text: bool
    retired: bool
    version: int
    creates_contract: bool
    contract_template_id: UUID | None

    @classmethod
    def of(cls, decision: Decision) -> "DecisionView":
        return cls(
            code=decision.code,
            names=dict(decision.names),
            outcome=decision.outcome,
            requires_text=decision.requires_text,
            retired=decision.retired,
            version=decision.version,
            creates_contract=decision.creates_contract,
            contract_template_id=decision.contract_template_id,
        )


class QuestionView(BaseModel):
    name: str
    label: str
    type: ParameterType
    choices: list[str]
    required: bool


class QuestionsView(BaseModel):
    """What to ask next, and whether the answers so far are complete."""

    request_type: str
    active: bool
    questions: list[QuestionView]
    complete: bool
    answers: dict[str, str] = Field(description="The answers normalised, once complete.")
    problems: dict[str, str] = Field(
        description="While not complete: what is missing or wrong, by parameter."
    )

    @classmethod
    def of(cls, request_type: RequestType, asked: Questions) -> "QuestionsView":
        return cls(
            request_type=request_type.code,
            active=request_type.active,
            questions=[
                QuestionView(
                    name=q.name,
                    label=q.label,
                    type=q.type,
                    choices=list(q.choices),
                    required=q.required,
                )
                for q in asked.questions
            ],
            complete=asked.complete,
            answers=dict(asked.answers),
            problems=dict(asked.problems),
        )


def _bad_answers(reason: str) -> Problem:
    return Problem(
        "The answers are not valid.",
        status=422,
        errors=[{"loc": ["query", "answers"], "msg": reason, "type": "value_error"}],
    )


def answers_of(raw: str | None) -> dict[str, str]:
    """The answers so far from the `answers` query parameter: a JSON object of strings."""
    if raw is None or not raw.strip():
        return {}
    try:
        decoded = json.loads(raw)
    except (ValueError, RecursionError):
        raise _bad_answers("not JSON") from None
    if not isinstance(decoded, dict):
        raise _bad_answers("not a JSON object of answers by parameter name")
    for where, problem in bad_strings(decoded):
        raise _bad_answers(f"{'.'.join(str(p) for p in where)}: {problem}")
    given: dict[str, str] = {}
    for name, value in decoded.items():
        if not isinstance(value, str):
            raise _bad_answers(f"the answer to {name!r} is not a string")
        given[name] = value
    return given


def router(
    *, uow_factory: Callable[[], SqlCasesUnitOfWork], auth: Authenticator, clock: Clock
) -> APIRouter:
    """Routes for the request-type and decision catalogues."""
    api = APIRouter(tags=["catalogue"])
    agent = [Depends(auth.requires(Role.AGENT))]
    admin = [Depends(auth.requires(Role.ADMIN))]
    asker = [Depends(auth.requires(Role.CHANNEL, Role.AGENT))]

    async def _request_type(code: str) -> RequestType:
        async with uow_factory() as uow:
            found = await uow.catalogue.request_type(code)
        if found is None:
            raise NotFound(f"There is no request type {code!r}.")
        return found

    @api.get("/request-types", response_model=list[RequestTypeView], dependencies=agent)
    async def list_request_types(active: bool | None = None) -> list[RequestTypeView]:
        """The request types by code; only the active (or inactive) ones with `active`."""
        async with uow_factory() as uow:
            found = await uow.catalogue.request_types(active=active)
        return [RequestTypeView.of(t) for t in found]

    @api.post("/request-types", response_model=RequestTypeView, status_code=201, dependencies=admin)
    async def add_request_type(body: NewRequestType) -> RequestTypeView:
        """Add a request type with its questions; 409 if the code exists, 422 if its form
        cannot be asked."""
        defined = await define_request_type(
            DefineRequestType(
                code=body.code,
                names=body.names,
                default_priority=body.default_priority,
                parameters=[p.parameter() for p in body.parameters],
                active=body.active,
            ),
            uow=uow_factory(),
            now=clock.now(),
        )
        return RequestTypeView.of(defined)

    @api.get("/request-types/{code}", response_model=RequestTypeView, dependencies=agent)
    async def get_request_type(code: str) -> RequestTypeView:
        """One request type with its questions, active or not."""
        return RequestTypeView.of(await _request_type(code))

    @api.put("/request-types/{code}", response_model=RequestTypeView, dependencies=admin)
    async def replace_request_type(code: str, body: RequestTypeChange) -> RequestTypeView:
        """Replace a request type's names, default priority, questions and whether it is active
        (deactivate it rather than delete it); its version grows by one."""
        changed = await change_request_type(
            ChangeRequestType(
                code=code,
                names=body.names,
                default_priority=body.default_priority,
                parameters=[p.parameter() for p in body.parameters],
                active=body.active,
            ),
            uow=uow_factory(),
            now=clock.now(),
        )
        return RequestTypeView.of(changed)

    @api.get("/request-types/{code}/questions", response_model=QuestionsView, dependencies=asker)
    async def ask_questions(
        code: str,
        answers: Annotated[
            str | None,
            Query(
                max_length=MAX_ANSWERS_JSON,
                description='The answers so far, a JSON object of strings: {"warranty": "yes"}.',
            ),
        ] = None,
        language: Annotated[str, Query(min_length=1, max_length=16)] = "en",
    ) -> QuestionsView:
        """The questions to ask now given the answers so far (labelled in `language`, else
        English, else by name), and whether the answers are complete."""
        given = answers_of(answers)
        request_type = await _request_type(code)
        return QuestionsView.of(request_type, ask(request_type, given, language=language))

    @api.get("/decisions", response_model=list[DecisionView], dependencies=agent)
    async def list_decisions(include_retired: bool = False) -> list[DecisionView]:
        """The decisions by code; the retired ones too with `include_retired`."""
        async with uow_factory() as uow:
            found = await uow.catalogue.decisions(include_retired=include_retired)
        return [DecisionView.of(d) for d in found]

    @api.post("/decisions", response_model=DecisionView, status_code=201, dependencies=admin)
    async def add_decision(body: NewDecision) -> DecisionView:
        """Add a decision; 409 if the code exists."""
        defined = await define_decision(
            DefineDecision(
                code=body.code,
                names=body.names,
                outcome=body.outcome,
                requires_text=body.requires_text,
                creates_contract=body.creates_contract,
                contract_template_id=body.contract_template_id,
            ),
            uow=uow_factory(),
            now=clock.now(),
        )
        return DecisionView.of(defined)

    @api.get("/decisions/{code}", response_model=DecisionView, dependencies=agent)
    async def get_decision(code: str) -> DecisionView:
        """One decision, retired or not."""
        async with uow_factory() as uow:
            found = await uow.catalogue.decision(code)
        if found is None:
            raise NotFound(f"There is no decision {code!r}.")
        return DecisionView.of(found)

    @api.put("/decisions/{code}", response_model=DecisionView, dependencies=admin)
    async def replace_decision(code: str, body: DecisionChange) -> DecisionView:
        """Replace a decision's names, outcome, whether it needs a text and whether it is
        retired; its version grows by one."""
        changed = await change_decision(
            ChangeDecision(
                code=code,
                names=body.names,
                outcome=body.outcome,
                requires_text=body.requires_text,
                retired=body.retired,
                creates_contract=body.creates_contract,
                contract_template_id=body.contract_template_id,
            ),
            uow=uow_factory(),
            now=clock.now(),
        )
        return DecisionView.of(changed)

    @api.post("/decisions/{code}/retire", response_model=DecisionView, dependencies=admin)
    async def retire(code: str) -> DecisionView:
        """Retire a decision: no longer offered, still readable."""
        retired = await retire_decision(
            RetireDecision(code=code), uow=uow_factory(), now=clock.now()
        )
        return DecisionView.of(retired)

    return api
