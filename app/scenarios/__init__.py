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

This package needs numpy and the standard library only; ``python -m app.scenarios`` (:func:`main`)
scores the scenarios through the engine's own step, :func:`incidents.scoring.score_batch`, as the
backtest does.
"""

from app.scenarios.cli import engine_alerts, main
from app.scenarios.judge import DETECT_WITHIN, GRACE, MAX_FALSE, QUIET_TAIL, Verdict, judge
from app.scenarios.series import DAY, DAYS, SCENARIOS, START, STEP, Scenario, scenario
from app.scenarios.table import format_table, run_scenarios

__all__ = [
    "DAY",
    "DAYS",
    "DETECT_WITHIN",
    "GRACE",
    "MAX_FALSE",
    "QUIET_TAIL",
    "SCENARIOS",
    "START",
    "STEP",
    "Scenario",
    "Verdict",
    "engine_alerts",
    "format_table",
    "judge",
    "main",
    "run_scenarios",
    "scenario",
]
