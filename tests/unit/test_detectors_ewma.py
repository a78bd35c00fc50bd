"""EWMA: statistics against river.stats.EWMean / EWVar (fading factors alpha and var_alpha),
and the bias correction of the spread."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from river import stats

from detectors import EWMA, DetectorError

RIVER_DOC_SERIES = [1, 3, 5, 4, 6, 8, 7, 9, 11]
RIVER_DOC_MEANS = [1.0, 2.0, 3.5, 3.75, 4.875, 6.4375, 6.71875, 7.859375, 9.4296875]
RIVER_DOC_VARS = [0.0, 1.0, 2.75, 1.4375, 1.984375, 3.43359375, 1.7958984375]
RIVER_DOC_VARS += [2.198974609375, 3.56536865234375]


def test_river_doctest_values_with_alpha_half() -> None:
    det = EWMA(1, alpha=0.5, var_alpha=0.5)
    for v, mean, var in zip(RIVER_DOC_SERIES, RIVER_DOC_MEANS, RIVER_DOC_VARS, strict=True):
        det.learn_one([float(v)])
        state = det.to_state()
        assert state["mean"][0] == pytest.approx(mean, rel=1e-12)
        assert state["var"][0] == pytest.approx(var, rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("alpha", [0.01, 0.1, 0.3, 0.9, 1.0])
@pytest.mark.parametrize("seed", range(3))
def test_mean_and_var_match_river(alpha: float, seed: int) -> None:
    # Moderate level/spread ratio: river computes var as E[x^2] - E[x]^2, which loses
    # ~eps * (mean/std)^2 relative precision; here that is far below 1e-9.
    rng = np.random.default_rng(seed)
    series = rng.normal(loc=rng.uniform(-20, 20), scale=rng.uniform(1, 10), size=(200, 2))
    series[rng.random(200) < 0.15, 0] = np.nan
    det = EWMA(2, alpha=alpha, var_alpha=alpha)
    oracles = [(stats.EWMean(fading_factor=alpha), stats.EWVar(fading_factor=alpha)) for _ in "ab"]
    seen = [0, 0]
    for row in series:
        det.learn_one(row.tolist())
        for i, ((mean, var), v) in enumerate(zip(oracles, row, strict=True)):
            if not math.isnan(v):
                mean.update(float(v))
                var.update(float(v))
                seen[i] += 1
        state = det.to_state()
        for i, (mean, var) in enumerate(oracles):
            if seen[i]:
                assert math.isclose(state["mean"][i], mean.get(), rel_tol=1e-9)
                assert math.isclose(state["var"][i], var.get(), rel_tol=1e-9, abs_tol=1e-12)
            if seen[i] >= 2 and var.get() > 1e-6:
                center, spread = det.baseline()[i]
                assert math.isclose(center, mean.get(), rel_tol=1e-9)
                share = (1 - alpha) * (1 - (1 - alpha) ** (seen[i] - 1))
                assert math.isclose(spread, math.sqrt(var.get() / share), rel_tol=1e-9)
    assert state["count"] == seen


def test_stays_accurate_far_from_zero() -> None:
    # The same noise shifted by 1e8 must give the same variance. river 0.26.1's
    # E[x^2] - E[x]^2 form loses it here (EWVar of [1e8, 1e8 + 1] is 0.0, not 0.25).
    noise = np.random.default_rng(3).normal(0, 1, size=100).tolist()
    near, far = EWMA(1), EWMA(1)
    for v in noise:
        near.learn_one([v])
        far.learn_one([v + 1e8])
    assert far.to_state()["var"][0] == pytest.approx(near.to_state()["var"][0], rel=1e-6)


def test_score_uses_statistics_before_the_point() -> None:
    det = EWMA(1, alpha=0.5, var_alpha=0.5)
    for v in [1.0, 3.0]:
        det.learn_one([v])
    # mean 2, var 1 before the point, unbiased by 0.5 * (1 - 0.5): spread 2, (10 - 2) / 2
    assert det.score_one([10.0]) == 4.0
    det.learn_one([10.0])
    assert det.baseline()[0][0] == 6.0


def test_first_value_sets_mean_and_second_gives_baseline() -> None:
    det = EWMA(1, alpha=0.1)
    det.learn_one([50.0])
    assert det.to_state() == {"n": 1, "count": [1], "mean": [50.0], "var": [0.0]}
    assert det.score_one([80.0]) == 0.0
    det.learn_one([60.0])
    center, spread = det.baseline()[0]
    assert center == pytest.approx(51.0)
    # var = 0.98 * 0.02 * 100 after one update with the default var_alpha = min(0.1, 0.02),
    # unbiased by 0.98 * (1 - 0.98): the squared prediction error itself
    assert spread == pytest.approx(10.0)


@pytest.mark.parametrize("alpha", [0.1, 0.3])
def test_normal_noise_crosses_three_sigma_about_as_often_as_it_should(alpha: float) -> None:
    # river's variance with fading_factor = alpha makes z's variance 1 / (1 - alpha): at 0.3
    # about 4 % of normal points scored beyond 3 sigma; 0.27 % is the normal distribution's share.
    rng = np.random.default_rng(5)
    det = EWMA(1, alpha=alpha)
    scores = []
    for v in rng.normal(100.0, 5.0, size=50_000).tolist():
        scores.append(det.score_one([v]))
        det.learn_one([v])
    z = np.array(scores[200:])
    assert 0.001 < float(np.mean(z > 3.0)) < 0.006
    assert 0.95 < float(np.sqrt(np.mean(z**2))) < 1.1  # unit RMS


def test_default_alpha() -> None:
    assert EWMA(1).alpha == 0.1


@pytest.mark.parametrize(
    ("alpha", "message"),
    [
        (0.0, r"alpha must be in \(0, 1\], got 0.0"),
        (1.5, r"alpha must be in \(0, 1\], got 1.5"),
        (-0.1, r"alpha must be in \(0, 1\], got -0.1"),
        (math.nan, "alpha must be finite, got nan"),
        ("0.1", "alpha must be a number, got '0.1'"),
        (True, "alpha must be a number, got True"),
    ],
)
def test_alpha_validation(alpha: object, message: str) -> None:
    with pytest.raises(DetectorError, match=message):
        EWMA(1, alpha=alpha)  # type: ignore[arg-type]


def test_state_round_trips_through_json() -> None:
    rng = np.random.default_rng(11)
    det = EWMA(2, alpha=0.2)
    for row in rng.normal(5, 2, size=(30, 2)).tolist():
        det.learn_one(row)
    copy = EWMA.from_state(2, {"alpha": 0.2}, json.loads(json.dumps(det.to_state())))
    for row in rng.normal(5, 4, size=(30, 2)).tolist():
        assert copy.feature_scores(row) == det.feature_scores(row)
        copy.learn_one(row)
        det.learn_one(row)
    assert copy.to_state() == det.to_state()


def test_bad_state_raises_detector_error() -> None:
    with pytest.raises(DetectorError, match=r"ewma state var\[0\] must be finite, got inf"):
        EWMA.from_state(1, {}, {"n": 1, "count": [1], "mean": [0.0], "var": [math.inf]})
