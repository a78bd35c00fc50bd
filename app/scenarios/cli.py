"""``python -m app.scenarios``: the table of one configuration, scored through the engine's own
step as the backtest does (:func:`engine_alerts`, :func:`main`)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

from app.scenarios.series import SCENARIOS, Scenario
from app.scenarios.table import format_table, run_scenarios


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
