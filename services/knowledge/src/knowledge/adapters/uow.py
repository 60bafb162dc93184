"""The knowledge service's unit of work over PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import caseflow_contracts as c
from caseflow_contracts import partition_key
from caseflow_servicekit import Outbox, SqlUnitOfWork
from knowledge.adapters.published import to_contract
from knowledge.adapters.repository import SqlArticleRepository, SqlCaseContexts
from knowledge.adapters.search import SqlArticleSearch
from knowledge.app.ports import TextEmbedder
from knowledge.domain.events import KnowledgeEvent


class SqlKnowledgeUnitOfWork(SqlUnitOfWork):
    """Articles, cases, search and event publication in one transaction."""

    articles: SqlArticleRepository
    cases: SqlCaseContexts
    search: SqlArticleSearch

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        outbox: Outbox,
        *,
        embedder: TextEmbedder | None = None,
    ) -> None:
        super().__init__(sessions, outbox)
        self._embedder = embedder

    async def on_open(self, session: AsyncSession) -> None:
        self.articles = SqlArticleRepository(session)
        self.cases = SqlCaseContexts(session)
        self.search = SqlArticleSearch(session, self._embedder)

    def emit(self, events: Iterable[KnowledgeEvent]) -> None:
        """Publish `events` when this unit of work commits, each keyed by its aggregate."""
        for event in events:
            contract = to_contract(event)
            key = partition_key(contract)
            self.record(contract, key=key, subject=key)

    def request(self, notification: c.NotificationRequested) -> None:
        """Ask intake, when this unit of work commits, to deliver a notification."""
        key = partition_key(notification)
        self.record(notification, key=key, subject=str(notification.case_id or key))
