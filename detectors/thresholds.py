"""Alert thresholds on detector scores: a fixed value, one adapted to recent scores, or one set
from a false-alarm budget (:class:`detectors.budget.BudgetThreshold`).

The adaptive threshold is a Hampel identifier on the scores (median + k * 1.4826 * MAD; Leys et
al. 2013, "Detecting outliers: Do not use standard deviation around the mean, use absolute
deviation around the median"); it has no river counterpart and is checked against numpy.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from typing import Any, Final, Protocol

import numpy as np

from detectors._batch import first_true
from detectors._checks import require_floats, require_int, require_positive, state_field
from detectors._hampel_walk import WalkRows, quiet_limits, round6_one
from detectors._packed import pack_decimals, unpack_decimals
from detectors._robust import median_and_scaled_mad
from detectors.base import DetectorError
from detectors.budget import BudgetThreshold

THRESHOLD_STRATEGIES = ("adaptive", "budget", "static")
STRETCH_ROWS = 1024  # rows of one stretch of the adaptive threshold's walk, at most
STRETCH_VALUES = 1 << 20  # scores sorted at once by the adaptive threshold's stretches, at most
#: True when this module runs compiled (mypyc): its row-by-row walk then costs less than the
#: numpy stretches, which exist because the interpreted loop costs more (same floats either way).
COMPILED: Final = not __file__.endswith(".py")


class Threshold(Protocol):
    """What the scorer needs from a threshold.

    Examples
    --------
    >>> threshold: Threshold = StaticThreshold(3.0)
    >>> threshold.get()
    3.0
    """

    def get(self) -> float:
        """Current threshold; a score strictly above it is anomalous."""
        ...

    def learn(self, score: float) -> None:
        """Take a score that was not flagged into account."""
        ...

    def to_state(self) -> dict[str, Any]:
        """JSON-serialisable learned state."""
        ...


class StaticThreshold:
    """A fixed threshold.

    Parameters
    ----------
    value
        The threshold, finite and positive.

    Examples
    --------
    >>> threshold = StaticThreshold(3.5)
    >>> threshold.learn(100.0)
    >>> threshold.get()
    3.5
    >>> threshold.to_state()
    {}
    >>> StaticThreshold.from_state({}, value=2.0).get()
    2.0
    """

    def __init__(self, value: object) -> None:
        self.value = require_positive("threshold", value)

    def get(self) -> float:
        """The configured value."""
        return self.value

    def learn(self, score: float) -> None:
        """Do nothing: a static threshold does not learn."""

    def settle(
        self, scores: np.ndarray, warm: np.ndarray, guess: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray, int]:
        """:meth:`AdaptiveThreshold.settle` for the fixed value, in one vectorised pass.

        Examples
        --------
        >>> limits, flags, done = StaticThreshold(3.0).settle(
        ...     np.array([1.0, 4.0, 5.0, np.nan]), np.array([True, True, False, True]))
        >>> limits.tolist(), flags.tolist(), done
        ([3.0, 3.0, 3.0, 3.0], [False, True, False, False], 4)
        >>> StaticThreshold(3.0).settle(np.array([1.0, 4.0, 5.0]), np.ones(3, dtype=bool),
        ...                             guess=np.zeros(3, dtype=bool))[2]
        2
        """
        with np.errstate(invalid="ignore"):
            flags: np.ndarray = warm & np.isfinite(scores) & (scores > self.value)
        done = len(scores) if guess is None else min(len(scores), first_true(flags != guess) + 1)
        return np.full(done, self.value), flags[:done], done

    def to_state(self) -> dict[str, Any]:
        """An empty dict: there is nothing learned."""
        return {}

    @classmethod
    def from_state(cls, state: Mapping[str, Any], *, value: float) -> StaticThreshold:
        """Build from the configured value; ``state`` carries nothing."""
        return cls(value)


class AdaptiveThreshold:
    """``max(floor, median + sensitivity * 1.4826 * MAD)`` of the recent scores.

    Keeps the last ``window`` finite learned scores, rounded to 6 significant digits (so the
    stored state stays small and a restored threshold behaves exactly like the original). The
    threshold is recomputed after every learned score while the history is filling, then after
    every ``refresh`` learned scores (a median per ``refresh`` points instead of per point, so
    the batch path costs little; the threshold of a steady series moves slowly anyway). Until
    the history holds ``min_history`` scores, it is ``floor``.

    Parameters
    ----------
    sensitivity
        Number of robust standard deviations above the median score, positive.
    window
        Number of recent scores kept, at least ``min_history``.
    floor
        Lowest threshold returned, positive; also the threshold during the first scores.
    min_history
        Scores needed before the history is used, at least 1.
    refresh
        Learned scores between recomputations once the history is full, at least 1.

    Examples
    --------
    >>> threshold = AdaptiveThreshold(sensitivity=3.0, window=5, floor=2.0, min_history=3)
    >>> threshold.learn(1.0)
    >>> threshold.learn(0.5)
    >>> threshold.get()
    2.0
    >>> for score in [1.5, 1.0, 0.123456789]:
    ...     threshold.learn(score)
    >>> state = threshold.to_state()
    >>> threshold.history, round(state["value"], 4), state["since"]
    ([1.0, 0.5, 1.5, 1.0, 0.123457], 3.2239, 0)
    >>> round(threshold.get(), 4)
    3.2239
    """

    def __init__(
        self,
        sensitivity: float,
        window: int,
        floor: float,
        min_history: int = 8,
        refresh: int = 16,
    ) -> None:
        self.sensitivity = require_positive("sensitivity", sensitivity)
        self.min_history = require_int("min_history", min_history, 1)
        self.window = require_int("window", window, self.min_history)
        self.floor = require_positive("floor", floor)
        self.refresh = require_int("refresh", refresh, 1)
        self._history: deque[float] = deque(maxlen=self.window)
        self._value = self.floor
        self._since = 0  # learned scores since the last recomputation

    def get(self) -> float:
        """The floor, or the robust upper bound of the recent scores if that is higher."""
        return self._value

    def _compute(self) -> float:
        if len(self._history) < self.min_history:
            return self.floor
        center, spread = median_and_scaled_mad(self._history)
        return max(self.floor, center + self.sensitivity * spread)

    def learn(self, score: float) -> None:
        """Append ``score`` rounded to 6 significant digits; NaN and inf are ignored."""
        if math.isfinite(score):
            filling = len(self._history) < self.window
            self._history.append(round6_one(score))
            self._since += 1
            if filling or self._since >= self.refresh:
                self._value = self._compute()
                self._since = 0

    def settle(
        self, scores: np.ndarray, warm: np.ndarray, guess: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray, int]:
        """Walk ``scores`` in order as the scorer does one point at a time, learning as it goes:
        a score is flagged when ``warm`` and finite and above the threshold before it, and the
        finite scores not flagged are learned. Returns the threshold before each row walked, the
        flags, and how many rows were walked: all of them, or (given ``guess``, the flags
        expected) up to and including the first row whose flag differs from its guess.

        Once the history is full, stretches where nothing is flagged go at once
        (:func:`detectors._hampel_walk.quiet_limits`: every recomputation of the stretch from
        one sort of its windows) up to the first flagged row; the rest, and stretches cut short
        by flags close together, go row by row (a Python loop over floats, with a median per
        ``refresh`` learned scores). Both give the same floats.

        Examples
        --------
        >>> threshold = AdaptiveThreshold(sensitivity=3.0, window=4, floor=2.0, min_history=2)
        >>> limits, flags, done = threshold.settle(np.array([1.0, 1.5, 9.0, 1.0, np.nan]),
        ...                                        np.ones(5, dtype=bool))
        >>> limits.round(4).tolist(), flags.tolist(), done
        ([2.0, 2.0, 2.362, 2.362, 2.0], [False, False, True, False, False], 5)
        >>> threshold.history
        [1.0, 1.5, 1.0]
        >>> threshold.settle(np.array([1.0, 9.0, 1.0]), np.ones(3, dtype=bool),
        ...                  guess=np.zeros(3, dtype=bool))[1:]
        (array([False,  True]), 2)
        """
        rows = WalkRows.of(scores, warm, guess, self._value)
        n, k = len(scores), 0
        # A stretch is at most STRETCH_ROWS rows (each contradiction re-walks the rest of its
        # stretch: a whole long block would make that quadratic) and sorts about
        # STRETCH_VALUES scores at once (a window per `refresh` rows).
        span = max(self.refresh, min(STRETCH_ROWS, self.refresh * STRETCH_VALUES // self.window))
        while k < n:
            if COMPILED or len(self._history) < self.window or self._since >= self.refresh:
                k, stopped = self._walk(rows, k, n)
            else:
                start = k
                k, stopped = self._stretch(rows, k, min(n, k + span))
                if k - start < 32 and k < n and not stopped:  # flags close together: the loop
                    k, stopped = self._walk(rows, k, min(n, k + 32))
            if stopped:
                return rows.limits[:k], rows.flags[:k], k
        return rows.limits, rows.flags, n

    def _walk(self, rows: WalkRows, start: int, stop: int) -> tuple[int, bool]:
        """:meth:`settle` row by row over ``start .. stop`` (or until the history is full and
        the stretches can take over): fills the rows' limits and flags, returns the next row
        and whether a row's flag differed from its guess (the walk stops after that row)."""
        values: list[float] = np.where(
            rows.finite[start:stop], rows.scores[start:stop], np.nan
        ).tolist()
        learned: list[float] = rows.rounded[start:stop].tolist()
        candidate: list[bool] = rows.eligible[start:stop].tolist()
        guessed = rows.guess is not None
        expected: list[bool] = rows.guess[start:stop].tolist() if rows.guess is not None else []
        history, window, refresh = self._history, self.window, self.refresh
        size = len(history)
        hand_over = size < window or self._since >= refresh
        value: float = self._value
        since: int = self._since
        # the threshold of each row is that of the last change before it: the values and the
        # rows they start at, and the flagged rows, written to the arrays at the end
        levels: list[float] = [value]
        changes: list[int] = [0]
        flagged: list[int] = []
        arrived: list[float] = []  # learned scores not in the history yet (added in bulk)
        stopped = False
        walked = stop - start
        for i in range(stop - start):
            score = values[i]
            flag = candidate[i] and score > value
            if flag:
                flagged.append(i)
            elif score == score:  # finite (not NaN): learned
                filling = size < window
                arrived.append(learned[i])
                if filling:
                    size += 1
                since += 1
                if filling or since >= refresh:
                    history.extend(arrived)
                    arrived.clear()
                    value = self._compute()
                    since = 0
                    levels.append(value)
                    changes.append(i + 1)
            if guessed and flag != expected[i]:
                stopped = True
                walked = i + 1
                break
            if hand_over and size == window and since < refresh:
                walked = i + 1
                break  # full: the stretches take over
        history.extend(arrived)
        self._value, self._since = value, since
        k = start + walked
        changes.append(walked)
        rows.limits[start:k] = np.repeat(levels, np.diff(changes))
        rows.flags[start:k] = False
        rows.flags[np.array(flagged, dtype=np.intp) + start] = True
        return k, stopped

    def _stretch(self, rows: WalkRows, start: int, stop: int) -> tuple[int, bool]:
        """:meth:`settle` over ``start .. stop`` at once, from the rows' predicted flags (the
        guess, or the rows above the threshold at the start): the thresholds those flags give
        (:func:`quiet_limits`) are right up to the first row whose flag they contradict. Without
        a guess, the flags found are the next prediction, for a few rounds. The rows before the
        contradiction are kept and learned, that row goes through :meth:`_walk`, and what was
        found predicts the rows after it. The same return as :meth:`_walk`."""
        predicted = rows.predicted[start:stop]
        finite = rows.finite[start:stop]
        history = np.array(self._history)
        for _ in range(4):  # flags found change later thresholds: a few rounds reach them
            found = quiet_limits(
                history,
                rows.rounded[start:stop],
                finite & ~predicted,
                self._value,
                self._since,
                self.refresh,
                self.sensitivity,
                self.floor,
            )
            if found is None:  # a median overflowed: the scalar rule
                return self._walk(rows, start, stop)
            quiet = found
            with np.errstate(invalid="ignore"):
                flagged = rows.eligible[start:stop] & (rows.scores[start:stop] > quiet[:-1])
            right = first_true(flagged != predicted)
            if right == stop - start or rows.guess is not None:
                break
            predicted = flagged
        rows.limits[start : start + right] = quiet[:right]
        rows.flags[start : start + right] = flagged[:right]
        learned = finite[:right] & ~flagged[:right]
        self._history.extend(rows.rounded[start : start + right][learned].tolist())
        self._value = float(quiet[right])
        self._since = (self._since + int(np.count_nonzero(learned))) % self.refresh
        if start + right == stop:
            return stop, False
        rows.predicted[start + right + 1 : stop] = flagged[right + 1 :]
        return self._walk(rows, start + right, start + right + 1)

    def to_state(self) -> dict[str, Any]:
        """Recent scores (oldest first; packed as :func:`detectors._packed.pack_decimals` does
        when that is exact, which the 6-digit rounding makes the rule), the current threshold
        and the scores since it was computed.

        Examples
        --------
        >>> threshold = AdaptiveThreshold(sensitivity=3.0, window=4, floor=2.0, min_history=2)
        >>> for score in [1.25, 0.5, 1.125]:
        ...     threshold.learn(score)
        >>> threshold.to_state()
        {'history': '3h4gT0AWUE', 'value': 2.0, 'since': 0}
        >>> AdaptiveThreshold.from_state(threshold.to_state(), sensitivity=3.0, window=4,
        ...                              floor=2.0, min_history=2).history
        [1.25, 0.5, 1.125]
        """
        history = pack_decimals(self._history)
        return {
            "history": list(self._history) if history is None else history,
            "value": self._value,
            "since": self._since,
        }

    @property
    def history(self) -> list[float]:
        """The recent learned scores, oldest first."""
        return list(self._history)

    @classmethod
    def from_state(
        cls,
        state: Mapping[str, Any],
        *,
        sensitivity: float,
        window: int,
        floor: float,
        min_history: int = 8,
        refresh: int = 16,
    ) -> AdaptiveThreshold:
        """Build from the parameters and a :meth:`to_state` dict (newest ``window`` scores kept).

        Examples
        --------
        >>> state = {"history": [1.0, 2.0, 3.0]}
        >>> t = AdaptiveThreshold.from_state(state, sensitivity=1, window=2, floor=1,
        ...                                  min_history=2)
        >>> t.history, t.get()
        ([2.0, 3.0], 3.2413)
        """
        threshold = cls(sensitivity, window, floor, min_history, refresh)
        history = state_field(state, "history", "threshold")
        if isinstance(history, str):  # packed (rows written before 2026-11-27 20:00 hold a list)
            history = unpack_decimals("threshold state history", history)
        history = require_floats("threshold state history", history)
        threshold._history.extend(history)
        if "value" in state:
            threshold._value = max(threshold.floor, float(state["value"]))
            threshold._since = require_int("threshold state since", state.get("since", 0), 0)
        else:
            threshold._value = threshold._compute()
        return threshold


def make_threshold(
    strategy: str,
    *,
    threshold: float,
    sensitivity: float,
    window: int,
    state: Mapping[str, Any] | None = None,
    alerts_per_day: float = 1.0,
) -> StaticThreshold | AdaptiveThreshold | BudgetThreshold:
    """Build the threshold for ``strategy`` ("static", "adaptive" or "budget"), optionally
    from state.

    ``threshold`` is the static value, or the floor of the adaptive and budget thresholds;
    ``sensitivity`` and ``window`` are the adaptive one's, ``alerts_per_day`` the budget's.

    Examples
    --------
    >>> make_threshold("static", threshold=3.0, sensitivity=3.0, window=64).get()
    3.0
    >>> make_threshold("adaptive", threshold=3.0, sensitivity=2.5, window=64).window
    64
    >>> make_threshold("budget", threshold=3.0, sensitivity=2.5, window=64,
    ...                alerts_per_day=4.0).alerts_per_day
    4.0
    >>> make_threshold("x", threshold=3.0, sensitivity=3.0, window=64)
    Traceback (most recent call last):
    ...
    detectors.base.DetectorError: unknown threshold strategy 'x'; choose one of: adaptive, budget, static
    """
    if strategy == "static":
        return StaticThreshold.from_state(state or {}, value=threshold)
    if strategy == "adaptive":
        if state is None:
            return AdaptiveThreshold(sensitivity, window, threshold)
        return AdaptiveThreshold.from_state(
            state, sensitivity=sensitivity, window=window, floor=threshold
        )
    if strategy == "budget":
        if state is None:
            return BudgetThreshold(alerts_per_day, threshold)
        return BudgetThreshold.from_state(state, alerts_per_day=alerts_per_day, floor=threshold)
    raise DetectorError(
        f"unknown threshold strategy {strategy!r}; choose one of: {', '.join(THRESHOLD_STRATEGIES)}"
    )
