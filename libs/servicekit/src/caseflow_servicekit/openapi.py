"""The OpenAPI document a service serves, made honest about its errors and who may call.

FastAPI documents what a route returns when it works. Every Caseflow service also answers
errors, always as RFC 9457 `application/problem+json`, and each operation needs a role. This
module completes the generated document from what the routes themselves declare, so an
operation added later is documented without anyone listing it:

- **errors**: each operation gets the problem responses it can return, all with one shared
  `Problem` schema: 401 and 403 when it needs a role; 404 when it has path parameters; 422
  when it takes input; 409 and the service's mapped domain errors when it writes; 413 when it
  takes a JSON body; 503 when it touches the database; and whatever the route declared itself
  (429 on a rate-limited route, say).
- **who may call**: `security` and `x-caseflow-roles`, the roles any of which admits a caller
  (a higher role admits too: admin ⊃ supervisor ⊃ agent).
- **links**: where an operation's response carries an id that another operation takes as a
  path parameter (`case_id` in a body, `{case_id}` in a path), an OpenAPI link says so, and a
  stateful API fuzzer can chain them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, iter_route_contexts

from caseflow_servicekit.problems import PROBLEM_JSON

ROLES_EXTENSION = "x-caseflow-roles"
ROLES_ATTRIBUTE = "__caseflow_roles__"
WRITES = frozenset({"post", "put", "patch", "delete"})
# Operations that answer without the database or a caller.
_OPERATIONS_PATHS = frozenset({"/health/live", "/asyncapi.json"})

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "An RFC 9457 problem: what went wrong, for people and for programs.",
    "type": "object",
    "required": ["type", "title", "status"],
    "properties": {
        "type": {"type": "string", "description": "A URI naming the kind of problem."},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string"},
        "instance": {"type": "string", "description": "The path of the request."},
        "trace_id": {"type": "string", "description": "The trace to look for in the logs."},
        "errors": {
            "type": "array",
            "description": "For an invalid request: each value refused, and where it was.",
            "items": {
                "type": "object",
                "properties": {
                    "loc": {"type": "array", "items": {"type": ["string", "integer"]}},
                    "msg": {"type": "string"},
                    "type": {"type": "string"},
                },
            },
        },
    },
    "additionalProperties": True,
}

SECURITY_SCHEMES: dict[str, Any] = {
    "bearer": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "A person's token; its roles say what they may do.",
    },
    "channelKey": {
        "type": "apiKey",
        "in": "header",
        "name": "X-Api-Key",
        "description": "A channel's key (web form, telephony adapter): it may only submit.",
    },
}

_DESCRIPTIONS: Mapping[int, str] = {
    400: "The request cannot be carried out as asked.",
    401: "No credentials, or credentials that are not valid.",
    403: "The caller lacks the role this needs.",
    404: "A resource the request names does not exist.",
    409: "The request conflicts with the current state.",
    412: "The resource changed since the version the request names.",
    413: "The request body is too large.",
    422: "A value of the request is not valid; `errors` says which.",
    429: "Too many requests; try again after `Retry-After` seconds.",
    503: "A dependency does not answer; try again after `Retry-After` seconds.",
}
_RETRY_AFTER = {
    "description": "Seconds to wait before trying again.",
    "schema": {"type": "integer", "minimum": 0},
}


def roles_of(route: APIRoute) -> tuple[str, ...] | None:
    """The roles any of which admits a caller of `route`; None when it needs none."""
    for dependant in _dependants(route.dependant):
        roles = getattr(dependant.call, ROLES_ATTRIBUTE, None)
        if roles is not None:
            return tuple(str(role) for role in roles)
    return None


def _dependants(dependant: Dependant) -> Iterator[Dependant]:
    yield dependant
    for sub in dependant.dependencies:
        yield from _dependants(sub)


def _takes_input(route: APIRoute) -> bool:
    dependants = list(_dependants(route.dependant))
    return any(
        d.path_params or d.query_params or d.header_params or d.cookie_params or d.body_params
        for d in dependants
    )


def _takes_body(route: APIRoute) -> bool:
    return any(d.body_params for d in _dependants(route.dependant))


def problem_statuses(route: APIRoute, method: str, *, domain_statuses: Iterable[int]) -> set[int]:
    """The problem statuses an operation can answer, from what the route declares."""
    statuses: set[int] = set()
    if roles_of(route) is not None:
        statuses |= {401, 403}
    if route.dependant.path_params or any(d.path_params for d in _dependants(route.dependant)):
        statuses.add(404)
    if _takes_input(route):
        # Input may name a resource (an id in the query or the body) or break a domain rule.
        statuses |= {422, *domain_statuses}
    if method in WRITES:
        statuses |= {409, 422, *domain_statuses}
        if _takes_body(route):
            statuses.add(413)
    if route.path_format not in _OPERATIONS_PATHS:
        statuses.add(503)
    for declared in route.responses:
        code = int(declared) if str(declared).isdigit() else None
        if code is not None and code >= 400:
            statuses.add(code)
    return statuses


def complete(
    document: dict[str, Any], app: FastAPI, *, domain_statuses: Iterable[int] = ()
) -> dict[str, Any]:
    """`document` (as FastAPI made it for `app`) with problems, roles and links added."""
    domain = {status for status in domain_statuses if 400 <= status < 500}
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas["Problem"] = PROBLEM_SCHEMA
    components["securitySchemes"] = SECURITY_SCHEMES
    paths: dict[str, Any] = document.get("paths", {})
    # Routers included into the app are resolved lazily; each context is one effective route.
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if not isinstance(route, APIRoute) or not route.include_in_schema:
            continue
        item = paths.get(context.path_format or route.path_format)
        if item is None:
            continue
        for method in sorted(m.lower() for m in route.methods or ()):
            operation = item.get(method)
            if operation is None:
                continue
            _document_errors(operation, problem_statuses(route, method, domain_statuses=domain))
            _document_roles(operation, roles_of(route))
    # FastAPI's own 422 body is replaced by Problem everywhere; drop its now unused schemas.
    for unused in ("HTTPValidationError", "ValidationError"):
        if unused in schemas and not _mentioned(unused, paths, schemas):
            del schemas[unused]
    _add_links(paths, schemas)
    return document


def _document_errors(operation: dict[str, Any], statuses: set[int]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    for status in sorted(statuses):
        existing = responses.get(str(status), {})
        phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else ""
        response: dict[str, Any] = {
            "description": existing.get("description")
            if existing.get("description") not in (None, "", "Validation Error")
            else _DESCRIPTIONS.get(status, phrase),
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        headers = dict(existing.get("headers", {}))
        if status in (429, 503):
            headers.setdefault("Retry-After", _RETRY_AFTER)
        if status == 401:
            headers.setdefault(
                "WWW-Authenticate",
                {"description": "The scheme to authenticate with.", "schema": {"type": "string"}},
            )
        if headers:
            response["headers"] = headers
        responses[str(status)] = response


def _document_roles(operation: dict[str, Any], roles: tuple[str, ...] | None) -> None:
    if roles is None:
        operation["security"] = []
        return
    operation[ROLES_EXTENSION] = list(roles)
    security: list[dict[str, list[str]]] = []
    if any(role != "channel" for role in roles):
        security.append({"bearer": []})
    if "channel" in roles:
        security.append({"channelKey": []})
    operation["security"] = security


def _mentioned(name: str, paths: Mapping[str, Any], schemas: Mapping[str, Any]) -> bool:
    others = {other: schema for other, schema in schemas.items() if other != name}
    return f'#/components/schemas/{name}"' in json.dumps([paths, others])


def _success_schema(operation: Mapping[str, Any]) -> tuple[str, Any] | None:
    for status, response in operation.get("responses", {}).items():
        if str(status).startswith("2"):
            schema = response.get("content", {}).get("application/json", {}).get("schema")
            if schema is not None:
                return str(status), schema
    return None


def _resolve(schema: Any, schemas: Mapping[str, Any]) -> Any:
    if isinstance(schema, dict) and "$ref" in schema:
        return schemas.get(schema["$ref"].rsplit("/", 1)[-1], {})
    return schema


def _id_pointers(schema: Any, schemas: Mapping[str, Any]) -> dict[str, str]:
    """Each `*_id` field (and `number`) of a single resource in a response → its JSON pointer.

    A list may be empty, so only a single resource feeds a link.
    """
    node = _resolve(schema, schemas)
    if not isinstance(node, dict) or node.get("type") == "array":
        return {}
    return {
        name: f"/{name}"
        for name in node.get("properties", {})
        if name.endswith("_id") or name == "number"
    }


def _add_links(paths: Mapping[str, Any], schemas: Mapping[str, Any]) -> None:
    targets: list[tuple[str, set[str]]] = []
    for item in paths.values():
        for operation in item.values():
            if not isinstance(operation, dict) or "operationId" not in operation:
                continue
            names = {p["name"] for p in operation.get("parameters", []) if p.get("in") == "path"}
            if names:
                targets.append((operation["operationId"], names))
    for item in paths.values():
        for operation in item.values():
            if not isinstance(operation, dict):
                continue
            found = _success_schema(operation)
            if found is None:
                continue
            status, schema = found
            pointers = _id_pointers(schema, schemas)
            links: dict[str, Any] = {}
            for target, names in targets:
                if target == operation.get("operationId") or not names <= set(pointers):
                    continue
                links[target] = {
                    "operationId": target,
                    "parameters": {
                        f"path.{name}": f"$response.body#{pointers[name]}" for name in sorted(names)
                    },
                }
            if links:
                operation["responses"][status]["links"] = links


def install(app: FastAPI, *, domain_statuses: Iterable[int] = ()) -> Callable[[], dict[str, Any]]:
    """Serve `app`'s completed document at /openapi.json; returns the function building it."""
    statuses = tuple(domain_statuses)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                openapi_version=app.openapi_version,
                description=app.description,
                routes=app.routes,
            )
            app.openapi_schema = complete(document, app, domain_statuses=statuses)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return openapi


__all__ = [
    "PROBLEM_SCHEMA",
    "ROLES_EXTENSION",
    "complete",
    "install",
    "problem_statuses",
    "roles_of",
]
