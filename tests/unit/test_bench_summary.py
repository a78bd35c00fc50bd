"""The bench's order statistics agree with numpy and treat missing samples as infinitely late."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from bench.summary import Summary, median, percentile, rate


@pytest.mark.parametrize("q", [0, 1, 25, 50, 90, 99, 100])
@pytest.mark.parametrize("n", [1, 2, 7, 100, 1001])
def test_percentile_matches_numpy(q: float, n: int) -> None:
    rng = random.Random(n * 1000 + int(q))
    values = [rng.gauss(50, 20) for _ in range(n)]
    assert percentile(values, q) == pytest.approx(float(np.percentile(values, q)))


def test_percentile_ignores_input_order() -> None:
    values = [5.0, 1.0, 4.0, 2.0, 3.0]
    assert percentile(values, 50) == 3.0
    assert percentile(list(reversed(values)), 75) == percentile(sorted(values), 75) == 4.0


def test_a_missing_sample_makes_the_tail_infinite_but_not_the_median() -> None:
    latencies = [10.0] * 98 + [20.0, math.inf]
    assert percentile(latencies, 50) == 10.0
    assert math.isinf(percentile(latencies, 99.5))
    assert percentile(latencies, 98) == pytest.approx(10.0 + 0.02 * 10)


def test_percentile_bounds() -> None:
    with pytest.raises(ValueError):
        percentile([1.0], 101)
    assert math.isnan(percentile([], 50))


def test_median_of_even_and_odd_counts() -> None:
    assert median([1, 3]) == 2.0
    assert median([7]) == 7.0


def test_summary_median_and_range() -> None:
    summary = Summary.of([3.0, 1.0, 2.0, 10.0])
    assert (summary.median, summary.low, summary.high, summary.runs) == (2.5, 1.0, 10.0, 4)
    assert summary.spread_pct == pytest.approx(360.0)
    with pytest.raises(ValueError):
        Summary.of([])


def test_rate() -> None:
    assert rate(90, 2.0) == 45.0
    assert math.isnan(rate(1, 0))
