"""Behaviour scenarios: seeded minute-resolution series with labelled anomalies, and their judge.

Each scenario is one feature at 60 s steps over 4 days (5,760 points, fewer where the feed has
a gap), the first day for learning, the anomaly on day 2 or 3, and at least a day after it.
:func:`scenario` builds one from a name and a seed (magnitudes and positions vary with the
seed); :func:`judge` applies the acceptance rules to the points that alerted; :func:`run_scenarios`
runs a scoring function over every scenario and seed, and :func:`format_table` prints the result.

The scenarios (``sigma`` is the noise's standard deviation):

- ``spike``: noise on a level, one point 10 sigma above or below it; its window is that point.
- ``level_shift``: the level moves by 6 to 12 sigma (up or down) and stays; its window is the
  first 10 to 30 points of the new level.
- ``daily_bump``: a daily sine of amplitude 10 to 15 sigma (half its peak-to-peak range), and at
  one trough a bump of +30 to 50 % of that amplitude for 10 to 20 points; its window is the bump.
- ``variance_rise``: the noise's sigma grows 3 to 5 times and stays; its window is the first 10
  to 30 points of the change.
- ``sparse_burst``: Poisson counts of mean 0.1 to 0.3, and a burst of 5 to 15 points whose
  counts are 5 to 10; its window is the burst.
- ``drift``: noise on a level that moves linearly by 8 to 16 sigma over the 4 days: no anomaly.
- ``gap``: noise on a level with a daily sine of amplitude 2 to 4 sigma, and 4 hours (240
  timestamps) missing from the feed on day 2 or 3 (the points are absent, not NaN): no anomaly.

This module needs numpy and the standard library only; ``python -m app.scenarios`` (:func:`main`)
scores the scenarios through the engine's own step, :func:`incidents.scoring.score_batch`, as the
backtest does.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TextIO

import numpy as np

START = 1_704_067_200.0  # 2024-01-01T00:00:00Z
STEP = 60.0
DAY = 1440  # points per day at 60 s steps
DAYS = 4
DETECT_WITHIN = 5  # points from a window's start to its first alert, at most
MAX_FALSE = 5  # false alert points after the first day, at most
QUIET_TAIL = 500  # the last points, where no false alert is allowed
GRACE = 60  # points after a persistent change's window whose alerts are not false


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


@dataclass(frozen=True)
class Verdict:
    """What :func:`judge` found: per window the delay to its first alert within
    :data:`DETECT_WITHIN` points (None: missed), the false alert points after the first day,
    those in the last :data:`QUIET_TAIL` points, the alerts the grace excused, and the outcome."""

    name: str
    seed: int
    passed: bool
    reason: str
    windows: int
    detected: int
    delays: list[int | None]
    false_alerts: int
    false_in_tail: int
    graced: int
    alerts: int


# ------------------------------------------------------------------------------ generators


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


# ---------------------------------------------------------------------------------- judge


def _points(count: int) -> str:
    return f"{count} false alert point{'' if count == 1 else 's'}"


def judge(scenario: Scenario, alerts: Sequence[bool]) -> Verdict:
    """Whether ``alerts`` (one per point, True where the point alerted) meet the rules.

    The rules, with indices counted in points of the series as given (a gap's missing
    timestamps are not points):

    - *within 5 points*: a window ``(first, last)`` is detected when a point of
      ``first .. first + 5`` alerts (the delay is the first such index minus ``first``; for a
      window shorter than 6 points the points just after it count);
    - *false alert points after the first day*: the alerting points whose time is at least a day
      after the first point's, outside every window's ``first .. max(last, first + 5)`` and, for
      a persistent change (level shift, variance rise), outside the :data:`GRACE` (60) points
      after its window, ``last + 1 .. last + 60`` (counted apart as ``graced``); at most 5;
    - *no false alert in the last 500 points*: none of those false alert points is among the
      series' last 500 points.

    It passes when every window is detected and both limits hold; ``reason`` says why not, or
    sums up the pass, in one line.

    Examples
    --------
    >>> s = Scenario("spike", 0, [60.0 * i for i in range(3000)], [0.0] * 3000, [(2000, 2000)])
    >>> alerts = [False] * 3000
    >>> judge(s, alerts).reason
    'missed the window at 2000 (no alert)'
    >>> alerts[2001] = alerts[2300] = True
    >>> v = judge(s, alerts)
    >>> v.passed, v.delays, v.false_alerts, v.reason
    (True, [1], 1, 'pass: 1/1 windows detected (delays 1), 1 false alert point')
    """
    n = len(scenario.ts)
    if len(alerts) != n:
        raise ValueError(f"alerts has {len(alerts)} values for {n} points; one per point.")
    credited = np.zeros(n, dtype=bool)
    grace = np.zeros(n, dtype=bool)
    delays: list[int | None] = []
    for first, last in scenario.windows:
        hits = [i for i in range(first, min(first + DETECT_WITHIN, n - 1) + 1) if alerts[i]]
        delays.append(hits[0] - first if hits else None)
        credited[first : max(last, first + DETECT_WITHIN) + 1] = True
        if scenario.persistent:
            grace[last + 1 : last + GRACE + 1] = True
    flagged = np.asarray(alerts, dtype=bool)
    after_day = np.asarray(scenario.ts, dtype=float) >= scenario.ts[0] + DAY * STEP
    false = flagged & after_day & ~credited & ~grace
    graced = flagged & after_day & ~credited & grace
    false_at = np.flatnonzero(false)
    tail = false_at[false_at >= n - QUIET_TAIL]
    problems = []
    for (first, _), delay in zip(scenario.windows, delays, strict=True):
        if delay is None:
            later = next((i for i in range(first, n) if alerts[i]), None)
            seen = (
                "no alert"
                if later is None
                else f"first alert {later - first} points after its start, over {DETECT_WITHIN}"
            )
            problems.append(f"missed the window at {first} ({seen})")
    if len(false_at) > MAX_FALSE:
        problems.append(
            f"{_points(len(false_at))} after the first day (at most {MAX_FALSE}; "
            f"first at {false_at[0]})"
        )
    if len(tail):
        problems.append(f"{_points(len(tail))} in the last {QUIET_TAIL} (first at {tail[0]})")
    detected = sum(d is not None for d in delays)
    if problems:
        reason = "; ".join(problems)
    else:
        shown = ", ".join(str(d) for d in delays)
        found = f"{detected}/{len(delays)} windows detected (delays {shown}), " if delays else ""
        reason = f"pass: {found}{_points(len(false_at))}"
    return Verdict(
        name=scenario.name,
        seed=scenario.seed,
        passed=not problems,
        reason=reason,
        windows=len(delays),
        detected=detected,
        delays=delays,
        false_alerts=len(false_at),
        false_in_tail=len(tail),
        graced=int(graced.sum()),
        alerts=int(flagged.sum()),
    )


# ------------------------------------------------------------------------------ the table


def run_scenarios(
    score_fn: Callable[[Scenario], Sequence[bool]],
    seeds: Iterable[int],
    names: Sequence[str] = SCENARIOS,
) -> list[Verdict]:
    """Judge ``score_fn``'s alerts on each scenario of ``names`` with each seed, in that order.

    Examples
    --------
    >>> verdicts = run_scenarios(lambda s: [False] * len(s.ts), [0, 1], ["drift", "spike"])
    >>> [(v.name, v.seed, v.passed) for v in verdicts]
    [('drift', 0, True), ('drift', 1, True), ('spike', 0, False), ('spike', 1, False)]
    """
    seeds = list(seeds)
    verdicts = []
    for name in names:
        for seed in seeds:
            made = scenario(name, seed)
            verdicts.append(judge(made, list(score_fn(made))))
    return verdicts


def format_table(verdicts: Sequence[Verdict], title: str = "") -> str:
    """One row per scenario: seeds passed, windows detected, the largest delay, false alert
    points after the first day (the most of one seed), those in the last 500 points, graced
    alerts, and the first failing seed's reason (or the first seed's).

    Examples
    --------
    >>> verdicts = run_scenarios(lambda s: [False] * len(s.ts), [0, 1], ["drift", "spike"])
    >>> print(format_table(verdicts))
    scenario        pass  detected  max delay  false  in tail  graced  reason
    drift            2/2       0/0          -      0        0       0  pass: 0 false alert points
    spike            0/2       0/2          -      0        0       0  seed 0: missed the window at 3528 (no alert)
    passed 2/4
    """
    lines = [title] if title else []
    lines.append(
        f"{'scenario':14s} {'pass':>5s} {'detected':>9s} {'max delay':>10s} {'false':>6s} "
        f"{'in tail':>8s} {'graced':>7s}  reason"
    )
    names = list(dict.fromkeys(v.name for v in verdicts))
    for name in names:
        rows = [v for v in verdicts if v.name == name]
        failed = [v for v in rows if not v.passed]
        shown = failed[0] if failed else rows[0]
        delays = [d for v in rows for d in v.delays if d is not None]
        passed = f"{len(rows) - len(failed)}/{len(rows)}"
        detected = f"{sum(v.detected for v in rows)}/{sum(v.windows for v in rows)}"
        lines.append(
            f"{name:14s} {passed:>5s} {detected:>9s} "
            f"{max(delays) if delays else '-':>10} {max(v.false_alerts for v in rows):>6d} "
            f"{max(v.false_in_tail for v in rows):>8d} {max(v.graced for v in rows):>7d}  "
            + (f"seed {shown.seed}: {shown.reason}" if failed else shown.reason)
        )
    lines.append(f"passed {sum(v.passed for v in verdicts)}/{len(verdicts)}")
    return "\n".join(lines)


# -------------------------------------------------------------------------------- the CLI


def engine_alerts(config: Any) -> Callable[[Scenario], list[bool]]:
    """A ``score_fn``: the points whose ``alert`` is true (flagged and not suppressed) when the
    engine's step scores the scenario as one entity of ``config`` (an
    :class:`incidents.config.ModelConfig`), learning on, in batches as the backtest does."""
    from app.backtest.inputs import Series
    from app.backtest.scoring import score_series

    def score(made: Scenario) -> list[bool]:
        series = Series(
            key=f"scenarios/{made.name}_{made.seed}.csv",
            timestamps=[str(t) for t in made.ts],
            values_text=[repr(v) for v in made.values],
            ts=made.ts,
            values=made.values,
        )
        points, _ = score_series(config, series)
        return [p.alert for p in points]

    return score


def main(argv: Sequence[str] | None = None, stream: TextIO | None = None) -> int:
    """``python -m app.scenarios --config FILE [--seeds N] [--only NAME ...]``: the table of one
    configuration (a JSON object as ``POST /anomaly/config`` takes it) over seeds 0 .. N-1."""
    parser = argparse.ArgumentParser(
        prog="python -m app.scenarios",
        description="Judge a model configuration on the behaviour scenarios.",
    )
    parser.add_argument("--config", type=Path, required=True, help="configuration JSON file")
    parser.add_argument("--seeds", type=int, default=3, help="seeds 0 .. N-1 (default 3)")
    parser.add_argument(
        "--only", nargs="+", choices=SCENARIOS, default=list(SCENARIOS), help="scenarios to run"
    )
    args = parser.parse_args(argv)
    if args.seeds < 1:
        parser.error("--seeds must be at least 1")
    from app.backtest.inputs import BacktestError, config_from, read_config

    try:
        data = read_config(args.config)  # once: the documented <(echo ...) is a pipe
        config = config_from(data, args.config)
    except BacktestError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    verdicts = run_scenarios(engine_alerts(config), range(args.seeds), args.only)
    title = json.dumps(data, sort_keys=True)
    print(format_table(verdicts, title=title), file=stream or sys.stdout)
    return 0 if all(v.passed for v in verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
