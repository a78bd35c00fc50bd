"""The contract every detector follows, and the error raised for invalid parameters.

A detector keeps one small online statistic per feature and scores a row in "sigma" units
against a per-feature baseline: ``z_i = (x_i - center_i) / spread_i``, the row's score being
the largest ``|z_i|``. It learns and scores over a batch of rows (:meth:`Detector.learn`,
:meth:`Detector.baselines`, :meth:`Detector.score`); one point is a batch of one
(``learn_one``, ``score_one``). State is plain numbers so it can be stored as JSON.
"""

from __future__ import annotations

import copy
import math
import sys
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, Self

import numpy as np

_NAN = math.nan
_isfinite = math.isfinite

#: How the model scorer drives a detector: see :attr:`Detector.learning`.
Learning = Literal["kept", "fixed", "bounded", "owned"]


class DetectorError(ValueError):
    """Invalid detector, threshold or model parameters; the message is a sentence naming the field.

    Examples
    --------
    >>> from detectors import ZScore
    >>> ZScore(2, mean=[100.0, 5.0], std=[5.0, 0.0])
    Traceback (most recent call last):
    ...
    detectors.base.DetectorError: std[1] must be positive, got 0.0
    """


@dataclass
class Step:
    """What a detector that owns its learning (:meth:`Detector.step`) found for one point:
    per feature its signed score and ``(center, spread)``, whether it was flagged, and the
    change points ``(feature, before, after)`` it made."""

    feature_scores: list[float]
    baseline: list[tuple[float, float]]
    flagged: list[bool]
    change: tuple[tuple[int, float, float], ...]


@dataclass
class BlockSteps:
    """What :meth:`Detector.step_block` found for a block of rows: per row and feature the
    signed score, center, spread and flag (``(rows, features)`` arrays), which rows were learned
    (those with a value), and per row with change points its ``(feature, before, after)``."""

    feature_scores: np.ndarray
    centers: np.ndarray
    spreads: np.ndarray
    flagged: np.ndarray
    learned: np.ndarray
    changes: dict[int, tuple[tuple[int, float, float], ...]]


def spread_floor(center: float) -> float:
    """Smallest spread a learned detector uses: ``max(1e-9, 1e-6 * abs(center))``.

    A constant series has a spread of 0; the floor keeps its scores finite, so the same value
    scores 0 and any other value scores very high.

    Examples
    --------
    >>> spread_floor(0.0)
    1e-09
    >>> spread_floor(100.0)
    0.0001
    """
    return max(1e-9, abs(center) / 1e6)


def floored(center: float, spread: float) -> float:
    """Return ``spread``, raised to :func:`spread_floor` of ``center`` if it is smaller.

    Examples
    --------
    >>> floored(100.0, 0.0)
    0.0001
    >>> floored(100.0, 5.0)
    5.0
    """
    return max(spread, 1e-9, abs(center) / 1e6)  # spread_floor's, without its call


def block_scores(
    rows: np.ndarray, centers: np.ndarray, spreads: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Feature scores and combined scores of ``rows`` against their baselines, as
    :meth:`Detector.score` and :func:`combined_score` compute them.

    Examples
    --------
    >>> nan = float("nan")
    >>> rows = np.array([[110.0, nan], [100.0, 7.0]])
    >>> fs, score = block_scores(rows, np.array([[100.0, 5.0], [nan, 5.0]]),
    ...                          np.array([[5.0, 1.0], [nan, 1.0]]))
    >>> fs.tolist(), score.tolist()
    ([[2.0, nan], [0.0, 2.0]], [2.0, 2.0])
    """
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        z = (rows - centers) / spreads
    z = np.where(np.isnan(centers), 0.0, z)
    z = np.clip(z, -sys.float_info.max, sys.float_info.max)
    z = np.where(np.isfinite(rows), z, np.nan)
    return z, combined_scores(z)


def combined_scores(feature_scores: np.ndarray) -> np.ndarray:
    """:func:`combined_score` of each row of ``feature_scores`` (rows by features): the largest
    absolute value ignoring NaN, NaN when the whole row is.

    >>> nan = float("nan")
    >>> combined_scores(np.array([[0.5, -4.0, nan], [nan, nan, nan]])).tolist()
    [4.0, nan]
    """
    # column after column, as the reduction along a row compares (it is slower on a short row)
    scores: np.ndarray = np.abs(feature_scores[:, 0])
    for j in range(1, feature_scores.shape[1]):
        scores = np.fmax(scores, np.abs(feature_scores[:, j]))
    return scores


def floored_array(centers: np.ndarray, spreads: np.ndarray) -> np.ndarray:
    """:func:`floored` of arrays."""
    floored: np.ndarray = np.maximum(spreads, np.maximum(1e-9, np.abs(centers) / 1e6))
    return floored


def combined_score(feature_scores: Sequence[float]) -> float:
    """Largest absolute feature score, ignoring NaN; NaN when every feature score is NaN.

    Examples
    --------
    >>> combined_score([0.5, -4.0, float("nan")])
    4.0
    >>> combined_score([float("nan")])
    nan
    """
    if len(feature_scores) == 1:  # the common case, without a list
        z = feature_scores[0]
        return _NAN if math.isnan(z) else abs(z)
    finite = [abs(z) for z in feature_scores if not math.isnan(z)]
    return max(finite) if finite else _NAN


class Detector(ABC):
    """Base class of the per-key detectors: learn and score over a batch of rows, high = anomalous.

    The contract callers use (the model scorer's one-point path, in this package, also calls
    the private scalar path: ``_values``, ``_feature_baseline``, ``_learn_row``):

    - :meth:`learn` ``(rows)``: learn the rows in order;
    - :meth:`baselines` ``(rows, in_order=True)``: per row and feature the ``(center, spread)``
      it is scored against, ``z = (x - center) / spread`` (:func:`block_scores`); with
      ``in_order`` as if the rows before it had been learned (what a scorer that learns every
      row sees), else against the current state (a dry run). Nothing is learned;
    - :meth:`score` ``(rows)``: feature scores and combined scores of each row against the
      current state;
    - :meth:`learn_one`, :meth:`score_one`, :meth:`feature_scores`: the same for one point,
      a batch of one (thin wrappers here only, over a scalar path that skips numpy);
    - :meth:`baseline` (the current ``(center, spread)`` per feature), :attr:`n_learned`,
      :meth:`to_state` / :meth:`from_state`;
    - :attr:`learning`, how the model scorer (:mod:`detectors.model`) drives the detector:
      ``"kept"`` (the default: it learns the points it does not flag), ``"fixed"`` (the same,
      and learning never moves the baseline), ``"bounded"`` (it learns every point, flagged
      ones winsorised, and moves the baseline at change points with :meth:`rebaseline`) or
      ``"owned"`` (the detector's own :meth:`step` scores, flags and learns a point).

    Writing a detector: subclass it, store the constructor parameters under their own names
    (keyword arguments after ``n_features``, listed in ``param_names``), set ``name``, and
    implement four methods: ``_feature_baseline(i)`` (feature ``i``'s ``(center, spread > 0)``
    or None before it has one), ``_learn_value(i, v)`` (learn a finite value of feature ``i``),
    ``to_state`` and ``from_state``. Optional: ``_block_feature(i, column)`` and
    ``_learn_values(i, values)``, vectorised forms of the two (the defaults walk
    ``_learn_value``), and ``rebaseline`` with ``learning = "bounded"``, which lets the model
    follow change points. A detector whose score of a row depends on the row itself, not only
    on a baseline (``knn``), overrides ``_row_scores``, :meth:`baselines` and :meth:`score`.
    Register the class in :mod:`detectors.registry`.

    Input rules shared by every detector:

    - a row must have ``n_features`` values (else :class:`DetectorError`);
    - NaN, +inf and -inf features are missing: their feature score is NaN and they are not
      learned; if every feature is missing the row's score is NaN;
    - a feature without a baseline yet scores 0.0 and its baseline is ``(nan, nan)``;
    - a feature score too large for a float is clamped to +-``sys.float_info.max``;
    - ``n_learned`` counts the rows learned that had a finite feature.

    Examples
    --------
    >>> from detectors import ZScore
    >>> det = ZScore(2, mean=[100.0, 5.0], std=[5.0, 1.0])
    >>> det.feature_scores([90.0, float("nan")])
    [-2.0, nan]
    >>> det.score_one([90.0, float("inf")])
    2.0
    >>> det.score_one([float("nan"), float("nan")])
    nan
    >>> det.baseline()
    [(100.0, 5.0), (5.0, 1.0)]
    >>> feature_scores, scores = det.score([[90.0, 5.0], [100.0, 8.0]])
    >>> feature_scores.tolist(), scores.tolist()
    ([[-2.0, 0.0], [0.0, 3.0]], [2.0, 3.0])

    A learned baseline, over a batch: each row against the rows before it.

    >>> det = ZScore(1)
    >>> centers, spreads = det.baselines([[10.0], [12.0], [14.0], [100.0]])
    >>> centers.tolist(), spreads.tolist()
    ([[nan], [nan], [11.0], [12.0]], [[nan], [nan], [1.4142135623730951], [2.0]])
    >>> det.learn([[10.0], [12.0], [14.0]])
    >>> det.n_learned, det.baseline()
    (3, [(12.0, 2.0)])
    """

    name: ClassVar[str]
    param_names: ClassVar[tuple[str, ...]]

    #: How the model scorer drives the detector (see the class docstring).
    learning: Learning = "kept"

    def rebaseline(self, i: int, center: float, spread: float) -> None:
        """Move feature ``i``'s baseline to ``(center, spread)`` (a change point), keeping what
        the detector knows of the data's shape; a feature without a baseline is left alone.
        Detectors whose :attr:`learning` is ``"bounded"`` implement it."""
        raise NotImplementedError(f"{self.name} cannot be re-baselined")

    def step(
        self, x: Sequence[float], ts: float | None, threshold: float, learn: bool = True
    ) -> Step:
        """Score ``x`` at event time ``ts``, flag the features above ``threshold`` and, with
        ``learn``, learn it. Detectors whose :attr:`learning` is ``"owned"`` implement it."""
        raise NotImplementedError(f"{self.name} does not own its learning")

    def step_block(self, rows: np.ndarray, ts: np.ndarray | None, threshold: float) -> BlockSteps:
        """:meth:`step` with learning on each of ``rows`` (a float array, one row a point) in
        order, at ``ts`` (None: no time), against one ``threshold``. Detectors whose
        :attr:`learning` is ``"owned"`` implement it."""
        raise NotImplementedError(f"{self.name} does not own its learning")

    def __init__(self, n_features: int) -> None:
        if isinstance(n_features, bool) or not isinstance(n_features, int) or n_features < 1:
            raise DetectorError(f"n_features must be an integer >= 1, got {n_features!r}")
        self.n_features = n_features
        self._n_learned = 0

    @property
    def n_learned(self) -> int:
        """Number of points learned (points with at least one finite feature)."""
        return self._n_learned

    # ---------------------------------------------------------------- the batch contract

    def learn(self, rows: Sequence[Sequence[float]] | np.ndarray) -> None:
        """Learn ``rows`` in order (missing features skipped one by one)."""
        rows = self._rows(rows)
        finite = np.isfinite(rows)
        for i in range(self.n_features):
            values = rows[finite[:, i], i]
            if len(values):
                self._learn_values(i, values)
        self._n_learned += int(np.count_nonzero(finite.any(axis=1)))

    def baselines(
        self, rows: Sequence[Sequence[float]] | np.ndarray, in_order: bool = True
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(centers, spreads)``, one row per row of ``rows``: the baseline each row is scored
        against, when the rows are learned in order (``in_order``) or each against the
        current state; NaN where a feature has no baseline yet. Nothing is learned."""
        rows = self._rows(rows)
        if not in_order:
            base = np.array(self.baseline(), dtype=float).reshape(1, self.n_features, 2)
            m = len(rows)
            return np.repeat(base[..., 0], m, axis=0), np.repeat(base[..., 1], m, axis=0)
        centers = np.empty(rows.shape)
        spreads = np.empty(rows.shape)
        for i in range(self.n_features):
            centers[:, i], spreads[:, i] = self._block_feature(i, rows[:, i])
        return centers, spreads

    def score(self, rows: Sequence[Sequence[float]] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Feature scores ``(m, n_features)`` and scores ``(m,)`` of each row against the
        current state, as :func:`block_scores` makes them of :meth:`baselines`. Nothing is
        learned."""
        rows = self._rows(rows)
        return block_scores(rows, *self.baselines(rows, in_order=False))

    # ---------------------------------------------------------------- a batch of one

    def learn_one(self, x: Sequence[float]) -> None:
        """:meth:`learn` of the batch ``[x]``."""
        self._learn_row(self._values(x))

    def feature_scores(self, x: Sequence[float]) -> list[float]:
        """:meth:`score`'s feature scores of the batch ``[x]``, as a list."""
        return self._row_scores(self._values(x))

    def score_one(self, x: Sequence[float]) -> float:
        """:meth:`score`'s score of the batch ``[x]``."""
        return combined_score(self._row_scores(self._values(x)))

    def baseline(self) -> list[tuple[float, float]]:
        """Per feature ``(center, spread)`` used for scoring; ``(nan, nan)`` without a baseline."""
        return [self._feature_baseline(i) or (_NAN, _NAN) for i in range(self.n_features)]

    # ---------------------------------------------------------------- the scalar path

    def _rows(self, rows: Sequence[Sequence[float]] | np.ndarray) -> np.ndarray:
        """``rows`` as a 2-D float array of ``n_features`` columns, or a DetectorError."""
        try:
            array = np.asarray(rows, dtype=float)
        except (TypeError, ValueError):
            raise DetectorError("rows must be a list of rows of numbers") from None
        if array.ndim == 1 and not len(array):
            array = array.reshape(0, self.n_features)
        if array.ndim != 2 or array.shape[1] != self.n_features:
            raise DetectorError(
                f"rows must have {self.n_features} values each (n_features), got shape "
                f"{array.shape}"
            )
        return array

    def _values(self, x: Sequence[float]) -> list[float]:
        """One point's values as floats, NaN where missing, or a DetectorError."""
        if len(x) != self.n_features:
            raise DetectorError(f"x must have {self.n_features} values (n_features), got {len(x)}")
        values = []
        for i, v in enumerate(x):
            if type(v) is float:  # the common case, checked no further
                number = v
            else:
                try:
                    if isinstance(v, str | bytes):
                        raise TypeError
                    number = float(v)  # also numpy scalars
                except (TypeError, ValueError):
                    raise DetectorError(f"x[{i}] must be a number, got {v!r}") from None
            values.append(number if _isfinite(number) else _NAN)
        return values

    def _row_scores(self, values: Sequence[float]) -> list[float]:
        """Feature scores of one point's checked values against the current state."""
        scores = []
        for i, v in enumerate(values):
            if math.isnan(v):
                scores.append(_NAN)
                continue
            base = self._feature_baseline(i)
            if base is None:
                scores.append(0.0)
                continue
            center, spread = base
            z = (v - center) / spread
            if math.isinf(z):
                z = math.copysign(sys.float_info.max, z)
            scores.append(z)
        return scores

    def _learn_row(self, values: Sequence[float]) -> None:
        """Learn one point's checked values (floats, NaN where missing)."""
        learned = False
        for i, v in enumerate(values):
            if not math.isnan(v):
                self._learn_value(i, v)
                learned = True
        if learned:
            self._n_learned += 1

    # ---------------------------------------------------------------- what a detector implements

    def _block_feature(self, i: int, column: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Centers and spreads of feature ``i`` before each value of ``column`` (learned in
        order, NaN skipped). The default walks :meth:`_learn_value`; detectors override it
        with vectorised code."""
        centers = np.full(len(column), np.nan)
        spreads = np.full(len(column), np.nan)
        probe = copy.deepcopy(self)
        for k, value in enumerate(column):
            base = probe._feature_baseline(i)
            if base is not None:
                centers[k], spreads[k] = base
            if math.isfinite(value):
                probe._learn_value(i, float(value))
        return centers, spreads

    def _learn_values(self, i: int, values: np.ndarray) -> None:
        """Learn the finite ``values`` of feature ``i`` in order (vectorised by overrides)."""
        for value in values:
            self._learn_value(i, float(value))

    @abstractmethod
    def _feature_baseline(self, i: int) -> tuple[float, float] | None:
        """``(center, spread > 0)`` of feature ``i``, or None before a baseline exists."""

    @abstractmethod
    def _learn_value(self, i: int, v: float) -> None:
        """Update feature ``i`` with the finite value ``v``."""

    @abstractmethod
    def to_state(self) -> dict[str, Any]:
        """JSON-serialisable learned state (parameters are not included)."""

    @classmethod
    @abstractmethod
    def from_state(
        cls, n_features: int, params: Mapping[str, Any], state: Mapping[str, Any]
    ) -> Self:
        """Rebuild a detector from its parameters and a :meth:`to_state` dict."""
