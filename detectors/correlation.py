"""Rolling correlation between the features of a model.

:class:`RollingCorrelation` keeps exponentially weighted Pearson correlations between every pair
of a model's features, in bounded, JSON-serialisable state; its moments are
:class:`~detectors.ew_moments.EWMoments`. Correlation between signals of one entity that arrive
at different times from different streams is :mod:`detectors.signal_correlation`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Self

import numpy as np

from detectors._checks import require_int, require_number, require_unit, state_field
from detectors.base import DetectorError
from detectors.ew_moments import EWMoments, finite_or_nan, half_life_decay

MAX_FEATURES = 32
"""Largest ``n_features`` of :class:`RollingCorrelation` (496 pairs)."""


class RollingCorrelation:
    """Exponentially weighted Pearson correlation between every pair of a model's features.

    Each pair keeps its own EW moments over the points where both of its features are finite: a
    NaN or infinite feature is a gap, and the pairs that include it skip that point (the weights
    of a pair fade per point the pair sees, ``2 ** (-1 / half_life)`` each). The state holds
    ``n_features * (n_features - 1) / 2`` pairs of 7 numbers, about 75 bytes of JSON per pair:
    0.45 KB for 4 features, 2.1 KB for 8 and 9 KB for 16. Up to 16 features is the intended
    use; more than 32 is refused.

    Parameters
    ----------
    n_features
        Number of features of each point, 1 to 32.
    half_life
        Points after which a point's weight halves; ``math.inf`` for the plain correlation.
    min_points
        Joint points a pair needs before :meth:`corr` reports it, at least 2.

    Examples
    --------
    >>> rc = RollingCorrelation(3, half_life=math.inf, min_points=3)
    >>> for x in [[1.0, 2.0, 5.0], [2.0, 4.1, 3.0], [3.0, 5.9, 4.0], [4.0, float("nan"), 1.0]]:
    ...     rc.update(x)
    >>> round(rc.corr(0, 1), 4), round(rc.corr(0, 2), 4)  # (0, 1) skipped the 4th point
    (0.999, -0.8315)
    >>> [(j, round(r, 4)) for j, r in rc.partners(2)]
    [(0, -0.8315)]
    >>> RollingCorrelation(3, min_points=10).corr(0, 1) is None
    True
    """

    def __init__(self, n_features: int, half_life: object = 64.0, min_points: int = 10) -> None:
        self.n_features = require_int("n_features", n_features, 1)
        if n_features > MAX_FEATURES:
            raise DetectorError(
                f"n_features must be at most {MAX_FEATURES} for correlation, got {n_features}"
            )
        self._decay = half_life_decay(half_life)
        self.half_life = require_number("half_life", half_life)
        self.min_points = require_int("min_points", min_points, 2)
        n_pairs = n_features * (n_features - 1) // 2
        self._pairs = [EWMoments() for _ in range(n_pairs)]

    def _check_feature(self, name: str, k: int) -> None:
        if isinstance(k, bool) or not isinstance(k, int) or not 0 <= k < self.n_features:
            raise DetectorError(
                f"{name} must be a feature index from 0 to {self.n_features - 1}, got {k!r}"
            )

    def _pair(self, i: int, j: int) -> EWMoments:
        self._check_feature("i", i)
        self._check_feature("j", j)
        if i == j:
            raise DetectorError(f"i and j must be different features, got {i} twice")
        a, b = (i, j) if i < j else (j, i)
        return self._pairs[a * (2 * self.n_features - a - 1) // 2 + (b - a - 1)]

    def update(self, x: Sequence[object]) -> None:
        """Learn one point; each pair with a NaN or infinite feature skips it."""
        if type(x) is not list and (isinstance(x, str | bytes) or not isinstance(x, Sequence)):
            raise DetectorError(f"x must be a list of {self.n_features} numbers, got {x!r}")
        if len(x) != self.n_features:
            raise DetectorError(f"x must have {self.n_features} values (n_features), got {len(x)}")
        values = [  # a float as finite_or_nan gives it, without naming it first
            (v if math.isfinite(v) else math.nan)
            if type(v) is float
            else finite_or_nan(f"x[{i}]", v)
            for i, v in enumerate(x)
        ]
        k = 0
        for i, vi in enumerate(values):
            for vj in values[i + 1 :]:
                if not (math.isnan(vi) or math.isnan(vj)):
                    self._pairs[k].update(vi, vj, self._decay)
                k += 1

    def update_many(self, rows: np.ndarray) -> None:
        """:meth:`update` on each row of a float array, in order.

        Examples
        --------
        >>> rows = np.array([[1.0, 2.0, 5.0], [2.0, np.inf, 3.0], [3.0, 5.9, 4.0], [4.0, 8.0, 1.0]])
        >>> one, many = RollingCorrelation(3), RollingCorrelation(3)
        >>> for row in rows.tolist():
        ...     one.update(row)
        >>> many.update_many(rows)
        >>> one.to_state() == many.to_state()
        True
        """
        if rows.ndim != 2 or rows.shape[1] != self.n_features:
            raise DetectorError(f"rows must have {self.n_features} values each, got {rows.shape}")
        finite = np.isfinite(rows)
        k = 0
        for i in range(self.n_features):
            for j in range(i + 1, self.n_features):
                both = finite[:, i] & finite[:, j]
                self._pairs[k].update_many(
                    rows[both, i].tolist(), rows[both, j].tolist(), self._decay
                )
                k += 1

    def corr(self, i: int, j: int) -> float | None:
        """EW Pearson r of features ``i`` and ``j``.

        None until the pair has ``min_points`` joint points, or while either feature has been
        constant over them.
        """
        pair = self._pair(i, j)
        if pair.n < self.min_points:
            return None
        return pair.corr()

    def partners(self, i: int, min_abs: float = 0.6) -> list[tuple[int, float]]:
        """Features whose ``|corr(i, j)| >= min_abs``, as ``(j, r)`` by decreasing ``|r|``."""
        self._check_feature("i", i)
        threshold = require_unit("min_abs", min_abs)
        found = []
        for j in range(self.n_features):
            if j != i:
                r = self.corr(i, j)
                if r is not None and abs(r) >= threshold:
                    found.append((j, r))
        return sorted(found, key=lambda item: (-abs(item[1]), item[0]))

    def to_state(self) -> dict[str, Any]:
        """Per pair (0, 1), (0, 2), ... ``[n, f]``, ``f`` packing ``weight, mean_i, mean_j,
        sii, sjj, sij`` (see :meth:`EWMoments.to_packed`).

        Examples
        --------
        >>> from detectors._packed import unpack_floats
        >>> rc = RollingCorrelation(2, half_life=math.inf)
        >>> rc.update([1.0, 2.0])
        >>> rc.update([3.0, 0.0])
        >>> [[n, unpack_floats("f", f, 6)] for n, f in rc.to_state()["pairs"]]
        [[2, [2.0, 2.0, 1.0, 2.0, 2.0, -2.0]]]
        """
        return {"pairs": [pair.to_packed() for pair in self._pairs]}

    @classmethod
    def from_state(cls, state: Mapping[str, Any], **params: Any) -> Self:
        """Rebuild from a :meth:`to_state` dict (or one of earlier versions, with each pair
        unpacked: ``[n, weight, mean_i, mean_j, sii, sjj, sij]``) and the constructor parameters.

        Examples
        --------
        >>> state = {"pairs": [[3, 3.0, 2.0, 4.0, 2.0, 8.0, 4.0]]}
        >>> RollingCorrelation.from_state(state, n_features=2, min_points=3).corr(0, 1)
        1.0
        """
        corr = cls(**params)
        pairs = state_field(state, "pairs", "correlation")
        if not isinstance(pairs, list) or len(pairs) != len(corr._pairs):
            got = len(pairs) if isinstance(pairs, list) else repr(pairs)
            raise DetectorError(
                f"correlation state pairs must have {len(corr._pairs)} values, got {got}"
            )
        corr._pairs = [
            EWMoments.from_list(f"correlation state pairs[{k}]", pair)
            for k, pair in enumerate(pairs)
        ]
        return corr
