"""Exponentially weighted moving average detector.

The mean matches river.stats.EWMean with ``fading_factor=alpha``; the variance is river's EWVar
recursion with its own, slower fading factor, corrected to be unbiased for the prediction error.
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
    """Per-feature score ``(x - ewmean) / spread``, using the statistics before ``x``.

    The first value of a feature sets ``mean = x, var = 0``; each later value updates, with
    ``d = x - mean`` (the prediction error, before the update)::

        mean <- mean + alpha * d
        var  <- (1 - beta) * (var + beta * d**2)        beta = var_alpha

    This is the recursion of river's ``EWMean`` / ``EWVar`` in the incremental form of Finch
    (2009), "Incremental calculation of weighted mean and variance", section 9. ``var`` is then
    biased low as an estimate of the variance of ``d``: in steady state
    ``E[var] = (1 - beta) * E[d**2]``, and after ``k`` updates from 0 it has reached only
    ``1 - (1 - beta)**k`` of that. The spread divides both out::

        spread = sqrt(var / ((1 - beta) * (1 - (1 - beta)**(count - 1))))

    so ``d / spread`` has unit variance (with ``beta = alpha``, river's variance makes the score's
    variance ``1 / (1 - alpha)``: 1.43 at 0.3, flagging ~1 % of normal points at 3 sigma instead
    of 0.27 %). The variance fades slower than the mean by default (``beta = min(alpha,
    0.02)``): a variance estimated from few points gives the score heavy tails (Student's t with
    about ``2 / beta`` degrees of freedom). With ``beta = 1`` the variance is always 0 (the
    spread is then the floor). A feature has a baseline from its 2nd value; the spread is
    floored by :func:`detectors.base.spread_floor`.

    Parameters
    ----------
    n_features
        Number of features of each point.
    alpha
        Weight of the newest value in the mean, ``0 < alpha <= 1``; the closer to 1, the faster
        it adapts.
    var_alpha
        Weight of the newest squared error in the variance, ``0 < var_alpha <= 1``; default
        ``min(alpha, 0.02)``.

    Examples
    --------
    The mean is river's ``EWMean`` with ``fading_factor=0.5`` (its doctest gives 3.75); the
    variance with ``var_alpha=0.5`` is river's ``EWVar`` (1.4375), unbiased:

    >>> det = EWMA(1, alpha=0.5, var_alpha=0.5)
    >>> for v in [1.0, 3.0, 5.0, 4.0]:
    ...     det.learn_one([v])
    >>> det.to_state()
    {'n': 4, 'count': [4], 'mean': [3.75], 'var': [1.4375]}
    >>> center, spread = det.baseline()[0]
    >>> center, round(spread**2, 6)   # 1.4375 / (0.5 * (1 - 0.5**3))
    (3.75, 3.285714)
    >>> round(det.score_one([6.0]), 6)
    1.241274
    """

    name: ClassVar[str] = "ewma"
    param_names: ClassVar[tuple[str, ...]] = ("alpha", "var_alpha")
    learning = "bounded"

    def __init__(self, n_features: int, alpha: float = 0.1, var_alpha: float | None = None) -> None:
        super().__init__(n_features)
        value = require_finite("alpha", alpha)
        if not 0.0 < value <= 1.0:
            raise DetectorError(f"alpha must be in (0, 1], got {alpha!r}")
        self.alpha = value
        if var_alpha is None:
            beta = min(value, 0.02)
        else:
            beta = require_finite("var_alpha", var_alpha)
            if not 0.0 < beta <= 1.0:
                raise DetectorError(f"var_alpha must be in (0, 1], got {var_alpha!r}")
        self.var_alpha = var_alpha
        self._beta = beta
        self._count = [0] * n_features
        self._mean = [0.0] * n_features
        self._var = [0.0] * n_features

    def _unbias(self, count: int) -> float:
        """What ``var`` is expected to be as a share of the prediction error's variance after
        ``count`` values (0 when it cannot tell: ``beta = 1`` or fewer than 2 values)."""
        keep = 1.0 - self._beta
        return keep * (1.0 - keep ** (count - 1)) if count >= 2 else 0.0

    def _feature_baseline(self, i: int) -> tuple[float, float] | None:
        count = self._count[i]
        if count < 2:
            return None
        center = self._mean[i]
        share = self._unbias(count)
        variance = self._var[i] / share if share > 0 else 0.0
        return center, floored(center, math.sqrt(variance))

    def rebaseline(self, i: int, center: float, spread: float) -> None:
        """Mean to ``center``, variance to what gives ``spread``.

        Examples
        --------
        >>> det = EWMA(1, alpha=0.2)
        >>> for v in [1.0, 2.0, 1.0, 2.0]:
        ...     det.learn_one([v])
        >>> det.rebaseline(0, 50.0, 3.0)
        >>> [(c, round(s, 12)) for c, s in det.baseline()]
        [(50.0, 3.0)]
        """
        count = self._count[i]
        if count < 2:
            return
        self._mean[i] = center
        self._var[i] = spread * spread * self._unbias(count)

    def _learn_value(self, i: int, v: float) -> None:
        if self._count[i] == 0:
            self._mean[i] = v
            self._var[i] = 0.0
        else:
            diff = v - self._mean[i]
            self._mean[i] += self.alpha * diff
            self._var[i] = (1.0 - self._beta) * (self._var[i] + self._beta * diff * diff)
        self._count[i] += 1

    def _scan(self, i: int, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Means and variances after each of the finite ``values`` (EW recursions as scans)."""
        alpha, keep = self.alpha, 1.0 - self.alpha
        beta = self._beta
        mean0, var0 = self._mean[i], self._var[i]
        if self._count[i] == 0:
            mean0, var0 = float(values[0]), 0.0  # the first value sets the mean
        means = ew_scan(alpha * values, keep, mean0)
        before = np.concatenate(([mean0], means[:-1]))
        diff = values - before
        variances = ew_scan((1.0 - beta) * beta * diff * diff, 1.0 - beta, var0)
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
        counts = self._count[i] + seen
        keep = 1.0 - self._beta
        share = keep * (1.0 - keep ** (np.maximum(counts, 2) - 1))
        with np.errstate(divide="ignore", invalid="ignore"):
            variance = np.where(share > 0, np.maximum(variances[seen], 0.0) / share, 0.0)
        spreads = floored_array(centers, np.sqrt(variance))
        known = counts >= 2
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
        >>> det = EWMA.from_state(1, {"alpha": 0.5, "var_alpha": 0.5},
        ...                       {"n": 2, "count": [2], "mean": [2.0], "var": [0.25]})
        >>> det.baseline()
        [(2.0, 1.0)]
        """
        det = cls(n_features, **params)
        det._n_learned = require_int(f"{cls.name} state n", state_field(state, "n", cls.name), 0)
        det._count = state_ints(state, "count", cls.name, n_features)
        det._mean = state_floats(state, "mean", cls.name, n_features)
        det._var = state_floats(state, "var", cls.name, n_features)
        return det
