"""The receive_interaction use case with fakes: no database, no broker."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Self
from uuid import UUID

import pytest
from structlog.testing import capture_logs

from caseflow_forms import Form, Parameter, ParameterType
from cases.app.handlers import ReceiveInteraction, receive_interaction
from cases.domain.case import Case
from cases.domain.catalogue import Decision, RequestType
from cases.domain.contracts import ContractEvent
from cases.domain.events import ActivityLogged, CaseEvent, CaseOpened, CaseReopened
from cases.domain.notifications import Notification, RecipientKind, Template
from cases.domain.priority import PriorityRule
from cases.domain.values import ActivityKind, Attachment, CaseStatus, Channel, Priority

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
        self.cases[case.case_id] = case


class FakeCatalogue:
    def __init__(self, *request_types: RequestType) -> None:
        self.request_types = {t.code: t for t in request_types}

    async def request_type(self, code: str) -> RequestType | None:
        return self.request_types.get(code)

    async def decision(self, code: str) -> Decision | None:
        return None


class FakeContracts:
    """No contracts: nothing covers a case, nothing was drawn."""

    async def lines_of_account(self, account_id: UUID) -> list[object]:
        return []

    async def net_of_case(self, case_id: UUID) -> list[tuple[UUID, int, int]]:
        return []


class FakeCasesUnitOfWork:
    def __init__(self, *request_types: RequestType) -> None:
        self.cases = FakeCaseRepository()
        self.catalogue = FakeCatalogue(*request_types)
        self.contracts = FakeContracts()
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

    def emit_contract(self, contract: object, events: Iterable[ContractEvent]) -> None:
        raise AssertionError("no contract changes here")

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


async def test_a_follow_up_of_an_unknown_number_opens_a_new_case() -> None:
    uow = FakeCasesUnitOfWork()
    await receive_interaction(_cmd(), uow=uow, now=NOW)
    unknown = await receive_interaction(_cmd(follow_up_of="CAS-2026-999999"), uow=uow, now=NOW)
    garbage = await receive_interaction(_cmd(follow_up_of="not a number"), uow=uow, now=NOW)
    assert unknown.opened and garbage.opened
    assert len(uow.cases.cases) == 3
    assert all(c.related_case_id is None for c in uow.cases.cases.values())


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


# -- mail follow-ups ------------------------------------------------------------------------

CONTACT = uuid.UUID(int=7)
COLLEAGUE = uuid.UUID(int=8)
ASSIGNEE = uuid.UUID(int=42)
WINDOW = timedelta(days=7)
INVOICE = Attachment(
    attachment_id=uuid.UUID(int=501),
    filename="invoice.pdf",
    content_type="application/pdf",
    size=18_432,
    sha256="9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
)
STATEMENT = Attachment(
    attachment_id=uuid.UUID(int=502),
    filename="statement.png",
    content_type="image/png",
    size=0,
    sha256="e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
)


async def _email_case(uow: FakeCasesUnitOfWork) -> Case:
    received = await receive_interaction(
        _cmd(channel=Channel.EMAIL, attachments=(INVOICE,)), uow=uow, now=NOW
    )
    assert received.case_id is not None
    uow.cases.assignees[received.case_id] = ASSIGNEE
    uow.emitted.clear()
    uow.notified.clear()
    return uow.cases.cases[received.case_id]


def _mail(case: Case, **overrides: object) -> ReceiveInteraction:
    values: dict[str, object] = {
        "channel": Channel.EMAIL,
        "subject": f"Re: [{case.number}] Invoice 42 charged twice",
        "body": "It is still charged twice, see the statement.",
        "follow_up_of": case.number,
        "attachments": (STATEMENT,),
        **overrides,
    }
    return _cmd(**values)


def _events(uow: FakeCasesUnitOfWork) -> list[CaseEvent]:
    return [event for _, event, _ in uow.emitted]


def _resolve(case: Case, at: datetime) -> None:
    case.resolve(resolution_type="refunded", summary="Refunded the second charge", now=at)


async def test_the_opening_mail_keeps_its_attachments_with_the_case() -> None:
    uow = FakeCasesUnitOfWork()
    cmd = _cmd(attachments=(INVOICE,))
    received = await receive_interaction(cmd, uow=uow, now=NOW)
    assert received.case_id is not None
    assert uow.cases.cases[received.case_id].attachments == (INVOICE,)
    [(_, opened, _)] = uow.emitted
    assert isinstance(opened, CaseOpened) and opened.attachments == (INVOICE,)
    # The acknowledgement answers the customer's message (intake sends it as a reply to it).
    [told] = uow.notified
    assert (told.template, told.interaction_id, told.attachments) == (
        Template.RECEIVED,
        cmd.interaction_id,
        (),
    )


async def test_a_follow_up_on_an_open_case_keeps_what_the_customer_wrote_and_sent() -> None:
    uow = FakeCasesUnitOfWork()
    case = await _email_case(uow)
    mail = _mail(case)
    received = await receive_interaction(mail, uow=uow, now=NOW)

    assert (received.case_id, received.opened) == (case.case_id, False)
    [activity] = case.activities
    assert activity.kind is ActivityKind.EMAIL and activity.performed_by is None
    assert activity.description == "It is still charged twice, see the statement."
    assert activity.attachments == (STATEMENT,)
    assert (activity.interaction_id, activity.contact_id) == (mail.interaction_id, CONTACT)
    assert not activity.from_other_contact and not activity.auto_reply
    [logged] = _events(uow)
    assert isinstance(logged, ActivityLogged)
    assert (logged.description, logged.attachments) == (activity.description, (STATEMENT,))
    assert (logged.interaction_id, logged.contact_id) == (mail.interaction_id, CONTACT)
    [told] = uow.notified
    assert (told.template, told.recipient_id) == (Template.FOLLOW_UP, ASSIGNEE)


async def test_a_follow_up_from_someone_else_is_added_to_the_case_marked_as_theirs() -> None:
    uow = FakeCasesUnitOfWork()
    case = await _email_case(uow)
    received = await receive_interaction(_mail(case, contact_id=COLLEAGUE), uow=uow, now=NOW)
    assert (received.case_id, received.opened) == (case.case_id, False)
    assert len(uow.cases.cases) == 1
    [activity] = case.activities
    assert (activity.contact_id, activity.from_other_contact) == (COLLEAGUE, True)
    [logged] = _events(uow)
    assert isinstance(logged, ActivityLogged) and logged.from_other_contact
    assert [n.template for n in uow.notified] == [Template.FOLLOW_UP]


async def test_a_mail_within_the_window_reopens_the_resolved_case() -> None:
    uow = FakeCasesUnitOfWork()
    case = await _email_case(uow)
    _resolve(case, NOW)
    later = NOW + WINDOW
    received = await receive_interaction(_mail(case), uow=uow, now=later, reopen_window=WINDOW)

    assert (received.case_id, received.opened) == (case.case_id, False)
    assert (case.status, case.reopen_count, case.reopened_at) == (
        CaseStatus.IN_PROGRESS,
        1,
        later,
    )
    reopened, logged = _events(uow)
    assert isinstance(reopened, CaseReopened) and reopened.reason == "The customer wrote again"
    assert isinstance(logged, ActivityLogged) and logged.attachments == (STATEMENT,)
    assert [n.template for n in uow.notified] == [Template.FOLLOW_UP]


async def test_a_mail_after_the_window_opens_a_new_case_that_refers_to_the_old_one() -> None:
    uow = FakeCasesUnitOfWork()
    case = await _email_case(uow)
    _resolve(case, NOW)
    later = NOW + WINDOW + timedelta(seconds=1)
    received = await receive_interaction(_mail(case), uow=uow, now=later, reopen_window=WINDOW)

    assert received.opened and received.case_id != case.case_id
    assert case.status is CaseStatus.RESOLVED and case.activities == []
    assert received.case_id is not None
    new = uow.cases.cases[received.case_id]
    assert (new.related_case_id, new.related_number) == (case.case_id, case.number)
    assert new.description == "It is still charged twice, see the statement."
    assert new.attachments == (STATEMENT,)
    [opened] = _events(uow)
    assert isinstance(opened, CaseOpened)
    assert (opened.related_case_id, opened.related_number) == (case.case_id, case.number)
    assert [n.template for n in uow.notified] == [Template.RECEIVED]


async def test_a_mail_on_a_cancelled_case_opens_a_new_case_that_refers_to_it() -> None:
    uow = FakeCasesUnitOfWork()
    case = await _email_case(uow)
    case.cancel("Sent by mistake", now=NOW)
    received = await receive_interaction(_mail(case), uow=uow, now=NOW + timedelta(minutes=5))
    assert received.opened and received.case_id is not None
    assert uow.cases.cases[received.case_id].related_case_id == case.case_id
    assert case.status is CaseStatus.CANCELLED and case.reopen_count == 0


async def test_an_auto_reply_on_an_open_case_is_kept_and_tells_nobody() -> None:
    uow = FakeCasesUnitOfWork()
    case = await _email_case(uow)
    received = await receive_interaction(
        _mail(case, auto_reply=True, subject="Out of office"), uow=uow, now=NOW
    )
    assert received.case_id == case.case_id
    [activity] = case.activities
    assert activity.auto_reply
    [logged] = _events(uow)
    assert isinstance(logged, ActivityLogged) and logged.auto_reply
    assert uow.notified == []


@pytest.mark.parametrize("close", ["resolve", "cancel"])
async def test_an_auto_reply_on_a_closed_case_is_only_recorded_against_it(close: str) -> None:
    uow = FakeCasesUnitOfWork()
    case = await _email_case(uow)
    if close == "resolve":
        _resolve(case, NOW)
    else:
        case.cancel("Withdrawn", now=NOW)
    status = case.status
    mail = _mail(case, auto_reply=True, subject="Out of office")
    received = await receive_interaction(mail, uow=uow, now=NOW + timedelta(hours=1))

    assert (received.case_id, received.opened) == (case.case_id, False)
    assert (case.status, case.activities, case.reopen_count) == (status, [], 0)
    assert uow.cases.interactions[mail.interaction_id] == case.case_id
    assert len(uow.cases.cases) == 1
    assert (uow.emitted, uow.notified) == ([], [])


@pytest.mark.parametrize("follow_up_of", [None, "CAS-2026-999999"])
async def test_an_auto_reply_to_no_case_opens_nothing_and_is_logged(
    follow_up_of: str | None,
) -> None:
    uow = FakeCasesUnitOfWork()
    cmd = _cmd(auto_reply=True, follow_up_of=follow_up_of)
    with capture_logs() as logs:
        received = await receive_interaction(cmd, uow=uow, now=NOW)
        again = await receive_interaction(cmd, uow=uow, now=NOW)
    assert received == again
    assert (received.case_id, received.opened) == (None, False)
    assert (uow.cases.cases, uow.cases.interactions, uow.emitted, uow.notified) == ({}, {}, [], [])
    assert [e["event"] for e in logs] == ["case.auto_reply_ignored"] * 2


async def _twice(uow: FakeCasesUnitOfWork, cmd: ReceiveInteraction, now: datetime) -> int:
    first = await receive_interaction(cmd, uow=uow, now=now, reopen_window=WINDOW)
    seen = (len(uow.emitted), len(uow.notified), len(uow.cases.cases))
    again = await receive_interaction(cmd, uow=uow, now=now, reopen_window=WINDOW)
    assert again.case_id == first.case_id and not again.opened
    assert (len(uow.emitted), len(uow.notified), len(uow.cases.cases)) == seen
    return sum(len(c.activities) for c in uow.cases.cases.values())


@pytest.mark.parametrize(
    ("setup", "later", "auto_reply"),
    [
        ("open", timedelta(0), False),
        ("resolve", timedelta(days=1), False),
        ("resolve", timedelta(days=30), False),
        ("cancel", timedelta(days=1), False),
        ("open", timedelta(0), True),
        ("resolve", timedelta(days=1), True),
    ],
)
async def test_the_same_follow_up_twice_changes_nothing_the_second_time(
    setup: str, later: timedelta, auto_reply: bool
) -> None:
    uow = FakeCasesUnitOfWork()
    case = await _email_case(uow)
    if setup == "resolve":
        _resolve(case, NOW)
    elif setup == "cancel":
        case.cancel("Withdrawn", now=NOW)
    activities = await _twice(uow, _mail(case, auto_reply=auto_reply), NOW + later)
    assert activities <= 1
