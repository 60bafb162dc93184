"""The knowledge service's settings."""

from __future__ import annotations

from pydantic import Field

from caseflow_servicekit import ServiceSettings


class KnowledgeSettings(ServiceSettings):
    """Settings of the knowledge service, from the environment."""

    database_url: str = Field(validation_alias="KNOWLEDGE_DATABASE_URL")
    http_port: int = Field(default=8086, validation_alias="HTTP_PORT")
