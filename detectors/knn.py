"""Nearest-neighbour surprise: how unlike its own past the recent shape of a series is.

For each feature the detector keeps its last ``window`` values. A new value ``x`` is scored at
several scales: for each embedding length ``L`` in ``dims``, the last ``L`` values ending with
``x`` form a vector, and its nonconformity is the distance to its ``neighbors`` nearest
neighbours among the earlier, non-overlapping length-``L`` windows of the history, divided by
``sqrt(L)``, plus ``resolution`` times the history's range (so differences finer than that do
not count, like the resolution of HTM's scalar encoder). This is the nonconformity measure of
KNN-CAD (Burnaev and Ishimtsev 2016, "Conformalized density- and distance-based anomaly
detection in time-series data").

Each scale's nonconformity becomes a tail probability against the last ``calibration``
nonconformities of the same scale, so that scores of different series are comparable (the idea
of HTM's anomaly likelihood, Ahmad et al. 2017, "Unsupervised real-time anomaly detection for
streaming data"): the empirical (conformal) p-value ``(#{a_j >= a} + 1) / (m + 1)`` below the
``tail``-th largest calibration value ``u``, and above it a generalised Pareto tail fitted to
the excesses over ``u`` (peaks over threshold, as SPOT does: Siffer et al. 2017, "Anomaly
detection in streams with extreme value theory"), so the surprise keeps growing past the largest
value seen. The tail's shape is estimated by the method of moments (Hosking and Wallis 1987,
"Parameter and quantile estimation for the generalized Pareto distribution") and kept within
``[0, max_shape]``: 0 is the exponential tail; a heavier tail (bursty series) makes a large
excess less surprising. A feature's surprise is the mean over the scales of ``-ln p``, in nats;
``3`` is about 1 in 20 and ``9`` about 1 in 8,000.

With ``refractory`` > 0 the detector reports an episode once: after a learned point whose
surprise reached ``alarm``, the next ``refractory`` learned points score 0, and a point scores 0
unless its surprise exceeds that of each of the last ``memory`` (default ``refractory``) learned
points. With ``protect``, the point that raised an alarm is never anybody's neighbour, so the
same anomaly again is still a surprise (river's ``protect_anomaly_detector`` idea, for the one
point the detector learned anyway). Like every detector, it only knows the points it learned: a
point that the engine flags (score above the threshold) is not learned, so it starts no
refractory period and joins no calibration (see docs/QUALITY.md).

The feature score is the surprise, signed like ``x - median`` of the window, so that root-cause
text says "above" or "below"; the baseline is the window's median and scaled MAD.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Self

import numpy as np

from detectors._checks import require_finite, require_floats, require_int, state_field
from detectors._robust import median_and_scaled_mad
from detectors.base import Detector, DetectorError, combined_score, floored
from detectors.knn_measure import MIN_CALIBRATION, SurpriseMeasure, _Feature, _rounded

_OWNER = "knn"
#: Dry runs longer than this reach ``ModelScorer.score_block``, which asks for the baselines
#: of the current state (see :meth:`KNNSurprise.baselines`); incidents.scoring.SMALL_BATCH.
DRY_RUN_BLOCK = 8


class KNNSurprise(SurpriseMeasure, Detector):
    """Multi-scale nearest-neighbour surprise with conformal calibration (see the module doc).

    Parameters
    ----------
    n_features
        Number of features; each is scored on its own history.
    window
        Values kept per feature (the neighbours are searched among them), at least 16.
    dims
        Embedding lengths, each at least 1 and at most ``window // 4``.
    neighbors
        Nearest neighbours averaged into the nonconformity, at least 1.
    calibration
        Recent nonconformities kept per scale for the tail probability, at least
        ``MIN_CALIBRATION``.
    tail
        Calibration values (per ``calibration``) above the exponential tail's threshold.
    resolution
        Fraction of the history's range added to every distance, ``>= 0``.
    refractory
        Learned points after an alarm during which the score is 0 (0: off).
    alarm
        Surprise (nats) that starts a refractory period.
    memory
        Learned points whose surprise a new one must exceed to be reported (None: as many as
        ``refractory``).
    protect
        Whether the point that raised an alarm is kept out of the neighbours.
    max_shape
        Largest shape of the generalised Pareto tail, in ``[0, 1)`` (0: exponential tail).

    Examples
    --------
    A sine wave learned for a while, then a value off its shape:

    >>> det = KNNSurprise(1, window=200, dims=[1, 4], calibration=100)
    >>> for t in range(400):
    ...     det.learn_one([math.sin(t / 5)])
    >>> usual = math.sin(400 / 5)
    >>> round(det.score_one([usual]), 2)
    0.16
    >>> round(det.score_one([usual + 0.5]), 2)
    9.89
    >>> det.feature_scores([usual - 0.5])[0] < -9  # below the median: negative
    True
    >>> center, spread = det.baseline()[0]
    >>> round(center, 3), round(spread, 3)
    (-0.012, 1.032)
    """

    name: ClassVar[str] = "knn"
    param_names: ClassVar[tuple[str, ...]] = (
        "window",
        "dims",
        "neighbors",
        "calibration",
        "tail",
        "resolution",
        "refractory",
        "alarm",
        "memory",
        "protect",
        "max_shape",
    )

    def __init__(
        self,
        n_features: int,
        window: int = 3500,
        dims: Sequence[int] = (1, 4, 8, 16, 32),
        neighbors: int = 1,
        calibration: int = 2000,
        tail: int = 40,
        resolution: float = 0.03,
        refractory: int = 0,
        alarm: float = 4.0,
        memory: int | None = None,
        protect: bool = False,
        max_shape: float = 0.25,
    ) -> None:
        super().__init__(n_features)
        self.window = require_int("window", window, 16)
        if isinstance(dims, str | bytes) or not isinstance(dims, Sequence) or not dims:
            raise DetectorError(f"dims must be a non-empty list of integers, got {dims!r}")
        self.dims = [require_int(f"dims[{i}]", d, 1) for i, d in enumerate(dims)]
        if max(self.dims) > self.window // 4:
            raise DetectorError(
                f"dims must be at most window // 4 = {self.window // 4}, got {max(self.dims)}"
            )
        self.neighbors = require_int("neighbors", neighbors, 1)
        self.calibration = require_int("calibration", calibration, MIN_CALIBRATION)
        self.tail = require_int("tail", tail, 1)
        if self.tail > self.calibration // 2:
            raise DetectorError(
                f"tail must be at most calibration // 2 = {self.calibration // 2}, got {tail}"
            )
        self.resolution = require_finite("resolution", resolution)
        if self.resolution < 0:
            raise DetectorError(f"resolution must be >= 0, got {resolution!r}")
        self.refractory = require_int("refractory", refractory, 0)
        self.alarm = require_finite("alarm", alarm)
        self.memory = self.refractory if memory is None else require_int("memory", memory, 1)
        if not isinstance(protect, bool):
            raise DetectorError(f"protect must be true or false, got {protect!r}")
        self.protect = protect
        self.max_shape = require_finite("max_shape", max_shape)
        if not 0.0 <= self.max_shape < 1.0:
            raise DetectorError(f"max_shape must be in [0, 1), got {max_shape!r}")
        self._features = [
            _Feature(self.window, self.dims, self.calibration, self.memory)
            for _ in range(n_features)
        ]
        self._cache: list[tuple[int, float, list[float] | None, float] | None] = [None] * n_features

    # ---------------------------------------------------------------- scoring

    def _measure(self, i: int, v: float) -> tuple[list[float] | None, float]:
        """(nonconformities, surprise) of ``v`` for feature ``i``, cached until the next learn."""
        cached = self._cache[i]
        if cached is not None and cached[0] == self._n_learned and cached[1] == v:
            return cached[2], cached[3]
        ncm = self._nonconformity(i, v)
        surprise = self._surprise_of(i, ncm) if ncm is not None else 0.0
        self._cache[i] = (self._n_learned, v, ncm, surprise)
        return ncm, surprise

    def _reported(self, i: int, surprise: float) -> float:
        """The surprise after the refractory rule (unchanged when ``refractory`` is 0)."""
        if not self.refractory:
            return surprise
        feature = self._features[i]
        if 0 <= feature.since_alarm < self.refractory:
            return 0.0
        if feature.recent and surprise <= max(feature.recent):
            return 0.0
        return surprise

    def _row_scores(self, values: Sequence[float]) -> list[float]:
        """Per feature the surprise in nats, signed like ``x - median`` (NaN when missing)."""
        scores = []
        for i, v in enumerate(values):
            if math.isnan(v):
                scores.append(math.nan)
                continue
            _, surprise = self._measure(i, v)
            score = self._reported(i, surprise)
            base = self._feature_baseline(i)
            scores.append(-score if base is not None and v < base[0] else score)
        return scores

    # --------------------------------------------------------------- learning

    def _feature_baseline(self, i: int) -> tuple[float, float] | None:
        feature = self._features[i]
        if len(feature.values) < 3:
            return None
        if feature.baseline is None:
            center, spread = median_and_scaled_mad(feature.values)
            feature.baseline = (center, floored(center, spread))
        return feature.baseline

    def _learn_value(self, i: int, v: float) -> None:
        ncm, surprise = self._measure(i, v)
        feature = self._features[i]
        if ncm is not None:
            for k, a in enumerate(ncm):
                feature.add_calibration(k, _rounded(a), self.calibration)
        if self.refractory:
            if feature.since_alarm >= 0:
                feature.since_alarm += 1
            if surprise >= self.alarm and not 0 <= feature.since_alarm < self.refractory:
                feature.since_alarm = 0
                if self.protect:
                    feature.marks.append(feature.learned)
            feature.recent.append(_rounded(surprise))
        feature.values.append(v)
        feature.learned += 1
        while feature.marks and feature.marks[0] < feature.learned - self.window:
            feature.marks.popleft()
        feature.baseline = None
        self._cache[i] = None

    def _learn_row(self, values: Sequence[float]) -> None:
        """Learn one point: each finite feature's nonconformities join its calibration."""
        super()._learn_row(values)
        self._cache = [None] * self.n_features

    # ------------------------------------------------------------- batch path

    def score(self, rows: Sequence[Sequence[float]] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`Detector.score` one row at a time (a surprise depends on the row itself)."""
        rows = self._rows(rows)
        feature_scores = np.array(
            [self._row_scores(self._values(row)) for row in rows.tolist()], dtype=float
        ).reshape(rows.shape)
        scores = np.array([combined_score(row) for row in feature_scores.tolist()], dtype=float)
        return feature_scores, scores

    def baselines(
        self, rows: Sequence[Sequence[float]] | np.ndarray, in_order: bool = True
    ) -> tuple[np.ndarray, np.ndarray]:
        """Per row, a ``(center, spread)`` whose ``(x - center) / spread`` is the row's signed
        surprise when the rows are learned in order (what ``ModelScorer.score_block`` needs).
        Not available against the current state (``in_order=False``): a dry run of more than
        ``DRY_RUN_BLOCK`` points is refused, as its rows are not given one at a time.

        The center is the window's median whenever the surprise has the sign of ``x - median``
        (the spread is then ``|x - median| / surprise``, the deviation one nat stands for);
        otherwise ``x - surprise * MAD``. A row with no surprise gets ``(x, MAD)`` (NaN without
        a baseline, which also scores 0). Nothing is learned.

        Examples
        --------
        >>> det = KNNSurprise(1, window=64, dims=[1, 4], calibration=100)
        >>> for t in range(300):
        ...     det.learn_one([float(t % 9)])
        >>> rows = np.array([[3.0], [40.0], [5.0]])
        >>> centers, spreads = det.baselines(rows)
        >>> z = ((rows - centers) / spreads)[:, 0]
        >>> one = []
        >>> for row in rows.tolist():
        ...     one.append(det.feature_scores(row)[0])
        ...     det.learn_one(row)
        >>> bool(np.allclose(z, one, rtol=1e-12))
        True
        """
        rows = self._rows(rows)
        if not in_order:
            raise DetectorError(
                "the knn detector scores a dry run one point at a time; "
                f"send at most {DRY_RUN_BLOCK} points per dry run"
            )
        probe = copy.deepcopy(self)
        centers = np.full(rows.shape, np.nan)
        spreads = np.full(rows.shape, np.nan)
        for k, row in enumerate(rows.tolist()):
            scores = probe.feature_scores(row)
            for i, (x, z) in enumerate(zip(row, scores, strict=True)):
                base = probe._feature_baseline(i)
                if math.isnan(z) or base is None:
                    continue
                median, mad = base
                deviation = x - median
                if z == 0.0:
                    centers[k, i], spreads[k, i] = x, mad
                elif deviation != 0.0 and (deviation > 0) == (z > 0):
                    centers[k, i], spreads[k, i] = median, deviation / z
                else:
                    centers[k, i], spreads[k, i] = x - z * mad, mad
            probe.learn_one(row)
        return centers, spreads

    # ------------------------------------------------------------------ state

    def to_state(self) -> dict[str, Any]:
        """Learned state: per feature its values, calibrations and refractory bookkeeping."""
        return {
            "n": self._n_learned,
            "features": [
                {
                    "values": list(f.values),
                    "calibration": [list(c) for c in f.calib],
                    "recent": list(f.recent) if self.refractory else [],
                    "since_alarm": f.since_alarm,
                    "learned": f.learned,
                    "marks": list(f.marks),
                }
                for f in self._features
            ],
        }

    @classmethod
    def from_state(
        cls, n_features: int, params: Mapping[str, Any], state: Mapping[str, Any]
    ) -> Self:
        """Rebuild from parameters and a :meth:`to_state` dict (newest values kept).

        Examples
        --------
        >>> det = KNNSurprise(1, window=64, dims=[1, 4])
        >>> for t in range(300):
        ...     det.learn_one([float(t % 7)])
        >>> copy = KNNSurprise.from_state(1, {"window": 64, "dims": [1, 4]}, det.to_state())
        >>> copy.score_one([3.5]) == det.score_one([3.5])
        True
        """
        det = cls(n_features, **params)
        det._n_learned = require_int(f"{_OWNER} state n", state_field(state, "n", _OWNER), 0)
        stored = state_field(state, "features", _OWNER)
        if not isinstance(stored, list) or len(stored) != n_features:
            raise DetectorError(f"{_OWNER} state features must have {n_features} entries")
        for i, (feature, data) in enumerate(zip(det._features, stored, strict=True)):
            where = f"{_OWNER} state features[{i}]"
            if not isinstance(data, Mapping):
                raise DetectorError(f"{where} must be an object")
            feature.values.extend(
                require_floats(f"{where}.values", state_field(data, "values", where))
            )
            calib = state_field(data, "calibration", where)
            if not isinstance(calib, list) or len(calib) != len(det.dims):
                raise DetectorError(f"{where}.calibration must have {len(det.dims)} lists")
            for k, values in enumerate(calib):
                for value in require_floats(f"{where}.calibration[{k}]", values):
                    feature.add_calibration(k, value, det.calibration)
            if det.refractory:
                feature.recent.extend(
                    require_floats(f"{where}.recent", state_field(data, "recent", where))
                )
            since = state_field(data, "since_alarm", where)
            feature.since_alarm = require_int(f"{where}.since_alarm", since, -1)
            feature.learned = require_int(
                f"{where}.learned", state_field(data, "learned", where), len(feature.values)
            )
            marks = state_field(data, "marks", where)
            if not isinstance(marks, list):
                raise DetectorError(f"{where}.marks must be a list of integers")
            feature.marks.extend(
                require_int(f"{where}.marks[{j}]", m, 0) for j, m in enumerate(marks)
            )
        return det
