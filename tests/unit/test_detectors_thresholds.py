"""Static and adaptive thresholds; the adaptive one against numpy's median and MAD."""

from __future__ import annotations

import json
import math
import tracemalloc
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detectors import (
    AdaptiveThreshold,
    DetectorError,
    StaticThreshold,
    _robust,
    make_threshold,
    thresholds,
)
from detectors._hampel_walk import round6, round6_one


def _numpy_threshold(scores: list[float], sensitivity: float, floor: float) -> float:
    history = np.array(scores)
    median = np.median(history)
    mad = np.median(np.abs(history - median))
    return max(floor, float(median + sensitivity * 1.4826 * mad))


def _round6(x: float) -> float:
    return float(np.format_float_positional(x, precision=6, unique=False, fractional=False))


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("window", [8, 9, 64])
@pytest.mark.parametrize("refresh", [1, 16])
def test_adaptive_matches_numpy_median_and_mad(seed: int, window: int, refresh: int) -> None:
    """Recomputed after each score while the history fills, then every ``refresh`` scores."""
    rng = np.random.default_rng(seed)
    scores = np.abs(rng.standard_t(df=3, size=150)).tolist()
    threshold = AdaptiveThreshold(sensitivity=2.5, window=window, floor=0.5, refresh=refresh)
    learned: list[float] = []
    expected, since = 0.5, 0
    for score in scores:
        threshold.learn(score)
        learned.append(_round6(score))
        recent = learned[-window:]
        since += 1
        if len(learned) <= window or since >= refresh:  # filling, or a refresh is due
            expected = 0.5 if len(recent) < 8 else _numpy_threshold(recent, 2.5, 0.5)
            since = 0
        assert math.isclose(threshold.get(), expected, rel_tol=1e-9)


def test_floor_until_min_history_then_history() -> None:
    threshold = AdaptiveThreshold(sensitivity=3.0, window=10, floor=1.0, min_history=4)
    for score in [5.0, 6.0, 7.0]:
        threshold.learn(score)
        assert threshold.get() == 1.0
    threshold.learn(8.0)
    # median 6.5, MAD 1.0
    assert threshold.get() == pytest.approx(6.5 + 3.0 * 1.4826)


def test_floor_wins_over_low_history() -> None:
    threshold = AdaptiveThreshold(sensitivity=3.0, window=8, floor=4.0)
    for _ in range(8):
        threshold.learn(0.1)
    assert threshold.get() == 4.0


def test_non_finite_scores_are_ignored() -> None:
    threshold = AdaptiveThreshold(sensitivity=3.0, window=8, floor=1.0)
    for score in [math.nan, math.inf, -math.inf]:
        threshold.learn(score)
    assert threshold.history == [] and threshold.get() == 1.0


def test_scores_rounded_to_six_significant_digits() -> None:
    threshold = AdaptiveThreshold(sensitivity=3.0, window=8, floor=1.0)
    for score in [1.23456789, 123456.789, 0.000123456789, 1e-300]:
        threshold.learn(score)
    assert threshold.history == [1.23457, 123457.0, 0.000123457, 1e-300]


def test_window_keeps_only_recent_scores() -> None:
    threshold = AdaptiveThreshold(sensitivity=1.0, window=8, floor=0.1, refresh=1)
    for score in [100.0] * 8 + [1.0] * 8:
        threshold.learn(score)
    assert threshold.get() == 1.0


def test_a_full_history_is_recomputed_every_refresh_scores() -> None:
    threshold = AdaptiveThreshold(sensitivity=1.0, window=8, floor=0.1, refresh=4)
    for score in [100.0] * 8:  # filling: recomputed after each
        threshold.learn(score)
    assert threshold.get() == 100.0
    for _ in range(3):
        threshold.learn(1.0)
        assert threshold.get() == 100.0  # not yet: 1, 2, 3 scores since
    threshold.learn(1.0)  # the 4th: recomputed over [100] * 4 + [1] * 4
    assert threshold.get() == pytest.approx(_numpy_threshold([100.0] * 4 + [1.0] * 4, 1.0, 0.1))
    assert threshold.to_state()["since"] == 0
    for _ in range(4):
        threshold.learn(1.0)
    assert threshold.get() == 1.0  # recomputed again: the history is all ones


def test_adaptive_state_round_trips_through_json() -> None:
    rng = np.random.default_rng(1)
    threshold = AdaptiveThreshold(sensitivity=2.0, window=16, floor=1.0)
    for score in rng.exponential(size=20).tolist():
        threshold.learn(score)
    state = json.loads(json.dumps(threshold.to_state()))
    copy = AdaptiveThreshold.from_state(state, sensitivity=2.0, window=16, floor=1.0)
    for score in rng.exponential(size=20).tolist():
        assert copy.get() == threshold.get()
        copy.learn(score)
        threshold.learn(score)
    assert copy.to_state() == threshold.to_state()


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.floats(allow_nan=False, allow_infinity=False),
            st.floats(-50, 50).map(lambda x: round(x, 4)),
            st.floats(1e-12, 1e12),
        ),
        max_size=70,
    )
)
def test_a_restored_history_holds_the_very_floats_learned(scores: list[float]) -> None:
    threshold = AdaptiveThreshold(sensitivity=2.0, window=64, floor=1.0)
    for score in scores:
        threshold.learn(score)
    state = json.loads(json.dumps(threshold.to_state()))
    copy = AdaptiveThreshold.from_state(state, sensitivity=2.0, window=64, floor=1.0)
    assert [x.hex() for x in copy.history] == [x.hex() for x in threshold.history]
    assert copy.get() == threshold.get()


def test_a_history_of_short_decimals_is_stored_in_a_third_of_its_json() -> None:
    threshold = AdaptiveThreshold(sensitivity=2.0, window=64, floor=1.0)
    rng = np.random.default_rng(3)
    for score in np.round(rng.uniform(0.0, 3.0, 64), 4).tolist():
        threshold.learn(score)
    packed = threshold.to_state()["history"]
    assert len(json.dumps(packed)) < len(json.dumps(threshold.history)) / 2.5
    rows_written_before = {"history": threshold.history, "value": threshold.get(), "since": 0}
    old = AdaptiveThreshold.from_state(rows_written_before, sensitivity=2.0, window=64, floor=1.0)
    assert old.to_state() == threshold.to_state()


def test_a_history_of_tiny_and_huge_scores_is_stored_as_floats() -> None:
    threshold = AdaptiveThreshold(sensitivity=2.0, window=8, floor=1.0)
    for score in [0.0, 0.00781274, 91000000.0]:  # 9.1e15 units of 1e-8 would not be exact
        threshold.learn(score)
    assert threshold.to_state()["history"] == [0.0, 0.00781274, 91000000.0]


@pytest.mark.parametrize("text", ["4zAAA", "4", "", "h4AAA=", "4hA", "4hAAAA"])
def test_a_history_that_is_not_packed_decimals_is_refused(text: str) -> None:
    with pytest.raises(DetectorError, match="threshold state history is not packed decimals"):
        AdaptiveThreshold.from_state({"history": text}, sensitivity=2.0, window=8, floor=1.0)


def test_static_threshold() -> None:
    threshold = StaticThreshold(3)
    threshold.learn(100.0)
    assert threshold.get() == 3.0
    assert threshold.to_state() == {}
    assert StaticThreshold.from_state({}, value=2.5).get() == 2.5


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"sensitivity": 0.0}, "sensitivity must be positive, got 0.0"),
        ({"window": 7}, "window must be an integer >= 8, got 7"),
        ({"floor": -1.0}, "floor must be positive, got -1.0"),
        ({"floor": math.inf}, "floor must be finite, got inf"),
        ({"min_history": 0}, "min_history must be an integer >= 1, got 0"),
    ],
)
def test_adaptive_validation(kwargs: dict[str, float], message: str) -> None:
    params: dict[str, float] = {"sensitivity": 3.0, "window": 64, "floor": 3.0}
    params.update(kwargs)
    with pytest.raises(DetectorError, match=message):
        AdaptiveThreshold(**params)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [0.0, -1.0, math.nan, "3"])
def test_static_validation(value: object) -> None:
    with pytest.raises(DetectorError, match="threshold must be"):
        StaticThreshold(value)  # type: ignore[arg-type]


def test_make_threshold() -> None:
    static = make_threshold("static", threshold=2.0, sensitivity=3.0, window=64)
    assert isinstance(static, StaticThreshold) and static.get() == 2.0
    adaptive = make_threshold("adaptive", threshold=2.0, sensitivity=2.5, window=16)
    assert isinstance(adaptive, AdaptiveThreshold)
    assert (adaptive.floor, adaptive.sensitivity, adaptive.window) == (2.0, 2.5, 16)
    restored = make_threshold(
        "adaptive", threshold=2.0, sensitivity=2.5, window=16, state={"history": [1.0]}
    )
    assert restored.history == [1.0]
    with pytest.raises(DetectorError, match="unknown threshold strategy 'median'; choose one of"):
        make_threshold("median", threshold=2.0, sensitivity=2.5, window=16)


@settings(max_examples=100, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    n=st.integers(1, 120),
    adaptive=st.booleans(),
    warm_from=st.integers(0, 30),
    wrong_at=st.one_of(st.none(), st.integers(0, 119)),
)
def test_settle_walks_the_scores_as_get_and_learn_one_by_one(
    seed: int, n: int, adaptive: bool, warm_from: int, wrong_at: int | None
) -> None:
    """The batch walk flags and learns what ``get`` and ``learn`` do point by point, and with a
    guess of the flags it stops right after the first row the guess got wrong."""
    rng = np.random.default_rng(seed)
    scores = np.abs(rng.standard_t(df=3, size=n))
    scores[rng.random(n) < 0.05] = np.nan
    warm = np.arange(n) >= warm_from
    walker, one = (
        (AdaptiveThreshold(2.0, 16, 1.0), AdaptiveThreshold(2.0, 16, 1.0))
        if adaptive
        else (StaticThreshold(2.0), StaticThreshold(2.0))
    )
    limits, flags = [], []
    for score, is_warm in zip(scores.tolist(), warm.tolist(), strict=True):
        limits.append(one.get())
        flags.append(is_warm and math.isfinite(score) and score > one.get())
        if not flags[-1]:
            one.learn(score)
    guess = None
    stop = n
    if wrong_at is not None and wrong_at < n:
        guess = np.array(flags)
        guess[wrong_at] = not guess[wrong_at]
        stop = wrong_at + 1
        one = AdaptiveThreshold(2.0, 16, 1.0) if adaptive else StaticThreshold(2.0)
        for score, flag in zip(scores[:stop].tolist(), flags[:stop], strict=True):
            if not flag:
                one.learn(score)
    got_limits, got_flags, done = walker.settle(scores, warm, guess)
    assert done == stop
    assert got_limits.tolist() == limits[:stop]
    assert got_flags.tolist() == flags[:stop]
    assert walker.to_state() == one.to_state()


def _one_by_one(
    threshold: AdaptiveThreshold, scores: np.ndarray, warm: np.ndarray, guess: np.ndarray | None
) -> tuple[list[float], list[bool]]:
    """``get`` and ``learn`` point by point, up to the first row whose flag is not its guess."""
    limits, flags = [], []
    for k, (score, is_warm) in enumerate(zip(scores.tolist(), warm.tolist(), strict=True)):
        limits.append(threshold.get())
        flags.append(is_warm and math.isfinite(score) and score > threshold.get())
        if not flags[-1]:
            threshold.learn(score)
        if guess is not None and flags[-1] != bool(guess[k]):
            break
    return limits, flags


_LONG_BLOCKS = given(
    seed=st.integers(0, 2**31 - 1),
    n=st.integers(1, 3000),
    story=st.sampled_from(["normal", "spikes", "level shift", "bursts", "gaps", "huge"]),
    learned_before=st.integers(0, 200),
    guessing=st.sampled_from(["none", "quiet", "random"]),
)


@settings(max_examples=60, deadline=None)
@_LONG_BLOCKS
def test_settle_of_long_blocks_gives_the_same_floats_as_one_by_one(
    seed: int, n: int, story: str, learned_before: int, guessing: str
) -> None:
    """Blocks as the columnar path sends them (thousands of rows, the default window of 64 and
    its refresh of 16, a history part-filled or full, spikes, a level shift, bursts of flags
    close together, missing values, medians that overflow): the walk (row by row where the
    modules are compiled) gives the thresholds, flags, rows walked and state of ``get`` and
    ``learn`` row by row, float for float."""
    _settle_against_one_by_one(seed, n, story, learned_before, guessing)


@pytest.mark.python_modules  # where the compiled modules run, test_kernel runs it as Python
@settings(max_examples=60, deadline=None)
@_LONG_BLOCKS
def test_the_python_stretches_of_long_blocks_give_the_same_floats_as_one_by_one(
    seed: int, n: int, story: str, learned_before: int, guessing: str
) -> None:
    """The same, through the numpy stretches the Python modules walk a full history with."""
    assert not thresholds.COMPILED
    _settle_against_one_by_one(seed, n, story, learned_before, guessing)


def _settle_against_one_by_one(
    seed: int, n: int, story: str, learned_before: int, guessing: str
) -> None:
    rng = np.random.default_rng(seed)
    scores = np.abs(rng.normal(0.0, 1.0, n))
    if story == "spikes":
        scores[rng.random(n) < 0.01] = 12.0
    elif story == "level shift":
        scores[n // 2 :] += 6.0
    elif story == "bursts":
        for at in rng.integers(0, n, size=5):
            scores[at : at + 40] = rng.uniform(5.0, 50.0, size=len(scores[at : at + 40]))
    elif story == "gaps":
        scores[rng.random(n) < 0.2] = np.nan
        scores[rng.random(n) < 0.01] = np.inf
    elif story == "huge":
        scores[rng.random(n) < 0.6] = 1.7e308
    warm = np.arange(n) >= rng.integers(0, 50)
    guess = {
        "none": None,
        "quiet": np.zeros(n, dtype=bool),
        "random": rng.random(n) < 0.02,
    }[guessing]
    walker, one = AdaptiveThreshold(3.0, 64, 1.0), AdaptiveThreshold(3.0, 64, 1.0)
    before = np.abs(rng.normal(0.0, 1.0, learned_before))
    for score in before.tolist():
        walker.learn(score)
        one.learn(score)
    limits, flags = _one_by_one(one, scores, warm, guess)
    got_limits, got_flags, done = walker.settle(scores, warm, guess)
    assert done == len(limits)
    assert got_limits.tolist() == limits
    assert got_flags.tolist() == flags
    assert walker.to_state() == one.to_state()


def test_a_long_window_walks_in_short_stretches_with_the_same_floats() -> None:
    """A window of thousands of scores (the API allows 100,000) over a long block: the
    stretches stay within about a million sorted values at once (not a window per 16 rows of
    the whole block) and give what ``get`` and ``learn`` give row by row."""
    rng = np.random.default_rng(5)
    scores = np.abs(rng.normal(0.0, 1.0, 4000))
    scores[rng.random(4000) < 0.02] = 15.0
    warm = np.ones(4000, dtype=bool)
    walker, one = AdaptiveThreshold(3.0, 3000, 1.0), AdaptiveThreshold(3.0, 3000, 1.0)
    for score in np.abs(rng.normal(0.0, 1.0, 3000)).tolist():
        walker.learn(score)
        one.learn(score)
    limits, flags = _one_by_one(one, scores, warm, None)
    got_limits, got_flags, done = walker.settle(scores, warm)
    assert (got_limits.tolist(), got_flags.tolist(), done) == (limits, flags, 4000)
    assert walker.to_state() == one.to_state()


def test_the_longest_window_walks_a_block_in_bounded_memory() -> None:
    """The API's longest window (100,000 scores) over a 2,000-row block: the stretches sort
    about a million scores at a time, not a window per 16 rows of the block (400 MB here, and
    gigabytes for a 100,000-point request)."""
    rng = np.random.default_rng(5)
    history = np.abs(rng.normal(0.0, 1.0, 100_000)).round(6).tolist()
    threshold = AdaptiveThreshold.from_state(
        {"history": history, "value": 3.0, "since": 0}, sensitivity=3.0, window=100_000, floor=1.0
    )
    tracemalloc.start()
    try:
        _, flags, done = threshold.settle(np.abs(rng.normal(0.0, 1.0, 2000)), np.ones(2000, bool))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert done == 2000 and len(threshold.history) == 100_000
    assert peak < 100e6, f"{peak / 1e6:.0f} MB"


@pytest.mark.python_modules
def test_the_walk_of_a_long_block_does_work_in_proportion_to_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A 100,000-row block (a REST request) with flags every few dozen rows: each stretch
    re-walks only the rest of a short span after a contradiction, so the rows handed to the
    vectorised walk stay a few times the block's (a stretch over the whole rest of the block
    made it quadratic: 2.5 s against the row-by-row loop's 0.07 s)."""
    walked: list[int] = []
    real = thresholds.quiet_limits

    def counted(history: np.ndarray, rounded: np.ndarray, *args: Any) -> np.ndarray | None:
        walked.append(len(rounded))
        return real(history, rounded, *args)

    monkeypatch.setattr(thresholds, "quiet_limits", counted)
    rng = np.random.default_rng(9)
    threshold = AdaptiveThreshold(2.5, 64, 1.5)
    for score in np.abs(rng.normal(0.0, 1.0, 200)).tolist():
        threshold.learn(score)
    n = 100_000
    _, flags, done = threshold.settle(np.abs(rng.normal(0.0, 1.0, n)), np.ones(n, dtype=bool))
    assert done == n and flags.sum() > n / 50
    assert sum(walked) < 10 * n


@settings(max_examples=300, deadline=None)
@given(
    values=st.lists(
        st.one_of(
            st.floats(0.0, 10.0),
            st.sampled_from([0.0, 1.0, 1.5, 2.0]),  # ties
            st.floats(-1e300, 1e300, allow_nan=False),
        ),
        min_size=1,
        max_size=80,
    )
)
def test_the_scaled_mad_is_the_median_of_the_sorted_deviations_bit_for_bit(
    values: list[float],
) -> None:
    """The two runs of deviations merged only to their middle give the very floats of sorting
    them all (what the adaptive threshold and the MAD detector compute)."""
    ordered = sorted(values)
    center = _robust._middle(ordered)
    expected = _robust.MAD_SCALE * _robust._middle(sorted(abs(v - center) for v in ordered))
    got_center, got = _robust.median_and_scaled_mad(values)
    assert got_center == center
    assert got == expected or (math.isnan(got) and math.isnan(expected))


def _ulps_around(value: float, n: int = 4) -> list[float]:
    out, up, down = [value], value, value
    for _ in range(n):
        up, down = math.nextafter(up, math.inf), math.nextafter(down, -math.inf)
        out += [up, down]
    return out


# Powers of ten and their neighbours (where log10 and the scale are at their edges), across
# the whole float range, subnormals included; and NaN, infinities and signed zeros.
_EDGES = [
    sign * v
    for k in range(-324, 309)
    for base in (1.0, 1.5, 9.999995)
    if base * 10.0**k < math.inf
    for v in _ulps_around(base * 10.0**k)
    for sign in (1.0, -1.0)
] + [0.0, -0.0, math.nan, math.inf, -math.inf, 5e-324, 1.7976931348623157e308]


def test_round6_one_is_round6_bit_for_bit_at_the_edges() -> None:
    got = np.array([round6_one(v) for v in _EDGES])
    want = np.array([float(round6(np.array([v]))[0]) for v in _EDGES])
    assert got.view(np.int64).tolist() == want.view(np.int64).tolist()


@settings(max_examples=3000, deadline=None)
@given(st.floats(allow_nan=True, allow_infinity=True))
def test_round6_one_is_round6_bit_for_bit(value: float) -> None:
    """The adaptive threshold learns each score through round6_one: the same float as the
    vectorised round6 of the block path, so the state and the thresholds do not change."""
    got, want = round6_one(value), float(round6(np.array([value]))[0])
    assert np.array([got]).view(np.int64)[0] == np.array([want]).view(np.int64)[0]
