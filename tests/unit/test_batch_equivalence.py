"""The batch path (ModelScorer.score_block) gives the scores and decisions of one-by-one scoring.

Sums are reordered in the batch path, so scores agree to about 1e-12 relative; a decision can
only differ on a score within that of its threshold, where the comparison stops (the states then
differ, by design of the test, not of the engine).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from detectors import ModelScorer, ModelSpec

RTOL = 1e-9

SPECS = [
    ("zscore", {"mean": [100.0, 5.0], "std": [5.0, 1.0], "threshold": 3.0}),
    ("zscore", {"threshold": 3.0}),
    ("ewma", {"alpha": 0.2, "threshold": 3.0}),
    ("ewma", {"alpha": 1.0, "threshold": 3.0}),
    ("mad", {"threshold": 3.5}),
]


@st.composite
def series(draw: st.DrawFn) -> tuple[np.ndarray, list[int]]:
    n = draw(st.integers(1, 160))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    rows = rng.normal([100.0, 5.0], [5.0, 1.0], size=(n, 2))
    spikes = rng.random(n) < draw(st.sampled_from([0.0, 0.02, 0.2]))
    rows[spikes, 0] += rng.choice([-1, 1], size=spikes.sum()) * rng.uniform(20, 80, spikes.sum())
    gaps = rng.random((n, 2)) < draw(st.sampled_from([0.0, 0.05]))
    rows[gaps] = np.nan
    if draw(st.booleans()):
        rows[rng.integers(0, n)] = np.nan  # a point with every feature missing
    cuts = sorted(set(draw(st.lists(st.integers(1, max(1, n - 1)), max_size=5))))
    return rows, cuts


def _chunks(n: int, cuts: list[int]) -> list[slice]:
    edges = [0, *[c for c in cuts if 0 < c < n], n]
    return [slice(a, b) for a, b in zip(edges, edges[1:], strict=False) if b > a]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    spec_index=st.integers(0, len(SPECS) - 1),
    strategy=st.sampled_from(["static", "adaptive"]),
    warmup=st.sampled_from([None, 0, 5, 40]),
    data=series(),
)
def test_block_scoring_equals_one_by_one(
    spec_index: int, strategy: str, warmup: int | None, data: tuple[np.ndarray, list[int]]
) -> None:
    rows, cuts = data
    detector, params = SPECS[spec_index]
    spec = ModelSpec(detector, params, 2, strategy, 2.5, 16, warmup)
    one, block = ModelScorer(spec), ModelScorer(spec)
    expected = [one.score_one(row.tolist()) for row in rows]
    got = []
    for part in _chunks(len(rows), cuts):
        # the state goes through JSON between chunks, as in the engine
        block = ModelScorer(spec, json.loads(json.dumps(block.to_state())))
        result = block.score_block(rows[part])
        got += [result.point(k) for k in range(len(rows[part]))]
    for want, have in zip(expected, got, strict=True):
        if math.isnan(want.score):
            assert math.isnan(have.score)
            continue
        assert math.isclose(have.score, want.score, rel_tol=RTOL, abs_tol=1e-9)
        assert math.isclose(have.threshold, want.threshold, rel_tol=RTOL, abs_tol=1e-9)
        assert have.warm == want.warm
        if abs(want.score - want.threshold) <= 1e-7 * max(1.0, want.threshold):
            return  # a tie within rounding: the two paths may decide differently from here
        assert have.is_anomaly == want.is_anomaly
        for (wc, ws), (hc, hs) in zip(want.baseline, have.baseline, strict=True):
            assert (math.isnan(wc) and math.isnan(hc)) or math.isclose(
                hc, wc, rel_tol=RTOL, abs_tol=1e-9
            )
            assert (math.isnan(ws) and math.isnan(hs)) or math.isclose(
                hs, ws, rel_tol=RTOL, abs_tol=1e-9
            )


def test_a_dry_run_block_changes_nothing_and_scores_against_the_current_state() -> None:
    spec = ModelSpec("ewma", {"alpha": 0.3}, 1, "adaptive", 3.0, 16, 5)
    scorer = ModelScorer(spec)
    scorer.score_block(np.arange(30, dtype=float).reshape(-1, 1) % 7)
    before = json.dumps(scorer.to_state())
    dry = scorer.score_block(np.array([[3.0], [50.0], [3.0]]), learn=False)
    assert json.dumps(scorer.to_state()) == before
    one = ModelScorer(spec, json.loads(before))
    assert [one.score_one([v], learn=False).score for v in (3.0, 50.0, 3.0)] == dry.score.tolist()
    assert dry.is_anomaly.tolist() == [False, True, False]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    detector=st.sampled_from(["zscore", "ewma", "mad"]),
    seed=st.integers(0, 2**31 - 1),
    cuts=st.lists(st.integers(1, 1199), max_size=6),
    level_shift=st.booleans(),
)
def test_seasonal_block_scoring_equals_one_by_one(
    detector: str, seed: int, cuts: list[int], level_shift: bool
) -> None:
    """With a seasonal profile, change points and the resolution floor at work."""
    rng = np.random.default_rng(seed)
    n = 1200
    ts = np.arange(n) * 60.0
    rows = (100 + 20 * np.sin(2 * np.pi * ts / 7200) + rng.normal(0, 2, n))[:, None]
    rows[rng.random(n) < 0.01, 0] += 40.0
    if level_shift:
        rows[700:, 0] += 60.0
    spec = ModelSpec(detector, {}, 1, seasonality={"period": 7200, "bins": 12})
    one, block = ModelScorer(spec), ModelScorer(spec)
    expected = [one.score_one(row.tolist(), ts=t) for row, t in zip(rows, ts.tolist(), strict=True)]
    got = []
    for part in _chunks(n, sorted(set(cuts))):
        block = ModelScorer(spec, json.loads(json.dumps(block.to_state())))
        result = block.score_block(rows[part], ts=ts[part])
        got += [result.point(k) for k in range(len(rows[part]))]
    for want, have in zip(expected, got, strict=True):
        assert math.isclose(have.score, want.score, rel_tol=RTOL, abs_tol=1e-9)
        if abs(want.score - want.threshold) <= 1e-7 * max(1.0, want.threshold):
            return
        assert have.is_anomaly == want.is_anomaly and bool(have.change) == bool(want.change)
        for w, h in zip(want.change or (), have.change or (), strict=True):
            assert w[0] == h[0] and np.allclose(w[1:], h[1:], rtol=RTOL)
        (wc, _), (hc, _) = want.baseline[0], have.baseline[0]
        assert (math.isnan(wc) and math.isnan(hc)) or math.isclose(
            hc, wc, rel_tol=RTOL, abs_tol=1e-9
        )


@pytest.mark.parametrize("seed", range(4))
def test_auto_seasonal_block_scoring_equals_one_by_one(seed: int) -> None:
    """A daily cycle found on the way (the detector moves to the residuals at the switch)."""
    rng = np.random.default_rng(seed)
    n = 4 * 1440
    ts = 1704067200.0 + np.arange(n) * 60.0
    rows = (50 + 15 * np.sin(2 * np.pi * ts / 86400) + rng.normal(0, 1, n))[:, None]
    rows[rng.random(n) < 0.005, 0] += 12.0
    spec = ModelSpec("ewma", {"threshold": 3.5}, 1, seasonality={"period": "auto"})
    one, block = ModelScorer(spec), ModelScorer(spec)
    expected = [one.score_one(row.tolist(), ts=t) for row, t in zip(rows, ts.tolist(), strict=True)]
    assert one.profile is not None and one.profile.active
    cuts = sorted(set(rng.integers(1, n - 1, size=5).tolist()))
    got = []
    for part in _chunks(n, cuts):
        block = ModelScorer(spec, json.loads(json.dumps(block.to_state())))
        result = block.score_block(rows[part], ts=ts[part])
        got += [result.point(k) for k in range(len(rows[part]))]
    for want, have in zip(expected, got, strict=True):
        assert math.isclose(have.score, want.score, rel_tol=RTOL, abs_tol=1e-9)
        assert have.is_anomaly == want.is_anomaly
