"""Holt and Holt-Winters: point forecasts against river.time_series.HoltWinters, intervals
against the ETS error weights and by simulation, gaps, warm-up and state."""

from __future__ import annotations

import json
import math
from collections import deque
from statistics import NormalDist

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from river import time_series

from detectors._packed import optional, unpack_floats
from detectors.base import DetectorError
from detectors.forecast import ForecastPoint, Holt, steps_to_breach
from detectors.holt_winters import HoltWinters

Z95 = NormalDist().inv_cdf(0.975)


def _series(seed: int, size: int, season: list[float] | None = None) -> list[float]:
    rng = np.random.default_rng(seed)
    t = np.arange(size)
    values = 50 + 0.2 * t + rng.normal(scale=2.0, size=size)
    if season is not None:
        values += np.array(season)[t % len(season)]
    return [float(v) for v in values]


def _means(points: list[ForecastPoint]) -> list[float]:
    return [p.mean for p in points]


@pytest.mark.parametrize(("alpha", "beta"), [(0.3, 0.1), (0.8, 0.5), (0.1, 0.9)])
def test_holt_matches_river_from_the_same_start(alpha: float, beta: float) -> None:
    series = _series(0, 200)
    holt = Holt(alpha=alpha, beta=beta)
    river = time_series.HoltWinters(alpha=alpha, beta=beta)
    for y in series[:2]:
        holt.learn_one(y)
        river.learn_one(y)
    # river starts the level at the mean of the first two values, Holt at the second one.
    river.level.clear()
    river.level.append(_holt_fields(holt)["level"])
    for y in series[2:]:
        holt.learn_one(y)
        river.learn_one(y)
        assert _means(holt.forecast(5)) == pytest.approx(river.forecast(5), rel=1e-12)


@pytest.mark.parametrize(("alpha", "beta", "gamma", "m"), [(0.3, 0.1, 0.2, 4), (0.6, 0.3, 0.4, 7)])
def test_holt_winters_matches_river_from_the_same_start(
    alpha: float, beta: float, gamma: float, m: int
) -> None:
    series = _series(1, 300, season=[10.0 * math.sin(2 * math.pi * k / m) for k in range(m)])
    hw = HoltWinters(alpha, beta, gamma, season_length=m)
    river = time_series.HoltWinters(alpha=alpha, beta=beta, gamma=gamma, seasonality=m)
    for y in series[: 2 * m]:
        hw.learn_one(y)
    for y in series[:m]:
        river.learn_one(y)
    state = hw.to_state()
    river.level.clear()
    river.level.append(state["level"])
    river.trend.clear()
    river.trend.append(state["trend"])
    river.season.clear()
    river.season.extend(state["season"])  # the next step's seasonal term first
    for y in series[2 * m :]:
        hw.learn_one(y)
        river.learn_one(y)
        assert _means(hw.forecast(2 * m + 1)) == pytest.approx(river.forecast(2 * m + 1), rel=1e-12)


def test_start_differs_from_river_but_the_forecasts_converge() -> None:
    m = 4
    series = _series(2, 600, season=[8.0, -2.0, 0.0, -6.0])
    hw = HoltWinters(0.4, 0.2, 0.3, season_length=m)
    river = time_series.HoltWinters(alpha=0.4, beta=0.2, gamma=0.3, seasonality=m)
    gaps = []
    for y in series:
        hw.learn_one(y)
        river.learn_one(y)
        if hw.ready:
            ours, theirs = _means(hw.forecast(4)), river.forecast(4)
            gaps.append(max(abs(a - b) for a, b in zip(ours, theirs, strict=True)))
    assert gaps[0] > 1.0
    assert gaps[-1] < 1e-6


def test_exact_on_a_line_right_after_warm_up() -> None:
    holt = Holt()
    holt.learn_one(3.0)
    assert holt.forecast(3) == []
    holt.learn_one(5.0)
    assert holt.forecast(3) == [
        ForecastPoint(1, 7.0, 7.0, 7.0),
        ForecastPoint(2, 9.0, 9.0, 9.0),
        ForecastPoint(3, 11.0, 11.0, 11.0),
    ]


def test_exact_on_a_line_plus_season_right_after_warm_up() -> None:
    pattern = [4.0, 1.0, -2.0, 0.0, -3.0]
    m = len(pattern)

    def truth(t: int) -> float:
        return 20.0 - 0.7 * t + pattern[t % m]

    hw = HoltWinters(0.5, 0.5, 0.5, season_length=m)
    for t in range(2 * m - 1):
        hw.learn_one(truth(t))
        assert hw.forecast(1) == []
    hw.learn_one(truth(2 * m - 1))
    assert _means(hw.forecast(12)) == pytest.approx([truth(2 * m - 1 + h) for h in range(1, 13)])


def _expected_half_widths(
    sigma2: float, alpha: float, beta: float, gamma: float, m: int, horizon: int
) -> list[float]:
    """z * sigma_h from the h-step error ``e_{t+h} + sum_j c_j e_{t+h-j}`` of ETS(A,A,A)."""
    widths = []
    for h in range(1, horizon + 1):
        weights = [alpha + alpha * beta * j + (gamma if j % m == 0 else 0.0) for j in range(1, h)]
        widths.append(Z95 * math.sqrt(sigma2 * (1.0 + sum(c * c for c in weights))))
    return widths


def test_holt_interval_is_the_ets_forecast_variance() -> None:
    holt = Holt(alpha=0.4, beta=0.3)
    for y in _series(3, 100):
        holt.learn_one(y)
    errors = _holt_fields(holt)["errors"]
    sigma2 = errors[0] / errors[1]
    assert sigma2 > 1.0
    expected = _expected_half_widths(sigma2, 0.4, 0.3, 0.0, 10**9, 20)
    points = holt.forecast(20)
    assert [p.upper - p.mean for p in points] == pytest.approx(expected, rel=1e-12)
    assert [p.mean - p.lower for p in points] == pytest.approx(expected, rel=1e-12)


def test_holt_winters_interval_is_the_ets_forecast_variance() -> None:
    m = 3
    hw = HoltWinters(0.3, 0.2, 0.25, season_length=m)
    for y in _series(4, 90, season=[3.0, 0.0, -3.0]):
        hw.learn_one(y)
    errors = hw.to_state()["errors"]
    expected = _expected_half_widths(errors[0] / errors[1], 0.3, 0.2, 0.25, m, 4 * m)
    assert [p.upper - p.mean for p in hw.forecast(4 * m)] == pytest.approx(expected, rel=1e-12)


def _coverage(model: Holt | HoltWinters, series: list[float], horizon: int) -> list[float]:
    hits = np.zeros(horizon)
    origins = 0
    for t, y in enumerate(series[:-horizon]):
        model.learn_one(y)
        if t < 300:
            continue
        origins += 1
        for point in model.forecast(horizon):
            actual = series[t + point.step]
            hits[point.step - 1] += point.lower <= actual <= point.upper
    return list(hits / origins)


def test_holt_intervals_cover_95_percent_of_an_ets_aan_process() -> None:
    alpha, beta = 0.5, 0.3
    rng = np.random.default_rng(5)
    level, trend, series = 100.0, 0.5, []
    for e in rng.normal(scale=3.0, size=6000):
        series.append(level + trend + e)
        level, trend = level + trend + alpha * e, trend + alpha * beta * e
    coverage = _coverage(Holt(alpha, beta, error_half_life=math.inf), series, 8)
    assert coverage == pytest.approx([0.95] * 8, abs=0.02)


def test_holt_winters_intervals_cover_95_percent_of_an_ets_aaa_process() -> None:
    alpha, beta, gamma, m = 0.3, 0.2, 0.3, 4
    rng = np.random.default_rng(6)
    level, trend, season, series = 100.0, 0.1, deque([5.0, -1.0, 2.0, -6.0]), []
    for e in rng.normal(scale=2.0, size=6000):
        s = season.popleft()
        series.append(level + trend + s + e)
        level, trend = level + trend + alpha * e, trend + alpha * beta * e
        season.append(s + gamma * e)
    model = HoltWinters(alpha, beta, gamma, season_length=m, error_half_life=math.inf)
    assert _coverage(model, series, 2 * m + 1) == pytest.approx([0.95] * (2 * m + 1), abs=0.02)


def test_interval_level() -> None:
    wide, narrow = Holt(), Holt(level=0.8)
    for y in _series(7, 50):
        wide.learn_one(y)
        narrow.learn_one(y)
    ratio = NormalDist().inv_cdf(0.9) / Z95
    for a, b in zip(wide.forecast(5), narrow.forecast(5), strict=True):
        assert b.mean == a.mean
        assert b.upper - b.mean == pytest.approx(ratio * (a.upper - a.mean))


def test_holt_gaps() -> None:
    holt = Holt()
    for y in [math.nan, 1.0, math.nan, 5.0]:  # a line of slope 2 with a gap
        holt.learn_one(y)
    assert _means(holt.forecast(2)) == [7.0, 9.0]
    holt.learn_one(math.inf)  # advances to 7 without learning
    holt.learn_one(9.0)
    assert _means(holt.forecast(1)) == [11.0]
    assert _holt_fields(holt)["errors"] == [0.0, 1.0]
    assert holt.to_state()["n"] == 3


def test_holt_winters_gap_keeps_the_season_aligned() -> None:
    pattern = [6.0, -1.0, -5.0]

    def truth(t: int) -> float:
        return 10.0 + 0.5 * t + pattern[t % 3]

    hw = HoltWinters(0.3, 0.1, 0.2, season_length=3)
    hw.learn_one(math.nan)  # before the first value: ignored
    for t in range(12):
        hw.learn_one(truth(t) if t not in (7, 8) else math.nan)
    assert _means(hw.forecast(6)) == pytest.approx([truth(t) for t in range(12, 18)])


def test_holt_winters_gap_in_warm_up_is_filled() -> None:
    hw = HoltWinters(0.3, 0.1, 0.2, season_length=2)
    for y in [1.0, math.nan, 3.0]:
        hw.learn_one(y)
    assert hw.forecast(1) == [] and not hw.ready
    hw.learn_one(4.0)
    assert hw.ready
    assert _means(hw.forecast(2)) == pytest.approx([5.0, 6.0])


def test_steps_to_breach_on_a_forecast() -> None:
    holt = Holt(alpha=0.5, beta=0.3)
    for y in _series(8, 60):  # about 50 + 0.2 t, noise 2
        holt.learn_one(y)
    forecast = holt.forecast(100)
    by_interval = steps_to_breach(forecast, upper=75.0)
    by_mean = steps_to_breach(forecast, upper=75.0, use_interval=False)
    assert by_interval is not None and by_mean is not None
    assert by_interval < by_mean
    assert forecast[by_mean - 1].mean > 75.0 >= forecast[by_mean - 2].mean
    assert steps_to_breach(forecast, upper=1e6, use_interval=False) is None
    assert steps_to_breach(forecast, upper=None, lower=40.0) is not None  # wide intervals
    assert steps_to_breach(forecast, upper=None, lower=40.0, use_interval=False) is None
    assert steps_to_breach([], upper=1.0) is None


def test_steps_to_breach_validation() -> None:
    with pytest.raises(DetectorError, match="give upper, lower or both"):
        steps_to_breach([], upper=None)
    with pytest.raises(DetectorError, match="lower must not be above upper"):
        steps_to_breach([], upper=1.0, lower=2.0)
    with pytest.raises(DetectorError, match="upper must be finite, got nan"):
        steps_to_breach([], upper=math.nan)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"alpha": 0.0}, r"alpha must be in \(0, 1\], got 0.0"),
        ({"alpha": 1.5}, r"alpha must be in \(0, 1\], got 1.5"),
        ({"beta": -0.1}, r"beta must be in \[0, 1\], got -0.1"),
        ({"level": 1.0}, r"level must be between 0 and 1 \(exclusive\), got 1.0"),
        ({"error_half_life": 0}, "error_half_life must be positive, got 0.0"),
    ],
)
def test_holt_validation(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(DetectorError, match=message):
        Holt(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"gamma": 2.0}, r"gamma must be in \[0, 1\], got 2.0"),
        ({"season_length": 1}, "season_length must be an integer >= 2, got 1"),
        ({"season_length": 1025}, "season_length must be at most 1024, got 1025"),
    ],
)
def test_holt_winters_validation(kwargs: dict[str, object], message: str) -> None:
    params: dict[str, object] = {"alpha": 0.3, "beta": 0.1, "gamma": 0.1, "season_length": 4}
    with pytest.raises(DetectorError, match=message):
        HoltWinters(**{**params, **kwargs})  # type: ignore[arg-type]


def test_input_validation() -> None:
    holt = Holt()
    with pytest.raises(DetectorError, match="y must be a number, got 'x'"):
        holt.learn_one("x")  # type: ignore[arg-type]
    with pytest.raises(DetectorError, match="horizon must be an integer >= 1, got 0"):
        holt.forecast(0)


def test_bad_state() -> None:
    with pytest.raises(DetectorError, match="holt state has no field 'errors'"):
        Holt.from_state({"n": 0, "level": None, "trend": None, "first": None, "steps": 0})
    state = {"n": 9, "level": 1.0, "trend": 0.0, "season": [1.0], "warmup": [], "errors": [0, 0]}
    with pytest.raises(DetectorError, match="holt-winters state season must have 2 values, got 1"):
        HoltWinters.from_state(state, alpha=0.3, beta=0.1, gamma=0.1, season_length=2)


def test_an_unpacked_state_of_an_earlier_version_goes_on_as_it_would_have() -> None:
    holt = Holt(alpha=0.5, beta=0.5)
    for y in [10.0, 12.0, 15.0, 16.0]:
        holt.learn_one(y)
    unpacked = {"n": 4, "steps": 0, **_holt_fields(holt)}  # the form earlier versions wrote
    assert set(unpacked) == {"n", "level", "trend", "first", "steps", "errors"}
    restored = Holt.from_state(json.loads(json.dumps(unpacked)), alpha=0.5, beta=0.5)
    assert restored.to_state() == holt.to_state()
    for y in [18.0, math.nan, 17.0]:
        holt.learn_one(y)
        restored.learn_one(y)
        assert restored.forecast(3) == holt.forecast(3)


def test_a_packed_state_of_the_wrong_length_is_refused() -> None:
    state = Holt().to_state()
    with pytest.raises(DetectorError, match="forecast state f must hold 5 packed floats"):
        Holt.from_state({**state, "f": state["f"][:-12]})


def test_state_sizes() -> None:
    holt = Holt()
    hw = HoltWinters(0.3, 0.1, 0.1, season_length=24)
    for y in _series(9, 500, season=[5.0 * math.sin(2 * math.pi * k / 24) for k in range(24)]):
        holt.learn_one(y)
        hw.learn_one(y)
    assert len(json.dumps(holt.to_state())) < 200
    assert len(json.dumps(hw.to_state())) < 700


def _holt_fields(holt: Holt) -> dict[str, object]:
    """Level, trend, first and errors of ``holt``'s packed state."""
    level, trend, first, *errors = unpack_floats("f", holt.to_state()["f"], 5)
    return {
        "level": optional(level),
        "trend": optional(trend),
        "first": optional(first),
        "errors": errors,
    }


values = st.lists(st.one_of(st.floats(-1e4, 1e4), st.just(math.nan)), max_size=40)


@settings(max_examples=80, deadline=None)
@given(before=values, after=values, seasonal=st.booleans())
def test_state_round_trip_gives_identical_results(
    before: list[float], after: list[float], seasonal: bool
) -> None:
    model: Holt | HoltWinters
    if seasonal:
        params: dict[str, object] = {"alpha": 0.4, "beta": 0.2, "gamma": 0.3, "season_length": 3}
        model = HoltWinters(**params)  # type: ignore[arg-type]
    else:
        params = {"alpha": 0.4, "beta": 0.2, "error_half_life": 4.0}
        model = Holt(**params)  # type: ignore[arg-type]
    for y in before:
        model.learn_one(y)
    state = json.loads(json.dumps(model.to_state()))
    copy = type(model).from_state(state, **params)
    for y in after:
        model.learn_one(y)
        copy.learn_one(y)
        assert copy.forecast(4) == model.forecast(4)
    assert copy.to_state() == model.to_state()


@settings(max_examples=80, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    before=st.integers(0, 3),
    n=st.integers(0, 300),
    gaps=st.sampled_from([0.0, 0.1, 0.6]),
)
def test_holt_learns_a_block_as_one_value_at_a_time(
    seed: int, before: int, n: int, gaps: float
) -> None:
    """Holt's block walk (the insights' tail of every message) leaves the state that
    ``learn_one`` on each value leaves, float for float, from any point of its start."""
    rng = np.random.default_rng(seed)
    values = 100.0 + np.cumsum(rng.normal(0.5, 3.0, before + n))
    values[rng.random(before + n) < gaps] = rng.choice([np.nan, np.inf, -np.inf])
    one, many = Holt(), Holt()
    for y in values[:before].tolist():
        one.learn_one(y)
        many.learn_one(y)
    for y in values[before:].tolist():
        one.learn_one(y)
    many.learn_many(values[before:])
    assert many.to_state() == one.to_state()
    assert many.forecast(3) == one.forecast(3)
