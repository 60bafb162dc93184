"""The knowledge service's settings."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from caseflow_servicekit import ServiceSettings


class KnowledgeSettings(ServiceSettings):
    """Settings of the knowledge service, from the environment."""

    database_url: str = Field(validation_alias="KNOWLEDGE_DATABASE_URL")
    http_port: int = Field(default=8086, validation_alias="HTTP_PORT")
    semantic: Literal["auto", "off"] = Field(default="auto", validation_alias="KNOWLEDGE_SEMANTIC")
    """`auto`: rerank search by sentence embeddings when the model package is installed."""
