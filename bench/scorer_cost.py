"""CPU time per point of a model through ``ModelScorer``, and the size of its stored state.

``python -m bench.scorer_cost adaptive zscore recommended``: per named model, the median of
5 runs over 10,000 minute points of a daily sine (amplitude 10, noise 1, 1 % of points 30
above), one point at a time (``score_one``) and in 1000-point blocks (``score_block``); then the
JSON size of the scorer's state after 3 days of those points. ``recommended`` is the engine's
recommended model; any other name is that detector with its defaults. Figures in
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


def _spec(name: str) -> ModelSpec:
    if name == "recommended":
        return ModelSpec(
            RECOMMENDED["detector"],
            dict(RECOMMENDED.get("params", {})),
            n_features=1,
            seasonality=RECOMMENDED.get("seasonality"),
        )
    return ModelSpec(name, {}, n_features=1)


def _series() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    ts = 60.0 * np.arange(POINTS)
    x = 100.0 + 10.0 * np.sin(2 * np.pi * ts / DAY) + rng.normal(0.0, 1.0, POINTS)
    x[rng.random(POINTS) < 0.01] += 30.0
    return ts, x


def measure(name: str) -> tuple[float, float, int]:
    """``(µs a point one at a time, µs a point in blocks, state bytes after 3 days)``."""
    ts, x = _series()
    one, block = [], []
    for _ in range(RUNS):
        scorer = ModelScorer(_spec(name))
        start = time.process_time()
        for k in range(POINTS):
            scorer.score_one([float(x[k])], ts=float(ts[k]))
        one.append((time.process_time() - start) / POINTS * 1e6)
        scorer = ModelScorer(_spec(name))
        start = time.process_time()
        for s in range(0, POINTS, BLOCK):
            scorer.score_block(x[s : s + BLOCK, None], ts=ts[s : s + BLOCK])
        block.append((time.process_time() - start) / POINTS * 1e6)
    scorer = ModelScorer(_spec(name))
    days = int(3 * DAY / 60)
    scorer.score_block(x[:days, None], ts=ts[:days])
    return statistics.median(one), statistics.median(block), len(json.dumps(scorer.to_state()))


def main(argv: Sequence[str] | None = None) -> int:
    for name in argv if argv is not None else sys.argv[1:]:
        one, block, size = measure(name)
        print(f"{name}: {one:.2f} µs one at a time, {block:.2f} µs in blocks, state {size} B")
    return 0


if __name__ == "__main__":
    sys.exit(main())
