"""ModelSpec / ModelScorer: warm-up, protection from anomalies, dry run, state round trip."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detectors import DetectorError, ModelScorer, ModelSpec, PointResult


def _normal(seed: int, n: int, n_features: int = 2) -> list[list[float]]:
    rng = np.random.default_rng(seed)
    points: list[list[float]] = rng.normal(100.0, 5.0, size=(n, n_features)).tolist()
    return points


def _key(result: PointResult) -> str:
    """Exact, NaN-aware comparison key (repr keeps every float digit)."""
    return repr(result)


# --- ModelSpec -------------------------------------------------------------------------


def test_spec_defaults() -> None:
    static = ModelSpec("zscore", {"mean": [0.0], "std": [1.0]}, 1)
    assert static.effective_warmup == 0 and static.threshold == 3.0
    learned = ModelSpec("zscore", {}, 1, history_window=16)
    assert learned.effective_warmup == 16
    assert ModelSpec("ewma", {}, 1).effective_warmup == 30
    mad = ModelSpec("mad", {"threshold": 5}, 1, history_window=20)
    assert mad.threshold == 5.0 and mad.detector_params == {"window": 20}
    assert ModelSpec("mad", {}, 1).threshold == 3.5
    assert ModelSpec("mad", {"window": 10}, 1).detector_params == {"window": 10}
    assert ModelSpec("ewma", {}, 1, warmup=0).effective_warmup == 0


def test_spec_copies_params() -> None:
    params: dict[str, Any] = {"alpha": 0.5}
    spec = ModelSpec("ewma", params, 1)
    params["alpha"] = 5.0
    assert spec.params == {"alpha": 0.5}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"detector": "iforest"}, "unknown detector 'iforest'; choose one of: "),
        ({"params": {"threshold": 0}}, "threshold must be positive, got 0.0"),
        ({"params": {"threshold": math.inf}}, "threshold must be finite, got inf"),
        ({"params": {"alpha": 2.0}}, r"alpha must be in \(0, 1\], got 2.0"),
        ({"params": {"beta": 2.0}}, "unknown parameter 'beta' for detector 'ewma'"),
        ({"n_features": 0}, "n_features must be an integer >= 1, got 0"),
        ({"threshold_strategy": "dynamic"}, "unknown threshold strategy 'dynamic'"),
        ({"adaptive_sensitivity": 0.0}, "adaptive_sensitivity must be positive, got 0.0"),
        ({"history_window": 7}, "history_window must be an integer >= 8, got 7"),
        ({"warmup": -1}, "warmup must be an integer >= 0, got -1"),
    ],
)
def test_spec_validation_names_the_field(kwargs: dict[str, Any], message: str) -> None:
    fields: dict[str, Any] = {"detector": "ewma", "params": {}, "n_features": 1}
    fields.update(kwargs)
    with pytest.raises(DetectorError, match=message):
        ModelSpec(**fields)


def test_mad_spec_validates_window_from_history_window() -> None:
    with pytest.raises(DetectorError, match="window must be an integer >= 3, got 2"):
        ModelSpec("mad", {"window": 2}, 1)


# --- scoring semantics -----------------------------------------------------------------


def test_static_zscore_alerts_from_first_point() -> None:
    spec = ModelSpec("zscore", {"mean": [100, 5], "std": [5, 1], "threshold": 3.0}, 2)
    scorer = ModelScorer(spec)
    result = scorer.score_one([120.0, 5.0])
    assert result == PointResult(
        score=4.0,
        threshold=3.0,
        is_anomaly=True,
        feature_scores=[4.0, 0.0],
        baseline=[(100.0, 5.0), (5.0, 1.0)],
        warm=True,
    )
    assert scorer.detector.n_learned == 0
    normal = scorer.score_one([101.0, 5.0])
    assert not normal.is_anomaly and scorer.detector.n_learned == 1


@pytest.mark.parametrize("detector", ["zscore", "ewma", "mad"])
def test_no_alert_before_warmup_alert_right_after(detector: str) -> None:
    warmup = 10
    scorer = ModelScorer(ModelSpec(detector, {}, 2, warmup=warmup))
    spike = [1000.0, 100.0]
    for x in _normal(0, warmup - 1):
        assert not scorer.score_one(x).is_anomaly
    assert scorer.detector.n_learned == warmup - 1
    early = scorer.score_one(spike, learn=False)
    assert early.score > 50 and not early.warm and not early.is_anomaly
    scorer.score_one(_normal(1, 1)[0])
    assert scorer.detector.n_learned == warmup
    late = scorer.score_one(spike)
    assert late.warm and late.is_anomaly


def test_threshold_is_strict_greater_than() -> None:
    spec = ModelSpec("zscore", {"mean": [0.0], "std": [1.0], "threshold": 2.0}, 1)
    scorer = ModelScorer(spec)
    assert not scorer.score_one([2.0]).is_anomaly
    assert scorer.score_one([-2.5]).is_anomaly


@pytest.mark.parametrize("detector", ["zscore", "ewma", "mad"])
@pytest.mark.parametrize("strategy", ["static", "adaptive"])
def test_a_spike_is_learned_as_a_point_one_spread_away(detector: str, strategy: str) -> None:
    spec = ModelSpec(detector, {}, 2, threshold_strategy=strategy, history_window=16)
    spiked, ordinary = ModelScorer(spec), ModelScorer(spec)
    spiked.score_many(_normal(2, 40))
    ordinary.score_many(_normal(2, 40))
    (center, spread), (center_1, _) = spiked.detector.baseline()
    result = spiked.score_one([1e6, center_1])
    assert result.is_anomaly
    ordinary.detector.learn_one([center + spread, center_1])
    assert spiked.detector.to_state() == ordinary.detector.to_state()
    # the threshold did not learn the spike's score
    assert spiked.threshold.to_state() == ordinary.threshold.to_state()


@pytest.mark.parametrize("detector", ["zscore", "ewma", "mad"])
@pytest.mark.parametrize("strategy", ["static", "adaptive"])
def test_a_level_that_moved_for_good_is_rebaselined(detector: str, strategy: str) -> None:
    rng = np.random.default_rng(8)
    points = rng.normal(100.0, 5.0, size=(700, 1))
    points[300:] += 50.0
    scorer = ModelScorer(ModelSpec(detector, {}, 1, threshold_strategy=strategy))
    results = scorer.score_many(points.tolist())
    flagged = [k for k, r in enumerate(results) if r.is_anomaly]
    changes = [(k, r.change) for k, r in enumerate(results) if r.change]
    assert [k for k in flagged if k >= 300][:3] == [300, 301, 302]  # the shift alerts at once
    assert len(changes) == 1 and 300 < changes[0][0] <= 315
    ((feature, before, after),) = changes[0][1]
    assert feature == 0 and abs(before - 100) < 3 and abs(after - 150) < 5
    # and stops: what is left is 3-sigma noise (~0.3 % of 340 points)
    assert len([k for k in flagged if k > 360]) <= 3
    spike = scorer.score_one([150.0 + 10 * 5.0])
    assert spike.is_anomaly  # a spike on the new level is still seen


def test_a_burst_that_ends_goes_back_to_the_old_baseline() -> None:
    rng = np.random.default_rng(9)
    points = rng.normal(100.0, 5.0, size=(400, 1))
    points[300:315] += 60.0
    scorer = ModelScorer(ModelSpec("ewma", {}, 1))
    results = scorer.score_many(points.tolist())
    changes = [k for k, r in enumerate(results) if r.change]
    assert len(changes) == 2 and changes[1] == 315  # re-baselined, then back at the first point
    assert abs(results[315].change[0][2] - 100.0) < 3
    assert not [k for k, r in enumerate(results) if r.is_anomaly and k >= 315]


def test_scored_baseline_is_the_one_before_learning() -> None:
    scorer = ModelScorer(ModelSpec("ewma", {"alpha": 0.5, "var_alpha": 0.5}, 1, warmup=0))
    scorer.score_many([[1.0], [3.0]])
    result = scorer.score_one([4.0])
    assert result.baseline == [(2.0, 2.0)] and result.score == 1.0
    assert scorer.detector.baseline()[0][0] == 3.0


@pytest.mark.parametrize("detector", ["zscore", "ewma", "mad"])
@pytest.mark.parametrize("strategy", ["static", "adaptive"])
def test_dry_run_changes_nothing(detector: str, strategy: str) -> None:
    spec = ModelSpec(detector, {}, 2, threshold_strategy=strategy, history_window=8, warmup=5)
    scorer = ModelScorer(spec)
    scorer.score_many(_normal(3, 20))
    before = scorer.to_state()
    points = _normal(4, 20) + [[math.nan, 1.0], [500.0, 100.0]]
    dry = scorer.score_many(points, learn=False)
    assert scorer.to_state() == before
    for x, result in zip(points, dry, strict=True):
        assert _key(ModelScorer(spec, before).score_one(x)) == _key(result)


def test_adaptive_threshold_learns_unflagged_scores() -> None:
    spec = ModelSpec(
        "zscore",
        {"mean": [0.0], "std": [1.0], "threshold": 1.5},
        1,
        threshold_strategy="adaptive",
        adaptive_sensitivity=3.0,
        history_window=8,
    )
    scorer = ModelScorer(spec)
    values = [0.1, -0.2, 0.3, -0.4, 0.5, 1.0, -1.0, 1.2]
    for v in values:
        assert scorer.score_one([v]).threshold == 1.5
    history = sorted(abs(v) for v in values)
    median = float(np.median(history))
    mad = float(np.median(np.abs(np.array(history) - median)))
    expected = max(1.5, median + 3.0 * 1.4826 * mad)
    assert scorer.score_one([0.0], learn=False).threshold == pytest.approx(expected)
    assert scorer.threshold.history == [abs(v) for v in values]


def test_all_missing_point_scores_nan_and_is_not_learned() -> None:
    spec = ModelSpec("zscore", {}, 2, threshold_strategy="adaptive", warmup=0)
    scorer = ModelScorer(spec)
    scorer.score_many(_normal(5, 10))
    before = scorer.to_state()
    for missing in ([math.nan, math.nan], [math.inf, -math.inf]):
        result = scorer.score_one(missing)
        assert math.isnan(result.score) and not result.is_anomaly
        assert all(math.isnan(z) for z in result.feature_scores)
    assert scorer.to_state() == before
    partial = scorer.score_one([math.nan, 100.0])
    assert math.isfinite(partial.score) and math.isnan(partial.feature_scores[0])
    assert not partial.is_anomaly
    assert scorer.detector.n_learned == before["detector_state"]["n"] + 1


def test_score_many_equals_score_one_loop() -> None:
    spec = ModelSpec("mad", {}, 2, threshold_strategy="adaptive", history_window=8)
    points = _normal(6, 30) + [[300.0, 100.0]]
    one = ModelScorer(spec)
    looped = [one.score_one(x) for x in points]
    assert [_key(r) for r in ModelScorer(spec).score_many(points)] == [_key(r) for r in looped]


# --- state -----------------------------------------------------------------------------


def test_state_is_plain_json() -> None:
    spec = ModelSpec("zscore", {}, 2, threshold_strategy="adaptive", warmup=0)
    scorer = ModelScorer(spec)
    scorer.score_many(_normal(7, 20) + [[math.nan, 1.0]])
    state = scorer.to_state()
    text = json.dumps(state, allow_nan=False)

    def check(value: object) -> None:
        if isinstance(value, dict):
            assert all(isinstance(k, str) for k in value)
            for v in value.values():
                check(v)
        elif isinstance(value, list):
            for v in value:
                check(v)
        else:
            assert value is None or type(value) in (str, int, float), type(value)

    check(state)
    assert json.loads(text) == state


def test_state_for_another_model_is_refused() -> None:
    state = ModelScorer(ModelSpec("ewma", {}, 1)).to_state()
    with pytest.raises(DetectorError, match="model state was written for detector 'ewma'"):
        ModelScorer(ModelSpec("zscore", {}, 1), state)
    with pytest.raises(DetectorError, match="for threshold 'static', not 'adaptive'"):
        ModelScorer(ModelSpec("ewma", {}, 1, threshold_strategy="adaptive"), state)
    with pytest.raises(DetectorError, match="model state has no field 'detector_state'"):
        ModelScorer(ModelSpec("ewma", {}, 1), {"detector": "ewma", "threshold": "static"})
    with pytest.raises(DetectorError, match="ewma state count must have 2 values"):
        ModelScorer(ModelSpec("ewma", {}, 2), state)


def test_zscore_adaptive_state_is_small() -> None:
    spec = ModelSpec(
        "zscore", {"mean": [100, 5], "std": [5, 1], "threshold": 1.5}, 2, "adaptive", 2.5, 64
    )
    scorer = ModelScorer(spec)
    rng = np.random.default_rng(0)
    scorer.score_many(np.column_stack([rng.normal(100, 5, 200), rng.normal(5, 1, 200)]).tolist())
    assert len(scorer.threshold.history) == 64
    assert len(json.dumps(scorer.to_state())) < 2048


# --- property: stopping and restoring mid-stream changes nothing -------------------------

_value = st.one_of(
    st.floats(-1e4, 1e4),
    st.sampled_from([0.0, 1.0, 1e6, -1e6, math.nan, math.inf]),
)


@st.composite
def _specs(draw: st.DrawFn) -> ModelSpec:
    n_features = draw(st.integers(1, 3))
    detector = draw(st.sampled_from(["zscore", "zscore-static", "ewma", "mad"]))
    params: dict[str, Any] = {}
    if detector == "zscore-static":
        detector = "zscore"
        params["mean"] = draw(
            st.lists(st.floats(-100, 100), min_size=n_features, max_size=n_features)
        )
        params["std"] = draw(st.lists(st.floats(0.1, 50), min_size=n_features, max_size=n_features))
    elif detector == "ewma":
        params["alpha"] = draw(st.floats(0.01, 1.0))
    elif detector == "mad":
        params["window"] = draw(st.integers(3, 12))
    if draw(st.booleans()):
        params["threshold"] = draw(st.floats(0.5, 6.0))
    return ModelSpec(
        detector,
        params,
        n_features,
        threshold_strategy=draw(st.sampled_from(["static", "adaptive"])),
        adaptive_sensitivity=draw(st.floats(0.5, 5.0)),
        history_window=draw(st.integers(8, 16)),
        warmup=draw(st.one_of(st.none(), st.integers(0, 12))),
    )


@settings(max_examples=200, deadline=None)
@given(spec=_specs(), data=st.data())
def test_restoring_state_mid_stream_matches_uninterrupted_run(
    spec: ModelSpec, data: st.DataObject
) -> None:
    row = st.lists(_value, min_size=spec.n_features, max_size=spec.n_features)
    points = data.draw(st.lists(row, max_size=60), label="points")
    split = data.draw(st.integers(0, len(points)), label="split")
    learn = data.draw(st.lists(st.booleans(), min_size=len(points), max_size=len(points)))

    uninterrupted = ModelScorer(spec)
    expected = [
        _key(uninterrupted.score_one(x, learn_it))
        for x, learn_it in zip(points, learn, strict=True)
    ]

    first = ModelScorer(spec)
    got = [
        _key(first.score_one(x, learn_it))
        for x, learn_it in zip(points[:split], learn[:split], strict=True)
    ]
    state = json.loads(json.dumps(first.to_state(), allow_nan=False))
    second = ModelScorer(spec, state)
    got += [
        _key(second.score_one(x, learn_it))
        for x, learn_it in zip(points[split:], learn[split:], strict=True)
    ]
    assert got == expected
    assert second.to_state() == uninterrupted.to_state()


@pytest.mark.parametrize("detector", ["zscore", "ewma", "mad"])
def test_restoring_at_every_split_with_spikes_and_adaptive_threshold(detector: str) -> None:
    spec = ModelSpec(detector, {}, 2, threshold_strategy="adaptive", history_window=8, warmup=6)
    points = _normal(8, 40)
    for i in (12, 20, 21, 33):
        points[i] = [400.0, 100.0]
    points[25] = [math.nan, math.inf]
    uninterrupted = ModelScorer(spec)
    expected = [_key(uninterrupted.score_one(x)) for x in points]
    assert sum("is_anomaly=True" in key for key in expected) >= 3
    for split in range(len(points) + 1):
        first = ModelScorer(spec)
        got = [_key(first.score_one(x)) for x in points[:split]]
        second = ModelScorer(spec, json.loads(json.dumps(first.to_state())))
        got += [_key(second.score_one(x)) for x in points[split:]]
        assert got == expected, f"split at {split}"
