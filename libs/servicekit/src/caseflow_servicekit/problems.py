"""RFC 9457 problem details: every HTTP error Caseflow returns, in one shape and one place.

Exception tree:

    Problem                 an error that knows its HTTP answer
    ├── Unauthorized        401, no or bad credentials
    ├── Forbidden           403, credentials without the role needed
    ├── NotFound            404
    ├── Conflict            409
    └── Unavailable         503, a dependency (the database) does not answer; try again

Services map their own domain errors to statuses with `install_problem_handlers(app, {...})`.
A mapped domain error may also carry `problem_members` (a mapping: members of the problem, such
as `errors` naming the fields at fault) and `problem_headers` (a mapping: response headers,
such as `Retry-After`); the domain knows nothing of HTTP beyond those two plain attributes.
Database errors that data caused are the caller's: a constraint another row holds is a 409,
data the column refuses a 422. A database that does not answer is a 503 with `Retry-After`.
Anything else is a bug: a 500 whose details stay in the log, with the trace id.
"""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import DBAPIError, IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse

from caseflow_servicekit.db import UNAVAILABLE_SQLSTATE_CLASSES, sqlstate
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


class Unavailable(Problem):
    status = 503


# How long a caller should wait before trying again after a 503.
RETRY_AFTER_SECONDS = 1

# SQLSTATE classes and codes (PostgreSQL, Appendix A).
_CONFLICT_STATES = {"23505", "23P01", "40001", "40P01", "55P03"}  # unique, exclusion, races
_INVALID_STATES = {"23502", "23503", "23514"}  # not null, foreign key, check


def database_status(exc: BaseException) -> int | None:
    """The HTTP status a database error stands for, or None when it is a bug."""
    from caseflow_servicekit.consumer import is_transient

    code = sqlstate(exc)
    if code is not None:
        if code in _CONFLICT_STATES:
            return 409
        if code in _INVALID_STATES or code.startswith("22"):  # 22: data exception
            return 422
        if code.startswith(UNAVAILABLE_SQLSTATE_CLASSES):
            return 503
    if isinstance(exc, IntegrityError):
        return 409
    if is_transient(exc):
        return 503
    return None


def problem_body(
    status: int, detail: str | None, *, instance: str, title: str | None = None, **extra: Any
) -> dict[str, Any]:
    """The RFC 9457 document for `status`."""
    phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": title or phrase,
        "status": status,
        "instance": instance,
    }
    if detail:
        body["detail"] = detail
    trace_id = current_trace_id()
    if trace_id:
        body["trace_id"] = trace_id
    body.update(extra)
    return body


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
    body = problem_body(status, detail, instance=request.url.path, title=title, **extra)
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
        headers: dict[str, str] | None = None
        if exc.status == 401:
            headers = {"WWW-Authenticate": "Bearer"}
        elif exc.status == 503:
            headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
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

    async def on_database(request: Request, exc: Exception) -> JSONResponse:
        status = database_status(exc)
        if status is None:
            return await on_domain(request, exc)
        log.warning(
            "http.database_refused",
            path=request.url.path,
            status=status,
            sqlstate=sqlstate(exc),
            error=type(exc).__name__,
        )
        if status == 503:
            return problem_response(
                503,
                "The database is not available; try again shortly.",
                request=request,
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            )
        detail = (
            "The request conflicts with the current state of the resource."
            if status == 409
            else "The database refused a value of the request."
        )
        return problem_response(status, detail, request=request)

    async def on_domain(request: Request, exc: Exception) -> JSONResponse:
        for kind in type(exc).__mro__:
            if kind in mapping:
                members = dict(getattr(exc, "problem_members", None) or {})
                headers = dict(getattr(exc, "problem_headers", None) or {}) or None
                return problem_response(
                    mapping[kind],
                    str(exc),
                    request=request,
                    title=type(exc).__name__,
                    headers=headers,
                    **members,
                )
        if database_status(exc) == 503:  # the database went away under a plain OSError
            return await on_database(request, exc)
        log.error(
            "http.unhandled_error",
            path=request.url.path,
            trace_id=current_trace_id(),
            exc_info=exc,
        )
        return problem_response(500, "An internal error occurred.", request=request)

    app.add_exception_handler(Problem, on_problem)
    app.add_exception_handler(DBAPIError, on_database)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    for kind in mapping:
        app.add_exception_handler(kind, on_domain)
    app.add_exception_handler(Exception, on_domain)
