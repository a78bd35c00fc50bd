"""Exponentially weighted moving average detector.

Learned statistics match river.stats.EWMean and river.stats.EWVar with ``fading_factor=alpha``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar, Self

import numpy as np

from detectors._batch import ew_scan
from detectors._checks import require_finite, require_int, state_field, state_floats, state_ints
from detectors.base import Detector, DetectorError, floored, floored_array


class EWMA(Detector):
    """Per-feature score ``(x - ewmean) / sqrt(ewvar)``, using the statistics before ``x``.

    The first value of a feature sets ``mean = x, var = 0``; each later value updates, with
    ``d = x - mean``::

        mean <- mean + alpha * d
        var  <- (1 - alpha) * (var + alpha * d**2)

    This is the definition of river's ``EWMean`` / ``EWVar`` (where the variance is computed as
    ``EWMean(x**2) - EWMean(x)**2``), written in the incremental form of Finch (2009),
    "Incremental calculation of weighted mean and variance", section 9, which does not lose
    precision when the mean is large compared with the spread. A feature has a baseline from
    its 2nd value; the std is floored by :func:`detectors.base.spread_floor`.

    Parameters
    ----------
    n_features
        Number of features of each point.
    alpha
        Weight of the newest value, ``0 < alpha <= 1``; the closer to 1, the faster it adapts.

    Examples
    --------
    Same values as river's ``EWMean`` / ``EWVar`` doctests with ``fading_factor=0.5``:

    >>> det = EWMA(1, alpha=0.5)
    >>> for v in [1.0, 3.0, 5.0, 4.0]:
    ...     det.learn_one([v])
    >>> center, spread = det.baseline()[0]
    >>> center, round(spread**2, 12)
    (3.75, 1.4375)
    >>> det.to_state()
    {'n': 4, 'count': [4], 'mean': [3.75], 'var': [1.4375]}
    >>> round(det.score_one([6.0]), 6)
    1.87663
    """

    name: ClassVar[str] = "ewma"
    param_names: ClassVar[tuple[str, ...]] = ("alpha",)

    def __init__(self, n_features: int, alpha: float = 0.1) -> None:
        super().__init__(n_features)
        value = require_finite("alpha", alpha)
        if not 0.0 < value <= 1.0:
            raise DetectorError(f"alpha must be in (0, 1], got {alpha!r}")
        self.alpha = value
        self._count = [0] * n_features
        self._mean = [0.0] * n_features
        self._var = [0.0] * n_features

    def _feature_baseline(self, i: int) -> tuple[float, float] | None:
        if self._count[i] < 2:
            return None
        center = self._mean[i]
        return center, floored(center, math.sqrt(self._var[i]))

    def _learn_value(self, i: int, v: float) -> None:
        if self._count[i] == 0:
            self._mean[i] = v
            self._var[i] = 0.0
        else:
            diff = v - self._mean[i]
            increment = self.alpha * diff
            self._mean[i] += increment
            self._var[i] = (1.0 - self.alpha) * (self._var[i] + diff * increment)
        self._count[i] += 1

    def _scan(self, i: int, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Means and variances after each of the finite ``values`` (EW recursions as scans)."""
        alpha, keep = self.alpha, 1.0 - self.alpha
        mean0, var0 = self._mean[i], self._var[i]
        if self._count[i] == 0:
            mean0, var0 = float(values[0]), 0.0  # the first value sets the mean
        means = ew_scan(alpha * values, keep, mean0)
        before = np.concatenate(([mean0], means[:-1]))
        diff = values - before
        variances = ew_scan(keep * alpha * diff * diff, keep, var0)
        return means, variances

    def _block_feature(self, i: int, column: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        finite = np.isfinite(column)
        seen = np.cumsum(finite) - finite  # finite values before each row
        values = column[finite]
        means = np.array([self._mean[i]])
        variances = np.array([self._var[i]])
        if len(values):
            scanned_means, scanned_vars = self._scan(i, values)
            means = np.concatenate((means, scanned_means))
            variances = np.concatenate((variances, scanned_vars))
        centers = means[seen]
        spreads = floored_array(centers, np.sqrt(np.maximum(variances[seen], 0.0)))
        known = self._count[i] + seen >= 2
        return np.where(known, centers, np.nan), np.where(known, spreads, np.nan)

    def _learn_values(self, i: int, values: np.ndarray) -> None:
        means, variances = self._scan(i, values)
        self._mean[i] = float(means[-1])
        self._var[i] = float(variances[-1])
        self._count[i] += len(values)

    def to_state(self) -> dict[str, Any]:
        """Learned state: points learned and per-feature count, mean and variance."""
        return {
            "n": self._n_learned,
            "count": list(self._count),
            "mean": list(self._mean),
            "var": list(self._var),
        }

    @classmethod
    def from_state(
        cls, n_features: int, params: Mapping[str, Any], state: Mapping[str, Any]
    ) -> Self:
        """Rebuild from parameters and a :meth:`to_state` dict.

        Examples
        --------
        >>> det = EWMA.from_state(1, {"alpha": 0.5}, {"n": 2, "count": [2], "mean": [2.0],
        ...                                           "var": [1.0]})
        >>> det.baseline()
        [(2.0, 1.0)]
        """
        det = cls(n_features, **params)
        det._n_learned = require_int(f"{cls.name} state n", state_field(state, "n", cls.name), 0)
        det._count = state_ints(state, "count", cls.name, n_features)
        det._mean = state_floats(state, "mean", cls.name, n_features)
        det._var = state_floats(state, "var", cls.name, n_features)
        return det
