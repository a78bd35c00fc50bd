"""Vectorised building blocks of the detectors' batch paths (numpy, no Python loop per point).

The batch paths give the same scores and decisions as feeding the points one by one (checked by
property tests); sums are reordered, so floating-point results agree to about 1e-12 relative.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from detectors._robust import MAD_SCALE

# Largest growth factor a scaled cumulative sum may reach before a chunk is cut.
_MAX_SCALE_LOG = 200.0 * math.log(10.0)


def ew_scan(inputs: np.ndarray, decay: float, start: float) -> np.ndarray:
    """``y_k = decay * y_(k-1) + inputs_k`` from ``y_0 = start``; returns ``y_1 .. y_K``.

    Computed with scaled cumulative sums in chunks short enough not to overflow.

    Examples
    --------
    >>> ew_scan(np.array([1.0, 1.0, 1.0]), 0.5, 0.0).round(12).tolist()
    [1.0, 1.5, 1.75]
    >>> ew_scan(np.array([2.0]), 0.0, 5.0).tolist()
    [2.0]
    """
    out = np.empty(len(inputs))
    if decay == 0.0:
        out[:] = inputs
        return out
    if decay == 1.0:
        np.cumsum(inputs, out=out)
        out += start
        return out
    step = -math.log(decay)
    chunk = max(1, int(_MAX_SCALE_LOG / step))
    y = start
    for lo in range(0, len(inputs), chunk):
        part = inputs[lo : lo + chunk]
        k = np.arange(1, len(part) + 1)
        grow = np.exp(k * step)  # decay ** -k
        out[lo : lo + len(part)] = (y + np.cumsum(part * grow)) / grow
        y = float(out[lo + len(part) - 1])
    return out


def rolling_median_mad(
    history: np.ndarray,
    new: np.ndarray,
    window: int,
    min_size: int,
    ks: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Median and 1.4826 * MAD of the last ``window`` values of ``history + new[:k]`` for each
    ``k`` in ``ks`` (default ``0 .. len(new)``); NaN where fewer than ``min_size`` values exist.

    Examples
    --------
    >>> med, mad = rolling_median_mad(np.array([1.0, 2.0]), np.array([3.0, 10.0]), 3, 2)
    >>> med.tolist(), mad.round(4).tolist()
    ([1.5, 2.0, 3.0], [0.7413, 1.4826, 1.4826])
    """
    values = np.concatenate([history[-window:], new])
    base = min(len(history), window)
    ks = np.arange(len(new) + 1) if ks is None else np.asarray(ks)
    sizes = np.minimum(base + ks, window)
    med = np.full(len(ks), np.nan)
    mad = np.full(len(ks), np.nan)
    full = np.nonzero(sizes == window)[0]
    if len(full):
        ends = base + ks[full]  # the window of k ends (exclusive) at base + k
        windows = sliding_window_view(values, window)[ends - window]
        m = np.median(windows, axis=1)
        med[full] = m
        mad[full] = MAD_SCALE * np.median(np.abs(windows - m[:, None]), axis=1)
    for index in np.nonzero((sizes < window) & (sizes >= max(min_size, 1)))[0]:
        part = values[: base + ks[index]]
        m_k = float(np.median(part))
        med[index] = m_k
        mad[index] = MAD_SCALE * float(np.median(np.abs(part - m_k)))
    return med, mad


def first_true(mask: np.ndarray) -> int:
    """Index of the first True, or ``len(mask)``.

    Examples
    --------
    >>> first_true(np.array([False, True, True])), first_true(np.array([False]))
    (1, 1)
    """
    hits = np.flatnonzero(mask)
    return int(hits[0]) if len(hits) else len(mask)
