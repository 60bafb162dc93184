import json
import re
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from caseflow_contracts import (
    ALL_TOPICS,
    EVENT_TYPES,
    TOPIC_UNIONS,
    CaseEvent,
    CaseOpened,
    CaseStatusChanged,
    Event,
    InvalidPayload,
    UnknownEventType,
    decode,
    dlq,
    encode,
    model_of,
    partition_key,
    sample,
    sample_payload,
    sample_types,
    topic_of,
    topics,
)
from caseflow_contracts.errors import ContractError
from caseflow_contracts.registry import union_members

pytestmark = pytest.mark.unit

ALL_EVENT_TYPES = sorted(EVENT_TYPES)


def _payload(event_type: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(sample_payload(event_type))
    return data


def test_every_event_type_has_exactly_one_golden_sample() -> None:
    assert sample_types() == tuple(ALL_EVENT_TYPES)


def test_the_registry_holds_every_concrete_event_of_every_topic() -> None:
    assert len(EVENT_TYPES) == 71
    assert set(topics.TOPIC_EVENTS) == set(ALL_TOPICS)


@pytest.mark.parametrize("event_type", ALL_EVENT_TYPES)
def test_sample_validates_as_its_own_model(event_type: str) -> None:
    event = sample(event_type)
    assert type(event) is EVENT_TYPES[event_type]
    assert event.type == event_type
    assert _payload(event_type)["type"] == event_type


@pytest.mark.parametrize("event_type", ALL_EVENT_TYPES)
def test_sample_round_trips_through_encode_and_decode(event_type: str) -> None:
    event = sample(event_type)
    assert decode(event_type, encode(event)) == event
    assert decode(event_type, encode(event).decode("utf-8")) == event


@pytest.mark.parametrize("event_type", ALL_EVENT_TYPES)
def test_sample_sets_every_field_of_its_contract(event_type: str) -> None:
    # A golden sample that leaves a field out would not show what that field looks like.
    assert set(_payload(event_type)) == set(EVENT_TYPES[event_type].model_fields)


@pytest.mark.parametrize("event_type", ALL_EVENT_TYPES)
def test_every_event_type_is_published_on_a_known_topic(event_type: str) -> None:
    topic = topic_of(event_type)
    assert topic in ALL_TOPICS
    assert EVENT_TYPES[event_type] in union_members(TOPIC_UNIONS[topic])


@pytest.mark.parametrize("topic", ALL_TOPICS)
def test_each_topic_union_holds_exactly_the_events_of_that_topic(topic: str) -> None:
    assert union_members(TOPIC_UNIONS[topic]) == topics.TOPIC_EVENTS[topic]


@pytest.mark.parametrize("event_type", ALL_EVENT_TYPES)
def test_topic_union_picks_the_model_from_the_type_field(event_type: str) -> None:
    adapter: TypeAdapter[Any] = TypeAdapter(TOPIC_UNIONS[topic_of(event_type)])
    event = adapter.validate_json(sample_payload(event_type))
    assert event == sample(event_type)


def test_case_event_union_rejects_an_event_of_another_topic() -> None:
    adapter: TypeAdapter[Any] = TypeAdapter(CaseEvent)
    with pytest.raises(ValidationError):
        adapter.validate_json(sample_payload("kpi.started"))


@pytest.mark.parametrize("event_type", ALL_EVENT_TYPES)
def test_type_string_is_the_dotted_snake_case_of_the_class_name(event_type: str) -> None:
    words = re.findall(r"[A-Z][a-z]*", EVENT_TYPES[event_type].__name__)
    expected = words[0].lower() + "." + "_".join(word.lower() for word in words[1:])
    assert event_type == expected


@pytest.mark.parametrize("event_type", ALL_EVENT_TYPES)
def test_topic_names_follow_owner_stream_major(event_type: str) -> None:
    assert re.fullmatch(r"[a-z]+\.[a-z-]+\.v[0-9]+", topic_of(event_type))


@pytest.mark.parametrize("event_type", ALL_EVENT_TYPES)
def test_readers_ignore_unknown_fields(event_type: str) -> None:
    payload = _payload(event_type)
    payload["added_in_a_later_minor_version"] = {"nested": [1, 2, 3]}
    event = decode(event_type, json.dumps(payload))
    assert event == sample(event_type)
    assert "added_in_a_later_minor_version" not in event.model_dump()


@pytest.mark.parametrize("event_type", ALL_EVENT_TYPES)
def test_events_are_frozen(event_type: str) -> None:
    event = sample(event_type)
    with pytest.raises(ValidationError, match="frozen"):
        event.occurred_at = event.occurred_at  # type: ignore[misc]


@pytest.mark.parametrize("event_type", ALL_EVENT_TYPES)
def test_partition_key_is_a_required_id_of_the_event(event_type: str) -> None:
    model = EVENT_TYPES[event_type]
    field = model.model_fields[model.key_field]
    assert field.is_required()
    event = sample(event_type)
    # A booking for a case is keyed by the case (see the test below), others by their own id.
    expected = getattr(event, "case_id", None) if event_type.startswith("booking.") else None
    assert partition_key(event) == str(expected or getattr(event, model.key_field))


def test_everything_about_a_case_is_keyed_by_the_case_id() -> None:
    case_id = str(sample("case.opened").case_id)  # type: ignore[attr-defined]
    about_the_case = [
        "case.opened",
        "case.resolved",
        "case.queued",
        "case.assigned",
        "kpi.started",
        "kpi.breached",
        "articles.suggested",
        "article.linked",
        "article.sent",
    ]
    assert {partition_key(sample(t)) for t in about_the_case} == {case_id}


@pytest.mark.parametrize("event_type", ALL_EVENT_TYPES)
def test_a_naive_occurred_at_is_rejected(event_type: str) -> None:
    payload = _payload(event_type)
    payload["occurred_at"] = "2024-05-20T09:14:03"
    with pytest.raises(InvalidPayload) as caught:
        decode(event_type, json.dumps(payload))
    assert [error["loc"] for error in caught.value.errors] == [("occurred_at",)]
    assert caught.value.errors[0]["type"] == "timezone_aware"


def test_naive_datetimes_inside_a_payload_are_rejected_too() -> None:
    payload = _payload("kpi.started")
    payload["due_at"] = "2024-05-20T13:14:06"
    with pytest.raises(InvalidPayload, match="due_at"):
        decode("kpi.started", json.dumps(payload))


def test_an_unknown_event_type_is_reported() -> None:
    with pytest.raises(UnknownEventType) as caught:
        decode("case.teleported", b"{}")
    assert caught.value.event_type == "case.teleported"
    assert isinstance(caught.value, ContractError)
    with pytest.raises(UnknownEventType):
        topic_of("case.teleported")
    with pytest.raises(UnknownEventType):
        model_of("case.teleported")
    with pytest.raises(UnknownEventType):
        sample("case.teleported")


def test_a_bad_payload_is_reported_with_its_errors() -> None:
    payload = _payload("case.opened")
    del payload["contact_id"]
    payload["priority"] = "whenever"
    with pytest.raises(InvalidPayload) as caught:
        decode("case.opened", json.dumps(payload))
    error = caught.value
    assert isinstance(error, ContractError)
    assert isinstance(error.__cause__, ValidationError)
    assert error.event_type == "case.opened"
    assert {e["loc"] for e in error.errors} == {("contact_id",), ("priority",)}
    assert "contact_id" in str(error)
    assert "priority" in str(error)


def test_malformed_json_is_an_invalid_payload() -> None:
    with pytest.raises(InvalidPayload):
        decode("case.opened", b'{"case_id": ')


def test_a_payload_of_another_type_does_not_pass_as_this_type() -> None:
    with pytest.raises(InvalidPayload) as caught:
        decode("case.reopened", sample_payload("case.cancelled"))
    assert ("type",) in {e["loc"] for e in caught.value.errors}


def test_the_type_field_defaults_when_a_payload_omits_it() -> None:
    payload = _payload("case.status_changed")
    del payload["type"]
    event = decode("case.status_changed", json.dumps(payload))
    assert isinstance(event, CaseStatusChanged)
    assert event.type == "case.status_changed"


def test_encode_writes_compact_json_with_utc_times() -> None:
    event = sample("case.opened")
    body = encode(event)
    assert b"\n" not in body
    assert b'": ' not in body
    data = json.loads(body)
    assert data["type"] == "case.opened"
    assert data["occurred_at"] == "2024-05-20T09:14:06Z"
    assert data["priority"] == "normal"


def test_an_event_can_be_built_in_code_and_read_back() -> None:
    opened = sample("case.opened")
    assert isinstance(opened, CaseOpened)
    changed = opened.model_copy(update={"subject": "Refund for a duplicate payment"})
    assert decode("case.opened", encode(changed)) == changed
    assert isinstance(decode("case.opened", encode(changed)), Event)


def test_dead_letter_topic_names() -> None:
    assert dlq(topics.CASES) == "cases.case.v1.dlq"
    assert {dlq(topic) for topic in ALL_TOPICS}.isdisjoint(ALL_TOPICS)


def test_a_booking_is_keyed_by_its_case_when_it_serves_one() -> None:
    from uuid import uuid4

    from caseflow_contracts import partition_key, sample

    booking = sample("booking.confirmed")
    case_id, booking_id = uuid4(), uuid4()
    for_case = booking.model_copy(update={"case_id": case_id, "booking_id": booking_id})
    alone = booking.model_copy(update={"case_id": None, "booking_id": booking_id})
    assert partition_key(for_case) == str(case_id)
    assert partition_key(alone) == str(booking_id)
