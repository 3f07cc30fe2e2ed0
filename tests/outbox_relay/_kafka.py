"""Reading what the relay wrote to the session's Kafka-compatible broker (Tansu)."""

from __future__ import annotations

import dataclasses
import json
import uuid
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic


@dataclasses.dataclass(frozen=True)
class Record:
    """One record of a topic."""

    topic: str
    partition: int
    offset: int
    key: str
    headers: dict[str, bytes]
    value: bytes

    @property
    def payload(self) -> dict[str, Any]:
        """The value as JSON."""
        return dict(json.loads(self.value))


def create_topic(
    bootstrap: str, partitions: int, name: str | None = None, *, exist_ok: bool = False
) -> str:
    """Create a topic with ``partitions`` partitions (a new name unless given)."""
    name = name or f"t-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.create_topics([NewTopic(name, partitions, 1)]).values():
        try:
            future.result(30)
        except KafkaException as error:
            if not (exist_ok and error.args[0].code() == KafkaError.TOPIC_ALREADY_EXISTS):
                raise
    return name


def topics(bootstrap: str) -> dict[str, int]:
    """Every topic and its partition count."""
    metadata = AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=30)
    return {name: len(topic.partitions) for name, topic in metadata.topics.items()}


def read_topic(bootstrap: str, topic: str) -> list[Record]:
    """Every record of ``topic``, partition by partition, each in offset order.

    Reads each partition up to its end as the fetches report it (Tansu 0.6's ListOffsets
    answers are not the log end, so the watermarks are not used).
    """
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"reader-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
        }
    )
    try:
        partitions = consumer.list_topics(topic, timeout=30).topics[topic].partitions
        consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
        records: list[Record] = []
        left = set(partitions)
        while left:
            message = consumer.poll(30)
            assert message is not None, f"no record or end within 30 s; waiting for {left}"
            error = message.error()
            if error is not None:
                assert error.code() == KafkaError._PARTITION_EOF, error
                left.discard(message.partition() or 0)
                continue
            records.append(
                Record(
                    topic,
                    message.partition() or 0,
                    message.offset() or 0,
                    (message.key() or b"").decode(),
                    dict(message.headers() or []),
                    message.value() or b"",
                )
            )
        return sorted(records, key=lambda r: (r.partition, r.offset))
    finally:
        consumer.close()
