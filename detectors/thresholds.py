"""Alert thresholds on detector scores: a fixed value, or one adapted to recent scores.

The adaptive threshold is a Hampel identifier on the scores (median + k * 1.4826 * MAD; Leys et
al. 2013, "Detecting outliers: Do not use standard deviation around the mean, use absolute
deviation around the median"); it has no river counterpart and is checked against numpy.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from typing import Any, Protocol

from detectors._checks import require_floats, require_int, require_positive, state_field
from detectors._robust import median_and_scaled_mad
from detectors.base import DetectorError

THRESHOLD_STRATEGIES = ("adaptive", "static")


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

    def __init__(self, value: float) -> None:
        self.value = require_positive("threshold", value)

    def get(self) -> float:
        """The configured value."""
        return self.value

    def learn(self, score: float) -> None:
        """Do nothing: a static threshold does not learn."""

    def to_state(self) -> dict[str, Any]:
        """An empty dict: there is nothing learned."""
        return {}

    @classmethod
    def from_state(cls, state: Mapping[str, Any], *, value: float) -> StaticThreshold:
        """Build from the configured value; ``state`` carries nothing."""
        return cls(value)


class AdaptiveThreshold:
    """``max(floor, median + sensitivity * 1.4826 * MAD)`` of the recent scores.

    Keeps the last ``window`` finite learned scores. Until it holds ``min_history`` of them,
    :meth:`get` returns ``floor``. Scores are rounded to 6 significant digits when learned (not
    only when stored) so that the stored state stays small and a restored threshold behaves
    exactly like the original.

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

    Examples
    --------
    >>> threshold = AdaptiveThreshold(sensitivity=3.0, window=5, floor=2.0, min_history=3)
    >>> threshold.learn(1.0)
    >>> threshold.learn(0.5)
    >>> threshold.get()
    2.0
    >>> for score in [1.5, 1.0, 0.123456789]:
    ...     threshold.learn(score)
    >>> threshold.to_state()
    {'history': [1.0, 0.5, 1.5, 1.0, 0.123457]}
    >>> round(threshold.get(), 4)
    3.2239
    """

    def __init__(self, sensitivity: float, window: int, floor: float, min_history: int = 8) -> None:
        self.sensitivity = require_positive("sensitivity", sensitivity)
        self.min_history = require_int("min_history", min_history, 1)
        self.window = require_int("window", window, self.min_history)
        self.floor = require_positive("floor", floor)
        self._history: deque[float] = deque(maxlen=self.window)
        self._cached: float | None = None

    def get(self) -> float:
        """The floor, or the robust upper bound of the recent scores if that is higher."""
        if self._cached is None:
            value = self.floor
            if len(self._history) >= self.min_history:
                center, spread = median_and_scaled_mad(self._history)
                value = max(self.floor, center + self.sensitivity * spread)
            self._cached = value
        return self._cached

    def learn(self, score: float) -> None:
        """Append ``score`` rounded to 6 significant digits; NaN and inf are ignored."""
        if math.isfinite(score):
            self._history.append(float(f"{score:.6g}"))
            self._cached = None

    def to_state(self) -> dict[str, Any]:
        """Recent scores, oldest first."""
        return {"history": list(self._history)}

    @classmethod
    def from_state(
        cls,
        state: Mapping[str, Any],
        *,
        sensitivity: float,
        window: int,
        floor: float,
        min_history: int = 8,
    ) -> AdaptiveThreshold:
        """Build from the parameters and a :meth:`to_state` dict (newest ``window`` scores kept).

        Examples
        --------
        >>> state = {"history": [1.0, 2.0, 3.0]}
        >>> t = AdaptiveThreshold.from_state(state, sensitivity=1, window=2, floor=1,
        ...                                  min_history=2)
        >>> t.to_state()
        {'history': [2.0, 3.0]}
        """
        threshold = cls(sensitivity, window, floor, min_history)
        history = require_floats(
            "threshold state history", state_field(state, "history", "threshold")
        )
        threshold._history.extend(history)
        return threshold


def make_threshold(
    strategy: str,
    *,
    threshold: float,
    sensitivity: float,
    window: int,
    state: Mapping[str, Any] | None = None,
) -> StaticThreshold | AdaptiveThreshold:
    """Build the threshold for ``strategy`` ("static" or "adaptive"), optionally from state.

    ``threshold`` is the static value, or the floor of the adaptive threshold.

    Examples
    --------
    >>> make_threshold("static", threshold=3.0, sensitivity=3.0, window=64).get()
    3.0
    >>> make_threshold("adaptive", threshold=3.0, sensitivity=2.5, window=64).window
    64
    >>> make_threshold("x", threshold=3.0, sensitivity=3.0, window=64)
    Traceback (most recent call last):
    ...
    detectors.base.DetectorError: unknown threshold strategy 'x'; choose one of: adaptive, static
    """
    if strategy == "static":
        return StaticThreshold.from_state(state or {}, value=threshold)
    if strategy == "adaptive":
        if state is None:
            return AdaptiveThreshold(sensitivity, window, threshold)
        return AdaptiveThreshold.from_state(
            state, sensitivity=sensitivity, window=window, floor=threshold
        )
    raise DetectorError(
        f"unknown threshold strategy {strategy!r}; choose one of: {', '.join(THRESHOLD_STRATEGIES)}"
    )
