"""Unit tests of the kit's pure parts: settings, auth, problem details."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from fastapi import Depends, FastAPI
from pydantic import BaseModel, ConfigDict
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from caseflow_servicekit import (
    Authenticator,
    NotFound,
    Principal,
    Role,
    ServiceSettings,
    async_database_url,
    install_problem_handlers,
    is_transient,
    mint_token,
    verify_token,
)
from caseflow_servicekit.problems import PROBLEM_JSON, Unauthorized

SECRET = "a-test-secret-that-is-long-enough-for-hs256"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgresql://u@h:5/db", "postgresql+asyncpg://u@h:5/db"),
        ("postgres://u@h/db", "postgresql+asyncpg://u@h/db"),
        ("postgresql+asyncpg://u@h/db", "postgresql+asyncpg://u@h/db"),
    ],
)
def test_database_urls_get_the_asyncpg_driver(given: str, expected: str) -> None:
    assert async_database_url(given) == expected


def test_a_non_postgres_url_is_refused() -> None:
    with pytest.raises(ValueError, match="unsupported database URL"):
        async_database_url("mysql://u@h/db")


def test_channel_api_keys_parse_and_reject_malformed_entries() -> None:
    s = ServiceSettings(database_url="postgresql://x/y", channel_api_keys="web:k1, cti:k2")
    assert s.api_keys() == {"k1": "web", "k2": "cti"}
    with pytest.raises(ValueError, match="name:key"):
        ServiceSettings(database_url="postgresql://x/y", channel_api_keys="nokey").api_keys()


def test_a_token_round_trips_with_its_roles() -> None:
    token = mint_token(SECRET, subject="ana", roles=["supervisor"])
    principal = verify_token(SECRET, token)
    assert principal.subject == "ana"
    assert principal.has(Role.AGENT)
    assert principal.has(Role.SUPERVISOR)
    assert not principal.has(Role.ADMIN)


@pytest.mark.parametrize(
    ("token_secret", "ttl", "message"),
    [
        ("another-secret-entirely-also-long-enough", timedelta(hours=1), "not valid"),
        (SECRET, timedelta(seconds=-5), "expired"),
    ],
)
def test_bad_tokens_are_unauthorized(token_secret: str, ttl: timedelta, message: str) -> None:
    token = mint_token(token_secret, subject="ana", roles=["agent"], ttl=ttl)
    with pytest.raises(Unauthorized, match=message):
        verify_token(SECRET, token)


def test_unknown_roles_cannot_be_minted() -> None:
    with pytest.raises(ValueError, match="unknown roles"):
        mint_token(SECRET, subject="x", roles=["wizard"])


def test_transient_failures_are_told_from_message_failures() -> None:
    assert is_transient(OperationalError("select 1", {}, Exception("connection refused")))
    assert is_transient(ConnectionResetError())
    assert not is_transient(IntegrityError("insert", {}, Exception("duplicate key")))
    assert not is_transient(ValueError("bad data"))


class _PgError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


@pytest.mark.parametrize(
    ("code", "transient"), [("40P01", True), ("40001", True), ("23505", False)]
)
def test_a_lost_lock_race_is_retried_like_a_database_outage(code: str, transient: bool) -> None:
    # A deadlock or serialization failure is PostgreSQL breaking a race, not a bad message.
    error = DBAPIError("update agents", {}, _PgError(code))
    assert is_transient(error) is transient


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str


class _DomainError(Exception):
    pass


def _app() -> FastAPI:
    app = FastAPI()
    auth = Authenticator(SECRET, {"key-1": "web"})
    caller = Depends(auth.requires(Role.AGENT, Role.CHANNEL))
    install_problem_handlers(app, {_DomainError: 409})

    @app.post("/things")
    async def create(body: _Body, who: Principal = caller) -> dict[str, str]:
        if body.name == "clash":
            raise _DomainError("thing clashes")
        if body.name == "missing":
            raise NotFound("no such thing")
        if body.name == "boom":
            raise RuntimeError("secret internals")
        return {"by": who.subject}

    return app


async def _post(json: object, headers: dict[str, str]) -> httpx.Response:
    transport = httpx.ASGITransport(app=_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        return await client.post("/things", json=json, headers=headers)


def _agent() -> dict[str, str]:
    return {"Authorization": "Bearer " + mint_token(SECRET, subject="ana", roles=["agent"])}


async def test_invalid_body_is_a_422_problem_listing_the_errors() -> None:
    r = await _post({"name": 1, "extra": True}, _agent())
    assert r.status_code == 422
    assert r.headers["content-type"] == PROBLEM_JSON
    body = r.json()
    assert body["status"] == 422 and body["instance"] == "/things"
    assert {tuple(e["loc"]) for e in body["errors"]} == {("body", "name"), ("body", "extra")}


async def test_missing_credentials_are_a_401_problem() -> None:
    r = await _post({"name": "a"}, {})
    assert r.status_code == 401
    assert r.headers["content-type"] == PROBLEM_JSON
    assert r.headers["www-authenticate"] == "Bearer"


async def test_a_channel_key_is_accepted_and_an_unknown_one_is_not() -> None:
    assert (await _post({"name": "a"}, {"X-Api-Key": "key-1"})).json() == {"by": "channel:web"}
    assert (await _post({"name": "a"}, {"X-Api-Key": "nope"})).status_code == 401


async def test_a_role_not_held_is_a_403_problem() -> None:
    admin_only = FastAPI()
    auth = Authenticator(SECRET, {"key-1": "web"})
    admin = Depends(auth.requires(Role.ADMIN))
    install_problem_handlers(admin_only)

    @admin_only.get("/x")
    async def x(_: Principal = admin) -> dict[str, str]:
        return {}

    transport = httpx.ASGITransport(app=admin_only)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        r = await client.get("/x", headers=_agent())
    assert r.status_code == 403
    assert r.json()["detail"] == "This needs one of the roles: admin."


async def test_domain_errors_map_to_their_status_and_others_to_a_bare_500() -> None:
    clash = await _post({"name": "clash"}, _agent())
    assert (clash.status_code, clash.json()["detail"]) == (409, "thing clashes")
    assert (await _post({"name": "missing"}, _agent())).status_code == 404
    boom = await _post({"name": "boom"}, _agent())
    assert boom.status_code == 500
    assert "secret internals" not in boom.text


def test_a_ttl_cache_forgets_values_after_their_time_and_on_clear() -> None:
    from caseflow_servicekit.cache import TtlCache

    now = [0.0]
    cache: TtlCache[str] = TtlCache(2.0, clock=lambda: now[0])
    cache.put("rules", "v1")
    now[0] = 2.0
    assert cache.get("rules") == "v1"
    now[0] = 2.5
    assert cache.get("rules") is None
    cache.put("rules", "v2")
    cache.clear()
    assert cache.get("rules") is None


def test_an_agent_id_is_the_subject_when_it_is_a_uuid_else_derived_the_same_everywhere() -> None:
    from uuid import UUID, uuid4, uuid5

    from caseflow_servicekit.auth import AGENT_NAMESPACE, Principal, agent_id_of

    known = uuid4()
    assert agent_id_of(str(known)) == known
    assert agent_id_of("ada") == uuid5(AGENT_NAMESPACE, "ada") != agent_id_of("grace")
    # The namespace is part of every stored agent id: it must never change.
    assert UUID("8f6b3c1e-2a47-5d0e-9c3b-6e1f4a2d7b90") == AGENT_NAMESPACE
    assert Principal(subject="ada", roles=frozenset({"agent"})).agent_id == agent_id_of("ada")
