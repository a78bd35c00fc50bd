"""A restarted worker keeps the configurations and the per-entity state it had."""

from __future__ import annotations

import json
import random
from typing import Any

from tests.integration.harness import EngineProcess, point, produce_aiokafka, read_topic, wait_until

T0 = 1795766400.0

LEARNED = {
    "configs": [
        {
            "model_id": "cpu",
            "model_version": "1",
            "detector": "ewma",
            "params": {"alpha": 0.05},
            "features": ["cpu"],
            "warmup": 50,
            "cooldown": 60,
        }
    ]
}


def dry_run(engine: EngineProcess, value: float, ts: float) -> dict[str, Any]:
    """The result for one point scored without touching state, with the entity's point count."""
    body = {
        "model_id": "cpu",
        "entity": "db-1",
        "records": [{"ts": ts, "values": [value]}],
        "dry_run": True,
    }
    response = engine.post("/anomaly/score", body)
    assert response.status_code == 200, response.text
    body = response.json()
    return {**body["results"][0], "points_seen": body["points_seen"]}


def learn_80_points(
    engine: EngineProcess, bootstrap: str, names: dict[str, str], seed: int
) -> dict[str, Any]:
    """LEARNED applied and 80 points around 50 streamed for db-1; the dry run of an 80 once all
    80 are scored."""
    assert engine.post("/anomaly/config", LEARNED).status_code == 200
    rng = random.Random(seed)
    produce_aiokafka(
        bootstrap,
        names["metrics_topic"],
        [(b"db-1", point("cpu", "db-1", T0 + 10 * i, [50 + rng.gauss(0, 1)])) for i in range(80)],
    )
    return wait_until(
        lambda: (r := dry_run(engine, 80.0, T0 + 2000))["points_seen"] == 80 and r,
        30,
        "the 80 streamed points to be scored",
    )


def test_configs_and_state_survive_a_restart(
    engine: EngineProcess, bootstrap: str, names: dict[str, str]
) -> None:
    before = learn_80_points(engine, bootstrap, names, seed=3)
    assert before["warm"] is True
    assert before["is_anomaly"] is True

    engine.stop()
    engine.start()
    engine.wait_ready()

    assert engine.get("/anomaly/config/cpu").json()["warmup"] == 50
    after = dry_run(engine, 80.0, T0 + 2000)
    assert after == before  # same baseline, same threshold, still warm: no second warm-up

    # The first streamed point after the restart is scored against the old baseline.
    produce_aiokafka(
        bootstrap, names["metrics_topic"], [(b"db-1", point("cpu", "db-1", T0 + 2000, [80.0]))]
    )
    alerts = read_topic(
        bootstrap, names["alerts_topic"], lambda rs: any(r["value"]["ts"] == T0 + 2000 for r in rs)
    )
    spike = [a["value"] for a in alerts if a["value"]["ts"] == T0 + 2000]
    assert len(spike) == 1 and spike[0]["entity"] == "db-1"


def test_a_new_model_version_resets_state_and_the_same_version_keeps_it(
    engine: EngineProcess, bootstrap: str, names: dict[str, str]
) -> None:
    assert engine.post("/anomaly/config", LEARNED).status_code == 200
    produce_aiokafka(
        bootstrap,
        names["metrics_topic"],
        [(b"db-1", point("cpu", "db-1", T0 + 10 * i, [50.0 + (i % 3)])) for i in range(60)],
    )
    wait_until(lambda: dry_run(engine, 50.0, T0 + 700)["warm"], 30, "the model to warm up")

    # Re-applying the same version (even with another cooldown) keeps the learned state.
    same = {"configs": [{**LEARNED["configs"][0], "cooldown": 5}]}
    assert engine.post("/anomaly/config", same).status_code == 200
    assert dry_run(engine, 50.0, T0 + 700)["warm"] is True

    # A new version starts from scratch once the next point for the entity arrives.
    bumped = {"configs": [{**LEARNED["configs"][0], "model_version": "2"}]}
    assert engine.post("/anomaly/config", bumped).status_code == 200
    assert dry_run(engine, 50.0, T0 + 700)["warm"] is False


def test_state_kept_in_memory_is_written_when_the_worker_stops(
    spawn: Any, bootstrap: str, names: dict[str, str]
) -> None:
    # The rows would go to the changelog once an hour: only the stop writes them.
    engine = spawn(env={"ANOMALY_STATE_FLUSH_INTERVAL_S": "3600"})
    before = learn_80_points(engine, bootstrap, names, seed=5)

    changelog = f"{names['app_id']}-entity_state-changelog"
    assert not read_topic(bootstrap, changelog, lambda rs: True, 5)  # nothing written yet

    engine.stop()
    rows = read_topic(bootstrap, changelog, lambda rs: True, 10)
    points = [
        r["value"]["models"]["cpu"]["points"]
        for r in rows
        if r["key"] is not None and json.loads(r["key"]) == "db-1" and r["value"]
    ]
    assert points == [80]  # one record, written by the stop, counting every point
    engine.start()
    engine.wait_ready()
    assert dry_run(engine, 80.0, T0 + 2000) == before
