"""The intake service's settings."""

from __future__ import annotations

from ipaddress import IPv4Network, IPv6Network, ip_network

from pydantic import Field, field_validator

from caseflow_servicekit import ServiceSettings
from intake.domain.phones import valid_region


class IntakeSettings(ServiceSettings):
    """Settings of the intake service, from the environment."""

    database_url: str = Field(validation_alias="INTAKE_DATABASE_URL")
    http_port: int = Field(default=8081, validation_alias="HTTP_PORT")
    # Idempotency keys (and the responses they replay) are forgotten after this long.
    idempotency_retention_seconds: int = Field(
        default=86_400, ge=1, validation_alias="INTAKE_IDEMPOTENCY_RETENTION_SECONDS"
    )

    # Anti-abuse limits on POST /web-submissions: requests per window from one client address
    # and under one channel key (all its addresses together); 0 turns a limit off.
    rate_limit_per_address: int = Field(
        default=30, ge=0, validation_alias="INTAKE_RATE_LIMIT_PER_ADDRESS"
    )
    rate_limit_per_key: int = Field(default=600, ge=0, validation_alias="INTAKE_RATE_LIMIT_PER_KEY")
    rate_limit_window_seconds: int = Field(
        default=60, ge=1, validation_alias="INTAKE_RATE_LIMIT_WINDOW_SECONDS"
    )
    # The proxies in front (addresses or CIDRs, comma-separated) whose X-Forwarded-For is
    # believed; from any other peer the header is ignored, since a client can write anything.
    trusted_proxies: str = Field(default="", validation_alias="INTAKE_TRUSTED_PROXIES")
    # The region (ISO 3166 alpha-2) national phone numbers are read in: `030 1234567` is
    # +49301234567 in DE. Numbers given with their country code read the same anywhere.
    default_phone_region: str = Field(default="DE", validation_alias="INTAKE_DEFAULT_PHONE_REGION")

    # The phone channel (CTI). A call the switch never says ended is closed this long after
    # intake first heard of it: as missed if no one answered, else as ended. The job looks for
    # such calls every `call_timeout_check_seconds`.
    call_timeout_seconds: int = Field(
        default=4 * 3600, ge=1, validation_alias="INTAKE_CALL_TIMEOUT_SECONDS"
    )
    call_timeout_check_seconds: float = Field(
        default=60.0, gt=0, validation_alias="INTAKE_CALL_TIMEOUT_CHECK_SECONDS"
    )
    # A missed call from a known contact opens a case to call them back
    # (`interaction.received`, subject "Missed call: please call back").
    callback_on_missed: bool = Field(default=False, validation_alias="INTAKE_CALLBACK_ON_MISSED")
    # A comment line on every open screen-pop stream this often, so that proxies keep it open.
    screen_pop_keepalive_seconds: float = Field(
        default=15.0, gt=0, validation_alias="INTAKE_SCREEN_POP_KEEPALIVE_SECONDS"
    )

    @field_validator("default_phone_region")
    @classmethod
    def _phone_region(cls, value: str) -> str:
        region = value.strip().upper()
        if not valid_region(region):
            msg = f"INTAKE_DEFAULT_PHONE_REGION: {value!r} is no region phone numbers know (DE, PL)"
            raise ValueError(msg)
        return region

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: str) -> str:
        _parse_networks(value)  # fail at start-up, not on the first request through a proxy
        return value

    def trusted_proxy_networks(self) -> tuple[IPv4Network | IPv6Network, ...]:
        """`INTAKE_TRUSTED_PROXIES` as networks (a lone address is a network of one)."""
        return _parse_networks(self.trusted_proxies)


def _parse_networks(value: str) -> tuple[IPv4Network | IPv6Network, ...]:
    try:
        return tuple(
            ip_network(part, strict=False) for part in (p.strip() for p in value.split(",")) if part
        )
    except ValueError as exc:
        msg = f"INTAKE_TRUSTED_PROXIES: {exc}"
        raise ValueError(msg) from None
