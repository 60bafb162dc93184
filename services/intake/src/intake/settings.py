"""The intake service's settings."""

from __future__ import annotations

from ipaddress import IPv4Network, IPv6Network, ip_network
from typing import Literal

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

    # --- the email channel -------------------------------------------------------------------
    # The desk's addresses: the SMTP listener takes mail for these only (plus `+tag` forms),
    # and mail *from* any of them (or from `mail_from`) is refused as a loop.
    support_addresses: str = Field(
        default="support@caseflow.local", validation_alias="INTAKE_SUPPORT_ADDRESSES"
    )
    # The address (and name) outbound mail is from; the first support address when empty.
    mail_from: str = Field(default="", validation_alias="INTAKE_MAIL_FROM")
    desk_name: str = Field(default="Caseflow Service Desk", validation_alias="INTAKE_DESK_NAME")
    default_language: str = Field(default="en", validation_alias="INTAKE_DEFAULT_LANGUAGE")
    # The SMTP listener: off unless a port is given (`make up` gives 2525).
    smtp_host: str = Field(default="127.0.0.1", validation_alias="INTAKE_SMTP_HOST")
    smtp_port: int | None = Field(default=None, ge=0, le=65535, validation_alias="INTAKE_SMTP_PORT")
    smtp_max_bytes: int = Field(
        default=35 * 1024 * 1024, ge=1024, validation_alias="INTAKE_SMTP_MAX_BYTES"
    )
    # A certificate and key (PEM files) make the listener offer STARTTLS.
    smtp_tls_cert: str | None = Field(default=None, validation_alias="INTAKE_SMTP_TLS_CERT")
    smtp_tls_key: str | None = Field(default=None, validation_alias="INTAKE_SMTP_TLS_KEY")
    # Mailboxes read over IMAP, as a JSON list of objects: name, host, port, user, password,
    # and optionally folder, tls, starttls, processed_folder, poll_seconds, idle.
    imap_mailboxes: str = Field(default="", validation_alias="INTAKE_IMAP_MAILBOXES")
    # The relay outbound mail goes to; none: messages are rendered and queued, not sent.
    relay_host: str | None = Field(default=None, validation_alias="INTAKE_RELAY_HOST")
    relay_port: int = Field(default=25, ge=1, le=65535, validation_alias="INTAKE_RELAY_PORT")
    relay_username: str | None = Field(default=None, validation_alias="INTAKE_RELAY_USERNAME")
    relay_password: str | None = Field(default=None, validation_alias="INTAKE_RELAY_PASSWORD")
    relay_starttls: bool | None = Field(default=None, validation_alias="INTAKE_RELAY_STARTTLS")
    relay_tls: bool = Field(default=False, validation_alias="INTAKE_RELAY_TLS")
    delivery_attempts: int = Field(default=6, ge=1, validation_alias="INTAKE_DELIVERY_ATTEMPTS")
    delivery_first_retry_seconds: float = Field(
        default=30.0, gt=0, validation_alias="INTAKE_DELIVERY_FIRST_RETRY_SECONDS"
    )
    # How often queued mail is looked for when nothing new woke the sender (retries).
    delivery_check_seconds: float = Field(
        default=5.0, gt=0, validation_alias="INTAKE_DELIVERY_CHECK_SECONDS"
    )
    # Acknowledgements of new requests to one address within the window; more are held back.
    acknowledgements_per_window: int = Field(
        default=5, ge=0, validation_alias="INTAKE_ACKNOWLEDGEMENTS_PER_WINDOW"
    )
    acknowledgement_window_seconds: int = Field(
        default=3600, ge=1, validation_alias="INTAKE_ACKNOWLEDGEMENT_WINDOW_SECONDS"
    )
    # Templates here take precedence over the shipped ones (`<kind>/<language>.txt`).
    template_dir: str | None = Field(default=None, validation_alias="INTAKE_TEMPLATE_DIR")
    # A message up to this size is kept in its database row, written with the row in one
    # commit; a larger one goes to the blob store first.
    mail_inline_bytes: int = Field(
        default=256 * 1024, ge=0, validation_alias="INTAKE_MAIL_INLINE_BYTES"
    )
    # Stored messages a reader never finished (a crash) are read again after this long.
    mail_sweep_seconds: float = Field(
        default=30.0, gt=0, validation_alias="INTAKE_MAIL_SWEEP_SECONDS"
    )

    # --- attachments ---------------------------------------------------------------------------
    blob_store: Literal["filesystem", "s3"] = Field(
        default="filesystem", validation_alias="INTAKE_BLOB_STORE"
    )
    blob_dir: str = Field(default=".caseflow/blobs", validation_alias="INTAKE_BLOB_DIR")
    s3_endpoint: str | None = Field(default=None, validation_alias="INTAKE_S3_ENDPOINT")
    s3_bucket: str = Field(default="caseflow-intake", validation_alias="INTAKE_S3_BUCKET")
    s3_access_key: str | None = Field(default=None, validation_alias="INTAKE_S3_ACCESS_KEY")
    s3_secret_key: str | None = Field(default=None, validation_alias="INTAKE_S3_SECRET_KEY")
    s3_region: str = Field(default="us-east-1", validation_alias="INTAKE_S3_REGION")
    attachment_max_bytes: int = Field(
        default=25 * 1024 * 1024, ge=1, validation_alias="INTAKE_ATTACHMENT_MAX_BYTES"
    )

    @field_validator("support_addresses")
    @classmethod
    def _addresses(cls, value: str) -> str:
        if not [a for a in value.split(",") if "@" in a]:
            msg = "INTAKE_SUPPORT_ADDRESSES: give at least one address (support@example.com)"
            raise ValueError(msg)
        return value

    def support_address_list(self) -> list[str]:
        """`INTAKE_SUPPORT_ADDRESSES` as a list."""
        return [a.strip() for a in self.support_addresses.split(",") if a.strip()]

    def sender_address(self) -> str:
        """The address outbound mail is from."""
        return self.mail_from.strip() or self.support_address_list()[0]

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
