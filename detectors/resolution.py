"""The smallest spread a learned baseline may use: the data's own resolution.

A series of integer counts that is mostly 0 has a median absolute deviation of 0, and a series
that sits still for a while has a standard deviation near 0; scored against such a spread, the
next 1 is a billion sigmas away. The floor is the larger of

- the data's **granularity**: the smallest non-zero step between two learned values (1 for
  counts, 0.5 for a gauge reported in halves), so a change by one unit of the data is never
  more than about one sigma; and
- a fraction (``range_fraction``, 1 % by default) of the **range** of the learned values since
  the last re-baseline, as the resolution of HTM's scalar encoder is a fraction of the range
  (Ahmad et al. 2017, "Unsupervised real-time anomaly detection for streaming data").

Examples
--------
>>> res = ResolutionFloor(1)
>>> res.learn(np.array([[0.0], [0.0], [1.0], [0.0], [3.0]]))
>>> res.floors().tolist()   # steps of 1; 1 % of the range 0..3 is smaller
[1.0]
>>> res.to_state()
{'step': [1.0], 'lo': [0.0], 'hi': [3.0], 'last': [3.0]}
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from detectors._checks import finite_or_none, require_finite
from detectors.base import DetectorError

_INF = math.inf


class ResolutionFloor:
    """Per feature: granularity and range of the learned values, and the floor they give.

    Parameters
    ----------
    n_features
        Number of features.
    range_fraction
        Share of the learned range the floor is at least, in ``[0, 1)``.

    Examples
    --------
    >>> res = ResolutionFloor(2, range_fraction=0.1)
    >>> res.floors().tolist()   # nothing learned yet: no floor
    [0.0, 0.0]
    >>> rows = np.array([[10.0, 0.25], [10.0, np.nan], [10.5, 0.75], [20.0, 0.5]])
    >>> res.block_floors(rows).tolist()   # the floor before each row, learned in order
    [[0.0, 0.0], [0.0, 0.0], [0.0, 0.0], [0.5, 0.5]]
    >>> res.learn(rows)
    >>> res.floors().tolist()
    [1.0, 0.25]
    """

    def __init__(self, n_features: int, range_fraction: float = 0.01) -> None:
        fraction = require_finite("range_fraction", range_fraction)
        if not 0.0 <= fraction < 1.0:
            raise DetectorError(f"range_fraction must be in [0, 1), got {range_fraction!r}")
        self.n_features = n_features
        self.range_fraction = fraction
        self._step = [_INF] * n_features
        self._lo = [_INF] * n_features
        self._hi = [-_INF] * n_features
        self._last = [math.nan] * n_features

    def floor(self, i: int) -> float:
        """The floor of feature ``i`` (0.0 before two values were learned)."""
        step = self._step[i]
        spread = self._hi[i] - self._lo[i]
        by_range = self.range_fraction * spread if spread > 0 else 0.0
        return max(step if step < _INF else 0.0, by_range)

    def floors(self) -> np.ndarray:
        """:meth:`floor` of every feature."""
        return np.array([self.floor(i) for i in range(self.n_features)])

    def learn_value(self, i: int, v: float, learned: float | None = None) -> None:
        """Learn the finite value ``v`` of feature ``i``; ``learned``, if given, is what the
        model learned of it (a flagged value winsorised): the range takes that, the
        granularity the value as it came."""
        last = self._last[i]
        if last == last:  # not NaN
            step = abs(v - last)
            if 0.0 < step < self._step[i]:
                self._step[i] = step
        self._last[i] = v
        if learned is not None:
            v = learned
        if v < self._lo[i]:
            self._lo[i] = v
        if v > self._hi[i]:
            self._hi[i] = v

    def learn(self, rows: np.ndarray) -> None:
        """Learn ``rows`` in order (NaN skipped), as :meth:`learn_value` on each."""
        for i in range(self.n_features):
            column = rows[:, i]
            values = column[np.isfinite(column)]
            if not len(values):
                continue
            steps, lo, hi = self._scan(i, values)
            self._step[i] = float(steps[-1])
            self._lo[i] = float(lo[-1])
            self._hi[i] = float(hi[-1])
            self._last[i] = float(values[-1])

    def _scan(self, i: int, values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Smallest step, low and high after each of the finite ``values``."""
        previous = np.concatenate(([self._last[i]], values[:-1]))
        with np.errstate(invalid="ignore"):
            steps = np.abs(values - previous)
            steps = np.where((steps > 0) & np.isfinite(steps), steps, _INF)
        steps = np.minimum.accumulate(np.concatenate(([self._step[i]], steps)))[1:]
        lo = np.minimum.accumulate(np.concatenate(([self._lo[i]], values)))[1:]
        hi = np.maximum.accumulate(np.concatenate(([self._hi[i]], values)))[1:]
        return steps, lo, hi

    def block_floors(self, rows: np.ndarray) -> np.ndarray:
        """The floor before each row of ``rows``, given that they are learned in order (the same
        as :meth:`floors` then :meth:`learn_value` row by row); nothing is learned."""
        out = np.empty(rows.shape)
        for i in range(self.n_features):
            column = rows[:, i]
            finite = np.isfinite(column)
            seen = np.cumsum(finite) - finite  # finite values before each row
            steps = np.array([self._step[i]])
            lo, hi = np.array([self._lo[i]]), np.array([self._hi[i]])
            values = column[finite]
            if len(values):
                s, low, high = self._scan(i, values)
                steps, lo, hi = (
                    np.concatenate((steps, s)),
                    np.concatenate((lo, low)),
                    np.concatenate((hi, high)),
                )
            steps, spread = steps[seen], hi[seen] - lo[seen]
            with np.errstate(invalid="ignore"):
                by_range = np.where(spread > 0, self.range_fraction * spread, 0.0)
            out[:, i] = np.maximum(np.where(steps < _INF, steps, 0.0), by_range)
        return out

    def reset_range(self, i: int, lo: float, hi: float) -> None:
        """Start the range of feature ``i`` afresh at ``[lo, hi]`` (after a re-baseline)."""
        self._lo[i], self._hi[i] = lo, hi

    def to_state(self) -> dict[str, Any]:
        """Per feature: smallest step, low, high and the last value (None where unknown)."""
        return {
            "step": [finite_or_none(v) for v in self._step],
            "lo": [finite_or_none(v) for v in self._lo],
            "hi": [finite_or_none(v) for v in self._hi],
            "last": [finite_or_none(v) for v in self._last],
        }

    @classmethod
    def from_state(
        cls, n_features: int, state: Mapping[str, Any] | None, range_fraction: float = 0.01
    ) -> ResolutionFloor:
        """Rebuild from :meth:`to_state` (None: fresh).

        Examples
        --------
        >>> res = ResolutionFloor(1)
        >>> res.learn(np.array([[1.0], [1.5]]))
        >>> ResolutionFloor.from_state(1, res.to_state()).to_state() == res.to_state()
        True
        """
        res = cls(n_features, range_fraction)
        if state:
            res._step = _floats(state, "step", n_features, _INF)
            res._lo = _floats(state, "lo", n_features, _INF)
            res._hi = _floats(state, "hi", n_features, -_INF)
            res._last = _floats(state, "last", n_features, math.nan)
        return res


def _floats(state: Mapping[str, Any], key: str, n_features: int, missing: float) -> list[float]:
    """``state[key]``: ``n_features`` numbers, None standing for ``missing``."""
    values = state.get(key)
    if not isinstance(values, list) or len(values) != n_features:
        raise DetectorError(f"floor state {key} must be a list of {n_features} numbers or null")
    return [missing if v is None else require_finite(f"floor state {key}", v) for v in values]
