"""The routing service's unit of work over PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import caseflow_contracts as c
from caseflow_contracts.ids import random_uuid
from caseflow_servicekit import Outbox, SqlUnitOfWork
from caseflow_servicekit.cache import TtlCache
from routing.adapters.directory import SqlAgentRepository, SqlTeamRepository
from routing.adapters.published import agent_event, to_contract
from routing.adapters.repository import (
    SqlCaseProjection,
    SqlQueueItemRepository,
    SqlQueueRepository,
    SqlRuleRepository,
)
from routing.app.ports import AgentEntry
from routing.domain import Queue, QueueItem, RoutingEvent

ASSIGNED_TEMPLATE = "case.assigned"
"""The notification template telling an agent of new work (rendered by intake)."""


class SqlRoutingUnitOfWork(SqlUnitOfWork):
    """Routing's repositories and event publication in one transaction."""

    queues: SqlQueueRepository
    rules: SqlRuleRepository
    agents: SqlAgentRepository
    teams: SqlTeamRepository
    queue_items: SqlQueueItemRepository
    cases: SqlCaseProjection

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        outbox: Outbox,
        *,
        cache: TtlCache[Any] | None = None,
    ) -> None:
        super().__init__(sessions, outbox)
        self._cache = cache

    async def on_open(self, session: AsyncSession) -> None:
        self.queues = SqlQueueRepository(session, self._cache)
        self.rules = SqlRuleRepository(session, self._cache)
        self.agents = SqlAgentRepository(session)
        self.teams = SqlTeamRepository(session)
        self.queue_items = SqlQueueItemRepository(session)
        self.cases = SqlCaseProjection(session)

    def emit(self, events: Iterable[RoutingEvent], *, queue: Queue) -> None:
        """Publish `events` when this unit of work commits, keyed by their case."""
        for event in events:
            self.record(
                to_contract(event, queue=queue),
                key=str(event.case_id),
                subject=str(event.case_id),
            )

    def publish_agent(self, entry: AgentEntry, *, kind: str, at: datetime, **extra: Any) -> None:
        """Publish the agent's entry whole when this unit of work commits."""
        self.record(
            agent_event(entry, kind=kind, at=at, **extra),
            key=str(entry.agent_id),
            subject=str(entry.agent_id),
        )

    async def notify_assignee(self, item: QueueItem, *, agent_id: UUID, queue: Queue) -> None:
        """Ask intake to tell the agent of the case they were given, when this commits."""
        contact = await self.agents.contact(agent_id)
        number, subject = await self.cases.summary(item.case_id) or (str(item.case_id), "")
        parameters = {
            "number": number,
            "subject": subject,
            "queue": queue.name,
            "priority": item.priority,
        }
        name, language = contact if contact is not None else (None, None)
        if name is not None:
            parameters["recipient_name"] = name
        language = language or "en"
        notification = c.NotificationRequested(
            occurred_at=item.worked_since or item.entered_at,
            notification_id=random_uuid(),
            recipient=c.Recipient(kind=c.RecipientKind.AGENT, id=agent_id),
            template=ASSIGNED_TEMPLATE,
            language=language,
            case_id=item.case_id,
            parameters=parameters,
        )
        self.record(notification, key=str(notification.notification_id), subject=str(item.case_id))
