"""The seasonal profile: offsets that flatten a cycle, detection of daily and weekly cycles,
the one-point path equal to the block path, and a small state."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from detectors import DetectorError, ModelSpec
from detectors.seasonal_config import DAY, WEEK, seasonality_params
from detectors.seasonality import SeasonalProfile

MINUTE = 60.0


def daily_sine(days: float, step: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Amplitude 10 around 100, noise 1."""
    rng = np.random.default_rng(seed)
    ts = np.arange(0.0, days * DAY, step)
    return ts, (100 + 10 * np.sin(2 * np.pi * ts / DAY) + rng.normal(0, 1, len(ts)))[:, None]


def weekend_step(days: float, step: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """50 on weekdays, 60 on Saturday and Sunday (epoch day 0 is a Thursday), noise 1."""
    rng = np.random.default_rng(seed)
    ts = np.arange(0.0, days * DAY, step)
    weekend = np.isin(np.floor(ts / DAY) % 7, [2, 3])
    return ts, (50 + 10 * weekend + rng.normal(0, 1, len(ts)))[:, None]


def scored(profile: SeasonalProfile, ts: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """What the scorer scores: rows minus their offsets, learning the block."""
    residual = rows - profile.offsets(ts, rows)
    profile.learn(ts, rows)
    return residual


def state_size(profile: SeasonalProfile) -> int:
    return len(json.dumps(profile.to_state(), separators=(",", ":")))


def test_a_declared_daily_period_leaves_the_noise_after_a_day() -> None:
    ts, rows = daily_sine(5, MINUTE)
    residual = scored(SeasonalProfile(1, period=86400), ts, rows)[:, 0]
    day = np.floor(ts / DAY)
    assert residual[day == 0].std() > 7  # not active yet: the cycle itself (std 10 / sqrt 2)
    for d in (2, 3, 4):
        assert residual[day == d].std() == pytest.approx(1.0, abs=0.1)
    assert rows[day == 4, 0].std() > 7


def test_a_bump_at_the_trough_stands_out_and_the_daily_peak_does_not() -> None:
    ts, rows = daily_sine(4, 5 * MINUTE, seed=3)
    profile = SeasonalProfile(1, period=86400)
    profile.learn(ts, rows)
    later = ts[-288:] + DAY  # day 5, every 5 minutes
    clean = 100 + 10 * np.sin(2 * np.pi * later / DAY)
    trough, peak = np.argmin(clean), np.argmax(clean)
    bumped = clean.copy()
    bumped[trough] += 8  # 98: well inside the day's range 90 .. 110
    residual = bumped - profile.offsets(later, bumped[:, None])[:, 0]
    assert abs(residual[peak] - 100) < 1
    assert residual[trough] - 100 > 7
    assert bumped.min() < bumped[trough] < bumped.max()


def test_auto_finds_the_daily_cycle() -> None:
    ts, rows = daily_sine(5, MINUTE)
    profile = SeasonalProfile(1, period="auto")
    residual = scored(profile, ts, rows)[:, 0]
    assert profile.active and profile.period == DAY
    assert residual[ts >= 4 * DAY].std() == pytest.approx(1.0, abs=0.1)


@pytest.mark.parametrize("kind", ["white noise", "linear drift"])
def test_auto_finds_nothing_without_a_cycle_and_then_keeps_nothing(kind: str) -> None:
    rng = np.random.default_rng(7)
    ts = np.arange(0.0, 29 * DAY, 10 * MINUTE)
    noise = rng.normal(0, 1, len(ts))
    values = noise if kind == "white noise" else 10 + ts / DAY + noise
    profile = SeasonalProfile(1, period="auto")
    residual = scored(profile, ts, values[:, None])
    assert profile.period is None and not profile.active
    assert (residual[:, 0] == values).all()
    assert profile.to_state() == {"s": 3}  # known non-seasonal: no bins left
    assert (profile.offsets(ts[-3:] + DAY, values[-3:, None]) == 0).all()


def test_auto_finds_a_weekly_cycle_from_a_weekend_step() -> None:
    ts, rows = weekend_step(29, 10 * MINUTE)
    profile = SeasonalProfile(1, period="auto")
    residual = scored(profile, ts, rows)[:, 0]
    assert profile.period == WEEK and profile.active
    last_week = ts >= 22 * DAY
    assert rows[last_week, 0].std() > 4
    assert residual[last_week].std() < 1.2


def test_a_daily_cycle_on_weekdays_only_becomes_a_weekly_profile() -> None:
    rng = np.random.default_rng(5)
    ts = np.arange(0.0, 30 * DAY, 10 * MINUTE)
    weekday = ~np.isin(np.floor(ts / DAY) % 7, [2, 3])
    rows = (20 + 10 * weekday * np.sin(2 * np.pi * ts / DAY) + rng.normal(0, 1, len(ts)))[:, None]
    profile = SeasonalProfile(1, period="auto")
    residual = scored(profile, ts, rows)[:, 0]
    assert profile.period == WEEK
    assert residual[ts >= 23 * DAY].std() < 1.5


def test_a_hole_in_the_feed_and_a_late_point_break_nothing() -> None:
    ts, rows = daily_sine(4, MINUTE)
    hole = (ts > 2.3 * DAY) & (ts < 2.3 * DAY + 4 * 3600)
    ts, rows = ts[~hole], rows[~hole]
    profile = SeasonalProfile(1, period=86400)
    residual = scored(profile, ts, rows)[:, 0]
    assert residual[ts > 2.5 * DAY].std() == pytest.approx(1.0, abs=0.1)
    before = profile.to_state()
    late = np.array([ts[-1] - 3 * 3600])  # three hours back
    offset = profile.offsets(late, np.array([[90.0]]))
    profile.learn(late, np.array([[90.0]]))
    assert profile.to_state() == before  # scored, not learned
    expected = 10 * np.sin(2 * np.pi * late[0] / DAY)
    assert offset[0, 0] == pytest.approx(expected, abs=0.5)


def test_offsets_learn_nothing() -> None:
    ts, rows = daily_sine(2.5, 5 * MINUTE)
    profile = SeasonalProfile(1, period="auto")
    profile.learn(ts, rows)
    before = profile.to_state()
    profile.offsets(ts + 3 * DAY, rows)
    profile.offsets(ts[-1] + 3 * DAY, rows[-1])
    assert profile.to_state() == before


def _random_feed(seed: int, days: float) -> tuple[np.ndarray, np.ndarray]:
    """Two features (a daily cycle, a weekend step) at irregular steps, with a 4-hour hole,
    a few points out of order and missing values."""
    rng = np.random.default_rng(seed)
    steps = rng.choice([60.0, 300.0, 600.0, 1800.0], size=int(days * DAY / 400))
    ts = np.cumsum(steps)
    ts = ts[ts < days * DAY]
    ts = ts[(ts < 3.2 * DAY) | (ts > 3.2 * DAY + 4 * 3600)]
    swaps = rng.choice(len(ts) - 1, size=5, replace=False)
    ts[swaps], ts[swaps + 1] = ts[swaps + 1], ts[swaps].copy()
    weekend = np.isin(np.floor(ts / DAY) % 7, [2, 3])
    rows = np.column_stack(
        [
            100 + 10 * np.sin(2 * np.pi * ts / DAY) + rng.normal(0, 1, len(ts)),
            50 + 10 * weekend + rng.normal(0, 1, len(ts)),
        ]
    )
    rows[rng.random(rows.shape) < 0.03] = np.nan
    rows[rng.choice(len(ts), 3), 1] = np.inf
    return ts, rows


@pytest.mark.parametrize(
    ("seed", "params", "days"),
    [
        (1, {"period": 86400}, 6),
        (2, {"period": 3 * 3600, "bins": 12}, 3),
        (3, {"period": 604800}, 10),
        (4, {"period": "auto"}, 24),
    ],
)
def test_the_block_path_equals_one_row_at_a_time(
    seed: int, params: dict[str, Any], days: float
) -> None:
    ts, rows = _random_feed(seed, days)
    block_profile = SeasonalProfile(2, **params)
    row_profile = SeasonalProfile(2, **params)
    rng = np.random.default_rng(seed)
    start, block, one = 0, [], []
    while start < len(ts):  # blocks of random sizes, as the stream delivers them
        stop = start + int(rng.integers(1, 400))
        part_ts, part_rows = ts[start:stop], rows[start:stop]
        block.append(block_profile.offsets(part_ts, part_rows))
        block_profile.learn(part_ts, part_rows)
        for t, row in zip(part_ts.tolist(), part_rows, strict=True):
            one.append(row_profile.offsets(t, row))
            row_profile.learn(t, row)
        start = stop
    assert np.allclose(np.concatenate(block), np.concatenate(one), rtol=1e-9, atol=1e-9)
    assert block_profile.period == row_profile.period
    assert block_profile.active
    probe = ts[-50:] + 7 * DAY
    assert np.allclose(
        block_profile.offsets(probe, rows[-50:]), row_profile.offsets(probe, rows[-50:])
    )


@pytest.mark.parametrize(
    ("params", "series", "days"),
    [
        ({"period": 86400}, daily_sine, 2.5),
        ({"period": "auto"}, daily_sine, 1.5),  # undecided
        ({"period": "auto"}, daily_sine, 4.5),  # daily
        ({"period": "auto"}, weekend_step, 23.5),  # weekly
    ],
)
def test_a_state_round_trip_gives_identical_offsets(
    params: dict[str, Any], series: Any, days: float
) -> None:
    ts, rows = series(days, 10 * MINUTE)
    profile = SeasonalProfile(1, **params)
    profile.learn(ts, rows)
    state = json.loads(json.dumps(profile.to_state()))
    again = SeasonalProfile.from_state(1, params, state)
    assert again.to_state() == profile.to_state()
    later_ts, later_rows = ts[-500:] + 7 * DAY, rows[-500:]
    assert (again.offsets(later_ts, later_rows) == profile.offsets(later_ts, later_rows)).all()
    again.learn(later_ts, later_rows)
    profile.learn(later_ts, later_rows)
    assert again.to_state() == profile.to_state()


def test_the_state_is_small() -> None:
    sizes = {}
    noise = np.random.default_rng(1).normal(0, 1, (4176, 1))
    none = SeasonalProfile(1, period="auto")
    none.learn(np.arange(4176) * 600.0, noise)
    sizes["none"] = state_size(none)
    ts, rows = daily_sine(5, 10 * MINUTE)
    daily = SeasonalProfile(1, period="auto")
    daily.learn(ts, rows)
    sizes["daily"] = state_size(daily)
    ts, rows = weekend_step(23, 10 * MINUTE)
    weekly = SeasonalProfile(1, period="auto")
    weekly.learn(ts, rows)
    sizes["weekly"] = state_size(weekly)
    print("seasonality state, JSON bytes for one feature:", sizes)
    assert (none.period, daily.period, weekly.period) == (None, DAY, WEEK)
    assert sizes["none"] <= 16
    assert sizes["daily"] < 700
    assert sizes["weekly"] < 1600


def test_a_bad_seasonality_names_the_field() -> None:
    with pytest.raises(DetectorError, match=r"^seasonality\.period must be a positive"):
        seasonality_params({"period": 0})
    with pytest.raises(DetectorError, match=r"^seasonality\.period must be at most"):
        SeasonalProfile(1, period=5 * WEEK)
    with pytest.raises(DetectorError, match=r"^seasonality\.bins applies to a declared period"):
        seasonality_params({"period": "auto", "bins": 48})
    with pytest.raises(DetectorError, match=r"^unknown seasonality setting 'periode'"):
        seasonality_params({"periode": 86400})
    with pytest.raises(DetectorError, match=r"^seasonality must be 'auto' or an object"):
        seasonality_params("daily")


def test_the_model_spec_checks_and_normalises_its_seasonality() -> None:
    spec = ModelSpec("ewma", {}, 1, seasonality={"period": 604800})
    assert spec.seasonality == {"period": 604800.0, "bins": 168}
    assert ModelSpec("ewma", {}, 1, seasonality={"period": "auto"}).seasonality == {
        "period": "auto"
    }
    assert ModelSpec("ewma", {}, 1).seasonality is None
    with pytest.raises(DetectorError, match=r"seasonality\.bins must be an integer"):
        ModelSpec("ewma", {}, 1, seasonality={"period": 86400, "bins": 1000})
