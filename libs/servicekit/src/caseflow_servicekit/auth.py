"""Who may call: bearer tokens with roles for people, API keys for channels.

Bearer tokens are JWTs of two kinds, told apart by the `alg` of their header:

- HS256 development tokens signed with `CASEFLOW_AUTH_SECRET` (issuer and audience
  "caseflow"), carrying `sub` and `roles`; `mint_token` makes them. Production turns them off
  (`CASEFLOW_AUTH_DEV_TOKENS=false`).
- RS256/ES256 tokens of an OpenID Connect issuer (`OIDC_ISSUER`), checked with the keys the
  issuer publishes as a JWKS; their roles come from a configurable claim (`OIDC_ROLES_CLAIM`).

Roles nest: an admin may do what a supervisor may, a supervisor what an agent may.
Channels (telephony adapters, web forms) present `X-Api-Key` and act as role `channel`; no
token can grant that role.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any
from uuid import UUID, uuid5

import httpx
import jwt
import structlog
from fastapi import Request

from caseflow_servicekit.problems import Forbidden, Unauthorized, Unavailable

if TYPE_CHECKING:
    from caseflow_servicekit.settings import ServiceSettings

ISSUER = "caseflow"
AUDIENCE = "caseflow"
DEV_ALGORITHM = "HS256"

# What an OIDC issuer may sign with: asymmetric algorithms only, so that nothing it publishes
# can serve as an HMAC secret (the algorithm-confusion attack) and `none` never verifies.
OIDC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"}
)
# The issuer's clock and ours differ a little; without some slack a token minted a second
# "in the future" would be refused as not yet valid.
CLOCK_SKEW = timedelta(seconds=30)

log = structlog.get_logger(__name__)


class Role(StrEnum):
    AGENT = "agent"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"
    CHANNEL = "channel"


# What each role also grants.
_IMPLIES: Mapping[str, frozenset[str]] = {
    Role.ADMIN: frozenset({Role.ADMIN, Role.SUPERVISOR, Role.AGENT}),
    Role.SUPERVISOR: frozenset({Role.SUPERVISOR, Role.AGENT}),
    Role.AGENT: frozenset({Role.AGENT}),
    Role.CHANNEL: frozenset({Role.CHANNEL}),
}
# The roles an issuer's token may grant; `channel` comes from an API key only.
_PERSON_ROLES: frozenset[str] = frozenset({Role.AGENT, Role.SUPERVISOR, Role.ADMIN})


class IdentityProviderUnavailable(Unavailable):
    """503: a token needed the issuer's keys and the issuer could not be reached."""

    title = "Identity provider unavailable"


@dataclass(frozen=True)
class Principal:
    """The caller: a person with roles, or a channel."""

    subject: str
    roles: frozenset[str]
    channel: str | None = None

    def has(self, role: str) -> bool:
        """Whether one of the caller's roles grants `role`."""
        return any(role in _IMPLIES.get(r, frozenset({r})) for r in self.roles)

    @property
    def agent_id(self) -> UUID:
        """The caller's id in the agent directory (see `agent_id_of`)."""
        return agent_id_of(self.subject)


# Names agents whose token subject is not a UUID; every service derives the same id with it.
AGENT_NAMESPACE = UUID("8f6b3c1e-2a47-5d0e-9c3b-6e1f4a2d7b90")


def agent_id_of(subject: str) -> UUID:
    """The agent id of a signed-in person: their subject if it is a UUID, else derived from it."""
    try:
        return UUID(subject)
    except ValueError:
        return uuid5(AGENT_NAMESPACE, subject)


def mint_token(
    secret: str, *, subject: str, roles: Sequence[str], ttl: timedelta = timedelta(hours=12)
) -> str:
    """A signed bearer token for `subject` with `roles`, valid for `ttl`."""
    unknown = set(roles) - {r.value for r in Role}
    if unknown:
        msg = f"unknown roles: {sorted(unknown)}"
        raise ValueError(msg)
    now = datetime.now(UTC)
    claims = {
        "sub": subject,
        "roles": list(roles),
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + ttl,
    }
    return jwt.encode(claims, secret, algorithm=DEV_ALGORITHM)


def verify_token(secret: str, token: str) -> Principal:
    """The principal a valid development token names; raises Unauthorized otherwise."""
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[DEV_ALGORITHM],
            audience=AUDIENCE,
            issuer=ISSUER,
            options={"require": ["exp", "sub"]},
        )
    except jwt.ExpiredSignatureError:
        raise Unauthorized("The bearer token has expired.") from None
    except jwt.InvalidTokenError as exc:
        raise Unauthorized(f"The bearer token is not valid: {exc}.") from None
    roles = claims.get("roles") or []
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise Unauthorized("The bearer token's roles claim is malformed.")
    return Principal(subject=str(claims["sub"]), roles=frozenset(roles))


def roles_at(claims: Mapping[str, Any], path: str) -> frozenset[str]:
    """The Caseflow person roles listed at the dot-separated `path` of `claims`.

    Issuers list many roles of their own (Keycloak's `offline_access`, say): those, and
    `channel`, are ignored rather than refused.
    """
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return frozenset()
        value = value.get(part)
    if isinstance(value, str):  # some issuers give one space-separated string
        value = value.split()
    if not isinstance(value, list):
        return frozenset()
    return frozenset(r for r in value if isinstance(r, str) and r in _PERSON_ROLES)


@dataclass(frozen=True)
class OidcConfig:
    """Which OpenID Connect issuer's tokens are accepted, and what they must say."""

    issuer: str
    audience: str
    # Found through `{issuer}/.well-known/openid-configuration` when not given.
    jwks_url: str | None = None
    roles_claim: str = "roles"
    algorithms: frozenset[str] = field(default_factory=lambda: frozenset({"RS256", "ES256"}))

    def __post_init__(self) -> None:
        if not self.issuer or not self.audience:
            msg = "an OIDC issuer needs an audience"
            raise ValueError(msg)
        refused = self.algorithms - OIDC_ALGORITHMS
        if refused or not self.algorithms:
            msg = f"OIDC algorithms must be among {sorted(OIDC_ALGORITHMS)}, not {sorted(refused)}"
            raise ValueError(msg)


class _KeysUnavailable(Exception):
    """Why the issuer's keys could not be had; for the log, not for the caller."""


class JwksKeys:
    """The issuer's signing keys by `kid`, fetched over HTTP and kept for `ttl` seconds.

    A token naming a key not in hand causes a refetch, which is how a key rotation is picked
    up, but at most one fetch per `cooldown` seconds, so that tokens with made-up kids cannot
    make us hammer the issuer. When the issuer cannot be reached, keys already in hand go on
    being used past their `ttl`.
    """

    def __init__(
        self,
        config: OidcConfig,
        *,
        client: httpx.AsyncClient | None = None,
        ttl: float = 3600.0,
        cooldown: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._config = config
        self._client = client
        self._owns_client = client is None
        self._ttl = ttl
        self._cooldown = cooldown
        self._clock = clock
        self._jwks_url = config.jwks_url
        self._keys: dict[str | None, jwt.PyJWK] = {}
        self._fetched_at: float | None = None
        self._attempted_at: float | None = None
        self._failed = False
        # One fetch at a time: requests arriving during a fetch wait for its result.
        self._lock = asyncio.Lock()

    async def key(self, kid: str | None) -> jwt.PyJWK:
        """The key named `kid`; raises Unauthorized or IdentityProviderUnavailable."""
        found = self._find(kid)
        if found is not None and self._fresh():
            return found
        async with self._lock:
            found = self._find(kid)
            if found is not None and self._fresh():
                return found  # fetched while this request waited
            if self._attempted_at is None or self._clock() - self._attempted_at >= self._cooldown:
                await self._refresh()
                found = self._find(kid)
            if found is not None:
                return found
            if self._failed:
                raise IdentityProviderUnavailable(
                    "The identity provider cannot be reached to check the bearer token; "
                    "try again shortly."
                )
            raise Unauthorized("The bearer token names a key the issuer does not publish.")

    async def aclose(self) -> None:
        """Close the HTTP client, if this made it."""
        if self._client is not None and self._owns_client:
            await self._client.aclose()
            self._client = None

    def _fresh(self) -> bool:
        return self._fetched_at is not None and self._clock() - self._fetched_at < self._ttl

    def _find(self, kid: str | None) -> jwt.PyJWK | None:
        if kid is None:
            # A token without `kid` is fine while the issuer has a single key.
            return next(iter(self._keys.values())) if len(self._keys) == 1 else None
        return self._keys.get(kid)

    async def _refresh(self) -> None:
        self._attempted_at = self._clock()
        try:
            keys = await self._fetch()
        except _KeysUnavailable as exc:
            self._failed = True
            # A discovered JWKS URL may be what moved; look it up again next time.
            self._jwks_url = self._config.jwks_url
            log.warning("auth.jwks_fetch_failed", issuer=self._config.issuer, error=str(exc))
            return
        self._keys = keys
        self._fetched_at = self._attempted_at
        self._failed = False
        log.info(
            "auth.jwks_fetched",
            issuer=self._config.issuer,
            kids=sorted(str(kid) for kid in keys),
        )

    async def _fetch(self) -> dict[str | None, jwt.PyJWK]:
        if self._jwks_url is None:
            self._jwks_url = await self._discover()
        document = await self._get_json(self._jwks_url)
        entries = document.get("keys")
        if not isinstance(entries, list):
            msg = f"{self._jwks_url} is not a JWKS: no keys list"
            raise _KeysUnavailable(msg)
        keys: dict[str | None, jwt.PyJWK] = {}
        for entry in entries:
            if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
                continue  # encryption keys are no use for checking signatures
            try:
                key = jwt.PyJWK(entry)
            except jwt.PyJWTError as exc:
                log.info("auth.jwk_skipped", kid=entry.get("kid"), reason=str(exc))
                continue
            # Only keys for the configured (asymmetric) algorithms: an `oct` key published
            # by mistake must never become something a token can be checked against.
            if key.algorithm_name not in self._config.algorithms:
                log.info("auth.jwk_skipped", kid=entry.get("kid"), alg=key.algorithm_name)
                continue
            kid = entry.get("kid")
            keys[kid if isinstance(kid, str) else None] = key
        return keys

    async def _discover(self) -> str:
        url = self._config.issuer.rstrip("/") + "/.well-known/openid-configuration"
        document = await self._get_json(url)
        # OpenID Connect Discovery §4.3: the document must name the issuer it was asked of.
        if document.get("issuer", self._config.issuer) != self._config.issuer:
            msg = f"{url} names issuer {document.get('issuer')!r}"
            raise _KeysUnavailable(msg)
        jwks_uri = document.get("jwks_uri")
        if not isinstance(jwks_uri, str) or not jwks_uri:
            msg = f"{url} names no jwks_uri"
            raise _KeysUnavailable(msg)
        return jwks_uri

    async def _get_json(self, url: str) -> dict[str, Any]:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=5.0, follow_redirects=True)
        try:
            response = await self._client.get(url, headers={"Accept": "application/json"})
            response.raise_for_status()
            document = response.json()
        except httpx.HTTPError as exc:
            msg = f"GET {url}: {type(exc).__name__}: {exc}"
            raise _KeysUnavailable(msg) from exc
        except ValueError as exc:
            msg = f"GET {url}: not JSON"
            raise _KeysUnavailable(msg) from exc
        if not isinstance(document, dict):
            msg = f"GET {url}: not a JSON object"
            raise _KeysUnavailable(msg)
        return document


class OidcVerifier:
    """Checks the bearer tokens of one OpenID Connect issuer."""

    def __init__(self, config: OidcConfig, *, keys: JwksKeys | None = None) -> None:
        self.config = config
        self._keys = keys or JwksKeys(config)

    async def verify(self, token: str, header: Mapping[str, Any]) -> Principal:
        """The principal a valid token names; raises Unauthorized otherwise."""
        try:
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.InvalidTokenError as exc:
            raise Unauthorized(f"The bearer token is not valid: {exc}.") from None
        # Tokens of other issuers are refused before they can cause a fetch of our issuer's keys.
        if unverified.get("iss") != self.config.issuer:
            raise Unauthorized("The bearer token is not valid: Invalid issuer.")
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise Unauthorized("The bearer token's kid is malformed.")
        key = await self._keys.key(kid)
        alg = header.get("alg")
        if alg != key.algorithm_name:
            raise Unauthorized("The bearer token's algorithm does not match its key.")
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[key.algorithm_name],
                audience=self.config.audience,
                issuer=self.config.issuer,
                leeway=CLOCK_SKEW,
                options={"require": ["exp", "sub", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthorized("The bearer token has expired.") from None
        except jwt.InvalidTokenError as exc:
            raise Unauthorized(f"The bearer token is not valid: {exc}.") from None
        return Principal(
            subject=str(claims["sub"]), roles=roles_at(claims, self.config.roles_claim)
        )

    async def aclose(self) -> None:
        """Close the connections to the issuer."""
        await self._keys.aclose()


class Authenticator:
    """Turns request credentials into a Principal."""

    def __init__(
        self,
        secret: str,
        api_keys: Mapping[str, str],
        *,
        dev_tokens: bool = True,
        oidc: OidcVerifier | None = None,
    ) -> None:
        self._secret = secret
        self._api_keys = dict(api_keys)
        self._dev_tokens = dev_tokens
        self._oidc = oidc

    @classmethod
    def from_settings(cls, settings: ServiceSettings) -> Authenticator:
        """The authenticator `settings` describe: dev tokens, OIDC, or both."""
        oidc = None
        if settings.oidc_issuer:
            algorithms = frozenset(
                a.strip() for a in settings.oidc_algorithms.split(",") if a.strip()
            )
            config = OidcConfig(
                issuer=settings.oidc_issuer,
                audience=settings.oidc_audience or "",
                jwks_url=settings.oidc_jwks_url or None,
                roles_claim=settings.oidc_roles_claim,
                algorithms=algorithms,
            )
            oidc = OidcVerifier(config)
            if settings.auth_dev_tokens:
                log.warning(
                    "auth.dev_tokens_accepted",
                    hint="set CASEFLOW_AUTH_DEV_TOKENS=false unless this is a development stack",
                )
        return cls(
            settings.auth_secret.get_secret_value(),
            settings.api_keys(),
            dev_tokens=settings.auth_dev_tokens,
            oidc=oidc,
        )

    async def principal(self, request: Request) -> Principal:
        """The caller of `request`; raises Unauthorized when there are no valid credentials."""
        api_key = request.headers.get("x-api-key")
        if api_key is not None:
            channel = self._api_keys.get(api_key)
            if channel is None:
                raise Unauthorized("The API key is not known.")
            return Principal(
                subject=f"channel:{channel}", roles=frozenset({Role.CHANNEL}), channel=channel
            )
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise Unauthorized("A bearer token or an API key is required.")
        return await self.verify(token.strip())

    async def verify(self, token: str) -> Principal:
        """The principal a valid bearer token names, checked as its header's `alg` says."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError as exc:
            raise Unauthorized(f"The bearer token is not valid: {exc}.") from None
        alg = header.get("alg")
        # Each algorithm has exactly one kind of key: HS256 the dev secret, the asymmetric
        # ones the issuer's JWKS. An HS256 token "signed" with the issuer's public key is
        # thus checked against the dev secret, and fails.
        if alg == DEV_ALGORITHM:
            if not self._dev_tokens:
                raise Unauthorized("Development tokens are not accepted here.")
            return verify_token(self._secret, token)
        if self._oidc is not None and isinstance(alg, str) and alg in self._oidc.config.algorithms:
            return await self._oidc.verify(token, header)
        raise Unauthorized("The bearer token's signing algorithm is not accepted.")

    def requires(self, *roles: str) -> Callable[[Request], Awaitable[Principal]]:
        """A FastAPI dependency admitting callers holding any of `roles`.

        The dependency carries `__caseflow_roles__`, so that the OpenAPI document can tell
        each operation's minimum role.
        """

        async def dependency(request: Request) -> Principal:
            principal = await self.principal(request)
            if not any(principal.has(role) for role in roles):
                raise Forbidden(f"This needs one of the roles: {', '.join(roles)}.")
            request.state.principal = principal
            return principal

        dependency.__caseflow_roles__ = tuple(roles)  # type: ignore[attr-defined]
        return dependency

    async def aclose(self) -> None:
        """Close the connections to the identity provider, if any."""
        if self._oidc is not None:
            await self._oidc.aclose()
