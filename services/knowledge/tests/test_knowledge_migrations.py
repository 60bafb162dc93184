"""The migrations build the schema the table models describe, and step back down cleanly."""

from __future__ import annotations

import asyncio

import pytest
from alembic import command
from sqlalchemy import Connection, inspect

from caseflow_servicekit.migrations import alembic_config, upgrade
from caseflow_servicekit.testing import on_connection, schema_differences
from knowledge.adapters.tables import metadata
from knowledge.bootstrap import MIGRATIONS

pytestmark = pytest.mark.service

_differences = schema_differences(metadata)


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


async def test_the_migrated_schema_is_the_one_the_models_describe(fresh_database: str) -> None:
    await asyncio.to_thread(upgrade, fresh_database, MIGRATIONS)
    assert await on_connection(fresh_database, _differences) == []


async def test_versions_and_languages_migrate_down_and_up_again(fresh_database: str) -> None:
    await asyncio.to_thread(upgrade, fresh_database, MIGRATIONS)
    config = alembic_config(fresh_database, MIGRATIONS)
    await asyncio.to_thread(command.downgrade, config, "0002")
    assert "article_versions" not in await on_connection(fresh_database, _tables)
    await asyncio.to_thread(command.upgrade, config, "head")
    assert "article_versions" in await on_connection(fresh_database, _tables)
    assert await on_connection(fresh_database, _differences) == []
