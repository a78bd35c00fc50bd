"""One stream each: an injected anomaly becomes an incident whose root cause names the signal."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from tests.integration.harness import EngineProcess, point, produce_aiokafka, read_topic, wait_until

T0 = 1795766400.0


def events_of(
    records: list[dict[str, Any]], entity: str, kind: str = "open"
) -> list[dict[str, Any]]:
    return [
        r["value"]
        for r in records
        if r["value"]["entity"] == entity and r["value"]["event"] == kind
    ]


def test_metrics_root_cause_names_the_deviant_feature_and_what_moved_with_it(
    engine: EngineProcess, bootstrap: str, names: dict[str, str]
) -> None:
    config = {
        "configs": [
            {
                "model_id": "api-latency",
                "detector": "zscore",
                "features": ["latency_ms", "error_rate", "cpu"],
                "warmup": 30,
            }
        ]
    }
    assert engine.post("/anomaly/config", config).status_code == 200
    rng = random.Random(11)
    messages = []
    for i in range(120):
        load = rng.gauss(0, 1)  # latency and errors move together; cpu does not
        values = {
            "latency_ms": 100 + 5 * load + rng.gauss(0, 1),
            "error_rate": 0.02 + 0.004 * load + rng.gauss(0, 0.0005),
            "cpu": 40 + rng.gauss(0, 2),
        }
        messages.append((b"api-1", point("api-latency", "api-1", T0 + 10 * i, values)))
    spike = {"latency_ms": 190.0, "error_rate": 0.06, "cpu": 41.0}
    messages.append((b"api-1", point("api-latency", "api-1", T0 + 1200, spike)))
    produce_aiokafka(bootstrap, names["metrics_topic"], messages)

    alerts = read_topic(bootstrap, names["alerts_topic"], lambda rs: bool(events_of(rs, "api-1")))
    [incident] = events_of(alerts, "api-1")
    assert incident["ts"] == T0 + 1200
    summary = incident["summary"]
    assert summary.startswith("api-latency on api-1: latency_ms ")
    assert "moving with error_rate (r=0." in summary
    assert "cpu" not in summary.split("moving with")[1]  # cpu did not move with latency
    assert incident["signals"][0]["feature"] == "latency_ms"


def test_logs_error_burst_becomes_an_incident_naming_the_error_ratio(
    engine: EngineProcess, bootstrap: str, names: dict[str, str]
) -> None:
    config = {
        "configs": [
            {
                "model_id": "api-logs",
                "detector": "zscore",
                "stream": "logs",
                "warmup": 10,
                "log_window": 60,
            }
        ]
    }
    assert engine.post("/anomaly/config", config).status_code == 200
    rng = random.Random(5)
    events = []
    for minute in range(20):  # about ten requests a minute, now and then an error
        for k in range(rng.randint(8, 12)):
            level = "error" if rng.random() < 0.05 else "info"
            message = f"GET /api/items/{rng.randint(1, 999)} 200 in {rng.randint(5, 90)} ms"
            events.append({"ts": T0 + 60 * minute + 5 * k, "level": level, "message": message})
    for k in range(40):  # minute 20: a burst of timeouts
        events.append(
            {
                "ts": T0 + 1200 + k,
                "level": "error",
                "message": f"timeout after {3000 + k} ms calling 10.0.0.7:8080 req={k:08x}",
            }
        )
    events.append({"ts": T0 + 1261, "level": "info", "message": "GET /api/items/1 200 in 7 ms"})
    batch = {"entity": "api-1", "events": events}
    produce_aiokafka(bootstrap, names["logs_topic"], [(b"api-1", json.dumps(batch).encode())])

    alerts = read_topic(bootstrap, names["alerts_topic"], lambda rs: bool(events_of(rs, "api-1")))
    [incident] = events_of(alerts, "api-1")
    assert incident["source"] == names["logs_topic"]
    assert incident["ts"] == T0 + 1260  # the end of the burst's window
    assert "error_ratio" in incident["summary"]
    assert "new log template 'timeout after <num> ms calling <ip>" in incident["summary"]


def test_behaviour_rare_path_becomes_an_incident_naming_the_new_edges(
    engine: EngineProcess, bootstrap: str, names: dict[str, str]
) -> None:
    config = {
        "configs": [{"model_id": "user-paths", "detector": "graph_rarity", "stream": "behavior"}]
    }
    assert engine.post("/anomaly/config", config).status_code == 200
    messages = []
    for session in range(60):  # three days of sessions, about one an hour
        t = T0 - 3 * 86400 + session * 4000
        for k, (action, target) in enumerate(
            [("login", "/login"), ("view", "/dashboard"), ("logout", "/logout")]
        ):
            event = {
                "entity": "user-42",
                "ts": t + k * 60,
                "action": action,
                "target": target,
                "attributes": {"country": "FR", "device": "ios"},
            }
            messages.append((b"user-42", json.dumps(event).encode()))
    odd = [("login", "/login"), ("export", "/admin/users/export")]
    for k, (action, target) in enumerate(odd):
        event = {
            "entity": "user-42",
            "ts": T0 + k * 30,
            "action": action,
            "target": target,
            "attributes": {"country": "BR", "device": "ios"},
        }
        messages.append((b"user-42", json.dumps(event).encode()))
    produce_aiokafka(bootstrap, names["behavior_topic"], messages)

    alerts = read_topic(bootstrap, names["alerts_topic"], lambda rs: bool(events_of(rs, "user-42")))
    [incident] = events_of(alerts, "user-42")
    assert incident["ts"] == T0 + 30
    assert "new country BR" in incident["summary"]
    assert "/admin/users/export" in incident["summary"]
    assert "device" not in incident["summary"]  # the device was the usual one


def test_forecast_and_trend_over_rest_and_quality_counters_from_streamed_labels(
    engine: EngineProcess, bootstrap: str, names: dict[str, str]
) -> None:
    config = {
        "configs": [
            {
                "model_id": "disk",
                "detector": "zscore",
                "params": {"mean": [50.0], "std": [5.0], "threshold": 3.0},
                "features": ["used_pct"],
                "suppression": {"persistence": {"k": 1, "n": 1}},
            }
        ]
    }
    assert engine.post("/anomaly/config", config).status_code == 200
    # a disk filling up at 0.2 % a minute, labelled anomalous once past 64 %
    points = []
    for i in range(100):
        value = 50.0 + 0.2 * i
        points.append({"ts": T0 + 60 * i, "values": [value], "label": int(value > 64.0)})
    message = {"model_id": "disk", "entity": "db-1", "points": points}
    produce_aiokafka(bootstrap, names["metrics_topic"], [(b"db-1", json.dumps(message).encode())])

    def counted() -> dict[str, Any] | None:
        response = engine.get("/anomaly/stats/disk")
        return (
            response.json()
            if response.status_code == 200 and response.json()["points"] == 100
            else None
        )

    stats = wait_until(counted, 20, "the labelled points to be counted")
    quality = stats["quality"]
    # labels say above 64 % (points 71-99); alerts fire above 65 % (3σ, points 76-99)
    assert (quality["tp"], quality["fn"], quality["fp"]) == (24, 5, 0)
    assert quality["precision"] == 1.0 and quality["recall"] == 24 / 29

    body = {
        "model_id": "disk",
        "entity": "db-1",
        "records": [{"ts": T0 + 6000, "values": [60.0]}],
        "horizon": 5,
        "dry_run": True,
    }
    answer = engine.post("/anomaly/score", body).json()
    [feature] = answer["forecast"]["features"]
    assert feature["feature"] == "used_pct"
    assert feature["trend"]["direction"] == "up"
    assert len(feature["forecast"]) == 5
    first = feature["forecast"][0]
    assert first["lower"] <= first["mean"] <= first["upper"]


def test_a_metric_and_a_log_anomaly_of_one_entity_make_one_incident_naming_both(
    engine: EngineProcess, bootstrap: str, names: dict[str, str]
) -> None:
    # The design's contract: an entity's streams land on one worker, and an anomaly of any of
    # them joins the entity's open incident instead of paging again.
    configs = [
        {
            "model_id": "api-latency",
            "detector": "zscore",
            "features": ["latency_ms"],
            "params": {"mean": [100.0], "std": [5.0], "threshold": 3.0},
            "suppression": {"persistence": {"k": 1, "n": 1}},
        },
        {"model_id": "api-logs", "detector": "zscore", "stream": "logs", "warmup": 10},
    ]
    assert engine.post("/anomaly/config", {"configs": configs}).status_code == 200
    rng = random.Random(3)
    metrics = [
        (b"api-1", point("api-latency", "api-1", T0 + 10 * i, {"latency_ms": rng.gauss(100, 2)}))
        for i in range(123)
    ]
    metrics.append((b"api-1", point("api-latency", "api-1", T0 + 1230, {"latency_ms": 190.0})))
    lines = []
    for minute in range(20):  # access logs, now and then an error; a burst of timeouts at 20
        for k in range(rng.randint(8, 12)):
            level = "error" if rng.random() < 0.05 else "info"
            message = f"GET /api/items/{rng.randint(1, 999)} 200 in {rng.randint(5, 90)} ms"
            lines.append({"ts": T0 + 60 * minute + 5 * k, "level": level, "message": message})
    lines += [
        {"ts": T0 + 1200 + k, "level": "error", "message": f"timeout after {3000 + k} ms"}
        for k in range(40)
    ]
    lines.append({"ts": T0 + 1261, "level": "info", "message": "GET /api/items/1 200 in 7 ms"})
    logs = [(b"api-1", json.dumps({"entity": "api-1", "events": lines}).encode())]
    produce_aiokafka(bootstrap, names["logs_topic"], logs)
    produce_aiokafka(bootstrap, names["metrics_topic"], metrics)

    def both(records: list[dict[str, Any]]) -> bool:
        return any(
            set(r["value"]["models"]) == {"api-latency", "api-logs"}
            for r in records
            if r["value"]["entity"] == "api-1"
        )

    alerts = read_topic(bootstrap, names["alerts_topic"], both, timeout=60)
    events = [r["value"] for r in alerts if r["value"]["entity"] == "api-1"]
    [opened] = [e for e in events if e["event"] == "open"]  # paged once
    assert {e["incident_id"] for e in events} == {opened["incident_id"]}
    last = events[-1]
    assert set(last["models"]) == {"api-latency", "api-logs"}
    assert {s["source"] for s in last["signals"]} == {names["metrics_topic"], names["logs_topic"]}
    assert "latency_ms" in last["summary"] and "error_ratio" in last["summary"]


def test_the_forecast_of_a_streamed_series_continues_it(
    engine: EngineProcess, bootstrap: str, names: dict[str, str]
) -> None:
    # Holt's linear trend (the forecast without a season) is exact on a line: a disk filling
    # at 0.25 % a minute is forecast to go on filling at that rate, with a collapsed interval.
    config = {
        "model_id": "disk-fill",
        "detector": "zscore",
        "features": ["used_pct"],
        "params": {"mean": [50.0], "std": [1000.0], "threshold": 3.0},  # flags nothing
    }
    assert engine.post("/anomaly/config", {"configs": [config]}).status_code == 200
    messages = [
        (b"db-2", point("disk-fill", "db-2", T0 + 60 * i, {"used_pct": 40.0 + 0.25 * i}))
        for i in range(40)
    ]  # the last point: 49.75 % at T0 + 2340
    produce_aiokafka(bootstrap, names["metrics_topic"], messages)

    def forecast() -> list[dict[str, Any]] | None:
        response = engine.get("/anomaly/series", model_id="disk-fill", entity="db-2", horizon=4)
        body = response.json() if response.status_code == 200 else {}
        if len(body.get("points", [])) < 40:
            return None
        [feature] = body["forecast"]["features"]
        return feature["forecast"]  # type: ignore[no-any-return]

    steps = wait_until(forecast, 30, "the 40 points to be scored")
    assert [(p["step"], p["ts"]) for p in steps] == [(h, T0 + 2340 + 60 * h) for h in (1, 2, 3, 4)]
    for p in steps:
        expected = 49.75 + 0.25 * p["step"]
        assert p["mean"] == pytest.approx(expected, abs=1e-9)
        assert p["lower"] == pytest.approx(expected, abs=1e-6)
        assert p["upper"] == pytest.approx(expected, abs=1e-6)
