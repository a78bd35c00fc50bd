"""Variants of the behaviour scenarios that ``app.scenarios`` does not draw, judged as it judges.

``python -m bench.scenario_variants [--seeds 20] [--only NAME ...] [--config FILE]``: per variant,
seeds passed of those run and what failed (missed windows, more than 5 false alert points after
the first day, false alerts in the last 500), through the engine's own step
(:func:`app.scenarios.engine_alerts`) and :func:`app.scenarios.judge`. The configuration
defaults to the recommended model (``{"model_id": "m"}``). The variants read the issue's
scenario text more widely than :mod:`app.scenarios.series` does: other noise levels and
signs, rounded values, heavier tails, other lengths, cycles and magnitudes. Figures and which
variants no detector can pass are in docs/QUALITY.md.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from app.scenarios import DAY, START, STEP, Scenario, Verdict, engine_alerts, judge

EARLIEST = DAY + DAY // 4  # an anomaly starts 6 hours into day 2 or later, as in app.scenarios


@dataclass(frozen=True)
class Noise:
    """How the noise is drawn: a level in ``level``, a standard deviation of ``rel`` times the
    level's magnitude (or ``sigma`` when given), normal or Student t (``dof``, scaled to that
    standard deviation), and the values rounded to ``decimals`` (None: not rounded)."""

    level: tuple[float, float] = (50.0, 500.0)
    rel: tuple[float, float] = (0.01, 0.05)
    sigma: tuple[float, float] | None = None
    dof: float | None = None
    decimals: int | None = None


def _noise(rng: np.random.Generator, n: int, noise: Noise) -> tuple[np.ndarray, float, float]:
    level = float(rng.uniform(*noise.level))
    if noise.sigma is not None:
        sigma = float(rng.uniform(*noise.sigma))
    else:
        sigma = float(rng.uniform(*noise.rel)) * abs(level)
    if noise.dof is None:
        draws = rng.standard_normal(n)
    else:
        draws = rng.standard_t(noise.dof, n) / math.sqrt(noise.dof / (noise.dof - 2.0))
    return level + sigma * draws, level, sigma


def _start(rng: np.random.Generator, n: int, length: int, early: bool = False) -> int:
    """An anomaly's start: in the first hour of day 2 when ``early``; otherwise 6 hours into
    day 2 or later, leaving a day after it (on 2-day series: 600 points)."""
    if early:
        return int(rng.integers(DAY, DAY + 60))
    high = min(3 * DAY, n - DAY - length)
    if high <= EARLIEST:
        high = n - 600 - length
    return int(rng.integers(EARLIEST, high))


def _daily(n: int, amplitude: float, peak_hour: float) -> np.ndarray:
    minutes = np.arange(n, dtype=float)
    return amplitude * np.cos(2.0 * math.pi * (minutes - peak_hour * 60.0) / DAY)


def _made(
    name: str,
    values: np.ndarray,
    windows: list[tuple[int, int]],
    noise: Noise,
    persistent: bool = False,
    keep: np.ndarray | None = None,
    **params: float,
) -> Scenario:
    if noise.decimals is not None:
        values = np.round(values, noise.decimals)
    ts = START + STEP * np.arange(len(values))
    if keep is not None:  # only anomaly-free series have gaps: no window to move
        ts, values = ts[keep], values[keep]
    return Scenario(name, 0, ts.tolist(), values.tolist(), windows, persistent, params)


def spike(
    sigmas: tuple[float, float] = (10.0, 10.0),
    noise: Noise = Noise(),
    days: int = 4,
    cycle: tuple[float, float] = (0.0, 0.0),
    early: bool = False,
) -> Callable[[np.random.Generator], Scenario]:
    """One point ``sigmas`` (drawn, either sign) off the level, on a daily cycle of amplitude
    ``cycle`` sigma (0: none); its window is that point."""

    def make(rng: np.random.Generator) -> Scenario:
        n = days * DAY
        values, level, sigma = _noise(rng, n, noise)
        amplitude = float(rng.uniform(*cycle)) * sigma
        values += _daily(n, amplitude, float(rng.uniform(0.0, 24.0)))
        at = _start(rng, n, 1, early)
        size = float(rng.uniform(*sigmas) * rng.choice([-1.0, 1.0]))
        values[at] += size * sigma
        return _made("spike", values, [(at, at)], noise, level=level, sigma=sigma, sigmas=size)

    return make


def shift(
    sigmas: tuple[float, float] = (6.0, 12.0),
    noise: Noise = Noise(),
    days: int = 4,
    signs: Sequence[float] = (-1.0, 1.0),
) -> Callable[[np.random.Generator], Scenario]:
    """The level moves by ``sigmas`` and stays; its window is the first 10 to 30 points."""

    def make(rng: np.random.Generator) -> Scenario:
        n = days * DAY
        values, level, sigma = _noise(rng, n, noise)
        at = _start(rng, n, 30)
        size = float(rng.uniform(*sigmas) * rng.choice(list(signs)))
        values[at:] += size * sigma
        window = (at, at + int(rng.integers(10, 31)) - 1)
        return _made(
            "level_shift", values, [window], noise, True, level=level, sigma=sigma, sigmas=size
        )

    return make


def plateau(
    sigmas: tuple[float, float], length: tuple[int, int]
) -> Callable[[np.random.Generator], Scenario]:
    """The level moves by ``sigmas`` (either sign) for ``length`` points and comes back; its
    window is the moved points (a return alerting is a false alert)."""

    def make(rng: np.random.Generator) -> Scenario:
        n = 4 * DAY
        values, level, sigma = _noise(rng, n, Noise())
        points = int(rng.integers(length[0], length[1] + 1))
        at = _start(rng, n, points)
        size = float(rng.uniform(*sigmas) * rng.choice([-1.0, 1.0]))
        values[at : at + points] += size * sigma
        window = (at, at + points - 1)
        return _made("plateau", values, [window], Noise(), level=level, sigma=sigma, sigmas=size)

    return make


def variance(
    factor: tuple[float, float], noise: Noise = Noise()
) -> Callable[[np.random.Generator], Scenario]:
    """The noise's deviations grow ``factor`` times and stay; window: the first 10 to 30."""

    def make(rng: np.random.Generator) -> Scenario:
        n = 4 * DAY
        values, level, sigma = _noise(rng, n, noise)
        at = _start(rng, n, 30)
        times = float(rng.uniform(*factor))
        values[at:] = level + (values[at:] - level) * times
        window = (at, at + int(rng.integers(10, 31)) - 1)
        return _made(
            "variance_rise", values, [window], noise, True, level=level, sigma=sigma, factor=times
        )

    return make


def bump(
    amplitude: tuple[float, float] = (10.0, 15.0),
    fraction: tuple[float, float] = (0.3, 0.5),
    length: tuple[int, int] = (10, 20),
    noise: Noise = Noise(),
    days: int = 4,
) -> Callable[[np.random.Generator], Scenario]:
    """A daily sine of ``amplitude`` sigma and, at one trough after the first day, a bump of
    ``fraction`` of the amplitude for ``length`` points (both included); its window is the
    bump."""

    def make(rng: np.random.Generator) -> Scenario:
        n = days * DAY
        values, level, sigma = _noise(rng, n, noise)
        size = float(rng.uniform(*amplitude)) * sigma
        peak_hour = float(rng.uniform(0.0, 24.0))
        values += _daily(n, size, peak_hour)
        points = int(rng.integers(length[0], length[1] + 1))
        trough = int(round(peak_hour * 60.0 + DAY / 2)) % DAY
        last = n - DAY - points if days > 2 else n - 600 - points
        starts = [d * DAY + trough - points // 2 for d in range(1, days)]
        at = int(rng.choice([a for a in starts if EARLIEST <= a <= last] or [EARLIEST]))
        share = float(rng.uniform(*fraction))
        values[at : at + points] += share * size
        return _made(
            "daily_bump",
            values,
            [(at, at + points - 1)],
            noise,
            level=level,
            sigma=sigma,
            bump_sigmas=share * size / sigma,
        )

    return make


def weekly(
    days: int, weekend: tuple[float, float], amplitude: tuple[float, float] = (10.0, 15.0)
) -> Callable[[np.random.Generator], Scenario]:
    """A daily sine of ``amplitude`` sigma whose days 6 and 7 of each week are lower by
    ``weekend`` sigma (the day's change spread over 2 hours), and a 10-sigma spike after the
    first week; no other anomaly."""

    def make(rng: np.random.Generator) -> Scenario:
        n = days * DAY
        values, level, sigma = _noise(rng, n, Noise())
        values += _daily(n, float(rng.uniform(*amplitude)) * sigma, float(rng.uniform(8, 20)))
        day = np.arange(n) / DAY
        lowered = ((day % 7) >= 5).astype(float)
        ramp = np.convolve(lowered, np.ones(120) / 120, mode="same")
        drop = float(rng.uniform(*weekend))
        values -= drop * sigma * ramp
        at = int(rng.integers(7 * DAY + DAY // 4, n - DAY))
        values[at] += 10.0 * sigma
        return _made("weekly", values, [(at, at)], Noise(), level=level, sigma=sigma, drop=drop)

    return make


def counts(
    rate: tuple[float, float], length: tuple[int, int], height: tuple[int, int]
) -> Callable[[np.random.Generator], Scenario]:
    """Poisson counts of mean ``rate`` and a burst of ``length`` points of ``height`` (both
    ends included); its window is the burst."""

    def make(rng: np.random.Generator) -> Scenario:
        n = 4 * DAY
        mean = float(rng.uniform(*rate))
        values = rng.poisson(mean, n).astype(float)
        points = int(rng.integers(length[0], length[1] + 1))
        at = _start(rng, n, points)
        values[at : at + points] = rng.integers(height[0], height[1] + 1, points)
        return _made(
            "sparse_burst", values, [(at, at + points - 1)], Noise(), rate=mean, length=points
        )

    return make


def drift(per_day: tuple[float, float], noise: Noise = Noise()) -> Callable[..., Scenario]:
    """The level moves linearly by ``per_day`` sigma a day (either sign); no anomaly."""

    def make(rng: np.random.Generator) -> Scenario:
        n = 4 * DAY
        values, level, sigma = _noise(rng, n, noise)
        slope = float(rng.uniform(*per_day) * rng.choice([-1.0, 1.0]))
        values += slope * sigma * np.arange(n) / DAY
        return _made("drift", values, [], noise, level=level, sigma=sigma, per_day=slope)

    return make


def gap(
    hours: tuple[float, float], cycle: tuple[float, float] = (2.0, 4.0), noise: Noise = Noise()
) -> Callable[[np.random.Generator], Scenario]:
    """A daily sine of ``cycle`` sigma and ``hours`` of timestamps missing from the feed on day
    2 or 3 (absent, not NaN); no anomaly."""

    def make(rng: np.random.Generator) -> Scenario:
        n = 4 * DAY
        values, level, sigma = _noise(rng, n, noise)
        values += _daily(n, float(rng.uniform(*cycle)) * sigma, float(rng.uniform(0.0, 24.0)))
        missing = int(round(float(rng.uniform(*hours)) * 60))
        at = _start(rng, n, missing)
        keep = np.ones(n, dtype=bool)
        keep[at : at + missing] = False
        return _made("gap", values, [], noise, keep=keep, level=level, sigma=sigma, gap=missing)

    return make


ZERO = Noise(level=(-0.5, 0.5), sigma=(0.01, 0.2))  # a level near zero, either sign
NEGATIVE = Noise(level=(-500.0, -50.0))
T5 = Noise(dof=5.0)

VARIANTS: dict[str, Callable[[np.random.Generator], Scenario]] = {
    # level shifts
    "shift N(100,5)->N(150,5)": shift(
        (10.0, 10.0), Noise(level=(100.0, 100.0), sigma=(5.0, 5.0)), signs=(1.0,)
    ),
    "shift 4-5 sigma": shift((4.0, 5.0)),
    "shift 5-6 sigma": shift((5.0, 6.0)),
    "shift, noise 0.5 % of level": shift(noise=Noise(rel=(0.005, 0.005))),
    "shift, noise 20 % of level": shift(noise=Noise(rel=(0.2, 0.2))),
    "shift, level near 0": shift(noise=ZERO),
    "shift, negative level": shift(noise=NEGATIVE),
    "shift, integers": shift(noise=Noise(decimals=0)),
    "shift, 1 decimal, noise 0.5 %": shift(noise=Noise(rel=(0.005, 0.01), decimals=1)),
    "shift, t5 noise": shift(noise=T5),
    "shift, 2 days": shift(days=2),
    "shift, 3 days": shift(days=3),
    "shift, 7 days": shift(days=7),
    "shift 6-10 sigma back after 20-40 points": plateau((6.0, 10.0), (20, 40)),
    "shift 6-10 sigma back after 40-120 points": plateau((6.0, 10.0), (40, 120)),
    # spikes
    "spike, noise 0.5 % of level": spike(noise=Noise(rel=(0.005, 0.005))),
    "spike, noise 20 % of level": spike(noise=Noise(rel=(0.2, 0.2))),
    "spike, level near 0": spike(noise=ZERO),
    "spike, negative level": spike(noise=NEGATIVE),
    "spike, integers": spike(noise=Noise(decimals=0)),
    "spike, integers, sigma 0.5-1": spike(noise=Noise(sigma=(0.5, 1.0), decimals=0)),
    "spike, 2 decimals, level near 0": spike(
        noise=Noise(level=(0.0, 1.0), sigma=(0.02, 0.1), decimals=2)
    ),
    "spike, t5 noise": spike(noise=T5),
    "spike, 2 days": spike(days=2),
    "spike, 7 days": spike(days=7),
    "spike on a daily cycle 3-30": spike(cycle=(3.0, 30.0)),
    "spike early on day 2": spike(early=True),
    "spike early on day 2, cycle 10": spike(cycle=(10.0, 15.0), early=True),
    # daily cycles
    "bump, amplitude 20-30, 0.2-0.6": bump((20.0, 30.0), (0.2, 0.6)),
    "bump, amplitude 10-15, 0.2-0.6": bump((10.0, 15.0), (0.2, 0.6)),
    "bump, amplitude 3-5, 0.2-0.6": bump((3.0, 5.0), (0.2, 0.6)),
    "bump of 5 points": bump(length=(5, 5)),
    "bump of 30 points": bump(length=(30, 30)),
    "bump of 60 points": bump(length=(60, 60)),
    "bump, 2 days": bump(days=2),
    "bump, 3 days": bump(days=3),
    "bump, 7 days": bump(days=7),
    "bump, integers": bump(noise=Noise(decimals=0)),
    "bump, t5 noise": bump(noise=T5),
    "weekly, weekend -5 sigma, 21 days": weekly(21, (5.0, 5.0)),
    "weekly, weekend -20 sigma, 21 days": weekly(21, (20.0, 20.0)),
    # variance
    "variance x2": variance((2.0, 2.0)),
    "variance x10": variance((10.0, 10.0)),
    "variance x3-5, integers": variance((3.0, 5.0), Noise(decimals=0)),
    # counts
    "counts 0.05-0.3, burst 3-5 x 3-5": counts((0.05, 0.3), (3, 5), (3, 5)),
    "counts 0.05-1, burst 3-20 x 5-20": counts((0.05, 1.0), (3, 20), (5, 20)),
    "counts 0.5-1, burst 3-20 x 3-5": counts((0.5, 1.0), (3, 20), (3, 5)),
    "counts 1, burst 10-20 x 10-20": counts((1.0, 1.0), (10, 20), (10, 20)),
    # drift
    "drift 10-15 sigma a day": drift((10.0, 15.0)),
    "drift 20-30 sigma a day": drift((20.0, 30.0)),
    "drift 30 sigma a day, integers": drift((30.0, 30.0), Noise(decimals=0)),
    "drift 4-8 sigma a day, t5": drift((4.0, 8.0), T5),
    # gaps
    "gap 1-8 h": gap((1.0, 8.0)),
    "gap 4-8 h, daily cycle 10-30": gap((4.0, 8.0), (10.0, 30.0)),
    "gap 4 h, t5 noise": gap((4.0, 4.0), noise=T5),
}


def run(
    score: Callable[[Scenario], Sequence[bool]], names: Sequence[str], seeds: Sequence[int]
) -> dict[str, list[Verdict]]:
    """Per variant the verdicts of ``seeds`` (each seed's generator keyed by the variant's
    name as well, so a variant's draws do not change when others are added)."""
    out = {}
    for name in names:
        key = zlib.crc32(name.encode())
        verdicts = []
        for seed in seeds:
            made = replace(VARIANTS[name](np.random.default_rng([seed, key])), seed=seed)
            verdicts.append(judge(made, list(score(made))))
        out[name] = verdicts
    return out


def failures(verdicts: Sequence[Verdict]) -> str:
    """What failed, counted over seeds: missed windows, too many false alert points, false
    alerts in the last 500; then the failing seeds."""
    missed = sum(v.detected < v.windows for v in verdicts)
    many = sum(v.false_alerts > 5 for v in verdicts)
    tail = sum(v.false_in_tail > 0 for v in verdicts)
    parts = [
        f"{label} {count}"
        for label, count in (("missed", missed), ("false>5", many), ("tail", tail))
        if count
    ]
    seeds = [str(v.seed) for v in verdicts if not v.passed]
    return ", ".join(parts) + (f" (seeds {' '.join(seeds)})" if seeds else "")


def format_rows(results: dict[str, list[Verdict]]) -> str:
    """One markdown row per variant: seeds passed / run and what failed."""
    lines = ["| variant | passed | fails |", "|---|---:|---|"]
    for name, verdicts in results.items():
        passed = sum(v.passed for v in verdicts)
        lines.append(f"| {name} | {passed}/{len(verdicts)} | {failures(verdicts) or '-'} |")
    total = sum(len(v) for v in results.values())
    passed = sum(v.passed for vs in results.values() for v in vs)
    lines.append(f"| all | {passed}/{total} | |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.scenario_variants",
        description="Judge a configuration on variants of the behaviour scenarios.",
    )
    parser.add_argument("--config", type=Path, help="configuration JSON (default: recommended)")
    parser.add_argument("--seeds", type=int, default=20, help="seeds 0 .. N-1 (default 20)")
    parser.add_argument("--first-seed", type=int, default=0, help="the first seed (default 0)")
    parser.add_argument("--only", nargs="+", choices=list(VARIANTS), metavar="NAME")
    parser.add_argument("--why", action="store_true", help="print each failing seed's reason")
    args = parser.parse_args(argv)
    from app.backtest.inputs import config_from, read_config

    if args.config is None:
        data, source = {"model_id": "m"}, Path("recommended")
    else:
        data, source = read_config(args.config), args.config
    config = config_from(data, source)
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    results = run(engine_alerts(config), args.only or list(VARIANTS), seeds)
    print(json.dumps(data, sort_keys=True))
    print(format_rows(results))
    if args.why:
        for name, verdicts in results.items():
            for v in verdicts:
                if not v.passed:
                    print(f"{name} seed {v.seed}: {v.reason}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
