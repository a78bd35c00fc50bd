"""The whole-topic views share one consumer: each still reads its own topic whole, from the
beginning, and sees a record written after it started (read-your-writes)."""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaProducer, ConsumerRecord
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from app.worker.views import TopicView, TopicViews


def test_each_view_reads_its_own_topic_whole_through_one_consumer(
    bootstrap: str, names: dict[str, str]
) -> None:
    topics = [names["config_topic"], names["alerts_topic"]]

    async def scenario() -> tuple[dict[str, list[bytes]], list[bool], dict[str, list[bytes]]]:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            await admin.create_topics([NewTopic(topics[0], 1, 1), NewTopic(topics[1], 3, 1)])
        finally:
            await admin.close()
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
        await producer.start()
        try:
            for n in range(3):
                await producer.send_and_wait(topics[0], f"config {n}".encode(), key=b"k")
                for partition in range(3):
                    value = f"alert {n} on {partition}".encode()
                    await producer.send_and_wait(topics[1], value, partition=partition)
            read: dict[str, list[bytes]] = {topic: [] for topic in topics}

            def keep(topic: str) -> TopicView:
                def apply(record: ConsumerRecord[bytes, bytes]) -> None:
                    read[topic].append(record.value)

                return TopicView(topic, apply)

            views = [keep(topic) for topic in topics]
            reader = TopicViews(bootstrap, views)
            await reader.start()
            try:
                await asyncio.wait_for(asyncio.gather(*(v.ready.wait() for v in views)), 30)
                loaded = {topic: sorted(values) for topic, values in read.items()}
                ready = [v.ready.is_set() for v in views]
                written = await producer.send_and_wait(topics[1], b"later", partition=2)
                await views[1].wait_for(written.partition, written.offset, 30)
                return loaded, ready, read
            finally:
                await reader.stop()
        finally:
            await producer.stop()

    loaded, ready, read = asyncio.run(scenario())
    assert loaded == {
        topics[0]: [b"config 0", b"config 1", b"config 2"],
        topics[1]: sorted(f"alert {n} on {p}".encode() for n in range(3) for p in range(3)),
    }
    assert ready == [True, True]
    assert read[topics[1]][-1] == b"later" and b"later" not in read[topics[0]]
