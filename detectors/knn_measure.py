"""The knn detector's history of a feature and the surprise of a new value against it: the
nonconformity at each scale and its calibrated tail probability (see :mod:`detectors.knn`)."""

from __future__ import annotations

import bisect
import math
from collections import deque
from collections.abc import Sequence

import numpy as np

from detectors._gpd import SHAPE_EPS, gpd_log_survival

#: Calibration values are kept rounded to this many significant digits (in memory too), so the
#: stored state is small and a restored detector scores exactly like the original.
_DIGITS = 6
#: Calibration values needed before a scale gives a surprise (it scores 0 until then).
MIN_CALIBRATION = 100
#: The exponential tail's scale is at least this fraction of its threshold ``u``: on a clean
#: series whose nonconformities all sit at the resolution floor, twice the floor is 10 nats.
BETA_FLOOR = 0.1
#: A scale's surprise is capped (nats); p-values below e^-1000 mean nothing more.
MAX_SURPRISE = 1000.0


def _rounded(value: float) -> float:
    return float(f"{value:.{_DIGITS}g}")


class _Feature:
    """The history of one feature: values, per-scale calibration, refractory bookkeeping."""

    def __init__(self, window: int, dims: Sequence[int], calibration: int, memory: int):
        self.values: deque[float] = deque(maxlen=window)
        self.calib: list[deque[float]] = [deque(maxlen=calibration) for _ in dims]
        self.sorted: list[list[float]] = [[] for _ in dims]
        self.recent: deque[float] = deque(maxlen=max(memory, 1))
        self.since_alarm = -1  # learned points since the last alarm; -1: no alarm yet
        self.learned = 0  # values learned so far (the index of the next one)
        self.marks: deque[int] = deque()  # indices of alarm points: never a neighbour
        self.baseline: tuple[float, float] | None = None

    def add_calibration(self, k: int, value: float, limit: int) -> None:
        calib, ordered = self.calib[k], self.sorted[k]
        if len(calib) == limit:
            old = calib[0]
            del ordered[bisect.bisect_left(ordered, old)]
        calib.append(value)
        bisect.insort(ordered, value)


class SurpriseMeasure:
    """How :class:`detectors.knn.KNNSurprise` measures a value: nonconformities, then surprise."""

    _features: list[_Feature]
    dims: list[int]
    neighbors: int
    calibration: int
    tail: int
    resolution: float
    max_shape: float

    def _nonconformity(self, i: int, v: float) -> list[float] | None:
        """Per scale, the nonconformity of ``v`` after feature ``i``'s history (None: too short)."""
        feature = self._features[i]
        n = len(feature.values)
        if n < 2 * max(self.dims) + self.neighbors:
            return None
        history = np.fromiter(feature.values, dtype=float, count=n)
        floor = self.resolution * float(history.max() - history.min())
        series = np.append(history, v)
        first = feature.learned - n  # index of history[0]
        marked = [m - first for m in feature.marks if m >= first]
        counts = None
        if marked:
            flags = np.zeros(n + 1)
            flags[marked] = 1.0
            counts = np.concatenate(([0.0], np.cumsum(flags)))
        result = []
        for dim in self.dims:
            query = series[-dim:]
            # Windows ending at or before n - dim do not overlap the query's last dim values.
            windows = np.lib.stride_tricks.sliding_window_view(series[: n - dim + 1], dim)
            dist = np.sqrt(((windows - query) ** 2).sum(axis=1))
            if counts is not None:
                # A window holding an alarm point is no neighbour, so a repeat still surprises.
                rows = len(windows)
                holds = counts[dim : dim + rows] - counts[:rows] > 0
                if not holds.all():
                    dist[holds] = np.inf
            k = self.neighbors
            nearest = float(np.partition(dist, k - 1)[:k].mean()) if k > 1 else float(dist.min())
            result.append(nearest / math.sqrt(dim) + floor)
        return result

    def _surprise_of(self, i: int, ncm: Sequence[float]) -> float:
        """Mean over the calibrated scales of ``-ln p``; 0.0 until a scale is calibrated."""
        feature = self._features[i]
        total, used = 0.0, 0
        for k, a in enumerate(ncm):
            ordered = feature.sorted[k]
            m = len(ordered)
            if m < MIN_CALIBRATION:
                continue
            top = max(3, self.tail * m // self.calibration)
            u = ordered[-top]
            if a > u:
                total += min(
                    math.log((m + 1) / top) + self._tail(ordered[-top:], u, a), MAX_SURPRISE
                )
            else:
                count = m - bisect.bisect_left(ordered, a)
                total += math.log((m + 1) / (count + 1))
            used += 1
        return total / used if used else 0.0

    def _tail(self, top: Sequence[float], u: float, a: float) -> float:
        """``-ln P(A > a | A > u)`` under a generalised Pareto tail fitted to ``top - u``."""
        n = len(top)
        mean = sum(top) / n - u
        var = sum((t - u - mean) ** 2 for t in top) / (n - 1)
        shape = 0.0
        if var > 0 and self.max_shape > 0:
            shape = min(max(0.5 * (1 - mean * mean / var), 0.0), self.max_shape)
        if shape > SHAPE_EPS:
            scale = max(0.5 * mean * (1 + mean * mean / var), BETA_FLOOR * u, 1e-300)
            return gpd_log_survival(a - u, shape, scale)
        return gpd_log_survival(a - u, 0.0, max(mean, BETA_FLOOR * u, 1e-300))
