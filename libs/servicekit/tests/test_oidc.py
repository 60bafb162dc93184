"""OpenID Connect bearer tokens, against a real HTTP server playing the issuer."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import threading
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi import Depends, FastAPI

from caseflow_servicekit import (
    Authenticator,
    Principal,
    Role,
    ServiceSettings,
    install_problem_handlers,
    mint_token,
)
from caseflow_servicekit.auth import (
    IdentityProviderUnavailable,
    JwksKeys,
    OidcConfig,
    OidcVerifier,
)
from caseflow_servicekit.problems import PROBLEM_JSON, Unauthorized

pytestmark = pytest.mark.unit

SECRET = "a-test-secret-that-is-long-enough-for-hs256"
AUDIENCE = "caseflow-api"
ROLES_CLAIM = "realm_access.roles"

RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())


def _jwk(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, kid: str) -> dict[str, Any]:
    if isinstance(key, rsa.RSAPrivateKey):
        jwk = jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
    else:
        jwk = jwt.algorithms.ECAlgorithm.to_jwk(key.public_key(), as_dict=True)
    return {**jwk, "kid": kid, "use": "sig"}


class IssuerServer:
    """An identity provider on 127.0.0.1: discovery document and JWKS, counting requests."""

    def __init__(self) -> None:
        self.keys: list[dict[str, Any]] = [_jwk(RSA_KEY, "rsa-1"), _jwk(EC_KEY, "ec-1")]
        self.requests: Counter[str] = Counter()
        self._lock = threading.Lock()
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with issuer._lock:
                    issuer.requests[self.path] += 1
                body: dict[str, Any]
                if self.path == "/.well-known/openid-configuration":
                    body = {"issuer": issuer.url, "jwks_uri": f"{issuer.url}/keys"}
                elif self.path == "/keys":
                    body = {"keys": issuer.keys}
                else:
                    self.send_error(404)
                    return
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # the test output is no place for an access log

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self) -> IssuerServer:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


class FakeClock:
    """Monotonic seconds that move only when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def issuer() -> Iterator[IssuerServer]:
    with IssuerServer() as server:
        yield server


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def _authenticator(
    issuer_url: str,
    clock: FakeClock,
    *,
    discover: bool = False,
    dev_tokens: bool = True,
) -> Authenticator:
    config = OidcConfig(
        issuer=issuer_url,
        audience=AUDIENCE,
        jwks_url=None if discover else f"{issuer_url}/keys",
        roles_claim=ROLES_CLAIM,
    )
    keys = JwksKeys(config, ttl=3600.0, cooldown=10.0, clock=clock)
    return Authenticator(SECRET, {}, dev_tokens=dev_tokens, oidc=OidcVerifier(config, keys=keys))


@pytest.fixture
async def auth(issuer: IssuerServer, clock: FakeClock) -> AsyncIterator[Authenticator]:
    authenticator = _authenticator(issuer.url, clock)
    yield authenticator
    await authenticator.aclose()


def _claims(issuer_url: str, **overrides: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    claims: dict[str, Any] = {
        "iss": issuer_url,
        "aud": [AUDIENCE, "account"],
        "sub": "3f1c0a7e-ana",
        "iat": now,
        "exp": now + timedelta(minutes=5),
        "realm_access": {"roles": ["supervisor", "offline_access", "channel"]},
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def _rs256(claims: dict[str, Any], kid: str = "rsa-1", key: Any = RSA_KEY) -> str:
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _hand_made(header: dict[str, Any], claims: dict[str, Any], hmac_key: bytes | None) -> str:
    """A token PyJWT would refuse to make: `alg: none`, or HS256 keyed with a public key."""
    payload = {k: int(v.timestamp()) if isinstance(v, datetime) else v for k, v in claims.items()}
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(payload).encode())}"
    if hmac_key is None:
        return signing_input + "."
    signature = hmac.new(hmac_key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


async def test_rs256_and_es256_tokens_are_accepted_with_roles_from_a_nested_claim(
    auth: Authenticator, issuer: IssuerServer
) -> None:
    rs = await auth.verify(_rs256(_claims(issuer.url)))
    es = await auth.verify(
        jwt.encode(_claims(issuer.url), EC_KEY, algorithm="ES256", headers={"kid": "ec-1"})
    )
    for principal in (rs, es):
        assert principal.subject == "3f1c0a7e-ana"
        # offline_access is not a Caseflow role; channel may never come from a token.
        assert principal.roles == {"supervisor"}
        assert principal.has(Role.AGENT)
        assert not principal.has(Role.CHANNEL)
        assert principal.channel is None
    assert issuer.requests == {"/keys": 1}


def _public_pem() -> bytes:
    return RSA_KEY.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda url: _rs256(_claims("https://elsewhere.example")), "issuer"),
        (lambda url: _rs256(_claims(url, aud="another-app")), "(?i)audience"),
        (lambda url: _rs256(_claims(url, exp=datetime.now(UTC) - timedelta(minutes=5))), "expired"),
        (lambda url: _rs256(_claims(url, exp=None)), "exp"),
        (lambda url: _rs256(_claims(url, sub=None)), "sub"),
        (
            lambda url: _rs256(_claims(url), key=rsa.generate_private_key(65537, 2048)),
            "Signature verification failed",
        ),
        (lambda url: _hand_made({"alg": "none", "kid": "rsa-1"}, _claims(url), None), "algorithm"),
        (
            lambda url: _hand_made(
                {"alg": "HS256", "typ": "JWT", "kid": "rsa-1"}, _claims(url), _public_pem()
            ),
            "Signature verification failed",
        ),
        (
            lambda url: jwt.encode(
                _claims(url), EC_KEY, algorithm="ES256", headers={"kid": "rsa-1"}
            ),
            "does not match its key",
        ),
        (lambda url: "not.a.token", "not valid"),
    ],
    ids=[
        "wrong-issuer",
        "wrong-audience",
        "expired",
        "no-exp",
        "no-sub",
        "bad-signature",
        "alg-none",
        "hs256-keyed-with-the-public-key",
        "es256-naming-an-rsa-key",
        "garbage",
    ],
)
async def test_bad_tokens_are_unauthorized(
    auth: Authenticator, issuer: IssuerServer, make: Any, message: str
) -> None:
    with pytest.raises(Unauthorized, match=message):
        await auth.verify(make(issuer.url))


async def test_hs256_keyed_with_the_public_key_is_refused_with_dev_tokens_off_too(
    issuer: IssuerServer, clock: FakeClock
) -> None:
    auth = _authenticator(issuer.url, clock, dev_tokens=False)
    token = _hand_made({"alg": "HS256", "typ": "JWT"}, _claims(issuer.url), _public_pem())
    with pytest.raises(Unauthorized, match="Development tokens"):
        await auth.verify(token)
    await auth.aclose()


async def test_the_jwks_is_found_through_the_discovery_document(
    issuer: IssuerServer, clock: FakeClock
) -> None:
    auth = _authenticator(issuer.url, clock, discover=True)
    assert (await auth.verify(_rs256(_claims(issuer.url)))).roles == {"supervisor"}
    assert issuer.requests == {"/.well-known/openid-configuration": 1, "/keys": 1}
    await auth.aclose()


async def test_a_rotated_key_is_picked_up_with_one_refresh(
    auth: Authenticator, issuer: IssuerServer, clock: FakeClock
) -> None:
    await auth.verify(_rs256(_claims(issuer.url)))
    new_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    issuer.keys = [_jwk(new_key, "rsa-2")]
    clock.now += 11
    principal = await auth.verify(_rs256(_claims(issuer.url), kid="rsa-2", key=new_key))
    assert principal.subject == "3f1c0a7e-ana"
    assert issuer.requests["/keys"] == 2
    # The retired key went with the old set.
    with pytest.raises(Unauthorized, match="does not publish"):
        await auth.verify(_rs256(_claims(issuer.url)))


async def test_unknown_kids_refetch_at_most_once_per_cooldown(
    auth: Authenticator, issuer: IssuerServer, clock: FakeClock
) -> None:
    await auth.verify(_rs256(_claims(issuer.url)))
    for i in range(5):
        with pytest.raises(Unauthorized, match="does not publish"):
            await auth.verify(_rs256(_claims(issuer.url), kid=f"made-up-{i}"))
    assert issuer.requests["/keys"] == 1
    clock.now += 11
    for i in range(5):
        with pytest.raises(Unauthorized, match="does not publish"):
            await auth.verify(_rs256(_claims(issuer.url), kid=f"made-up-again-{i}"))
    assert issuer.requests["/keys"] == 2


async def test_keys_are_refetched_after_their_ttl_and_kept_while_the_issuer_is_down(
    auth: Authenticator, issuer: IssuerServer, clock: FakeClock
) -> None:
    token = _rs256(_claims(issuer.url))
    await auth.verify(token)
    clock.now += 3601
    await auth.verify(token)
    assert issuer.requests["/keys"] == 2
    issuer.__exit__()
    clock.now += 3601
    # Refusing every caller because the issuer blinked would be worse than a stale key.
    assert (await auth.verify(token)).subject == "3f1c0a7e-ana"


async def test_dev_tokens_are_accepted_beside_oidc_and_refused_when_off(
    issuer: IssuerServer, clock: FakeClock
) -> None:
    dev = mint_token(SECRET, subject="dev", roles=["admin"])
    on = _authenticator(issuer.url, clock)
    off = _authenticator(issuer.url, clock, dev_tokens=False)
    assert (await on.verify(dev)).has(Role.ADMIN)
    with pytest.raises(Unauthorized, match="Development tokens are not accepted"):
        await off.verify(dev)
    assert issuer.requests == {}  # a dev token never needs the issuer
    await on.aclose()
    await off.aclose()


async def test_without_oidc_an_rs256_token_is_refused() -> None:
    with pytest.raises(Unauthorized, match="algorithm is not accepted"):
        await Authenticator(SECRET, {}).verify(_rs256(_claims("https://issuer.example")))


def _unused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def _app(auth: Authenticator) -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)
    supervisor = auth.requires(Role.SUPERVISOR)
    assert getattr(supervisor, "__caseflow_roles__", None) == ("supervisor",)

    @app.get("/queues")
    async def queues(who: Principal = Depends(supervisor)) -> dict[str, str]:
        return {"by": who.subject}

    return app


async def _get(app: FastAPI, token: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        return await client.get("/queues", headers=headers)


async def test_an_unreachable_issuer_is_a_503_problem(clock: FakeClock) -> None:
    url = f"http://127.0.0.1:{_unused_port()}"
    auth = _authenticator(url, clock, discover=True)
    r = await _get(_app(auth), _rs256(_claims(url)))
    assert r.status_code == 503
    assert r.headers["content-type"] == PROBLEM_JSON
    assert r.json()["title"] == "Identity provider unavailable"
    # Within the cooldown the failure is answered without knocking again.
    with pytest.raises(IdentityProviderUnavailable):
        await auth.verify(_rs256(_claims(url)))
    await auth.aclose()


async def test_an_endpoint_admits_only_the_roles_it_requires(
    auth: Authenticator, issuer: IssuerServer
) -> None:
    app = _app(auth)
    missing = await _get(app, None)
    assert (missing.status_code, missing.headers["content-type"]) == (401, PROBLEM_JSON)
    agent_claims = _claims(issuer.url, realm_access={"roles": ["agent"]})
    assert (await _get(app, _rs256(agent_claims))).status_code == 403
    ok = await _get(app, _rs256(_claims(issuer.url)))
    assert (ok.status_code, ok.json()) == (200, {"by": "3f1c0a7e-ana"})


def test_settings_turn_oidc_on_and_refuse_an_issuer_without_audience(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OIDC_ISSUER", "https://id.example/realms/caseflow")
    with pytest.raises(ValueError, match="OIDC_AUDIENCE"):
        ServiceSettings(database_url="postgresql://x/y")
    monkeypatch.setenv("OIDC_AUDIENCE", AUDIENCE)
    monkeypatch.setenv("OIDC_ROLES_CLAIM", ROLES_CLAIM)
    monkeypatch.setenv("CASEFLOW_AUTH_DEV_TOKENS", "false")
    settings = ServiceSettings(database_url="postgresql://x/y")
    assert (settings.oidc_algorithms, settings.oidc_jwks_url) == ("RS256,ES256", None)
    assert settings.auth_dev_tokens is False
    Authenticator.from_settings(settings)
    monkeypatch.setenv("OIDC_ALGORITHMS", "RS256,HS256")
    with pytest.raises(ValueError, match="OIDC algorithms"):
        Authenticator.from_settings(ServiceSettings(database_url="postgresql://x/y"))
