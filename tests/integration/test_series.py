"""`GET /anomaly/series`: the recent points of a key, answered alike by any of two workers."""

from __future__ import annotations

from typing import Any

import pytest

from app.worker.engine import partition_for
from tests.integration.harness import (
    EngineProcess,
    point,
    produce_aiokafka,
    two_configured_workers,
    wait_until,
)

T0 = 1795766400.0
NORMAL = [100.0, 101.0, 99.0, 100.5, 99.5, 100.0, 101.5, 98.5]


def test_any_worker_returns_the_owners_series_with_band_anomaly_and_forecast(
    spawn: Any, bootstrap: str, names: dict[str, str]
) -> None:
    first, second = two_configured_workers(spawn)
    entities = [f"node-{i}" for i in range(8)]
    assert {partition_for(e, 4) for e in entities} == {0, 1, 2, 3}
    normal = 24
    messages = []
    for entity in entities:
        messages += [
            (
                entity.encode(),
                point("metrics-v1", entity, T0 + 10 * i, [NORMAL[i % len(NORMAL)], 5.0]),
            )
            for i in range(normal)
        ]
        messages.append(
            (entity.encode(), point("metrics-v1", entity, T0 + 10 * normal, [160.0, 5.0]))
        )
    produce_aiokafka(bootstrap, names["metrics_topic"], messages)

    def incidents() -> dict[str, dict[str, Any]] | None:
        alerts = {a["entity"]: a for a in first.alerts(limit=1000)}
        return alerts if set(alerts) == set(entities) else None

    opened = wait_until(incidents, 30, "an incident for every entity")

    def series(worker: EngineProcess, entity: str) -> dict[str, Any]:
        response = worker.get("/anomaly/series", model_id="metrics-v1", entity=entity)
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    for entity in entities:
        answers = [series(worker, entity) for worker in (first, second)]
        assert answers[0] == answers[1], entity
        body = answers[0]
        points = body["points"]
        assert len(points) == normal + 1, entity
        assert [p["ts"] for p in points] == [T0 + 10 * i for i in range(normal + 1)]
        assert points[3]["values"] == [NORMAL[3], 5.0]
        spike = points[-1]
        assert spike["values"] == [160.0, 5.0]
        assert spike["is_anomaly"] and spike["alert"]
        assert spike["incident_id"] == opened[entity]["incident_id"]
        assert not any(p["is_anomaly"] for p in points[:-1])
        # The band: 100 ± threshold × 5 for the first feature; the spike is far above it.
        assert spike["lower"][0] < 100.0 < spike["upper"][0] < 160.0
        assert spike["upper"][0] - 100.0 == pytest.approx(spike["threshold"] * 5.0)
        assert body["features"] == ["feature_0", "feature_1"]
        assert body["baseline"][0] == {"feature": "feature_0", "center": 100.0, "spread": 5.0}
        forecast = body["forecast"]["features"]
        assert [f["feature"] for f in forecast] == ["feature_0", "feature_1"]
        assert [p["step"] for p in forecast[0]["forecast"]] == list(range(1, 11))
        assert forecast[0]["forecast"][0]["ts"] == T0 + 10 * (normal + 1)

    # A dry run scores without learning: the series does not move.
    entity = entities[0]
    before = series(second, entity)
    body = {
        "model_id": "metrics-v1",
        "entity": entity,
        "records": [{"ts": T0 + 1000, "values": [100.0, 5.0]}],
        "dry_run": True,
    }
    assert first.post("/anomaly/score", body).status_code == 200
    assert series(first, entity) == before
    # A scored request does.
    body["dry_run"] = False
    assert second.post("/anomaly/score", body).status_code == 200
    after = series(first, entity)["points"]
    assert len(after) == normal + 2 and after[-1]["ts"] == T0 + 1000

    limited = first.get("/anomaly/series", model_id="metrics-v1", entity=entity, limit=2).json()
    assert [p["ts"] for p in limited["points"]] == [T0 + 10 * normal, T0 + 1000]
    unknown = first.get("/anomaly/series", model_id="nope", entity=entity)
    assert unknown.status_code == 404
    never_seen = series(second, "node-never-seen")
    assert never_seen["points"] == [] and never_seen["forecast"] is None
