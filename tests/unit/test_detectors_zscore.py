"""ZScore: static validation, and learned statistics against river.stats.Mean / Var(ddof=1)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from river import stats

from detectors import DetectorError, ZScore


@pytest.mark.parametrize("seed", range(5))
def test_learned_mean_and_std_match_river_welford(seed: int) -> None:
    rng = np.random.default_rng(seed)
    series = rng.normal(loc=rng.uniform(-100, 100), scale=rng.uniform(0.1, 20), size=(300, 2))
    series[rng.random(300) < 0.1, 1] = np.nan  # feature 1 has gaps
    det = ZScore(2)
    oracles = [(stats.Mean(), stats.Var(ddof=1)) for _ in range(2)]
    for row in series:
        det.learn_one(row.tolist())
        for (mean, var), v in zip(oracles, row, strict=True):
            if not math.isnan(v):
                mean.update(float(v))
                var.update(float(v))
        for (center, spread), (mean, var) in zip(det.baseline(), oracles, strict=True):
            if var.n >= 2:
                assert math.isclose(center, mean.get(), rel_tol=1e-9)
                assert math.isclose(spread, math.sqrt(var.get()), rel_tol=1e-9)
    assert det.n_learned == 300
    assert det.to_state()["count"] == [300, int(oracles[1][1].n)]


@given(st.lists(st.floats(-1e6, 1e6), min_size=2, max_size=50))
def test_learned_score_matches_river_on_any_series(values: list[float]) -> None:
    det = ZScore(1)
    var = stats.Var(ddof=1)
    for v in values:
        det.learn_one([v])
        var.update(v)
    center, spread = det.baseline()[0]
    assert math.isclose(center, var.mean.get(), rel_tol=1e-9, abs_tol=1e-9)
    expected = max(math.sqrt(var.get()), 1e-9, abs(center) / 1e6)
    assert math.isclose(spread, expected, rel_tol=1e-9)
    assert math.isclose(det.score_one([center + 3 * spread]), 3.0, rel_tol=1e-9)


def test_static_scores_and_never_learns() -> None:
    det = ZScore(2, mean=[100, 5], std=[5, 1])
    assert det.score_one([101.0, 5.0]) == pytest.approx(0.2)
    assert det.score_one([120.0, 5.0]) == 4.0
    assert det.feature_scores([90.0, 8.0]) == [-2.0, 3.0]
    for _ in range(50):
        det.learn_one([1000.0, 1000.0])
    assert det.n_learned == 50
    assert det.baseline() == [(100.0, 5.0), (5.0, 1.0)]
    assert det.to_state() == {"n": 50}
    assert det.is_static


def test_static_std_is_not_floored() -> None:
    det = ZScore(1, mean=[1e6], std=[1e-3])  # below the learned floor of 1.0
    assert det.score_one([1e6 + 1e-3]) == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"mean": [1.0, 2.0]}, "mean and std must be given together; std is missing"),
        ({"std": [1.0, 2.0]}, "mean and std must be given together; mean is missing"),
        (
            {"mean": [1.0, 2.0], "std": [1.0]},
            "mean and std must have the same length, got 2 and 1",
        ),
        (
            {"mean": [1.0, 2.0, 3.0], "std": [1.0, 1.0, 1.0]},
            "mean and std must have n_features=2 values, got 3",
        ),
        ({"mean": [1.0, 2.0], "std": [1.0, 0.0]}, r"std\[1\] must be positive, got 0.0"),
        ({"mean": [1.0, 2.0], "std": [-1.0, 1.0]}, r"std\[0\] must be positive, got -1.0"),
        ({"mean": [math.nan, 2.0], "std": [1.0, 1.0]}, r"mean\[0\] must be finite, got nan"),
        ({"mean": [1.0, 2.0], "std": [1.0, math.inf]}, r"std\[1\] must be finite, got inf"),
        ({"mean": [1.0, "a"], "std": [1.0, 1.0]}, r"mean\[1\] must be a number, got 'a'"),
        ({"mean": 1.0, "std": [1.0, 1.0]}, "mean must be a list of numbers, got 1.0"),
    ],
)
def test_static_validation_names_the_field(params: dict[str, object], message: str) -> None:
    with pytest.raises(DetectorError, match=message):
        ZScore(2, **params)  # type: ignore[arg-type]


def test_detector_error_is_value_error() -> None:
    with pytest.raises(ValueError, match="std"):
        ZScore(1, mean=[0.0], std=[0.0])


def test_learned_state_round_trips_through_json() -> None:
    rng = np.random.default_rng(7)
    det = ZScore(2)
    for row in rng.normal(50, 3, size=(40, 2)):
        det.learn_one(row.tolist())
    state = json.loads(json.dumps(det.to_state(), allow_nan=False))
    copy = ZScore.from_state(2, {}, state)
    for row in rng.normal(50, 6, size=(40, 2)).tolist():
        assert copy.feature_scores(row) == det.feature_scores(row)
        copy.learn_one(row)
        det.learn_one(row)
    assert copy.to_state() == det.to_state()
    assert copy.n_learned == 80


def test_static_state_round_trip_keeps_count() -> None:
    det = ZScore.from_state(1, {"mean": [0.0], "std": [1.0]}, {"n": 12})
    assert det.n_learned == 12
    assert det.score_one([2.0]) == 2.0


@pytest.mark.parametrize(
    ("state", "message"),
    [
        ({}, "zscore state has no field 'n'"),
        ({"n": 1, "count": [1], "mean": [0.0], "m2": [0.0]}, "count must have 2 values, got 1"),
        ({"n": -1, "count": [0, 0], "mean": [0, 0], "m2": [0, 0]}, "n must be an integer >= 0"),
        ({"n": 1, "count": [1, 1], "mean": [0, 0]}, "zscore state has no field 'm2'"),
    ],
)
def test_bad_state_raises_detector_error(state: dict[str, object], message: str) -> None:
    with pytest.raises(DetectorError, match=message):
        ZScore.from_state(2, {}, state)
