"""The receive_interaction use case with fakes: no database, no broker."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from types import TracebackType
from typing import Self
from uuid import UUID

import pytest
from structlog.testing import capture_logs

from caseflow_forms import Form, Parameter, ParameterType
from cases.app.handlers import ReceiveInteraction, receive_interaction
from cases.domain.case import Case
from cases.domain.catalogue import Decision, RequestType
from cases.domain.events import ActivityLogged, CaseEvent, CaseOpened
from cases.domain.notifications import Notification, RecipientKind, Template
from cases.domain.priority import PriorityRule
from cases.domain.values import Channel, Priority

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


class FakeCaseRepository:
    def __init__(self) -> None:
        self.cases: dict[UUID, Case] = {}
        self.interactions: dict[UUID, UUID] = {}
        self.assignees: dict[UUID, UUID] = {}
        self.seq = 0

    async def assignee(self, case_id: UUID) -> UUID | None:
        return self.assignees.get(case_id)

    async def next_sequence(self) -> int:
        self.seq += 1
        return self.seq

    async def get(self, case_id: UUID, *, for_update: bool = False) -> Case | None:
        return self.cases.get(case_id)

    async def get_by_number(self, number: str) -> Case | None:
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
        self.cases[case.case_id] = case


class FakeCatalogue:
    def __init__(self, *request_types: RequestType) -> None:
        self.request_types = {t.code: t for t in request_types}

    async def request_type(self, code: str) -> RequestType | None:
        return self.request_types.get(code)

    async def decision(self, code: str) -> Decision | None:
        return None


class FakeCasesUnitOfWork:
    def __init__(self, *request_types: RequestType) -> None:
        self.cases = FakeCaseRepository()
        self.catalogue = FakeCatalogue(*request_types)
        self.emitted: list[tuple[Case, CaseEvent, UUID | None]] = []
        self.notified: list[Notification] = []
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
        self.emitted.extend((case, e, interaction_id) for e in events)

    def notify(self, notification: Notification) -> None:
        self.notified.append(notification)

    async def commit(self) -> None:
        self.committed += 1


def _cmd(**overrides: object) -> ReceiveInteraction:
    values: dict[str, object] = {
        "interaction_id": uuid.uuid4(),
        "channel": Channel.WEB,
        "contact_id": uuid.UUID(int=7),
        "account_id": None,
        "subject": "Invoice 42 charged twice",
        "body": "Please refund the second charge.",
    }
    values.update(overrides)
    return ReceiveInteraction(**values)  # type: ignore[arg-type]


async def test_a_new_request_opens_a_numbered_case_and_emits_case_opened() -> None:
    uow = FakeCasesUnitOfWork()
    cmd = _cmd()
    received = await receive_interaction(cmd, uow=uow, now=NOW)
    assert received.opened
    case = uow.cases.cases[received.case_id]
    assert case.number == "CAS-2026-000001"
    assert [type(e) for _, e, _ in uow.emitted] == [CaseOpened]
    assert uow.emitted[0][2] == cmd.interaction_id
    assert uow.committed == 1


async def test_the_same_interaction_twice_opens_one_case() -> None:
    uow = FakeCasesUnitOfWork()
    cmd = _cmd()
    first = await receive_interaction(cmd, uow=uow, now=NOW)
    again = await receive_interaction(cmd, uow=uow, now=NOW)
    assert again.case_id == first.case_id and not again.opened
    assert len(uow.cases.cases) == 1 and len(uow.emitted) == 1


async def test_a_follow_up_of_an_open_case_is_logged_on_it() -> None:
    uow = FakeCasesUnitOfWork()
    first = await receive_interaction(_cmd(), uow=uow, now=NOW)
    reply = await receive_interaction(
        _cmd(subject="Re: [CAS-2026-000001] still charged", follow_up_of="cas-2026-000001"),
        uow=uow,
        now=NOW,
    )
    assert reply.case_id == first.case_id and not reply.opened
    assert isinstance(uow.emitted[-1][1], ActivityLogged)
    assert len(uow.cases.cases[first.case_id].activities) == 1


async def test_the_assignee_hears_when_the_customer_comes_back_on_the_case() -> None:
    uow = FakeCasesUnitOfWork()
    first = await receive_interaction(_cmd(), uow=uow, now=NOW)
    follow_up = _cmd(subject="Re: [CAS-2026-000001] still charged", follow_up_of="CAS-2026-000001")
    uow.notified.clear()
    await receive_interaction(follow_up, uow=uow, now=NOW)
    assert uow.notified == []  # nobody works the case yet: nobody to tell

    agent = uuid.UUID(int=42)
    uow.cases.assignees[first.case_id] = agent
    await receive_interaction(
        _cmd(subject="Re: [CAS-2026-000001] hello?", follow_up_of="CAS-2026-000001"),
        uow=uow,
        now=NOW,
    )
    [told] = uow.notified
    assert (told.recipient_kind, told.recipient_id) == (RecipientKind.AGENT, agent)
    assert told.template is Template.FOLLOW_UP and told.case_id == first.case_id
    assert told.parameters["subject"] == "Re: [CAS-2026-000001] hello?"


async def test_a_follow_up_from_another_contact_or_of_an_unknown_number_opens_a_new_case() -> None:
    uow = FakeCasesUnitOfWork()
    await receive_interaction(_cmd(), uow=uow, now=NOW)
    other = await receive_interaction(
        _cmd(contact_id=uuid.UUID(int=8), follow_up_of="CAS-2026-000001"), uow=uow, now=NOW
    )
    unknown = await receive_interaction(_cmd(follow_up_of="CAS-2026-999999"), uow=uow, now=NOW)
    garbage = await receive_interaction(_cmd(follow_up_of="not a number"), uow=uow, now=NOW)
    assert other.opened and unknown.opened and garbage.opened
    assert len(uow.cases.cases) == 4


async def test_priority_rules_set_the_initial_priority() -> None:
    uow = FakeCasesUnitOfWork()
    rules = [PriorityRule(priority=Priority.URGENT, request_types=frozenset({"outage"}))]
    received = await receive_interaction(
        _cmd(request_type="outage"), uow=uow, now=NOW, priority_rules=rules
    )
    assert uow.cases.cases[received.case_id].priority is Priority.URGENT


REPAIR = RequestType(
    code="repair",
    default_priority=Priority.HIGH,
    form=Form(
        (
            Parameter("warranty", ParameterType.BOOLEAN, required=True),
            Parameter("serial", ParameterType.TEXT),
        )
    ),
)


async def test_the_customer_is_told_the_case_was_received_in_their_language() -> None:
    uow = FakeCasesUnitOfWork()
    received = await receive_interaction(_cmd(language="de", first_contact=True), uow=uow, now=NOW)
    case = uow.cases.cases[received.case_id]
    assert (case.language, case.first_contact) == ("de", True)
    [told] = uow.notified
    assert (told.recipient_kind, told.recipient_id) == (RecipientKind.CONTACT, uuid.UUID(int=7))
    assert (told.template, told.language, told.case_id) == (Template.RECEIVED, "de", case.case_id)
    assert told.parameters == {"number": "CAS-2026-000001", "subject": "Invoice 42 charged twice"}


async def test_answers_that_fit_the_catalogue_are_normalised_and_take_the_type_priority() -> None:
    uow = FakeCasesUnitOfWork(REPAIR)
    rules = [PriorityRule(priority=Priority.LOW)]
    received = await receive_interaction(
        _cmd(request_type="repair", parameters={"warranty": "Yes"}),
        uow=uow,
        now=NOW,
        priority_rules=rules,
    )
    case = uow.cases.cases[received.case_id]
    assert case.parameters == {"warranty": "true"}
    assert case.priority is Priority.HIGH


@pytest.mark.parametrize(
    ("request_type", "parameters"),
    [
        ("repair", {"warranty": "maybe"}),
        ("repair", {"colour": "red"}),
        ("unknown", {"anything": "x"}),
        ("retired", {}),
    ],
)
async def test_a_request_the_catalogue_disagrees_with_still_opens_a_case(
    request_type: str, parameters: dict[str, str]
) -> None:
    retired = RequestType(code="retired", active=False)
    uow = FakeCasesUnitOfWork(REPAIR, retired)
    with capture_logs() as logs:
        received = await receive_interaction(
            _cmd(request_type=request_type, parameters=parameters), uow=uow, now=NOW
        )
    assert received.opened
    case = uow.cases.cases[received.case_id]
    assert (case.request_type, case.parameters) == (request_type, parameters)
    assert [e["event"] for e in logs] == ["case.request_not_in_catalogue"]
    assert logs[0]["log_level"] == "warning"
