"""The scenario-variant sweep (bench/scenario_variants.py): every variant draws a series the
judge can score (windows after the first day, clear of the last 500 points) and the table says
what failed."""

from __future__ import annotations

import numpy as np
import pytest

from app.scenarios import DAY, QUIET_TAIL, STEP
from bench.scenario_variants import VARIANTS, format_rows, run


@pytest.mark.parametrize("name", list(VARIANTS))
def test_a_variant_is_a_minute_series_with_its_windows_after_the_first_day(name: str) -> None:
    made = VARIANTS[name](np.random.default_rng([3, 1]))
    ts = np.asarray(made.ts)
    assert len(ts) == len(made.values) and np.all(np.isfinite(made.values))
    assert set(np.diff(ts)) == {STEP} or made.name == "gap"
    for first, last in made.windows:
        assert ts[first] >= ts[0] + DAY * STEP and last < len(ts) - QUIET_TAIL


def test_the_table_counts_each_failing_criterion_and_names_the_seeds() -> None:
    names = ["shift N(100,5)->N(150,5)", "gap 1-8 h"]
    results = run(lambda s: [False] * len(s.ts), names, range(2))
    assert [[v.passed for v in vs] for vs in results.values()] == [[False, False], [True, True]]
    assert format_rows(results).splitlines()[2:] == [
        "| shift N(100,5)->N(150,5) | 0/2 | missed 2 (seeds 0 1) |",
        "| gap 1-8 h | 2/2 | - |",
        "| all | 2/4 | |",
    ]
