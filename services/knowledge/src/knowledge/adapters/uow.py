"""The knowledge service's unit of work over PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncSession

from caseflow_contracts import partition_key
from caseflow_servicekit import SqlUnitOfWork
from knowledge.adapters.published import to_contract
from knowledge.adapters.repository import SqlArticleRepository
from knowledge.domain.events import KnowledgeEvent


class SqlKnowledgeUnitOfWork(SqlUnitOfWork):
    """Article repository and event publication in one transaction."""

    articles: SqlArticleRepository

    async def on_open(self, session: AsyncSession) -> None:
        self.articles = SqlArticleRepository(session)

    def emit(self, events: Iterable[KnowledgeEvent]) -> None:
        """Publish `events` when this unit of work commits, each keyed by its aggregate."""
        for event in events:
            contract = to_contract(event)
            key = partition_key(contract)
            self.record(contract, key=key, subject=key)
