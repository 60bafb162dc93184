"""Settings every Caseflow service shares, read from the environment once at start-up."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    """The common part of a service's settings; each service subclasses it.

    A subclass adds its own `database_url` read from `<SERVICE>_DATABASE_URL`.
    """

    model_config = SettingsConfigDict(env_file=None, extra="ignore", populate_by_name=True)

    database_url: str = Field(description="PostgreSQL URL of the service's own database")
    kafka_bootstrap_servers: str = Field(default="127.0.0.1:9092")
    http_host: str = Field(default="127.0.0.1")
    http_port: int = Field(default=8080)
    # Longer than the idle timeout of the proxies in front (60 s for most ingresses and load
    # balancers), so that it is always they who close an idle connection: a server closing
    # one as the proxy sends a request on it turns that request into a 502.
    http_keep_alive_seconds: int = Field(default=75, ge=1)
    environment: str = Field(default="prod", validation_alias="CASEFLOW_ENV")

    # Tansu, the embedded broker, has no InitProducerId: no idempotent producer, no
    # transactions. Caseflow never needs them (outbox + inbox give effectively-once
    # effects), so they stay off unless a real Kafka is used and they are asked for.
    kafka_enable_idempotence: bool = Field(default=False)
    kafka_session_timeout_ms: int = Field(default=10_000)
    kafka_heartbeat_interval_ms: int = Field(default=1_000)
    kafka_rebalance_timeout_ms: int = Field(default=10_000)
    kafka_fetch_max_wait_ms: int = Field(default=50)
    kafka_max_poll_interval_ms: int = Field(default=300_000)

    # A message that keeps failing is tried this many times, with exponential backoff
    # from `retry_backoff_seconds`, then forwarded to `<topic>.dlq`.
    # Events a consumer applies in one transaction when the broker has that many ready.
    consumer_batch_size: int = Field(default=100, ge=1)
    # How long a consumer waits for a batch to fill. When nothing came, FastStream pauses as
    # long again before the next look, so this bounds the latency an idle consumer adds.
    consumer_batch_wait_ms: int = Field(default=10, ge=1)
    consumer_max_attempts: int = Field(default=5, ge=1)
    retry_backoff_seconds: float = Field(default=0.2, ge=0)
    retry_backoff_max_seconds: float = Field(default=5.0, ge=0)

    outbox_batch_size: int = Field(default=100, ge=1)
    # Relayed outbox rows are kept this long (0: deleted as soon as Kafka has them), so that
    # a broker that lost its log (the embedded one keeps it in memory) is sent them again.
    outbox_retention_seconds: int = Field(default=3600, ge=0)
    # Applied event ids are kept this long. At least the outbox window: an event republished
    # after a broker loss must still be recognised by every consumer that applied it.
    inbox_retention_seconds: int = Field(default=7 * 24 * 3600, ge=1)
    # Expired rows are deleted every interval, a short transaction per batch.
    retention_interval_seconds: float = Field(default=60.0, gt=0)
    retention_batch_size: int = Field(default=1000, ge=1)
    # Partitions of the topics a service creates at start and on a new cluster.
    kafka_topic_partitions: int = Field(default=3, ge=1)

    auth_secret: SecretStr = Field(
        default=SecretStr("caseflow-development-secret-change-me-please"),
        validation_alias="CASEFLOW_AUTH_SECRET",
    )
    # Channel API keys as `name:key` pairs separated by commas, e.g. "web:abc,cti:def".
    channel_api_keys: str = Field(default="", validation_alias="CASEFLOW_CHANNEL_API_KEYS")

    # -- Production identity: OpenID Connect ---------------------------------------------------
    # On when OIDC_ISSUER is set: RS256/ES256 bearer tokens signed with the keys the issuer
    # publishes (its JWKS, at OIDC_JWKS_URL or found through its discovery document) are then
    # accepted. Roles are read from the claim at OIDC_ROLES_CLAIM, dot-separated for nested
    # claims (Keycloak: "realm_access.roles"). The HS256 tokens signed with
    # CASEFLOW_AUTH_SECRET are for development; production sets CASEFLOW_AUTH_DEV_TOKENS=false.
    oidc_issuer: str | None = Field(default=None, validation_alias="OIDC_ISSUER")
    oidc_audience: str | None = Field(default=None, validation_alias="OIDC_AUDIENCE")
    oidc_jwks_url: str | None = Field(default=None, validation_alias="OIDC_JWKS_URL")
    oidc_roles_claim: str = Field(default="roles", validation_alias="OIDC_ROLES_CLAIM")
    # Comma-separated; asymmetric algorithms only (the authenticator refuses HS*, none).
    oidc_algorithms: str = Field(default="RS256,ES256", validation_alias="OIDC_ALGORITHMS")
    auth_dev_tokens: bool = Field(default=True, validation_alias="CASEFLOW_AUTH_DEV_TOKENS")

    @model_validator(mode="after")
    def _oidc_needs_an_audience(self) -> ServiceSettings:
        # Without an audience check, a token the issuer minted for any other application
        # of the realm would be accepted here.
        if self.oidc_issuer and not self.oidc_audience:
            msg = "OIDC_AUDIENCE is required when OIDC_ISSUER is set"
            raise ValueError(msg)
        return self

    # -- end of OpenID Connect -----------------------------------------------------------------

    log_level: str = Field(default="INFO", validation_alias="CASEFLOW_LOG_LEVEL")
    log_json: bool = Field(default=True, validation_alias="CASEFLOW_LOG_JSON")
    # Traces always show each database transaction; a span per SQL statement as well costs
    # CPU on every query (measured: p99 at 50 cases/s rose from ~230 ms to ~290 ms), so it
    # is for diagnosis, off by default.
    trace_sql: bool = Field(default=False, validation_alias="CASEFLOW_TRACE_SQL")
    otlp_endpoint: str | None = Field(default=None, validation_alias="OTEL_EXPORTER_OTLP_ENDPOINT")

    # For end-to-end tests only: `now` is the machine's time plus the offset in this file,
    # which the test moves (caseflow_servicekit.clock). A service on it logs `clock.shifted`.
    clock_file: Path | None = Field(default=None, validation_alias="CASEFLOW_CLOCK_FILE")

    @field_validator("clock_file", mode="before")
    @classmethod
    def _unset_when_empty(cls, value: object) -> object:
        # `CASEFLOW_CLOCK_FILE=` is unset, not the current directory.
        return None if value == "" else value

    @field_validator("database_url")
    @classmethod
    def _asyncpg_driver(cls, value: str) -> str:
        return async_database_url(value)

    @model_validator(mode="after")
    def _inbox_outlives_outbox(self) -> ServiceSettings:
        if self.inbox_retention_seconds < self.outbox_retention_seconds:
            msg = (
                f"INBOX_RETENTION_SECONDS ({self.inbox_retention_seconds}) is shorter than "
                f"OUTBOX_RETENTION_SECONDS ({self.outbox_retention_seconds}): an event "
                "republished after a broker loss would no longer be recognised"
            )
            raise ValueError(msg)
        return self

    def api_keys(self) -> dict[str, str]:
        """The channel API keys by key value → channel name."""
        keys: dict[str, str] = {}
        for pair in filter(None, (p.strip() for p in self.channel_api_keys.split(","))):
            name, sep, key = pair.partition(":")
            if not sep or not name or not key:
                msg = f"CASEFLOW_CHANNEL_API_KEYS entry {pair!r} is not of the form name:key"
                raise ValueError(msg)
            keys[key] = name
        return keys


def async_database_url(url: str) -> str:
    """The same URL with the asyncpg driver SQLAlchemy needs."""
    for prefix in (
        "postgresql+asyncpg://",
        "postgresql+psycopg://",
        "postgresql://",
        "postgres://",
    ):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    msg = f"unsupported database URL scheme in {url.split('://')[0]!r}; expected postgresql://"
    raise ValueError(msg)
