"""How a seasonal profile walks its points: visits folded, days ended, offsets interpolated
(see :mod:`detectors.seasonality`, *Visits.* and *Points.*)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from detectors._cycle import Sides
from detectors._seasonal_sums import _add, _interpolate, _means, _zeros
from detectors.base import DetectorError
from detectors.seasonal_auto import _NONE, AutoPeriod
from detectors.seasonal_config import DAY


class ProfileWalk(AutoPeriod):
    """The walk of :class:`detectors.seasonality.SeasonalProfile` over its points, one at a
    time or a block of them."""

    _fine: float
    _visit_sums: list[list[float]]

    if TYPE_CHECKING:

        @property
        def active(self) -> bool: ...

        def _copy(self) -> ProfileWalk: ...

    def _walk(self, ts: object, rows: object, learn: bool) -> np.ndarray:
        if isinstance(ts, float | int) and not isinstance(ts, bool):  # the one-point path
            return self._walk_one(float(ts), rows, learn)
        times = np.atleast_1d(np.asarray(ts, dtype=float))
        values = np.asarray(rows, dtype=float)
        m = len(times)
        if times.ndim != 1 or values.size != m * self.n_features:
            raise DetectorError(
                f"got {m} timestamps for {values.size} values of {self.n_features} features"
            )
        if m == 1:
            return self._walk_one(float(times[0]), values.ravel().tolist(), learn)
        if not np.isfinite(times).all():
            raise DetectorError("ts must be finite epoch seconds")
        if not m or self._stage == _NONE:
            return np.zeros((m, self.n_features))
        values = values.reshape(m, self.n_features)
        walker = self if learn else self._copy()
        finite = np.isfinite(values)
        fine = np.floor(times / self._fine)
        cut = np.flatnonzero(fine[1:] != fine[:-1]) + 1
        starts = np.concatenate([[0], cut])
        sums = np.add.reduceat(np.where(finite, values, 0.0), starts, axis=0).tolist()
        counts = np.add.reduceat(finite, starts, axis=0).astype(float).tolist()
        firsts = times[starts].tolist()
        last = len(starts) - 1
        found: list[tuple[float, Sides] | None] = []
        for i, (t, total, count) in enumerate(zip(firsts, sums, counts, strict=True)):
            found.append(walker._segment(t, total, count, record=learn or i < last))
            if walker._stage == _NONE:
                found += [None] * (last - i)
                break
        if all(got is None for got in found):
            return np.zeros((m, self.n_features))
        flat: Sides = [(0.0, 0.0, 0.0, 0.0)] * self.n_features
        widths = np.array([1.0 if got is None else got[0] for got in found])
        coef = np.array([flat if got is None else got[1] for got in found])
        segment = np.repeat(np.arange(len(found)), np.diff(np.append(starts, m)))
        u = times / widths[segment]
        frac = u - np.floor(u) - 0.5
        left = (frac < 0)[:, None]
        c = coef[segment]
        a = np.where(left, c[:, :, 0], c[:, :, 2])
        b = np.where(left, c[:, :, 1], c[:, :, 3])
        out: np.ndarray = a + np.abs(frac)[:, None] * (b - a)
        return out

    def learn_sums(self, t: float, total: list[float], count: list[float]) -> None:
        """Learn points of one bin from ``t`` on by their per-feature sums and counts (of the
        finite values): what learning them one at a time does, with their sums."""
        if self._stage != _NONE:
            self._segment(t, total, count, record=True)

    def _walk_one(self, t: float, rows: object, learn: bool) -> np.ndarray:
        """The one-point path: the block's arithmetic in Python floats."""
        row = rows if isinstance(rows, list) else np.asarray(rows, dtype=float).ravel().tolist()
        if len(row) != self.n_features:
            raise DetectorError(
                f"got 1 timestamp for {len(row)} values of {self.n_features} features"
            )
        if not math.isfinite(t):
            raise DetectorError("ts must be finite epoch seconds")
        if self._stage == _NONE:
            return np.zeros((1, self.n_features))
        total, count = [], []
        for x in row:
            finite = math.isfinite(x)
            total.append(x if finite else 0.0)
            count.append(1.0 if finite else 0.0)
        walker = self if learn or not self._ends_something(t) else self._copy()
        got = walker._segment(t, total, count, record=learn)
        return np.array([_interpolate(t, got, self.n_features)])

    def _ends_something(self, t: float) -> bool:
        """Whether a point at ``t`` folds a visit or ends a day."""
        main = self._main
        if (
            main is not None
            and self._visit is not None
            and math.floor(t / main.width) > self._visit
        ):
            return True
        return self._weekdays is not None and self._day is not None and t // DAY > self._day

    def _segment(
        self, t: float, total: list[float], count: list[float], record: bool
    ) -> tuple[float, Sides] | None:
        """Points of one fine bin from ``t`` on (their sums and counts): fold what they end,
        learn them if ``record``, and return the interpolation they are scored with (None: 0)."""
        day = math.floor(t / DAY)
        main = self._main
        if main is not None and self._visit is not None:
            a = math.floor(t / main.width)
            if a < self._visit:  # out of order: scored, not learned
                return self._sides(t)
            if a > self._visit:
                misses = self._day_sums[2:] if self._shapes is not None else None
                main.fold(self._visit, _means(*self._visit_sums), misses)
                self._visit = None
        elif self._day is not None and day < self._day:
            return self._sides(t)
        if self._weekdays is not None and self._day is not None and day > self._day:
            self._end_day(day)
            if self._stage == _NONE:
                return None
        if record:
            if self._weekdays is not None:
                if self._start is None:
                    self._start = t
                if self._day != day:
                    self._day = day
                    self._day_sums = _zeros(4, self.n_features)
                _add(self._day_sums, total, count)
            main = self._main
            if main is not None:
                a = math.floor(t / main.width)
                if self._visit != a:
                    self._visit = a
                    self._visit_sums = _zeros(2, self.n_features)
                _add(self._visit_sums, total, count)
        return self._sides(t)

    def _sides(self, t: float) -> tuple[float, Sides] | None:
        main = self._main
        if main is None or not self.active:
            return None
        return main.width, main.sides(math.floor(t / main.width))
