"""The customers' accounts announced by intake, kept by the cases service: their owners hear
of the contracts that name no other owner. Real PostgreSQL; events through TestKafkaBroker."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from faststream.kafka import TestKafkaBroker

import caseflow_contracts as c
from caseflow_contracts import topics
from caseflow_servicekit import ServiceApp, ServiceSettings
from caseflow_servicekit.auth import agent_id_of
from caseflow_servicekit.testing import bearer, eventually, publish_event, running
from cases.bootstrap import MIGRATIONS, build

pytestmark = pytest.mark.service

NOW = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
SUPERVISOR = agent_id_of("sam")
ACCOUNT = uuid.UUID(int=81)
OWNER, NEW_OWNER = uuid.UUID(int=82), uuid.UUID(int=83)


class FixedClock:
    def now(self) -> datetime:
        return NOW


class Desk:
    def __init__(self, app: ServiceApp, client: httpx.AsyncClient, broker: Any) -> None:
        self.app, self.client, self.broker = app, client, broker
        self.supervisor = bearer(app, "supervisor", subject="sam")

    async def announce(self, version: int, owner: uuid.UUID | None) -> None:
        event = c.AccountChanged(
            occurred_at=NOW,
            account_id=ACCOUNT,
            name="Initech",
            tier="gold",
            owner_id=owner,
            version=version,
        )
        await publish_event(self.broker, event, topic=topics.INTAKE_CUSTOMERS)

    async def owner_of_a_new_contract(self) -> str | None:
        r = await self.client.post(
            f"/accounts/{ACCOUNT}/contracts", headers=self.supervisor, json={"name": "Support"}
        )
        assert r.status_code == 201, r.text
        owner: str | None = r.json()["owner_id"]
        return owner


@pytest.fixture
async def desk(fresh_database: str) -> AsyncIterator[Desk]:
    settings = ServiceSettings(database_url=fresh_database, kafka_bootstrap_servers="test:9092")
    app = build(settings, clock=FixedClock(), configure_process=False)
    async with (
        TestKafkaBroker(app.kit.kafka) as broker,
        running(app, migrations=MIGRATIONS) as client,
    ):
        yield Desk(app, client, broker)


async def test_a_contract_naming_no_owner_goes_to_the_accounts_owner(desk: Desk) -> None:
    # Before intake announced the account, whoever drew the contract up owns it.
    assert await desk.owner_of_a_new_contract() == str(SUPERVISOR)
    await desk.announce(1, OWNER)

    async def owned_by_the_account_owner() -> bool | None:
        return True if await desk.owner_of_a_new_contract() == str(OWNER) else None

    await eventually(owned_by_the_account_owner)


async def test_an_older_announcement_never_replaces_a_newer_one(desk: Desk) -> None:
    await desk.announce(2, NEW_OWNER)
    await desk.announce(1, OWNER)  # arrives late
    await desk.announce(3, NEW_OWNER)

    async def settled() -> bool | None:
        consumed = sum(
            sample.value
            for metric in desk.app.kit.metrics.consumed.collect()
            for sample in metric.samples
            if sample.name.endswith("_total")
            and sample.labels.get("topic") == topics.INTAKE_CUSTOMERS
        )
        return True if consumed >= 3 else None

    await eventually(settled)
    assert await desk.owner_of_a_new_contract() == str(NEW_OWNER)


async def test_a_contract_naming_its_owner_keeps_it(desk: Desk) -> None:
    await desk.announce(1, OWNER)
    named = uuid.UUID(int=99)
    r = await desk.client.post(
        f"/accounts/{ACCOUNT}/contracts",
        headers=desk.supervisor,
        json={"name": "Support", "owner_id": str(named)},
    )
    assert r.status_code == 201, r.text
    assert r.json()["owner_id"] == str(named)
