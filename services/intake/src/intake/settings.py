"""The intake service's settings."""

from __future__ import annotations

from pydantic import Field

from caseflow_servicekit import ServiceSettings


class IntakeSettings(ServiceSettings):
    """Settings of the intake service, from the environment."""

    database_url: str = Field(validation_alias="INTAKE_DATABASE_URL")
    http_port: int = Field(default=8081, validation_alias="HTTP_PORT")
