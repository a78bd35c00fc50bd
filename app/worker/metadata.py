"""A topic's partitions from a fresh metadata answer, for the engine's group-less consumers.

aiokafka's ``consumer.partitions_for_topic`` reads the client's cached metadata, which only
covers the topics the client tracks: a consumer without a group tracks none, so on Apache Kafka
it never sees a topic (Tansu answers with every topic, which hid this). ``consumer.topics()``
fetches every topic's metadata but only returns the names. Right after creation a topic may also
be listed before its partitions have leaders; reading such a partition fails, so a topic counts
as present only once every partition has a leader.
"""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer


async def topic_partitions(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    """The partition ids of ``topic``, empty while it does not exist or lacks a leader."""
    cluster = await consumer._client.fetch_all_metadata()
    partitions = cluster.partitions_for_topic(topic) or set()
    with_leader = cluster.available_partitions_for_topic(topic) or set()
    return set(partitions) if partitions and partitions == with_leader else set()
