"""The scenarios' series: :class:`Scenario` and its seeded generators (:func:`scenario`).

What each scenario holds is in :mod:`app.scenarios`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

START = 1_704_067_200.0  # 2024-01-01T00:00:00Z
STEP = 60.0
DAY = 1440  # points per day at 60 s steps
DAYS = 4


@dataclass(frozen=True)
class Scenario:
    """One labelled series: event times (epoch seconds), values and anomaly windows.

    ``windows`` are ``(first, last)`` point indices, both included. ``persistent`` marks a change
    that stays (level shift, variance rise): alerts in the :data:`GRACE` points after its window
    are not false. ``params`` holds what the seed chose, for the record.
    """

    name: str
    seed: int
    ts: list[float]
    values: list[float]
    windows: list[tuple[int, int]]
    persistent: bool = False
    params: dict[str, float] = field(default_factory=dict)


def _steps(n: int) -> list[float]:
    return [START + STEP * i for i in range(n)]


def _noise(rng: np.random.Generator, n: int) -> tuple[np.ndarray, float, float]:
    level = float(rng.uniform(50.0, 500.0))
    sigma = float(rng.uniform(0.01, 0.05)) * level
    return level + sigma * rng.standard_normal(n), level, sigma


_EARLIEST = DAY + DAY // 4  # an anomaly starts 6 hours into day 2 or later


def _anomaly_start(rng: np.random.Generator, n: int, length: int) -> int:
    """A start on day 2 or 3 that leaves a day after the anomaly."""
    return int(rng.integers(_EARLIEST, min(3 * DAY, n - DAY - length)))


def _spike(rng: np.random.Generator, n: int) -> Scenario:
    values, level, sigma = _noise(rng, n)
    at = _anomaly_start(rng, n, 1)
    sign = float(rng.choice([-1.0, 1.0]))
    values[at] = level + sign * 10.0 * sigma
    params = {"level": level, "sigma": sigma, "sigmas": 10.0 * sign}
    return Scenario("spike", 0, _steps(n), values.tolist(), [(at, at)], params=params)


def _level_shift(rng: np.random.Generator, n: int) -> Scenario:
    values, level, sigma = _noise(rng, n)
    at = _anomaly_start(rng, n, 30)
    shift = float(rng.uniform(6.0, 12.0) * rng.choice([-1.0, 1.0]))
    values[at:] += shift * sigma
    window = (at, at + int(rng.integers(10, 31)) - 1)
    params = {"level": level, "sigma": sigma, "sigmas": shift}
    return Scenario(
        "level_shift", 0, _steps(n), values.tolist(), [window], persistent=True, params=params
    )


def _daily_bump(rng: np.random.Generator, n: int) -> Scenario:
    values, level, sigma = _noise(rng, n)
    amplitude = float(rng.uniform(10.0, 15.0)) * sigma
    peak_hour = float(rng.uniform(0.0, 24.0))
    minutes = np.arange(n, dtype=float)
    values += amplitude * np.cos(2.0 * math.pi * (minutes - peak_hour * 60.0) / DAY)
    length = int(rng.integers(10, 21))
    trough = int(round(peak_hour * 60.0 + DAY / 2)) % DAY  # minute of the day of the trough
    starts = [day * DAY + trough - length // 2 for day in range(1, DAYS)]
    at = int(rng.choice([a for a in starts if _EARLIEST <= a <= n - DAY - length]))
    fraction = float(rng.uniform(0.3, 0.5))
    values[at : at + length] += fraction * amplitude
    params = {
        "level": level,
        "sigma": sigma,
        "amplitude": amplitude,
        "bump": fraction,
        "peak_hour": peak_hour,
    }
    return Scenario(
        "daily_bump", 0, _steps(n), values.tolist(), [(at, at + length - 1)], params=params
    )


def _variance_rise(rng: np.random.Generator, n: int) -> Scenario:
    values, level, sigma = _noise(rng, n)
    at = _anomaly_start(rng, n, 30)
    factor = float(rng.uniform(3.0, 5.0))
    values[at:] = level + (values[at:] - level) * factor
    window = (at, at + int(rng.integers(10, 31)) - 1)
    params = {"level": level, "sigma": sigma, "factor": factor}
    return Scenario(
        "variance_rise", 0, _steps(n), values.tolist(), [window], persistent=True, params=params
    )


def _sparse_burst(rng: np.random.Generator, n: int) -> Scenario:
    rate = float(rng.uniform(0.1, 0.3))
    counts = rng.poisson(rate, n).astype(float)
    length = int(rng.integers(5, 16))
    at = _anomaly_start(rng, n, length)
    counts[at : at + length] = rng.integers(5, 11, length)
    params = {"rate": rate, "length": float(length)}
    return Scenario(
        "sparse_burst", 0, _steps(n), counts.tolist(), [(at, at + length - 1)], params=params
    )


def _drift(rng: np.random.Generator, n: int) -> Scenario:
    values, level, sigma = _noise(rng, n)
    total = float(rng.uniform(8.0, 16.0) * rng.choice([-1.0, 1.0]))
    values += np.linspace(0.0, total * sigma, n)
    params = {"level": level, "sigma": sigma, "sigmas": total}
    return Scenario("drift", 0, _steps(n), values.tolist(), [], params=params)


def _gap(rng: np.random.Generator, n: int) -> Scenario:
    values, level, sigma = _noise(rng, n)
    amplitude = float(rng.uniform(2.0, 4.0)) * sigma
    minutes = np.arange(n, dtype=float)
    phase = float(rng.uniform(0.0, 2.0 * math.pi))
    values += amplitude * np.sin(2.0 * math.pi * minutes / DAY + phase)
    missing = 4 * 60
    at = _anomaly_start(rng, n, missing)
    keep = np.ones(n, dtype=bool)
    keep[at : at + missing] = False
    ts = np.asarray(_steps(n))[keep]
    params = {"level": level, "sigma": sigma, "amplitude": amplitude, "gap_at": float(at)}
    return Scenario("gap", 0, ts.tolist(), values[keep].tolist(), [], params=params)


_GENERATORS: dict[str, Callable[[np.random.Generator, int], Scenario]] = {
    "spike": _spike,
    "level_shift": _level_shift,
    "daily_bump": _daily_bump,
    "variance_rise": _variance_rise,
    "sparse_burst": _sparse_burst,
    "drift": _drift,
    "gap": _gap,
}
SCENARIOS = tuple(_GENERATORS)


def scenario(name: str, seed: int) -> Scenario:
    """The scenario ``name`` (one of :data:`SCENARIOS`) drawn with ``seed``.

    Examples
    --------
    >>> s = scenario("level_shift", 7)
    >>> len(s.ts), s.ts[1] - s.ts[0], s.persistent
    (5760, 60.0, True)
    >>> (first, last), = s.windows
    >>> DAY <= first and 10 <= last - first + 1 <= 30 and len(s.ts) - last > 500
    True
    >>> scenario("level_shift", 7) == s
    True
    >>> scenario("flatline", 0)
    Traceback (most recent call last):
    ...
    ValueError: unknown scenario 'flatline'; one of spike, level_shift, daily_bump, variance_rise, sparse_burst, drift, gap.
    """
    try:
        generate = _GENERATORS[name]
    except KeyError:
        raise ValueError(f"unknown scenario {name!r}; one of {', '.join(SCENARIOS)}.") from None
    rng = np.random.default_rng([seed, SCENARIOS.index(name)])
    return replace(generate(rng, DAYS * DAY), seed=seed)
