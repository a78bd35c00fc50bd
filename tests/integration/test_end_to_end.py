"""Telemetry in on Kafka, incidents out on the alerts topic and the REST API, with a real worker."""

from __future__ import annotations

import json
import random
from typing import Any

from tests.integration.harness import (
    README_CONFIG,
    EngineProcess,
    point,
    produce_aiokafka,
    produce_confluent,
    read_topic,
    wait_until,
)

T0 = 1795766400.0  # 2026-11-27T08:00:00Z


def normal_points(
    entity: str, n: int, start: float = T0, seed: int = 1
) -> list[tuple[bytes, bytes]]:
    rng = random.Random(seed)
    return [
        (
            entity.encode(),
            point(
                "metrics-v1",
                entity,
                start + 10 * i,
                [100 + rng.gauss(0, 0.3), 5 + rng.gauss(0, 0.1)],
            ),
        )
        for i in range(n)
    ]


def incidents_for(records: list[dict[str, Any]], entity: str) -> list[dict[str, Any]]:
    return [r["value"] for r in records if r["value"] and r["value"].get("entity") == entity]


def test_readme_config_is_accepted_verbatim_and_read_back(engine: EngineProcess) -> None:
    response = engine.post("/anomaly/config", README_CONFIG)
    assert response.status_code == 200, response.text
    stored = engine.get("/anomaly/config/metrics-v1").json()
    for key, value in README_CONFIG["configs"][0].items():
        assert stored[key] == value, key
    assert [c["model_id"] for c in engine.get("/anomaly/config").json()["configs"]] == [
        "metrics-v1"
    ]


def test_spike_produced_with_aiokafka_becomes_an_incident(
    engine: EngineProcess, bootstrap: str, names: dict[str, str]
) -> None:
    assert engine.post("/anomaly/config", README_CONFIG).status_code == 200
    spike_ts = T0 + 1000
    produce_aiokafka(
        bootstrap,
        names["metrics_topic"],
        [
            *normal_points("host-1", 30),
            (b"host-1", point("metrics-v1", "host-1", spike_ts, [160.0, 5.0])),
        ],
    )
    records = read_topic(
        bootstrap, names["alerts_topic"], lambda rs: bool(incidents_for(rs, "host-1"))
    )
    incidents = incidents_for(records, "host-1")
    assert len(incidents) == 1, incidents
    incident = incidents[0]
    assert incident["model_id"] == "metrics-v1"
    assert incident["ts"] == spike_ts
    assert incident["alert_channels"] == ["pagerduty", "slack"]
    assert "160 vs 100±5" in incident["summary"]
    listed = wait_until(
        lambda: engine.alerts(entity="host-1"), 10, "the incident in GET /anomaly/alerts"
    )
    assert [a["incident_id"] for a in listed] == [incident["incident_id"]]


def test_batches_and_columns_from_confluent_kafka_with_its_own_partitioner(
    engine: EngineProcess, bootstrap: str, names: dict[str, str]
) -> None:
    """librdkafka's default partitioner (CRC32) puts keys elsewhere than Kafka's murmur2 default;
    the engine moves such messages to the entity's partition and still scores them once."""
    assert engine.post("/anomaly/config", README_CONFIG).status_code == 200
    entities = [f"web-{i}" for i in range(6)]
    messages = []
    for n, entity in enumerate(entities):
        batch = {
            "model_id": "metrics-v1",
            "entity": entity,
            "points": [
                {"ts": T0 + 10 * i, "values": [100.0 + (i % 2) * 0.5, 5.0]} for i in range(20)
            ],
        }
        columns = {
            "model_id": "metrics-v1",
            "entity": entity,
            "ts": [T0 + 500, T0 + 510 + n],
            "values": [[100.2, 175.0], [5.0, 5.1]],
        }
        messages += [
            (entity.encode(), json.dumps(batch).encode()),
            (entity.encode(), json.dumps(columns).encode()),
        ]
    produce_confluent(bootstrap, names["metrics_topic"], messages)

    def every_entity_has_one(rs: list[dict[str, Any]]) -> bool:
        return all(incidents_for(rs, e) for e in entities)

    records = read_topic(bootstrap, names["alerts_topic"], every_entity_has_one)
    for n, entity in enumerate(entities):
        incidents = incidents_for(records, entity)
        assert [i["ts"] for i in incidents] == [T0 + 510 + n], (entity, incidents)


def test_bad_messages_go_to_the_dlq_and_the_stream_goes_on(
    engine: EngineProcess, bootstrap: str, names: dict[str, str]
) -> None:
    assert engine.post("/anomaly/config", README_CONFIG).status_code == 200
    bad = [
        (b"host-2", b"{not json"),
        (b"host-2", point("unknown-model", "host-2", T0, [1.0, 2.0])),
        (b"host-2", point("metrics-v1", "host-2", T0, [1.0, 2.0, 3.0])),
        (b"host-2", point("metrics-v1", "host-2", "yesterday", [1.0, 2.0])),  # type: ignore[arg-type]
    ]
    spike = (b"host-2", point("metrics-v1", "host-2", T0 + 900, [170.0, 5.0]))
    produce_aiokafka(bootstrap, names["metrics_topic"], [*bad, *normal_points("host-2", 10), spike])

    dead = read_topic(bootstrap, names["dlq_topic"], lambda rs: len(rs) >= len(bad))
    reasons = [d["value"]["reason"] for d in dead]
    assert len(dead) == len(bad), reasons
    assert reasons[0].startswith("malformed JSON")
    assert "unknown model 'unknown-model'" in reasons[1]
    assert "expects 2" in reasons[2]
    assert "'yesterday'" in reasons[3]
    for d in dead:
        assert d["value"]["topic"] == names["metrics_topic"]
        assert isinstance(d["value"]["partition"], int) and isinstance(d["value"]["offset"], int)
    offsets = [d["value"]["offset"] for d in dead]
    assert offsets == sorted(offsets) and len(set(offsets)) == len(offsets)

    alerts = read_topic(
        bootstrap, names["alerts_topic"], lambda rs: bool(incidents_for(rs, "host-2"))
    )
    assert [a["value"]["ts"] for a in alerts] == [T0 + 900]


def test_rest_scoring_shares_state_with_the_stream_and_opens_incidents(
    engine: EngineProcess, bootstrap: str, names: dict[str, str]
) -> None:
    config = {
        "configs": [
            {
                "model_id": "learned",
                "model_version": "1",
                "detector": "zscore",
                "features": ["latency_ms"],
                "history_window": 16,
                "warmup": 10,
            }
        ]
    }
    assert engine.post("/anomaly/config", config).status_code == 200
    rng = random.Random(7)
    produce_aiokafka(
        bootstrap,
        names["metrics_topic"],
        [
            (b"api-1", point("learned", "api-1", T0 + i, {"latency_ms": 100 + rng.gauss(0, 2)}))
            for i in range(40)
        ],
    )
    spike = {
        "model_id": "learned",
        "entity": "api-1",
        "records": [{"ts": T0 + 100, "values": {"latency_ms": 160}}],
    }

    def learned_from_stream() -> dict[str, Any] | None:
        body = engine.post("/anomaly/score", {**spike, "dry_run": True}).json()
        return body if body["results"][0]["warm"] else None

    dry = wait_until(learned_from_stream, 20, "the streamed points to train the entity's state")
    assert dry["results"][0]["is_anomaly"] and dry["incidents"] == []

    real = engine.post("/anomaly/score", {**spike, "labels": [1]}).json()
    assert real["results"][0]["is_anomaly"] is True
    assert real["metrics"]["recall"] == 1.0 and real["metrics"]["precision"] == 1.0
    # The REST point opens an incident, or joins the one the stream opened: either way its
    # signal is on the published incident.
    [incident] = real["incidents"]
    rest_signals = [sig for sig in incident["signals"] if sig["source"] == "rest"]
    assert [sig["feature"] for sig in rest_signals] == ["latency_ms"]
    assert "latency_ms" in incident["summary"]

    def rest_event_published(rs: list[dict[str, Any]]) -> bool:
        return any(
            r["value"]["incident_id"] == incident["incident_id"]
            and r["value"]["seq"] == incident["seq"]
            for r in rs
        )

    published = read_topic(bootstrap, names["alerts_topic"], rest_event_published)
    same = [
        p["value"]["event"]
        for p in published
        if (p["value"]["incident_id"], p["value"]["seq"])
        == (incident["incident_id"], incident["seq"])
    ]
    assert same == [incident["event"]]


def test_suppressed_alerts_are_counted_by_reason_in_the_api(
    engine: EngineProcess, bootstrap: str, names: dict[str, str]
) -> None:
    config = {
        "configs": [
            {
                "model_id": "static",
                "detector": "zscore",
                "params": {"mean": [100.0], "std": [5.0], "threshold": 3.0},
                "cooldown": 3600,
                "resolve_after": 30,
            }
        ]
    }
    assert engine.post("/anomaly/config", config).status_code == 200
    values = [100.0] * 5 + [117.0] + [100.0] * 5  # one 3.4σ blip: persistence wants 2 of 3
    values += [140.0] + [100.0] * 5  # 8σ fires alone and opens an incident
    values += [100.0] * 5 + [140.0]  # resolved 30 s after, then within the 1 h cooldown
    messages = [(b"db-9", point("static", "db-9", T0 + 10 * i, [v])) for i, v in enumerate(values)]
    produce_aiokafka(bootstrap, names["metrics_topic"], messages)

    def counted() -> dict[str, Any] | None:
        response = engine.get("/anomaly/stats/static")
        return (
            response.json()
            if response.status_code == 200 and response.json()["points"] == len(values)
            else None
        )

    stats = wait_until(counted, 20, "the points to be counted")
    assert stats["anomalies"] == 3
    assert stats["alerts"] == 2
    assert stats["incidents_opened"] == 1 and stats["incidents_resolved"] == 1
    assert stats["suppressed"] == {"persistence": 1, "cooldown": 1}
    assert engine.get("/anomaly/stats").json()["models"]["static"] == stats


def test_health_reports_the_broker_and_recovery(engine: EngineProcess, bootstrap: str) -> None:
    health = engine.health()
    assert health["status"] == "ok"
    assert health["broker"] == bootstrap
    assert health["recovery_done"] is True
    assert health["assigned_partitions"] == [0, 1, 2, 3]
    assert engine.get("/docs").status_code == 200
