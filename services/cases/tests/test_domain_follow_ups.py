"""A customer's messages on an existing case, and the files that come and go with messages."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest

from cases.domain.case import (
    DEFAULT_REOPEN_WINDOW,
    Case,
    Customer,
    FollowUp,
    follow_up,
    message_kind,
    open_case,
)
from cases.domain.errors import CaseClosedError
from cases.domain.events import ActivityLogged, CaseOpened
from cases.domain.notifications import RecipientKind, Template, notifications_for
from cases.domain.values import ActivityKind, Attachment, CaseStatus, Channel

pytestmark = pytest.mark.unit

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
CONTACT = UUID(int=100)
COLLEAGUE = UUID(int=101)
AGENT = UUID(int=300)
ASSIGNEE = UUID(int=301)
WEEK = timedelta(days=7)
PHOTO = Attachment(
    attachment_id=UUID(int=900),
    filename="jam.jpg",
    content_type="image/jpeg",
    size=52_100,
    sha256="2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae",
)


def new_case(**extra: object) -> Case:
    case, _ = open_case(
        case_id=UUID(int=1),
        number="CAS-2026-000001",
        channel=Channel.EMAIL,
        customer=Customer(CONTACT),
        subject="Printer jammed",
        description="",
        now=T0,
        **extra,  # type: ignore[arg-type]
    )
    return case


def resolved(at: datetime) -> Case:
    case = new_case()
    case.resolve(resolution_type="fixed", summary="Cleared the jam", now=at)
    return case


def ids() -> Callable[[], UUID]:
    n = 0

    def new_id() -> UUID:
        nonlocal n
        n += 1
        return UUID(int=n)

    return new_id


@pytest.mark.parametrize(
    ("status", "resolved_ago", "auto_reply", "expected"),
    [
        (CaseStatus.NEW, None, False, FollowUp.ADD),
        (CaseStatus.WAITING_FOR_CUSTOMER, None, False, FollowUp.ADD),
        (CaseStatus.IN_PROGRESS, None, True, FollowUp.ADD),
        (CaseStatus.RESOLVED, timedelta(hours=1), False, FollowUp.REOPEN),
        (CaseStatus.RESOLVED, WEEK, False, FollowUp.REOPEN),
        (CaseStatus.RESOLVED, WEEK + timedelta(seconds=1), False, FollowUp.OPEN_RELATED),
        (CaseStatus.RESOLVED, timedelta(hours=1), True, FollowUp.RECORD),
        (CaseStatus.RESOLVED, timedelta(days=90), True, FollowUp.RECORD),
        (CaseStatus.CANCELLED, None, False, FollowUp.OPEN_RELATED),
        (CaseStatus.CANCELLED, None, True, FollowUp.RECORD),
    ],
)
def test_what_a_message_on_a_case_does(
    status: CaseStatus, resolved_ago: timedelta | None, auto_reply: bool, expected: FollowUp
) -> None:
    now = T0 + timedelta(days=30)
    if status is CaseStatus.RESOLVED:
        assert resolved_ago is not None
        case = resolved(now - resolved_ago)
    else:
        case = new_case()
        if status is CaseStatus.CANCELLED:
            case.cancel("Withdrawn", now=T0)
        else:
            case.status = status
    assert follow_up(case, now=now, reopen_window=WEEK, auto_reply=auto_reply) is expected


def test_the_window_is_a_week_unless_configured() -> None:
    case = resolved(T0)
    assert DEFAULT_REOPEN_WINDOW == WEEK
    later = T0 + timedelta(days=3)
    assert follow_up(case, now=later, reopen_window=DEFAULT_REOPEN_WINDOW) is FollowUp.REOPEN
    assert follow_up(case, now=later, reopen_window=timedelta(days=2)) is FollowUp.OPEN_RELATED


def test_a_case_resolved_before_resolution_times_were_kept_reads_its_resolution() -> None:
    case = resolved(T0)
    case.resolved_at = None
    assert follow_up(case, now=T0 + timedelta(days=1), reopen_window=WEEK) is FollowUp.REOPEN


@pytest.mark.parametrize(
    ("channel", "kind"),
    [
        (Channel.EMAIL, ActivityKind.EMAIL),
        (Channel.PHONE, ActivityKind.CALL),
        (Channel.WEB, ActivityKind.NOTE),
        (Channel.API, ActivityKind.NOTE),
        (Channel.LETTER, ActivityKind.LETTER),
        (Channel.VISIT, ActivityKind.MEETING),
    ],
)
def test_a_message_is_logged_as_the_kind_of_its_channel(
    channel: Channel, kind: ActivityKind
) -> None:
    assert message_kind(channel) is kind


def test_a_message_keeps_its_body_files_and_writer_and_marks_another_writer() -> None:
    case = new_case()
    events = case.add_message(
        activity_id=UUID(int=10),
        interaction_id=UUID(int=20),
        channel=Channel.EMAIL,
        contact_id=CONTACT,
        subject=" Re: Printer jammed ",
        body=" Still jams on page two. ",
        now=T0,
        attachments=[PHOTO],
    )
    events += case.add_message(
        activity_id=UUID(int=11),
        interaction_id=UUID(int=21),
        channel=Channel.EMAIL,
        contact_id=COLLEAGUE,
        subject="Re: Printer jammed",
        body="Mine too.",
        now=T0,
    )
    mine, theirs = case.activities
    assert (mine.subject, mine.description, mine.attachments) == (
        "Re: Printer jammed",
        "Still jams on page two.",
        (PHOTO,),
    )
    assert (mine.kind, mine.performed_by, mine.duration_minutes, mine.billable) == (
        ActivityKind.EMAIL,
        None,
        0,
        False,
    )
    assert (mine.contact_id, mine.from_other_contact) == (CONTACT, False)
    assert (theirs.contact_id, theirs.from_other_contact) == (COLLEAGUE, True)
    assert events[0] == ActivityLogged(
        case_id=case.case_id,
        occurred_at=T0,
        activity_id=UUID(int=10),
        kind=ActivityKind.EMAIL,
        subject="Re: Printer jammed",
        duration_minutes=0,
        billable=False,
        performed_by=None,
        description="Still jams on page two.",
        attachments=(PHOTO,),
        interaction_id=UUID(int=20),
        contact_id=CONTACT,
    )
    assert isinstance(events[1], ActivityLogged) and events[1].from_other_contact


def test_a_message_goes_only_on_an_open_case() -> None:
    case = resolved(T0)
    with pytest.raises(CaseClosedError):
        case.add_message(
            activity_id=UUID(int=10),
            interaction_id=UUID(int=20),
            channel=Channel.EMAIL,
            contact_id=CONTACT,
            subject="Re: Printer jammed",
            body="Again",
            now=T0,
        )


def test_the_assignee_hears_of_a_message_but_not_of_an_automatic_answer() -> None:
    case = new_case()
    events = case.add_message(
        activity_id=UUID(int=10),
        interaction_id=UUID(int=20),
        channel=Channel.EMAIL,
        contact_id=CONTACT,
        subject="Out of office",
        body="I am away until Monday.",
        now=T0,
        auto_reply=True,
    )
    assert case.activities[0].auto_reply
    assert isinstance(events[0], ActivityLogged) and events[0].auto_reply
    assert notifications_for(case, events, new_id=ids(), assignee_id=ASSIGNEE) == []


def test_an_answer_goes_to_the_customer_with_its_files() -> None:
    case = new_case()
    events = case.reply(
        "Here is the fix", activity_id=UUID(int=10), now=T0, performed_by=AGENT, attachments=[PHOTO]
    )
    assert case.activities[0].attachments == (PHOTO,)
    [logged] = events
    assert isinstance(logged, ActivityLogged) and logged.attachments == (PHOTO,)
    [told] = notifications_for(case, events, new_id=ids())
    assert (told.recipient_kind, told.template) == (RecipientKind.CONTACT, Template.REPLY)
    assert told.attachments == (PHOTO,)
    assert told.parameters["text"] == "Here is the fix"


def test_a_case_opened_from_a_message_keeps_its_files_and_the_case_it_continues() -> None:
    earlier = resolved(T0)
    case, [opened] = open_case(
        case_id=UUID(int=2),
        number="CAS-2026-000002",
        channel=Channel.EMAIL,
        customer=Customer(CONTACT),
        subject="Re: Printer jammed",
        description="It jams again",
        now=T0 + timedelta(days=30),
        attachments=[PHOTO],
        related=earlier,
    )
    assert (case.attachments, case.related_case_id, case.related_number) == (
        (PHOTO,),
        UUID(int=1),
        "CAS-2026-000001",
    )
    assert isinstance(opened, CaseOpened)
    assert (opened.attachments, opened.related_case_id, opened.related_number) == (
        (PHOTO,),
        UUID(int=1),
        "CAS-2026-000001",
    )
    [told] = notifications_for(case, [opened], new_id=ids())
    assert told.template is Template.RECEIVED and told.attachments == ()
