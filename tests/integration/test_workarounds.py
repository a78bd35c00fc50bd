"""Each workaround the engine carries for the Tansu broker is harmless on any broker, Apache Kafka
included (the integration suite runs on Apache Kafka where Java 17+ is present).

- ``app/worker/offsets.py``: end offsets corrected with a fetch equal the true end, and leave a right
  ListOffsets answer unchanged.
- ``app/worker/transport.py``, the fetch wait lowered to 10 ms: an idle worker still scores the next
  point and publishes its incident once.
- ``app/worker/transport.py``, the ack-less reply consumer behind routed REST scoring (``agent.ask``):
  requests routed to another worker are answered, before and after a rebalance, and a reply read
  twice does not stop a worker.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from app.worker.engine import partition_for
from app.worker.offsets import fetched_end_offsets
from tests.integration.harness import (
    EngineProcess,
    point,
    produce_aiokafka,
    read_topic,
    two_configured_workers,
    wait_until,
)

T0 = 1795766400.0


async def _end_offsets(bootstrap: str, topic: str) -> tuple[int, int, int]:
    """(ListOffsets' end, the corrected end, the correction of a right answer) of partition 0."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    await consumer.start()
    try:
        tp = TopicPartition(topic, 0)
        listed = (await consumer.end_offsets([tp]))[tp]
    finally:
        await consumer.stop()
    corrected = (await fetched_end_offsets(bootstrap, {tp: listed}))[tp]
    unchanged = (await fetched_end_offsets(bootstrap, {tp: corrected}))[tp]
    return listed, corrected or 0, unchanged or 0


async def _create(bootstrap: str, topic: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, 1, 1)])
    finally:
        await admin.close()


def test_corrected_end_offsets_are_the_true_end_on_this_broker(bootstrap: str) -> None:
    topic = f"it-offsets-{uuid.uuid4().hex[:8]}"
    asyncio.run(_create(bootstrap, topic))
    produce_aiokafka(bootstrap, topic, [(b"k", b"%d" % i) for i in range(5)])  # one batch
    produce_aiokafka(bootstrap, topic, [(b"k", b"%d" % i) for i in range(5, 8)])
    records = read_topic(bootstrap, topic, lambda rs: len(rs) >= 8)
    assert len(records) == 8

    listed, corrected, unchanged = asyncio.run(_end_offsets(bootstrap, topic))

    assert corrected == 8  # the next offset after the last record, whatever ListOffsets said
    assert unchanged == 8  # a right answer is kept as it is
    assert listed <= corrected  # the correction only ever moves the end forward


def test_an_idle_worker_on_the_low_fetch_wait_scores_the_next_point_once(
    engine: EngineProcess, bootstrap: str, names: dict[str, str]
) -> None:
    config = {
        "configs": [
            {
                "model_id": "m",
                "model_version": "1",
                "detector": "zscore",
                "params": {"mean": [100.0], "std": [5.0], "threshold": 3.0},
                "cooldown": 1,
            }
        ]
    }
    assert engine.post("/anomaly/config", config).status_code == 200
    # Ready, the worker has been polling empty topics every 10 ms; one point arrives now.
    produce_aiokafka(bootstrap, names["metrics_topic"], [(b"h", point("m", "h", T0, [200.0]))])
    alerts = read_topic(bootstrap, names["alerts_topic"], lambda rs: len(rs) >= 1)
    opened = [r["value"] for r in alerts if r["value"] and r["value"].get("entity") == "h"]
    assert len(opened) == 1 and opened[0]["ts"] == T0
    assert [a["incident_id"] for a in engine.alerts(entity="h")] == [opened[0]["incident_id"]]


def _score(worker: EngineProcess, entity: str, ts: float) -> dict[str, Any]:
    body = {
        "model_id": "metrics-v1",
        "entity": entity,
        "records": [{"ts": ts, "values": [100.0, 5.0]}],
    }
    response = worker.post("/anomaly/score", body)
    assert response.status_code == 200, (entity, response.status_code, response.text)
    return response.json()  # type: ignore[no-any-return]


def _settled(workers: list[EngineProcess]) -> bool:
    """Every worker ready, and the four partitions split between them without overlap."""
    healths = [w.health() for w in workers]
    owned = sorted(p for h in healths for p in h["assigned_partitions"])
    return owned == [0, 1, 2, 3] and all(h["status"] == "ok" for h in healths)


def test_routed_scoring_answers_after_a_rebalance(spawn: Any) -> None:
    first, second = two_configured_workers(spawn)
    entities = [f"node-{i}" for i in range(8)]
    assert {partition_for(e, 4) for e in entities} == {0, 1, 2, 3}

    for entity in entities:  # written through the owner's agent: routed for half of them
        assert _score(first, entity, T0)["points_seen"] == 0  # points scored before this one

    third = spawn(wait=False)
    third.wait_ready()
    workers = [first, second, third]
    try:
        wait_until(lambda: _settled(workers), 90, "the rebalance to settle", 0.3)
    except AssertionError as exc:  # say what each worker reported, and what it logged
        reports = [f"--- worker {w.port}: {w.health()}\n{w.log_tail(40)}" for w in workers]
        raise AssertionError("\n".join([str(exc), *reports])) from None

    for entity in entities:
        assert _score(second, entity, T0 + 10)["points_seen"] == 1  # the state kept
    for worker in (first, second, third):
        assert worker.process is not None and worker.process.poll() is None, worker.log_tail()
