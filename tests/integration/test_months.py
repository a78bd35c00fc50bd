"""A worker that runs for months, on the real worker and broker: the incident of an entity that
went silent is resolved by the worker's timer, and the state of entities not heard from for
``state_ttl`` is deleted: a tombstone on the changelog, still gone after a restart, while the
state of a model with a longer ttl stays even on data back-filled with 2001 timestamps."""

from __future__ import annotations

import random
from typing import Any

from app.worker.entity_record import ROW_VERSION
from tests.integration.harness import EngineProcess, point, produce_aiokafka, read_topic, wait_until

BACKFILLED = 1_000_000_000.0  # September 2001: event time decades behind the worker's clock
DEADLINE_S = 120  # generous: the timer runs every 5 s; a loaded machine may take much longer


def _model(model_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "model_id": model_id,
        "detector": "ewma",
        "params": {"alpha": 0.05},
        "features": ["cpu"],
        "warmup": 50,
        "resolve_after": 86400,  # only the timer resolves in these tests
        **fields,
    }


def _normal(model_id: str, entity: str, n: int, seed: int) -> list[tuple[bytes, bytes]]:
    rng = random.Random(seed)
    return [
        (entity.encode(), point(model_id, entity, BACKFILLED + 10 * i, [50 + rng.gauss(0, 1)]))
        for i in range(n)
    ]


def _points_seen(engine: EngineProcess, model_id: str, entity: str) -> int:
    body = {
        "model_id": model_id,
        "entity": entity,
        "records": [{"ts": BACKFILLED + 5000, "values": [50.0]}],
        "dry_run": True,
    }
    response = engine.post("/anomaly/score", body)
    assert response.status_code == 200, response.text
    return int(response.json()["points_seen"])


def _metric(engine: EngineProcess, name: str, **labels: str) -> float | None:
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    prefix = f"{name}{{{wanted}}} " if labels else f"{name} "
    for line in engine.get("/metrics").text.splitlines():
        if line.startswith(prefix):
            return float(line.split()[-1])
    return None


def test_a_silent_entity_s_incident_is_resolved_by_the_timer(
    engine: EngineProcess, bootstrap: str, names: dict[str, str]
) -> None:
    config = _model("cpu", silent_after=2)
    assert engine.post("/anomaly/config", {"configs": [config]}).status_code == 200
    spike = (b"db-1", point("cpu", "db-1", BACKFILLED + 1000, [90.0]))
    produce_aiokafka(bootstrap, names["metrics_topic"], [*_normal("cpu", "db-1", 80, 1), spike])

    def resolved(records: list[dict[str, Any]]) -> bool:
        return any(r["value"]["event"] == "resolve" for r in records)

    events = [
        r["value"] for r in read_topic(bootstrap, names["alerts_topic"], resolved, DEADLINE_S)
    ]
    kinds = [(e["event"], e.get("resolution")) for e in events]
    assert kinds[0] == ("open", None), kinds
    assert ("resolve", "silent") in kinds, f"no silent resolution on the alerts topic: {kinds}"
    [resolve] = [e for e in events if e["event"] == "resolve"]
    assert resolve["incident_id"] == events[0]["incident_id"] and resolve["status"] == "resolved"

    listed = wait_until(
        lambda: [a for a in engine.alerts() if a.get("status") == "resolved"],
        DEADLINE_S,
        "GET /anomaly/alerts to list the incident resolved",
    )
    assert listed[0]["resolution"] == "silent"
    assert _metric(engine, "anomaly_incidents_silent_total", model_id="cpu") == 1

    # Still resolved after a restart: the row says so, the timer does not resolve it again.
    engine.stop()
    engine.start()
    engine.wait_ready()
    wait_until(  # the gauge is set by a sweep: the restarted worker's timer has run
        lambda: _metric(engine, "anomaly_state_entities", model_id="cpu") == 1,
        DEADLINE_S,
        "a sweep after the restart",
    )
    again = read_topic(bootstrap, names["alerts_topic"], lambda rs: False, 5)  # to its end
    assert [r["value"]["event"] for r in again].count("resolve") == 1


def test_idle_state_is_deleted_and_stays_deleted_after_a_restart(
    engine: EngineProcess, bootstrap: str, names: dict[str, str]
) -> None:
    configs = [_model("short", state_ttl=2), _model("kept", state_ttl=3600)]
    assert engine.post("/anomaly/config", {"configs": configs}).status_code == 200
    produce_aiokafka(
        bootstrap,
        names["metrics_topic"],
        [*_normal("short", "gone-1", 20, 2), *_normal("kept", "stays-1", 20, 3)]
        + _normal("short", "stays-1", 20, 4),
    )
    wait_until(
        lambda: (_metric(engine, "anomaly_state_expired_total", model_id="short") or 0) >= 2,
        DEADLINE_S,
        "the short model's state of both entities to expire",
    )
    assert _metric(engine, "anomaly_state_entities", model_id="kept") == 1
    assert _metric(engine, "anomaly_state_entities", model_id="short") is None

    def tombstoned(records: list[dict[str, Any]]) -> bool:
        rows = [r for r in records if r["key"] == b'"gone-1"']
        return bool(rows) and rows[-1]["value"] is None

    changelog = f"{names['app_id']}-entity_state-changelog"
    read = read_topic(bootstrap, changelog, tombstoned, DEADLINE_S)
    assert tombstoned(read), "gone-1's row was not tombstoned on the changelog"
    kept_row = [r["value"] for r in read if r["key"] == b'"stays-1"'][-1]
    assert set(kept_row["models"]) == {"kept"} and kept_row["v"] == ROW_VERSION

    engine.stop()
    engine.start()
    engine.wait_ready()
    assert _points_seen(engine, "short", "gone-1") == 0
    assert _points_seen(engine, "short", "stays-1") == 0
    assert _points_seen(engine, "kept", "stays-1") == 20, "back-filled data did not expire"


def test_an_entity_that_stops_reporting_gets_a_went_silent_incident_until_it_reports(
    engine: EngineProcess, bootstrap: str, names: dict[str, str]
) -> None:
    config = _model("heartbeat", expect_every=3, silent_after=0, alert_channels=[])
    assert engine.post("/anomaly/config", {"configs": [config]}).status_code == 200
    produce_aiokafka(bootstrap, names["metrics_topic"], _normal("heartbeat", "edge-7", 20, 5))

    def absent(records: list[dict[str, Any]]) -> bool:
        return any(r["value"]["source"] == "absence" for r in records)

    [opened] = [
        r["value"]
        for r in read_topic(bootstrap, names["alerts_topic"], absent, DEADLINE_S)
        if r["value"]["source"] == "absence"
    ]
    assert (opened["event"], opened["entity"], opened["model_id"]) == (
        "open",
        "edge-7",
        "heartbeat",
    )
    assert opened["summary"].startswith("heartbeat on edge-7: nothing received for 3 s")
    assert _metric(engine, "anomaly_incidents_absent_total", model_id="heartbeat") == 1

    later = [(b"edge-7", point("heartbeat", "edge-7", BACKFILLED + 500, [50.0]))]
    produce_aiokafka(bootstrap, names["metrics_topic"], later)

    def reported(records: list[dict[str, Any]]) -> bool:
        return any(r["value"].get("resolution") == "reported" for r in records)

    events = [r["value"] for r in read_topic(bootstrap, names["alerts_topic"], reported, 60)]
    absences = [(e["event"], e.get("resolution")) for e in events if e["source"] == "absence"]
    assert absences[:2] == [("open", None), ("resolve", "reported")], absences
    resolved = [e for e in events if e.get("resolution") == "reported"]
    assert [e["incident_id"] for e in resolved] == [opened["incident_id"]]
    listed = wait_until(
        lambda: [
            a
            for a in engine.alerts()
            if a["incident_id"] == opened["incident_id"] and a["status"] == "resolved"
        ],
        DEADLINE_S,
        "GET /anomaly/alerts to list the absence resolved",
    )
    assert listed[0]["resolution"] == "reported" and listed[0]["source"] == "absence"
