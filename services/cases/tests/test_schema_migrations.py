"""The migrations build the schema the table models describe, and step back down cleanly."""

from __future__ import annotations

import asyncio

import pytest
from alembic import command
from sqlalchemy import Connection, inspect

from caseflow_servicekit.migrations import alembic_config, upgrade
from caseflow_servicekit.testing import on_connection, schema_differences
from cases.adapters.tables import metadata
from cases.bootstrap import MIGRATIONS

pytestmark = pytest.mark.service


_differences = schema_differences(metadata)


def _columns(connection: Connection) -> dict[str, set[str]]:
    found = inspect(connection)
    return {
        table: {column["name"] for column in found.get_columns(table)}
        for table in ("cases", "case_activities")
    }


async def test_the_migrated_schema_is_the_one_the_models_describe(fresh_database: str) -> None:
    await asyncio.to_thread(upgrade, fresh_database, MIGRATIONS)
    assert await on_connection(fresh_database, _differences) == []


async def test_mail_follow_ups_migrate_down_and_up_again(fresh_database: str) -> None:
    await asyncio.to_thread(upgrade, fresh_database, MIGRATIONS)
    config = alembic_config(fresh_database, MIGRATIONS)
    await asyncio.to_thread(command.downgrade, config, "0006")
    before = await on_connection(fresh_database, _columns)
    assert "attachments" not in before["cases"] | before["case_activities"]
    assert "related_case_id" not in before["cases"]
    assert "auto_reply" not in before["case_activities"]
    await asyncio.to_thread(command.upgrade, config, "head")
    after = await on_connection(fresh_database, _columns)
    assert {"attachments", "related_case_id", "related_number"} <= after["cases"]
    assert {
        "attachments",
        "interaction_id",
        "contact_id",
        "from_other_contact",
        "auto_reply",
    } <= after["case_activities"]
    assert await on_connection(fresh_database, _differences) == []
