"""Feedback, kept apart from evaluation: labels judge alerts and are never learned; the verdict
``false_positive`` (REST, an incident message, or a point's ``feedback`` field) is learned, resolves
the incident with that resolution and counts as a false positive."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from app.telemetry.messages import decode_batch, incident_feedback
from app.worker.entity_record import EntityRecord
from app.worker.metrics import EngineMetrics
from app.worker.stats import StatsStore
from incidents.config import ModelConfig
from incidents.feedback import (
    FALSE_POSITIVE,
    FeedbackRefused,
    dismissal,
    incident_points,
    score_with_feedback,
)
from incidents.lifecycle import EntityIncidents
from incidents.points import TelemetryError
from incidents.scoring import score_batch

T0 = 1795766400.0
# A learned z-score (the README's model has a static baseline, which feedback cannot move).
CONFIG = ModelConfig(
    "cpu-v1",
    "1",
    "zscore",
    {"threshold": 3.0},
    features=["cpu", "mem"],
    warmup=5,
    resolve_after=600,
)
# A short history: one point learned as normal moves a z-score's baseline enough to take in a
# spike of any size while fewer than 10 points were learned (the z-score of a spike learned once
# tends to n / sqrt(n + 1) as it grows).
NORMAL = [[100.0 + (i % 3) - 1, 5.0 + 0.1 * (i % 2)] for i in range(8)]
SPIKE = [107.0, 5.0]


def history(n: int = len(NORMAL)) -> Any:
    values = [[100.0 + (i % 3) - 1, 5.0 + 0.1 * (i % 2)] for i in range(n)]
    return score_batch(CONFIG, "host-1", None, [T0 + 10 * i for i in range(n)], values)


def spiked(n: int = len(NORMAL)) -> tuple[Any, Any, str]:
    """The key after ``n`` normal points and a spike that opened an incident: (state, shared,
    the incident's id)."""
    before = history(n)
    out = score_batch(
        CONFIG, "host-1", before.state, [T0 + 1000], [SPIKE], entity_state=before.entity_state
    )
    [opened] = out.opened
    return out.state, out.entity_state, opened["incident_id"]


def flags(state: Any, values: list[list[float]]) -> list[bool]:
    """Whether each point would be flagged now (a dry run: nothing moves)."""
    ts = [T0 + 1000 + i for i in range(len(values))]
    return [
        p.is_anomaly for p in score_batch(CONFIG, "host-1", state, ts, values, learn=False).points
    ]


# ----------------------------------------------------------------------------- labels vs feedback


def test_labels_never_change_what_the_model_learned() -> None:
    before = history()
    values = [[100.0, 5.0], [120.0, 5.0], [99.0, 5.1], [121.0, 5.0], [100.0, 5.0]]
    ts = [T0 + 200 + 10 * i for i in range(len(values))]
    plain = score_batch(CONFIG, "host-1", before.state, ts, values)
    # labels that say the flagged points were normal, and the normal ones anomalous
    labelled = score_batch(CONFIG, "host-1", before.state, ts, values, labels=[1, 0, 1, 0, 1])
    assert [p.is_anomaly for p in plain.points] == [False, True, False, True, False]
    assert {k: v for k, v in labelled.state.items() if k != "quality"} == plain.state
    assert labelled.state["quality"] != before.state.get("quality")  # labels went somewhere
    assert flags(labelled.state, [[120.0, 5.0]]) == [True]


def test_feedback_changes_what_the_model_learned() -> None:
    before = history()
    ts = [T0 + 200]
    plain = score_batch(CONFIG, "host-1", before.state, ts, [[120.0, 5.0]])
    marked = score_with_feedback(
        CONFIG,
        "host-1",
        before.state,
        ts,
        [[120.0, 5.0]],
        [FALSE_POSITIVE],
        source="telemetry.metrics",
        entity_state=None,
    )
    assert plain.points[0].is_anomaly
    assert marked.points == []  # a point marked normal is learned, not scored
    # a flagged point is learned one spread from the center; one marked normal as it is
    mean = [s["model"]["detector_state"]["mean"][0] for s in (before.state, plain.state)]
    marked_mean = marked.state["model"]["detector_state"]["mean"][0]
    assert mean[0] < mean[1] < marked_mean
    assert marked.counters["false_positives"] == 1
    assert flags(marked.state, [[120.0, 5.0]]) == [False]


# ------------------------------------------------------------------------- an incident dismissed


def test_dismissal_learns_the_points_resolves_with_the_reason_and_counts() -> None:
    state, shared, incident_id = spiked()
    assert flags(state, [SPIKE]) == [True]
    configs = {"cpu-v1": CONFIG}
    record = EntityRecord({"models": {"cpu-v1": state}, "shared": shared})
    plan = dismissal(
        "host-1", record.shared, incident_id, FALSE_POSITIVE, configs.get, record.model_state
    )
    assert plan.learned == {"cpu-v1": 1}
    [(config, run)] = plan.steps
    out = run(state, shared)
    [event] = out.events
    assert (event["event"], event["status"], event["resolution"]) == (
        "resolve",
        "resolved",
        "false_positive",
    )
    assert event["incident_id"] == incident_id
    assert event["resolved_at"] == "2026-11-27T08:16:40.000Z"  # the spike's event time
    assert out.entity_state is not None and out.entity_state["open"] is None
    assert out.entity_state["signals"] == shared["signals"]  # the correlations are kept
    assert out.counters == {"resolved": 1, "false_positives": 1}
    assert out.state["points"] == state["points"]  # points seen before, not new ones
    assert flags(out.state, [SPIKE]) == [False]
    with pytest.raises(FeedbackRefused, match="is not open") as refused:
        dismissal("host-1", out.entity_state, incident_id, FALSE_POSITIVE, configs.get, {}.get)
    assert refused.value.reason == "not_open"


def test_after_a_long_history_the_spike_stays_flagged_but_no_longer_alerts_alone() -> None:
    """One point learned as normal weighs one point: after 30 points the spike still scores
    above the threshold, but below the bypass (2x), so persistence keeps it from alerting."""
    state, shared, incident_id = spiked(30)
    plan = dismissal(
        "host-1", shared, incident_id, FALSE_POSITIVE, {"cpu-v1": CONFIG}.get, {"cpu-v1": state}.get
    )
    out = plan.steps[0][1](state, shared)
    again = score_batch(
        CONFIG, "host-1", out.state, [T0 + 1010], [SPIKE], entity_state=out.entity_state
    )
    [point] = again.points
    assert point.is_anomaly and 3.0 < point.score < 6.0
    assert (point.alert, point.suppressed_by, again.events) == (False, "persistence", [])


def test_the_resolve_event_is_kept_in_the_row_for_replays_with_its_resolution() -> None:
    state, shared, incident_id = spiked()
    record = EntityRecord({"models": {"cpu-v1": state}, "shared": shared})
    plan = dismissal(
        "host-1", shared, incident_id, FALSE_POSITIVE, {"cpu-v1": CONFIG}.get, record.model_state
    )
    out = plan.steps[0][1](state, shared)
    row = record.updated("t:0", 7, {"cpu-v1": out.state}, out.entity_state, out.events)
    assert EntityRecord(row).events_of("t:0", 7, "host-1") == out.events


def test_an_incident_whose_models_are_all_gone_is_refused() -> None:
    state, shared, incident_id = spiked()
    with pytest.raises(FeedbackRefused, match="none of the models") as refused:
        dismissal("host-1", shared, incident_id, FALSE_POSITIVE, {}.get, {"cpu-v1": state}.get)
    assert refused.value.reason == "unknown_model"


def test_a_new_model_version_learns_nothing_from_an_incident_of_the_old_one() -> None:
    state, shared, incident_id = spiked()
    newer = ModelConfig("cpu-v1", "2", "zscore", {"threshold": 3.0}, features=["cpu", "mem"])
    plan = dismissal(
        "host-1", shared, incident_id, FALSE_POSITIVE, {"cpu-v1": newer}.get, {"cpu-v1": state}.get
    )
    assert plan.learned == {}
    out = plan.steps[0][1](state, shared)
    assert out.state == state and [e["resolution"] for e in out.events] == ["false_positive"]


# ------------------------------------------------------------------------ points marked normal


def test_a_point_marked_normal_resolves_the_incident_it_belongs_to() -> None:
    state, shared, incident_id = spiked()
    out = score_with_feedback(
        CONFIG,
        "host-1",
        state,
        [T0 + 1000, T0 + 1010],
        [SPIKE, SPIKE],
        [FALSE_POSITIVE, None],
        source="telemetry.metrics",
        entity_state=shared,
    )
    assert [(e["event"], e["incident_id"], e.get("resolution")) for e in out.events] == [
        ("resolve", incident_id, "false_positive")
    ]
    assert out.counters["false_positives"] == 1 and out.counters["resolved"] == 1
    assert out.counters["opened"] == 0  # the same value right after opens nothing
    assert [(p.ts, p.is_anomaly) for p in out.points] == [(T0 + 1010, False)]
    assert out.state["points"] == state["points"] + 2


def test_a_marked_point_outside_the_incident_leaves_it_open() -> None:
    state, shared, _ = spiked()
    out = score_with_feedback(
        CONFIG,
        "host-1",
        state,
        [T0 + 50],  # before the incident opened
        [[100.0, 5.0]],
        [FALSE_POSITIVE],
        source="telemetry.metrics",
        entity_state=shared,
    )
    assert out.events == [] and out.entity_state is None
    assert out.counters == {"false_positives": 1}


def test_labels_of_the_other_points_still_reach_the_quality_counters() -> None:
    before = history()
    out = score_with_feedback(
        CONFIG,
        "host-1",
        before.state,
        [T0 + 200, T0 + 210],
        [[120.0, 5.0], [100.0, 5.0]],
        [FALSE_POSITIVE, None],
        source="telemetry.metrics",
        entity_state=None,
        labels=[1, 0],
    )
    assert [p.ts for p in out.points] == [T0 + 210]
    assert "quality" in out.state


# ------------------------------------------------------------------------------------- decoding


def test_feedback_in_each_form_of_a_metrics_message() -> None:
    point = {"model_id": "m", "entity": "h", "ts": 0, "values": [1.0, 2.0]}
    assert decode_batch({**point, "feedback": "false_positive"}, CONFIG, 10).feedback == [
        "false_positive"
    ]
    assert decode_batch(point, CONFIG, 10).feedback is None
    points = {
        "model_id": "m",
        "entity": "h",
        "points": [
            {"ts": 0, "values": [1.0, 2.0]},
            {"ts": 1, "values": [9.0, 2.0], "feedback": "false_positive", "label": 1},
        ],
    }
    batch = decode_batch(points, CONFIG, 10)
    assert (batch.feedback, batch.labels) == ([None, "false_positive"], [None, 1])
    columns = {
        "model_id": "m",
        "entity": "h",
        "ts": [0, 1],
        "values": [[1.0, 9.0], [2.0, 2.0]],
        "feedback": [None, "false_positive"],
    }
    assert decode_batch(columns, CONFIG, 10).feedback == [None, "false_positive"]


@pytest.mark.parametrize(
    ("message", "says"),
    [
        (
            {"ts": 0, "values": [1.0, 2.0], "feedback": "true_positive"},
            "feedback must be \"false_positive\" or null, got 'true_positive'",
        ),
        (
            {"points": [{"ts": 0, "values": [1.0, 2.0], "feedback": 1}]},
            "points[0].feedback must be",
        ),
        (
            {"ts": [0, 1], "values": [[1.0, 2.0], [2.0, 2.0]], "feedback": ["false_positive"]},
            "feedback must be a list with one verdict or null per timestamp",
        ),
    ],
)
def test_bad_feedback_on_points_says_where(message: dict[str, Any], says: str) -> None:
    with pytest.raises(TelemetryError) as error:
        decode_batch({"model_id": "m", "entity": "h", **message}, CONFIG, 10)
    assert says in str(error.value)


@pytest.mark.parametrize(
    ("feedback", "extra", "says"),
    [
        ({"incident_id": "inc-1", "verdict": "wrong"}, {}, "feedback.verdict must be"),
        ({"verdict": "false_positive"}, {}, "incident_id must be a non-empty string"),
        ({"incident_id": "inc-1", "verdict": "false_positive", "why": "x"}, {}, "unknown field"),
        ({"incident_id": "inc-1", "verdict": "false_positive"}, {"ts": 0}, "carries no points"),
    ],
)
def test_bad_feedback_on_an_incident_says_why(
    feedback: dict[str, Any], extra: dict[str, Any], says: str
) -> None:
    with pytest.raises(TelemetryError, match=says):
        incident_feedback({"model_id": "m", "entity": "h", "feedback": feedback, **extra})


# ------------------------------------------------------------------------------ counters, stats


def test_false_positives_are_counted_per_model_on_metrics_and_stats() -> None:
    metrics = EngineMetrics(process=False)
    metrics.scored("cpu-v1", {"false_positives": 1, "resolved": 1})
    assert metrics.value("anomaly_false_positives_total", model_id="cpu-v1") == 1
    assert metrics.value("anomaly_incidents_resolved_total", model_id="cpu-v1") == 1

    class Record:
        key = b'"cpu-v1|p0"'
        value = b'{"points": 12, "false_positives": 2}'

    stats = StatsStore()
    stats.apply(Record())  # type: ignore[arg-type]
    assert stats.models()["cpu-v1"]["false_positives"] == 2


def test_incident_points_are_rows_of_the_models_features() -> None:
    _, shared, _ = spiked()
    incident = EntityIncidents("host-1", shared).open
    assert incident is not None
    ts, rows = incident_points(incident, "cpu-v1", ["cpu", "mem"])
    assert np.array_equal(rows, np.array([SPIKE]))
    assert ts.tolist() == [incident["ts"]]
