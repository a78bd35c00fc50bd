"""Trend of one value over event time: slope, direction and change points.

The slope is that of an exponentially weighted (EW) least-squares line of the value on the
timestamp. Change points come from a two-sided CUSUM (Page 1954, "Continuous inspection
schemes") on the one-step residuals of that line, standardised by their EW root mean square:
a level shift or a change of slope makes the residuals drift away from 0, while a steady ramp,
which the line follows, does not. The engine keeps one tracker per (model, entity, feature).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from typing import Any, Self

import numpy as np

from detectors._checks import require_finite, require_int, state_field
from detectors._packed import pack_floats, pack_sparse, unpack_floats
from detectors.base import DetectorError
from detectors.ew_moments import EWMoments, finite_or_nan, half_life_decay
from detectors.trend_state import _SHARED, _non_negative, _pair, _unpacked
from detectors.trend_summary import TrendSummary


class TrendTracker:
    """Slope, direction and change points of a scalar series in event time.

    For each point ``(ts, value)`` (seconds, in any order; a NaN or infinite value is a gap and
    changes nothing):

    1. If the line has a slope, it predicts ``p = mean_v + slope * (ts - mean_t)`` and the
       residual is ``e = value - p``. The residual scale ``s`` is the EW root mean square of
       the earlier residuals, floored by :func:`detectors.base.spread_floor` of ``p``.
    2. Once the line holds ``min_points`` points, the two-sided CUSUM takes
       ``z = e / s``, clipped to ``+-threshold / 2``::

           up   <- max(0, up + z - drift)
           down <- max(0, down - z - drift)

       The clip means a single outlier, however large, is not a change point: it takes at
       least three points beyond the line. When a sum exceeds ``threshold``, a change point
       is recorded at the ``ts`` where that sum last left 0 (the estimated onset), both sums
       restart at 0, and the line restarts from this point, so one level shift or change of
       slope gives one change point; the residual scale and the interval are kept.
    3. Otherwise the residual, clipped like ``z``, is added to the residual scale, and the
       line learns ``p`` plus the clipped residual (before ``min_points``: the value itself),
       so an isolated outlier moves neither. The line's weights fade by
       ``2 ** (-1 / half_life)`` per point; the gap since the newest earlier timestamp goes to
       the EW mean interval.

    For independent normal residuals the defaults (``drift`` 0.5, ``threshold`` 8) give about
    one false change point per 10,000 points (Siegmund's approximation of the CUSUM's average
    run length); a shift of 2 standard deviations is found after about 7 points.

    ``direction`` is the sign of the slope ("up" or "down") when the line holds at least
    ``min_points`` points and ``|slope| * interval > flat_tolerance * s``, that is when the
    change the slope predicts from one point to the next (``interval`` is the EW mean gap
    between timestamps) is more than ``flat_tolerance`` residual standard deviations; else it
    is "flat". The residual scale is the EW standard deviation of the value around the line:
    the standard deviation of the value itself would include the trend, and a steady ramp would
    then always look flat.

    The state is about 180 bytes of JSON plus about 20 per kept change point.

    Parameters
    ----------
    half_life
        Points after which a point's weight in the line halves (``math.inf``: never).
    flat_tolerance
        Per-point change, in residual standard deviations, up to which the trend is flat.
    drift
        CUSUM allowance (``k``) in residual standard deviations, >= 0.
    threshold
        CUSUM decision threshold (``h``) in residual standard deviations, positive.
    max_change_points
        Change points kept, at least 1.
    min_points
        Points learned before the CUSUM runs and a direction is given, at least 3.

    Examples
    --------
    A ramp of 2 units per 10 s with a jump of 50 at t = 150 s, found at its third point:

    >>> tracker = TrendTracker()
    >>> flags = [tracker.update(10.0 * i, 100.0 + 2.0 * i + (50.0 if i >= 15 else 0.0))
    ...          for i in range(30)]
    >>> flags.index(True), flags.count(True)
    (17, 1)
    >>> summary = tracker.summary()
    >>> round(summary.slope, 6), summary.direction, summary.change_points
    (0.2, 'up', [150.0])
    """

    def __init__(
        self,
        half_life: float = 32.0,
        flat_tolerance: float = 0.1,
        drift: float = 0.5,
        threshold: float = 8.0,
        max_change_points: int = 8,
        min_points: int = 8,
    ) -> None:
        self._decay = half_life_decay(half_life)
        self.half_life = float(half_life)
        self.flat_tolerance = _non_negative("flat_tolerance", flat_tolerance)
        self.drift = _non_negative("drift", drift)
        self.threshold = require_finite("threshold", threshold)
        if self.threshold <= 0.0:
            raise DetectorError(f"threshold must be positive, got {self.threshold!r}")
        self.max_change_points = require_int("max_change_points", max_change_points, 1)
        self.min_points = require_int("min_points", min_points, 3)
        self._line = EWMoments()
        self._last_ts: float | None = None
        self._interval = [0.0, 0.0]  # EW sum of gaps, EW weight
        self._error = [0.0, 0.0]  # EW sum of squared residuals, EW weight
        self._up = 0.0
        self._down = 0.0
        self._up_since = 0.0
        self._down_since = 0.0
        self._changes: deque[float] = deque(maxlen=self.max_change_points)

    @property
    def n(self) -> int:
        """Points in the line (learned since the last change point)."""
        return self._line.n

    def _residual_scale(self) -> float:
        total, weight = self._error
        return math.sqrt(total / weight) if weight > 0.0 else 0.0

    def update(self, ts: object, value: object) -> bool:
        """Learn ``value`` at event time ``ts``; True if the point is a change point."""
        when = require_finite("ts", ts)
        v = finite_or_nan("value", value)
        if math.isnan(v):
            return False
        return self._step(when, v)

    def update_many(self, ts: np.ndarray, values: np.ndarray) -> None:
        """:meth:`update` on each ``(ts, value)`` pair of two float arrays, in order.

        Examples
        --------
        >>> one, many = TrendTracker(min_points=3), TrendTracker(min_points=3)
        >>> ts, values = np.arange(12.0), np.array([1.0, 2, 3, np.nan, 5, 6, 7, 40, 41, 42, 43, 44])
        >>> for t, v in zip(ts.tolist(), values.tolist()):
        ...     _ = one.update(t, v)
        >>> many.update_many(ts, values)
        >>> one.to_state() == many.to_state()
        True
        """
        if not np.isfinite(ts).all():  # let update name the bad timestamp
            for when, value in zip(ts.tolist(), values.tolist(), strict=True):
                self.update(when, value)
            return
        finite = np.isfinite(values)
        self._walk(ts[finite].tolist(), values[finite].tolist())

    def _walk(self, times: list[float], values: list[float]) -> bool:
        """:meth:`_step` on each finite ``(ts, value)`` pair in order, its arithmetic on local
        variables (the insights' tail of every message goes through here; one point at a time
        keeps :meth:`_step`, which sets up less); True if the last pair is a change point."""
        line = self._line
        n, weight, mean_x, mean_y = line.n, line.weight, line.mean_x, line.mean_y
        sxx, syy, sxy = line.sxx, line.syy, line.sxy
        error_total, error_weight = self._error
        interval_total, interval_weight = self._interval
        up, down, up_since, down_since = self._up, self._down, self._up_since, self._down_since
        last_ts = self._last_ts
        decay, drift, threshold = self._decay, self.drift, self.threshold
        min_points, limit = self.min_points, self.threshold / 2.0
        changes = self._changes
        changed = False
        for when, v in zip(times, values, strict=True):
            learned = v
            changed = False
            if sxx > 0.0:  # the line has a slope
                predicted = mean_y + sxy / sxx * (when - mean_x)
                residual = v - predicted
                if n >= min_points:
                    rms = math.sqrt(error_total / error_weight) if error_weight > 0.0 else 0.0
                    scale = max(rms, 1e-9, abs(predicted) / 1e6)  # floored(predicted, rms)
                    z = max(-limit, min(limit, residual / scale))
                    residual = z * scale
                    learned = predicted + residual
                    if up == 0.0:
                        up_since = when
                    if down == 0.0:
                        down_since = when
                    up = max(0.0, up + z - drift)
                    down = max(0.0, down - z - drift)
                    changed = up > threshold or down > threshold
                if changed:
                    changes.append(up_since if up > threshold else down_since)
                    up = down = 0.0
                    n, weight, mean_x, mean_y, sxx, syy, sxy = 0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0
                    learned = v
                else:
                    error_total = decay * error_total + residual * residual
                    error_weight = decay * error_weight + 1.0
            if last_ts is not None and when > last_ts:
                interval_total = decay * interval_total + (when - last_ts)
                interval_weight = decay * interval_weight + 1.0
            if last_ts is None or when > last_ts:
                last_ts = when
            # the line learns (when, learned): EWMoments.update, inlined
            n += 1
            weight = decay * weight + 1.0
            sxx *= decay
            syy *= decay
            sxy *= decay
            dx = when - mean_x
            dy = learned - mean_y
            mean_x += dx / weight
            mean_y += dy / weight
            sxx += dx * (when - mean_x)
            syy += dy * (learned - mean_y)
            sxy += dx * (learned - mean_y)
        line.n, line.weight, line.mean_x, line.mean_y = n, weight, mean_x, mean_y
        line.sxx, line.syy, line.sxy = sxx, syy, sxy
        self._error = [error_total, error_weight]
        self._interval = [interval_total, interval_weight]
        self._up, self._down, self._up_since, self._down_since = up, down, up_since, down_since
        self._last_ts = last_ts
        return changed

    def _step(self, when: float, v: float) -> bool:
        """:meth:`update` with a finite timestamp and value."""
        changed = False
        learned = v
        line = self._line
        if line.sxx > 0.0:  # the line has a slope
            slope = line.sxy / line.sxx
            predicted = line.mean_y + slope * (when - line.mean_x)
            residual = v - predicted
            if line.n >= self.min_points:
                total, weight = self._error
                rms = math.sqrt(total / weight) if weight > 0.0 else 0.0
                scale = max(rms, 1e-9, abs(predicted) / 1e6)  # floored(predicted, rms)
                limit = self.threshold / 2.0
                z = max(-limit, min(limit, residual / scale))
                residual = z * scale
                learned = predicted + residual
                if self._up == 0.0:
                    self._up_since = when
                if self._down == 0.0:
                    self._down_since = when
                self._up = max(0.0, self._up + z - self.drift)
                self._down = max(0.0, self._down - z - self.drift)
                changed = self._up > self.threshold or self._down > self.threshold
            if changed:
                onset = self._up_since if self._up > self.threshold else self._down_since
                self._changes.append(onset)
                self._up = self._down = 0.0
                self._line = EWMoments()
                learned = v
            else:
                self._error[0] = self._decay * self._error[0] + residual * residual
                self._error[1] = self._decay * self._error[1] + 1.0
        if self._last_ts is not None and when > self._last_ts:
            self._interval[0] = self._decay * self._interval[0] + (when - self._last_ts)
            self._interval[1] = self._decay * self._interval[1] + 1.0
        if self._last_ts is None or when > self._last_ts:
            self._last_ts = when
        self._line.update(when, learned, self._decay)
        return changed

    def summary(self) -> TrendSummary:
        """Slope (units per second), direction and the kept change points."""
        slope = self._line.slope()
        direction = "flat"
        if slope is not None and self._line.n >= self.min_points and self._interval[1] > 0.0:
            step = abs(slope) * self._interval[0] / self._interval[1]
            if step > self.flat_tolerance * self._residual_scale():
                direction = "up" if slope > 0.0 else "down"
        changes = list(self._changes)
        return TrendSummary(
            slope=slope,
            direction=direction,
            change_points=changes,
            last_change=changes[-1] if changes else None,
        )

    def to_state(self) -> dict[str, Any]:
        """JSON-serialisable learned state.

        ``n`` is the number of points in the line and ``f`` packs (exactly, see
        :mod:`detectors._packed`) the line's ``weight, mean_ts, mean_value, s_tt, s_vv, s_tv``,
        then ``last_ts`` (NaN for None), the EW sum and weight of the intervals and of the
        squared residuals, the CUSUM sums ``up, down`` and the timestamps where they last left 0;
        ``changes``, the kept change points, is left out when there are none.

        Examples
        --------
        >>> tracker = TrendTracker(half_life=math.inf)
        >>> tracker.update(0.0, 1.0)
        False
        >>> tracker.update(10.0, 3.0)
        False
        >>> state = tracker.to_state()
        >>> state["n"], unpack_floats("f", state["f"], 15)
        (2, [2.0, 5.0, 2.0, 50.0, 2.0, 10.0, 10.0, 10.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0])
        >>> TrendTracker.from_state(state, half_life=math.inf).to_state() == state
        True
        """
        state: dict[str, Any] = {"n": self._line.n, "f": pack_sparse(self._floats())}
        if self._changes:
            state["changes"] = list(self._changes)
        return state

    def _floats(self) -> list[float | None]:
        line = self._line.to_list()
        return [
            *line[1:],
            self._last_ts,
            *self._interval,
            *self._error,
            self._up,
            self._down,
            self._up_since,
            self._down_since,
        ]

    def state_like(self, first: TrendTracker) -> str | None:
        """This tracker's state without what it shares with ``first``, a tracker of another
        feature of the same points: the number of points, the time fields of the line (weight,
        mean time, its spread), the last time and the intervals. None unless all of those are
        the same floats (bit for bit) and neither has change points. :meth:`from_state_like`
        with the same ``first`` undoes it.

        Examples
        --------
        >>> cpu, mem = TrendTracker(), TrendTracker()
        >>> for ts in (0.0, 10.0, 20.0):
        ...     _ = cpu.update(ts, ts / 10)
        ...     _ = mem.update(ts, 5.0)
        >>> packed = mem.state_like(cpu)
        >>> len(packed) < len(mem.to_state()["f"])
        True
        >>> TrendTracker.from_state_like(packed, cpu).to_state() == mem.to_state()
        True
        """
        if self._changes or first._changes or self._line.n != first._line.n:
            return None
        mine, theirs = self._floats(), first._floats()
        if pack_floats([mine[k] for k in _SHARED]) != pack_floats([theirs[k] for k in _SHARED]):
            return None
        return pack_sparse([v for k, v in enumerate(mine) if k not in _SHARED])

    @classmethod
    def from_state_like(cls, text: object, first: TrendTracker, **params: Any) -> Self:
        """Rebuild from a :meth:`state_like` string, given the same ``first`` tracker."""
        own = iter(unpack_floats("trend state", text, 15 - len(_SHARED)))
        theirs = first._floats()
        floats = [theirs[k] if k in _SHARED else next(own) for k in range(15)]
        return cls.from_state({"n": first._line.n, "f": pack_floats(floats)}, **params)

    @classmethod
    def from_state(cls, state: Mapping[str, Any], **params: Any) -> Self:
        """Rebuild from a :meth:`to_state` dict (or the unpacked one of earlier versions, with
        ``line``, ``last_ts``, ``interval``, ``error``, ``cusum``, ``since`` and ``changes``)
        and the constructor parameters.

        Examples
        --------
        >>> state = {"line": [2, 2.0, 5.0, 2.0, 50.0, 2.0, 10.0], "last_ts": 10.0,
        ...          "interval": [10.0, 1.0], "error": [0.0, 0.0], "cusum": [0.0, 0.0],
        ...          "since": [0.0, 0.0], "changes": [4.0]}
        >>> TrendTracker.from_state(state, min_points=3).summary()
        TrendSummary(slope=0.2, direction='flat', change_points=[4.0], last_change=4.0)
        """
        state = _unpacked(state)
        tracker = cls(**params)
        owner = "trend state"
        tracker._line = EWMoments.from_list(f"{owner} line", state_field(state, "line", "trend"))
        last_ts = state_field(state, "last_ts", "trend")
        tracker._last_ts = None if last_ts is None else require_finite(f"{owner} last_ts", last_ts)
        tracker._interval = _pair(state, "interval", non_negative=True)
        tracker._error = _pair(state, "error", non_negative=True)
        tracker._up, tracker._down = _pair(state, "cusum", non_negative=True)
        tracker._up_since, tracker._down_since = _pair(state, "since", non_negative=False)
        changes = state_field(state, "changes", "trend")
        if not isinstance(changes, list):
            raise DetectorError(f"{owner} changes must be a list, got {changes!r}")
        tracker._changes.extend(
            require_finite(f"{owner} changes[{i}]", ts) for i, ts in enumerate(changes)
        )
        return tracker
