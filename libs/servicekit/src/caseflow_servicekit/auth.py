"""Who may call: bearer tokens with roles for people, API keys for channels.

Tokens are JWTs (HS256) signed with `CASEFLOW_AUTH_SECRET`, carrying `sub` and `roles`.
Roles nest: an admin may do what a supervisor may, a supervisor what an agent may.
Channels (telephony adapters, web forms) present `X-Api-Key` and act as role `channel`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

import jwt
from fastapi import Request

from caseflow_servicekit.problems import Forbidden, Unauthorized

ISSUER = "caseflow"
AUDIENCE = "caseflow"


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


@dataclass(frozen=True)
class Principal:
    """The caller: a person with roles, or a channel."""

    subject: str
    roles: frozenset[str]
    channel: str | None = None

    def has(self, role: str) -> bool:
        """Whether one of the caller's roles grants `role`."""
        return any(role in _IMPLIES.get(r, frozenset({r})) for r in self.roles)


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
    return jwt.encode(claims, secret, algorithm="HS256")


def verify_token(secret: str, token: str) -> Principal:
    """The principal a valid token names; raises Unauthorized otherwise."""
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=["HS256"],
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


class Authenticator:
    """Turns request credentials into a Principal."""

    def __init__(self, secret: str, api_keys: Mapping[str, str]) -> None:
        self._secret = secret
        self._api_keys = dict(api_keys)

    def principal(self, request: Request) -> Principal:
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
        return verify_token(self._secret, token.strip())

    def requires(self, *roles: str) -> Callable[[Request], Awaitable[Principal]]:
        """A FastAPI dependency admitting callers holding any of `roles`."""

        async def dependency(request: Request) -> Principal:
            principal = self.principal(request)
            if not any(principal.has(role) for role in roles):
                raise Forbidden(f"This needs one of the roles: {', '.join(roles)}.")
            request.state.principal = principal
            return principal

        return dependency
