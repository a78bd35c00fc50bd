"""Two workers in one consumer group split the partitions but answer the API the same way."""

from __future__ import annotations

from typing import Any

from app.worker.engine import partition_for
from tests.integration.harness import (
    EngineProcess,
    point,
    produce_aiokafka,
    produce_confluent,
    two_configured_workers,
    wait_until,
)

T0 = 1795766400.0


def test_both_workers_see_all_incidents_and_score_alike(
    spawn: Any, bootstrap: str, names: dict[str, str]
) -> None:
    first, second = two_configured_workers(spawn)

    # Entities on every partition, so each worker owns some of them.
    entities = [f"node-{i}" for i in range(12)]
    assert {partition_for(e, 4) for e in entities} == {0, 1, 2, 3}
    messages = []
    for entity in entities:
        messages += [
            (entity.encode(), point("metrics-v1", entity, T0 + i, [100.0, 5.0])) for i in range(5)
        ]
        messages.append((entity.encode(), point("metrics-v1", entity, T0 + 100, [150.0, 5.0])))
    half = len(messages) // 2
    produce_aiokafka(bootstrap, names["metrics_topic"], messages[:half])
    produce_confluent(
        bootstrap, names["metrics_topic"], messages[half:], partitioner="murmur2_random"
    )

    def all_incidents(worker: EngineProcess) -> list[dict[str, Any]] | None:
        alerts = worker.alerts(limit=1000)
        return alerts if {a["entity"] for a in alerts} == set(entities) else None

    from_first = wait_until(lambda: all_incidents(first), 30, "every incident on the first worker")
    from_second = wait_until(
        lambda: all_incidents(second), 30, "every incident on the second worker"
    )
    assert len(from_first) == len(entities)
    assert from_first == from_second

    for entity in entities:
        body = {
            "model_id": "metrics-v1",
            "entity": entity,
            "records": [
                {"ts": T0 + 200, "values": [103.0, 5.5]},
                {"ts": T0 + 210, "values": [180.0, 5.0]},
            ],
            "dry_run": True,
        }
        answers = [w.post("/anomaly/score", body).json() for w in (first, second)]
        assert answers[0] == answers[1], entity
        assert answers[0]["points_seen"] == 6  # the state of the owner, whichever worker was asked
        assert [r["is_anomaly"] for r in answers[0]["results"]] == [False, True]
