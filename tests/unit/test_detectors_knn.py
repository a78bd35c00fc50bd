"""KNNSurprise: nearest-neighbour distances against river's LazySearch, p-values against numpy,
state round trips, refractory and protection, and parameter checks."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from river.neighbors import LazySearch
from scipy.stats import genpareto

from detectors import DETECTORS, DetectorError, ModelScorer, ModelSpec, make_detector
from detectors.knn import KNNSurprise
from detectors.knn_measure import BETA_FLOOR, MIN_CALIBRATION


def _euclidean(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    return math.sqrt(sum((p - q) ** 2 for p, q in zip(a, b, strict=True)))


def _oracle_nonconformity(
    history: list[float], v: float, dim: int, k: int, resolution: float
) -> float:
    """Brute force with river's LazySearch over the windows that do not overlap the query."""
    series = [*history, v]
    n = len(history)
    search = LazySearch(window_size=len(series), dist_func=_euclidean)
    for end in range(dim - 1, n - dim + 1):  # windows ending at or before n - dim
        search.append(tuple(series[end - dim + 1 : end + 1]))
    _, distances = search.search(tuple(series[-dim:]), n_neighbors=k)
    floor = resolution * (max(history) - min(history))
    return float(np.mean(distances)) / math.sqrt(dim) + floor


@pytest.mark.parametrize("neighbors", [1, 3])
@pytest.mark.parametrize("seed", range(3))
def test_nonconformity_matches_river_lazy_search(neighbors: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    series = (np.sin(np.arange(300) / 7) + rng.normal(0, 0.2, 300)).tolist()
    det = KNNSurprise(1, window=120, dims=[1, 3, 8], neighbors=neighbors, resolution=0.02)
    for t, v in enumerate(series):
        if t >= 40 and t % 13 == 0:
            got = det._nonconformity(0, v)
            history = series[max(0, t - 120) : t]
            assert got is not None
            for dim, value in zip(det.dims, got, strict=True):
                expected = _oracle_nonconformity(history, v, dim, neighbors, 0.02)
                assert value == pytest.approx(expected, rel=1e-9, abs=1e-12)
        det.learn_one([v])


def _calibrated(max_shape: float, calib: np.ndarray) -> KNNSurprise:
    det = KNNSurprise(1, window=64, dims=[1], calibration=200, tail=20, max_shape=max_shape)
    for value in calib:
        det._features[0].add_calibration(0, float(value), 200)
    return det


def test_surprise_is_the_conformal_p_value_below_the_tail_and_exponential_above() -> None:
    rng = np.random.default_rng(7)
    calib = np.round(rng.exponential(1.0, 200), 6)
    det = _calibrated(0.0, calib)
    ordered = np.sort(calib)
    top = 20
    u = ordered[-top]
    below = float(np.quantile(calib, 0.5))
    count = int(np.sum(calib >= below))
    assert det._surprise_of(0, [below]) == pytest.approx(math.log(201 / (count + 1)))
    above = float(u + 2.5)
    beta = max(float(ordered[-top:].mean() - u), BETA_FLOOR * u)
    expected = math.log(201 / top) + (above - u) / beta
    assert det._surprise_of(0, [above]) == pytest.approx(expected)


def test_a_heavy_tail_is_a_generalised_pareto_fitted_by_moments() -> None:
    rng = np.random.default_rng(8)
    calib = np.round(genpareto.rvs(0.4, scale=1.0, size=200, random_state=rng), 6)
    ordered = np.sort(calib)
    top = 20
    u = ordered[-top]
    excess = ordered[-top:] - u
    mean, var = excess.mean(), excess.var(ddof=1)
    shape = 0.5 * (1 - mean**2 / var)  # Hosking and Wallis (1987), method of moments
    scale = 0.5 * mean * (1 + mean**2 / var)
    assert shape > 0.25  # a heavy tail: the cap below matters
    for max_shape in (0.25, 0.9):
        det = _calibrated(max_shape, calib)
        used = min(shape, max_shape)  # a capped shape keeps the moment estimate of the scale
        for a in (float(u + 0.5), float(u + 5.0), float(u + 50.0)):
            expected = math.log(201 / top) - genpareto.logsf(a - u, used, scale=scale)
            assert det._surprise_of(0, [a]) == pytest.approx(expected, rel=1e-9)
    # Far out, a heavy tail makes an excess less surprising than the exponential tail does.
    far = [float(u + 50.0)]
    assert _calibrated(0.9, calib)._surprise_of(0, far) < _calibrated(0.0, calib)._surprise_of(
        0, far
    )


def test_no_surprise_until_a_scale_is_calibrated() -> None:
    det = KNNSurprise(1, window=64, dims=[1, 4], calibration=MIN_CALIBRATION)
    scores = []
    for t in range(2 * 4 + 1 + MIN_CALIBRATION + 5):
        scores.append(det.score_one([float(t % 5)]))
        det.learn_one([float(t % 5)])
    assert all(s == 0.0 for s in scores[: 2 * 4 + 1 + MIN_CALIBRATION])
    assert det.score_one([50.0]) > 5


def _trained(seed: int = 3, **params: object) -> tuple[KNNSurprise, list[float]]:
    rng = np.random.default_rng(seed)
    series = (10 + np.sin(np.arange(600) / 9) + rng.normal(0, 0.1, 600)).tolist()
    det = KNNSurprise(1, window=256, dims=[1, 4, 16], calibration=200, **params)  # type: ignore[arg-type]
    for v in series:
        det.learn_one([v])
    return det, series


def test_a_spike_is_surprising_and_signed_by_direction() -> None:
    det, series = _trained()
    usual = det.score_one([10 + math.sin(600 / 9)])
    up = det.feature_scores([15.0])[0]
    down = det.feature_scores([5.0])[0]
    assert usual < 3
    assert up > 10
    assert down < -10


def test_state_round_trips_through_json_and_scores_alike() -> None:
    params = {
        "window": 256,
        "dims": [1, 4, 16],
        "calibration": 200,
        "refractory": 20,
        "alarm": 6.0,
        "protect": True,
    }
    det = KNNSurprise(1, **params)  # type: ignore[arg-type]
    rng = np.random.default_rng(11)
    series = 10 + np.sin(np.arange(700) / 9) + rng.normal(0, 0.1, 700)
    series[[300, 450, 451, 600]] += [5.0, -4.0, 6.0, 8.0]
    for v in series:
        det.learn_one([float(v)])
    state = json.loads(json.dumps(det.to_state()))
    copy = KNNSurprise.from_state(1, params, state)
    assert copy.to_state() == det.to_state()
    for probe in [9.5, 10.0, 11.2, 14.0, -3.0]:
        assert copy.feature_scores([probe]) == det.feature_scores([probe])
    for v in [10.1, 20.0, 10.0, 9.9]:
        copy.learn_one([v])
        det.learn_one([v])
    assert copy.to_state() == det.to_state()


def test_scoring_does_not_change_the_state() -> None:
    det, _ = _trained(refractory=10, protect=True)
    before = json.dumps(det.to_state())
    for probe in [9.0, 10.0, 30.0]:
        det.feature_scores([probe])
        det.score_one([probe])
        det.baseline()
    assert json.dumps(det.to_state()) == before


def test_missing_values_are_not_learned() -> None:
    det = KNNSurprise(2, window=64, dims=[1, 4], calibration=MIN_CALIBRATION)
    for t in range(300):
        det.learn_one([float(t % 7), math.nan if t % 2 else float(t % 3)])
    state = det.to_state()
    assert len(state["features"][0]["values"]) == 64
    assert state["features"][1]["learned"] == 150
    scores = det.feature_scores([math.nan, 1.0])
    assert math.isnan(scores[0]) and not math.isnan(scores[1])
    assert math.isnan(det.score_one([math.nan, math.nan]))
    n = det.n_learned
    det.learn_one([math.nan, math.nan])
    assert det.n_learned == n


def test_features_are_scored_on_their_own_history() -> None:
    a = KNNSurprise(2, window=64, dims=[1, 4], calibration=MIN_CALIBRATION)
    b = KNNSurprise(1, window=64, dims=[1, 4], calibration=MIN_CALIBRATION)
    rng = np.random.default_rng(2)
    for t in range(300):
        other = float(rng.normal(0, 100))
        a.learn_one([other, float(t % 9)])
        b.learn_one([float(t % 9)])
    assert a.feature_scores([0.0, 4.5])[1] == b.feature_scores([4.5])[0]


def test_refractory_reports_an_episode_once() -> None:
    det, _ = _trained(refractory=30, alarm=6.0)
    spike = det.score_one([16.0])
    assert spike > 6.0
    det.learn_one([16.0])  # learned: the refractory period starts
    assert det.score_one([17.0]) == 0.0
    for t in range(29):
        det.learn_one([10 + math.sin((601 + t) / 9)])
    assert det.score_one([18.0]) == 0.0  # 30th point after the alarm: still refractory
    for t in range(30):
        det.learn_one([10 + math.sin((630 + t) / 9)])
    # Over, and the shapes that held the spike have left the last 30 points: a new episode.
    assert det.score_one([25.0]) > 6.0


def test_without_refractory_scores_are_raw() -> None:
    det, _ = _trained()
    det.learn_one([16.0])
    assert det.score_one([17.0]) > 6.0


def test_protect_keeps_an_alarmed_shape_surprising() -> None:
    scores = {}
    for protect in (False, True):
        det, _ = _trained(refractory=5, alarm=6.0, protect=protect)
        det.learn_one([18.0])  # an alarm: with protect it is never a neighbour
        for t in range(20):
            det.learn_one([10 + math.sin((601 + t) / 9)])
        scores[protect] = det.score_one([18.0])
    assert scores[True] > scores[False] + 5


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"window": 8}, r"window must be an integer >= 16, got 8"),
        ({"dims": []}, r"dims must be a non-empty list of integers"),
        ({"dims": [1, 0]}, r"dims\[1\] must be an integer >= 1, got 0"),
        ({"window": 64, "dims": [17]}, r"dims must be at most window // 4 = 16, got 17"),
        ({"neighbors": 0}, r"neighbors must be an integer >= 1"),
        ({"calibration": 50}, r"calibration must be an integer >= 100, got 50"),
        ({"calibration": 100, "tail": 60}, r"tail must be at most calibration // 2 = 50"),
        ({"resolution": -0.1}, r"resolution must be >= 0"),
        ({"resolution": math.nan}, r"resolution must be finite"),
        ({"refractory": -1}, r"refractory must be an integer >= 0"),
        ({"protect": "yes"}, r"protect must be true or false"),
    ],
)
def test_parameter_validation(params: dict[str, object], message: str) -> None:
    with pytest.raises(DetectorError, match=message):
        KNNSurprise(1, **params)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "state",
    [
        {},
        {"n": 1},
        {"n": 1, "features": [{}]},
        {"n": 1, "features": [{"values": [1.0], "calibration": [[]]}]},
        {"n": 1, "features": [{"values": ["x"], "calibration": [[], []]}]},
    ],
)
def test_bad_state_raises(state: dict[str, object]) -> None:
    with pytest.raises(DetectorError):
        KNNSurprise.from_state(1, {"dims": [1, 4]}, state)


def test_registered_and_scored_by_model_scorer() -> None:
    assert DETECTORS["knn"] is KNNSurprise
    spec = ModelSpec("knn", {"window": 64, "dims": [1, 4], "threshold": 8.0}, 1)
    scorer = ModelScorer(spec)
    for t in range(400):
        scorer.score_one([float(t % 6)])
    learned = scorer.detector.n_learned
    result = scorer.score_one([60.0])
    assert result.is_anomaly and result.score > 8.0
    assert scorer.detector.n_learned == learned  # a flagged point is not learned
    state = json.loads(json.dumps(scorer.to_state()))
    again = ModelScorer(spec, state)
    assert again.score_one([60.0], learn=False).score == result.score
    assert isinstance(make_detector("knn", 1, {"dims": [1]}), KNNSurprise)


def test_the_block_path_scores_and_learns_like_one_by_one() -> None:
    rng = np.random.default_rng(4)
    series = 10 + np.sin(np.arange(900) / 9) + rng.normal(0, 0.1, 900)
    series[[500, 640, 641, 800]] += [6.0, -5.0, 7.0, 9.0]
    series[700] = np.nan
    params = {"window": 256, "dims": [1, 4, 16], "refractory": 20, "alarm": 5.0, "protect": True}
    spec = ModelSpec("knn", {**params, "threshold": 12.0}, 1)
    one, block = ModelScorer(spec), ModelScorer(spec)
    results = [one.score_one([float(v)]) for v in series]
    out = block.score_block(series.reshape(-1, 1))
    assert out.is_anomaly.tolist() == [r.is_anomaly for r in results]
    assert any(r.is_anomaly for r in results)  # flagged rows restart the speculative spans
    expected = np.array([r.score for r in results])
    assert np.allclose(out.score, expected, rtol=1e-9, equal_nan=True)
    assert json.dumps(block.to_state()) == json.dumps(one.to_state())


def test_a_long_dry_run_block_is_refused_with_a_sentence() -> None:
    scorer = ModelScorer(ModelSpec("knn", {"window": 64, "dims": [1, 4]}, 1))
    for t in range(200):
        scorer.score_one([float(t % 5)])
    with pytest.raises(DetectorError, match="scores a dry run one point at a time"):
        scorer.score_block(np.zeros((20, 1)), learn=False)


def test_learn_learns_row_by_row() -> None:
    rows = np.array([[float(t % 7)] for t in range(300)])
    block, one = KNNSurprise(1, window=64, dims=[1, 4]), KNNSurprise(1, window=64, dims=[1, 4])
    block.learn(rows)
    for row in rows.tolist():
        one.learn_one(row)
    assert block.to_state() == one.to_state()
    block.baselines(rows[:10])  # learns nothing
    block.learn(rows[:5])
    for row in rows[:5].tolist():
        one.learn_one(row)
    assert block.to_state() == one.to_state()


def test_batch_score_is_feature_scores_of_each_row_against_the_current_state() -> None:
    det = KNNSurprise(1, window=64, dims=[1, 4], calibration=100)
    for t in range(300):
        det.learn_one([float(t % 9)])
    rows = [[3.0], [40.0], [math.nan], [-5.0]]
    before = det.to_state()
    feature_scores, scores = det.score(rows)
    assert det.to_state() == before
    for row, row_scores, score in zip(rows, feature_scores.tolist(), scores.tolist(), strict=True):
        assert row_scores == pytest.approx(det.feature_scores(row), nan_ok=True)
        assert score == pytest.approx(det.score_one(row), nan_ok=True)
