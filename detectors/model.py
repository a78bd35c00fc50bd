"""The per-key scoring step shared by the stream, the REST API and the offline backtest.

A :class:`ModelScorer` pairs a detector with a threshold. A point it flags trains neither of
them (river's ``protect_anomaly_detector`` idea), so a burst of anomalies does not become the
new normal nor raise its own threshold.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from detectors._checks import require_int, require_positive, state_field
from detectors.base import Detector, DetectorError, block_scores, combined_score
from detectors.budget import BudgetThreshold
from detectors.registry import DEFAULT_THRESHOLDS, detector_class, make_detector
from detectors.thresholds import (
    THRESHOLD_STRATEGIES,
    AdaptiveThreshold,
    StaticThreshold,
    make_threshold,
)


@dataclass(frozen=True)
class ModelSpec:
    """What to run for one key, built by the engine from a validated configuration.

    All fields are checked on construction (:class:`DetectorError` names the bad field);
    ``params`` is copied.

    Parameters
    ----------
    detector
        A name of the registry: "zscore", "ewma", "mad" or "knn".
    params
        The configuration's detector parameters; ``threshold`` (optional) is the static
        threshold or the adaptive threshold's floor, the rest go to the detector. For "mad",
        ``window`` defaults to ``history_window``.
    n_features
        Number of features of each point.
    threshold_strategy
        "static", "adaptive" or "budget".
    adaptive_sensitivity
        Robust standard deviations above the median recent score (adaptive only).
    history_window
        Scores kept by the adaptive threshold (and the default mad window), at least 8.
    warmup
        Points to learn before alerting; None means 0 for a zscore with static mean/std and
        ``min(30, history_window)`` otherwise.
    alerts_per_day
        Target rate of alerts per key and day of event time (budget only), positive.

    Examples
    --------
    >>> spec = ModelSpec("mad", {"threshold": 4.0}, n_features=2, history_window=32)
    >>> spec.threshold, spec.effective_warmup, spec.detector_params
    (4.0, 30, {'window': 32})
    >>> ModelSpec("zscore", {"mean": [1.0], "std": [2.0]}, 1).effective_warmup
    0
    >>> ModelSpec("ewma", {"threshold": -1}, 1)
    Traceback (most recent call last):
    ...
    detectors.base.DetectorError: threshold must be positive, got -1.0
    """

    detector: str
    params: dict[str, Any]
    n_features: int
    threshold_strategy: str = "static"
    adaptive_sensitivity: float = 3.0
    history_window: int = 64
    warmup: int | None = None
    alerts_per_day: float = 1.0

    def __post_init__(self) -> None:
        detector_class(self.detector)
        if not isinstance(self.params, Mapping):
            raise DetectorError(f"params must be a mapping, got {self.params!r}")
        object.__setattr__(self, "params", dict(self.params))
        require_int("n_features", self.n_features, 1)
        if self.threshold_strategy not in THRESHOLD_STRATEGIES:
            raise DetectorError(
                f"unknown threshold strategy {self.threshold_strategy!r}; "
                f"choose one of: {', '.join(THRESHOLD_STRATEGIES)}"
            )
        require_positive("adaptive_sensitivity", self.adaptive_sensitivity)
        require_int("history_window", self.history_window, 8)
        require_positive("alerts_per_day", self.alerts_per_day)
        if self.warmup is not None:
            require_int("warmup", self.warmup, 0)
        require_positive("threshold", self.params.get("threshold", 1.0))
        make_detector(self.detector, self.n_features, self.detector_params)

    @property
    def threshold(self) -> float:
        """``params["threshold"]`` if given, else the detector's default threshold."""
        return float(self.params.get("threshold", DEFAULT_THRESHOLDS[self.detector]))

    @property
    def detector_params(self) -> dict[str, Any]:
        """The detector's parameters: ``params`` without ``threshold`` (plus the mad window)."""
        params = {k: v for k, v in self.params.items() if k != "threshold"}
        if self.detector == "mad":
            params.setdefault("window", self.history_window)
        return params

    @property
    def effective_warmup(self) -> int:
        """``warmup``, or its default when None."""
        if self.warmup is not None:
            return self.warmup
        static = self.params.get("mean") is not None and self.params.get("std") is not None
        if self.detector == "zscore" and static:
            return 0
        return min(30, self.history_window)


@dataclass
class BlockResult:
    """Per-row arrays of :meth:`ModelScorer.score_block` (the fields of :class:`PointResult`)."""

    score: np.ndarray
    threshold: np.ndarray
    is_anomaly: np.ndarray
    warm: np.ndarray
    feature_scores: np.ndarray
    centers: np.ndarray
    spreads: np.ndarray

    @classmethod
    def empty(cls, m: int, n_features: int) -> BlockResult:
        return cls(
            score=np.empty(m),
            threshold=np.empty(m),
            is_anomaly=np.zeros(m, dtype=bool),
            warm=np.zeros(m, dtype=bool),
            feature_scores=np.empty((m, n_features)),
            centers=np.empty((m, n_features)),
            spreads=np.empty((m, n_features)),
        )

    def fill(
        self,
        start: int,
        rows: slice,
        feature_scores: np.ndarray,
        score: np.ndarray,
        threshold: np.ndarray,
        flagged: np.ndarray,
        warm: np.ndarray,
        centers: np.ndarray,
        spreads: np.ndarray,
    ) -> None:
        n = rows.stop - rows.start
        target = slice(start, start + n)
        self.feature_scores[target] = feature_scores[rows]
        self.score[target] = score[rows]
        self.threshold[target] = threshold[rows]
        self.is_anomaly[target] = flagged[rows]
        self.warm[target] = warm[rows]
        self.centers[target] = centers[rows]
        self.spreads[target] = spreads[rows]

    def point(self, k: int) -> PointResult:
        """Row ``k`` as a :class:`PointResult`."""
        return PointResult(
            score=float(self.score[k]),
            threshold=float(self.threshold[k]),
            is_anomaly=bool(self.is_anomaly[k]),
            feature_scores=self.feature_scores[k].tolist(),
            baseline=list(zip(self.centers[k].tolist(), self.spreads[k].tolist(), strict=True)),
            warm=bool(self.warm[k]),
        )


@dataclass
class PointResult:
    """The outcome of scoring one point.

    ``baseline`` is the per-feature ``(center, spread)`` the point was scored against
    (``(nan, nan)`` for a feature without a baseline yet).

    Examples
    --------
    >>> result = PointResult(score=4.0, threshold=3.0, is_anomaly=True,
    ...                      feature_scores=[4.0], baseline=[(100.0, 5.0)], warm=True)
    >>> result.is_anomaly
    True
    """

    score: float
    threshold: float
    is_anomaly: bool
    feature_scores: list[float]
    baseline: list[tuple[float, float]]
    warm: bool


class ModelScorer:
    """Scores points of one key and learns the ones it does not flag.

    For each point: ``s = detector.score_one(x)``, ``thr = threshold.get()``,
    ``warm = detector.n_learned >= warmup`` and ``is_anomaly = warm and finite(s) and s > thr``.
    Then, only if ``learn`` and not ``is_anomaly`` and ``s`` is not NaN, the detector learns
    ``x`` and the threshold learns ``s``. With ``learn=False`` nothing changes (dry run).

    Parameters
    ----------
    spec
        What to run.
    state
        A dict from :meth:`to_state` (also after a JSON round trip), or None to start fresh.
        A state written for another detector or threshold strategy raises DetectorError.

    Examples
    --------
    >>> spec = ModelSpec("zscore", {"threshold": 3.0}, n_features=1, warmup=5)
    >>> scorer = ModelScorer(spec)
    >>> results = scorer.score_many([[9.0], [11.0], [9.0], [11.0], [10.0]])
    >>> [r.warm for r in results]
    [False, False, False, False, False]
    >>> scorer.detector.baseline()
    [(10.0, 1.0)]

    A flagged point does not move the learned baseline:

    >>> result = scorer.score_one([20.0])
    >>> result.score, result.is_anomaly, result.baseline
    (10.0, True, [(10.0, 1.0)])
    >>> scorer.detector.baseline(), scorer.detector.n_learned
    ([(10.0, 1.0)], 5)

    A normal point is learned, unless it is a dry run:

    >>> scorer.score_one([12.0], learn=False).is_anomaly
    False
    >>> scorer.detector.n_learned
    5
    >>> scorer.score_one([12.0]).is_anomaly
    False
    >>> scorer.detector.n_learned
    6
    """

    def __init__(self, spec: ModelSpec, state: Mapping[str, Any] | None = None) -> None:
        self.spec = spec
        detector_state: Mapping[str, Any] | None = None
        threshold_state: Mapping[str, Any] | None = None
        if state is not None:
            for key, expected in (
                ("detector", spec.detector),
                ("threshold", spec.threshold_strategy),
            ):
                found = state_field(state, key, "model")
                if found != expected:
                    raise DetectorError(
                        f"model state was written for {key} {found!r}, not {expected!r}"
                    )
            detector_state = state_field(state, "detector_state", "model")
            threshold_state = state_field(state, "threshold_state", "model")
        self.detector: Detector = make_detector(
            spec.detector, spec.n_features, spec.detector_params, detector_state
        )
        self.threshold: StaticThreshold | AdaptiveThreshold | BudgetThreshold = make_threshold(
            spec.threshold_strategy,
            threshold=spec.threshold,
            sensitivity=spec.adaptive_sensitivity,
            window=spec.history_window,
            state=threshold_state,
            alerts_per_day=spec.alerts_per_day,
        )
        self.warmup = spec.effective_warmup

    def score_one(self, x: Sequence[float], learn: bool = True) -> PointResult:
        """Score ``x`` and, if ``learn`` and it is not flagged, learn it."""
        feature_scores = self.detector.feature_scores(x)
        score = combined_score(feature_scores)
        baseline = self.detector.baseline()
        threshold = self.threshold.get()
        warm = self.detector.n_learned >= self.warmup
        is_anomaly = warm and math.isfinite(score) and score > threshold
        if learn and not is_anomaly and not math.isnan(score):
            self.detector.learn_one(x)
            self.threshold.learn(score)
        return PointResult(
            score=score,
            threshold=threshold,
            is_anomaly=is_anomaly,
            feature_scores=feature_scores,
            baseline=baseline,
            warm=warm,
        )

    def score_many(self, xs: Iterable[Sequence[float]], learn: bool = True) -> list[PointResult]:
        """:meth:`score_one` on each point in order."""
        return [self.score_one(x, learn) for x in xs]

    def score_block(self, rows: np.ndarray, learn: bool = True) -> BlockResult:
        """The batch path: what :meth:`score_one` gives on each row in order, vectorised.

        With learning, :meth:`_settle_block` (numpy, for detectors whose baseline of a row
        does not depend on the row); a detector whose baseline does (``knn``) walks its rows one
        by one anyway and goes through :meth:`score_one`. A dry run scores every row against the
        current state at once.

        Examples
        --------
        >>> spec = ModelSpec("zscore", {"threshold": 3.0}, n_features=1, warmup=5)
        >>> rows = np.array([[9.0], [11.0], [9.0], [11.0], [10.0], [20.0], [12.0]])
        >>> block = ModelScorer(spec).score_block(rows)
        >>> block.is_anomaly.tolist()
        [False, False, False, False, False, True, False]
        >>> one = ModelScorer(spec)
        >>> bool(np.allclose([one.score_one(list(r)).score for r in rows], block.score))
        True
        """
        rows = np.asarray(rows, dtype=float)
        m, n_features = rows.shape
        if n_features != self.spec.n_features:
            raise DetectorError(
                f"x must have {self.spec.n_features} values (n_features), got {n_features}"
            )
        out = BlockResult.empty(m, n_features)
        if learn and not self.detector.baseline_sees_the_row:
            self._settle_block(rows, out)
            return out
        if learn:  # its batch walk is per row anyway: no copy of the detector, no re-walks
            for k, row in enumerate(rows.tolist()):
                result = self.score_one(row)
                base = np.array(result.baseline, dtype=float).reshape(n_features, 2)
                out.fill(
                    k,
                    slice(0, 1),
                    np.array([result.feature_scores], dtype=float),
                    np.array([result.score]),
                    np.array([result.threshold]),
                    np.array([result.is_anomaly]),
                    np.array([result.warm]),
                    base[None, :, 0],
                    base[None, :, 1],
                )
            return out
        # A dry run learns nothing: every row is scored against the current state at once.
        centers, spreads = self.detector.current_baselines(m)
        feature_scores, score = block_scores(rows, centers, spreads)
        threshold = np.full(m, self.threshold.get())
        warm = np.full(m, self.detector.n_learned >= self.warmup)
        with np.errstate(invalid="ignore"):
            flagged = warm & np.isfinite(score) & (score > threshold)
        out.fill(0, slice(0, m), feature_scores, score, threshold, flagged, warm, centers, spreads)
        return out

    def _settle_block(self, rows: np.ndarray, out: BlockResult) -> None:
        """:meth:`score_block` with learning, for detectors whose baseline of a row does not
        depend on the row itself. The threshold walks the scores of a span in order
        (:meth:`AdaptiveThreshold.settle`), so its flags are exact given the scores. A detector
        whose baseline learns needs the flags for the scores, so the span is scored with a
        guess of the flags (none at first), and the walk stops at the first row whose flag
        differs from the guess: scoring is causal, so the rows up to it are right. The rest is
        guessed flagged when above the threshold reached, and the next span starts after the
        kept rows; a span that was all right grows, one that was not shrinks. A fixed baseline
        (a static z-score) needs no guess: one span, one walk."""
        m, n_features = rows.shape
        detector, threshold = self.detector, self.threshold
        fixed = detector.fixed_baseline
        has_value = np.isfinite(rows).any(axis=1)
        guess = np.zeros(m, dtype=bool)
        start, span = 0, 4096
        while start < m:
            stop = m if fixed else min(m, start + span)
            part, keep = rows[start:stop], ~guess[start:stop]
            if fixed:
                centers, spreads = detector.current_baselines(len(part))
            else:  # baselines after 0 .. len(kept) kept rows; the last row is a placeholder
                kept = np.concatenate([part[keep], np.zeros((1, n_features))])
                all_centers, all_spreads = detector.block_baselines(kept)
                before = np.cumsum(keep) - keep
                centers, spreads = all_centers[before], all_spreads[before]
            feature_scores, score = block_scores(part, centers, spreads)
            counted = has_value[start:stop]
            # no row is flagged before the model is warm, so every row with a value is learned
            warm = detector.n_learned + np.cumsum(counted) - counted >= self.warmup
            limits, flagged, done = threshold.settle(score, warm, None if fixed else ~keep)
            out.fill(
                start,
                slice(0, done),
                feature_scores,
                score,
                limits,
                flagged,
                warm,
                centers,
                spreads,
            )
            detector.learn_block(part[:done][~flagged])
            if done < len(part):
                with np.errstate(invalid="ignore"):
                    guess[start + done : stop] = warm[done:] & (score[done:] > threshold.get())
            start += done
            span = min(4096, span * 2) if done == len(part) else max(64, span // 2)

    def to_state(self) -> dict[str, Any]:
        """JSON-serialisable state (lists, str, int and finite float only).

        Examples
        --------
        >>> import json
        >>> scorer = ModelScorer(ModelSpec("ewma", {"alpha": 0.5}, 1))
        >>> _ = scorer.score_many([[1.0], [3.0]])
        >>> state = json.loads(json.dumps(scorer.to_state()))
        >>> state["detector"], state["threshold"], state["threshold_state"]
        ('ewma', 'static', {})
        >>> state["detector_state"]
        {'n': 2, 'count': [2], 'mean': [2.0], 'var': [1.0]}
        >>> ModelScorer(scorer.spec, state).score_one([5.0]) == scorer.score_one([5.0])
        True
        """
        return {
            "detector": self.spec.detector,
            "threshold": self.spec.threshold_strategy,
            "detector_state": self.detector.to_state(),
            "threshold_state": self.threshold.to_state(),
        }
