"""Order statistics of repeated measurements: median, percentiles, and the spread of a series.

Pure functions, so the numbers in the table can be checked by hand.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0..100) of ``values``, linear between closest ranks.

    Same definition as ``numpy.percentile``'s default; an infinite value (a sample that never
    arrived) counts as larger than every finite one. NaN for an empty input.

    Examples
    --------
    >>> percentile([1, 2, 3, 4], 50)
    2.5
    >>> percentile([10, 20, 30, 40, 50], 99)
    49.6
    >>> percentile([5], 99)
    5.0
    >>> percentile([1.0, 2.0, float("inf")], 99)
    inf
    >>> percentile([], 50)
    nan
    """
    if not 0 <= q <= 100:
        raise ValueError(f"q must be within 0..100, got {q}")
    ordered = sorted(float(v) for v in values)
    if not ordered:
        return math.nan
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    fraction = rank - low
    if fraction == 0 or ordered[low] == ordered[high]:
        return ordered[low]
    if math.isinf(ordered[high]):
        return ordered[high]
    return ordered[low] + (ordered[high] - ordered[low]) * fraction


def median(values: Sequence[float]) -> float:
    """The median of ``values`` (the mean of the middle two for an even count).

    Examples
    --------
    >>> median([3, 1, 2])
    2.0
    >>> median([4, 1, 3, 2])
    2.5
    """
    return percentile(values, 50)


@dataclass(frozen=True)
class Summary:
    """The median of repeated measurements, and their range.

    Examples
    --------
    >>> s = Summary.of([100.0, 90.0, 120.0])
    >>> s.median, s.low, s.high, s.runs
    (100.0, 90.0, 120.0, 3)
    >>> round(s.spread_pct, 1)
    30.0
    """

    median: float
    low: float
    high: float
    runs: int

    @classmethod
    def of(cls, values: Sequence[float]) -> Summary:
        if not values:
            raise ValueError("no measurement to summarise")
        return cls(median(values), float(min(values)), float(max(values)), len(values))

    @property
    def spread_pct(self) -> float:
        """(max - min) / median, in percent: how much the runs disagree."""
        if self.median == 0 or not math.isfinite(self.median):
            return math.nan
        return 100.0 * (self.high - self.low) / abs(self.median)


def rate(count: float, seconds: float) -> float:
    """``count / seconds``, NaN when no time passed.

    Examples
    --------
    >>> rate(1000, 0.5)
    2000.0
    >>> rate(10, 0.0)
    nan
    """
    return count / seconds if seconds > 0 else math.nan
