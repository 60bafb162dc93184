"""The routing service's settings."""

from __future__ import annotations

from pydantic import Field

from caseflow_servicekit import ServiceSettings


class RoutingSettings(ServiceSettings):
    """Settings of the routing service, from the environment."""

    database_url: str = Field(validation_alias="ROUTING_DATABASE_URL")
    http_port: int = Field(default=8083, validation_alias="HTTP_PORT")
    upkeep_seconds: float = Field(default=5.0, gt=0, validation_alias="ROUTING_UPKEEP_SECONDS")
    """How often queues overflow, hand out what waits, and refresh their gauges."""
