"""The base of every Caseflow event payload."""

from __future__ import annotations

from typing import ClassVar

from pydantic import AwareDatetime, BaseModel, ConfigDict


class Event(BaseModel):
    """Something that happened, as published on a Kafka topic.

    Payloads are immutable and tolerant: unknown fields are ignored so that a reader keeps
    working when a writer adds fields within the same major version. Each concrete event
    narrows ``type`` to a ``Literal`` with the same default; that string discriminates the
    per-topic unions and is the CloudEvents ``type`` of the message. ``key_field`` names the
    field whose value is the Kafka message key (the aggregate the event is about).
    """

    model_config = ConfigDict(frozen=True, extra="ignore", use_attribute_docstrings=True)

    key_field: ClassVar[str]

    type: str
    occurred_at: AwareDatetime

    def partition_key(self) -> str:
        """The Kafka message key: the id of the aggregate this event is about."""
        return str(getattr(self, self.key_field))
