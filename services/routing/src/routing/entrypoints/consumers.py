"""Kafka subscribers of the routing service: thin, they translate and hand over."""

from __future__ import annotations

from collections.abc import Callable

import caseflow_contracts as c
from caseflow_contracts import topics
from caseflow_servicekit import Clock, EventConsumers
from routing.adapters.uow import SqlRoutingUnitOfWork
from routing.app.handlers import RouteCase, route_case


def register(
    consumers: EventConsumers,
    *,
    uow_factory: Callable[[], SqlRoutingUnitOfWork],
    clock: Clock,
) -> None:
    """Subscribe the routing service to the cases it must place in queues."""

    async def on_case_opened(
        event: c.Event, envelope: c.Envelope, uow: SqlRoutingUnitOfWork
    ) -> None:
        assert isinstance(event, c.CaseOpened)
        await route_case(
            RouteCase(
                case_id=event.case_id,
                number=event.number,
                channel=event.channel.value,
                priority=event.priority.value,
                subject=event.subject,
                opened_at=event.occurred_at,
                request_type=event.request_type,
                account_id=event.account_id,
            ),
            uow=uow,
            now=clock.now(),
        )

    consumers.subscribe(
        topics.CASES, on_case_opened, uow_factory=uow_factory, events={"case.opened"}
    )
