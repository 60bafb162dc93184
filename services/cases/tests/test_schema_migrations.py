"""The migrations build the schema the table models describe, and step back down cleanly."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, inspect
from sqlalchemy.ext.asyncio import create_async_engine

from caseflow_servicekit.migrations import alembic_config, upgrade
from caseflow_servicekit.settings import async_database_url
from cases.adapters.tables import metadata
from cases.bootstrap import MIGRATIONS

pytestmark = pytest.mark.service


def _differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(
        connection, opts={"compare_type": True, "compare_server_default": True}
    )
    return list(compare_metadata(context, metadata))


def _columns(connection: Connection) -> dict[str, set[str]]:
    found = inspect(connection)
    return {
        table: {column["name"] for column in found.get_columns(table)}
        for table in ("cases", "case_activities")
    }


async def _run(database_url: str, probe: Any) -> Any:
    engine = create_async_engine(async_database_url(database_url))
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(probe)
    finally:
        await engine.dispose()


async def test_the_migrated_schema_is_the_one_the_models_describe(fresh_database: str) -> None:
    await asyncio.to_thread(upgrade, fresh_database, MIGRATIONS)
    assert await _run(fresh_database, _differences) == []


async def test_mail_follow_ups_migrate_down_and_up_again(fresh_database: str) -> None:
    await asyncio.to_thread(upgrade, fresh_database, MIGRATIONS)
    config = alembic_config(fresh_database, MIGRATIONS)
    await asyncio.to_thread(command.downgrade, config, "0006")
    before = await _run(fresh_database, _columns)
    assert "attachments" not in before["cases"] | before["case_activities"]
    assert "related_case_id" not in before["cases"]
    assert "auto_reply" not in before["case_activities"]
    await asyncio.to_thread(command.upgrade, config, "head")
    after = await _run(fresh_database, _columns)
    assert {"attachments", "related_case_id", "related_number"} <= after["cases"]
    assert {
        "attachments",
        "interaction_id",
        "contact_id",
        "from_other_contact",
        "auto_reply",
    } <= after["case_activities"]
    assert await _run(fresh_database, _differences) == []
