"""The budget threshold's tail: the truncated generalised Pareto fit, averaged over shapes,
and the threshold where the averaged tail meets the budget (see :mod:`detectors.budget`)."""

from __future__ import annotations

import math
from collections import deque

import numpy as np

from detectors._gpd import gpd_excess_quantile, gpd_log_survival

#: Shapes of the grid the tail is averaged over (from 0 to ``max_shape``).
SHAPE_POINTS = 7
#: Newton steps of the scale fit per shape, at most (from the mean excess; about 5 do).
FIT_STEPS = 20
#: The exponential tail (shape 0) is fitted as this shape: ``log1p`` keeps its digits, and the
#: result differs from the exponential's by about this much, relatively.
EXP_SHAPE = 1e-9
#: The budget is resolved when ``ln q`` moves by 1/50 (2 %): a steady rate resolves nothing.
Q_STEPS = 50
DAY = 86400.0


def truncated_profile(
    excess: np.ndarray, limits: np.ndarray, shapes: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """For each shape, the scale that maximises the log-likelihood of ``excess`` under a
    generalised Pareto tail, each excess right-truncated at its ``limits`` entry (0: not
    truncated), and that maximum: ``(loglik, scale)`` per shape.

    Newton's method on ``ln scale`` from the mean excess (the exponential's untruncated
    answer), with a step of at most 1 (a factor e).

    Examples
    --------
    Exponential excesses of scale 2, truncated at 3 (22 % of them are missing): the mean of
    what is left is 1.14, and the truncated fit finds the scale again.

    >>> rng = np.random.default_rng(0)
    >>> y = rng.exponential(2.0, 20000)
    >>> y = y[y <= 3.0]
    >>> loglik, scale = truncated_profile(y, np.full(len(y), 3.0), np.array([0.0]))
    >>> round(float(y.mean()), 2), round(float(scale[0]), 2)
    (1.14, 2.01)
    """
    y = excess[None, :]
    truncated = limits > 0
    lim = np.where(truncated, limits, 1.0)[None, :]
    g = np.maximum(shapes, EXP_SHAPE)[:, None]  # shape 0: the exponential, as the limit
    log_scale = np.full((len(shapes), 1), math.log(max(float(excess.mean()), 1e-300)))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        for _ in range(FIT_STEPS):
            scale = np.exp(log_scale)
            at_y = scale + g * y
            at_lim = scale + g * lim
            s = np.exp(np.log1p(g * lim / scale) / -g) * truncated  # S(limit); 0: not truncated
            ratio = lim / at_lim  # -d ln S(limit) / d ln scale
            odds = s / (1.0 - s)  # S / G
            d1 = ((1.0 + g) * y / at_y + odds * ratio).sum(axis=1, keepdims=True) - y.shape[1]
            d2 = (
                odds * (ratio * ratio / (1.0 - s) - lim * scale / at_lim**2)
                - (1.0 + g) * y * scale / at_y**2
            ).sum(axis=1, keepdims=True)
            step = np.clip(np.where(d2 < 0, -d1 / d2, np.sign(d1)), -1.0, 1.0)
            step = np.where(np.isfinite(step), step, 0.0)
            log_scale = log_scale + step
            if float(np.abs(step).max()) < 1e-12:
                break
        scale = np.exp(log_scale)
        log_g = -log_scale - (1.0 + 1.0 / g) * np.log1p(g * y / scale)
        log_s = -np.log1p(g * lim / scale) / g
        log_cdf = np.where(truncated, np.log(-np.expm1(log_s)), 0.0)
        loglik = (log_g - log_cdf).sum(axis=1)
    loglik = np.where(np.isfinite(loglik), loglik, -np.inf)
    result: tuple[np.ndarray, np.ndarray] = (loglik, scale[:, 0])
    return result


class TailFit:
    """The fit of :class:`detectors.budget.BudgetThreshold`'s tail and the threshold it gives."""

    alerts_per_day: float
    floor: float
    peaks_kept: int
    _shapes: np.ndarray
    _share: float
    _t: float | None
    _excess: deque[float]
    _limits: deque[float]
    _pending: int
    _gap: float
    _weights: list[float]
    _scales: list[float]
    _solved: float | None
    _value: float

    def _fit(self, pending: int = 0) -> None:
        """Fit the tail to the newest ``peaks`` excesses but the ``pending`` newest."""
        stop = len(self._excess) - pending
        start = max(0, stop - self.peaks_kept)
        excess = np.array(self._excess)[start:stop]
        limits = np.array(self._limits)[start:stop]
        self._pending = pending
        if not excess.size or excess.max() <= 0:  # no spread above t
            self._weights, self._scales = [], []
        else:
            loglik, scales = truncated_profile(excess, limits, self._shapes)
            if np.isfinite(loglik.max()):
                weights = np.exp(loglik - loglik.max())
                self._weights = (weights / weights.sum()).tolist()
                self._scales = scales.tolist()
            else:  # not expected: the exponential of the mean excess
                self._weights = [1.0] + [0.0] * (len(self._shapes) - 1)
                self._scales = [float(excess.mean())] * len(self._shapes)
        self._solved = None

    def _update(self) -> None:
        t = self._t
        if t is None:
            return
        q = self.alerts_per_day * self._gap / DAY
        key = round(math.log(q) * Q_STEPS) / Q_STEPS
        if key == self._solved:
            return
        self._solved = key
        q = math.exp(key)
        ratio = q / (self._share * (1.0 - q) + q)  # of the (true) scores above t
        z = t if ratio >= 1.0 or not self._weights else t + self._excess_at(ratio)
        self._value = max(self.floor, z)

    def _excess_at(self, ratio: float) -> float:
        """The excess where the averaged survival is ``ratio``: Newton's method on its
        logarithm, kept within the shapes' own quantiles (bisection where a step leaves them)."""
        tails = [
            (w, g, s)
            for w, g, s in zip(self._weights, self._shapes.tolist(), self._scales, strict=True)
            if w > 0
        ]
        own = [gpd_excess_quantile(ratio, g, s) for _, g, s in tails]
        lo, hi = min(own), max(own)
        x = sum(w * q for (w, _, _), q in zip(tails, own, strict=True))
        target = math.log(ratio)
        for _ in range(60):
            survival = sum(w * math.exp(-gpd_log_survival(x, g, s)) for w, g, s in tails)
            gap = math.log(survival) - target
            if gap > 0:
                lo = x
            else:
                hi = x
            if abs(gap) < 1e-12 or hi - lo <= 1e-12 * (1.0 + hi):
                break
            slope = -sum(
                w * math.exp(-gpd_log_survival(x, g, s)) / (s + g * x) for w, g, s in tails
            )
            step = x - gap * survival / slope
            x = step if lo < step < hi else 0.5 * (lo + hi)
        return x
