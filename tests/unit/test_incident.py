"""The incident documents on the alerts topic (schema anomaly.incident/v1) as score_batch makes them."""

from __future__ import annotations

import json
import math
from datetime import datetime
from typing import Any

import pytest

from detectors.suppression import SuppressionSpec
from incidents.config import ModelConfig
from incidents.incident import (
    SCHEMA,
    Signal,
    incident_id,
    iso_time,
    severity_for,
    signals_for,
)
from incidents.scoring import score_batch

T0 = 1795766400.25  # 2026-11-27T08:00:00.250Z

HOSTS = ModelConfig(
    "metrics-v1",
    "1.0",
    "zscore",
    {"mean": [100.0, 50.0, 10.0], "std": [5.0, 5.0, 1.0], "threshold": 3.0},
    features=("cpu", "mem", "disk"),
    alert_channels=("pagerduty", "slack"),
)
# Every flagged point alerts, so a single point shows how its score becomes a document.
ONE_POINT = SuppressionSpec(persistence_k=1, persistence_n=1)


def _open(values: list[float], config: ModelConfig = HOSTS, t: float = T0) -> dict[str, Any]:
    out = score_batch(config, "host-1", None, [t], [values], source="telemetry.metrics")
    assert [e["event"] for e in out.events] == ["open"], "the point must open an incident"
    assert out.points[0].incident_id == out.events[0]["incident_id"]
    return out.events[0]


def _life() -> list[dict[str, Any]]:
    """Open, update (the peak grows), resolve: every kind of document."""
    out = score_batch(
        HOSTS,
        "host-1",
        None,
        [T0, T0 + 10, T0 + 20, T0 + 400],
        [
            [100.0, 20.0, 14.0],
            [math.nan, 50.0, 20.0],
            [math.nan, math.nan, math.nan],
            [100, 50, 10],
        ],
    )
    assert [e["event"] for e in out.events] == ["open", "update", "resolve"]
    return out.events


def test_document_fields() -> None:
    doc = _open([100.0, 20.0, 14.0])
    assert doc["schema"] == SCHEMA == "anomaly.incident/v1"
    assert doc["incident_id"] == doc["dedup_key"] == incident_id("metrics-v1", "1.0", "host-1", T0)
    assert doc["opened_at"] == "2026-11-27T08:00:00.250Z"
    assert datetime.fromisoformat(doc["opened_at"].replace("Z", "+00:00")).timestamp() == T0
    assert doc["ts"] == T0
    assert (doc["model_id"], doc["model_version"], doc["entity"]) == ("metrics-v1", "1.0", "host-1")
    assert doc["source"] == "telemetry.metrics"
    assert (doc["event"], doc["seq"], doc["status"], doc["resolved_at"]) == (
        "open",
        0,
        "open",
        None,
    )
    assert doc["alert_channels"] == ["pagerduty", "slack"]
    assert doc["models"] == ["metrics-v1"]
    assert doc["score"] == doc["peak_score"] == pytest.approx(6.0) and doc["threshold"] == 3.0
    # the published form is strict JSON
    assert json.loads(json.dumps(doc, allow_nan=False)) == doc


def test_every_document_of_an_incident_names_the_same_incident() -> None:
    opened, update, resolve = _life()
    for doc in (opened, update, resolve):
        assert doc["schema"] == SCHEMA
        assert doc["incident_id"] == doc["dedup_key"] == opened["incident_id"]
        assert doc["opened_at"] == "2026-11-27T08:00:00.250Z" and doc["ts"] == T0
        assert json.loads(json.dumps(doc, allow_nan=False)) == doc
    assert [d["seq"] for d in (opened, update, resolve)] == [0, 1, 2]
    assert [d["status"] for d in (opened, update, resolve)] == ["open", "open", "resolved"]
    assert update["peak_score"] == pytest.approx(10.0) and update["score"] == pytest.approx(6.0)
    assert update["severity"] == "critical"
    assert resolve["resolved_at"] == iso_time(T0 + 400) == "2026-11-27T08:06:40.250Z"
    assert resolve["last_seen"] == iso_time(T0 + 10)


def test_signals_are_ranked_by_absolute_score_with_gaps_last() -> None:
    # cpu is a gap (NaN), mem is 6σ below, disk 4σ above.
    ranked = signals_for(
        ["cpu", "mem", "disk"],
        [math.nan, 20.0, 14.0],
        [math.nan, -6.0, 4.0],
        [(100.0, 5.0), (50.0, 5.0), (10.0, 1.0)],
    )
    assert ranked == [
        Signal("mem", 20.0, -6.0, 50.0, 5.0),
        Signal("disk", 14.0, 4.0, 10.0, 1.0),
        Signal("cpu", None, None, 100.0, 5.0),
    ]
    # the document lists the deviant signals in that order; a gap is not a cause
    doc = _open([math.nan, 20.0, 14.0])
    assert [s["feature"] for s in doc["signals"]] == ["mem", "disk"]
    mem, disk = doc["signals"]
    assert mem == {
        "signal": "telemetry.metrics:metrics-v1:mem",
        "model_id": "metrics-v1",
        "source": "telemetry.metrics",
        "feature": "mem",
        "value": 20.0,
        "score": -6.0,
        "center": 50.0,
        "spread": 5.0,
        "detail": None,
        "ts": T0,
    }
    assert disk["score"] == pytest.approx(4.0)
    json.dumps(doc, allow_nan=False)  # NaN never reaches the document


def test_a_feature_without_a_baseline_yet_has_null_numbers_and_is_not_a_cause() -> None:
    # "b" was a gap in every learned point, so it has no baseline when "a" jumps: it scores 0
    # (detectors' rule) and its center and spread are null, never NaN.
    assert signals_for(["a", "b"], [99.0, 5.0], [50.0, 0.0], [(1.0, 0.2), (math.nan, math.nan)])[
        1
    ] == Signal("b", 5.0, 0.0, None, None)
    config = ModelConfig("m", "1", "ewma", warmup=3, features=("a", "b"))
    rows = [[1.0, math.nan], [1.2, math.nan], [0.8, math.nan], [99.0, 5.0]]
    out = score_batch(config, "h", None, [0.0, 1.0, 2.0, 3.0], rows)
    assert [e["event"] for e in out.events] == ["open"]
    doc = out.events[0]
    assert [s["feature"] for s in doc["signals"]] == ["a"]
    # the summary names only "a": a feature that did not deviate is not part of the story
    assert doc["summary"].startswith("m on h: a ") and ";" not in doc["summary"]
    json.dumps(doc, allow_nan=False)


def test_summary_names_the_top_features_with_their_numbers() -> None:
    out = score_batch(HOSTS, "host-1", None, [T0], [[100.0, 20.0, 14.0]])
    cause = "mem 6.0σ below baseline (20 vs 50±5); disk 4.0σ above baseline (14 vs 10±1)"
    assert out.events[0]["summary"] == f"metrics-v1 on host-1: {cause}"
    assert out.points[0].root_cause == cause


def test_summary_uses_generated_names_without_features() -> None:
    config = ModelConfig(
        "m", "1", "zscore", {"mean": [100.0, 5.0], "std": [5.0, 1.0]}, suppression=ONE_POINT
    )
    doc = _open([130.5, 5.0], config)
    assert doc["summary"] == "m on host-1: feature_0 6.1σ above baseline (130.5 vs 100±5)"


def test_summary_and_signals_name_at_most_three_features() -> None:
    config = ModelConfig("m", "1", "zscore", {"mean": [0.0] * 5, "std": [1.0] * 5})
    doc = _open([4.0, 5.0, 6.0, 7.0, 8.0], config)
    assert doc["summary"] == (
        "m on host-1: feature_4 8.0σ above baseline (8 vs 0±1); "
        "feature_3 7.0σ above baseline (7 vs 0±1); feature_2 6.0σ above baseline (6 vs 0±1)"
    )
    assert [s["feature"] for s in doc["signals"]] == ["feature_4", "feature_3", "feature_2"]


@pytest.mark.parametrize(
    ("value", "severity"),
    [
        (106.0, "critical"),  # 2.0 × threshold
        (94.0, "critical"),  # below the baseline counts the same
        (105.9, "error"),  # 1.97 ×
        (104.5, "error"),  # 1.5 ×
        (104.4, "warning"),  # 1.47 ×
        (103.01, "warning"),  # just above
    ],
)
def test_severity_by_score_to_threshold_ratio(value: float, severity: str) -> None:
    config = ModelConfig(
        "m", "1", "zscore", {"mean": [100.0], "std": [1.0], "threshold": 3.0}, suppression=ONE_POINT
    )
    assert _open([value], config)["severity"] == severity


def test_severity_edge_cases() -> None:
    assert severity_for(math.inf, 3.0) == "critical"
    assert severity_for(math.nan, 3.0) == "critical"
    assert severity_for(1.0, 0.0) == "critical"
    assert severity_for(3.0, 3.0) == "warning"


def test_iso_time_is_utc_with_milliseconds() -> None:
    assert iso_time(0.0) == "1970-01-01T00:00:00.000Z"
    assert iso_time(T0) == "2026-11-27T08:00:00.250Z"
    assert iso_time(T0 + 0.0004) == "2026-11-27T08:00:00.250Z"


def test_incident_id_is_stable_and_depends_on_every_part_of_the_identity() -> None:
    base = incident_id("metrics-v1", "1.0", "host-1", T0)
    assert base == incident_id("metrics-v1", "1.0", "host-1", T0)
    assert base.startswith("inc-") and len(base) == 24
    others = {
        incident_id("metrics-v2", "1.0", "host-1", T0),
        incident_id("metrics-v1", "1.1", "host-1", T0),
        incident_id("metrics-v1", "1.0", "host-2", T0),
        incident_id("metrics-v1", "1.0", "host-1", T0 + 0.001),
        # the parts are separated: moving a character from one to the next changes the id
        incident_id("metrics-v1", "1.0h", "ost-1", T0),
    }
    assert base not in others and len(others) == 5
    assert incident_id("m", "1", "h", 5) == incident_id("m", "1", "h", 5.0)


def _doc_numbers(doc: dict[str, Any]) -> list[Any]:
    numbers = [doc["score"], doc["peak_score"], doc["threshold"], doc["ts"]]
    for s in doc["signals"]:
        numbers += [s["value"], s["score"], s["center"], s["spread"], s["ts"]]
    return numbers


def test_every_number_in_every_document_is_finite_or_null() -> None:
    docs = [_open([math.nan, 20.0, 14.0]), *_life()]
    for doc in docs:
        for number in _doc_numbers(doc):
            assert number is None or (isinstance(number, float | int) and math.isfinite(number))
        json.dumps(doc, allow_nan=False)
