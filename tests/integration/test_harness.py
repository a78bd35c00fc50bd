"""The harness's topic reader counts what is on a topic, not what its first fetch returned."""

from __future__ import annotations

import asyncio
import json

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from tests.integration.harness import produce_aiokafka, read_topic


def test_read_topic_reads_every_partition_to_its_end_before_counting(
    bootstrap: str, names: dict[str, str]
) -> None:
    topic = names["alerts_topic"]

    async def create() -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            await admin.create_topics([NewTopic(topic, 4, 1)])
        finally:
            await admin.close()

    asyncio.run(create())
    messages = [(f"host-{i % 40}".encode(), json.dumps({"n": i}).encode()) for i in range(2000)]
    produce_aiokafka(bootstrap, topic, messages)
    # a check satisfied by the first record read still sees all of them
    records = read_topic(bootstrap, topic, lambda rs: len(rs) >= 1)
    assert sorted(r["value"]["n"] for r in records) == list(range(2000))
    assert len({r["partition"] for r in records}) == 4
    # and "to the end" is one call
    assert len(read_topic(bootstrap, topic, lambda rs: True)) == 2000
