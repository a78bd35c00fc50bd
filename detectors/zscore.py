"""Z-score detector: static mean/std from the configuration, or learned online.

Learned statistics match river.stats.Mean and river.stats.Var(ddof=1) (Welford's algorithm).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Self

import numpy as np

from detectors._checks import (
    require_floats,
    require_int,
    require_positive,
    state_field,
    state_floats,
    state_ints,
)
from detectors.base import Detector, DetectorError, floored, floored_array

#: Points a learned baseline weighs as after a re-baseline.
REBASE_COUNT = 32


class ZScore(Detector):
    """Per-feature z-score ``(x - mean) / std``.

    Parameters
    ----------
    n_features
        Number of features of each point.
    mean, std
        Static per-feature mean and standard deviation. Give both (the detector then never
        changes its baseline; ``learn_one`` only counts points) or neither (mean and sample
        standard deviation, ``ddof=1``, are learned with Welford's algorithm; a feature has a
        baseline from its 2nd value). A learned std is floored by
        :func:`detectors.base.spread_floor`; a static std is used as given.

    Examples
    --------
    >>> det = ZScore(2, mean=[100, 5], std=[5, 1])
    >>> det.score_one([101.0, 5.0])
    0.2
    >>> det.score_one([120.0, 5.0])
    4.0
    >>> det.feature_scores([95.0, 7.0])
    [-1.0, 2.0]

    Learned online:

    >>> det = ZScore(1)
    >>> det.score_one([10.0])
    0.0
    >>> for v in [10.0, 12.0, 14.0]:
    ...     det.learn_one([v])
    >>> det.baseline()
    [(12.0, 2.0)]
    >>> det.score_one([18.0])
    3.0
    >>> det.to_state()
    {'n': 3, 'count': [3], 'mean': [12.0], 'm2': [8.0]}
    """

    name: ClassVar[str] = "zscore"
    param_names: ClassVar[tuple[str, ...]] = ("mean", "std")

    def __init__(
        self,
        n_features: int,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
    ) -> None:
        super().__init__(n_features)
        if (mean is None) != (std is None):
            missing = "std" if std is None else "mean"
            raise DetectorError(f"mean and std must be given together; {missing} is missing")
        self.mean = mean
        self.std = std
        self._static: list[tuple[float, float]] | None = None
        if mean is not None and std is not None:
            means = require_floats("mean", mean)
            stds = require_floats("std", std)
            if len(means) != len(stds):
                raise DetectorError(
                    f"mean and std must have the same length, got {len(means)} and {len(stds)}"
                )
            if len(means) != n_features:
                raise DetectorError(
                    f"mean and std must have n_features={n_features} values, got {len(means)}"
                )
            for i, s in enumerate(stds):
                require_positive(f"std[{i}]", s)
            self._static = list(zip(means, stds, strict=True))
        #: A static mean and std never move; a learned baseline is bounded by the model.
        self.learning = "bounded" if self._static is None else "fixed"
        self._count = [0] * n_features
        self._mean = [0.0] * n_features
        self._m2 = [0.0] * n_features

    @property
    def is_static(self) -> bool:
        """True when mean and std come from the parameters."""
        return self._static is not None

    def _feature_baseline(self, i: int) -> tuple[float, float] | None:
        if self._static is not None:
            return self._static[i]
        n = self._count[i]
        if n < 2:
            return None
        center = self._mean[i]
        return center, floored(center, math.sqrt(self._m2[i] / (n - 1)))

    def rebaseline(self, i: int, center: float, spread: float) -> None:
        """A learned baseline moves to ``(center, spread)`` and weighs as ``REBASE_COUNT``
        points (at most), so it keeps following the new level; a static one stays as given.

        Examples
        --------
        >>> det = ZScore(1)
        >>> for v in range(100):
        ...     det.learn_one([float(v % 3)])
        >>> det.rebaseline(0, 50.0, 2.0)
        >>> det.baseline(), det.to_state()["count"]
        ([(50.0, 2.0)], [32])
        """
        n = self._count[i]
        if self._static is not None or n < 2:
            return
        n = min(n, REBASE_COUNT)
        self._count[i] = n
        self._mean[i] = center
        self._m2[i] = spread * spread * (n - 1)

    def _learn_value(self, i: int, v: float) -> None:
        if self._static is not None:
            return
        self._count[i] += 1
        old = self._mean[i]
        # Same operation order as river.stats.Mean / Var.update.
        new = old + (1.0 / self._count[i]) * (v - old)
        self._mean[i] = new
        self._m2[i] += (v - old) * (v - new)

    def _block_feature(self, i: int, column: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self._static is not None:
            mean, std = self._static[i]
            return np.full(len(column), mean), np.full(len(column), std)
        count, ref, s1, s2, m2_0 = self._prefix(i, column, exclusive=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            centers = ref + s1 / count
            variance = (m2_0 + s2 - s1 * s1 / count) / (count - 1)
        spreads = floored_array(centers, np.sqrt(np.maximum(variance, 0.0)))
        known = count >= 2
        return np.where(known, centers, np.nan), np.where(known, spreads, np.nan)

    def _prefix(
        self, i: int, column: np.ndarray, exclusive: bool
    ) -> tuple[np.ndarray, float, np.ndarray, np.ndarray, float]:
        """Counts, reference, and sums of (value - reference) and its square, over the learned
        values before (``exclusive``) or up to each row; plus the learned M2 about the
        reference. The reference is the learned mean (or the first value), for precision."""
        finite = np.isfinite(column)
        count0 = self._count[i]
        first = float(column[finite][0]) if finite.any() else 0.0
        ref = self._mean[i] if count0 else first
        d = np.where(finite, column - ref, 0.0)
        s1 = np.cumsum(d)
        s2 = np.cumsum(d * d)
        count = count0 + np.cumsum(finite)
        if exclusive:
            s1, s2, count = s1 - d, s2 - d * d, count - finite
        return count.astype(float), ref, s1, s2, self._m2[i]

    def _learn_values(self, i: int, values: np.ndarray) -> None:
        if self._static is not None:
            return
        count, ref, s1, s2, m2_0 = self._prefix(i, values, exclusive=False)
        n, total, squares = int(count[-1]), float(s1[-1]), float(s2[-1])
        self._count[i] = n
        self._mean[i] = ref + total / n
        self._m2[i] = m2_0 + squares - total * total / n

    def to_state(self) -> dict[str, Any]:
        """Learned state: ``n`` only when static, plus per-feature count, mean and M2 otherwise."""
        if self._static is not None:
            return {"n": self._n_learned}
        return {
            "n": self._n_learned,
            "count": list(self._count),
            "mean": list(self._mean),
            "m2": list(self._m2),
        }

    @classmethod
    def from_state(
        cls, n_features: int, params: Mapping[str, Any], state: Mapping[str, Any]
    ) -> Self:
        """Rebuild from parameters and a :meth:`to_state` dict.

        Examples
        --------
        >>> det = ZScore(1)
        >>> for v in [1.0, 2.0, 4.0]:
        ...     det.learn_one([v])
        >>> copy = ZScore.from_state(1, {}, det.to_state())
        >>> copy.score_one([10.0]) == det.score_one([10.0])
        True
        """
        det = cls(n_features, **params)
        det._n_learned = require_int(f"{cls.name} state n", state_field(state, "n", cls.name), 0)
        if det._static is None:
            det._count = state_ints(state, "count", cls.name, n_features)
            det._mean = state_floats(state, "mean", cls.name, n_features)
            det._m2 = state_floats(state, "m2", cls.name, n_features)
        return det
