"""Exponentially weighted (EW) moments of a pair of series: the building block of the rolling
correlations (``detectors.correlation``), the trend's slope (``detectors.trend``) and the
forecasts' decays (``detectors.forecast``).

The EW moments are the weighted mean, variance and covariance with weights normalised by their
sum (numpy's ``aweights``), updated with the weighted form of Welford's algorithm (West 1979,
"Updating mean and variance estimates: an improved method"), so they stay accurate when the
mean is large compared with the spread. With an infinite half-life they are the plain moments
and the correlation is Pearson's r (checked against ``numpy.corrcoef`` and
``river.stats.PearsonCorr``).
"""

from __future__ import annotations

import math

from detectors._checks import require_finite, require_int, require_number
from detectors._packed import pack_sparse, unpack_floats
from detectors.base import DetectorError


def half_life_decay(half_life: object, name: str = "half_life") -> float:
    """Per-point weight factor ``2 ** (-1 / half_life)`` of an exponentially weighted statistic.

    After ``half_life`` more points an observation weighs half as much. ``math.inf`` gives 1.0:
    nothing is forgotten.

    Parameters
    ----------
    half_life
        Positive number of points, or ``math.inf``.
    name
        Parameter name used in the error message.

    Examples
    --------
    >>> half_life_decay(1.0)
    0.5
    >>> half_life_decay(math.inf)
    1.0
    >>> half_life_decay(0, "error_half_life")
    Traceback (most recent call last):
    ...
    detectors.base.DetectorError: error_half_life must be positive, got 0.0
    """
    value = require_number(name, half_life)
    if math.isnan(value) or value <= 0.0:
        raise DetectorError(f"{name} must be positive, got {value!r}")
    return float(2.0 ** (-1.0 / value))


def finite_or_nan(name: str, value: object) -> float:
    """Return ``value`` as a float, NaN if it is NaN or infinite (a gap); raise if not a number.

    Examples
    --------
    >>> finite_or_nan("y", 2)
    2.0
    >>> finite_or_nan("y", float("inf"))
    nan
    >>> finite_or_nan("y", "2")
    Traceback (most recent call last):
    ...
    detectors.base.DetectorError: y must be a number, got '2'
    """
    if type(value) is float:  # the usual: no conversion, no check of its type
        return value if math.isfinite(value) else math.nan
    if isinstance(value, bool | str | bytes):
        raise DetectorError(f"{name} must be a number, got {value!r}")
    try:
        number = float(value)  # type: ignore[arg-type]  # also numpy scalars
    except (TypeError, ValueError):
        raise DetectorError(f"{name} must be a number, got {value!r}") from None
    return number if math.isfinite(number) else math.nan


class EWMoments:
    """Exponentially weighted means, variances and covariance of pairs ``(x, y)``.

    Each :meth:`update` multiplies the weights of the earlier pairs by ``decay`` and adds the new
    pair with weight 1. ``sxx``, ``syy`` and ``sxy`` are the weighted sums of squared and cross
    deviations from the weighted means (divide by ``weight`` for the (co)variances).

    Examples
    --------
    >>> m = EWMoments()
    >>> for x, y in [(1.0, 2.0), (2.0, 4.0), (3.0, 7.0)]:
    ...     m.update(x, y, decay=1.0)
    >>> m.mean_x, m.mean_y, m.sxx, m.sxy
    (2.0, 4.333333333333333, 2.0, 5.0)
    >>> round(m.corr(), 6)
    0.993399
    >>> m.to_list()
    [3, 3.0, 2.0, 4.333333333333333, 2.0, 12.666666666666668, 5.0]
    """

    __slots__ = ("mean_x", "mean_y", "n", "sxx", "sxy", "syy", "weight")

    def __init__(self) -> None:
        self.n = 0
        self.weight = 0.0
        self.mean_x = 0.0
        self.mean_y = 0.0
        self.sxx = 0.0
        self.syy = 0.0
        self.sxy = 0.0

    def update(self, x: float, y: float, decay: float) -> None:
        """Add the finite pair ``(x, y)`` after fading the earlier ones by ``decay``."""
        self.n += 1
        self.weight = decay * self.weight + 1.0
        self.sxx *= decay
        self.syy *= decay
        self.sxy *= decay
        dx = x - self.mean_x
        dy = y - self.mean_y
        self.mean_x += dx / self.weight
        self.mean_y += dy / self.weight
        self.sxx += dx * (x - self.mean_x)
        self.syy += dy * (y - self.mean_y)
        self.sxy += dx * (y - self.mean_y)

    def update_many(self, xs: list[float], ys: list[float], decay: float) -> None:
        """:meth:`update` on each finite pair of ``xs`` and ``ys`` in order (the same
        arithmetic, on local variables).

        Examples
        --------
        >>> one, many = EWMoments(), EWMoments()
        >>> for x, y in [(1.0, 2.0), (2.0, 4.5), (3.0, 7.0)]:
        ...     one.update(x, y, decay=0.9)
        >>> many.update_many([1.0, 2.0, 3.0], [2.0, 4.5, 7.0], decay=0.9)
        >>> one.to_list() == many.to_list()
        True
        """
        n, weight, mean_x, mean_y = self.n, self.weight, self.mean_x, self.mean_y
        sxx, syy, sxy = self.sxx, self.syy, self.sxy
        for x, y in zip(xs, ys, strict=True):
            n += 1
            weight = decay * weight + 1.0
            sxx *= decay
            syy *= decay
            sxy *= decay
            dx = x - mean_x
            dy = y - mean_y
            mean_x += dx / weight
            mean_y += dy / weight
            sxx += dx * (x - mean_x)
            syy += dy * (y - mean_y)
            sxy += dx * (y - mean_y)
        self.n, self.weight, self.mean_x, self.mean_y = n, weight, mean_x, mean_y
        self.sxx, self.syy, self.sxy = sxx, syy, sxy

    def corr(self) -> float | None:
        """Weighted Pearson r in [-1, 1], or None if x or y has no spread.

        >>> m = EWMoments()
        >>> for x, y in [(1e-160, 2e-160), (2e-160, 4e-160), (3e-160, 7e-160)]:
        ...     m.update(x, y, 1.0)
        >>> round(m.corr(), 4)
        0.9934
        """
        if self.sxx <= 0.0 or self.syy <= 0.0:
            return None
        product = self.sxx * self.syy
        # Two tiny (or huge) spreads can underflow (overflow) the product: take the roots apart.
        ok = 0.0 < product < math.inf
        spread = math.sqrt(product) if ok else math.sqrt(self.sxx) * math.sqrt(self.syy)
        if spread == 0.0:
            return None
        return max(-1.0, min(1.0, self.sxy / spread))

    def slope(self) -> float | None:
        """Weighted least-squares slope of y on x, or None if x has no spread."""
        if self.sxx <= 0.0:
            return None
        return self.sxy / self.sxx

    def to_list(self) -> list[int | float]:
        """``[n, weight, mean_x, mean_y, sxx, syy, sxy]``."""
        return [self.n, self.weight, self.mean_x, self.mean_y, self.sxx, self.syy, self.sxy]

    def to_packed(self) -> list[int | str]:
        """``[n, f]``, ``f`` packing the 6 floats of :meth:`to_list` exactly (see
        :mod:`detectors._packed`): 70 bytes of JSON instead of about 120.

        Examples
        --------
        >>> m = EWMoments()
        >>> m.update(1.0, 2.0, decay=0.5)
        >>> EWMoments.from_list("pair", m.to_packed()).to_list() == m.to_list()
        True
        """
        return [self.n, pack_sparse(self.to_list()[1:])]

    @classmethod
    def from_list(cls, name: str, values: object) -> EWMoments:
        """Rebuild from :meth:`to_list` or :meth:`to_packed`; ``name`` is used in error messages.

        Examples
        --------
        >>> EWMoments.from_list("pairs[0]", [2, 2.0, 1.5, 3.0, 0.5, 2.0, 1.0]).corr()
        1.0
        >>> EWMoments.from_list("pairs[0]", [2, 2.0])
        Traceback (most recent call last):
        ...
        detectors.base.DetectorError: pairs[0] must be a list of 7 numbers, got [2, 2.0]
        """
        if isinstance(values, list) and len(values) == 2 and isinstance(values[1], str):
            values = [values[0], *unpack_floats(name, values[1], 6)]
        if not isinstance(values, list) or len(values) != 7:
            raise DetectorError(f"{name} must be a list of 7 numbers, got {values!r}")
        moments = cls()
        moments.n = require_int(f"{name}[0]", values[0], 0)
        floats = [require_finite(f"{name}[{i}]", v) for i, v in enumerate(values[1:], 1)]
        moments.weight, moments.mean_x, moments.mean_y = floats[0], floats[1], floats[2]
        moments.sxx, moments.syy, moments.sxy = floats[3], floats[4], floats[5]
        if moments.weight < 0.0 or moments.sxx < 0.0 or moments.syy < 0.0:
            raise DetectorError(f"{name} has a negative weight or sum of squares")
        return moments
