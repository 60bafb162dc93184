"""The phone channel's pure rules: merging telephony events into a call in any order, when a
call is over and how long it lasted, who a number identifies, and the contracts' copy."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from uuid import UUID

import pytest

from intake.domain.calls import (
    MISSED_CALL_SUBJECT,
    Call,
    CallRejected,
    CallSignal,
    CallState,
    Match,
    NumberHolder,
    Signal,
    call_subject,
    checked,
    filed_from_number,
    finish,
    identify_caller,
    merge,
    needs_caller,
    overdue,
    pops_up,
    talk_seconds,
    time_out,
)
from intake.domain.contract_copies import (
    ContractCopy,
    ContractNews,
    ContractTerms,
    LineBalance,
    LineTerms,
    apply_contract_news,
)
from intake.domain.customers import (
    Contact,
)

pytestmark = pytest.mark.unit

T0 = datetime(2026, 5, 20, 9, 14, 6, tzinfo=UTC)
HEARD = datetime(2026, 5, 20, 9, 14, 7, tzinfo=UTC)


def at(seconds: int) -> datetime:
    return T0 + timedelta(seconds=seconds)


def signal(kind: Signal, **overrides: object) -> CallSignal:
    fields: dict[str, object] = {
        "kind": kind,
        "call_id": "pbx-7f3a-000142",
        "caller_number": "030 1234567",
        "dialled_number": "+4930555000",
        "extension": "201",
    }
    fields.update(overrides)
    return CallSignal(**fields)  # type: ignore[arg-type]


RINGING = signal(Signal.RINGING, extension=None, ringing_at=at(0))
ANSWERED = signal(Signal.ANSWERED, ringing_at=at(0), answered_at=at(9))
TRANSFERRED = signal(Signal.TRANSFERRED, extension="305")
ENDED = signal(
    Signal.ENDED,
    extension="305",
    ringing_at=at(0),
    answered_at=at(9),
    ended_at=at(324),
    duration_seconds=324,
    answered=True,
)
MISSED = signal(Signal.MISSED, ringing_at=at(0), ended_at=at(30))


def replay(*signals: CallSignal, call: Call | None = None) -> Call:
    for one in signals:
        call = merge(call, one, now=HEARD, region="DE")
    assert call is not None
    return call


def test_a_call_answered_moved_and_ended_in_order() -> None:
    call = replay(RINGING, ANSWERED, TRANSFERRED, ENDED)
    assert call.caller_e164 == "+49301234567"
    assert (call.ringing_at, call.answered_at, call.ended_at) == (at(0), at(9), at(324))
    assert call.extension == "305"
    assert call.state is CallState.ENDED and call.answered and not call.missed
    assert talk_seconds(call) == 315


def test_the_same_events_in_any_order_and_repeated_make_the_same_call() -> None:
    expected = replay(RINGING, ANSWERED, ENDED)
    for order in itertools.permutations([RINGING, ANSWERED, ENDED]):
        if order[0] is ENDED:
            continue  # an end settles the call at once: checked below
        assert replay(*order, *order) == expected, order


def test_an_end_before_its_ringing_settles_the_call_and_later_events_change_nothing() -> None:
    ended_first = replay(ENDED)
    assert ended_first.finished and ended_first.answered
    assert replay(ENDED, RINGING, ANSWERED, TRANSFERRED) == ended_first
    assert talk_seconds(ended_first) == 315


def test_the_earliest_moment_given_wins() -> None:
    call = replay(
        signal(Signal.RINGING, ringing_at=at(5)), signal(Signal.RINGING, ringing_at=at(0))
    )
    assert call.ringing_at == at(0)


@pytest.mark.parametrize(
    ("signals", "extension"),
    [
        ((RINGING,), None),
        ((signal(Signal.RINGING, ringing_at=at(0)), ANSWERED), "201"),
        ((ANSWERED, RINGING), "201"),  # a ringing heard late does not move the call back
        ((RINGING, ANSWERED, TRANSFERRED), "305"),
        ((TRANSFERRED, ANSWERED, ENDED), "305"),  # the end says where it ended
    ],
)
def test_the_extension_follows_the_call(signals: tuple[CallSignal, ...], extension: str) -> None:
    assert replay(*signals).extension == extension


def test_a_missed_call_lasts_nothing() -> None:
    call = replay(RINGING, MISSED)
    assert call.state is CallState.MISSED and call.missed and not call.answered
    assert call.ended_at == at(30)
    assert talk_seconds(call) == 0


@pytest.mark.parametrize(
    ("ended", "missed", "seconds"),
    [
        (replace(ENDED, answered_at=None, answered=None), True, 0),
        (replace(ENDED, answered_at=None, answered=False), True, 0),
        # Answered, the switch says, but not when: its own figure is all there is.
        (replace(ENDED, answered_at=None, answered=True), False, 324),
    ],
)
def test_an_end_without_an_answer(ended: CallSignal, missed: bool, seconds: int) -> None:
    call = replay(RINGING, ended)
    assert call.missed is missed
    assert talk_seconds(call) == seconds


def test_a_call_never_ended_times_out_after_the_timeout() -> None:
    timeout = timedelta(hours=4)
    ringing = replay(RINGING)
    assert not overdue(ringing, now=HEARD + timeout - timedelta(seconds=1), timeout=timeout)
    assert overdue(ringing, now=HEARD + timeout, timeout=timeout)
    assert not overdue(replay(RINGING, MISSED), now=HEARD + timeout, timeout=timeout)


def test_a_call_timed_out_unanswered_is_missed_at_its_ringing() -> None:
    call = time_out(replay(RINGING), now=HEARD + timedelta(hours=4))
    assert (call.missed, call.timed_out, call.ended_at) == (True, True, at(0))
    assert talk_seconds(call) == 0


def test_a_call_timed_out_answered_ended_at_its_last_known_moment() -> None:
    call = time_out(replay(RINGING, ANSWERED), now=HEARD + timedelta(hours=4))
    assert (call.missed, call.timed_out, call.ended_at) == (False, True, at(9))
    assert call.answered and talk_seconds(call) == 0


def test_a_call_without_any_moment_times_out_when_first_heard() -> None:
    call = time_out(replay(TRANSFERRED), now=HEARD + timedelta(hours=4))
    assert call.ended_at == HEARD


@pytest.mark.parametrize(
    ("number", "e164", "key"),
    [
        ("0031 20 555 0142", "+31205550142", "+31205550142"),
        ("+49 (0) 30 1234567", "+49301234567", "+49301234567"),
        ("12ab34", None, "12ab34"),  # kept as given: it still matches itself
        ("anonymous", None, None),  # no digit: no number
        ("", None, None),
        ("9" * 200, None, "9" * 64),  # too long to be a number: cut, kept
    ],
)
def test_the_caller_number_is_kept_as_given_and_compared_in_e164(
    number: str, e164: str | None, key: str | None
) -> None:
    call = replay(checked(signal(Signal.RINGING, caller_number=number, ringing_at=at(0))))
    assert call.caller_number == number[:64]
    assert (call.caller_e164, call.caller_key) == (e164, key)


@pytest.mark.parametrize(
    "bad",
    [
        {"call_id": ""},
        {"call_id": "x" * 201},
        {"call_id": "line\nbreak"},
        {"extension": "9" * 65},
        {"extension": "20\x001"},
        {"caller_number": "030\x00"},
    ],
)
def test_an_event_that_cannot_be_kept_is_rejected(bad: dict[str, object]) -> None:
    with pytest.raises(CallRejected):
        checked(signal(Signal.RINGING, **bad))


def test_a_blank_extension_is_none() -> None:
    assert checked(signal(Signal.RINGING, extension="  ")).extension is None


ACME = UUID(int=100)
GLOBEX = UUID(int=200)


def holder(n: int, account: UUID | None) -> NumberHolder:
    return NumberHolder(contact_id=UUID(int=n), account_id=account)


@pytest.mark.parametrize(
    ("holders", "earlier", "match", "contact", "account", "candidates", "first"),
    [
        ([], False, Match.UNKNOWN, None, None, (), True),
        ([holder(1, ACME)], True, Match.CONTACT, UUID(int=1), ACME, (), False),
        ([holder(1, ACME)], False, Match.CONTACT, UUID(int=1), ACME, (), True),
        (
            [holder(1, ACME), holder(2, ACME)],
            False,
            Match.ACCOUNT,
            None,
            ACME,
            (UUID(int=1), UUID(int=2)),
            False,
        ),
        (
            [holder(1, ACME), holder(2, GLOBEX)],
            False,
            Match.CANDIDATES,
            None,
            None,
            (UUID(int=1), UUID(int=2)),
            False,
        ),
        (
            [holder(1, None), holder(2, None)],
            False,
            Match.CANDIDATES,
            None,
            None,
            (UUID(int=1), UUID(int=2)),
            False,
        ),
    ],
)
def test_who_a_number_identifies(
    holders: list[NumberHolder],
    earlier: bool,
    match: Match,
    contact: UUID | None,
    account: UUID | None,
    candidates: tuple[UUID, ...],
    first: bool,
) -> None:
    call, event = identify_caller(
        replay(RINGING), holders=holders, earlier_interactions=earlier, now=HEARD
    )
    assert (call.match, call.contact_id, call.account_id) == (match, contact, account)
    assert (call.candidates, call.first_contact) == (candidates, first)
    assert (event.match, event.contact_id, event.candidates) == (match, contact, candidates)
    assert event.first_contact is first
    with pytest.raises(ValueError, match="identified already"):
        identify_caller(call, holders=holders, earlier_interactions=earlier, now=HEARD)


def test_the_caller_is_looked_up_when_it_rings_or_once_the_number_is_known() -> None:
    assert needs_caller(replay(RINGING), RINGING)
    no_number = replace(TRANSFERRED, caller_number="")
    assert not needs_caller(replay(no_number), no_number)
    assert needs_caller(replay(TRANSFERRED), TRANSFERRED)
    identified, _ = identify_caller(replay(RINGING), holders=[], earlier_interactions=False, now=T0)
    assert not needs_caller(identified, ANSWERED)


def test_the_agent_is_shown_a_call_where_it_rings_is_answered_or_moves() -> None:
    at_queue = replay(RINGING)
    assert not pops_up(None, at_queue, RINGING)  # ringing at a queue: no one to show it to
    ringing_at_201 = replay(signal(Signal.RINGING, ringing_at=at(0)))
    assert pops_up(None, ringing_at_201, RINGING)
    answered = replay(ANSWERED, call=at_queue)
    assert pops_up(at_queue, answered, ANSWERED)
    assert not pops_up(ringing_at_201, replay(ANSWERED, call=ringing_at_201), ANSWERED)
    moved = replay(TRANSFERRED, call=answered)
    assert pops_up(answered, moved, TRANSFERRED)
    assert not pops_up(moved, replay(ENDED, call=moved), ENDED)


def contact(n: int, name: str, *, emails: tuple[str, ...] = ()) -> Contact:
    return Contact(
        contact_id=UUID(int=n),
        name=name,
        account_id=None,
        emails=emails,
        phones=("+49301234567",),
        created_at=T0,
    )


def test_a_caller_who_cannot_be_told_apart_is_filed_once_under_the_number() -> None:
    call = replay(RINGING)
    anna = contact(1, "Anna", emails=("anna@acme.example",))
    ben = contact(2, "Ben", emails=("ben@acme.example",))
    assert filed_from_number([anna, ben], call=call) is None
    earlier = contact(3, "+49301234567")
    assert filed_from_number([anna, ben, earlier], call=call) == earlier


def test_a_finished_call_is_recorded_once_with_its_figures() -> None:
    call = replay(RINGING, ANSWERED, ENDED)
    recorded, event = finish(
        call,
        interaction_id=UUID(int=7),
        contact_id=UUID(int=1),
        account_id=ACME,
        first_contact=False,
        agent_id=UUID(int=9),
        now=HEARD,
    )
    assert recorded.recorded and recorded.duration_seconds == 315
    assert (event.answered, event.duration_seconds, event.agent_id) == (True, 315, UUID(int=9))
    assert (event.ended_at, event.timed_out) == (at(324), False)
    with pytest.raises(ValueError, match="recorded already"):
        finish(
            recorded,
            interaction_id=UUID(int=8),
            contact_id=UUID(int=1),
            account_id=None,
            first_contact=False,
            agent_id=None,
            now=HEARD,
        )
    with pytest.raises(ValueError, match="not over"):
        finish(
            replay(RINGING),
            interaction_id=UUID(int=8),
            contact_id=UUID(int=1),
            account_id=None,
            first_contact=False,
            agent_id=None,
            now=HEARD,
        )


def test_a_missed_call_has_no_agent() -> None:
    _, event = finish(
        replay(RINGING, MISSED),
        interaction_id=UUID(int=7),
        contact_id=UUID(int=1),
        account_id=None,
        first_contact=True,
        agent_id=UUID(int=9),
        now=HEARD,
    )
    assert (event.answered, event.agent_id, event.duration_seconds) == (False, None, 0)


def test_the_subject_says_what_the_call_was() -> None:
    assert call_subject(replay(RINGING, ANSWERED, ENDED), callback=False) == (
        "Call from +49301234567"
    )
    missed = replay(RINGING, MISSED)
    assert call_subject(missed, callback=False) == "Missed call from +49301234567"
    assert call_subject(missed, callback=True) == MISSED_CALL_SUBJECT
    withheld = replay(signal(Signal.MISSED, caller_number="", ended_at=at(3)))
    assert call_subject(withheld, callback=False) == "Missed call from an unknown number"


# -- the contracts' copy -----------------------------------------------------------------------

CONTRACT = UUID(int=500)
LINE = UUID(int=501)


def news(at_: int, status: str = "active", **overrides: object) -> ContractNews:
    fields: dict[str, object] = {
        "contract_id": CONTRACT,
        "account_id": ACME,
        "number": "CON-2026-0001",
        "status": status,
        "occurred_at": at(at_),
    }
    fields.update(overrides)
    return ContractNews(**fields)  # type: ignore[arg-type]


def terms(version: int, allotment: int, name: str = "Gold support") -> ContractTerms:
    return ContractTerms(
        name=name,
        starts_on=date(2026, 1, 1),
        ends_on=date(2026, 12, 31),
        version=version,
        lines=(
            LineTerms(
                line_id=LINE, number=1, name="Cases", allocation="cases", allotment=allotment
            ),
        ),
    )


def balance(allotment: int, remaining: int) -> LineBalance:
    return LineBalance(
        line_id=LINE, line_number=1, allocation="cases", allotment=allotment, remaining=remaining
    )


CREATED = news(0, "draft", terms=terms(1, 10))
ACTIVATED = news(10, "active")
DRAWN_1 = news(20, balance=balance(10, 9))
DRAWN_2 = news(30, balance=balance(10, 8))
RAISED = news(40, terms=terms(2, 20, name="Gold support+"))
HELD = news(50, "on_hold")


def project(*events: ContractNews) -> ContractCopy:
    copy: ContractCopy | None = None
    for event in events:
        copy = apply_contract_news(copy, event)
    assert copy is not None
    return copy


def test_a_contract_copy_in_order() -> None:
    copy = project(CREATED, ACTIVATED, DRAWN_1, DRAWN_2, RAISED, HELD)
    assert (copy.status, copy.version, copy.name) == ("on_hold", 2, "Gold support+")
    [line] = copy.lines
    # Two cases drawn; the raised allotment moves what is left.
    assert (line.allotment, line.remaining) == (20, 18)


def test_a_contract_copy_is_the_same_in_any_order_and_repeated() -> None:
    expected = project(CREATED, ACTIVATED, DRAWN_1, DRAWN_2, RAISED, HELD)
    events = [CREATED, ACTIVATED, DRAWN_1, DRAWN_2, RAISED, HELD]
    for shift in range(len(events)):
        order = events[shift:] + events[:shift]
        got = project(*order, *reversed(order))
        assert (got.status, got.version, got.name, got.lines) == (
            expected.status,
            expected.version,
            expected.name,
            expected.lines,
        ), order


def test_a_line_heard_of_before_its_contract_is_kept_and_named_later() -> None:
    early = project(DRAWN_2)
    [line] = early.lines
    assert (early.version, line.name, line.remaining) == (0, "", 8)
    named = project(DRAWN_2, CREATED)
    assert (named.name, named.lines[0].name, named.lines[0].remaining) == (
        "Gold support",
        "Cases",
        8,
    )


def test_an_older_version_of_the_terms_changes_nothing() -> None:
    copy = project(RAISED, CREATED)
    assert (copy.version, copy.name, copy.lines[0].allotment) == (2, "Gold support+", 20)
