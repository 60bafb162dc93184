"""Intake's copy of the accounts' contracts, kept from cases.contract.v1 for the screen-pop:
the highest version's terms, the latest status, each line's remaining, in any order."""

from __future__ import annotations

import random
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from faststream.kafka import KafkaBroker, TestKafkaBroker
from sqlalchemy import select

import caseflow_contracts as c
from caseflow_contracts import topics
from caseflow_servicekit import ServiceApp
from caseflow_servicekit.testing import publish_event, running
from intake.adapters.tables import account_contracts
from intake.bootstrap import MIGRATIONS, build
from intake.settings import IntakeSettings

pytestmark = pytest.mark.service

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
ACCOUNT = uuid.UUID(int=1)
CONTRACT = uuid.UUID(int=10)
REPAIRS = uuid.UUID(int=11)
MINUTES = uuid.UUID(int=12)


@pytest.fixture
async def intake(fresh_database: str) -> AsyncIterator[tuple[ServiceApp, KafkaBroker]]:
    settings = IntakeSettings(database_url=fresh_database, kafka_bootstrap_servers="test:9092")
    app = build(settings, configure_process=False)
    async with TestKafkaBroker(app.kit.kafka) as broker, running(app, migrations=MIGRATIONS):
        yield app, broker


def common(at: int, status: c.ContractStatus) -> dict[str, Any]:
    return {
        "contract_id": CONTRACT,
        "number": "CON-2026-0042",
        "account_id": ACCOUNT,
        "status": status,
        "occurred_at": T0 + timedelta(minutes=at),
    }


def line(line_id: uuid.UUID, number: int, allocation: c.Allocation, allotment: int) -> Any:
    return c.ContractLineSpec(
        line_id=line_id,
        number=number,
        name="Repairs" if line_id == REPAIRS else "Phone minutes",
        allocation=allocation,
        allotment=allotment,
        starts_on=date(2026, 3, 1),
        ends_on=date(2027, 2, 28),
    )


def snapshot(kind: type[c.Event], at: int, version: int, repairs: int, **extra: Any) -> c.Event:
    return kind(
        **common(at, extra.pop("status", c.ContractStatus.DRAFT)),
        name=extra.pop("name", "Gold support"),
        starts_on=date(2026, 3, 1),
        ends_on=date(2027, 2, 28),
        lines=[
            line(REPAIRS, 1, c.Allocation.CASES, repairs),
            *extra.pop("lines", []),
        ],
        version=version,
    )


def drawn(at: int, line_id: uuid.UUID, allotment: int, remaining: int) -> c.Event:
    return c.ContractLineDrawnDown(
        **common(at, c.ContractStatus.ACTIVE),
        line_id=line_id,
        line_number=1 if line_id == REPAIRS else 2,
        allocation=c.Allocation.CASES if line_id == REPAIRS else c.Allocation.MINUTES,
        allotment=allotment,
        remaining=remaining,
        entry_id=uuid.uuid4(),
        case_id=uuid.uuid4(),
        amount=allotment - remaining,
    )


HISTORY: list[c.Event] = [
    snapshot(c.ContractCreated, 0, 1, 10),
    c.ContractActivated(**common(5, c.ContractStatus.ACTIVE)),
    drawn(10, REPAIRS, 10, 9),
    drawn(20, REPAIRS, 10, 8),
    # The allotment raised, and a line of minutes added.
    snapshot(
        c.ContractUpdated,
        30,
        2,
        15,
        status=c.ContractStatus.ACTIVE,
        name="Gold support+",
        lines=[line(MINUTES, 2, c.Allocation.MINUTES, 600)],
    ),
    drawn(40, MINUTES, 600, 555),
    c.ContractAllotmentLow(
        **common(41, c.ContractStatus.ACTIVE),
        line_id=REPAIRS,
        line_number=1,
        allocation=c.Allocation.CASES,
        allotment=15,
        remaining=13,
        threshold=3,
    ),
    c.ContractHeld(**common(50, c.ContractStatus.ON_HOLD), reason="Invoice overdue"),
]


async def held(app: ServiceApp) -> dict[str, Any] | None:
    async with app.kit.engine.connect() as conn:
        row = (await conn.execute(select(account_contracts))).mappings().first()
    return None if row is None else dict(row)


async def publish(broker: KafkaBroker, events: list[c.Event]) -> None:
    for event in events:
        await publish_event(broker, event, topic=topics.CONTRACTS)


def lines_of(row: dict[str, Any]) -> list[tuple[str, int, int]]:
    return [(x["name"], x["allotment"], x["remaining"]) for x in row["lines"]]


async def test_the_copy_follows_a_contract_through_its_life(
    intake: tuple[ServiceApp, KafkaBroker],
) -> None:
    app, broker = intake
    await publish(broker, HISTORY)
    row = await held(app)
    assert row is not None
    assert (row["number"], row["name"], row["status"], row["version"]) == (
        "CON-2026-0042",
        "Gold support+",
        "on_hold",
        2,
    )
    assert (row["account_id"], row["starts_on"], row["ends_on"]) == (
        ACCOUNT,
        date(2026, 3, 1),
        date(2027, 2, 28),
    )
    # Two cases drawn of a raised allotment; 45 minutes of 600.
    assert lines_of(row) == [("Repairs", 15, 13), ("Phone minutes", 600, 555)]
    assert row["updated_at"] == T0 + timedelta(minutes=50)


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_the_copy_is_the_same_in_any_order_and_with_repeats(
    intake: tuple[ServiceApp, KafkaBroker], seed: int
) -> None:
    app, broker = intake
    shuffled = HISTORY + HISTORY[::2]
    random.Random(seed).shuffle(shuffled)
    await publish(broker, shuffled)
    row = await held(app)
    assert row is not None
    assert (row["name"], row["status"], row["version"]) == ("Gold support+", "on_hold", 2)
    assert lines_of(row) == [("Repairs", 15, 13), ("Phone minutes", 600, 555)]


async def test_a_line_event_before_its_contract_makes_a_copy_the_contract_completes(
    intake: tuple[ServiceApp, KafkaBroker],
) -> None:
    app, broker = intake
    await publish(broker, [drawn(10, REPAIRS, 10, 9)])
    early = await held(app)
    assert early is not None
    assert (early["status"], early["version"], early["name"]) == ("active", 0, "")
    assert lines_of(early) == [("", 10, 9)]
    await publish(broker, [HISTORY[0]])
    row = await held(app)
    assert row is not None
    # The status stays the later event's; the terms are the contract's.
    assert (row["status"], row["version"], row["name"]) == ("active", 1, "Gold support")
    assert lines_of(row) == [("Repairs", 10, 9)]
