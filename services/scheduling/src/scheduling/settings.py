"""The scheduling service's settings."""

from __future__ import annotations

from pydantic import Field

from caseflow_servicekit import ServiceSettings


class SchedulingSettings(ServiceSettings):
    """Settings of the scheduling service, from the environment."""

    database_url: str = Field(validation_alias="SCHEDULING_DATABASE_URL")
    http_port: int = Field(default=8085, validation_alias="HTTP_PORT")
