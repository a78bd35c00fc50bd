"""RollingMAD: rolling median against river.stats.RollingQuantile(q=0.5), MAD against numpy."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from river import stats

from detectors import DetectorError, RollingMAD


@pytest.mark.parametrize("window", [3, 4, 10, 64])
@pytest.mark.parametrize("seed", range(3))
def test_median_matches_river_and_mad_matches_numpy(window: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    series = rng.normal(loc=rng.uniform(-50, 50), scale=rng.uniform(0.5, 10), size=(200, 2))
    series[rng.random(200) < 0.1, 1] = np.nan
    det = RollingMAD(2, window=window)
    oracles = [stats.RollingQuantile(q=0.5, window_size=window) for _ in range(2)]
    history: list[list[float]] = [[], []]
    for row in series:
        det.learn_one(row.tolist())
        for i, v in enumerate(row):
            if not math.isnan(v):
                oracles[i].update(float(v))
                history[i].append(float(v))
        for i, (center, spread) in enumerate(det.baseline()):
            recent = np.array(history[i][-window:])
            if len(recent) < 3:
                assert math.isnan(center) and math.isnan(spread)
                continue
            river_median = oracles[i].get()
            assert river_median is not None
            assert math.isclose(center, river_median, rel_tol=1e-9)
            mad = 1.4826 * np.median(np.abs(recent - np.median(recent)))
            assert math.isclose(spread, float(mad), rel_tol=1e-9)


def test_window_evicts_old_values() -> None:
    det = RollingMAD(1, window=3)
    for v in [1000.0, 1.0, 2.0, 3.0]:
        det.learn_one([v])
    assert det.baseline() == [(2.0, 1.4826)]
    assert det.to_state() == {"n": 4, "window": [[1.0, 2.0, 3.0]]}


def test_robust_to_one_outlier_in_window() -> None:
    det = RollingMAD(1, window=9)
    for v in [10.0, 11.0, 9.0, 10.0, 1e6, 10.0, 11.0, 9.0, 10.0]:
        det.learn_one([v])
    center, spread = det.baseline()[0]
    assert center == 10.0
    assert spread == pytest.approx(1.4826)
    assert det.score_one([13.0]) == pytest.approx(3 / 1.4826)


def test_baseline_needs_three_values() -> None:
    det = RollingMAD(1)
    det.learn_one([1.0])
    det.learn_one([3.0])
    assert det.score_one([100.0]) == 0.0
    det.learn_one([2.0])
    assert det.score_one([100.0]) == pytest.approx(98 / 1.4826)


def test_default_window() -> None:
    assert RollingMAD(1).window == 64


@pytest.mark.parametrize("window", [2, 0, 64.0, "64", True])
def test_window_validation(window: object) -> None:
    with pytest.raises(DetectorError, match=r"window must be an integer >= 3, got"):
        RollingMAD(1, window=window)  # type: ignore[arg-type]


def test_state_round_trips_through_json() -> None:
    rng = np.random.default_rng(5)
    det = RollingMAD(2, window=16)
    for row in rng.normal(0, 1, size=(40, 2)).tolist():
        det.learn_one(row)
    copy = RollingMAD.from_state(2, {"window": 16}, json.loads(json.dumps(det.to_state())))
    for row in rng.normal(0, 3, size=(40, 2)).tolist():
        assert copy.feature_scores(row) == det.feature_scores(row)
        copy.learn_one(row)
        det.learn_one(row)
    assert copy.to_state() == det.to_state()


def test_state_keeps_newest_values_when_window_shrinks() -> None:
    det = RollingMAD.from_state(1, {"window": 3}, {"n": 5, "window": [[9, 9, 1, 2, 3]]})
    assert det.baseline() == [(2.0, 1.4826)]


@pytest.mark.parametrize(
    ("state", "message"),
    [
        ({"n": 1}, "mad state has no field 'window'"),
        ({"n": 1, "window": [[1.0]]}, "mad state window must have 2 lists"),
        ({"n": 1, "window": [[1.0], [math.nan]]}, r"mad state window\[1\]\[0\] must be finite"),
    ],
)
def test_bad_state_raises_detector_error(state: dict[str, object], message: str) -> None:
    with pytest.raises(DetectorError, match=message):
        RollingMAD.from_state(2, {}, state)
