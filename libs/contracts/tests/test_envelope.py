from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from caseflow_contracts import (
    ContractError,
    Envelope,
    InvalidEnvelope,
    from_headers,
    new_envelope,
    sample,
    to_headers,
)
from caseflow_contracts.envelope import format_time

pytestmark = pytest.mark.unit

CET = timezone(timedelta(hours=1))


def _envelope(**changes: object) -> Envelope:
    attributes: dict[str, object] = {
        "id": "2b0f1c8e-5d8a-4f67-9a0b-7c1d2e3f4a5b",
        "type": "case.opened",
        "source": "/caseflow/cases",
        "time": datetime(2024, 5, 20, 9, 14, 6, tzinfo=UTC),
        "subject": "6f1c2a4e-8b3d-4c5e-9a7f-1d2e3f4a5b6c",
    }
    attributes.update(changes)
    return Envelope.model_validate(attributes)


def test_new_envelope_takes_type_and_time_from_the_event() -> None:
    event = sample("case.opened")
    env = new_envelope(event, source="/caseflow/cases", subject="CAS-2024-000123")
    assert env.type == "case.opened"
    assert env.time == event.occurred_at
    assert env.source == "/caseflow/cases"
    assert env.subject == "CAS-2024-000123"
    assert env.specversion == "1.0"
    assert env.datacontenttype == "application/json"


def test_new_envelope_gets_a_fresh_id_unless_one_is_given() -> None:
    event = sample("kpi.breached")
    first = new_envelope(event, source="/caseflow/sla")
    second = new_envelope(event, source="/caseflow/sla")
    assert first.id != second.id
    assert first.subject is None
    assert new_envelope(event, source="/caseflow/sla", id="outbox-42").id == "outbox-42"


def test_new_envelope_refuses_an_empty_source_or_id_and_reads_back_as_validated() -> None:
    event = sample("kpi.breached")
    for bad in ({"source": ""}, {"source": "/caseflow/sla", "id": ""}):
        with pytest.raises(ValueError, match="source"):
            new_envelope(event, **bad)  # type: ignore[arg-type]
    built = new_envelope(event, source="/caseflow/sla", subject="CAS-1")
    # Built without a second validation, it is what validating its attributes gives.
    assert Envelope.model_validate(built.model_dump()) == built


def test_headers_carry_the_cloudevents_attributes() -> None:
    assert to_headers(_envelope()) == {
        "ce_specversion": "1.0",
        "ce_id": "2b0f1c8e-5d8a-4f67-9a0b-7c1d2e3f4a5b",
        "ce_type": "case.opened",
        "ce_source": "/caseflow/cases",
        "ce_time": "2024-05-20T09:14:06Z",
        "ce_subject": "6f1c2a4e-8b3d-4c5e-9a7f-1d2e3f4a5b6c",
        "content-type": "application/json",
    }


def test_subject_header_only_when_set() -> None:
    assert "ce_subject" not in to_headers(_envelope(subject=None))


def test_time_keeps_its_offset_and_fraction() -> None:
    moment = datetime(2024, 5, 20, 10, 14, 6, 250000, tzinfo=CET)
    assert to_headers(_envelope(time=moment))["ce_time"] == "2024-05-20T10:14:06.250000+01:00"


@pytest.mark.parametrize("subject", [None, "6f1c2a4e-8b3d-4c5e-9a7f-1d2e3f4a5b6c"])
@pytest.mark.parametrize(
    "moment",
    [
        datetime(2024, 5, 20, 9, 14, 6, tzinfo=UTC),
        datetime(2024, 5, 20, 10, 14, 6, 123456, tzinfo=CET),
    ],
)
def test_envelope_round_trips_through_headers(subject: str | None, moment: datetime) -> None:
    env = _envelope(subject=subject, time=moment)
    back = from_headers(to_headers(env))
    assert back == env
    assert back.time.utcoffset() == moment.utcoffset()


def test_headers_read_as_bytes_with_extra_headers_beside_them() -> None:
    env = _envelope()
    headers: dict[str, str | bytes] = {k: v.encode() for k, v in to_headers(env).items()}
    headers["traceparent"] = b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    headers["retry-count"] = b"\xff\xfe"  # not ours, so not decoded
    assert from_headers(headers) == env


def test_missing_content_type_means_json() -> None:
    headers = to_headers(_envelope())
    del headers["content-type"]
    assert from_headers(headers).datacontenttype == "application/json"


@pytest.mark.parametrize("header", ["ce_id", "ce_type", "ce_source", "ce_time", "ce_specversion"])
def test_a_missing_required_attribute_is_an_invalid_envelope(header: str) -> None:
    headers = to_headers(_envelope())
    del headers[header]
    with pytest.raises(InvalidEnvelope, match=header) as caught:
        from_headers(headers)
    assert isinstance(caught.value, ContractError)


def test_an_empty_id_is_an_invalid_envelope() -> None:
    headers = to_headers(_envelope())
    headers["ce_id"] = "  "
    with pytest.raises(InvalidEnvelope, match="ce_id"):
        from_headers(headers)


@pytest.mark.parametrize("text", ["yesterday", "2024-05-20 9am", "2024-05-20T09:14:06"])
def test_a_malformed_or_naive_time_is_an_invalid_envelope(text: str) -> None:
    headers = to_headers(_envelope())
    headers["ce_time"] = text
    with pytest.raises(InvalidEnvelope, match="ce_time"):
        from_headers(headers)


def test_another_specversion_is_refused() -> None:
    headers = to_headers(_envelope())
    headers["ce_specversion"] = "0.3"
    with pytest.raises(InvalidEnvelope, match="specversion"):
        from_headers(headers)


def test_a_header_that_is_not_utf8_is_an_invalid_envelope() -> None:
    headers: dict[str, str | bytes] = dict(to_headers(_envelope()))
    headers["ce_source"] = b"\xff/caseflow"
    with pytest.raises(InvalidEnvelope, match="ce_source"):
        from_headers(headers)


def test_envelope_is_frozen_and_needs_an_aware_time() -> None:
    env = _envelope()
    with pytest.raises(ValidationError):
        env.id = "other"  # type: ignore[misc]
    with pytest.raises(ValidationError):
        _envelope(time=datetime(2024, 5, 20, 9, 14, 6))


def test_format_time_refuses_a_naive_datetime() -> None:
    with pytest.raises(ValueError, match="offset"):
        format_time(datetime(2024, 5, 20, 9, 14, 6))
