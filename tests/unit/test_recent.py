"""RecentStore: the bounded, in-memory recent points per key that the dashboard charts."""

from __future__ import annotations

import math
import tracemalloc

import numpy as np
import pytest

from app.worker.recent import RecentStore
from incidents.behavior import BehaviorEvent, score_behavior_events
from incidents.config import ModelConfig
from incidents.outcome import BatchOutcome
from incidents.scoring import score_batch

STATIC = ModelConfig(
    "metrics-v1", "1", "zscore", {"mean": [100.0, 5.0], "std": [5.0, 1.0], "threshold": 3.0}
)


def scored(
    ts: list[float], values: list[list[float]], config: ModelConfig = STATIC
) -> BatchOutcome:
    return score_batch(config, "host-1", None, ts, values)


def test_keeps_the_last_points_with_their_values_flags_band_and_incident() -> None:
    store = RecentStore(points=5)
    ts = [10.0 * i for i in range(8)]
    values = [[101.0, 5.0]] * 6 + [[160.0, 5.0], [101.0, 5.0]]
    outcome = scored(ts, values)
    store.add("metrics-v1", "host-1", outcome)

    series = store.series("metrics-v1", "host-1")
    assert series is not None
    points = series["points"]
    assert [p["ts"] for p in points] == [30.0, 40.0, 50.0, 60.0, 70.0]
    spike = points[3]
    assert spike["values"] == [160.0, 5.0]
    assert spike["is_anomaly"] and spike["alert"]
    assert spike["incident_id"] == outcome.events[0]["incident_id"]
    assert spike["lower"] == [85.0, 2.0] and spike["upper"] == [115.0, 8.0]  # 100±3×5, 5±3×1
    assert not points[4]["is_anomaly"] and points[4]["incident_id"] is None
    assert series["baseline"] == [
        {"center": 100.0, "spread": 5.0},
        {"center": 5.0, "spread": 1.0},
    ]
    assert series["threshold"] == 3.0 and series["step_seconds"] == 10.0


def test_appends_batches_and_drops_the_oldest_points() -> None:
    store = RecentStore(points=20)
    for start in range(0, 100, 7):
        ts = [float(t) for t in range(start, start + 7)]
        store.add("metrics-v1", "host-1", scored(ts, [[100.0, 5.0]] * 7))
    points = store.series("metrics-v1", "host-1")["points"]  # type: ignore[index]
    assert [p["ts"] for p in points] == [float(t) for t in range(85, 105)]
    assert [p["ts"] for p in store.series("metrics-v1", "host-1", limit=3)["points"]] == [  # type: ignore[index]
        102.0,
        103.0,
        104.0,
    ]


def test_a_big_batch_keeps_only_its_last_points() -> None:
    store = RecentStore(points=300)
    n = 50_000
    store.add("metrics-v1", "host-1", scored([float(t) for t in range(n)], [[100.0, 5.0]] * n))
    points = store.series("metrics-v1", "host-1")["points"]  # type: ignore[index]
    assert len(points) == 300 and points[0]["ts"] == n - 300 and points[-1]["ts"] == n - 1


def test_least_recently_updated_key_goes_first() -> None:
    store = RecentStore(max_keys=2, points=10)
    one = scored([0.0], [[100.0, 5.0]])
    store.add("metrics-v1", "a", one)
    store.add("metrics-v1", "b", one)
    store.add("metrics-v1", "a", one)
    store.add("metrics-v1", "c", one)
    assert len(store) == 2
    assert store.series("metrics-v1", "b") is None
    assert store.series("metrics-v1", "a") is not None and store.series("metrics-v1", "c")


def test_gaps_and_missing_scores_are_null_not_nan() -> None:
    store = RecentStore()
    store.add("metrics-v1", "host-1", scored([0.0, 1.0], [[100.0, math.nan], [math.nan, math.nan]]))
    first, second = store.series("metrics-v1", "host-1")["points"]  # type: ignore[index]
    assert first["values"] == [100.0, None]
    assert second["values"] == [None, None] and second["score"] is None


def test_a_new_number_of_features_starts_the_series_again() -> None:
    store = RecentStore()
    store.add("metrics-v1", "host-1", scored([0.0, 1.0], [[100.0, 5.0], [100.0, 5.0]]))
    one_feature = ModelConfig("metrics-v1", "2", "zscore", {"mean": [1.0], "std": [1.0]})
    store.add("metrics-v1", "host-1", scored([2.0], [[1.0]], one_feature))
    points = store.series("metrics-v1", "host-1")["points"]  # type: ignore[index]
    assert [(p["ts"], p["values"]) for p in points] == [(2.0, [1.0])]


def test_behaviour_points_have_a_score_and_no_values() -> None:
    config = ModelConfig("behavior-v1", "1", "graph_rarity", stream="behavior")
    events = [BehaviorEvent(600.0 * i, "login", "/login") for i in range(5)]
    store = RecentStore()
    store.add("behavior-v1", "user-1", score_behavior_events(config, "user-1", None, events))
    points = store.series("behavior-v1", "user-1")["points"]  # type: ignore[index]
    assert len(points) == 5
    assert all(p["values"] == [] and p["lower"] == [] for p in points)
    assert all(p["threshold"] == 5.0 for p in points)


def test_an_empty_batch_adds_nothing() -> None:
    store = RecentStore()
    store.add("metrics-v1", "host-1", scored([], []))
    assert store.series("metrics-v1", "host-1") is None and len(store) == 0


def test_bounds_are_checked() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        RecentStore(points=0)


def test_memory_per_point_is_small() -> None:
    """What the module docstring promises: 2,000 full keys of two features in about 50 MB."""
    store = RecentStore(max_keys=100, points=300)
    batch = scored([float(t) for t in range(10)], [[100.0, 5.0]] * 10)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for key in range(100):
            for _ in range(40):  # 400 points each: past the trimming point
                store.add("metrics-v1", f"host-{key}", batch)
        used = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    per_key = used / 100
    assert per_key * 2000 < 60e6, f"{per_key:.0f} bytes per key of 300 points"


@pytest.mark.parametrize("seed", range(6))
def test_a_block_keeps_what_its_point_outcomes_say(seed: int) -> None:
    """The view reads a block's columns without building its outcomes: the same ts, score,
    threshold, flags and incident as the outcomes give, with incidents opening and resolving
    (spikes and quiet stretches) and learned baselines (adaptive ewma)."""
    rng = np.random.default_rng(seed)
    adaptive = ModelConfig(
        "metrics-v1",
        "1",
        "ewma",
        {"threshold": 3.0},
        threshold_strategy="adaptive",
        resolve_after=30.0,
        history_window=32,
    )
    state = None
    seen: set[str] = set()
    for message in range(4):
        n = int(rng.integers(20, 1200))
        ts = [10.0 * (message * 2000 + i) for i in range(n)]
        values = rng.normal(100.0, 5.0, (n, 2))
        values[rng.random(n) < 0.03] += 80.0  # spikes that open incidents
        for config in (STATIC, adaptive):
            out = score_batch(config, "host-1", state, ts, values.tolist())
            from_columns, from_outcomes = RecentStore(points=300), RecentStore(points=300)
            from_columns.add("metrics-v1", "host-1", out)  # before out.points drops the table
            marks = out.last_marks(300)
            expected = [
                (p.ts, p.score, p.threshold, p.is_anomaly, p.alert, p.incident_id)
                for p in out.points[-300:]
            ]
            assert marks == expected
            seen.update(m[5] for m in marks if m[5])
            # the view's columns keep what the outcomes give
            listed = BatchOutcome(point_list=out.points, values=out.values, baseline=out.baseline)
            from_outcomes.add("metrics-v1", "host-1", listed)
            assert from_columns.series("metrics-v1", "host-1") == from_outcomes.series(
                "metrics-v1", "host-1"
            )
        state = out.state
    assert seen  # incidents opened within the kept points


def test_rows_decoded_as_an_array_are_kept_like_rows_of_lists() -> None:
    ts = [float(t) for t in range(400)]
    rows = np.random.default_rng(3).normal(100.0, 9.0, (400, 2))
    rows[7, 1] = math.nan  # a gap
    as_lists, as_array = RecentStore(points=300), RecentStore(points=300)
    as_lists.add("metrics-v1", "host-1", scored(ts, rows.tolist()))
    as_array.add("metrics-v1", "host-1", score_batch(STATIC, "host-1", None, ts, rows))
    assert as_array.series("metrics-v1", "host-1") == as_lists.series("metrics-v1", "host-1")
    last = as_array.series("metrics-v1", "host-1")["points"][-1]  # type: ignore[index]
    assert last["values"] == rows[-1].tolist()
