"""Alembic, one history per service, driven from code (no alembic.ini to keep in step).

A service keeps its migrations in `<service>/adapters/migrations/`; its `env.py` is two lines:
`from caseflow_servicekit.migrations import run_env` and `run_env(<the service's metadata>)`.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData, pool, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from caseflow_servicekit.settings import async_database_url

# Names "migrating this database" among the advisory locks.
_MIGRATION_LOCK = 0x0CA5EF11


def alembic_config(database_url: str, script_location: Path) -> Config:
    """An Alembic config for one service's migrations and database."""
    config = Config()
    config.set_main_option("script_location", str(script_location))
    config.set_main_option("sqlalchemy.url", async_database_url(database_url).replace("%", "%%"))
    config.set_main_option("version_table", "alembic_version")
    return config


def upgrade(database_url: str, script_location: Path, revision: str = "head") -> None:
    """Migrate the database to `revision`."""
    command.upgrade(alembic_config(database_url, script_location), revision)


def revision(database_url: str, script_location: Path, message: str) -> None:
    """Autogenerate a new migration from the difference between metadata and database."""
    command.revision(
        alembic_config(database_url, script_location), message=message, autogenerate=True
    )


def run_env(metadata: MetaData) -> None:
    """The body of a service's `env.py`: run migrations online over asyncpg."""
    url = context.config.get_main_option("sqlalchemy.url")
    assert url is not None

    def do_run(connection: Connection) -> None:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            compare_type=True,
            transaction_per_migration=True,
        )
        with context.begin_transaction():
            context.run_migrations()

    async def run_async() -> None:
        engine = create_async_engine(url, poolclass=pool.NullPool)
        async with engine.connect() as connection:
            # Replicas starting together (Kubernetes init containers) take turns; the lock
            # goes with the connection.
            await connection.execute(text(f"SELECT pg_advisory_lock({_MIGRATION_LOCK})"))
            await connection.commit()
            await connection.run_sync(do_run)
            await connection.commit()
        await engine.dispose()

    if context.is_offline_mode():
        context.configure(url=url, target_metadata=metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
    else:
        asyncio.run(run_async())
