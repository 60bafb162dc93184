"""Events written to the outbox before the commit, against a real PostgreSQL: they keep their
order and go out only with the transaction that recorded them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

import caseflow_contracts as c
from caseflow_servicekit import Kit, ServiceSettings, SqlUnitOfWork, new_metadata

pytestmark = pytest.mark.service

metadata = new_metadata()


def _opened(subject: str) -> c.Event:
    return c.sample("case.opened").model_copy(
        update={"case_id": uuid.uuid4(), "subject": subject, "occurred_at": datetime.now(UTC)}
    )


async def test_events_written_early_go_out_in_order_and_only_if_the_transaction_commits(
    fresh_database: str,
) -> None:
    url = fresh_database.replace("postgresql://", "postgresql+asyncpg://")
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    kit = Kit(
        service="kit-early",
        settings=ServiceSettings(database_url=fresh_database),
        metadata=metadata,
        configure_process=False,
    )

    def record(uow: SqlUnitOfWork, subject: str) -> None:
        uow.record(_opened(subject), key=subject, subject=subject)

    async def subjects() -> list[str]:
        async with engine.connect() as conn:
            rows = await conn.execute(text("SELECT headers->>'ce_subject' FROM outbox ORDER BY id"))
            return [row[0] for row in rows]

    try:
        async with SqlUnitOfWork(kit.sessions, kit.outbox) as uow:
            record(uow, "rolled back")
            await uow.write_events()
            seen = await uow.session.scalar(text("SELECT count(*) FROM outbox"))
            assert seen == 1  # written, in the transaction
        assert await subjects() == []  # never committed: never published

        async with SqlUnitOfWork(kit.sessions, kit.outbox) as uow:
            record(uow, "first")
            await uow.write_events()
            record(uow, "second")
            await uow.write_events()
            record(uow, "third")
            await uow.commit()
        assert await subjects() == ["first", "second", "third"]
    finally:
        await kit.engine.dispose()
        await engine.dispose()
