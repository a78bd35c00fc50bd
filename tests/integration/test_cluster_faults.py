"""A three-node Apache Kafka cluster (replication factor 3, min.insync.replicas 2, acks=all): the
leader of a telemetry partition is killed (SIGKILL) under load with two workers running, and one
worker is killed during the broker's failover.

Marked ``own_broker``: the test starts its own cluster, so it is not part of `make test`;
`make fault-cluster` runs it (and `.ci/run` calls that). The figures are printed (pytest -s) and
kept in docs/RELIABILITY.md.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from app.worker.kafka.kafka_cluster import KafkaCluster
from app.worker.kafka.kafka_runtime import MIN_JAVA, java_major
from tests.integration.harness import EngineProcess, engine_env, read_topic, wait_until
from tests.integration.test_faults import (
    CONFIG,
    ENTITIES,
    RoundProducer,
    applied_counts,
    expected_opens,
    opened,
)

pytestmark = [
    pytest.mark.own_broker,
    pytest.mark.skipif((java_major() or 0) < MIN_JAVA, reason=f"needs Java {MIN_JAVA}+"),
]


async def _leaders(bootstrap: str, topic: str) -> dict[int, int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics([topic])
    finally:
        await admin.close()
    return {p["partition"]: p["leader"] for p in described[0]["partitions"]}


def test_a_partition_leader_killed_under_load_loses_no_acked_point_and_no_incident(
    tmp_path: Path, names: dict[str, str]
) -> None:
    with KafkaCluster(tmp_path / "cluster") as cluster:
        env = {**engine_env(cluster.bootstrap, names), "ANOMALY_REPLICATION_FACTOR": "3"}
        workers = [EngineProcess(env, tmp_path / f"worker-{i}") for i in range(2)]
        try:
            for worker in workers:
                worker.start()
            for worker in workers:
                worker.wait_ready(180)
            steady, victim = workers
            assert steady.post("/anomaly/config", CONFIG).status_code == 200
            wait_until(
                lambda: victim.get("/anomaly/config/load").status_code == 200, 30, "config on both"
            )
            producer = RoundProducer(cluster.bootstrap, names["metrics_topic"], idempotent=True)
            producer.start()
            wait_until(lambda: producer.rounds >= 15, 120, "load before the fault")

            leader = asyncio.run(_leaders(cluster.bootstrap, names["metrics_topic"]))[0]
            cluster.kill(leader)  # SIGKILL the leader of telemetry partition 0
            killed_at = producer.rounds
            victim.kill()  # and a worker, during the failover
            started = time.monotonic()
            victim.start()
            victim.wait_ready(180)
            worker_back_s = time.monotonic() - started
            wait_until(
                lambda n=producer.rounds: producer.rounds >= n + 15, 120, "load after the fault"
            )
            cluster.restart(leader)
            rounds = producer.finish(extra_rounds=10)

            seen, short = applied_counts(cluster.bootstrap, names["app_id"], rounds, 240)
            assert not short, f"{rounds} points applied once to each entity: {seen}; {short}"

            expected = expected_opens(rounds)
            records = read_topic(
                cluster.bootstrap, names["alerts_topic"], lambda rs: opened(rs) >= expected, 120
            )
            opens = [r["value"]["incident_id"] for r in records if r["value"]["event"] == "open"]
            assert set(opens) == expected  # none lost, none made up; duplicates keep their id
            first: dict[tuple[str, int], dict[str, Any]] = {}
            for record in records:
                event = record["value"]
                assert first.setdefault((event["incident_id"], event["seq"]), event) == event
            for worker in workers:
                assert worker.process is not None and worker.process.poll() is None
            print(
                f"\ncluster fault test: {rounds * len(ENTITIES)} acked points, each applied once; "
                f"leader node {leader} of partition 0 killed at round {killed_at}; a worker "
                f"killed then too, back in {worker_back_s:.0f} s; {len(set(opens))}/"
                f"{len(expected)} incidents, {len(opens) - len(set(opens))} duplicate open events"
            )
        finally:
            for worker in workers:
                worker.stop()
