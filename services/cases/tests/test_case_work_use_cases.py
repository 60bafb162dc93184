"""The use cases of opening and working a case, with fakes: no database, no broker."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from types import TracebackType
from typing import Self
from uuid import UUID, uuid4

import pytest

from caseflow_forms import Form, Parameter, ParameterType
from cases.app.handlers import (
    OpenCase,
    OpenCaseForNewCustomer,
    open_case,
    request_case_for_new_customer,
)
from cases.app.work import (
    AcceptCase,
    CancelCase,
    EscalateCase,
    LogActivity,
    MoveCase,
    RecordDecision,
    ReplyToCustomer,
    ResolveCase,
    UpdateCase,
    accept_case,
    cancel_case,
    escalate_case,
    log_activity,
    move_case,
    record_decision,
    reply_to_customer,
    resolve_case,
    update_case,
)
from cases.domain.case import Case
from cases.domain.catalogue import Decision, RequestType
from cases.domain.errors import (
    CaseClosedError,
    CaseNotFoundError,
    CaseValidationError,
    InvalidParametersError,
    StaleCaseError,
    UnknownDecisionError,
    UnknownRequestTypeError,
)
from cases.domain.events import CaseEvent, CaseOpened, CaseStatusChanged, CaseUpdated
from cases.domain.new_customers import InteractionRequest, NewCustomer
from cases.domain.notifications import Notification, RecipientKind, Template
from cases.domain.values import ActivityKind, Channel, DecisionOutcome, EscalationTarget, Priority

pytestmark = pytest.mark.unit

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
AGENT = UUID(int=300)
CONTACT = UUID(int=7)

REPAIR = RequestType(
    code="repair",
    default_priority=Priority.HIGH,
    form=Form((Parameter("warranty", ParameterType.BOOLEAN, required=True),)),
)
RETIRED_TYPE = RequestType(code="old", active=False)
FIXED = Decision(code="fixed", outcome=DecisionOutcome.ACCEPTED)
REFUSED = Decision(code="refused", outcome=DecisionOutcome.REFUSED, requires_text=True)
GONE = Decision(code="gone", retired=True)


class FakeCaseRepository:
    def __init__(self) -> None:
        self.cases: dict[UUID, Case] = {}
        self.interactions: dict[UUID, UUID] = {}
        self.assignees: dict[UUID, UUID] = {}
        self.seq = 0

    async def next_sequence(self) -> int:
        self.seq += 1
        return self.seq

    async def get(self, case_id: UUID, *, for_update: bool = False) -> Case | None:
        return self.cases.get(case_id)

    async def get_by_number(self, number: str, *, for_update: bool = False) -> Case | None:
        return next((c for c in self.cases.values() if c.number == number), None)

    async def case_of_interaction(self, interaction_id: UUID) -> UUID | None:
        return self.interactions.get(interaction_id)

    async def attach_interaction(
        self, *, interaction_id: UUID, case_id: UUID, channel: str, subject: str, at: datetime
    ) -> None:
        self.interactions[interaction_id] = case_id

    async def add(self, case: Case, *, interaction_id: UUID | None = None) -> None:
        self.cases[case.case_id] = case

    async def save(self, case: Case) -> None:
        case.version += 1
        self.cases[case.case_id] = case

    async def assignee(self, case_id: UUID) -> UUID | None:
        return self.assignees.get(case_id)


class FakeCatalogue:
    async def request_type(self, code: str) -> RequestType | None:
        return {t.code: t for t in (REPAIR, RETIRED_TYPE)}.get(code)

    async def decision(self, code: str) -> Decision | None:
        return {d.code: d for d in (FIXED, REFUSED, GONE)}.get(code)


class FakeCasesUnitOfWork:
    def __init__(self) -> None:
        self.cases = FakeCaseRepository()
        self.catalogue = FakeCatalogue()
        self.emitted: list[tuple[CaseEvent, UUID | None]] = []
        self.notified: list[Notification] = []
        self.requested: list[InteractionRequest] = []
        self.committed = 0

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None

    def emit(
        self, case: Case, events: Iterable[CaseEvent], *, interaction_id: UUID | None = None
    ) -> None:
        self.emitted.extend((e, interaction_id) for e in events)

    def notify(self, notification: Notification) -> None:
        self.notified.append(notification)

    def request_interaction(self, request: InteractionRequest) -> None:
        self.requested.append(request)

    async def commit(self) -> None:
        self.committed += 1


def _open(**overrides: object) -> OpenCase:
    values: dict[str, object] = {
        "channel": Channel.PHONE,
        "contact_id": CONTACT,
        "account_id": None,
        "subject": "Laptop broken",
        "description": "Does not start",
        "opened_by": AGENT,
    }
    values.update(overrides)
    return OpenCase(**values)  # type: ignore[arg-type]


async def _opened(uow: FakeCasesUnitOfWork, **overrides: object) -> Case:
    return await open_case(_open(**overrides), uow=uow, now=NOW)


# -- opening ---------------------------------------------------------------------------


async def test_an_agent_opens_a_numbered_case_published_with_an_interaction_of_its_own() -> None:
    uow = FakeCasesUnitOfWork()
    case = await _opened(uow, request_type="repair", parameters={"warranty": "yes"}, language="de")
    assert case.number == "CAS-2026-000001"
    assert (case.parameters, case.priority, case.language) == (
        {"warranty": "true"},
        Priority.HIGH,
        "de",
    )
    [(opened, interaction_id)] = uow.emitted
    assert isinstance(opened, CaseOpened)
    assert interaction_id is not None
    assert uow.cases.interactions[interaction_id] == case.case_id
    # No message of the customer's to answer: the acknowledgement is no reply to one.
    assert [(n.template, n.language, n.interaction_id) for n in uow.notified] == [
        (Template.RECEIVED, "de", None)
    ]
    assert uow.committed == 1


async def test_an_explicit_priority_wins() -> None:
    uow = FakeCasesUnitOfWork()
    case = await _opened(
        uow, request_type="repair", parameters={"warranty": "no"}, priority=Priority.LOW
    )
    assert case.priority is Priority.LOW


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"request_type": "repair", "parameters": {}}, InvalidParametersError),
        ({"request_type": "repair", "parameters": {"warranty": "x"}}, InvalidParametersError),
        ({"request_type": "nope"}, UnknownRequestTypeError),
        ({"request_type": "old"}, UnknownRequestTypeError),
        ({"parameters": {"warranty": "yes"}}, CaseValidationError),
    ],
)
async def test_opening_refuses_what_the_catalogue_does_not_offer(
    overrides: dict[str, object], error: type[Exception]
) -> None:
    uow = FakeCasesUnitOfWork()
    with pytest.raises(error):
        await _opened(uow, **overrides)
    assert uow.cases.cases == {} and uow.committed == 0


# -- a customer not on file -------------------------------------------------------------


def _for_new_customer(**overrides: object) -> OpenCaseForNewCustomer:
    values: dict[str, object] = {
        "channel": Channel.VISIT,
        "name": "Jan Novák",
        "email": "jan@example.cz",
        "phone": None,
        "subject": "Washing machine leaks",
        "description": "Water under it",
        "requested_by": AGENT,
        "request_type": "repair",
        "parameters": {"warranty": "yes"},
        "language": "cs",
    }
    values.update(overrides)
    return OpenCaseForNewCustomer(**values)  # type: ignore[arg-type]


async def test_a_new_customers_request_goes_to_intake_with_its_answers_normalised() -> None:
    uow = FakeCasesUnitOfWork()
    interaction_id = UUID(int=42)
    request = await request_case_for_new_customer(
        _for_new_customer(name=" Jan Novák "), uow=uow, now=NOW, new_id=lambda: interaction_id
    )
    assert uow.requested == [request]
    assert request == InteractionRequest(
        interaction_id=interaction_id,
        channel=Channel.VISIT,
        customer=NewCustomer(name="Jan Novák", email="jan@example.cz"),
        subject="Washing machine leaks",
        description="Water under it",
        requested_by=AGENT,
        occurred_at=NOW,
        request_type="repair",
        parameters={"warranty": "true"},
        language="cs",
    )
    # No case, no event, no notice: the case opens from the interaction intake receives.
    assert (uow.cases.cases, uow.emitted, uow.notified, uow.committed) == ({}, [], [], 1)


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"parameters": {}}, InvalidParametersError),
        ({"parameters": {"warranty": "x"}}, InvalidParametersError),
        ({"request_type": "nope"}, UnknownRequestTypeError),
        ({"request_type": "old"}, UnknownRequestTypeError),
        ({"request_type": None}, CaseValidationError),
        ({"email": None, "phone": None}, CaseValidationError),
        ({"email": None, "phone": "no number"}, CaseValidationError),
    ],
)
async def test_a_new_customers_request_is_checked_as_for_a_known_one(
    overrides: dict[str, object], error: type[Exception]
) -> None:
    uow = FakeCasesUnitOfWork()
    with pytest.raises(error):
        await request_case_for_new_customer(_for_new_customer(**overrides), uow=uow, now=NOW)
    assert (uow.requested, uow.committed) == ([], 0)


# -- editing ---------------------------------------------------------------------------


async def test_an_edit_needs_the_current_version_and_raises_it() -> None:
    uow = FakeCasesUnitOfWork()
    case = await _opened(uow)
    with pytest.raises(StaleCaseError):
        await update_case(
            UpdateCase(case_id=case.case_id, agent_id=AGENT, expected_version=7, subject="New"),
            uow=uow,
            now=NOW,
        )
    edited = await update_case(
        UpdateCase(
            case_id=case.case_id,
            agent_id=AGENT,
            expected_version=1,
            request_type="repair",
            parameters={"warranty": "no"},
        ),
        uow=uow,
        now=NOW,
    )
    assert (edited.version, edited.request_type, edited.parameters) == (
        2,
        "repair",
        {"warranty": "false"},
    )
    assert isinstance(uow.emitted[-1][0], CaseUpdated)


async def test_an_edit_checks_the_answers_against_the_case_type() -> None:
    uow = FakeCasesUnitOfWork()
    case = await _opened(uow, request_type="repair", parameters={"warranty": "yes"})
    with pytest.raises(InvalidParametersError):
        await update_case(
            UpdateCase(case_id=case.case_id, agent_id=AGENT, parameters={"colour": "red"}),
            uow=uow,
            now=NOW,
        )
    with pytest.raises(UnknownRequestTypeError):
        await update_case(
            UpdateCase(case_id=case.case_id, agent_id=AGENT, request_type="old"),
            uow=uow,
            now=NOW,
        )


async def test_a_command_that_changes_nothing_stores_nothing() -> None:
    uow = FakeCasesUnitOfWork()
    case = await _opened(uow)
    await update_case(
        UpdateCase(case_id=case.case_id, agent_id=AGENT, subject=case.subject), uow=uow, now=NOW
    )
    assert (case.version, uow.committed) == (1, 1)


async def test_an_unknown_case_is_not_found() -> None:
    with pytest.raises(CaseNotFoundError):
        await accept_case(
            AcceptCase(case_id=uuid4(), agent_id=AGENT), uow=FakeCasesUnitOfWork(), now=NOW
        )


# -- the lifecycle ---------------------------------------------------------------------


async def test_a_case_is_worked_from_acceptance_to_resolution() -> None:
    uow = FakeCasesUnitOfWork()
    case = await _opened(uow)
    case_id = case.case_id
    await accept_case(AcceptCase(case_id=case_id, agent_id=AGENT), uow=uow, now=NOW)
    accepted = uow.emitted[-1][0]
    assert isinstance(accepted, CaseStatusChanged) and accepted.by == AGENT
    assert case.accepted_by == AGENT
    await move_case(MoveCase(case_id=case_id, agent_id=AGENT, step="wait"), uow=uow, now=NOW)
    await move_case(MoveCase(case_id=case_id, agent_id=AGENT, step="resume"), uow=uow, now=NOW)
    _, activity = await log_activity(
        LogActivity(
            case_id=case_id,
            agent_id=AGENT,
            kind=ActivityKind.CALL,
            subject="Diagnosed",
            duration_minutes=20,
            billable=True,
        ),
        uow=uow,
        now=NOW,
    )
    assert (activity.performed_by, activity.performed_at) == (AGENT, NOW)
    _, answer = await reply_to_customer(
        ReplyToCustomer(case_id=case_id, agent_id=AGENT, text="On its way", duration_minutes=5),
        uow=uow,
        now=NOW,
    )
    assert (answer.kind, answer.to_customer) == (ActivityKind.CALL, True)
    _, decision = await record_decision(
        RecordDecision(case_id=case_id, agent_id=AGENT, code="refused", text="Dropped"),
        uow=uow,
        now=NOW,
    )
    assert (decision.code, decision.outcome) == ("refused", DecisionOutcome.REFUSED)
    resolved = await resolve_case(
        ResolveCase(case_id=case_id, agent_id=AGENT, code="fixed", text="Replaced"),
        uow=uow,
        now=NOW,
    )
    assert resolved.resolution is not None
    assert (resolved.resolution.billable_minutes, resolved.resolution.total_minutes) == (20, 25)
    assert [n.template for n in uow.notified] == [
        Template.RECEIVED,
        Template.ACCEPTED,
        Template.REPLY,
        Template.RESOLVED,
    ]
    assert resolved.version == 8


@pytest.mark.parametrize(
    ("code", "text", "error"),
    [
        ("nope", "x", UnknownDecisionError),
        ("gone", "x", UnknownDecisionError),
        ("refused", " ", CaseValidationError),
    ],
)
async def test_decisions_and_resolutions_take_only_what_the_catalogue_allows(
    code: str, text: str, error: type[Exception]
) -> None:
    uow = FakeCasesUnitOfWork()
    case = await _opened(uow)
    with pytest.raises(error):
        await record_decision(
            RecordDecision(case_id=case.case_id, agent_id=AGENT, code=code, text=text),
            uow=uow,
            now=NOW,
        )
    with pytest.raises(error):
        await resolve_case(
            ResolveCase(case_id=case.case_id, agent_id=AGENT, code=code, text=text or "x"),
            uow=uow,
            now=NOW,
        )
    assert case.decisions == [] and case.resolution is None


async def test_cancelling_tells_the_customer_and_a_closed_case_refuses_work() -> None:
    uow = FakeCasesUnitOfWork()
    case = await _opened(uow)
    await cancel_case(
        CancelCase(case_id=case.case_id, agent_id=AGENT, reason="Dup"), uow=uow, now=NOW
    )
    assert uow.notified[-1].template is Template.CANCELLED
    with pytest.raises(CaseClosedError):
        await move_case(
            MoveCase(case_id=case.case_id, agent_id=AGENT, step="hold"), uow=uow, now=NOW
        )


async def test_an_escalation_tells_the_manager() -> None:
    uow = FakeCasesUnitOfWork()
    case = await _opened(uow)
    manager = UUID(int=900)
    _, escalation = await escalate_case(
        EscalateCase(
            case_id=case.case_id,
            agent_id=AGENT,
            target=EscalationTarget.NEXT_LEVEL,
            claim="Wants compensation",
            manager_id=manager,
        ),
        uow=uow,
        now=NOW,
    )
    assert (escalation.manager_id, escalation.escalated_by) == (manager, AGENT)
    told = uow.notified[-1]
    assert (told.recipient_kind, told.recipient_id, told.template) == (
        RecipientKind.MANAGER,
        manager,
        Template.ESCALATED,
    )


async def test_an_escalation_tells_the_assignee_the_projection_knows() -> None:
    uow = FakeCasesUnitOfWork()
    case = await _opened(uow)
    assignee = UUID(int=901)
    uow.cases.assignees[case.case_id] = assignee
    await escalate_case(
        EscalateCase(
            case_id=case.case_id,
            agent_id=AGENT,
            target=EscalationTarget.NEXT_LEVEL,
            claim="Wants compensation",
            manager_id=UUID(int=900),
        ),
        uow=uow,
        now=NOW,
    )
    assert [(n.recipient_kind, n.recipient_id, n.template) for n in uow.notified[-2:]] == [
        (RecipientKind.MANAGER, UUID(int=900), Template.ESCALATED),
        (RecipientKind.AGENT, assignee, Template.ESCALATED),
    ]
