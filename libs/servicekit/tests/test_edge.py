"""Edge validation, database errors as problems, and the honest OpenAPI document."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI, Query
from pydantic import BaseModel, StringConstraints, ValidationError
from sqlalchemy.exc import DataError, IntegrityError, OperationalError

from caseflow_servicekit import openapi
from caseflow_servicekit.auth import Authenticator
from caseflow_servicekit.edge import (
    EdgeGuard,
    EdgeModel,
    Int32,
    Offset,
    Text,
    bad_strings,
    text_problem,
)
from caseflow_servicekit.problems import Conflict, database_status, install_problem_handlers

pytestmark = pytest.mark.unit

SECRET = "edge-test-secret-edge-test-secret"


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("plain", None),
        ("ünïcödé ✓ 𝄞", None),
        ("nul \x00 inside", "NUL characters are not allowed"),
        ("lone \ud800 surrogate", "unpaired surrogate characters are not allowed"),
        ("\udfff", "unpaired surrogate characters are not allowed"),
    ],
)
def test_text_problem(value: str, problem: str | None) -> None:
    assert text_problem(value) == problem


class Body(EdgeModel):
    title: Annotated[Text, StringConstraints(min_length=1, max_length=10, strip_whitespace=True)]
    note: Text = ""
    count: Int32 = 0
    tags: dict[str, list[str]] = {}


def test_text_fields_refuse_unstorable_text_and_an_edge_model_unknown_fields() -> None:
    assert Body(title="  ok  ").title == "ok"
    with pytest.raises(ValidationError, match="note"):
        Body(title="ok", note="a\x00b")
    with pytest.raises(ValidationError, match="extra"):
        Body.model_validate({"title": "ok", "unknown": 1})


@pytest.mark.parametrize(
    ("value", "where"),
    [
        ({"k": ["fine", "bad\x00"]}, [("tags", "k", 1), "NUL characters are not allowed"]),
        (
            {"bad\x00key": []},
            [("tags", "bad\x00key"), "field name: NUL characters are not allowed"],
        ),
    ],
)
def test_bad_strings_finds_nested_values_and_field_names(value: Any, where: list[Any]) -> None:
    assert list(bad_strings({"title": "ok", "tags": value})) == [tuple(where)]


def test_integers_are_bounded_by_their_columns() -> None:
    with pytest.raises(ValidationError):
        Body(title="ok", count=2**31)
    Body(title="ok", count=2**31 - 1)


def _sqlstate_error(kind: type[Exception], code: str) -> Exception:
    class Driver(Exception):
        sqlstate = code

    return kind("statement", {}, Driver("refused"))  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (_sqlstate_error(IntegrityError, "23505"), 409),  # unique violation
        (_sqlstate_error(IntegrityError, "23P01"), 409),  # exclusion constraint
        (_sqlstate_error(IntegrityError, "23502"), 422),  # not null
        (_sqlstate_error(IntegrityError, "23514"), 422),  # check
        (_sqlstate_error(DataError, "22003"), 422),  # numeric out of range
        (_sqlstate_error(DataError, "22021"), 422),  # bad byte sequence
        (_sqlstate_error(OperationalError, "57P01"), 503),  # admin shutdown
        (_sqlstate_error(OperationalError, "08006"), 503),  # connection failure
        (ConnectionRefusedError(111, "refused"), 503),
        (RuntimeError("a bug"), None),
    ],
)
def test_database_errors_are_the_callers_or_the_databases_not_bugs(
    error: Exception, status: int | None
) -> None:
    assert database_status(error) == status


class Thing(BaseModel):
    thing_id: str
    title: str


def _app(raise_: Callable[[], None] | None = None) -> FastAPI:
    auth = Authenticator(SECRET, {"web-key": "web"})
    api = APIRouter()
    agent = [Depends(auth.requires("agent"))]

    @api.post(
        "/things",
        status_code=201,
        dependencies=agent,
        response_model=Thing,
        responses={429: {"description": "Slow down."}},
    )
    async def create(body: Body) -> dict[str, Any]:
        if raise_ is not None:
            raise_()
        return {"thing_id": "9f0c6a0e-6f33-4a5c-8f63-6f1f5b6b8a11", "title": body.title}

    @api.get("/things/{thing_id}", dependencies=agent)
    async def read(thing_id: str, offset: Annotated[Offset, Query()] = 0) -> dict[str, Any]:
        return {"thing_id": thing_id, "offset": offset}

    app = FastAPI()
    install_problem_handlers(app, {LookupError: 404})
    app.include_router(api)
    openapi.install(app, domain_statuses=[404])
    app.add_middleware(EdgeGuard)
    return app


def _bearer() -> dict[str, str]:
    from caseflow_servicekit.auth import mint_token

    return {"Authorization": f"Bearer {mint_token(SECRET, subject='t', roles=['agent'])}"}


async def _client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


async def test_the_guard_refuses_nul_anywhere_with_a_problem_naming_it() -> None:
    async with await _client(_app()) as client:
        body = await client.post(
            "/things", json={"title": "ok", "tags": {"k": ["\x00"]}}, headers=_bearer()
        )
        assert body.status_code == 422
        assert body.headers["content-type"] == "application/problem+json"
        assert body.json()["errors"][0]["loc"] == ["body", "tags", "k", 0]
        surrogate = await client.post(
            "/things",
            content=b'{"title": "\\ud800"}',
            headers={**_bearer(), "content-type": "application/json"},
        )
        assert surrogate.status_code == 422
        query = await client.get("/things/a?offset=1&q=%00", headers=_bearer())
        assert query.status_code == 422 and query.json()["errors"][0]["loc"] == ["query", "q"]
        path = await client.get("/things/a%00b", headers=_bearer())
        assert path.status_code == 422 and path.json()["errors"][0]["loc"] == ["path"]
        # What is fine passes untouched, body included.
        good = await client.post("/things", json={"title": " fine "}, headers=_bearer())
        assert good.status_code == 201 and good.json()["title"] == "fine"


async def test_an_offset_past_its_column_is_a_422_not_an_overflow() -> None:
    async with await _client(_app()) as client:
        r = await client.get("/things/a?offset=36893488147419103232", headers=_bearer())
        assert r.status_code == 422
        assert r.json()["errors"][0]["loc"] == ["query", "offset"]


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (_sqlstate_error(IntegrityError, "23505"), 409),
        (_sqlstate_error(DataError, "22001"), 422),
        (_sqlstate_error(OperationalError, "08006"), 503),
        (Conflict("taken"), 409),
        (LookupError("no such thing"), 404),
        (RuntimeError("a bug"), 500),
    ],
)
async def test_errors_are_problems_with_the_right_status(error: Exception, status: int) -> None:
    def fail() -> None:
        raise error

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=_app(fail), raise_app_exceptions=False),
        base_url="http://t",
    ) as client:
        r = await client.post("/things", json={"title": "x"}, headers=_bearer())
    assert r.status_code == status
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["status"] == status
    if status == 503:
        assert r.headers["retry-after"] == "1"


def test_the_document_declares_every_problem_roles_and_links() -> None:
    document = _app().openapi()
    create = document["paths"]["/things"]["post"]
    assert set(create["responses"]) == {
        "201",
        "401",
        "403",
        "404",
        "409",
        "413",
        "422",
        "429",
        "503",
    }
    for status, response in create["responses"].items():
        if status.startswith(("4", "5")):
            schema = response["content"]["application/problem+json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/Problem"}
            assert "application/json" not in response["content"]
    assert create["responses"]["429"]["description"] == "Slow down."
    assert "Retry-After" in create["responses"]["429"]["headers"]
    assert create[openapi.ROLES_EXTENSION] == ["agent"]
    assert create["security"] == [{"bearer": []}]
    read = document["paths"]["/things/{thing_id}"]["get"]
    assert {"401", "403", "404", "422", "503"} <= set(read["responses"])
    assert "409" not in read["responses"]
    assert "HTTPValidationError" not in document["components"]["schemas"]
    [link] = create["responses"]["201"]["links"].values()
    assert link["operationId"] == read["operationId"]
    assert link["parameters"] == {"path.thing_id": "$response.body#/thing_id"}
