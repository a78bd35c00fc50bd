"""Measurement 6: per-point cost of the ``ewma``, ``zscore`` and ``mad`` detectors against river.

One feature, a seeded normal series (100 ± 5), timed in this process, alternating engine and
river so both see the same machine:

- the bare detector, one point at a time: ``score_one(x)`` then ``learn_one(x)``;
- ``ModelScorer.score_many`` over 1000-point batches with the README's adaptive threshold (the
  path a message's points take);
- river's nearest equivalent, one point at a time, score then learn: ``stats.EWMean`` +
  ``stats.EWVar`` (a z-score from their ``get()``), ``anomaly.GaussianScorer``, and
  ``stats.RollingQuantile(q=0.5)`` over the same window (river's rolling median only: it has no
  rolling MAD, so this side does less work than the engine's median + MAD).
"""

from __future__ import annotations

import gc
import math
import random
import time
from collections.abc import Callable
from typing import Any

from bench.profile import Profile, progress
from bench.summary import Summary
from bench.table import Row

ALPHA = 0.1
WINDOW = 64
BATCH = 1000
PARAMS: dict[str, dict[str, Any]] = {
    "ewma": {"alpha": ALPHA},
    "zscore": {},
    "mad": {"window": WINDOW},
}
RIVER = {
    "ewma": "river stats.EWMean + stats.EWVar",
    "zscore": "river anomaly.GaussianScorer",
    "mad": "river stats.RollingQuantile(0.5)",
}


def series(n: int, seed: int = 4) -> list[float]:
    rng = random.Random(seed)
    return [rng.gauss(100.0, 5.0) for _ in range(n)]


def bare(name: str, values: list[float]) -> float:
    """Seconds for the bare detector to score then learn every value."""
    from detectors import make_detector

    detector = make_detector(name, 1, PARAMS[name])
    points = [[v] for v in values]
    started = time.perf_counter()
    for x in points:
        detector.score_one(x)
        detector.learn_one(x)
    return time.perf_counter() - started


def model(name: str, values: list[float]) -> float:
    """Seconds for a ModelScorer (adaptive threshold) to score ``values`` in batches."""
    from detectors import ModelScorer, ModelSpec

    spec = ModelSpec(
        name,
        PARAMS[name],
        1,
        threshold_strategy="adaptive",
        adaptive_sensitivity=2.5,
        history_window=WINDOW,
    )
    scorer = ModelScorer(spec)
    batches = [[[v] for v in values[i : i + BATCH]] for i in range(0, len(values), BATCH)]
    started = time.perf_counter()
    for batch in batches:
        scorer.score_many(batch)
    return time.perf_counter() - started


def river(name: str, values: list[float]) -> float:
    """Seconds for river's nearest equivalent to score then learn every value."""
    from river import anomaly, stats

    if name == "ewma":
        mean, var = stats.EWMean(fading_factor=ALPHA), stats.EWVar(fading_factor=ALPHA)
        started = time.perf_counter()
        for y in values:
            v = var.get()
            _ = (y - mean.get()) / math.sqrt(v) if v > 0 else 0.0
            mean.update(y)
            var.update(y)
        return time.perf_counter() - started
    if name == "zscore":
        scorer = anomaly.GaussianScorer(grace_period=2)  # type: ignore[no-untyped-call]
        started = time.perf_counter()
        for y in values:
            scorer.score_one(None, y)  # type: ignore[no-untyped-call]
            scorer.learn_one(None, y)  # type: ignore[no-untyped-call]
        return time.perf_counter() - started
    quantile = stats.RollingQuantile(q=0.5, window_size=WINDOW)
    started = time.perf_counter()
    for y in values:
        quantile.get()
        quantile.update(y)
    return time.perf_counter() - started


def timed_us(run: Callable[[str, list[float]], float], name: str, values: list[float]) -> float:
    gc.collect()
    return 1e6 * run(name, values) / len(values)


def measure(profile: Profile) -> list[Row]:
    values = series(profile.detector_points)
    rows: list[Row] = []
    for name in ("ewma", "zscore", "mad"):
        found: dict[str, list[float]] = {"bare": [], "model": [], "river": [], "ratio": []}
        for _ in range(profile.detector_runs):
            b = timed_us(bare, name, values)
            m = timed_us(model, name, values)
            r = timed_us(river, name, values)
            found["bare"].append(b)
            found["model"].append(m)
            found["river"].append(r)
            found["ratio"].append(b / r)
        summary = {k: Summary.of(v) for k, v in found.items()}
        progress(
            f"detector {name}: bare {summary['bare'].median:.2f} µs/pt, ModelScorer "
            f"{summary['model'].median:.2f} µs/pt, {RIVER[name]} {summary['river'].median:.2f} "
            f"µs/pt ({profile.detector_runs} runs of {len(values):,} points)"
        )
        rows += [
            Row("6", f"{name}: detector score_one + learn_one, per point", "us", summary["bare"]),
            Row(
                "6",
                f"{name}: ModelScorer.score_many (adaptive), per point",
                "us",
                summary["model"],
            ),
            Row("6", f"{name}: {RIVER[name]}, per point", "us", summary["river"]),
            Row("6", f"{name}: detector / river, time per point", "times", summary["ratio"]),
        ]
    return rows
