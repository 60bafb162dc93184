import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from caseflow_devstack.broker import EmbeddedKafka, create_topics, wait_for_kafka
from caseflow_devstack.errors import InfrastructureError
from caseflow_devstack.ports import free_port


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedKafka]:
    with EmbeddedKafka(log_file=tmp_path_factory.mktemp("tansu") / "tansu.log") as kafka:
        yield kafka


async def _partitions(bootstrap: str, topic: str) -> int:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        (described,) = await admin.describe_topics([topic])
        return len(described["partitions"])
    finally:
        await admin.close()


async def test_create_topics_is_idempotent(broker: EmbeddedKafka) -> None:
    topic = f"devstack.idempotent-{uuid.uuid4().hex[:8]}.v1"
    wanted = [topic, f"{topic}.dlq", topic]

    assert await create_topics(broker.bootstrap_servers, wanted) == [topic, f"{topic}.dlq"]
    assert await create_topics(broker.bootstrap_servers, wanted, partitions=5) == []
    assert await _partitions(broker.bootstrap_servers, topic) == 3


async def test_a_message_produced_is_consumed_by_a_group(broker: EmbeddedKafka) -> None:
    topic = f"devstack.roundtrip-{uuid.uuid4().hex[:8]}.v1"
    await create_topics(broker.bootstrap_servers, [topic], partitions=1)
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap_servers)
    await producer.start()
    try:
        await producer.send_and_wait(topic, b'{"case": 1}', key=b"case-1")
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=broker.bootstrap_servers,
        group_id=f"devstack-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        message = await consumer.getone()
        await consumer.commit()
    finally:
        await consumer.stop()
    assert (message.key, message.value) == (b"case-1", b'{"case": 1}')


async def test_stop_ends_the_broker_process(tmp_path: Path) -> None:
    kafka = EmbeddedKafka(log_file=tmp_path / "tansu.log")
    kafka.start()
    assert kafka.running
    kafka.stop()
    assert not kafka.running
    with pytest.raises(InfrastructureError, match="did not answer"):
        await wait_for_kafka(kafka.bootstrap_servers, within=0.2)


async def test_waiting_reports_a_broker_that_died_without_waiting_out_the_deadline() -> None:
    with pytest.raises(InfrastructureError, match="exited while starting"):
        await wait_for_kafka(f"127.0.0.1:{free_port()}", within=60.0, alive=lambda: False)
