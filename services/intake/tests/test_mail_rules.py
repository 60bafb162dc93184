"""The email channel's rules: what a message is, which case it names, how outbound mail is
headed and retried."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from intake.domain.mail_parsing import parse_mail
from intake.domain.mail_rules import (
    MailKind,
    OutboundStatus,
    address_key,
    case_subject,
    classify,
    is_own_address,
    raw_headers,
    references,
    retry_delay,
    subject_case_number,
    thread_ids,
)
from intake.domain.outbound import DeliveryPolicy, OutboundMessage

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
DESK = frozenset({"support@caseflow.local", "desk@caseflow.local"})


def _mail(*headers: str, body: str = "Hello") -> bytes:
    lines = [*headers, "Content-Type: text/plain; charset=utf-8", "", body, ""]
    return "\r\n".join(lines).encode()


def test_a_person_writing_for_the_first_time_is_a_request() -> None:
    mail = parse_mail(_mail("From: Ona <ona@example.lt>", "Subject: Hi"))
    assert classify(mail, own_addresses=DESK) is MailKind.REQUEST


def test_a_message_naming_earlier_mail_is_a_reply() -> None:
    mail = parse_mail(_mail("From: ona@example.lt", "In-Reply-To: <a@desk>", "Subject: Re"))
    assert classify(mail, own_addresses=DESK) is MailKind.REPLY


@pytest.mark.parametrize(
    "sender",
    ["support@caseflow.local", "SUPPORT@Caseflow.Local", "support+cases@caseflow.local"],
)
def test_mail_from_the_desks_own_address_is_a_loop(sender: str) -> None:
    mail = parse_mail(_mail(f"From: {sender}", "Subject: [CAS-2026-000001] Received"))
    assert classify(mail, own_addresses=DESK) is MailKind.LOOP


def test_a_loop_is_a_loop_even_when_it_is_also_automatic() -> None:
    mail = parse_mail(
        _mail("From: desk@caseflow.local", "Auto-Submitted: auto-replied", "Subject: x")
    )
    assert classify(mail, own_addresses=DESK) is MailKind.LOOP


@pytest.mark.parametrize(
    "header",
    [
        "Auto-Submitted: auto-replied",
        "Auto-Submitted: auto-generated",
        "X-Autoreply: yes",
        "X-Autorespond: yes",
        "Precedence: bulk",
        "Precedence: junk",
        "Precedence: list",
        "X-Auto-Response-Suppress: All",
        "List-Id: <news.example.lt>",
    ],
)
def test_an_automatic_answer_is_told_by_its_headers(header: str) -> None:
    mail = parse_mail(_mail("From: ona@example.lt", header, "Subject: Out of office"))
    assert classify(mail, own_addresses=DESK) is MailKind.AUTO_REPLY


def test_auto_submitted_no_is_a_person_writing() -> None:
    mail = parse_mail(_mail("From: ona@example.lt", "Auto-Submitted: no", "Subject: Hi"))
    assert classify(mail, own_addresses=DESK) is MailKind.REQUEST


def test_a_delivery_report_is_a_bounce() -> None:
    raw = (
        b"From: MAILER-DAEMON@mx.example.lt\r\nTo: support@caseflow.local\r\n"
        b"Subject: Undelivered\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: text/plain\r\n\r\nNot delivered.\r\n"
        b"--b\r\nContent-Type: message/delivery-status\r\n\r\n"
        b"Reporting-MTA: dns; mx.example.lt\r\n\r\nFinal-Recipient: rfc822; x@example.lt\r\n"
        b"Action: failed\r\nStatus: 5.1.1\r\n"
        b"--b\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: <sent@caseflow.local>\r\n"
        b"--b--\r\n"
    )
    mail = parse_mail(raw)
    assert classify(mail, own_addresses=DESK) is MailKind.BOUNCE
    assert mail.bounce is not None
    assert mail.bounce.original_message_id == "<sent@caseflow.local>"


def test_the_nearest_earlier_message_comes_first() -> None:
    mail = parse_mail(
        _mail(
            "From: ona@example.lt",
            "In-Reply-To: <c@desk>",
            "References: <a@desk> <b@desk> <c@desk>",
            "Subject: Re",
        )
    )
    assert thread_ids(mail) == ["<c@desk>", "<b@desk>", "<a@desk>"]


def test_a_case_number_in_the_subject_names_the_case() -> None:
    mail = parse_mail(_mail("From: ona@example.lt", "Subject: Re: [cas-2026-000123] Invoice"))
    assert subject_case_number(mail) == "CAS-2026-000123"


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Your request", "[CAS-2026-000007] Your request"),
        ("[CAS-2026-000007] Your request", "[CAS-2026-000007] Your request"),
        ("Re:   spaced\tout", "[CAS-2026-000007] Re: spaced out"),
    ],
)
def test_outgoing_subjects_carry_the_case_number_once(subject: str, expected: str) -> None:
    assert case_subject(subject, "CAS-2026-000007") == expected


def test_a_subject_with_no_case_is_left_as_it_is() -> None:
    assert case_subject("Contract ending", None) == "Contract ending"


def test_references_keep_the_last_twenty_once_each() -> None:
    earlier = [f"<{i}@desk>" for i in range(30)] + ["<29@desk>"]
    kept = references(earlier)
    assert kept == [f"<{i}@desk>" for i in range(10, 30)]


def test_a_message_is_known_again_by_its_message_id_or_its_bytes() -> None:
    with_id = _mail("Message-ID:  < abc@example.lt >", "From: ona@example.lt")
    digest = hashlib.sha256(with_id).hexdigest()
    assert raw_headers(with_id, sha256=digest).dedupe_key == "<abc@example.lt>"
    without = _mail("From: ona@example.lt", "Subject: no id")
    digest = hashlib.sha256(without).hexdigest()
    assert raw_headers(without, sha256=digest).dedupe_key == f"sha256:{digest}"


def test_addresses_compare_without_case_or_tag() -> None:
    assert address_key("Support+Billing@Caseflow.Local") == "support@caseflow.local"
    assert not is_own_address("ona@example.lt", DESK)
    assert not is_own_address(None, DESK)


@pytest.mark.parametrize(("attempts", "minutes"), [(1, 0.5), (2, 1), (3, 2), (12, 60)])
def test_retries_wait_twice_as_long_each_time_up_to_an_hour(attempts: int, minutes: float) -> None:
    delay = retry_delay(attempts, first=timedelta(seconds=30), longest=timedelta(hours=1))
    assert delay == timedelta(minutes=minutes)


def _outbound(**changes: object) -> OutboundMessage:
    message = OutboundMessage(
        outbound_id=uuid.uuid4(),
        notification_id=uuid.uuid4(),
        template="case.reply",
        language="en",
        recipient_kind="contact",
        recipient_id=uuid.uuid4(),
        address="ona@example.lt",
        subject="[CAS-2026-000001] Re: Invoice",
        body="Answer",
        html=None,
        message_id="<m@caseflow.local>",
        in_reply_to=None,
        thread_ids=(),
        case_id=None,
        case_number="CAS-2026-000001",
        status=OutboundStatus.QUEUED,
        created_at=NOW,
        updated_at=NOW,
        next_attempt_at=NOW,
    )
    return replace(message, **changes)  # type: ignore[arg-type]


def test_a_failed_attempt_is_tried_again_later() -> None:
    policy = DeliveryPolicy(max_attempts=3, first_retry=timedelta(seconds=30))
    again = _outbound().attempt_failed("421 busy", now=NOW, permanent=False, policy=policy)
    assert again.status is OutboundStatus.QUEUED
    assert (again.attempts, again.next_attempt_at) == (1, NOW + timedelta(seconds=30))


def test_the_last_attempt_fails_the_message() -> None:
    policy = DeliveryPolicy(max_attempts=3)
    last = _outbound(attempts=2).attempt_failed("421", now=NOW, permanent=False, policy=policy)
    assert (last.status, last.attempts, last.next_attempt_at) == (OutboundStatus.FAILED, 3, None)


def test_a_refusal_fails_the_message_at_once() -> None:
    refused = _outbound().attempt_failed(
        "550 no such user", now=NOW, permanent=True, policy=DeliveryPolicy()
    )
    assert refused.status is OutboundStatus.FAILED
    assert refused.last_error == "550 no such user"


def test_only_the_acknowledgement_is_automatic() -> None:
    assert _outbound(template="case.received").automatic
    assert not _outbound().automatic
