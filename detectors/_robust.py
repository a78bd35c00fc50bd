"""Median and scaled median absolute deviation (MAD) of a small list of floats.

The MAD is scaled by 1.4826 (about 1 / Phi^-1(3/4)) so that it estimates the standard deviation
of normally distributed data (Leys et al. 2013, "Detecting outliers: Do not use standard
deviation around the mean, use absolute deviation around the median").
"""

from __future__ import annotations

import math
from collections.abc import Iterable

MAD_SCALE = 1.4826


def _middle(ordered: list[float]) -> float:
    mid = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[mid]
    return (ordered[mid - 1] + ordered[mid]) / 2.0


def median(values: Iterable[float]) -> float:
    """Median of ``values``; the mean of the two middle values for an even count.

    Examples
    --------
    >>> median([3.0, 1.0, 2.0])
    2.0
    >>> median([4.0, 1.0, 2.0, 3.0])
    2.5
    """
    ordered = sorted(values)
    if not ordered:
        raise ValueError("median of an empty list is undefined")
    return _middle(ordered)


def median_and_scaled_mad(values: Iterable[float]) -> tuple[float, float]:
    """Return ``(median, 1.4826 * MAD)`` where MAD is the median of ``|v - median|``.

    The deviations are taken from the sorted values: ``center - v`` below the middle (equal to
    ``|v - center|``, as ``center`` is at least every value there) and ``v - center`` above,
    two rising runs that ``sorted`` merges at once (the adaptive threshold computes this once
    per 16 points).

    Examples
    --------
    >>> median_and_scaled_mad([1.0, 2.0, 3.0, 4.0, 100.0])
    (3.0, 1.4826)
    >>> median_and_scaled_mad([1.0, 1e308, 1.5e308, 1.7e308])
    (inf, inf)
    >>> median_and_scaled_mad([])
    Traceback (most recent call last):
    ...
    ValueError: median of an empty list is undefined
    """
    ordered = sorted(values)
    if not ordered:
        raise ValueError("median of an empty list is undefined")
    center = _middle(ordered)
    if not math.isfinite(center):  # two huge middle values overflowed: no order to rely on
        return center, MAD_SCALE * _middle(sorted([abs(v - center) for v in ordered]))
    return center, MAD_SCALE * _middle_deviation(ordered, center)


def _middle_deviation(ordered: list[float], center: float) -> float:
    """The median of ``|v - center|`` over ``ordered`` (sorted, ``center`` its finite median):
    ``center - v`` below the middle and ``v - center`` from it on are two rising runs, merged
    only as far as their middle (the same floats as sorting them all).

    Examples
    --------
    >>> _middle_deviation([1.0, 2.0, 3.0, 4.0, 100.0], 3.0), _middle_deviation([1.0, 5.0], 3.0)
    (1.0, 2.0)
    """
    n = len(ordered)
    mid = n // 2
    below, above = mid - 1, mid  # the next value of each run: ordered[below] down, [above] up
    low = center - ordered[below] if below >= 0 else 0.0  # the runs' next deviations
    high = ordered[above] - center
    previous = current = 0.0
    for _ in range(mid + 1):
        previous = current
        if below >= 0 and (above >= n or low <= high):
            current = low
            below -= 1
            if below >= 0:
                low = center - ordered[below]
        else:
            current = high
            above += 1
            if above < n:
                high = ordered[above] - center
    return current if n % 2 else (previous + current) / 2.0
