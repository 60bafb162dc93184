import socket
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
import pytest

from caseflow_devstack.errors import InfrastructureError
from caseflow_devstack.postgres import EmbeddedPostgres


async def _fetch(url: str, query: str) -> object:
    connection = await asyncpg.connect(url)
    try:
        return await connection.fetchval(query)
    finally:
        await connection.close()


async def test_answers_over_tcp_and_creates_databases_once(tmp_path: Path) -> None:
    with EmbeddedPostgres(tmp_path / "data") as server:
        assert (
            server.url("caseflow_x") == f"postgresql://postgres@127.0.0.1:{server.port}/caseflow_x"
        )
        assert await _fetch(server.url(), "SELECT 1") == 1
        assert await _fetch(server.url(), "SHOW server_encoding") == "UTF8"
        assert await _fetch(server.url(), "SHOW max_connections") == "300"

        assert server.ensure_database("caseflow_cases") is True
        assert server.ensure_database("caseflow_cases") is False
        assert await _fetch(server.url("caseflow_cases"), "SELECT current_database()") == (
            "caseflow_cases"
        )
    assert not server.running


async def test_restart_on_the_same_data_directory_keeps_the_data(tmp_path: Path) -> None:
    server = EmbeddedPostgres(tmp_path / "data")
    server.start()
    try:
        connection = await asyncpg.connect(server.url())
        await connection.execute("CREATE TABLE kept (note text)")
        await connection.execute("INSERT INTO kept VALUES ('survives a restart')")
        await connection.close()
        first_pid = server.pid
        server.stop()
        assert not server.running

        server.start()
        assert server.pid != first_pid
        assert await _fetch(server.url(), "SELECT note FROM kept") == "survives a restart"
    finally:
        server.stop()


async def test_a_data_directory_too_deep_for_a_unix_socket_still_works(tmp_path: Path) -> None:
    deep = tmp_path.joinpath(*(["deep-directory-name"] * 6), "data")
    with EmbeddedPostgres(deep) as server:
        assert len(str(deep / f".s.PGSQL.{server.port}")) > 107
        assert await _fetch(server.url(), "SELECT 2") == 2


def test_a_start_that_fails_says_why_with_the_server_log(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        server = EmbeddedPostgres(tmp_path / "data", port=taken.getsockname()[1])
        with pytest.raises(InfrastructureError, match="exited with code") as failure:
            server.start()
    assert "could not" in str(failure.value)
    assert str(server.log_file) in str(failure.value)
    assert not server.running
