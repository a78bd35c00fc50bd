"""Feedback with a real worker: a spike opens an incident, `false_positive` feedback (REST, a point
marked on the metrics topic, or a feedback message) resolves it with that resolution, teaches the
model, and counts in `anomaly_false_positives_total`; the same spike then opens nothing."""

from __future__ import annotations

import json
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from tests.integration.harness import EngineProcess, point, produce_aiokafka, read_topic, wait_until

T0 = 1795766400.0  # 2026-11-27T08:00:00Z
MODEL = "cpu-v1"
CONFIG = {
    "configs": [
        {
            "model_id": MODEL,
            "model_version": "1",
            "detector": "zscore",  # learned: a static mean/std would not move with feedback
            "features": ["cpu"],
            "params": {"threshold": 3.0},
            "warmup": 10,
            "resolve_after": 3600,
        }
    ]
}
NORMAL = 20
SPIKE = 112.0


def history(entity: str) -> list[tuple[bytes, bytes]]:
    """``NORMAL`` points around 100 (σ ≈ 0.84), then a spike of about 14σ at T0 + 200."""
    values = [100.0 + (i % 3) - 1 for i in range(NORMAL)]
    points = [point(MODEL, entity, T0 + 10 * i, [v]) for i, v in enumerate(values)]
    return [(entity.encode(), p) for p in [*points, point(MODEL, entity, T0 + 200, [SPIKE])]]


def counter(engine: EngineProcess, name: str, **labels: str) -> float:
    """A sample of GET /metrics (0 when absent)."""
    response = engine.get("/metrics")
    assert response.status_code == 200, response.text
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return float(sample.value)
    return 0.0


def open_incident(engine: EngineProcess, entity: str) -> dict[str, Any]:
    return wait_until(
        lambda: next((a for a in engine.alerts(entity=entity) if a["status"] == "open"), None),
        30,
        f"an open incident of {entity} in GET /anomaly/alerts",
    )


def resolved_as_false_positive(
    bootstrap: str, alerts_topic: str, incident_id: str
) -> dict[str, Any]:
    def done(records: list[dict[str, Any]]) -> bool:
        return any(
            r["value"]["incident_id"] == incident_id and r["value"]["event"] == "resolve"
            for r in records
        )

    records = read_topic(bootstrap, alerts_topic, done, timeout=30)
    events = [r["value"] for r in records if r["value"]["incident_id"] == incident_id]
    assert [e["event"] for e in events] == ["open", "resolve"], events
    return events[-1]  # type: ignore[no-any-return]


def test_false_positive_feedback_resolves_teaches_and_counts(
    engine: EngineProcess, bootstrap: str, names: dict[str, str]
) -> None:
    assert engine.post("/anomaly/config", CONFIG).status_code == 200
    topic = names["metrics_topic"]
    entities = ["host-1", "host-2", "host-3"]
    produce_aiokafka(bootstrap, topic, [m for e in entities for m in history(e)])
    incident, second, third = (open_incident(engine, e) for e in entities)
    assert incident["ts"] == T0 + 200 and incident["model_id"] == MODEL

    # REST: the incident's point is learned as normal, the incident resolves, one false positive
    response = engine.post(
        f"/anomaly/alerts/{incident['incident_id']}/feedback", {"verdict": "false_positive"}
    )
    assert response.status_code == 200, response.text
    assert response.json() == {
        "incident_id": incident["incident_id"],
        "entity": "host-1",
        "model_id": MODEL,
        "verdict": "false_positive",
        "status": "resolved",
        "resolved_at": "2026-11-27T08:03:20.000Z",
        "learned": {MODEL: 1},
    }
    resolve = resolved_as_false_positive(bootstrap, names["alerts_topic"], incident["incident_id"])
    assert resolve["resolution"] == "false_positive" and resolve["status"] == "resolved"
    listed = wait_until(
        lambda: next((a for a in engine.alerts(entity="host-1") if a["event"] == "resolve"), None),
        10,
        "the resolve in GET /anomaly/alerts",
    )
    assert (listed["incident_id"], listed["resolution"]) == (
        incident["incident_id"],
        resolve["resolution"],
    )
    wait_until(
        lambda: counter(engine, "anomaly_false_positives_total", model_id=MODEL) == 1,
        10,
        'anomaly_false_positives_total{model_id="cpu-v1"} 1',
    )
    again = engine.post(
        f"/anomaly/alerts/{incident['incident_id']}/feedback", {"verdict": "false_positive"}
    )
    assert again.status_code == 409 and "resolved" in again.json()["detail"]
    unknown = engine.post(
        "/anomaly/alerts/inc-00000000000000000000/feedback", {"verdict": "false_positive"}
    )
    assert unknown.status_code == 404

    # The same spike again opens nothing: it scores lower (about 4σ after one learned point)
    # and no longer alerts alone (persistence; the window forgot the incident's flag)
    scored = counter(engine, "anomaly_points_scored_total", model_id=MODEL)
    assert scored == 3 * (NORMAL + 1)
    persistence = {"model_id": MODEL, "reason": "persistence"}
    produce_aiokafka(bootstrap, topic, [(b"host-1", point(MODEL, "host-1", T0 + 210, [SPIKE]))])
    wait_until(
        lambda: counter(engine, "anomaly_points_scored_total", model_id=MODEL) == scored + 1,
        30,
        "the spike sent again to be scored",
    )
    assert counter(engine, "anomaly_alerts_suppressed_total", **persistence) == 1
    assert counter(engine, "anomaly_incidents_opened_total", model_id=MODEL) == 3

    # From the topic: the spike of host-2 sent again, marked as normal, resolves its incident
    marked = json.loads(point(MODEL, "host-2", T0 + 200, [SPIKE]))
    produce_aiokafka(
        bootstrap,
        topic,
        [(b"host-2", json.dumps({**marked, "feedback": "false_positive"}).encode())],
    )
    resolve = resolved_as_false_positive(bootstrap, names["alerts_topic"], second["incident_id"])
    assert resolve["resolution"] == "false_positive"
    wait_until(
        lambda: counter(engine, "anomaly_false_positives_total", model_id=MODEL) == 2,
        10,
        "the marked point counted as a false positive",
    )

    # From the topic: a feedback message on host-3's incident, as the REST endpoint does it
    feedback = {"incident_id": third["incident_id"], "verdict": "false_positive"}
    message = {"model_id": MODEL, "entity": "host-3", "feedback": feedback}
    produce_aiokafka(bootstrap, topic, [(b"host-3", json.dumps(message).encode())])
    resolve = resolved_as_false_positive(bootstrap, names["alerts_topic"], third["incident_id"])
    assert resolve["resolution"] == "false_positive"

    def counted() -> dict[str, Any] | None:
        stats: dict[str, Any] = engine.get(f"/anomaly/stats/{MODEL}").json()
        return stats if stats["false_positives"] == 3 else None

    stats = wait_until(counted, 10, "three false positives in GET /anomaly/stats")
    assert stats["incidents_opened"] == 3 and stats["incidents_resolved"] == 3
    assert counter(engine, "anomaly_false_positives_total", model_id=MODEL) == 3
