"""Who may call what, checked for every operation of every service from its OpenAPI document.

Each operation declares the roles that admit a caller (`x-caseflow-roles`; a higher role
admits too). Every caller — none, a channel key, an agent, a supervisor, an admin — is sent to
every operation: without credentials it gets 401, with a role too low 403, and with enough it
gets past authorisation (to whatever the empty request then earns: 404, 422, 200…). Operations
added later are checked without anyone listing them.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest

from caseflow_devstack.stack import SERVICE_NAMES
from caseflow_servicekit.auth import mint_token
from caseflow_servicekit.openapi import ROLES_EXTENSION

from .conftest import API_KEY, Suite

pytestmark = pytest.mark.e2e

CALLERS = ("none", "channel", "agent", "supervisor", "admin")
GRANTS = {
    "agent": {"agent"},
    "supervisor": {"agent", "supervisor"},
    "admin": {"agent", "supervisor", "admin"},
    "channel": {"channel"},
    "none": set(),
}
# What anyone may read: the process's health, its metrics and its API documents.
OPEN_PATHS = {
    "/health/live",
    "/health/ready",
    "/metrics",
    "/openapi.json",
    "/asyncapi.json",
    "/docs",
}


def _headers(suite: Suite, caller: str) -> dict[str, str]:
    if caller == "none":
        return {}
    if caller == "channel":
        return {"X-Api-Key": API_KEY}
    token = mint_token(
        suite.stack.auth_secret,
        subject=f"matrix-{caller}",
        roles=[caller],
        ttl=timedelta(minutes=10),
    )
    return {"Authorization": f"Bearer {token}"}


def _path(template: str, operation: dict[str, Any]) -> str:
    path = template
    for parameter in operation.get("parameters", []):
        if parameter.get("in") == "path":
            path = path.replace("{" + parameter["name"] + "}", str(uuid.uuid4()))
    return path


def _expected(caller: str, roles: list[str]) -> str:
    return "admitted" if GRANTS[caller] & set(roles) else ("401" if caller == "none" else "403")


@pytest.mark.parametrize("service", SERVICE_NAMES)
async def test_every_operation_admits_exactly_the_roles_it_declares(
    suite: Suite, service: str
) -> None:
    client = suite.http[service]
    document = (await client.get("/openapi.json")).json()
    checked = 0
    wrong: list[str] = []
    for template, item in document["paths"].items():
        for method, operation in item.items():
            roles = operation.get(ROLES_EXTENSION)
            if roles is None:
                assert template in OPEN_PATHS, f"{method.upper()} {template} declares no roles"
                continue
            assert operation["security"], f"{method.upper()} {template} declares no security"
            for caller in CALLERS:
                r = await client.request(
                    method.upper(),
                    _path(template, operation),
                    headers={**_headers(suite, caller), "content-type": "application/json"},
                    content=b"{}" if method in ("post", "put", "patch") else None,
                )
                expected = _expected(caller, roles)
                got = str(r.status_code) if r.status_code in (401, 403) else "admitted"
                checked += 1
                if got != expected:
                    wrong.append(f"{caller} {method.upper()} {template}: {r.status_code}")
                elif r.status_code in (401, 403):
                    assert r.headers["content-type"] == "application/problem+json"
                assert r.status_code < 500, (caller, method, template, r.text)
    assert not wrong, wrong
    assert checked >= 5 * 3


@pytest.mark.parametrize("service", SERVICE_NAMES)
async def test_health_metrics_and_documents_need_no_token(suite: Suite, service: str) -> None:
    client = suite.http[service]
    for path in sorted(OPEN_PATHS):
        r = await client.get(path)
        assert r.status_code == 200, (path, r.status_code)


async def test_a_channel_key_can_only_submit_and_read_the_questions_to_ask(suite: Suite) -> None:
    admitted: list[str] = []
    for service in SERVICE_NAMES:
        document = (await suite.http[service].get("/openapi.json")).json()
        for template, item in document["paths"].items():
            for method, operation in item.items():
                if "channel" in operation.get(ROLES_EXTENSION, []):
                    admitted.append(f"{service} {method.upper()} {template}")
    # Submitting, reporting telephone calls, and reading the questions a request type asks (a
    # web form asks them step by step), are all a channel may do.
    assert sorted(admitted) == [
        "cases GET /request-types/{code}/questions",
        "intake POST /cti/events",
        "intake POST /web-submissions",
    ]
