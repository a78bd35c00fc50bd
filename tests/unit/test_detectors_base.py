"""Contract shared by every detector: input handling, floors, score = max |feature score|."""

from __future__ import annotations

import math
import sys
from typing import Any

import pytest

from detectors import EWMA, Detector, DetectorError, RollingMAD, ZScore, combined_score
from detectors.base import floored, spread_floor
from detectors.registry import DETECTORS, make_detector

NAN = math.nan
INF = math.inf

LEARNED: list[tuple[type[Detector], dict[str, Any], int]] = [
    (ZScore, {}, 2),
    (EWMA, {"alpha": 0.3}, 2),
    (RollingMAD, {"window": 8}, 3),
]
"""Learned detectors, their params and the number of points before a baseline exists."""


def _make(cls: type[Detector], params: dict[str, Any], n_features: int = 2) -> Detector:
    return cls(n_features, **params)


def _trained(cls: type[Detector], params: dict[str, Any]) -> Detector:
    det = _make(cls, params)
    for a, b in [(10.0, 1.0), (12.0, 2.0), (11.0, 1.5), (9.0, 3.0), (10.5, 2.5), (11.5, 1.0)]:
        det.learn_one([a, b])
    return det


@pytest.mark.parametrize(("cls", "params", "needed"), LEARNED)
def test_no_baseline_scores_zero_until_enough_points(
    cls: type[Detector], params: dict[str, Any], needed: int
) -> None:
    det = _make(cls, params)
    for i in range(needed):
        assert det.score_one([1000.0, -1000.0]) == 0.0
        assert det.feature_scores([1000.0, -1000.0]) == [0.0, 0.0]
        assert all(math.isnan(c) and math.isnan(s) for c, s in det.baseline())
        det.learn_one([float(i), float(2 * i)])
    assert det.score_one([1000.0, -1000.0]) > 10.0
    assert all(math.isfinite(c) and s > 0 for c, s in det.baseline())


@pytest.mark.parametrize(("cls", "params", "needed"), LEARNED)
def test_score_is_max_abs_of_finite_feature_scores(
    cls: type[Detector], params: dict[str, Any], needed: int
) -> None:
    det = _trained(cls, params)
    for x in ([13.0, 0.0], [5.0, 2.0], [10.0, NAN], [NAN, 9.0]):
        scores = det.feature_scores(x)
        finite = [abs(z) for z in scores if not math.isnan(z)]
        assert det.score_one(x) == max(finite)
    assert det.feature_scores([13.0, 0.0])[0] > 0 > det.feature_scores([13.0, 0.0])[1]


@pytest.mark.parametrize(("cls", "params", "needed"), LEARNED)
@pytest.mark.parametrize("missing", [NAN, INF, -INF])
def test_missing_features_are_ignored_and_not_learned(
    cls: type[Detector], params: dict[str, Any], needed: int, missing: float
) -> None:
    det = _trained(cls, params)
    before = det.to_state()
    scores = det.feature_scores([missing, 20.0])
    assert math.isnan(scores[0])
    assert det.score_one([missing, 20.0]) == abs(scores[1]) > 0
    assert math.isnan(det.score_one([missing, missing]))
    det.learn_one([missing, missing])
    assert det.to_state() == before, "an all-missing point must not be learned or counted"
    det.learn_one([missing, 2.0])
    assert det.n_learned == before["n"] + 1
    reference = _trained(cls, params)
    # feature 0 did not move: same score as a detector that never saw the point
    assert det.feature_scores([13.0, NAN])[0] == reference.feature_scores([13.0, NAN])[0]


@pytest.mark.parametrize(("cls", "params", "needed"), LEARNED)
def test_constant_series_uses_floor(
    cls: type[Detector], params: dict[str, Any], needed: int
) -> None:
    det = _make(cls, params)
    for _ in range(10):
        det.learn_one([100.0, 0.0])
    assert det.score_one([100.0, 0.0]) == 0.0
    assert det.baseline() == [(100.0, 1e-4), (0.0, 1e-9)]
    high = det.score_one([100.5, 0.0])
    assert math.isfinite(high) and high == pytest.approx(5000.0)
    assert det.feature_scores([100.0, -1.0]) == [0.0, pytest.approx(-1e9)]


@pytest.mark.parametrize(("cls", "params", "needed"), LEARNED)
def test_huge_finite_value_scores_finite_and_never_raises(
    cls: type[Detector], params: dict[str, Any], needed: int
) -> None:
    det = _make(cls, params)
    for _ in range(5):
        det.learn_one([0.0, 0.0])
    assert det.feature_scores([1e300, -1e300]) == [sys.float_info.max, -sys.float_info.max]


@pytest.mark.parametrize(("cls", "params", "needed"), LEARNED)
def test_wrong_length_or_type_raises_detector_error(
    cls: type[Detector], params: dict[str, Any], needed: int
) -> None:
    det = _make(cls, params)
    with pytest.raises(DetectorError, match=r"x must have 2 values \(n_features\), got 3"):
        det.score_one([1.0, 2.0, 3.0])
    with pytest.raises(DetectorError, match=r"x\[1\] must be a number, got 'a'"):
        det.learn_one([1.0, "a"])  # type: ignore[list-item]
    with pytest.raises(DetectorError, match=r"x\[0\] must be a number, got None"):
        det.feature_scores([None, 1.0])  # type: ignore[list-item]


@pytest.mark.parametrize("cls", [ZScore, EWMA, RollingMAD])
@pytest.mark.parametrize("n_features", [0, -1, True, 1.5])
def test_n_features_must_be_positive_int(cls: type[Detector], n_features: Any) -> None:
    with pytest.raises(DetectorError, match="n_features must be an integer >= 1"):
        cls(n_features)


def test_spread_floor_and_combined_score() -> None:
    assert spread_floor(0.0) == 1e-9
    assert spread_floor(-5e6) == 5.0
    assert floored(-5e6, 2.0) == 5.0
    assert floored(-5e6, 7.0) == 7.0
    assert combined_score([-3.0, 2.0]) == 3.0
    assert combined_score([0.0, NAN]) == 0.0
    assert math.isnan(combined_score([]))


BATCH_ROWS = [[10.0, 1.0], [NAN, 2.0], [12.0, INF], [11.0, 1.5], [9.0, 3.0], [40.0, -2.0]]
"""Rows with missing features, for the batch forms against their batch-of-one wrappers."""


@pytest.mark.parametrize(("cls", "params", "needed"), LEARNED)
def test_batch_score_is_score_one_of_each_row(
    cls: type[Detector], params: dict[str, Any], needed: int
) -> None:
    for det in (_make(cls, params), _trained(cls, params)):
        before = det.to_state()
        feature_scores, scores = det.score(BATCH_ROWS)
        assert det.to_state() == before  # nothing learned
        for row, row_scores, score in zip(
            BATCH_ROWS, feature_scores.tolist(), scores.tolist(), strict=True
        ):
            assert row_scores == pytest.approx(det.feature_scores(row), nan_ok=True)
            assert score == pytest.approx(det.score_one(row), nan_ok=True)


@pytest.mark.parametrize(("cls", "params", "needed"), LEARNED)
def test_batch_learn_is_learn_one_of_each_row_and_baselines_follow_it(
    cls: type[Detector], params: dict[str, Any], needed: int
) -> None:
    batch, one = _trained(cls, params), _trained(cls, params)
    centers, spreads = batch.baselines(BATCH_ROWS)
    batch.learn(BATCH_ROWS)
    for k, row in enumerate(BATCH_ROWS):
        expected = [value for pair in one.baseline() for value in pair]
        got = [value for pair in zip(centers[k], spreads[k], strict=True) for value in pair]
        assert got == pytest.approx(expected, nan_ok=True)
        one.learn_one(row)
    assert batch.n_learned == one.n_learned
    assert batch.score_one([10.0, 2.0]) == pytest.approx(one.score_one([10.0, 2.0]))


def test_batch_rows_must_have_n_features_values() -> None:
    det = ZScore(2)
    with pytest.raises(DetectorError, match="rows must have 2 values each"):
        det.learn([[1.0, 2.0, 3.0]])
    with pytest.raises(DetectorError, match="rows must be a list of rows of numbers"):
        det.score([["a", 1.0]])
    det.learn([])
    assert det.n_learned == 0


@pytest.mark.parametrize("name", sorted(DETECTORS))
def test_each_detector_implements_what_its_learning_asks(name: str) -> None:
    det = make_detector(name, 1, {})
    assert det.learning in ("kept", "fixed", "bounded", "owned")
    if det.learning == "bounded":
        for v in [1.0, 2.0, 3.0, 2.0, 1.0]:
            det.learn_one([v])
        det.rebaseline(0, 50.0, 2.0)
        assert det.baseline()[0][0] == pytest.approx(50.0)
    else:
        with pytest.raises(NotImplementedError):
            det.rebaseline(0, 50.0, 2.0)
    if det.learning == "owned":
        assert det.step([1.0], 0.0, 2.0).feature_scores == [0.0]
    else:
        with pytest.raises(NotImplementedError):
            det.step([1.0], 0.0, 2.0)
    assert ZScore(1, mean=[0.0], std=[1.0]).learning == "fixed"
