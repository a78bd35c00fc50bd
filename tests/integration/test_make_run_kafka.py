"""`make run` on the embedded Apache Kafka keeps configurations, state and incidents across a
stop and start (Tansu keeps nothing: it is memory-only).

The worker is `python -m app run` without KAFKA_BOOTSTRAP_SERVERS, as `make run` starts it, with
its own data folder (the broker's storage is ``<data dir>/kafka``) and free ports.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from app.worker.kafka.kafka_runtime import MIN_JAVA, java_major
from tests.integration.harness import EngineProcess, point, produce_aiokafka, wait_until
from tests.integration.test_restart import LEARNED as CONFIG
from tests.integration.test_restart import T0, dry_run

pytestmark = pytest.mark.skipif(
    (java_major() or 0) < MIN_JAVA, reason=f"Apache Kafka needs Java {MIN_JAVA}+"
)


def make_run(tmp_path: Path) -> EngineProcess:
    """A worker that starts its own embedded Apache Kafka, as `make run` does (free ports)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANOMALY_")}
    env.pop("KAFKA_BOOTSTRAP_SERVERS", None)
    env.update(ANOMALY_BROKER="kafka", ANOMALY_EMBEDDED_BROKER_PORT="0", PYTHONUNBUFFERED="1")
    return EngineProcess(env=env, workdir=tmp_path / "make-run")


def test_configs_state_and_incidents_survive_a_stop_and_start_of_make_run(
    tmp_path: Path,
) -> None:
    engine = make_run(tmp_path)
    engine.start()
    try:
        engine.wait_ready()
        health = engine.health()
        assert health["embedded_broker_kind"] == "kafka"
        assert engine.post("/anomaly/config", CONFIG).status_code == 200
        rng = random.Random(5)
        normal = [
            (b"db-1", point("cpu", "db-1", T0 + 10 * i, [50 + rng.gauss(0, 1)])) for i in range(80)
        ]
        spike = (b"db-1", point("cpu", "db-1", T0 + 900, [90.0]))
        produce_aiokafka(health["broker"], "telemetry.metrics", [*normal, spike])
        incident = wait_until(
            lambda: engine.alerts(entity="db-1"), 60, "the spike's incident in GET /anomaly/alerts"
        )[0]
        before = dry_run(engine, 80.0, T0 + 2000)
        assert before["points_seen"] == 81 and before["warm"] is True

        engine.stop()
        engine.start()
        engine.wait_ready()

        assert engine.health()["embedded_broker_kind"] == "kafka"
        assert engine.get("/anomaly/config/cpu").json()["warmup"] == 50
        assert dry_run(engine, 80.0, T0 + 2000) == before  # the same state: no second warm-up
        listed = wait_until(
            lambda: engine.alerts(entity="db-1"), 30, "the incident after the restart"
        )
        assert [a["incident_id"] for a in listed] == [incident["incident_id"]]
        assert listed[0]["status"] == incident["status"] == "open"
    finally:
        engine.stop()
    assert (engine.workdir / "data" / "kafka" / "logs" / "meta.properties").exists()
