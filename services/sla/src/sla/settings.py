"""The SLA service's settings."""

from __future__ import annotations

from pydantic import Field

from caseflow_servicekit import ServiceSettings


class SlaSettings(ServiceSettings):
    """Settings of the SLA service, from the environment."""

    database_url: str = Field(validation_alias="SLA_DATABASE_URL")
    http_port: int = Field(default=8084, validation_alias="HTTP_PORT")
    # How often the timer looks for KPIs whose warning or deadline has come. A warning or a
    # breach is published at most this long after its moment (its event carries the moment).
    timer_interval_seconds: float = Field(
        default=5.0, gt=0, validation_alias="SLA_TIMER_INTERVAL_SECONDS"
    )
    # How many due KPIs one timer transaction claims; the timer repeats until none are due.
    timer_batch_size: int = Field(default=200, ge=1, validation_alias="SLA_TIMER_BATCH_SIZE")
    # How long a process keeps policies and calendars before reading them again; a change
    # made through another replica is in force here within this time.
    reference_cache_seconds: float = Field(
        default=5.0, ge=0, validation_alias="SLA_REFERENCE_CACHE_SECONDS"
    )
