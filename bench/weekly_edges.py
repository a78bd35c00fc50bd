"""Where the weekly variants of :mod:`bench.scenario_variants` alert after their first week.

``python -m bench.weekly_edges [--config FILE] [--seeds 20]``: per weekly variant (minute points,
21 days from a Monday, weekends lower, a 10-sigma spike after the first week), over its seeds:
whether the spike alerted within 5 points, the alert points within 3 hours of the later weekends'
edges (days 12, 14, 19 and 21 at 0:00) and in how many seeds, the other alert points after day
7.5, and the median of alert points in days 1 to 7.5 (the first weekend, which no profile can
know). The judge counts all of them from day 1; this says which. Figures in docs/QUALITY.md.
"""

from __future__ import annotations

import argparse
import statistics
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from bench.scenario_variants import VARIANTS

DAY = 1440  # minute points
EDGES = (12, 14, 19, 21)
NAMES = ("weekly, weekend -5 sigma, 21 days", "weekly, weekend -20 sigma, 21 days")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.weekly_edges", description=__doc__)
    parser.add_argument("--config", type=Path, help="configuration JSON (default: recommended)")
    parser.add_argument("--seeds", type=int, default=20)
    args = parser.parse_args(argv)
    from app.backtest.inputs import config_from, read_config
    from app.scenarios import engine_alerts

    data = {"model_id": "m"} if args.config is None else read_config(args.config)
    score = engine_alerts(config_from(data, args.config))
    for name in NAMES:
        caught = seeds_at_edges = at_edges = other = 0
        first = []
        for seed in range(args.seeds):
            made = VARIANTS[name](np.random.default_rng([seed, zlib.crc32(name.encode())]))
            alerts = np.array(score(made))
            at = made.windows[0][0]
            caught += bool(alerts[at : at + 6].any())
            alerts[at : at + 6] = False
            near = np.zeros(len(alerts), dtype=bool)
            for edge in EDGES:
                near[edge * DAY - 180 : edge * DAY + 180] = True
            late = np.arange(len(alerts)) >= int(7.5 * DAY)
            edge_points = int((alerts & near & late).sum())
            at_edges += edge_points
            seeds_at_edges += edge_points > 0
            other += int((alerts & ~near & late).sum())
            first.append(int(alerts[DAY : int(7.5 * DAY)].sum()))
        print(
            f"{name}: spike alerted {caught}/{args.seeds}; later weekend edges {at_edges} alert "
            f"points ({seeds_at_edges} seeds); other alert points after day 7.5: {other}; "
            f"days 1-7.5 median {statistics.median(first):g}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
