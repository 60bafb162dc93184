"""Validation at the edge: what PostgreSQL would refuse is refused before it gets there.

PostgreSQL `text` cannot hold NUL, and UTF-8 cannot encode an unpaired surrogate (JSON can
spell one, `"\\ud800"`). Integers outside the columns' range overflow `integer` and
`bigint`. Each would reach the database as a 500; here it becomes a 422 problem that names
the field.

Two layers:

- **Types** for request models and parameters: `Text` (bounded as any string is:
  `Annotated[Text, StringConstraints(max_length=200)]`), `Int32`, `Int64`, `Limit`, `Offset`,
  and `EdgeModel`, the request-body base that refuses unknown fields.
- **`EdgeGuard`**, an ASGI middleware every service runs, that refuses NUL and unpaired
  surrogates anywhere in the path, the query string or a JSON body, whatever the route
  declares, so an operation added later is covered without anyone remembering to.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Annotated, Any
from urllib.parse import parse_qsl

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
)

from caseflow_servicekit.problems import PROBLEM_JSON, Problem, problem_body

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
MAX_PAGE_SIZE = 500
# An offset is a row count; anything past int32 is no page anyone reads.
MAX_OFFSET = INT32_MAX

_NUL = "\x00"


def text_problem(value: str) -> str | None:
    """Why PostgreSQL would refuse `value` as text, or None when it would take it."""
    if _NUL in value:
        return "NUL characters are not allowed"
    for char in value:
        if "\ud800" <= char <= "\udfff":
            return "unpaired surrogate characters are not allowed"
    return None


def _check_text(value: str) -> str:
    problem = text_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


Text = Annotated[str, AfterValidator(_check_text)]
"""A string PostgreSQL can store: no NUL, no unpaired surrogate."""


Int32 = Annotated[int, Field(ge=INT32_MIN, le=INT32_MAX)]
"""An integer that fits PostgreSQL `integer`."""
Int64 = Annotated[int, Field(ge=INT64_MIN, le=INT64_MAX)]
"""An integer that fits PostgreSQL `bigint`."""
Limit = Annotated[int, Field(ge=1, le=MAX_PAGE_SIZE)]
"""How many rows a page holds."""
Offset = Annotated[int, Field(ge=0, le=MAX_OFFSET)]
"""How many rows a page skips."""


def bad_strings(
    value: Any, path: tuple[str | int, ...] = ()
) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """Every (location, reason) in a decoded JSON value where a string is not storable text."""
    if isinstance(value, str):
        problem = text_problem(value)
        if problem is not None:
            yield path, problem
    elif isinstance(value, dict):
        for key, item in value.items():
            key_problem = text_problem(key) if isinstance(key, str) else None
            if key_problem is not None:
                yield (*path, key), f"field name: {key_problem}"
            yield from bad_strings(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from bad_strings(item, (*path, index))


class EdgeModel(BaseModel):
    """A request body: unknown fields refused. Its strings are checked by `EdgeGuard`, which
    sees every body whole before any model does."""

    model_config = ConfigDict(extra="forbid")


class EdgeGuard:
    """Refuses NUL and unpaired surrogates in a request's path, query string or JSON body.

    Answers 422 problem+json naming where the bad text is, before any route runs. A JSON
    body is read once here and handed on unchanged.
    """

    def __init__(self, app: Any, *, max_body_bytes: int = 4 * 1024 * 1024) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        errors = list(self._in_path_and_query(scope))
        body_chunks: list[bytes] = []
        if not errors and _is_json(scope):
            more = True
            size = 0
            while more:
                message = await receive()
                if message["type"] != "http.request":
                    # The client went away; let the app see it as it would have.
                    await self.app(scope, _replay([], message), send)
                    return
                chunk = message.get("body", b"")
                size += len(chunk)
                body_chunks.append(chunk)
                more = message.get("more_body", False)
                if size > self.max_body_bytes:
                    detail = f"The request body is larger than {self.max_body_bytes} bytes."
                    await _answer(scope, send, 413, detail, [], title="Request too large")
                    return
            errors = list(self._in_body(b"".join(body_chunks)))
        if errors:
            await _answer(
                scope, send, 422, "The request is not valid.", errors, title="Invalid request"
            )
            return
        if body_chunks:
            receive = _replay(body_chunks, None)
        await self.app(scope, receive, send)

    def _in_path_and_query(self, scope: Any) -> Iterator[dict[str, Any]]:
        # The server has percent-decoded the path already (invalid UTF-8 becomes U+FFFD).
        problem = text_problem(scope.get("path", ""))
        if problem is not None:
            yield {"loc": ["path"], "msg": problem, "type": "text"}
        query = scope.get("query_string", b"").decode("latin-1")
        if query:
            # Decoded as Starlette decodes it, so only what a route would see is judged.
            for name, value in parse_qsl(query, keep_blank_values=True):
                problem = text_problem(name) or text_problem(value)
                if problem is not None:
                    yield {"loc": ["query", name.replace(_NUL, "")], "msg": problem, "type": "text"}

    def _in_body(self, body: bytes) -> Iterator[dict[str, Any]]:
        if not body:
            return
        try:
            decoded = json.loads(body)
        except (ValueError, RecursionError):
            return  # not JSON: the route's own validation answers that
        for where, problem in bad_strings(decoded):
            yield {"loc": ["body", *where], "msg": problem, "type": "text"}


def _is_json(scope: Any) -> bool:
    if scope.get("method") not in ("POST", "PUT", "PATCH", "DELETE"):
        return False
    for name, value in scope.get("headers", ()):
        if name == b"content-type":
            media: bytes = value.split(b";", 1)[0].strip().lower()
            return media == b"application/json" or media.endswith(b"+json")
    # FastAPI reads a body without a content type as JSON too.
    return True


def _replay(chunks: list[bytes], final: dict[str, Any] | None) -> Any:
    pending: list[dict[str, Any]] = [
        {"type": "http.request", "body": b"".join(chunks), "more_body": False}
    ]
    if final is not None:
        pending = [final]

    async def receive() -> dict[str, Any]:
        if pending:
            return pending.pop(0)
        # After the body, a receive waits for the client to disconnect, as the server would.
        return {"type": "http.disconnect"}

    return receive


async def _answer(
    scope: Any, send: Any, status: int, detail: str, errors: list[dict[str, Any]], *, title: str
) -> None:
    extra: dict[str, Any] = {"errors": errors} if errors else {}
    body = problem_body(status, detail, instance=scope.get("path", ""), title=title, **extra)
    payload = json.dumps(body, ensure_ascii=True).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", PROBLEM_JSON.encode()),
                (b"content-length", str(len(payload)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


def if_match_version(if_match: str | None, *, of: str, required: bool = False) -> int | None:
    """The version an `If-Match` header names (an ETag is the version, quoted); None when
    the header is absent, blank or `*`. Absent but `required`: 428. If-Match compares strongly:
    a weak tag (`W/"3"`) or anything but one quoted version names no version of `of` (412)."""
    value = (if_match or "").strip()
    if not value:
        if required:
            raise Problem(
                f"Send If-Match with the {of}'s ETag (read it with GET), so that no change "
                "made meanwhile is overwritten.",
                status=428,
            )
        return None
    if value == "*":
        return None
    if len(value) > 2 and value[0] == value[-1] == '"' and value[1:-1].isdigit():
        return int(value[1:-1])
    raise Problem(f"If-Match {value[:50]!r} names no version of this {of}.", status=412)


def if_match_responses(of: str) -> dict[int | str, dict[str, Any]]:
    """The responses an operation that takes `If-Match` documents beside its own."""
    return {
        412: {"description": f"The {of} changed since its ETag was read."},
        428: {"description": f"If-Match with the {of}'s ETag is missing."},
    }


__all__ = [
    "INT32_MAX",
    "INT32_MIN",
    "INT64_MAX",
    "INT64_MIN",
    "MAX_OFFSET",
    "MAX_PAGE_SIZE",
    "EdgeGuard",
    "EdgeModel",
    "Int32",
    "Int64",
    "Limit",
    "Offset",
    "Text",
    "bad_strings",
    "if_match_responses",
    "if_match_version",
    "text_problem",
]
