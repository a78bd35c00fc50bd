"""Online Holt and additive Holt-Winters forecasts with prediction intervals (Holt-Winters, the
seasonal one, is in :mod:`detectors.holt_winters`; this module holds what both share).

The smoothing equations are those of Hyndman & Athanasopoulos, *Forecasting: Principles and
Practice*, 3rd ed. (2021), section 8.2 (Holt's linear trend method) and 8.3 (additive
Holt-Winters method). They are the error-correction form of the ETS(A,A,N) and ETS(A,A,A)
state-space models, whose one-step error is ``e = y - forecast(1)`` and whose trend smoothing
parameter is ``alpha * beta`` in the book's state-space notation (section 8.5). The h-step
forecast variance is ``sigma2 * multiplier(h)`` with the multipliers of section 8.7, table 8.8:

- ETS(A,A,N): ``1 + (h-1) * (a**2 + a*b*h + b**2 * h*(2h-1)/6)``
- ETS(A,A,A): the same ``+ g*k*(2a + g + b*m*(k+1))`` with ``k = (h-1) // m``

where ``a = alpha``, ``b = alpha * beta``, ``g = gamma`` and ``m`` the season length. They
equal ``1 + sum_{j<h} c_j**2`` with ``c_j = a + b*j + g*[j % m == 0]``, the weights of the
future errors in the h-step error, which is how the tests check them. ``sigma2`` is the
exponentially weighted mean of the squared one-step errors.

The point forecasts match river.time_series.HoltWinters (additive) once both start from the
same components; only the start differs (see :class:`Holt` and :class:`~detectors.holt_winters.HoltWinters`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from statistics import NormalDist
from typing import Any, ClassVar, NamedTuple, Self

import numpy as np

from detectors._checks import require_finite, require_int, state_field
from detectors._packed import optional, pack_sparse, unpack_floats
from detectors.base import DetectorError
from detectors.ew_moments import finite_or_nan, half_life_decay

MAX_SEASON_LENGTH = 1024
"""Largest ``season_length`` of :class:`~detectors.holt_winters.HoltWinters` (its state holds one number per step)."""


class ForecastPoint(NamedTuple):
    """One step of a forecast: the mean and a prediction interval.

    Examples
    --------
    >>> ForecastPoint(step=1, mean=10.0, lower=8.0, upper=12.0).upper
    12.0
    """

    step: int
    mean: float
    lower: float
    upper: float


def _unit(name: str, value: object, low: float, low_open: bool, high: float) -> float:
    number = require_finite(name, value)
    if number < low or (low_open and number == low) or number > high:
        bracket = "(" if low_open else "["
        raise DetectorError(f"{name} must be in {bracket}{low:g}, {high:g}], got {number!r}")
    return number


def _interval_level(value: object) -> float:
    number = require_finite("level", value)
    if not 0.0 < number < 1.0:
        raise DetectorError(f"level must be between 0 and 1 (exclusive), got {number!r}")
    return number


def _pair(state: Mapping[str, Any], key: str, owner: str) -> list[float]:
    values = state_field(state, key, owner)
    if not isinstance(values, list) or len(values) != 2:
        raise DetectorError(f"{owner} state {key} must be a list of 2 numbers, got {values!r}")
    pair = [require_finite(f"{owner} state {key}[{i}]", v) for i, v in enumerate(values)]
    if min(pair) < 0.0:
        raise DetectorError(f"{owner} state {key} must not be negative, got {values!r}")
    return pair


def _optional(state: Mapping[str, Any], key: str, owner: str) -> float | None:
    value = state_field(state, key, owner)
    return None if value is None else require_finite(f"{owner} state {key}", value)


class _Smoother:
    """Shared parts: parameters, the one-step error variance and the forecast assembly."""

    _owner: ClassVar[str] = "forecast"

    _n: int = 0  # steps seen (set by the subclasses)

    def __init__(self, alpha: float, beta: float, level: float, error_half_life: float) -> None:
        self.alpha = _unit("alpha", alpha, 0.0, True, 1.0)
        self.beta = _unit("beta", beta, 0.0, False, 1.0)
        self.level = _interval_level(level)
        self._decay = half_life_decay(error_half_life, "error_half_life")
        self.error_half_life = float(error_half_life)
        self._z = NormalDist().inv_cdf(0.5 + self.level / 2.0)
        self._l: float | None = None
        self._b = 0.0
        self._errors = [0.0, 0.0]  # EW sum of squared one-step errors, EW weight

    @property
    def steps(self) -> int:
        """Steps seen since the start (values and gaps)."""
        return self._n

    @property
    def ready(self) -> bool:
        """Whether the warm-up is over and :meth:`forecast` gives points."""
        return self._l is not None

    @property
    def sigma2(self) -> float:
        """EW mean of the squared one-step errors (0.0 before the first error)."""
        total, weight = self._errors
        return total / weight if weight > 0.0 else 0.0

    def _learn(self, value: float) -> None:
        """Learn a finite value, or a gap (NaN)."""
        raise NotImplementedError

    def learn_many(self, values: np.ndarray) -> None:
        """:meth:`learn_one` on each of the float ``values`` in order (NaN or inf: a gap).

        Examples
        --------
        >>> one, many = Holt(), Holt()
        >>> for y in [10.0, 12.0, float("nan"), 15.0, float("inf"), 16.0]:
        ...     one.learn_one(y)
        >>> many.learn_many(np.array([10.0, 12.0, np.nan, 15.0, np.inf, 16.0]))
        >>> one.to_state() == many.to_state()
        True
        """
        learn = self._learn
        for value in np.where(np.isfinite(values), values, np.nan).tolist():
            learn(value)

    def _learn_error(self, error: float) -> None:
        self._errors[0] = self._decay * self._errors[0] + error * error
        self._errors[1] = self._decay * self._errors[1] + 1.0

    def _mean(self, step: int) -> float:
        raise NotImplementedError

    def _multiplier(self, step: int) -> float:
        a, b = self.alpha, self.alpha * self.beta
        return 1.0 + (step - 1) * (a * a + a * b * step + b * b * step * (2 * step - 1) / 6.0)

    def forecast(self, horizon: int) -> list[ForecastPoint]:
        """Steps 1 to ``horizon`` ahead; ``[]`` during the warm-up.

        The interval is ``mean +- z * sqrt(sigma2 * multiplier(step))`` with ``z`` the normal
        quantile of ``level``; until the first one-step error is known it has zero width.
        """
        steps = require_int("horizon", horizon, 1)
        if self._l is None:
            return []
        points = []
        sigma2 = self.sigma2
        for step in range(1, steps + 1):
            mean = self._mean(step)
            half = self._z * math.sqrt(sigma2 * self._multiplier(step))
            points.append(ForecastPoint(step, mean, mean - half, mean + half))
        return points


class Holt(_Smoother):
    """Holt's linear trend method with prediction intervals (ETS(A,A,N)).

    With ``l`` the level, ``b`` the trend and ``e = y - (l + b)`` the one-step error::

        l' = alpha * y + (1 - alpha) * (l + b)
        b' = beta * (l' - l) + (1 - beta) * b
        forecast(h) = l + h * b

    The first two finite values start it: ``l = y2`` and ``b = (y2 - y1) / steps`` (exact on a
    line), so forecasts begin at the second value and the one-step errors at the third. A NaN or
    infinite value is a gap: after the start it advances the state one step without learning
    (``l' = l + b``), before it only counts a step. river's ``HoltWinters(alpha, beta)`` starts
    with ``l = (y1 + y2) / 2`` instead (half a trend step behind on a line); from equal
    components the two give the same forecasts.

    Parameters
    ----------
    alpha
        Level smoothing, in (0, 1].
    beta
        Trend smoothing, in [0, 1].
    level
        Coverage of the prediction interval, in (0, 1).
    error_half_life
        Points after which a one-step error's weight in ``sigma2`` halves (``math.inf``: never).

    Examples
    --------
    >>> holt = Holt(alpha=0.5, beta=0.5, error_half_life=math.inf)
    >>> holt.learn_one(10.0)
    >>> holt.forecast(2)
    []
    >>> for y in [12.0, 15.0, 16.0]:
    ...     holt.learn_one(y)
    >>> state = holt.to_state()  # level, trend, first (NaN: None) and the errors' sum and weight
    >>> state["n"], state["steps"], unpack_floats("forecast state f", state["f"], 5)
    (4, 0, [16.375, 2.0625, nan, 1.5625, 2.0])
    >>> [(p.step, p.mean, round(p.lower, 3), round(p.upper, 3)) for p in holt.forecast(2)]
    [(1, 18.4375, 16.705, 20.17), (2, 20.5, 18.335, 22.665)]
    """

    _owner: ClassVar[str] = "holt"

    def __init__(
        self,
        alpha: float = 0.3,
        beta: float = 0.1,
        level: float = 0.95,
        error_half_life: float = 64.0,
    ) -> None:
        super().__init__(alpha, beta, level, error_half_life)
        self._n = 0
        self._first: float | None = None
        self._steps = 0

    def learn_one(self, y: object) -> None:
        """Learn the next value of the series (NaN or inf: a gap of one step)."""
        self._learn(finite_or_nan("y", y))

    def _learn(self, value: float) -> None:
        if self._l is None:
            if math.isnan(value):
                if self._first is not None:
                    self._steps += 1
                return
            self._n += 1
            if self._first is None:
                self._first = value
                self._steps = 0
                return
            self._steps += 1
            self._b = (value - self._first) / self._steps
            self._l = value
            self._first = None
            self._steps = 0
            return
        if math.isnan(value):
            self._l += self._b
            return
        self._n += 1
        self._learn_error(value - (self._l + self._b))
        level = self.alpha * value + (1.0 - self.alpha) * (self._l + self._b)
        self._b = self.beta * (level - self._l) + (1.0 - self.beta) * self._b
        self._l = level

    def learn_many(self, values: np.ndarray) -> None:
        """:meth:`learn_one` on each value in order, the started state's arithmetic on local
        variables (the insights' tail of every message goes through here).

        Examples
        --------
        >>> one, many = Holt(), Holt()
        >>> values = [10.0, np.nan, 12.0, 15.0, np.inf, 16.0, 15.5]
        >>> for y in values:
        ...     one.learn_one(y)
        >>> many.learn_many(np.array(values))
        >>> one.to_state() == many.to_state()
        True
        """
        todo = np.where(np.isfinite(values), values, np.nan).tolist()
        k = 0
        while self._l is None and k < len(todo):  # the start: the first two values
            self._learn(todo[k])
            k += 1
        if k == len(todo):
            return
        level, trend, n = self._l, self._b, self._n
        assert level is not None
        alpha, beta, decay = self.alpha, self.beta, self._decay
        total, weight = self._errors
        for value in todo[k:]:
            if value != value:  # NaN: a gap
                level += trend
                continue
            n += 1
            error = value - (level + trend)
            total = decay * total + error * error
            weight = decay * weight + 1.0
            new_level = alpha * value + (1.0 - alpha) * (level + trend)
            trend = beta * (new_level - level) + (1.0 - beta) * trend
            level = new_level
        self._l, self._b, self._n = level, trend, n
        self._errors = [total, weight]

    def _mean(self, step: int) -> float:
        assert self._l is not None
        return self._l + step * self._b

    def to_state(self) -> dict[str, Any]:
        """Finite values learned (``n``) and steps since the warm-up's first value (``steps``);
        ``f`` packs (exactly, see :mod:`detectors._packed`) the level and trend (NaN during the
        warm-up), the warm-up's first value (NaN when None) and the EW sum of squared errors
        with its weight.

        Examples
        --------
        >>> holt = Holt(0.5, 0.5)
        >>> for y in [1.0, 2.0, 4.0]:
        ...     holt.learn_one(y)
        >>> state = holt.to_state()
        >>> state["n"], state["steps"], len(state["f"])
        (3, 0, 56)
        >>> Holt.from_state(state, alpha=0.5, beta=0.5).forecast(1) == holt.forecast(1)
        True
        """
        started = self._l is not None
        return {
            "n": self._n,
            "steps": self._steps,
            "f": pack_sparse([self._l, self._b if started else None, self._first, *self._errors]),
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any], **params: Any) -> Self:
        """Rebuild from a :meth:`to_state` dict (or the unpacked one of earlier versions, with
        ``level``, ``trend``, ``first`` and ``errors``) and the constructor parameters.

        Examples
        --------
        >>> state = {"n": 4, "level": 16.0, "trend": 2.0, "first": None, "steps": 0,
        ...          "errors": [0.0, 0.0]}
        >>> Holt.from_state(state).forecast(1)
        [ForecastPoint(step=1, mean=18.0, lower=18.0, upper=18.0)]
        """
        if "f" in state:
            floats = unpack_floats("forecast state f", state["f"], 5)
            state = {
                **state,
                "level": optional(floats[0]),
                "trend": optional(floats[1]),
                "first": optional(floats[2]),
                "errors": floats[3:],
            }
        holt = cls(**params)
        owner = cls._owner
        holt._n = require_int(f"{owner} state n", state_field(state, "n", owner), 0)
        holt._l = _optional(state, "level", owner)
        trend = _optional(state, "trend", owner)
        if (trend is None) != (holt._l is None):
            raise DetectorError(f"{owner} state level and trend must both be set or both None")
        holt._b = trend or 0.0
        holt._first = _optional(state, "first", owner)
        holt._steps = require_int(f"{owner} state steps", state_field(state, "steps", owner), 0)
        holt._errors = _pair(state, "errors", owner)
        return holt


def steps_to_breach(
    forecast: Sequence[ForecastPoint],
    upper: float | None,
    lower: float | None = None,
    use_interval: bool = True,
) -> int | None:
    """First step whose forecast crosses a bound, for "expected to breach in ~N steps".

    A step breaches ``upper`` when its interval's upper end (or its mean, with
    ``use_interval=False``) is above ``upper``, and ``lower`` when its lower end (or mean) is
    below ``lower``. Give at least one bound.

    Parameters
    ----------
    forecast
        Points from :meth:`Holt.forecast` or :meth:`~detectors.holt_winters.HoltWinters.forecast`.
    upper, lower
        The bounds; None for no bound on that side.
    use_interval
        Compare the interval's ends (True) or the mean (False).

    Returns
    -------
    int or None
        The ``step`` of the first breaching point, or None if none breaches.

    Examples
    --------
    >>> points = [ForecastPoint(1, 90.0, 85.0, 95.0), ForecastPoint(2, 96.0, 89.0, 103.0),
    ...           ForecastPoint(3, 102.0, 93.0, 111.0)]
    >>> steps_to_breach(points, upper=100.0)
    2
    >>> steps_to_breach(points, upper=100.0, use_interval=False)
    3
    >>> steps_to_breach(points, upper=None, lower=80.0) is None
    True
    >>> steps_to_breach(points, upper=None)
    Traceback (most recent call last):
    ...
    detectors.base.DetectorError: give upper, lower or both
    """
    high = None if upper is None else require_finite("upper", upper)
    low = None if lower is None else require_finite("lower", lower)
    if high is None and low is None:
        raise DetectorError("give upper, lower or both")
    if high is not None and low is not None and low > high:
        raise DetectorError(f"lower must not be above upper, got lower={low!r}, upper={high!r}")
    for point in forecast:
        top = point.upper if use_interval else point.mean
        bottom = point.lower if use_interval else point.mean
        if (high is not None and top > high) or (low is not None and bottom < low):
            return point.step
    return None
