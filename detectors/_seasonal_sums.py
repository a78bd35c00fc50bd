"""The sums of a seasonal profile's open visit and day, and a point's interpolated offsets."""

from __future__ import annotations

import math

from detectors._cycle import Sides


def _zeros(rows: int, n_features: int) -> list[list[float]]:
    return [[0.0] * n_features for _ in range(rows)]


def _add(sums: list[list[float]], total: list[float], count: list[float]) -> None:
    values, counts = sums[0], sums[1]
    for f, (x, c) in enumerate(zip(total, count, strict=True)):
        values[f] += x
        counts[f] += c


def _means(sums: list[float], counts: list[float]) -> list[float | None]:
    return [s / c if c > 0 else None for s, c in zip(sums, counts, strict=True)]


def _interpolate(t: float, got: tuple[float, Sides] | None, n_features: int) -> list[float]:
    """The offsets of a point at ``t`` (the one-point path of the block's arithmetic)."""
    if got is None:
        return [0.0] * n_features
    width, sides = got
    u = t / width
    frac = u - math.floor(u) - 0.5
    w = abs(frac)
    out = []
    for la, lb, ra, rb in sides:
        a, b = (la, lb) if frac < 0 else (ra, rb)
        out.append(a + w * (b - a))
    return out
