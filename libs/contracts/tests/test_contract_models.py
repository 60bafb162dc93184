import json
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from pydantic import ValidationError

from caseflow_contracts import (
    AttachmentRef,
    BookingConfirmed,
    BookingRescheduled,
    CaseUpdated,
    InvalidPayload,
    Priority,
    WebSubmitted,
    decode,
    sample_payload,
)

pytestmark = pytest.mark.unit

NOW = datetime(2024, 5, 20, 9, 40, 18, tzinfo=UTC)
CASE_ID = UUID("6f1c2a4e-8b3d-4c5e-9a7f-1d2e3f4a5b6c")


def _web(**changes: Any) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads(sample_payload("web.submitted"))
    payload.update(changes)
    return payload


def _decode_web(**changes: Any) -> WebSubmitted:
    event = decode("web.submitted", json.dumps(_web(**changes)))
    assert isinstance(event, WebSubmitted)
    return event


def test_web_submission_needs_a_valid_email() -> None:
    with pytest.raises(InvalidPayload, match="email"):
        _decode_web(email="marta.kowalska-at-example.com")


@pytest.mark.parametrize("subject", ["", "x" * 501])
def test_web_submission_subject_is_one_to_five_hundred_characters(subject: str) -> None:
    with pytest.raises(InvalidPayload, match="subject"):
        _decode_web(subject=subject)


def test_web_submission_accepts_the_longest_subject_and_body() -> None:
    event = _decode_web(subject="s" * 500, body="b" * 100_000)
    assert len(event.subject) == 500
    assert len(event.body) == 100_000


def test_web_submission_body_is_at_most_one_hundred_thousand_characters() -> None:
    with pytest.raises(InvalidPayload, match="body"):
        _decode_web(body="b" * 100_001)


def test_web_submission_optional_fields_may_be_left_out() -> None:
    payload = _web()
    for name in ("phone", "request_type", "parameters", "locale", "attachments"):
        del payload[name]
    event = decode("web.submitted", json.dumps(payload))
    assert isinstance(event, WebSubmitted)
    assert event.phone is None
    assert event.parameters == {}
    assert event.attachments == []


@pytest.mark.parametrize(
    ("name", "value"),
    [("size", -1), ("sha256", "9F86D081"), ("sha256", "z" * 64), ("filename", "")],
)
def test_attachment_reference_is_checked(name: str, value: object) -> None:
    attachment = {
        "attachment_id": "e1d2c3b4-a5f6-4e7d-8c9b-0a1f2e3d4c5b",
        "filename": "invoice.pdf",
        "content_type": "application/pdf",
        "size": 10,
        "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    }
    AttachmentRef.model_validate(attachment)
    attachment[name] = value
    with pytest.raises(ValidationError, match=name):
        AttachmentRef.model_validate(attachment)


def test_case_updated_typed_fields_must_agree_with_changes() -> None:
    with pytest.raises(ValidationError, match="priority"):
        CaseUpdated(
            occurred_at=NOW,
            case_id=CASE_ID,
            number="CAS-2024-000123",
            changes={"priority": "low"},
            priority=Priority.HIGH,
        )


def test_case_updated_carries_a_cleared_field_as_null() -> None:
    event = CaseUpdated(
        occurred_at=NOW,
        case_id=CASE_ID,
        number="CAS-2024-000123",
        changes={"request_type": None, "priority": "urgent"},
        priority=Priority.URGENT,
    )
    assert event.changes["request_type"] is None
    assert event.request_type is None


def test_case_updated_needs_at_least_one_change() -> None:
    with pytest.raises(ValidationError, match="changes"):
        CaseUpdated(occurred_at=NOW, case_id=CASE_ID, number="CAS-2024-000123", changes={})


def _booking(starts_at: datetime, ends_at: datetime) -> BookingConfirmed:
    return BookingConfirmed(
        occurred_at=NOW,
        booking_id=UUID("7f0fedcb-cab9-4a8f-9f7e-6d5c4b3a2f1e"),
        service_id=UUID("80a0fedc-bcab-49a8-8f8e-7e6d5c4b3a2f"),
        resource_ids=[UUID("91b1a0fe-dcbc-4ab9-9a9f-8f7e6d5c4b3a")],
        starts_at=starts_at,
        ends_at=ends_at,
    )


def test_a_booking_ends_after_it_starts() -> None:
    assert _booking(NOW, NOW + timedelta(minutes=30)).case_id is None
    with pytest.raises(ValidationError, match="ends_at"):
        _booking(NOW, NOW)


def test_a_rescheduled_booking_has_two_proper_periods() -> None:
    with pytest.raises(ValidationError, match="end after"):
        BookingRescheduled(
            occurred_at=NOW,
            booking_id=UUID("7f0fedcb-cab9-4a8f-9f7e-6d5c4b3a2f1e"),
            previous_starts_at=NOW,
            previous_ends_at=NOW + timedelta(hours=1),
            starts_at=NOW + timedelta(days=1),
            ends_at=NOW + timedelta(days=1) - timedelta(minutes=1),
        )


def test_a_booking_needs_a_resource() -> None:
    payload = json.loads(sample_payload("booking.confirmed"))
    payload["resource_ids"] = []
    with pytest.raises(InvalidPayload, match="resource_ids"):
        decode("booking.confirmed", json.dumps(payload))


def test_call_ended_duration_is_not_negative() -> None:
    payload = json.loads(sample_payload("call.ended"))
    payload["duration_seconds"] = -5
    with pytest.raises(InvalidPayload, match="duration_seconds"):
        decode("call.ended", json.dumps(payload))


def test_caller_number_is_kept_exactly_as_the_switch_gave_it() -> None:
    payload = json.loads(sample_payload("call.ringing"))
    payload["caller_number"] = "  0031 (20) 555-0142 "
    event = decode("call.ringing", json.dumps(payload))
    assert event.model_dump()["caller_number"] == "  0031 (20) 555-0142 "
