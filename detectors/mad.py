"""Rolling median / MAD detector (a robust z-score over a sliding window).

The rolling median matches river.stats.RollingQuantile(q=0.5, window_size=window).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from typing import Any, ClassVar, Self

import numpy as np

from detectors._batch import rolling_median_mad
from detectors._checks import require_floats, require_int, state_field
from detectors._robust import median_and_scaled_mad
from detectors.base import Detector, DetectorError, floored, floored_array


class RollingMAD(Detector):
    """Per-feature robust z-score ``(x - median) / (1.4826 * MAD)`` over the last values.

    The median and ``MAD = median(|v - median|)`` are taken over the last ``window`` finite
    values of each feature; 1.4826 makes the MAD estimate the standard deviation of normal data
    (Leys et al. 2013). A feature has a baseline from its 3rd value; the spread is floored by
    :func:`detectors.base.spread_floor`.

    Parameters
    ----------
    n_features
        Number of features of each point.
    window
        Number of recent values kept per feature, at least 3 (the engine passes the
        configuration's ``history_window``).

    Examples
    --------
    >>> det = RollingMAD(1, window=5)
    >>> for v in [10.0, 11.0, 9.0, 10.0, 12.0, 10.0]:
    ...     det.learn_one([v])
    >>> det.to_state()
    {'n': 6, 'window': [[11.0, 9.0, 10.0, 12.0, 10.0]]}
    >>> det.baseline()
    [(10.0, 1.4826)]
    >>> round(det.score_one([13.0]), 4)
    2.0235
    """

    name: ClassVar[str] = "mad"
    param_names: ClassVar[tuple[str, ...]] = ("window",)

    def __init__(self, n_features: int, window: int = 64) -> None:
        super().__init__(n_features)
        self.window = require_int("window", window, 3)
        self._values_seen: list[deque[float]] = [
            deque(maxlen=self.window) for _ in range(n_features)
        ]
        self._cache: list[tuple[float, float] | None] = [None] * n_features

    def _feature_baseline(self, i: int) -> tuple[float, float] | None:
        values = self._values_seen[i]
        if len(values) < 3:
            return None
        cached = self._cache[i]
        if cached is None:
            center, spread = median_and_scaled_mad(values)
            cached = (center, floored(center, spread))
            self._cache[i] = cached
        return cached

    learning = "bounded"

    def rebaseline(self, i: int, center: float, spread: float) -> None:
        """The window moves and stretches so that its median is ``center`` and its scaled MAD
        ``spread``; its shape is kept.

        Examples
        --------
        >>> det = RollingMAD(1, window=5)
        >>> for v in [10.0, 11.0, 9.0, 10.0, 12.0]:
        ...     det.learn_one([v])
        >>> det.rebaseline(0, 50.0, 2.9652)
        >>> det.to_state()["window"], det.baseline()
        ([[50.0, 52.0, 48.0, 50.0, 54.0]], [(50.0, 2.9652)])
        """
        values = self._values_seen[i]
        if len(values) < 3:
            return
        old_center, old_spread = median_and_scaled_mad(values)
        stretch = spread / old_spread if old_spread > 0 else 1.0
        moved = [center + (v - old_center) * stretch for v in values]
        values.clear()
        values.extend(moved)
        self._cache[i] = None

    def _learn_value(self, i: int, v: float) -> None:
        self._values_seen[i].append(v)
        self._cache[i] = None

    def _block_feature(self, i: int, column: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        finite = np.isfinite(column)
        seen = np.cumsum(finite) - finite
        history = np.array(self._values_seen[i], dtype=float)
        medians, mads = rolling_median_mad(history, column[finite], self.window, 3)
        centers = medians[seen]
        spreads = floored_array(centers, mads[seen])
        return centers, np.where(np.isnan(centers), np.nan, spreads)

    def _learn_values(self, i: int, values: np.ndarray) -> None:
        self._values_seen[i].extend(values.tolist())
        self._cache[i] = None

    def to_state(self) -> dict[str, Any]:
        """Learned state: points learned and each feature's window, oldest value first."""
        return {"n": self._n_learned, "window": [list(values) for values in self._values_seen]}

    @classmethod
    def from_state(
        cls, n_features: int, params: Mapping[str, Any], state: Mapping[str, Any]
    ) -> Self:
        """Rebuild from parameters and a :meth:`to_state` dict.

        A stored window longer than ``window`` (the parameter was lowered) keeps its newest
        values.

        Examples
        --------
        >>> det = RollingMAD.from_state(1, {"window": 3}, {"n": 4, "window": [[1, 2, 3, 4]]})
        >>> det.to_state()
        {'n': 4, 'window': [[2.0, 3.0, 4.0]]}
        """
        det = cls(n_features, **params)
        det._n_learned = require_int(f"{cls.name} state n", state_field(state, "n", cls.name), 0)
        windows = state_field(state, "window", cls.name)
        if not isinstance(windows, list) or len(windows) != n_features:
            raise DetectorError(f"{cls.name} state window must have {n_features} lists")
        for i, values in enumerate(windows):
            det._values_seen[i].extend(require_floats(f"{cls.name} state window[{i}]", values))
        return det
