"""The budget threshold: realised alert rates, the batch walk, state, parameters."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detectors import DetectorError, ModelScorer, ModelSpec, make_threshold
from detectors.budget import BudgetThreshold

DAY = 1440  # minute points
Scores = Callable[[np.random.Generator, int], np.ndarray]


def _normal(rng: np.random.Generator, n: int) -> np.ndarray:
    return np.abs(rng.standard_normal(n))


def _student3(rng: np.random.Generator, n: int) -> np.ndarray:
    return np.abs(rng.standard_t(3, n))


def _walk(
    threshold: BudgetThreshold, scores: np.ndarray, start: int = 0, warm_from: int = 30
) -> tuple[np.ndarray, np.ndarray]:
    """What the scorer does: flag a warm score above the threshold, learn the others (one
    point a minute of event time, from minute ``start``)."""
    n = len(scores)
    warm = np.arange(start, start + n) >= warm_from
    ts = 1.7e9 + 60.0 * np.arange(start, start + n)
    limits, flags, done = threshold.settle(scores, warm, ts=ts)
    assert done == n
    return limits, flags


def _rate(draw: Scores, alerts_per_day: float, floor: float, seed: int) -> float:
    """Flagged points per day over the last 20 of 30 days of minute scores."""
    scores = draw(np.random.default_rng(seed), 30 * DAY)
    _, flags = _walk(BudgetThreshold(alerts_per_day, floor), scores)
    return float(flags[-20 * DAY :].sum()) / 20


# Measured on seeds 0-5 (30 days, budget 1, floor 3): |N(0, 1)| 0.2-0.8 a day (mean 0.42),
# |t(3)| 1.5-2.55 (mean 2.07). The tail above the threshold is never learned, so its shape is a
# prior (shapes 0-0.3 averaged): light tails get fewer alerts than the budget, heavy ones more,
# each within about 2.5x. Pooled over 3 seeds (about 60 days of alerts) the rate stays within 3x.
@pytest.mark.parametrize("draw", [_normal, _student3], ids=["normal", "student3"])
def test_one_alert_a_day_is_met_within_a_factor_of_three(draw: Scores) -> None:
    rate = sum(_rate(draw, 1.0, 3.0, seed) for seed in range(3)) / 3
    assert 1 / 3 <= rate <= 3


@pytest.mark.parametrize("draw", [_normal, _student3], ids=["normal", "student3"])
def test_ten_alerts_a_day_give_several_times_more_alerts_than_one(draw: Scores) -> None:
    one, ten = _rate(draw, 1.0, 0.5, seed=7), _rate(draw, 10.0, 0.5, seed=7)
    assert ten >= 4 * max(one, 0.5)
    assert 10 / 3 <= ten <= 30


def test_a_floor_below_the_scores_is_outgrown() -> None:
    """Under a floor of 0.5 the first block only learns scores up to 0.5 (the others are
    flagged); the next blocks re-estimate the quantile from what the budget lets through."""
    threshold = BudgetThreshold(1.0, 0.5)
    _, flags = _walk(threshold, _normal(np.random.default_rng(11), 10 * DAY))
    assert threshold.t is not None and 2.0 < threshold.t < 2.7  # |N(0,1)|'s 98 %: 2.33
    assert flags[-5 * DAY :].sum() <= 3 * 5


def test_a_threshold_restored_from_json_flags_the_same_points() -> None:
    rng = np.random.default_rng(5)
    scores = _student3(rng, 12 * DAY)
    original = BudgetThreshold(2.0, 3.0)
    _walk(original, scores[: 8 * DAY])
    state = json.loads(json.dumps(original.to_state()))
    copy = BudgetThreshold.from_state(state, alerts_per_day=2.0, floor=3.0)
    assert copy.get() == original.get() and copy.to_state() == original.to_state()
    limits, flags = _walk(original, scores[8 * DAY :], start=8 * DAY)
    copy_limits, copy_flags = _walk(copy, scores[8 * DAY :], start=8 * DAY)
    assert flags.sum() > 0
    assert copy_flags.tolist() == flags.tolist()
    assert copy_limits.tolist() == limits.tolist()
    assert copy.to_state() == original.to_state()


def test_a_full_state_is_small() -> None:
    threshold = BudgetThreshold(1.0, 3.0)
    _walk(threshold, _normal(np.random.default_rng(2), 8 * DAY))
    assert len(threshold.peaks) >= 64
    assert len(json.dumps(threshold.to_state())) <= 600


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    n=st.integers(1, 400),
    warm_from=st.integers(0, 60),
    wrong_at=st.one_of(st.none(), st.integers(0, 399)),
    with_times=st.booleans(),
    split=st.integers(0, 400),
)
def test_settle_walks_the_scores_as_get_and_learn_one_by_one(
    seed: int, n: int, warm_from: int, wrong_at: int | None, with_times: bool, split: int
) -> None:
    """The batch walk flags and learns what ``get`` and ``learn`` do point by point (also from a
    restored state, and with a guess of the flags it stops after the first wrong row)."""
    rng = np.random.default_rng(seed)
    scores = np.abs(rng.standard_t(4, n)) * rng.choice([1.0, 3.0], n)
    scores[rng.random(n) < 0.05] = np.nan
    scores[rng.random(n) < 0.02] = np.inf
    warm = np.arange(n) >= warm_from
    ts = np.cumsum(rng.exponential(30.0, n)) if with_times else None
    if ts is not None:
        ts[rng.random(n) < 0.05] -= 100.0  # out of order
        ts[rng.random(n) < 0.02] = np.nan

    tuning: dict[str, Any] = {"level": 0.9, "calibration": 100, "peaks": 12, "max_shape": 0.2}
    one = BudgetThreshold(3.0, 2.0, **tuning)
    limits, flags = [], []
    for k in range(n):
        limits.append(one.get())
        flags.append(bool(warm[k] and math.isfinite(scores[k]) and scores[k] > one.get()))
        if not flags[-1]:
            one.learn(float(scores[k]), None if ts is None else float(ts[k]))
    guess, stop = None, n
    if wrong_at is not None and wrong_at < n:
        guess = np.array(flags)
        guess[wrong_at] = not guess[wrong_at]
        stop = wrong_at + 1
    walker = BudgetThreshold(3.0, 2.0, **tuning)
    cut = min(split, stop)
    parts = [(0, cut), (cut, stop)] if guess is None else [(0, n)]
    got_limits: list[float] = []
    got_flags: list[bool] = []
    for lo, hi in parts:
        state = json.loads(json.dumps(walker.to_state()))
        walker = BudgetThreshold.from_state(state, alerts_per_day=3.0, floor=2.0, **tuning)
        part_limits, part_flags, done = walker.settle(
            scores[lo:hi],
            warm[lo:hi],
            None if guess is None else guess[lo:hi],
            None if ts is None else ts[lo:hi],
        )
        got_limits += part_limits.tolist()
        got_flags += part_flags.tolist()
    assert len(got_limits) == stop
    assert got_limits == limits[:stop]
    assert got_flags == flags[:stop]
    if stop == n:
        assert walker.to_state() == one.to_state()


def test_points_per_day_follow_the_event_times() -> None:
    threshold = BudgetThreshold(1.0, 3.0)
    assert threshold.points_per_day == 1440  # no time known: one a minute
    rng = np.random.default_rng(4)
    ts = np.cumsum(rng.exponential(30.0, 2000))  # irregular, 2,880 a day on average
    ts[1000:] += 86400.0  # and a day without data
    for k, t in enumerate(ts.tolist()):
        threshold.learn(0.1 * (k % 7), t)
    assert 2880 / 1.2 < threshold.points_per_day < 2880 * 1.2


def test_scores_that_are_not_finite_are_ignored() -> None:
    threshold = BudgetThreshold(1.0, 3.0)
    before = threshold.to_state()
    for score in [math.nan, math.inf, -math.inf]:
        threshold.learn(score, 60.0)
    assert threshold.to_state() == before


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"alerts_per_day": 0.0}, "alerts_per_day must be positive, got 0.0"),
        ({"alerts_per_day": math.nan}, "alerts_per_day must be finite, got nan"),
        ({"alerts_per_day": "1"}, "alerts_per_day must be a number, got '1'"),
        ({"floor": -1.0}, "floor must be positive, got -1.0"),
        ({"level": 1.0}, "level must be between 0 and 1, got 1.0"),
        ({"calibration": 400}, r"calibration must hold at least 10 scores above"),
        ({"peaks": 10}, "peaks must be an integer >= 20, got 10"),
        ({"max_shape": 0.6}, r"max_shape must be in \[0, 0.5\], got 0.6"),
    ],
)
def test_bad_parameters_name_the_field(kwargs: dict[str, Any], message: str) -> None:
    params: dict[str, Any] = {"alerts_per_day": 1.0, "floor": 3.0}
    params.update(kwargs)
    with pytest.raises(DetectorError, match=message):
        BudgetThreshold(**params)


@pytest.mark.parametrize(
    ("state", "message"),
    [
        ({"excess": [0.5], "limits": []}, "must have as many values"),
        ({"excess": "2x"}, "budget threshold state excess is not packed decimals"),
        ({"t": 1.0, "excess": [0.5], "limits": [1.0], "pending": 4}, "pending must be below 4"),
        ({"gap": 0}, "budget threshold state gap must be positive"),
    ],
)
def test_a_bad_state_is_refused(state: dict[str, Any], message: str) -> None:
    with pytest.raises(DetectorError, match=message):
        BudgetThreshold.from_state(state, alerts_per_day=1.0, floor=3.0)


def test_the_scorer_runs_a_budget_threshold_in_blocks_as_point_by_point() -> None:
    spec = ModelSpec(
        "zscore", {"threshold": 3.0}, 1, threshold_strategy="budget", alerts_per_day=5.0
    )
    rows = np.random.default_rng(9).standard_t(4, size=(2500, 1))
    block = ModelScorer(spec).score_block(rows)
    one = ModelScorer(spec)
    results = [one.score_one(row) for row in rows.tolist()]
    assert block.is_anomaly.tolist() == [r.is_anomaly for r in results]
    assert block.threshold.tolist() == [r.threshold for r in results]
    assert isinstance(one.threshold, BudgetThreshold) and one.threshold.t is not None
    with pytest.raises(DetectorError, match="alerts_per_day must be positive, got 0.0"):
        ModelSpec("zscore", {}, 1, threshold_strategy="budget", alerts_per_day=0.0)


def test_make_threshold_builds_and_restores_a_budget_threshold() -> None:
    threshold = make_threshold(
        "budget", threshold=2.0, sensitivity=3.0, window=64, alerts_per_day=3.0
    )
    assert isinstance(threshold, BudgetThreshold)
    assert (threshold.alerts_per_day, threshold.floor) == (3.0, 2.0)
    for k in range(1200):
        threshold.learn(0.002 * k)
    restored = make_threshold(
        "budget",
        threshold=2.0,
        sensitivity=3.0,
        window=64,
        alerts_per_day=3.0,
        state=threshold.to_state(),
    )
    assert restored.get() == threshold.get() and restored.to_state() == threshold.to_state()
