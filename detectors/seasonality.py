"""A binned seasonal profile per key: the offset each point is scored against.

The scorer scores ``x - offsets`` instead of ``x``, so a daily peak that comes every day is not
an anomaly, while a bump at a trough that stays inside the day's overall range is.

The configuration's ``seasonality`` setting (its normal form, the period's and bins' checks and
bounds) is parsed by :mod:`detectors.seasonal_config`.

Design
------
*Visits.* Time is cut into bins of ``period / bins`` seconds (48 half-hours a day, 168 hours a
week). Consecutive points of one bin are a *visit*; the profile changes only when a visit ends
(the first point of a later bin *folds* it in), never inside one. So the offsets of a block are
piecewise constant between folds, and :meth:`SeasonalProfile.offsets` of a block equals the
offsets of its rows one at a time: both walk the same folds in the same order (the block path
sums a visit's points with numpy and loops over visits, not points).

*Model.* Per feature, ``x = level + o[bin] + noise`` with ``sum(o) = 0``. A fold of bin ``b``
with the visit's mean ``v``:

- ``m[b]`` is a running mean of ``v - level`` over the bin's first ``memory`` visits, then an
  EW mean with weight ``1 / memory``: a bin averages over a few periods, whatever the sampling
  rate (a visit weighs the same with 1 point or 60);
- ``level`` moves towards the deseasonalised ``v - o[b]`` with weight ``1 - exp(-dt / period)``
  (``dt``: time since the previous fold), a time constant of one period that a 4-hour hole in
  the feed simply stretches;
- the offsets are the centred bins ``o = m - mean(m)`` (over the bins that have data), linearly
  interpolated between neighbouring bin centres; a bin without data offsets 0 (or takes its
  neighbour's value).

During the first period the level stays at the first visit's mean, so ``m`` holds the visits
relative to it; when the first period is complete the mean of ``m`` moves into the level (the
level becomes the first period's mean, exactly). That re-centring (``level += mean(m)``,
``m -= mean(m)``) is repeated at the start of each period, so ``m`` stays near ``o`` and a trend
that the level follows with a lag does not pile up in the bins. The profile keeps its own
level, independent of the detector, so the scorer's batch path stays vectorisable.

*Declared period.* ``period=86400`` (or any number of seconds up to 4 weeks): the profile is
:attr:`~SeasonalProfile.active` once a full period has been seen (every bin has had its
chance); offsets are 0 before.

*Auto.* ``period="auto"`` learns a 48-bin daily candidate and a 7-bin day-of-week candidate
(fed with each day's mean, level time constant a week), and scores each by how much better it
predicts a visit than the level alone, out of sample: at each fold of a bin seen in an earlier
period, ``e0 = v - level`` and ``e1 = v - level - o[b]``; the share ``1 - sum(e1**2) /
sum(e0**2)`` is near 1 for a clear cycle and below 0 for white noise (the bins then add their
own noise), a drift (all bins equal: ``o = 0``), a random walk or an AR(1) process (measured:
no false daily cycle in 60 seeded runs each of AR(1) at 0.99 and 0.999 and of a random walk). A third 7-bin
candidate learns each day's mean squared miss of the daily profile: a daily cycle whose shape
differs on some weekdays (flat weekends) shows there. At the end of each day:

- from 3 days of data (two days of out-of-sample tests: one day gave false cycles on slow
  AR(1) processes and random walks in 2 to 5 % of runs), a feature whose daily share reaches
  ``min_explained`` switches the daily profile on (from 2 days, one whose share reaches
  ``EARLY_EXPLAINED``, 0.8: a clear cycle is scored from the second day) (for the features that reach it; the others
  keep offsets 0);
- from 21 days (a week to learn the day-of-week values, two to test them: with one, white
  noise passed in 6 % of runs), a day-of-week share, or a daily profile's miss share, that
  reaches ``min_explained`` switches to a 168-bin weekly profile: the daily profile per hour
  plus the day-of-week offsets (weekdays where the daily profile misses twice the median start
  empty), so it scores at once and refines with each week;
- no daily cycle by day 7: the daily bins are dropped; no weekly cycle by day 28: the
  day-of-week bins are dropped, and a key with neither is *non-seasonal*: its state shrinks to
  ``{"s": 3}`` and it is not re-checked (a new ``model_version`` resets it; declare the period
  to force a profile). The candidates are not offsets: until a cycle is found, the offsets
  are 0.

*Points.* Timestamps are epoch seconds. A point earlier than the current visit (out of order)
is scored against the profile but not learned. Missing features (NaN, inf) are skipped one by
one; a visit without data for a feature leaves that feature alone. The scorer passes winsorised
values for flagged points to :meth:`~SeasonalProfile.learn`.

*State.* The bins are rounded at each fold to 6 significant digits of the feature's largest bin
and stored as packed decimals (:func:`detectors._packed.pack_decimals`, 4 bytes a bin); the
level, the detection sums and the open visit are exact floats, so a restored profile scores
exactly as the one that wrote it. JSON bytes for one feature (three): declared or found daily
~370 (~940), weekly ~1,170 (~3,360), non-seasonal 7 (7); ``"auto"`` while undecided ~650
(~1,700) for the first week, ~310 (~700) until day 28.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from detectors._checks import require_finite, require_int, state_field
from detectors._cycle import Cycle
from detectors._packed import pack_floats, unpack_floats
from detectors._seasonal_sums import _zeros
from detectors.base import DetectorError
from detectors.seasonal_auto import _DAILY, _DECLARED, _NONE, _UNDECIDED, _WEEKLY, WEEKDAYS
from detectors.seasonal_config import (
    DAILY_BINS,
    DAY,
    WEEK,
    WEEKLY_BINS,
    check_bins,
    check_period,
    seasonality_params,
)
from detectors.seasonal_walk import ProfileWalk


class SeasonalProfile(ProfileWalk):
    """Per-feature seasonal offsets of one key, learned online (see the module's Design).

    Parameters
    ----------
    n_features
        Number of features of each point.
    period
        Seconds in a season (at most 4 weeks), or ``"auto"``: find a daily or weekly cycle.
    bins
        Bins of a declared period (default :func:`detectors.seasonal_config.default_bins`); not
        with ``"auto"``.
    memory
        Periods (visits) a bin averages over, 1 to 9.
    min_explained
        ``"auto"``: share of a visit's squared error (about the level) that a cycle must remove,
        out of sample, to be switched on.

    Examples
    --------
    A daily cycle of amplitude 10 sampled every 10 minutes, declared:

    >>> ts = np.arange(0, 4 * 86400, 600.0)
    >>> rows = (100 + 10 * np.sin(2 * np.pi * ts / 86400))[:, None]
    >>> profile = SeasonalProfile(1, period=86400)
    >>> profile.active, profile.period
    (False, 86400.0)
    >>> early, late = ts < 2 * 86400, ts >= 2 * 86400
    >>> profile.learn(ts[early], rows[early])
    >>> profile.active
    True
    >>> residual = rows[late] - profile.offsets(ts[late], rows[late])
    >>> float(np.ptp(rows[late])), round(float(np.ptp(residual)), 1)  # x moves by 20, x - offset by 0.4
    (20.0, 0.4)

    The same series with ``"auto"``: the daily cycle is found after three days:

    >>> auto = SeasonalProfile(1, period="auto")
    >>> auto.learn(ts, rows)
    >>> auto.active, auto.period
    (True, 86400.0)

    One row at a time gives the offsets of the block:

    >>> one = SeasonalProfile(1, period=86400)
    >>> row_by_row = []
    >>> for t, x in zip(ts, rows):
    ...     row_by_row.append(one.offsets(t, x))
    ...     one.learn(t, x)
    >>> block = SeasonalProfile(1, period=86400).offsets(ts, rows)
    >>> bool(np.allclose(np.concatenate(row_by_row), block))
    True
    """

    def __init__(
        self,
        n_features: int,
        period: float | str = "auto",
        bins: int | None = None,
        memory: int = 4,
        min_explained: float = 0.3,
    ) -> None:
        self.n_features = require_int("n_features", n_features, 1)
        checked = check_period(period)
        if checked == "auto" and bins is not None:
            seasonality_params({"period": "auto", "bins": bins})  # raises, naming the field
        self.period_setting = checked
        self.bins = None if isinstance(checked, str) else check_bins(bins, checked)
        self.memory = require_int("memory", memory, 1)
        if memory > 9:
            raise DetectorError(f"memory must be at most 9 periods, got {memory}")
        self.min_explained = require_finite("min_explained", min_explained)
        if not 0.0 < self.min_explained < 1.0:
            raise DetectorError(f"min_explained must be between 0 and 1, got {min_explained!r}")
        self._main: Cycle | None
        self._weekdays: Cycle | None = None
        self._shapes: Cycle | None = None
        if isinstance(checked, float):
            assert self.bins is not None
            self._stage = _DECLARED
            self._main = Cycle(n_features, checked, self.bins, memory, tests=False)
            self._fine = self._main.width
        else:
            self._stage = _UNDECIDED
            self._main = Cycle(n_features, DAY, DAILY_BINS, memory, tests=True)
            self._weekdays = Cycle(n_features, WEEK, WEEKDAYS, memory, tests=True)
            self._shapes = Cycle(n_features, WEEK, WEEKDAYS, memory, tests=True)
            self._fine = DAY / DAILY_BINS
        self._start: float | None = None  # time of the first point (auto)
        self._visit: int | None = None  # absolute bin of the open visit
        self._visit_sums = _zeros(2, n_features)  # sums and counts of its values
        self._day: int | None = None  # day number of the open day (auto)
        # sums and counts of its values, and of the daily profile's squared misses
        self._day_sums = _zeros(4, n_features)

    # ------------------------------------------------------------------ properties

    @property
    def active(self) -> bool:
        """Whether the offsets can be non-zero: a declared period once a full period was seen,
        ``"auto"`` once a cycle was found."""
        if self._stage == _DECLARED:
            return self._main is not None and self._main.primed
        return self._stage in (_DAILY, _WEEKLY)

    @property
    def finding(self) -> bool:
        """Whether the period is ``"auto"`` (cycles are judged at the end of each day)."""
        return self._stage != _DECLARED

    @property
    def may_switch_on(self) -> bool:
        """Whether the offsets may still go from 0 to a profile (a declared period before its
        first full period, ``"auto"`` before a cycle is found or given up)."""
        return not self.active and self._stage != _NONE

    @property
    def visit_width(self) -> float:
        """Seconds of a bin: consecutive points of one are a visit (see the module's Design)."""
        return self._fine

    @property
    def period(self) -> float | None:
        """The period in use: the declared one, or the one found (None: none found, or not yet)."""
        if isinstance(self.period_setting, float):
            return self.period_setting
        return {_DAILY: DAY, _WEEKLY: WEEK}.get(self._stage)

    # ------------------------------------------------------------------ scoring

    def offsets(self, ts: object, rows: object) -> np.ndarray:
        """Shape ``(m, n_features)``: the offset each row is scored against when the rows are
        learned in order (row ``k``'s reflects rows before it); 0 where inactive. Learns nothing.

        ``ts`` is one timestamp or ``m`` of them, ``rows`` one row or ``m``."""
        return self._walk(ts, rows, learn=False)

    def learn(self, ts: object, rows: object) -> None:
        """Learn the rows in order (missing features skipped; earlier than the open visit:
        not learned)."""
        self._walk(ts, rows, learn=True)

    def _copy(self) -> SeasonalProfile:
        other = SeasonalProfile.__new__(SeasonalProfile)
        other.__dict__.update(self.__dict__)
        other._main = None if self._main is None else self._main.copy()
        other._weekdays = None if self._weekdays is None else self._weekdays.copy()
        other._shapes = None if self._shapes is None else self._shapes.copy()
        other._visit_sums = [row[:] for row in self._visit_sums]
        other._day_sums = [row[:] for row in self._day_sums]
        return other

    # ------------------------------------------------------------------ state

    def to_state(self) -> dict[str, Any]:
        """JSON-serialisable state: ``s`` the stage, ``c`` the profile's bins, ``w`` the
        day-of-week candidate, ``v`` / ``d`` the open visit / day (bin, packed sums), ``t0``
        the first point's time (auto). A key found non-seasonal keeps only ``s``.

        Examples
        --------
        >>> SeasonalProfile(2, period="auto").to_state()["s"]
        0
        """
        state: dict[str, Any] = {"s": self._stage}
        if self._stage == _NONE:
            return state
        if self._start is not None:
            state["t0"] = self._start
        if self._main is not None:
            state["c"] = self._main.to_state()
        if self._weekdays is not None:
            state["w"] = self._weekdays.to_state()
        if self._shapes is not None:
            state["e"] = self._shapes.to_state()
        if self._visit is not None:
            state["v"] = [self._visit, pack_floats(self._visit_sums[0] + self._visit_sums[1])]
        if self._day is not None:
            state["d"] = [self._day, pack_floats([x for row in self._day_sums for x in row])]
        return state

    @classmethod
    def from_state(
        cls, n_features: int, params: Mapping[str, Any] | None, state: Mapping[str, Any]
    ) -> SeasonalProfile:
        """Rebuild from the parameters (a configuration's ``seasonality``, or keyword arguments
        of the constructor) and a :meth:`to_state` dict (also after a JSON round trip).

        Examples
        --------
        >>> import json
        >>> ts = np.arange(0, 2 * 86400, 900.0)
        >>> rows = np.sin(2 * np.pi * ts / 86400)[:, None]
        >>> profile = SeasonalProfile(1, period=86400, bins=24)
        >>> profile.learn(ts, rows)
        >>> state = json.loads(json.dumps(profile.to_state()))
        >>> again = SeasonalProfile.from_state(1, {"period": 86400, "bins": 24}, state)
        >>> later = ts + 2 * 86400
        >>> bool((again.offsets(later, rows) == profile.offsets(later, rows)).all())
        True
        >>> SeasonalProfile.from_state(1, {"period": 86400, "bins": 48}, state)
        Traceback (most recent call last):
        ...
        detectors.base.DetectorError: seasonality state c m must hold 48 bins, got 24
        """
        profile = cls(n_features, **dict(params or {"period": "auto"}))
        owner = "seasonality state"
        stage = state_field(state, "s", owner)
        declared = isinstance(profile.period_setting, float)
        expected = [_DECLARED] if declared else [_UNDECIDED, _DAILY, _WEEKLY, _NONE]
        if stage not in expected or isinstance(stage, bool):
            raise DetectorError(f"{owner} s must be one of {expected}, got {stage!r}")
        profile._stage = stage
        if stage == _NONE:
            profile._main = profile._weekdays = profile._shapes = None
            return profile
        if stage in (_DAILY, _WEEKLY):
            period, bins = (DAY, DAILY_BINS) if stage == _DAILY else (WEEK, WEEKLY_BINS)
            profile._main = Cycle(n_features, period, bins, profile.memory, tests=False)
        if "c" in state and profile._main is not None:
            profile._main.load(state["c"], f"{owner} c")
        else:
            profile._main = None
        if "w" in state and profile._weekdays is not None and stage != _WEEKLY:
            profile._weekdays.load(state["w"], f"{owner} w")
        else:
            profile._weekdays = None
        if "e" in state and profile._shapes is not None and stage != _WEEKLY:
            profile._shapes.load(state["e"], f"{owner} e")
        else:
            profile._shapes = None
        t0 = state.get("t0")
        profile._start = None if t0 is None else require_finite(f"{owner} t0", t0)
        profile._visit, profile._visit_sums = _load_open(
            state.get("v"), f"{owner} v", n_features, 2
        )
        profile._day, profile._day_sums = _load_open(state.get("d"), f"{owner} d", n_features, 4)
        return profile


def _load_open(
    value: object, owner: str, n_features: int, rows: int
) -> tuple[int | None, list[list[float]]]:
    if value is None:
        return None, _zeros(rows, n_features)
    if not (
        isinstance(value, list)
        and len(value) == 2
        and isinstance(value[0], int)
        and not isinstance(value[0], bool)
    ):
        raise DetectorError(f"{owner} must be [bin, packed sums], got {value!r}")
    numbers = unpack_floats(owner, value[1], rows * n_features)
    return value[0], [numbers[k * n_features : (k + 1) * n_features] for k in range(rows)]
