"""A threshold set from a false-alarm budget: about ``alerts_per_day`` scores above it a day.

Peaks over threshold, as SPOT does (Siffer et al. 2017, "Anomaly detection in streams with
extreme value theory", KDD): a high quantile ``t`` of the scores, a generalised Pareto tail fitted
to the excesses over it, and the threshold ``z_q = t + (sigma / gamma) * ((q n / N_t) ** -gamma
- 1)`` (``t - sigma ln(q n / N_t)`` as gamma goes to 0) whose tail probability is the budget
``q = alerts_per_day / points_per_day``. DSPOT's drift term is left out: the scores are already
detrended (deviations in the detector's own units, against a baseline that follows the series).

What differs from SPOT, and why:

- ``t`` is the ``level`` quantile of the last block of ``calibration`` learned scores (the
  ``(1 - level) * calibration + 1``-th largest, kept in a short sorted list while the block
  fills), re-estimated at the end of every block, so that ``N_t / n`` is ``1 - level`` by
  construction. SPOT fixes ``t`` once; here the first block is learned under the floor, and a
  floor below the scores' usual level would otherwise fix ``t`` far too low for ever.
- The scorer never learns a flagged score, so every learned excess was at most the threshold
  of its time (minus ``t``): the sample is right-truncated, and exactly where the tail lies. A
  moment or Grimshaw (untruncated maximum likelihood) fit of it sees no tail beyond the
  threshold, puts the threshold lower, which hides more of the tail: on |N(0, 1)| scores at one
  a minute the method of moments gave 1.6 alerts a day for a budget of 1, and 5 on |t(3)|. So
  each excess is stored with the truncation point of its time, and the fit maximises the
  truncated likelihood ``sum(ln g(y_i) - ln G(L_i))``; the alerts themselves are a fraction
  ``q`` of the scores, so the learned share of scores above ``t`` is ``(f - q) / (1 - q)`` of
  the true share ``f``.
- Below the threshold, a tail's shape shows little of itself (a handful of excesses near the
  truncation point carry it): the profile likelihood is flat in gamma, and the maximum jumps
  between the bounds. So gamma is not picked but averaged: over a grid on ``[0, max_shape]``,
  each shape weighted by its profile likelihood (a flat prior; Bayesian model averaging), and
  the threshold is where the averaged survival reaches the budget. ``max_shape`` trades light
  tails against heavy ones: at 0.3 (the default), 30 days of minute scores gave about 0.5
  alerts a day for a budget of 1 on |N(0, 1)| and about 2 on |t(3)| (docs in the README).
- ``points_per_day`` comes from the event times of the learned scores: an exponentially
  weighted mean of the intervals, each clipped to 8 times the current mean (a night without
  data is one long interval that would otherwise halve the rate at once). An arithmetic mean
  rather than a geometric one or a median, which take irregular (Poisson) arrivals for 1.8 and
  1.4 times as many points. Until a time is known: 1,440 a day (one a minute).

Excesses, their truncation points and the block's largest scores are kept rounded to a
hundredth of the floor's order of magnitude (0.01 for a floor of 3, 0.001 for 0.5), packed by
:func:`detectors._packed.pack_decimals`: with 64 excesses (and 3 awaiting the next fit) the
state is about 460 bytes of JSON. A learned score costs about 9 us (a fit of the tail, every 4
excesses, about 0.9 ms), against 45 us for the adaptive threshold's, on the same machine.
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from detectors._checks import require_finite, require_floats, require_int, require_positive
from detectors._packed import pack_decimals, unpack_decimals
from detectors.base import DetectorError
from detectors.budget_tail import DAY, SHAPE_POINTS, TailFit

_OWNER = "budget threshold"
#: Seconds between points while no event time is known (1,440 points a day).
DEFAULT_GAP = 60.0
#: Weight of each new interval in the mean interval; an interval counts at most this many
#: times the current mean.
GAP_FADE, GAP_CLIP = 0.01, 8.0
#: Excesses added between two fits of the tail (a fit costs about 50 numpy operations).
FIT_EVERY = 4


class BudgetThreshold(TailFit):
    """About ``alerts_per_day`` scores above the threshold per day, never below ``floor``
    (see the module doc for the method).

    Parameters
    ----------
    alerts_per_day
        Target rate of scores above the threshold, per day of event time, positive.
    floor
        Lowest threshold returned, positive; also the threshold during the first
        ``calibration`` learned scores.
    level
        Quantile of the scores above which excesses are peaks, in ``(0, 1)``; a budget near
        ``(1 - level)`` times the points per day leaves little tail to fit.
    calibration
        Learned scores per block; each block's ``level`` quantile is the next ``t``. At least
        10 scores of a block must lie above it: ``(1 - level) * calibration >= 10``.
    peaks
        Excesses kept (the newest), at least as many as a block holds above ``t``.
    max_shape
        Heaviest generalised Pareto shape averaged over, in ``[0, 0.5]`` (0: exponential tail).

    Examples
    --------
    >>> threshold = BudgetThreshold(alerts_per_day=1.0, floor=3.0, calibration=500)
    >>> rng = np.random.default_rng(7)
    >>> scores = np.abs(rng.standard_normal(3000)).tolist()
    >>> for score in scores[:499]:
    ...     threshold.learn(score)
    >>> threshold.get()  # the floor until a block is learned
    3.0
    >>> for score in scores[499:]:
    ...     if score <= threshold.get():  # the scorer learns what it does not flag
    ...         threshold.learn(score)
    >>> round(threshold.t, 2), round(threshold.get(), 2), len(threshold.peaks)
    (2.21, 3.48, 67)
    >>> round(threshold.points_per_day)  # no event times: one point a minute
    1440
    """

    def __init__(
        self,
        alerts_per_day: float,
        floor: float,
        *,
        level: float = 0.98,
        calibration: int = 1000,
        peaks: int = 64,
        max_shape: float = 0.3,
    ) -> None:
        self.alerts_per_day = require_positive("alerts_per_day", alerts_per_day)
        self.floor = require_positive("floor", floor)
        self.level = require_finite("level", level)
        if not 0.0 < self.level < 1.0:
            raise DetectorError(f"level must be between 0 and 1, got {level!r}")
        self.calibration = require_int("calibration", calibration, 1)
        self._above = round((1.0 - self.level) * self.calibration)  # scores above t per block
        if self._above < 10:
            raise DetectorError(
                f"calibration must hold at least 10 scores above the level quantile: "
                f"(1 - level) * calibration >= 10, got {calibration!r} at level {self.level!r}"
            )
        self.peaks_kept = require_int("peaks", peaks, self._above)
        self.max_shape = require_finite("max_shape", max_shape)
        if not 0.0 <= self.max_shape <= 0.5:
            raise DetectorError(f"max_shape must be in [0, 0.5], got {max_shape!r}")
        self._digits = max(0, 2 - math.floor(math.log10(self.floor)))
        count = SHAPE_POINTS if self.max_shape > 0 else 1
        self._shapes = np.linspace(0.0, self.max_shape, count)
        self._share = self._above / self.calibration  # learned share of scores above t
        # learned state
        self._t: float | None = None
        self._block = 0  # scores learned in the current block
        self._top: list[float] = []  # its largest scores, ascending
        # the newest ``peaks`` excesses were fitted; up to FIT_EVERY - 1 newer ones wait
        kept = self.peaks_kept + FIT_EVERY - 1
        self._excess: deque[float] = deque(maxlen=kept)
        self._limits: deque[float] = deque(maxlen=kept)  # 0: not truncated
        self._pending = 0  # excesses added since the last fit
        self._gap = DEFAULT_GAP
        self._last: float | None = None
        # derived from the learned state
        self._weights: list[float] = []
        self._scales: list[float] = []
        self._solved: float | None = None  # the quantised ln q of the last solve
        self._value = self.floor

    # ------------------------------------------------------------------ reading

    def get(self) -> float:
        """The current threshold: the floor, or ``t`` plus the budget's excess if higher."""
        return self._value

    @property
    def t(self) -> float | None:
        """The peaks' threshold (the last block's ``level`` quantile), None before a block."""
        return self._t

    @property
    def peaks(self) -> list[float]:
        """The kept excesses over ``t`` (over the ``t`` of their time), oldest first: the
        ``peaks`` of the last fit and those added since."""
        return list(self._excess)

    @property
    def points_per_day(self) -> float:
        """Learned scores per day of event time (1,440 while no time is known)."""
        return DAY / self._gap

    # ----------------------------------------------------------------- learning

    def learn(self, score: float, ts: float | None = None) -> None:
        """Learn ``score`` (NaN and inf are ignored), seen at event time ``ts`` (seconds)."""
        if math.isfinite(score):
            self._learn(score, ts)

    def _learn(self, score: float, ts: float | None) -> None:
        if ts is not None and math.isfinite(ts):
            last = self._last
            if last is not None and ts >= last:
                self._gap += GAP_FADE * (min(ts - last, GAP_CLIP * self._gap) - self._gap)
            if last is None or ts > last:
                self._last = ts
        x = round(score, self._digits)
        top = self._top
        if len(top) <= self._above:
            bisect.insort(top, x)
        elif x > top[0]:
            del top[0]
            bisect.insort(top, x)
        t = self._t
        if t is not None and x > t:
            self._add_peak(x, t, self._value)
            if self._pending >= FIT_EVERY:
                self._fit()
        self._block += 1
        if self._block >= self.calibration:
            first = t is None
            self._t = t = top[0]
            if first:
                for value in top[1:]:
                    self._add_peak(value, t, self.floor)
                self._fit()
            self._top, self._block = [], 0
            self._solved = None
        self._update()

    def _add_peak(self, x: float, t: float, limit: float) -> None:
        y = round(x - t, self._digits)
        cut = round(limit - t, self._digits)
        self._excess.append(y)
        self._limits.append(cut if 0.0 < y <= cut else 0.0)
        self._pending += 1

    def settle(
        self,
        scores: np.ndarray,
        warm: np.ndarray,
        guess: np.ndarray | None = None,
        ts: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray, int]:
        """:meth:`detectors.thresholds.AdaptiveThreshold.settle` (walk ``scores`` in order;
        a row is flagged when ``warm``, finite and above the threshold before it; the finite
        rows not flagged are learned, with their ``ts``; given ``guess``, stop after the first
        row whose flag differs from it).

        Examples
        --------
        >>> threshold = BudgetThreshold(1.0, floor=2.0, level=0.5, calibration=20, peaks=10)
        >>> limits, flags, done = threshold.settle(
        ...     np.array([1.0, 2.5, np.nan, 1.5]), np.array([True, True, True, False]))
        >>> limits.tolist(), flags.tolist(), done
        ([2.0, 2.0, 2.0, 2.0], [False, True, False, False], 4)
        """
        n = len(scores)
        values = scores.tolist()
        finite = np.isfinite(scores)
        learnable = finite.tolist()
        eligible = (warm & finite).tolist()
        times: Sequence[float | None] = [None] * n if ts is None else ts.tolist()
        expected = guess.tolist() if guess is not None else None
        limits = [0.0] * n
        flags = [False] * n
        done = n
        for k in range(n):
            value = self._value
            limits[k] = value
            score = values[k]
            flag = eligible[k] and score > value
            if flag:
                flags[k] = True
            elif learnable[k]:
                self._learn(score, times[k])
            if expected is not None and flag != expected[k]:
                done = k + 1
                break
        return np.array(limits[:done]), np.array(flags[:done], dtype=bool), done

    # -------------------------------------------------------------------- state

    def to_state(self) -> dict[str, Any]:
        """The learned state, JSON-serialisable: ``t`` (absent before the first block), the
        block's count and largest scores, the excesses and their truncation points (packed by
        :func:`detectors._packed.pack_decimals` when exact, else lists), how many of them came
        after the last fit, the mean interval between points and the last event time (absent
        until one is known).

        Examples
        --------
        >>> threshold = BudgetThreshold(1.0, floor=3.0, calibration=500)
        >>> for k in range(3):
        ...     threshold.learn(0.5 * k, ts=60.0 * k)
        >>> threshold.to_state()
        {'block': 3, 'top': '1bAAUK', 'excess': '0b', 'limits': '0b', 'pending': 0, 'gap': 60.0, 'last': 120.0}
        """
        state: dict[str, Any] = {}
        if self._t is not None:
            state["t"] = self._t
        state["block"] = self._block
        for key, values in (("top", self._top), ("excess", self._excess), ("limits", self._limits)):
            packed = pack_decimals(list(values))
            state[key] = list(values) if packed is None else packed
        state["pending"] = self._pending
        state["gap"] = self._gap
        if self._last is not None:
            state["last"] = self._last
        return state

    @classmethod
    def from_state(
        cls,
        state: Mapping[str, Any],
        *,
        alerts_per_day: float,
        floor: float,
        **tuning: Any,
    ) -> BudgetThreshold:
        """Build from the parameters (``tuning``: the constructor's keyword arguments) and a
        :meth:`to_state` dict; the threshold behaves exactly like the one that wrote it
        (newest ``peaks`` excesses kept).

        Examples
        --------
        >>> import json
        >>> rng = np.random.default_rng(3)
        >>> a = BudgetThreshold(2.0, floor=1.0, calibration=500)
        >>> for score in np.abs(rng.standard_normal(1500)).tolist():
        ...     a.learn(score)
        >>> b = BudgetThreshold.from_state(json.loads(json.dumps(a.to_state())),
        ...                                alerts_per_day=2.0, floor=1.0, calibration=500)
        >>> b.get() == a.get(), b.to_state() == a.to_state()
        (True, True)
        >>> for score in np.abs(rng.standard_normal(500)).tolist():
        ...     a.learn(score)
        ...     b.learn(score)
        >>> b.get() == a.get(), round(a.get(), 3)
        (True, 3.742)
        """
        threshold = cls(alerts_per_day, floor, **tuning)
        if not isinstance(state, Mapping):
            raise DetectorError(f"{_OWNER} state must be an object, got {state!r}")
        if "t" in state:
            threshold._t = require_finite(f"{_OWNER} state t", state["t"])
        threshold._block = require_int(f"{_OWNER} state block", state.get("block", 0), 0)
        lists = {key: _floats(state.get(key, []), key) for key in ("top", "excess", "limits")}
        if len(lists["excess"]) != len(lists["limits"]):
            raise DetectorError(f"{_OWNER} state excess and limits must have as many values")
        threshold._top = sorted(lists["top"])[-(threshold._above + 1) :]
        threshold._excess.extend(lists["excess"])
        threshold._limits.extend(lists["limits"])
        pending = require_int(f"{_OWNER} state pending", state.get("pending", 0), 0)
        if pending >= FIT_EVERY or pending > len(threshold._excess):
            raise DetectorError(f"{_OWNER} state pending must be below {FIT_EVERY}, got {pending}")
        threshold._gap = require_positive(f"{_OWNER} state gap", state.get("gap", DEFAULT_GAP))
        if "last" in state:
            threshold._last = require_finite(f"{_OWNER} state last", state["last"])
        if threshold._t is not None:
            threshold._fit(pending)
            threshold._update()
        else:
            threshold._pending = pending
        return threshold


def _floats(value: object, key: str) -> list[float]:
    if isinstance(value, str):
        return unpack_decimals(f"{_OWNER} state {key}", value)
    return require_floats(f"{_OWNER} state {key}", value)
