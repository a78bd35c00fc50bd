"""The adaptive threshold's walk over a block, vectorised between flagged rows.

:meth:`detectors.thresholds.AdaptiveThreshold.settle` walks a block row by row: a row is flagged
when it is eligible and its score is above the threshold before it, an unflagged finite score is
learned, and once the history is full the threshold is recomputed (median + k * scaled MAD of
the last ``window`` learned scores) every ``refresh`` learned scores. Each row depends on the
flags before it, but given a guess of the flags the learned scores are known, so every
recomputation of a stretch can be done at once: :func:`quiet_limits` gives the threshold before
each row of a stretch if the guessed rows, and only those, are flagged. The flags those
thresholds give are right up to and including the first row where they contradict the guess
(scoring is causal); the walk keeps those rows, guesses again from what it found, and goes on.

The medians are taken with the arithmetic of :func:`detectors._robust.median_and_scaled_mad`
(sorted values, the mean of the two middle ones; ``|v - center|`` is exactly the ``center - v``
or ``v - center`` it takes), so the thresholds are the same floats, not merely close ones.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from detectors._robust import MAD_SCALE


def round6(values: np.ndarray) -> np.ndarray:
    """``values`` rounded to 6 significant digits (the adaptive history is kept at that precision
    to keep the state small).

    Examples
    --------
    >>> round6(np.array([0.123456789, 123456.789, -9.87654321e-5, 0.0, 5e-324])).tolist()
    [0.123457, 123457.0, -9.87654e-05, 0.0, 5e-324]
    """
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        digits = 5 - np.floor(np.log10(np.abs(values)))
        digits = np.where(np.isfinite(digits), digits, 0.0)
        scale = 10.0**digits
        rounded = np.round(values * scale) / scale
    awkward = np.isfinite(values) & ~np.isfinite(rounded)  # tiny values: the scale overflows
    if awkward.any():
        rounded[awkward] = [float(f"{v:.6g}") for v in values[awkward]]
    result: np.ndarray = rounded
    return result


# 10.0 ** d as numpy computes it in round6 for one value (its power differs from Python's ``**``
# in the last bit for some d, e.g. 1e-05), for the digits a finite nonzero float can need.
with np.errstate(over="ignore"):
    _SCALES = {d: float((10.0 ** np.array([float(d)]))[0]) for d in range(-303, 330)}


def round6_one(value: float) -> float:
    """``round6`` of one float, bit for bit, without numpy's cost per call (about 20 µs for a
    one-element array, most of it ``np.errstate``): the adaptive threshold rounds every score it
    learns, one at a time. Zero, non-finite and extreme values take ``round6`` itself.

    Examples
    --------
    >>> [round6_one(v) for v in (0.123456789, 123456.789, -9.87654321e-5, 0.0, 5e-324)]
    [0.123457, 123457.0, -9.87654e-05, 0.0, 5e-324]
    """
    if value and value - value == 0.0:  # finite, nonzero
        scale = _SCALES.get(5 - math.floor(math.log10(abs(value))))
        if scale is not None and scale != math.inf:
            rounded = round(value * scale) / scale
            if rounded - rounded == 0.0:
                return rounded
    return float(round6(np.array([value]))[0])


@dataclass
class WalkRows:
    """A block's rows as the walk reads them (scores, their 6-digit form, which are finite and
    which may be flagged, the guess) and fills them (threshold before each row, flags), with the
    flags predicted for the rows not walked yet.

    Examples
    --------
    >>> rows = WalkRows.of(np.array([1.0, np.nan, 5.0]), np.array([True, True, False]), None, 2.0)
    >>> rows.eligible.tolist(), rows.predicted.tolist()
    ([True, False, False], [False, False, False])
    """

    scores: np.ndarray
    rounded: np.ndarray
    finite: np.ndarray
    eligible: np.ndarray
    guess: np.ndarray | None
    predicted: np.ndarray
    limits: np.ndarray
    flags: np.ndarray

    @classmethod
    def of(
        cls, scores: np.ndarray, warm: np.ndarray, guess: np.ndarray | None, value: float
    ) -> WalkRows:
        """The rows of a walk starting at threshold ``value``; without a guess, the rows above
        it are predicted flagged."""
        finite = np.isfinite(scores)
        eligible = warm & finite
        if guess is None:
            with np.errstate(invalid="ignore"):
                predicted = eligible & (scores > value)
        else:
            predicted = guess.astype(bool, copy=True)
        return cls(
            scores,
            round6(np.where(finite, scores, 0.0)),
            finite,
            eligible,
            guess,
            predicted,
            np.empty(len(scores)),
            np.zeros(len(scores), dtype=bool),
        )


def window_bounds(windows: np.ndarray, sensitivity: float, floor: float) -> np.ndarray | None:
    """``max(floor, median + sensitivity * 1.4826 * MAD)`` of each row of ``windows``, with the
    arithmetic of :func:`detectors._robust.median_and_scaled_mad`; None when a median is not
    finite (the scalar path has its own rule for that).

    Examples
    --------
    >>> window_bounds(np.array([[1.0, 2.0, 3.0, 4.0, 100.0], [1.0, 1.0, 1.0, 1.0, 1.0]]), 2.0, 1.5)
    array([5.9652, 1.5   ])
    >>> window_bounds(np.array([[4.0, 1.0, 3.0, 2.0]]), 1.0, 0.1).round(4).tolist()
    [3.9826]
    """
    ordered = np.sort(windows, axis=1)
    mid = ordered.shape[1] // 2
    odd = ordered.shape[1] % 2
    with np.errstate(over="ignore", invalid="ignore"):
        center = ordered[:, mid] if odd else (ordered[:, mid - 1] + ordered[:, mid]) / 2.0
        if not np.isfinite(center).all():
            return None
        # |v - center| is center - v below it and v - center above it, float for float
        deviations = np.sort(np.abs(ordered - center[:, None]), axis=1)
        middle = deviations[:, mid] if odd else (deviations[:, mid - 1] + deviations[:, mid]) / 2.0
        bound = center + sensitivity * (MAD_SCALE * middle)
    result: np.ndarray = np.where(bound > floor, bound, floor)
    return result


def quiet_limits(
    history: np.ndarray,
    rounded: np.ndarray,
    learned: np.ndarray,
    value: float,
    since: int,
    refresh: int,
    sensitivity: float,
    floor: float,
) -> np.ndarray | None:
    """The threshold before each row of a stretch, and after its last row, if exactly the rows
    ``learned`` leaves out are flagged (``len(learned) + 1`` values).

    ``history`` is the full window of learned scores (oldest first), ``rounded`` the rows'
    scores as the history keeps them, ``learned`` which rows are learned (finite, not flagged), ``value`` and ``since``
    the threshold's state before the stretch (``since < refresh``). None when a median is not
    finite.

    Examples
    --------
    >>> quiet_limits(np.array([1.0, 2.0, 3.0, 4.0]), np.array([5.0, 0.0, 6.0, 7.0]),
    ...              np.array([True, False, True, True]), value=9.0, since=0, refresh=2,
    ...              sensitivity=1.0, floor=0.5).tolist()
    [9.0, 9.0, 9.0, 5.9826, 5.9826]
    """
    learned_at = np.flatnonzero(learned)
    # The learned scores after which the threshold is recomputed: the (refresh - since)-th and
    # every refresh-th after it (counted from 1).
    ends = np.arange(refresh - since, len(learned_at) + 1, refresh)
    if len(ends) == 0:
        return np.full(len(learned) + 1, value)
    sequence = np.concatenate([history, rounded[learned_at]])
    window = len(history)
    bounds = window_bounds(sequence[ends[:, None] + np.arange(window)], sensitivity, floor)
    if bounds is None:
        return None
    # A recomputation after the learned row at position p holds from row p + 1 on.
    in_force = np.searchsorted(learned_at[ends - 1], np.arange(len(learned) + 1), side="left")
    return np.concatenate([[value], bounds])[in_force]
