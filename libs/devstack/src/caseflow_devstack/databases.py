"""PostgreSQL URLs and the few administrative statements the stack needs.

A *server URL* names a PostgreSQL server and a database to connect to for administration
(usually `postgres`); per-service URLs are derived from it by replacing the database name.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

import asyncpg  # type: ignore[import-untyped]

_DATABASE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_SCHEMES = {"postgresql", "postgres", "postgresql+asyncpg"}


def _split(url: str) -> tuple[str, str, str, str, str]:
    parts = urlsplit(url)
    if parts.scheme not in _SCHEMES:
        raise ValueError(f"not a PostgreSQL URL: {url!r}")
    return parts.scheme, parts.netloc, parts.path, parts.query, parts.fragment


def with_database(url: str, database: str) -> str:
    """`url` pointing at `database` instead of its own database."""
    scheme, netloc, _, query, fragment = _split(url)
    return urlunsplit((scheme, netloc, "/" + database, query, fragment))


def database_of(url: str) -> str:
    """The database name in `url` (empty when the URL names none)."""
    return _split(url)[2].lstrip("/")


def as_asyncpg(url: str) -> str:
    """`url` in the SQLAlchemy form the services take: `postgresql+asyncpg://...`."""
    _, netloc, path, query, fragment = _split(url)
    return urlunsplit(("postgresql+asyncpg", netloc, path, query, fragment))


def as_libpq(url: str) -> str:
    """`url` in the plain form libpq, psql and asyncpg take: `postgresql://...`."""
    _, netloc, path, query, fragment = _split(url)
    return urlunsplit(("postgresql", netloc, path, query, fragment))


def _quoted(database: str) -> str:
    # Names come from code, not users, but they end up in DDL that cannot take parameters.
    if not _DATABASE_NAME.fullmatch(database):
        raise ValueError(f"not a plain database name (a-z, 0-9, _): {database!r}")
    return f'"{database}"'


UTF8_CTYPE = "C.UTF-8"
"""The character classes a created database takes where the machine has the locale: letters
beyond ASCII count as letters (pg_trgm, for one, finds no trigrams in Cyrillic under `C`),
while sorting stays by code point."""


async def ensure_database(server_url: str, database: str) -> bool:
    """Create `database` on the server unless it exists; True when it was created."""
    name = _quoted(database)
    connection = await asyncpg.connect(as_libpq(server_url))
    try:
        exists = await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database)
        if exists:
            return False
        try:
            try:
                await connection.execute(
                    f"CREATE DATABASE {name} TEMPLATE template0 LC_CTYPE '{UTF8_CTYPE}'"
                )
            except (asyncpg.InvalidParameterValueError, asyncpg.WrongObjectTypeError):
                # The machine lacks the locale: the server's own character classes, then.
                await connection.execute(f"CREATE DATABASE {name}")
        except asyncpg.DuplicateDatabaseError:
            return False  # created concurrently by another process: the goal is met
        return True
    finally:
        await connection.close()


async def drop_database(server_url: str, database: str) -> None:
    """Drop `database` if it exists, closing the connections still open to it."""
    statement = f"DROP DATABASE IF EXISTS {_quoted(database)} WITH (FORCE)"
    connection = await asyncpg.connect(as_libpq(server_url))
    try:
        await connection.execute(statement)
    finally:
        await connection.close()
