"""RFC 9457 problem details: every HTTP error Caseflow returns, in one shape and one place.

Exception tree:

    Problem                 an error that knows its HTTP answer
    ├── Unauthorized        401, no or bad credentials
    ├── Forbidden           403, credentials without the role needed
    ├── NotFound            404
    └── Conflict            409

Services map their own domain errors to statuses with `install_problem_handlers(app, {...})`;
anything unmapped is a 500 whose details stay in the log.
"""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse

from caseflow_servicekit.telemetry import current_trace_id

PROBLEM_JSON = "application/problem+json"
log = structlog.get_logger(__name__)


class Problem(Exception):
    """An error with its HTTP status and a human explanation."""

    status: int = 400
    title: str | None = None

    def __init__(self, detail: str, *, status: int | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        if status is not None:
            self.status = status
        self.extra = extra


class Unauthorized(Problem):
    status = 401


class Forbidden(Problem):
    status = 403


class NotFound(Problem):
    status = 404


class Conflict(Problem):
    status = 409


def problem_response(
    status: int,
    detail: str | None,
    *,
    request: Request,
    title: str | None = None,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """A problem+json response for `status`."""
    phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": title or phrase,
        "status": status,
        "instance": request.url.path,
    }
    if detail:
        body["detail"] = detail
    trace_id = current_trace_id()
    if trace_id:
        body["trace_id"] = trace_id
    body.update(extra)
    return JSONResponse(
        jsonable_encoder(body), status_code=status, media_type=PROBLEM_JSON, headers=headers
    )


def install_problem_handlers(
    app: FastAPI, errors: Mapping[type[Exception], int] | None = None
) -> None:
    """Answer every error `app` raises as problem+json; `errors` maps domain errors to statuses."""
    mapping = dict(errors or {})

    async def on_problem(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, Problem)
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return problem_response(
            exc.status, exc.detail, request=request, title=exc.title, headers=headers, **exc.extra
        )

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg"), "type": e.get("type")}
            for e in exc.errors()
        ]
        return problem_response(
            422,
            "The request is not valid.",
            request=request,
            title="Invalid request",
            errors=errors,
        )

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        return problem_response(
            exc.status_code,
            str(exc.detail) if exc.detail else None,
            request=request,
            headers=exc.headers,
        )

    async def on_domain(request: Request, exc: Exception) -> JSONResponse:
        for kind in type(exc).__mro__:
            if kind in mapping:
                return problem_response(
                    mapping[kind], str(exc), request=request, title=type(exc).__name__
                )
        log.error("http.unhandled_error", path=request.url.path, exc_info=exc)
        return problem_response(500, "An internal error occurred.", request=request)

    app.add_exception_handler(Problem, on_problem)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    for kind in mapping:
        app.add_exception_handler(kind, on_domain)
    app.add_exception_handler(Exception, on_domain)
