"""Dead letters: where an event goes when it cannot be applied, and how it comes back.

A message is forwarded to `<topic>.dlq` with its original key, body and headers, plus
`x-dlq-*` headers that say what failed, where and when. `caseflow-dlq replay` publishes
dead letters back to their original topic once the cause is fixed.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from faststream.kafka import KafkaBroker

from caseflow_contracts import dlq
from caseflow_servicekit.metrics import KitMetrics

log = structlog.get_logger(__name__)

DLQ_PREFIX = "x-dlq-"
ERROR_MAX_CHARS = 2000


class DeadLetters:
    """Forwards messages that cannot be applied to their topic's dead-letter topic."""

    def __init__(self, broker: KafkaBroker, metrics: KitMetrics) -> None:
        self._broker = broker
        self._metrics = metrics

    async def forward(
        self,
        *,
        topic: str,
        partition: int,
        offset: int,
        key: bytes | None,
        body: bytes,
        headers: Mapping[str, str],
        consumer: str,
        reason: str,
        error: BaseException | str,
        attempts: int,
    ) -> None:
        """Publish the message to `<topic>.dlq`; retries until the broker takes it."""
        text = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
        dlq_headers = {
            **{k: v for k, v in headers.items() if not k.startswith(DLQ_PREFIX)},
            "x-dlq-reason": reason,
            "x-dlq-error": text[:ERROR_MAX_CHARS],
            "x-dlq-error-type": error if isinstance(error, str) else type(error).__qualname__,
            "x-dlq-original-topic": topic,
            "x-dlq-original-partition": str(partition),
            "x-dlq-original-offset": str(offset),
            "x-dlq-consumer": consumer,
            "x-dlq-attempts": str(attempts),
            "x-dlq-failed-at": datetime.now(UTC).isoformat(),
        }
        delay = 0.2
        while True:
            try:
                await self._broker.publish(body, topic=dlq(topic), key=key, headers=dlq_headers)
                break
            except Exception:
                # Losing the message is not an option: hold the partition until it is out.
                log.exception("dlq.forward_failed", topic=topic, retry_in=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
        self._metrics.dead_letters.labels(topic=topic, consumer=consumer, reason=reason).inc()
        log.warning(
            "dlq.forwarded",
            topic=topic,
            partition=partition,
            offset=offset,
            consumer=consumer,
            reason=reason,
            error=text[:300],
        )


def original_headers(headers: Sequence[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
    """The headers a dead letter had before it died."""
    return [(k, v) for k, v in headers if not k.startswith(DLQ_PREFIX)]


async def replay(
    *,
    bootstrap_servers: str,
    dlq_topic: str,
    group_id: str | None = None,
    limit: int | None = None,
    dry_run: bool = False,
    idle_timeout: float = 5.0,
) -> int:
    """Publish the dead letters of `dlq_topic` back to their original topic; returns how many.

    Only what is in the dead-letter topic when the replay starts is replayed: a message that
    fails again lands behind that mark and waits for the next replay. Progress is kept as the
    committed offsets of a consumer group, so a replay stopped half way resumes where it was.
    """
    if not dlq_topic.endswith(".dlq"):
        msg = f"{dlq_topic!r} is not a dead-letter topic (it must end in .dlq)"
        raise ValueError(msg)
    group = group_id or f"caseflow-dlq-replay.{dlq_topic}"
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers, acks="all")
    await consumer.start()
    await producer.start()
    count = 0
    try:
        if dlq_topic not in await consumer.topics():
            msg = f"there is no topic {dlq_topic!r}"
            raise ValueError(msg)
        partitions = [
            TopicPartition(dlq_topic, p)
            for p in sorted(consumer.partitions_for_topic(dlq_topic) or ())
        ]
        # Manual assignment: no group rebalance to wait for; the group only keeps offsets.
        consumer.assign(partitions)
        marks = await consumer.end_offsets(partitions)
        for tp in partitions:
            committed = await consumer.committed(tp)
            if committed is None:
                await consumer.seek_to_beginning(tp)
            else:
                consumer.seek(tp, committed)
        pending = {tp for tp in partitions if await consumer.position(tp) < marks[tp]}
        while pending and (limit is None or count < limit):
            batch = await consumer.getmany(
                *pending, timeout_ms=int(idle_timeout * 1000), max_records=100
            )
            if not batch:
                break
            for tp, records in batch.items():
                for record in records:
                    if record.offset >= marks[tp] or (limit is not None and count >= limit):
                        break
                    headers = {k: v.decode() for k, v in record.headers}
                    target = headers.get("x-dlq-original-topic") or dlq_topic.removesuffix(".dlq")
                    if not dry_run:
                        await producer.send_and_wait(
                            target,
                            record.value,
                            key=record.key,
                            headers=original_headers(record.headers),
                        )
                        await consumer.commit({tp: record.offset + 1})
                    count += 1
                    print(
                        f"{'would replay' if dry_run else 'replayed'} {tp.topic}[{tp.partition}]@"
                        f"{record.offset} -> {target}: {headers.get('x-dlq-reason', '?')}: "
                        f"{headers.get('x-dlq-error', '')[:200]}"
                    )
                if await consumer.position(tp) >= marks[tp]:
                    pending.discard(tp)
    finally:
        await consumer.stop()
        await producer.stop()
    return count


def main(argv: Sequence[str] | None = None) -> int:
    """`caseflow-dlq replay <topic>.dlq`: send dead letters back to their topic."""
    parser = argparse.ArgumentParser(prog="caseflow-dlq", description=main.__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    rp = sub.add_parser("replay", help="publish the dead letters of a topic back to it")
    rp.add_argument("dlq_topic", help="the dead-letter topic, e.g. cases.case.v1.dlq")
    rp.add_argument("--bootstrap-servers", default=None, help="default: $KAFKA_BOOTSTRAP_SERVERS")
    rp.add_argument("--group", default=None, help="consumer group that keeps replay progress")
    rp.add_argument("--limit", type=int, default=None, help="replay at most this many")
    rp.add_argument("--dry-run", action="store_true", help="list what would be replayed")
    args = parser.parse_args(argv)
    import os

    bootstrap = args.bootstrap_servers or os.environ.get(
        "KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"
    )
    try:
        count = asyncio.run(
            replay(
                bootstrap_servers=bootstrap,
                dlq_topic=args.dlq_topic,
                group_id=args.group,
                limit=args.limit,
                dry_run=args.dry_run,
            )
        )
    except ValueError as exc:
        print(f"caseflow-dlq: {exc}", file=sys.stderr)
        return 2
    print(f"{count} dead letter(s) {'found' if args.dry_run else 'replayed'} from {args.dlq_topic}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
