"""A consumer rewound after the broker lost its log seeks to the start now, or at its next
assignment when it cannot now; it never resumes at a position of the old log."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from caseflow_servicekit.consumer import _Rewinder

P0, P1 = ("t", 0), ("t", 1)


class FakeConsumer:
    def __init__(self, assigned: set[Any], *, commit_fails: bool = False) -> None:
        self.assigned = assigned
        self.commit_fails = commit_fails
        self.seeks: list[tuple[Any, ...]] = []
        self.commits: list[dict[Any, int]] = []

    def assignment(self) -> set[Any]:
        return self.assigned

    async def seek_to_beginning(self, *partitions: Any) -> None:
        self.seeks.append(tuple(sorted(partitions)))

    async def beginning_offsets(self, partitions: Any) -> dict[Any, int]:
        return dict.fromkeys(partitions, 0)

    async def commit(self, offsets: dict[Any, int]) -> None:
        if self.commit_fails:
            raise RuntimeError("rebalance in progress")
        self.commits.append(offsets)


def rewinder(consumer: FakeConsumer) -> _Rewinder:
    r = _Rewinder()
    r.subscriber = SimpleNamespace(consumer=consumer)
    r.pending = True
    return r


async def test_an_assigned_consumer_seeks_and_commits_the_start_at_once() -> None:
    consumer = FakeConsumer({P0, P1})
    r = rewinder(consumer)
    await r.rewind_now()
    assert consumer.seeks == [(P0, P1)]
    assert consumer.commits == [{P0: 0, P1: 0}]
    assert not r.pending
    await r.on_partitions_assigned({P0})  # a later rebalance reads on from where it is
    assert consumer.seeks == [(P0, P1)]


async def test_a_rejoining_consumer_seeks_when_its_partitions_are_assigned() -> None:
    consumer = FakeConsumer(set())
    r = rewinder(consumer)
    await r.rewind_now()
    assert consumer.seeks == [] and r.pending
    await r.on_partitions_assigned({P1})
    assert consumer.seeks == [(P1,)]
    assert not r.pending
    await r.on_partitions_assigned({P0, P1})
    assert consumer.seeks == [(P1,)]


async def test_a_commit_refused_in_a_rebalance_leaves_the_seek_to_the_next_assignment() -> None:
    consumer = FakeConsumer({P0}, commit_fails=True)
    r = rewinder(consumer)
    await r.rewind_now()
    assert r.pending
    await r.on_partitions_assigned({P0})
    assert consumer.seeks == [(P0,), (P0,)]
    assert not r.pending


async def test_a_consumer_not_started_is_left_for_its_first_assignment() -> None:
    r = _Rewinder()
    r.pending = True
    await r.rewind_now()
    await r.on_partitions_assigned({P0})  # no consumer yet: nothing to seek, nothing raised
    assert r.pending


async def test_a_commit_asked_before_the_rewind_lands_before_the_rewinds_own() -> None:
    consumer = FakeConsumer({P0})
    r = rewinder(consumer)
    coordinator_back = asyncio.Event()

    async def ack_of_a_batch_read_on_the_old_log() -> None:
        async with r.committing:
            await coordinator_back.wait()  # the client retries until the new cluster answers
            await consumer.commit({P0: 900})

    ack = asyncio.create_task(ack_of_a_batch_read_on_the_old_log())
    await asyncio.sleep(0)
    rewind = asyncio.create_task(r.rewind_now())
    await asyncio.sleep(0.01)
    assert consumer.seeks == [], "the rewind went ahead of a commit in flight"
    coordinator_back.set()
    await asyncio.gather(ack, rewind)
    assert consumer.commits == [{P0: 900}, {P0: 0}]  # a rejoin resumes from the start
    assert not r.pending
