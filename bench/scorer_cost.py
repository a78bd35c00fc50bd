"""CPU time per point of a model through ``ModelScorer``, and the size of its stored state.

``python -m bench.scorer_cost adaptive zscore recommended weekly``: per named model, the median
of 5 runs over 10,000 minute points of a daily sine (amplitude 10, noise 1, 1 % of points 30
above), one point at a time (``score_one``) and in 1000-point blocks (``score_block``); then the
JSON size of the scorer's state after 3 days of those points. ``recommended`` is the engine's
recommended model, ``weekly`` it with a declared weekly profile (``{"period": 604800, "bins":
168}``), timed on the 10,000 points after a week it learned untimed (the profile in use), its
state after 3 weeks; any other name is that detector with its defaults. Figures in
docs/QUALITY.md.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections.abc import Sequence

import numpy as np

from detectors import ModelScorer, ModelSpec
from incidents.recommended import RECOMMENDED

POINTS = 10_000
BLOCK = 1000
RUNS = 5
DAY = 86400.0


WEEK = 7 * DAY


def _spec(name: str) -> ModelSpec:
    if name in ("recommended", "weekly"):
        return ModelSpec(
            RECOMMENDED["detector"],
            dict(RECOMMENDED.get("params", {})),
            n_features=1,
            seasonality={"period": WEEK, "bins": 168} if name == "weekly" else None,
        )
    return ModelSpec(name, {}, n_features=1)


def _series(n: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    ts = 60.0 * np.arange(n)
    x = 100.0 + 10.0 * np.sin(2 * np.pi * ts / DAY) + rng.normal(0.0, 1.0, n)
    x[rng.random(n) < 0.01] += 30.0
    return ts, x


def _learned(name: str, ts: np.ndarray, x: np.ndarray, before: int) -> ModelScorer:
    scorer = ModelScorer(_spec(name))
    if before:
        scorer.score_block(x[:before, None], ts=ts[:before])
    return scorer


def measure(name: str) -> tuple[float, float, int]:
    """``(µs a point one at a time, µs a point in blocks, state bytes after 3 days (weekly: 3
    weeks))``."""
    before = int(WEEK / 60) if name == "weekly" else 0
    ts, x = _series(max(before + POINTS, int(3 * WEEK / 60)))
    one, block = [], []
    for _ in range(RUNS):
        scorer = _learned(name, ts, x, before)
        start = time.process_time()
        for k in range(before, before + POINTS):
            scorer.score_one([float(x[k])], ts=float(ts[k]))
        one.append((time.process_time() - start) / POINTS * 1e6)
        scorer = _learned(name, ts, x, before)
        start = time.process_time()
        for s in range(before, before + POINTS, BLOCK):
            scorer.score_block(x[s : s + BLOCK, None], ts=ts[s : s + BLOCK])
        block.append((time.process_time() - start) / POINTS * 1e6)
    scorer = ModelScorer(_spec(name))
    kept = int((3 * WEEK if name == "weekly" else 3 * DAY) / 60)
    scorer.score_block(x[:kept, None], ts=ts[:kept])
    return statistics.median(one), statistics.median(block), len(json.dumps(scorer.to_state()))


def main(argv: Sequence[str] | None = None) -> int:
    for name in argv if argv is not None else sys.argv[1:]:
        one, block, size = measure(name)
        print(f"{name}: {one:.2f} µs one at a time, {block:.2f} µs in blocks, state {size} B")
    return 0


if __name__ == "__main__":
    sys.exit(main())
