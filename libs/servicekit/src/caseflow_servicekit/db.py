"""The async SQLAlchemy engine, and the tables every service carries: outbox and inbox."""

from __future__ import annotations

from sqlalchemy import (
    DDL,
    BigInteger,
    Column,
    DateTime,
    Identity,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    event,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from caseflow_servicekit.settings import async_database_url

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

OUTBOX_TABLE = "outbox"
INBOX_TABLE = "inbox"
OUTBOX_CHANNEL = "caseflow_outbox"

# Every insert into the outbox wakes the relay, at commit and once per transaction (PostgreSQL
# folds identical notifications), without a round trip of the writer's own. Migrations run the
# same statements.
OUTBOX_NOTIFY_DDL = (
    "CREATE OR REPLACE FUNCTION caseflow_outbox_notify() RETURNS trigger LANGUAGE plpgsql AS "
    f"$$ BEGIN PERFORM pg_notify('{OUTBOX_CHANNEL}', ''); RETURN NULL; END $$",
    f"CREATE TRIGGER outbox_notify AFTER INSERT ON {OUTBOX_TABLE} "
    "FOR EACH STATEMENT EXECUTE FUNCTION caseflow_outbox_notify()",
)


def new_metadata() -> MetaData:
    """A MetaData with Caseflow's naming convention and the outbox and inbox tables."""
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    outbox = Table(
        OUTBOX_TABLE,
        metadata,
        # Rows are relayed in id order, then kept for the retention window, marked with when
        # and to which Kafka cluster they went: a cluster that lost them is sent them again.
        Column("id", BigInteger, Identity(always=False), primary_key=True),
        Column("topic", String(255), nullable=False),
        Column("key", String(255), nullable=False),
        Column("payload", LargeBinary, nullable=False),
        Column("headers", JSONB, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("relayed_at", DateTime(timezone=True), nullable=True),
        Column("cluster_id", String(255), nullable=True),
    )
    # The relay looks only for rows not relayed yet, however many relayed ones are kept.
    Index(
        "ix_outbox_unrelayed",
        outbox.c.id,
        postgresql_where=outbox.c.relayed_at.is_(None),
    )
    for statement in OUTBOX_NOTIFY_DDL:
        event.listen(outbox, "after_create", DDL(statement))  # type: ignore[no-untyped-call]
    inbox = Table(
        INBOX_TABLE,
        metadata,
        # The consumer (its group) and the CloudEvents id it has applied.
        Column("consumer", String(200), primary_key=True),
        Column("event_id", String(200), primary_key=True),
        Column("topic", String(255), nullable=False),
        Column("partition", Integer, nullable=True),
        Column("offset", BigInteger, nullable=True),
        Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )
    Index("ix_inbox_received_at", inbox.c.received_at)  # what retention deletes by
    return metadata


# SQLSTATE classes of a database that does not answer now but will: connection exceptions,
# insufficient resources, operator intervention (shutting down, starting up).
UNAVAILABLE_SQLSTATE_CLASSES = ("08", "53", "57")


def sqlstate(exc: BaseException) -> str | None:
    """The SQLSTATE of a database error, whichever driver layer carries it."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        for attribute in ("sqlstate", "pgcode"):
            code = getattr(current, attribute, None)
            if isinstance(code, str) and code:
                return code
        current = getattr(current, "orig", None) or current.__cause__
    return None


def create_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    """An asyncpg engine for the service's database."""
    return create_async_engine(
        async_database_url(url),
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=False,
        pool_recycle=1800,
    )


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded objects usable after commit."""
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
