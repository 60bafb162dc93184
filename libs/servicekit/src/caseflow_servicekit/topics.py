"""Creating the Kafka topics a service uses, on a broker that may not have them yet.

A service creates its topics at start and again when its broker turns out to be a new cluster
(the embedded broker loses everything when it restarts), before consumers subscribe to them
and before the outbox relay sends to them: left to auto-creation, they would get the broker's
default partition count, or not exist at all.
"""

from __future__ import annotations

from collections.abc import Iterable

import structlog
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

log = structlog.get_logger(__name__)

_NO_ERROR = 0
_TOPIC_ALREADY_EXISTS = 36  # Kafka protocol error code


async def create_topics(
    bootstrap_servers: str,
    topics: Iterable[str],
    *,
    partitions: int,
    replication_factor: int = 1,
    client_id: str = "caseflow",
    timeout: float = 10.0,
) -> list[str]:
    """Create those of `topics` the cluster lacks; the ones this call created.

    Topics that exist already, or that another service creates at the same moment, are left
    as they are.
    """
    wanted = sorted(set(topics))
    if not wanted:
        return []
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap_servers,
        client_id=client_id,
        request_timeout_ms=int(timeout * 1000),
    )
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [topic for topic in wanted if topic not in existing]
        if not missing:
            return []
        response = await admin.create_topics(
            [NewTopic(topic, partitions, replication_factor) for topic in missing],
            timeout_ms=int(timeout * 1000),
        )
    finally:
        await admin.close()
    created: list[str] = []
    failures: list[str] = []
    for result in response.to_object()["topic_errors"]:
        if result["error_code"] == _NO_ERROR:
            created.append(result["topic"])
        elif result["error_code"] != _TOPIC_ALREADY_EXISTS:
            failures.append(f"{result['topic']}: error {result['error_code']}")
    if failures:
        msg = "could not create Kafka topics: " + "; ".join(failures)
        raise RuntimeError(msg)
    if created:
        log.info("kafka.topics_created", topics=created, partitions=partitions)
    return created
