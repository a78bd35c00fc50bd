"""The additive Holt-Winters method (ETS(A,A,A)): Holt's level and trend plus a seasonal term.

The equations, the variance multipliers and what is shared with :class:`~detectors.forecast.Holt`
are described in :mod:`detectors.forecast`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Self

from detectors._checks import require_finite, require_int, state_field
from detectors.base import DetectorError
from detectors.ew_moments import finite_or_nan
from detectors.forecast import (
    MAX_SEASON_LENGTH,
    _optional,
    _pair,
    _Smoother,
    _unit,
)


def _fill_gaps(values: Sequence[float | None]) -> list[float]:
    """Linear interpolation between known values; a trailing gap repeats the last known one.

    Examples
    --------
    >>> _fill_gaps([1.0, None, None, 4.0, None])
    [1.0, 2.0, 3.0, 4.0, 4.0]
    """
    filled: list[float] = []
    last: int | None = None
    for i, v in enumerate(values):
        if v is None:
            continue
        if last is None:
            filled.extend([v] * (i + 1))
        else:
            start = filled[last]
            for k in range(last + 1, i + 1):
                filled.append(start + (v - start) * (k - last) / (i - last))
        last = i
    if last is None:
        return []
    filled.extend([filled[last]] * (len(values) - len(filled)))
    return filled


class HoltWinters(_Smoother):
    """Additive Holt-Winters method with prediction intervals (ETS(A,A,A)).

    With ``s`` the seasonal term of the step being learned (from ``m = season_length`` steps
    before) and ``e = y - (l + b + s)`` the one-step error::

        l' = alpha * (y - s) + (1 - alpha) * (l + b)
        b' = beta * (l' - l) + (1 - beta) * b
        s' = gamma * (y - l - b) + (1 - gamma) * s
        forecast(h) = l + h * b + (seasonal term of step h)

    It starts after two seasons (``2 * m`` steps from the first finite value; gaps in them are
    filled by linear interpolation): with ``M1``, ``M2`` the means of the two seasons, the trend
    is ``b = (M2 - M1) / m``, the line ``T(t) = M1 + b * (t - (m - 1) / 2)``, each seasonal
    term the mean over the two seasons of ``y - T``, and the level ``T`` at the last step;
    this is exact on a line plus a zero-mean seasonal pattern. Until then :meth:`forecast`
    returns ``[]``. After the start a NaN or infinite value advances one step without learning
    (``l' = l + b``, ``s' = s``), so the seasons stay aligned.

    river's ``HoltWinters(alpha, beta, gamma, seasonality=m)`` starts after one season, with
    the level the mean of the season, the trend the mean first difference and the seasonal
    terms ``y / level`` (its multiplicative start, also used for the additive model); from
    equal components the two give the same forecasts.

    The state holds ``m`` seasonal terms (about 20 bytes of JSON each) and, during the
    warm-up, up to ``2 * m`` values. ``season_length`` is limited to 1024.

    Parameters
    ----------
    alpha
        Level smoothing, in (0, 1].
    beta
        Trend smoothing, in [0, 1].
    gamma
        Seasonal smoothing, in [0, 1].
    season_length
        Steps in a season, 2 to 1024.
    level
        Coverage of the prediction interval, in (0, 1).
    error_half_life
        Points after which a one-step error's weight in ``sigma2`` halves (``math.inf``: never).

    Examples
    --------
    A season of 4 steps on a rising line, learned exactly:

    >>> hw = HoltWinters(alpha=0.3, beta=0.1, gamma=0.2, season_length=4)
    >>> pattern = [1.0, 3.0, -1.0, -3.0]
    >>> for t in range(10):
    ...     hw.learn_one(10.0 + 0.5 * t + pattern[t % 4])
    >>> [(p.step, round(p.mean, 9), round(p.upper - p.lower, 9)) for p in hw.forecast(3)]
    [(1, 14.0, 0.0), (2, 12.5, 0.0), (3, 17.0, 0.0)]
    """

    _owner: ClassVar[str] = "holt-winters"

    def __init__(
        self,
        alpha: float,
        beta: float,
        gamma: float,
        season_length: int,
        level: float = 0.95,
        error_half_life: float = 64.0,
    ) -> None:
        super().__init__(alpha, beta, level, error_half_life)
        self.gamma = _unit("gamma", gamma, 0.0, False, 1.0)
        self.season_length = require_int("season_length", season_length, 2)
        if season_length > MAX_SEASON_LENGTH:
            raise DetectorError(
                f"season_length must be at most {MAX_SEASON_LENGTH}, got {season_length}"
            )
        self._n = 0
        self._buffer: list[float | None] = []
        self._season: list[float] = []  # seasonal terms of the next m steps, next one first

    def _start(self) -> None:
        m = self.season_length
        y = _fill_gaps(self._buffer)
        first, second = sum(y[:m]) / m, sum(y[m:]) / m
        trend = (second - first) / m
        middle = (m - 1) / 2.0

        def line(t: int) -> float:
            return first + trend * (t - middle)

        self._season = [((y[j] - line(j)) + (y[m + j] - line(m + j))) / 2.0 for j in range(m)]
        self._l = line(2 * m - 1)
        self._b = trend
        self._buffer = []

    def learn_one(self, y: object) -> None:
        """Learn the next value of the series (NaN or inf: a gap of one step)."""
        self._learn(finite_or_nan("y", y))

    def _learn(self, value: float) -> None:
        gap = math.isnan(value)
        if self._l is None:
            if gap and not self._buffer:
                return
            self._buffer.append(None if gap else value)
            if not gap:
                self._n += 1
            if len(self._buffer) == 2 * self.season_length:
                self._start()
            return
        seasonal = self._season.pop(0)
        if gap:
            self._l += self._b
            self._season.append(seasonal)
            return
        self._n += 1
        self._learn_error(value - (self._l + self._b + seasonal))
        level = self.alpha * (value - seasonal) + (1.0 - self.alpha) * (self._l + self._b)
        self._season.append(
            self.gamma * (value - self._l - self._b) + (1.0 - self.gamma) * seasonal
        )
        self._b = self.beta * (level - self._l) + (1.0 - self.beta) * self._b
        self._l = level

    def _mean(self, step: int) -> float:
        assert self._l is not None
        return self._l + step * self._b + self._season[(step - 1) % self.season_length]

    def _multiplier(self, step: int) -> float:
        k = (step - 1) // self.season_length
        g, a, b = self.gamma, self.alpha, self.alpha * self.beta
        seasonal = g * k * (2.0 * a + g + b * self.season_length * (k + 1))
        return super()._multiplier(step) + seasonal

    def to_state(self) -> dict[str, Any]:
        """Finite values learned, level and trend (None during the warm-up), the seasonal
        terms of the next ``m`` steps, the warm-up values (None for a gap) and the EW sum of
        squared errors with its weight.

        Examples
        --------
        >>> hw = HoltWinters(0.5, 0.1, 0.1, season_length=2)
        >>> for y in [1.0, float("nan"), 3.0]:
        ...     hw.learn_one(y)
        >>> hw.to_state()
        {'n': 2, 'level': None, 'trend': None, 'season': [], 'warmup': [1.0, None, 3.0], 'errors': [0.0, 0.0]}
        """
        started = self._l is not None
        return {
            "n": self._n,
            "level": self._l,
            "trend": self._b if started else None,
            "season": list(self._season),
            "warmup": list(self._buffer),
            "errors": list(self._errors),
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any], **params: Any) -> Self:
        """Rebuild from a :meth:`to_state` dict and the constructor parameters.

        Examples
        --------
        >>> state = {"n": 4, "level": 10.0, "trend": 1.0, "season": [2.0, -2.0], "warmup": [],
        ...          "errors": [4.0, 1.0]}
        >>> hw = HoltWinters.from_state(state, alpha=0.5, beta=0.1, gamma=0.1, season_length=2)
        >>> [round(p.mean, 6) for p in hw.forecast(3)]
        [13.0, 10.0, 15.0]
        """
        hw = cls(**params)
        owner = cls._owner
        m = hw.season_length
        hw._n = require_int(f"{owner} state n", state_field(state, "n", owner), 0)
        hw._l = _optional(state, "level", owner)
        trend = _optional(state, "trend", owner)
        if (trend is None) != (hw._l is None):
            raise DetectorError(f"{owner} state level and trend must both be set or both None")
        hw._b = trend or 0.0
        season = state_field(state, "season", owner)
        expected = m if hw._l is not None else 0
        if not isinstance(season, list) or len(season) != expected:
            got = len(season) if isinstance(season, list) else repr(season)
            raise DetectorError(f"{owner} state season must have {expected} values, got {got}")
        hw._season = [require_finite(f"{owner} state season[{i}]", v) for i, v in enumerate(season)]
        warmup = state_field(state, "warmup", owner)
        limit = 0 if hw._l is not None else 2 * m - 1
        if not isinstance(warmup, list) or len(warmup) > limit:
            got = len(warmup) if isinstance(warmup, list) else repr(warmup)
            raise DetectorError(f"{owner} state warmup must have at most {limit} values, got {got}")
        hw._buffer = [
            None if v is None else require_finite(f"{owner} state warmup[{i}]", v)
            for i, v in enumerate(warmup)
        ]
        hw._errors = _pair(state, "errors", owner)
        return hw
