"""The CloudEvents 1.0 envelope of a Caseflow message, in Kafka binary mode.

The payload is the message value (JSON); the CloudEvents attributes travel as Kafka headers
``ce_<attribute>``, and ``datacontenttype`` as ``content-type``. ``ce_id`` is the idempotency
key consumers record in their inbox. Other headers (such as W3C ``traceparent``) may sit beside
them and are ignored here.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, StringConstraints, ValidationError

from caseflow_contracts.base import Event
from caseflow_contracts.errors import InvalidEnvelope
from caseflow_contracts.ids import random_uuid

SPECVERSION = "1.0"
JSON_CONTENT_TYPE = "application/json"
CONTENT_TYPE_HEADER = "content-type"

NonEmpty = Annotated[str, StringConstraints(min_length=1)]


class Envelope(BaseModel):
    """The CloudEvents attributes of one message."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: NonEmpty
    type: NonEmpty
    source: NonEmpty
    time: AwareDatetime
    subject: str | None = None
    specversion: Literal["1.0"] = "1.0"
    datacontenttype: NonEmpty = JSON_CONTENT_TYPE


def new_envelope(
    event: Event, *, source: str, subject: str | None = None, id: str | None = None
) -> Envelope:
    """The envelope for publishing an event, with a fresh id unless one is given.

    The event was validated when it was made (its type is its own, its time aware), so only
    what the caller gives is checked; the envelope is built without validating it again,
    which a service publishing thousands of events a second would otherwise pay each time.
    """
    if not source or (id is not None and not id):
        raise ValueError("an envelope needs a source, and an id that is not empty")
    return Envelope.model_construct(
        id=id if id is not None else str(random_uuid()),
        type=event.type,
        source=source,
        time=event.occurred_at,
        subject=subject,
        specversion="1.0",
        datacontenttype=JSON_CONTENT_TYPE,
    )


def format_time(moment: datetime) -> str:
    """An aware datetime as an RFC 3339 timestamp, UTC written as ``Z``."""
    if moment.utcoffset() is None:
        raise ValueError("a CloudEvents time must carry a UTC offset")
    text = moment.isoformat()
    if text.endswith("+00:00"):
        return text[: -len("+00:00")] + "Z"
    return text


def to_headers(env: Envelope) -> dict[str, str]:
    """The Kafka headers carrying an envelope."""
    headers = {
        "ce_specversion": env.specversion,
        "ce_id": env.id,
        "ce_type": env.type,
        "ce_source": env.source,
        "ce_time": format_time(env.time),
    }
    if env.subject is not None:
        headers["ce_subject"] = env.subject
    headers[CONTENT_TYPE_HEADER] = env.datacontenttype
    return headers


def _required(texts: Mapping[str, str], name: str) -> str:
    value = texts.get(name)
    if value is None or not value.strip():
        raise InvalidEnvelope(f"missing CloudEvents header {name!r}")
    return value


def _normalised(headers: Mapping[str, str | bytes]) -> dict[str, str]:
    # Kafka header values are bytes; names are compared case-insensitively to be forgiving.
    texts: dict[str, str] = {}
    for name, value in headers.items():
        key = name.lower()
        if not (key.startswith("ce_") or key == CONTENT_TYPE_HEADER):
            continue
        if isinstance(value, bytes):
            try:
                value = value.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise InvalidEnvelope(f"header {name!r} is not valid UTF-8") from exc
        texts[key] = value
    return texts


def _parse_time(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise InvalidEnvelope(f"header 'ce_time' is not an RFC 3339 timestamp: {text!r}") from exc
    if moment.utcoffset() is None:
        raise InvalidEnvelope(f"header 'ce_time' has no UTC offset: {text!r}")
    return moment


def from_headers(headers: Mapping[str, str | bytes]) -> Envelope:
    """The envelope carried by a message's Kafka headers."""
    texts = _normalised(headers)
    specversion = _required(texts, "ce_specversion")
    if specversion != SPECVERSION:
        raise InvalidEnvelope(f"unsupported CloudEvents specversion {specversion!r}")
    try:
        return Envelope(
            id=_required(texts, "ce_id"),
            type=_required(texts, "ce_type"),
            source=_required(texts, "ce_source"),
            time=_parse_time(_required(texts, "ce_time")),
            subject=texts.get("ce_subject"),
            datacontenttype=texts.get(CONTENT_TYPE_HEADER) or JSON_CONTENT_TYPE,
        )
    except ValidationError as exc:
        raise InvalidEnvelope(f"malformed CloudEvents headers: {exc}") from exc
