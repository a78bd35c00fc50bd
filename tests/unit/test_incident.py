"""The incident document on the alerts topic (schema anomaly.incident/v1) as score_batch opens it."""

from __future__ import annotations

import json
import math
from datetime import datetime
from typing import Any

import pytest

from incidents.config import ModelConfig
from incidents.incident import (
    SCHEMA,
    Incident,
    Signal,
    incident_id,
    iso_time,
    severity_for,
    signals_for,
    summarize,
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


def _open(values: list[float], config: ModelConfig = HOSTS, t: float = T0) -> Incident:
    out = score_batch(config, "host-1", None, [t], [values], source="telemetry.metrics")
    assert len(out.incidents) == 1, "the point must open an incident"
    return out.incidents[0]


def test_document_fields() -> None:
    incident = _open([100.0, 20.0, 14.0])
    doc = incident.to_dict()
    assert doc["schema"] == SCHEMA == "anomaly.incident/v1"
    assert doc["incident_id"] == doc["dedup_key"] == incident_id("metrics-v1", "1.0", "host-1", T0)
    assert doc["opened_at"] == "2026-11-27T08:00:00.250Z"
    assert datetime.fromisoformat(doc["opened_at"].replace("Z", "+00:00")).timestamp() == T0
    assert doc["ts"] == T0
    assert (doc["model_id"], doc["model_version"], doc["entity"]) == (
        "metrics-v1",
        "1.0",
        "host-1",
    )
    assert doc["source"] == "telemetry.metrics"
    assert doc["status"] == "open"
    assert doc["alert_channels"] == ["pagerduty", "slack"]
    assert doc["score"] == pytest.approx(6.0) and doc["threshold"] == 3.0
    # the published form is strict JSON
    assert json.loads(json.dumps(doc, allow_nan=False)) == doc


def test_signals_are_ranked_by_absolute_score_with_gaps_last() -> None:
    # cpu is a gap (NaN), mem is 6σ below, disk 4σ above.
    doc = _open([math.nan, 20.0, 14.0]).to_dict()
    assert [s["feature"] for s in doc["signals"]] == ["mem", "disk", "cpu"]
    mem, disk, cpu = doc["signals"]
    assert mem == {"feature": "mem", "value": 20.0, "score": -6.0, "center": 50.0, "spread": 5.0}
    assert disk["score"] == pytest.approx(4.0)
    assert cpu == {"feature": "cpu", "value": None, "score": None, "center": 100.0, "spread": 5.0}
    json.dumps(doc, allow_nan=False)  # NaN never reaches the document


def test_a_feature_without_a_baseline_yet_has_null_numbers() -> None:
    # "b" was a gap in every learned point, so it has no baseline when "a" jumps: it scores 0
    # (detectors' rule) and its center and spread are null, never NaN.
    config = ModelConfig("m", "1", "ewma", warmup=3, features=("a", "b"))
    rows = [[1.0, math.nan], [1.2, math.nan], [0.8, math.nan], [99.0, 5.0]]
    out = score_batch(config, "h", None, [0.0, 1.0, 2.0, 3.0], rows)
    assert len(out.incidents) == 1
    doc = out.incidents[0].to_dict()
    assert doc["signals"][1] == {
        "feature": "b",
        "value": 5.0,
        "score": 0.0,
        "center": None,
        "spread": None,
    }
    # the summary names only "a": a feature that did not deviate is not part of the story
    assert doc["summary"].startswith("m on h: a ") and ";" not in doc["summary"]
    json.dumps(doc, allow_nan=False)


def test_summary_names_the_top_features_with_their_numbers() -> None:
    incident = _open([100.0, 20.0, 14.0])
    assert incident.summary == (
        "metrics-v1 on host-1: mem 6.0σ below baseline (20 vs 50±5); "
        "disk 4.0σ above baseline (14 vs 10±1)"
    )


def test_summary_uses_generated_names_without_features() -> None:
    config = ModelConfig("m", "1", "zscore", {"mean": [100.0, 5.0], "std": [5.0, 1.0]})
    incident = _open([130.5, 5.0], config)
    assert incident.summary == "m on host-1: feature_0 6.1σ above baseline (130.5 vs 100±5)"


def test_summary_lists_at_most_three_signals() -> None:
    signals = [Signal(f"f{i}", 10.0 + i, 4.0 + i, 0.0, 1.0) for i in range(5)]
    ranked = signals_for(
        [s.feature for s in signals],
        [s.value or 0.0 for s in signals],
        [s.score or 0.0 for s in signals],
        [(0.0, 1.0)] * 5,
    )
    text = summarize("m", "e", ranked)
    assert [s.feature for s in ranked] == ["f4", "f3", "f2", "f1", "f0"]
    assert text.count("σ") == 3 and "f4" in text and "f1" not in text


def test_summary_without_deviating_signals_still_says_something() -> None:
    assert summarize("m", "e", [Signal("a", None, None, None, None)]) == "m on e: anomalous score"


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
    config = ModelConfig("m", "1", "zscore", {"mean": [100.0], "std": [1.0], "threshold": 3.0})
    assert _open([value], config).severity == severity


def test_severity_edge_cases() -> None:
    assert severity_for(math.inf, 3.0) == "critical"
    assert severity_for(1.0, 0.0) == "critical"


def test_iso_time_is_utc_with_milliseconds() -> None:
    assert iso_time(0.0) == "1970-01-01T00:00:00.000Z"
    assert iso_time(T0) == "2026-11-27T08:00:00.250Z"


def _doc_numbers(doc: dict[str, Any]) -> list[Any]:
    numbers = [doc["score"], doc["threshold"], doc["ts"]]
    for s in doc["signals"]:
        numbers += [s["value"], s["score"], s["center"], s["spread"]]
    return numbers


def test_every_number_in_the_document_is_finite_or_null() -> None:
    doc = _open([math.nan, 20.0, 14.0]).to_dict()
    for number in _doc_numbers(doc):
        assert number is None or math.isfinite(number)
