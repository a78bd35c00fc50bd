"""TrendTracker: slope against numpy's (weighted) least squares, direction, change points."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detectors._packed import pack_floats, unpack_floats
from detectors.base import DetectorError
from detectors.trend import TrendSummary, TrendTracker

START = 1_795_766_400.0


def _feed(tracker: TrendTracker, ts: np.ndarray, values: np.ndarray) -> list[int]:
    """Feed all points; return the indices where a change point was detected."""
    return [
        i
        for i, (t, v) in enumerate(zip(ts, values, strict=True))
        if tracker.update(float(t), float(v))
    ]


def test_slope_is_least_squares_per_second() -> None:
    rng = np.random.default_rng(0)
    ts = START + np.cumsum(rng.uniform(5, 15, 300))  # irregular, ~10 s apart
    values = 50 + 0.03 * (ts - START) + rng.normal(scale=2.0, size=300)
    tracker = TrendTracker(half_life=math.inf)
    assert _feed(tracker, ts, values) == []
    slope = tracker.summary().slope
    assert slope == pytest.approx(np.polyfit(ts - START, values, 1)[0], rel=1e-9)


@pytest.mark.parametrize("half_life", [4.0, 32.0])
def test_slope_is_weighted_least_squares(half_life: float) -> None:
    rng = np.random.default_rng(1)
    ts = START + 10.0 * np.arange(200)
    values = 5 + 0.01 * (ts - START) + 0.00005 * (ts - START) ** 2 + rng.normal(size=200)
    tracker = TrendTracker(half_life=half_life, threshold=1e9)
    _feed(tracker, ts, values)
    weights = 0.5 ** (np.arange(200)[::-1] / half_life)
    expected = np.polyfit(ts - START, values, 1, w=np.sqrt(weights))[0]
    assert tracker.summary().slope == pytest.approx(expected, rel=1e-7)


def test_direction() -> None:
    rng = np.random.default_rng(2)
    ts = START + 60.0 * np.arange(100)
    noise = rng.normal(size=100)
    rising, falling, flat = TrendTracker(), TrendTracker(), TrendTracker()
    _feed(rising, ts, 100 + 0.5 * np.arange(100) + noise)
    _feed(falling, ts, 100 - 0.5 * np.arange(100) + noise)
    _feed(flat, ts, 100 + noise)
    assert rising.summary().direction == "up"
    assert rising.summary().slope == pytest.approx(0.5 / 60, rel=0.1)
    assert falling.summary().direction == "down"
    assert flat.summary().direction == "flat"


def test_slow_trend_under_the_tolerance_is_flat() -> None:
    rng = np.random.default_rng(3)
    ts = START + np.arange(200.0)
    values = 0.02 * np.arange(200) + rng.normal(size=200)  # 0.02 sigma per point
    strict, loose = TrendTracker(), TrendTracker(flat_tolerance=0.005)
    _feed(strict, ts, values)
    _feed(loose, ts, values)
    assert strict.summary().direction == "flat"
    assert loose.summary().direction == "up"


def test_no_direction_before_min_points() -> None:
    tracker = TrendTracker(min_points=5)
    for i in range(4):
        tracker.update(float(i), 10.0 * i)
    summary = tracker.summary()
    assert summary.slope == pytest.approx(10.0) and summary.direction == "flat"
    tracker.update(4.0, 40.0)
    assert tracker.summary().direction == "up"


def test_empty_tracker() -> None:
    assert TrendTracker().summary() == TrendSummary(None, "flat", [], None)


def test_level_shift_gives_one_change_point_at_its_onset() -> None:
    rng = np.random.default_rng(4)
    ts = START + 10.0 * np.arange(600)
    values = 100 + rng.normal(size=600) + np.where(np.arange(600) >= 300, 6.0, 0.0)
    tracker = TrendTracker()
    detected = _feed(tracker, ts, values)
    assert len(detected) == 1 and 300 <= detected[0] <= 305
    summary = tracker.summary()
    assert summary.last_change is not None
    assert ts[298] <= summary.last_change <= ts[detected[0]]
    assert summary.direction == "flat"


def test_drop_is_detected_too() -> None:
    ts = START + np.arange(100.0)
    values = np.where(np.arange(100) >= 50, 10.0, 20.0) + 0.1 * np.sin(np.arange(100))
    tracker = TrendTracker()
    detected = _feed(tracker, ts, values)
    assert len(detected) == 1 and 50 < detected[0] <= 52  # at least two points
    assert START + 47.0 <= tracker.summary().change_points[0] <= START + 50.0


def test_stationary_noise_rarely_gives_a_change_point() -> None:
    # For iid normal residuals, k = 0.5 and h = 8 give about one false change point per 10^4
    # points (Siegmund's approximation); 20,000 points here give none.
    ts = START + 10.0 * np.arange(2000)
    found = []
    for seed in range(10):
        values = 100 + np.random.default_rng(seed).normal(size=2000)
        found += _feed(TrendTracker(), ts, values)
    assert found == []


def test_isolated_outliers_are_not_change_points() -> None:
    ts = START + 10.0 * np.arange(300)
    values = 100 + 0.01 * np.sin(np.arange(300))
    values[[100, 104, 200]] += [1e6, -1e6, 1e6]
    tracker = TrendTracker()
    assert _feed(tracker, ts, values) == []
    assert tracker.summary().slope == pytest.approx(0.0, abs=1e-6)


def test_steady_ramp_gives_no_change_point_but_its_start_does() -> None:
    rng = np.random.default_rng(5)
    ts = START + 10.0 * np.arange(1000)
    noise = rng.normal(size=1000)
    ramp = 100 + 0.3 * np.arange(1000) + noise
    assert _feed(TrendTracker(), ts, ramp) == []
    bend = 100 + noise + np.where(np.arange(1000) >= 500, 0.3 * (np.arange(1000) - 500), 0.0)
    tracker = TrendTracker()
    detected = _feed(tracker, ts, bend)
    assert len(detected) == 1 and 500 < detected[0] < 530
    assert tracker.summary().direction == "up"


def test_keeps_the_last_change_points() -> None:
    ts = START + np.arange(200.0)
    values = np.repeat([0.0, 10.0, 0.0, 10.0, 0.0], 40)
    tracker = TrendTracker(max_change_points=2)
    assert len(_feed(tracker, ts, values)) == 4
    summary = tracker.summary()
    assert summary.change_points == [START + 120.0, START + 160.0]
    assert summary.last_change == START + 160.0


def test_gaps_change_nothing() -> None:
    tracker = TrendTracker()
    for i in range(10):
        tracker.update(float(i), float(i))
    before = tracker.to_state()
    assert tracker.update(10.0, math.nan) is False
    tracker.update(11.0, math.inf)
    assert tracker.to_state() == before


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"half_life": -1.0}, "half_life must be positive, got -1.0"),
        ({"flat_tolerance": -0.1}, "flat_tolerance must be >= 0, got -0.1"),
        ({"drift": math.nan}, "drift must be finite, got nan"),
        ({"threshold": 0}, "threshold must be positive, got 0.0"),
        ({"max_change_points": 0}, "max_change_points must be an integer >= 1, got 0"),
        ({"min_points": 2}, "min_points must be an integer >= 3, got 2"),
    ],
)
def test_parameter_validation(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(DetectorError, match=message):
        TrendTracker(**kwargs)  # type: ignore[arg-type]


def test_input_validation() -> None:
    tracker = TrendTracker()
    with pytest.raises(DetectorError, match="ts must be finite, got inf"):
        tracker.update(math.inf, 1.0)
    with pytest.raises(DetectorError, match="value must be a number, got '1'"):
        tracker.update(0.0, "1")  # type: ignore[arg-type]


UNPACKED = {  # the state as versions before the packed one wrote it
    "line": [2, 2.0, 5.0, 2.0, 50.0, 2.0, 10.0],
    "last_ts": 10.0,
    "interval": [10.0, 1.0],
    "error": [0.0, 0.0],
    "cusum": [0.0, 0.0],
    "since": [0.0, 0.0],
    "changes": [],
}


def test_bad_state() -> None:
    state = dict(UNPACKED)
    del state["cusum"]
    with pytest.raises(DetectorError, match="trend state has no field 'cusum'"):
        TrendTracker.from_state(state)
    state = {**UNPACKED, "error": [-1.0, 1.0]}
    with pytest.raises(DetectorError, match=r"trend state error\[0\] must be >= 0, got -1.0"):
        TrendTracker.from_state(state)
    packed = TrendTracker().to_state()
    with pytest.raises(DetectorError, match="trend state f must hold 15 packed floats"):
        TrendTracker.from_state({**packed, "f": packed["f"][:-12]})
    floats = unpack_floats("f", packed["f"], 15)
    floats[9] = -1.0
    with pytest.raises(DetectorError, match=r"trend state error\[0\] must be >= 0, got -1.0"):
        TrendTracker.from_state({**packed, "f": pack_floats(floats)})


def test_an_unpacked_state_of_an_earlier_version_goes_on_as_it_would_have() -> None:
    tracker = TrendTracker(half_life=math.inf)
    tracker.update(0.0, 1.0)
    tracker.update(10.0, 3.0)
    restored = TrendTracker.from_state(UNPACKED, half_life=math.inf)
    assert restored.to_state() == tracker.to_state()
    for t, v in [(20.0, 5.5), (30.0, 6.0), (40.0, 9.0)]:
        assert restored.update(t, v) == tracker.update(t, v)
    assert restored.summary() == tracker.summary()


def test_state_size() -> None:
    tracker = TrendTracker()
    ts = START + np.arange(400.0)
    values = np.repeat([0.0, 10.0] * 4, 50) + np.sin(np.arange(400.0))
    _feed(tracker, ts, values)
    assert len(tracker.summary().change_points) == 7
    assert len(json.dumps(tracker.to_state())) < 600


points = st.lists(
    st.tuples(
        st.floats(0, 1e4),
        st.one_of(st.floats(-1e3, 1e3), st.just(math.nan)),
    ),
    max_size=60,
)


@settings(max_examples=80, deadline=None)
@given(before=points, after=points)
def test_state_round_trip_gives_identical_results(
    before: list[tuple[float, float]], after: list[tuple[float, float]]
) -> None:
    params = {"half_life": 8.0, "min_points": 3, "threshold": 3.0}
    ordered_before = sorted(before)
    original = TrendTracker(**params)  # type: ignore[arg-type]
    for t, v in ordered_before:
        original.update(START + t, v)
    copy = TrendTracker.from_state(json.loads(json.dumps(original.to_state())), **params)
    for t, v in after:
        assert copy.update(START + 1e4 + t, v) == original.update(START + 1e4 + t, v)
    assert copy.to_state() == original.to_state()
    assert copy.summary() == original.summary()


@settings(max_examples=80, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    n=st.integers(1, 400),
    story=st.sampled_from(["ramp", "level shifts", "spikes", "out of order", "gaps"]),
    min_points=st.sampled_from([3, 8]),
)
def test_update_many_walks_as_update_one_by_one(
    seed: int, n: int, story: str, min_points: int
) -> None:
    """The block walk (the insights' tail of every message) is :meth:`update` on each point:
    the same change points, slope and state, float for float."""
    rng = np.random.default_rng(seed)
    ts = 10.0 * np.arange(n)
    values = 100.0 + 0.5 * np.arange(n) + rng.normal(0.0, 2.0, n)
    if story == "level shifts":
        for at in rng.integers(0, n, size=3):
            values[at:] += rng.choice([-1.0, 1.0]) * rng.uniform(10.0, 80.0)
    elif story == "spikes":
        values[rng.random(n) < 0.05] += 500.0
    elif story == "out of order":
        ts = ts[rng.permutation(n)] if rng.random() < 0.5 else np.repeat(ts[: (n + 1) // 2], 2)[:n]
    elif story == "gaps":
        values[rng.random(n) < 0.1] = rng.choice([np.nan, np.inf])
    one, many = TrendTracker(min_points=min_points), TrendTracker(min_points=min_points)
    for t, v in zip(ts.tolist(), values.tolist(), strict=True):
        one.update(t, v)
    many.update_many(ts, values)
    assert many.to_state() == one.to_state()
    assert many.summary() == one.summary()
