"""The per-key scoring step shared by the stream, the REST API and the offline backtest.

A :class:`ModelScorer` pairs a detector with a threshold, and keeps the baseline honest:

- **bounded learning**: a flagged point still teaches the detector, winsorised to one spread
  from the center (``center +- spread``, Huber's idea for a location estimate), so a spike moves
  the baseline by no more than an ordinary point, and a change that persists is followed in its
  direction without inflating the spread (clipped at the threshold instead, each flagged point
  would add ``threshold**2`` times the variance, and a run of them would blow the spread up); the
  threshold learns unflagged scores only, so anomalies do not raise it;
- **change points**: a persistent run of flags re-baselines the detector on the run's own points
  (:mod:`detectors.changepoint`), and the point says so (``PointResult.change``), so a level
  shift alerts for its first points and then stops; a return to the old level soon after goes
  back to the old baseline;
- **resolution floor**: no spread is below the data's own granularity or 1 % of its range
  (:mod:`detectors.resolution`), so ties and integer counts never give a zero spread.

These apply to the detectors with a center and a spread that learn (``zscore`` without a static
mean/std, ``ewma``, ``mad``). A static ``zscore`` keeps the baseline it was given; ``knn`` keeps
its own calibration and learns only the points it does not flag.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from detectors._checks import require_int, require_positive, state_field
from detectors.base import Detector, DetectorError, block_scores, combined_score
from detectors.budget import BudgetThreshold
from detectors.changepoint import ChangePoint
from detectors.registry import DEFAULT_THRESHOLDS, detector_class, make_detector
from detectors.resolution import ResolutionFloor
from detectors.results import BlockResult, Change, PointResult
from detectors.seasonal_config import seasonality_params
from detectors.seasonality import SeasonalProfile
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
    seasonality
        None, or the seasonal profile's parameters, kept in the normal form of
        :func:`detectors.seasonal_config.seasonality_params` (``{"period": "auto"}`` or
        ``{"period": seconds, "bins": n}``; ``"auto"`` is accepted).
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
    seasonality: dict[str, Any] | None = None
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
        if self.seasonality is not None:
            seasonality = seasonality_params(self.seasonality)
            object.__setattr__(self, "seasonality", seasonality)
            SeasonalProfile(self.n_features, **(seasonality or {}))

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


#: A flagged point is learned as if it were this many spreads from the center.
LEARN_CLIP = 1.0


class ModelScorer:
    """Scores points of one key; learns every point, flagged ones with bounded weight.

    For each point, against the baseline before it: ``z_i = (x_i - center_i) / spread_i`` (the
    spread raised to the resolution floor), ``s = max |z_i|``, ``thr = threshold.get()``,
    ``warm = detector.n_learned >= warmup`` and ``is_anomaly = warm and finite(s) and s > thr``.
    Then, with ``learn`` and ``s`` not NaN: the detector learns ``x``, winsorised to
    ``center_i +- spread_i`` when flagged; the threshold learns ``s`` when not flagged;
    the change-point watch counts the flag and may re-baseline (see the module's docstring).
    With ``learn=False`` nothing changes (dry run).

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

    A flagged point moves the baseline only as far as a point one spread away would (11):

    >>> result = scorer.score_one([20.0])
    >>> result.score, result.is_anomaly, result.baseline
    (10.0, True, [(10.0, 1.0)])
    >>> [(round(c, 4), round(s, 4)) for c, s in scorer.detector.baseline()]
    [(10.1667, 0.9832)]

    A level that moved for good is re-baselined after a run of flags, and the point says so:

    >>> shifted = scorer.score_many([[50.0 + (k % 3)] for k in range(12)])
    >>> [k for k, r in enumerate(shifted) if r.change], shifted[8].change
    ([8], ((0, 10.0, 51.0),))
    >>> [r.is_anomaly for r in shifted[7:]]
    [True, True, False, False, False]

    A dry run changes nothing:

    >>> before = scorer.to_state()
    >>> scorer.score_one([500.0], learn=False).is_anomaly, scorer.to_state() == before
    (True, True)
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
        #: Whether the baseline adapts (bounded learning, change points, resolution floor).
        self.adapts = self.detector.can_rebaseline and not self.detector.fixed_baseline
        #: Whether the detector keeps its own learning (then the scorer adds nothing).
        self.owns = self.detector.owns_learning
        state = state or {}
        self.floor = ResolutionFloor.from_state(spec.n_features, state.get("floor"))
        self.change = ChangePoint.from_state(spec.n_features, state.get("change"))
        #: The seasonal profile the points are scored against (configured seasonality only).
        self.profile: SeasonalProfile | None = None
        if spec.seasonality is not None and self.adapts:
            season = state.get("season")
            self.profile = (
                SeasonalProfile.from_state(spec.n_features, spec.seasonality, season)
                if season is not None
                else SeasonalProfile(spec.n_features, **spec.seasonality)
            )

    # ------------------------------------------------------------------ one point

    def score_one(
        self, x: Sequence[float], learn: bool = True, ts: float | None = None
    ) -> PointResult:
        """Score ``x`` (at event time ``ts``, which a seasonal profile needs) and, with
        ``learn``, learn it (see the class docstring)."""
        if self.owns:
            return self._score_owned(x, learn, ts)
        if not self.adapts:
            return self._score_kept(x, learn, ts)
        values = self.detector._values(x)
        offsets = None
        residuals = values
        if self.profile is not None and ts is not None:
            offsets = self.profile.offsets(float(ts), values)[0].tolist()
            residuals = [v - o for v, o in zip(values, offsets, strict=True)]
        result, centers, spreads = self._score_values(residuals, offsets)
        if learn and result.is_anomaly and self.change.previous is not None:
            back = self._return(residuals, offsets, result.threshold)
            if back is not None:
                result, centers, spreads = back
        if learn and not math.isnan(result.score):
            self._learn_row(values, residuals, offsets, ts, result, centers, spreads)
        return result

    def _score_values(
        self, values: list[float], offsets: list[float] | None = None
    ) -> tuple[PointResult, list[float], list[float]]:
        """The point's result against the current baseline (floored), learning nothing.
        ``values`` are the residuals from the seasonal ``offsets`` (if any); the result's
        baseline adds them back, the centers returned do not."""
        detector, floor = self.detector, self.floor
        scores: list[float] = []
        centers: list[float] = []
        spreads: list[float] = []
        for i, v in enumerate(values):
            base = detector._feature_baseline(i)
            if base is None:
                centers.append(math.nan)
                spreads.append(math.nan)
                scores.append(math.nan if math.isnan(v) else 0.0)
                continue
            center, spread = base
            least = floor.floor(i)
            if spread < least:
                spread = least
            centers.append(center)
            spreads.append(spread)
            if math.isnan(v):
                scores.append(math.nan)
                continue
            z = (v - center) / spread
            if math.isinf(z):
                z = math.copysign(sys.float_info.max, z)
            scores.append(z)
        score = combined_score(scores)
        threshold = self.threshold.get()
        warm = detector.n_learned >= self.warmup
        shown = (
            centers if offsets is None else [c + o for c, o in zip(centers, offsets, strict=True)]
        )
        result = PointResult(
            score=score,
            threshold=threshold,
            is_anomaly=warm and math.isfinite(score) and score > threshold,
            feature_scores=scores,
            baseline=list(zip(shown, spreads, strict=True)),
            warm=warm,
        )
        return result, centers, spreads

    def _return(
        self, values: list[float], offsets: list[float] | None, threshold: float
    ) -> tuple[PointResult, list[float], list[float]] | None:
        """Soon after a change point, a point the baseline before the change would not flag
        takes the model back to that baseline; None when it would flag it too."""
        previous = self.change.previous
        assert previous is not None
        for i, (center, spread) in enumerate(previous):
            v = values[i]
            if math.isnan(v) or math.isnan(center):
                continue
            if abs(v - center) > threshold * max(spread, self.floor.floor(i)):
                return None
        now = self.detector.baseline()
        for i, (center, spread) in enumerate(previous):
            if math.isfinite(center):
                self.detector.rebaseline(i, center, spread)
        self.change.reverted()
        result, centers, spreads = self._score_values(values, offsets)
        result.change = tuple(
            (i, now[i][0], previous[i][0])
            for i in range(len(previous))
            if math.isfinite(previous[i][0]) and math.isfinite(now[i][0])
        )
        return result, centers, spreads

    def _learn_row(
        self,
        values: list[float],
        residuals: list[float],
        offsets: list[float] | None,
        ts: float | None,
        result: PointResult,
        centers: list[float],
        spreads: list[float],
    ) -> None:
        """Learn one scored point (with a value): winsorised if flagged, then the change-point
        watch, which may re-baseline (``result.change`` then says how). ``residuals`` are
        ``values`` less the seasonal ``offsets`` (the same list without a profile); the
        ``centers`` are theirs."""
        flagged = result.is_anomaly
        learned = residuals
        if flagged:
            learned = [
                _winsorised(v, z, c, s, LEARN_CLIP)
                for v, z, c, s in zip(
                    residuals, result.feature_scores, centers, spreads, strict=True
                )
            ]
        else:
            self._learn_score(result.score, ts)
        self.detector.learn_values(learned)
        kept = learned
        if offsets is not None:
            kept = [v + o for v, o in zip(learned, offsets, strict=True)]
        if self.profile is not None and ts is not None:
            switching = self.profile.may_switch_on
            self.profile.learn(float(ts), kept)
            if switching and self.profile.active:
                self._recentre(float(ts))
        floor = self.floor
        for i, (v, k) in enumerate(zip(values, kept, strict=True)):
            if v == v:  # not NaN
                floor.learn_value(i, v, k)
        self.change.learned(residuals, flagged, centers, spreads)
        if flagged and self.change.triggered():
            result.change = self._rebaseline(list(zip(centers, spreads, strict=True)))

    def _recentre(self, ts: float) -> None:
        """The seasonal profile just switched on: the detector, which followed the values with
        their cycle, moves to the residuals (its center less the offset at ``ts``), so the
        switch itself is no change point."""
        assert self.profile is not None
        nothing = np.full(self.spec.n_features, np.nan)
        offsets = self.profile.offsets(ts, nothing)[0].tolist()
        for i, base in enumerate(self.detector.baseline()):
            center, spread = base
            if math.isfinite(center) and offsets[i]:
                self.detector.rebaseline(i, center - offsets[i], spread)

    def _rebaseline(self, scored_against: list[tuple[float, float]]) -> Change:
        """A change point: every feature with enough values in the run gets the run's
        baseline; the change says which moved, from the run's origin to where."""
        change = self.change
        origin = change.origin or scored_against
        new = change.new_baseline(origin)
        run = np.array(change.run, dtype=float).reshape(len(change.run), self.spec.n_features)
        moved = []
        for i, ((before, _), (center, spread)) in enumerate(zip(origin, new, strict=True)):
            values = run[np.isfinite(run[:, i]), i]
            if not math.isfinite(before) or len(values) < 3:
                continue
            self.detector.rebaseline(i, center, spread)
            self.floor.reset_range(i, float(values.min()), float(values.max()))
            moved.append((i, before, center))
        change.changed(origin)
        return tuple(moved)

    def _score_kept(self, x: Sequence[float], learn: bool, ts: float | None) -> PointResult:
        """A detector that keeps its own baseline (static zscore, knn): a flagged point is
        not learned."""
        feature_scores = self.detector.feature_scores(x)
        score = combined_score(feature_scores)
        baseline = self.detector.baseline()
        threshold = self.threshold.get()
        warm = self.detector.n_learned >= self.warmup
        is_anomaly = warm and math.isfinite(score) and score > threshold
        if learn and not is_anomaly and not math.isnan(score):
            self.detector.learn_one(x)
            self._learn_score(score, ts)
        return PointResult(
            score=score,
            threshold=threshold,
            is_anomaly=is_anomaly,
            feature_scores=feature_scores,
            baseline=baseline,
            warm=warm,
        )

    def _score_owned(self, x: Sequence[float], learn: bool, ts: float | None) -> PointResult:
        """A detector that owns its learning (``adaptive``): it scores, flags and learns the
        point itself; the threshold learns the unflagged scores."""
        step, threshold, warm, score, is_anomaly = self._owned_step(x, learn, ts)
        return PointResult(
            score=score,
            threshold=threshold,
            is_anomaly=is_anomaly,
            feature_scores=step.feature_scores,
            baseline=step.baseline,
            warm=warm,
            change=step.change or None,
        )

    def _owned_step(
        self, x: Sequence[float], learn: bool, ts: float | None
    ) -> tuple[Any, float, bool, float, bool]:
        """The detector's step on ``x``, the threshold it had, whether the model was warm, the
        combined score and whether the point is an anomaly; the threshold learns the score of
        a point that is not."""
        threshold = self.threshold.get()
        warm = self.detector.n_learned >= self.warmup
        step = self.detector.step(x, ts, threshold, learn)  # type: ignore[attr-defined]
        score = combined_score(step.feature_scores)
        is_anomaly = warm and math.isfinite(score) and any(step.flagged)
        if learn and not is_anomaly and not math.isnan(score):
            self._learn_score(score, ts)
        return step, threshold, warm, score, is_anomaly

    def _score_owned_block(
        self, rows: np.ndarray, out: BlockResult, times: np.ndarray | None, learn: bool
    ) -> None:
        """:meth:`_score_owned` on each row in order, the results gathered in lists and
        written to ``out`` at once (a row at a time costs more than the detector's step)."""
        m, n = rows.shape
        stamps: list[float | None] = [None] * m if times is None else times.tolist()
        scores, thresholds, flagged, warm = [], [], [], []
        feature_scores: list[list[float]] = []
        baselines: list[list[tuple[float, float]]] = []
        for k, row in enumerate(rows.tolist()):  # _score_owned, without a PointResult a row
            step, threshold, warmed, score, is_anomaly = self._owned_step(row, learn, stamps[k])
            scores.append(score)
            thresholds.append(threshold)
            flagged.append(is_anomaly)
            warm.append(warmed)
            feature_scores.append(step.feature_scores)
            baselines.append(step.baseline)
            if step.change:
                out.changes[k] = step.change
        if not m:
            return
        out.score[:] = scores
        out.threshold[:] = thresholds
        out.is_anomaly[:] = flagged
        out.warm[:] = warm
        out.feature_scores[:] = feature_scores
        base = np.array(baselines, dtype=float).reshape(m, n, 2)
        out.centers[:] = base[:, :, 0]
        out.spreads[:] = base[:, :, 1]

    def _learn_score(self, score: float, ts: float | None) -> None:
        """The threshold learns an unflagged score (the budget also its time)."""
        if isinstance(self.threshold, BudgetThreshold):
            self.threshold.learn(score, ts)
        else:
            self.threshold.learn(score)

    def _settle(
        self,
        scores: np.ndarray,
        warm: np.ndarray,
        guess: np.ndarray | None,
        ts: np.ndarray | None,
    ) -> tuple[np.ndarray, np.ndarray, int]:
        """The threshold's walk over a span (the budget also takes the times)."""
        if isinstance(self.threshold, BudgetThreshold):
            return self.threshold.settle(scores, warm, guess, ts)
        return self.threshold.settle(scores, warm, guess)

    def score_many(self, xs: Iterable[Sequence[float]], learn: bool = True) -> list[PointResult]:
        """:meth:`score_one` on each point in order."""
        return [self.score_one(x, learn) for x in xs]

    # ------------------------------------------------------------------ a block

    def score_block(
        self, rows: np.ndarray, learn: bool = True, ts: np.ndarray | None = None
    ) -> BlockResult:
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
        times = None if ts is None else np.asarray(ts, dtype=float)
        if self.owns:  # the detector's own walk is per row
            self._score_owned_block(rows, out, times, learn)
            return out
        if learn and self.adapts:
            self._settle_block(rows, out, times)
            return out
        if learn and self.detector.fixed_baseline:
            self._settle_fixed(rows, out, times)
            return out
        if learn:  # its batch walk is per row anyway: no copy of the detector, no re-walks
            for k, row in enumerate(rows.tolist()):
                out.put(k, self.score_one(row, ts=None if times is None else float(times[k])))
            return out
        # A dry run learns nothing: every row is scored against the current state at once.
        centers, spreads = self.detector.current_baselines(m)
        if self.adapts:
            floors = self.floor.floors()[None, :]
            spreads = np.where(spreads < floors, floors, spreads)
        if self.profile is not None and times is not None:
            offsets = self.profile.offsets(times, np.full(rows.shape, np.nan))
            centers = centers + offsets
        feature_scores, score = block_scores(rows, centers, spreads)
        threshold = np.full(m, self.threshold.get())
        warm = np.full(m, self.detector.n_learned >= self.warmup)
        with np.errstate(invalid="ignore"):
            flagged = warm & np.isfinite(score) & (score > threshold)
        out.fill(0, slice(0, m), feature_scores, score, threshold, flagged, warm, centers, spreads)
        return out

    def _settle_fixed(self, rows: np.ndarray, out: BlockResult, ts: np.ndarray | None) -> None:
        """A fixed baseline (a static z-score): one walk of the threshold over the block."""
        m = len(rows)
        detector = self.detector
        has_value = np.isfinite(rows).any(axis=1)
        centers, spreads = detector.current_baselines(m)
        feature_scores, score = block_scores(rows, centers, spreads)
        warm = detector.n_learned + np.cumsum(has_value) - has_value >= self.warmup
        limits, flagged, _ = self._settle(score, warm, None, ts)
        out.fill(0, slice(0, m), feature_scores, score, limits, flagged, warm, centers, spreads)
        detector.learn_block(rows[~flagged])

    def _settle_block(self, rows: np.ndarray, out: BlockResult, ts: np.ndarray | None) -> None:
        """:meth:`score_block` with learning, for the detectors that adapt. A span of rows is
        scored against the baselines they would have if none were flagged (the detector's and
        the floor's block scans), and the threshold walks its scores in order
        (:meth:`AdaptiveThreshold.settle`) up to the first flagged row: the rows before it are
        right, as scoring is causal. They are learned at once; the flagged row is learned
        winsorised through the one-point step, which also runs the change-point watch, and
        the next span starts after it. A span that ends unflagged grows, one that does not
        shrinks. Soon after a change point (when a return to the old baseline is possible)
        rows go one by one."""
        m, _ = rows.shape
        detector, floor, change = self.detector, self.floor, self.change
        profile = self.profile if ts is not None else None
        has_value = np.isfinite(rows).any(axis=1)
        start, span = 0, 256
        days = np.floor(ts / 86400.0) if ts is not None else np.zeros(m)
        while start < m:
            # Soon after a change point, at each new day while a profile that is looking for a
            # cycle may find one, and while a declared one fills its first period (see
            # :meth:`_recentre`), rows go one by one.
            watch = profile is not None and profile.may_switch_on
            finding = profile is not None and profile.finding
            if change.previous is not None or (
                watch and (not finding or start == 0 or days[start] != days[start - 1])
            ):
                t = None if ts is None else float(ts[start])
                out.put(start, self.score_one(rows[start].tolist(), ts=t))
                start += 1
                continue
            stop = min(m, start + span)
            if watch:  # the span ends before the next day
                later = np.flatnonzero(days[start:stop] != days[start])
                if len(later):
                    stop = start + int(later[0])
            part = rows[start:stop]
            offsets = None
            residuals = part
            if profile is not None:
                assert ts is not None
                offsets = profile.offsets(ts[start:stop], part)
                residuals = part - offsets
            centers, spreads = detector.block_baselines(residuals)
            floors = floor.block_floors(part)
            spreads = np.where(spreads < floors, floors, spreads)
            feature_scores, score = block_scores(residuals, centers, spreads)
            counted = has_value[start:stop]
            warm = detector.n_learned + np.cumsum(counted) - counted >= self.warmup
            limits, flagged, done = self._settle(
                score, warm, np.zeros(len(part), dtype=bool), None if ts is None else ts[start:stop]
            )
            shown = centers if offsets is None else centers + offsets
            out.fill(
                start, slice(0, done), feature_scores, score, limits, flagged, warm, shown, spreads
            )
            last = done - 1
            n_normal = last if flagged[last] else done
            detector.learn_block(residuals[:n_normal])
            floor.learn(part[:n_normal])
            if profile is not None:
                assert ts is not None
                profile.learn(ts[start : start + n_normal], part[:n_normal])
            change.quiet(residuals[:n_normal][has_value[start : start + n_normal]])
            if flagged[last]:
                k = start + last
                result = out.point(k)
                self._learn_row(
                    part[last].tolist(),
                    residuals[last].tolist(),
                    None if offsets is None else offsets[last].tolist(),
                    None if ts is None else float(ts[k]),
                    result,
                    centers[last].tolist(),
                    spreads[last].tolist(),
                )
                if result.change:
                    out.changes[k] = result.change
            start += done
            span = min(4096, span * 2) if done == len(part) else max(64, span // 2)

    # ------------------------------------------------------------------ state

    def to_state(self) -> dict[str, Any]:
        """JSON-serialisable state (lists, str, int, None and finite float only).

        Examples
        --------
        >>> import json
        >>> scorer = ModelScorer(ModelSpec("ewma", {"alpha": 0.5}, 1))
        >>> _ = scorer.score_many([[1.0], [3.0]])
        >>> state = json.loads(json.dumps(scorer.to_state()))
        >>> state["detector"], state["threshold"], state["threshold_state"]
        ('ewma', 'static', {})
        >>> state["detector_state"], state["floor"]["step"]
        ({'n': 2, 'count': [2], 'mean': [2.0], 'var': [0.0784]}, [2.0])
        >>> ModelScorer(scorer.spec, state).score_one([5.0]) == scorer.score_one([5.0])
        True
        """
        state: dict[str, Any] = {
            "detector": self.spec.detector,
            "threshold": self.spec.threshold_strategy,
            "detector_state": self.detector.to_state(),
            "threshold_state": self.threshold.to_state(),
        }
        if self.adapts:
            state["floor"] = self.floor.to_state()
            change = self.change.to_state()
            if change is not None:
                state["change"] = change
        if self.profile is not None:
            state["season"] = self.profile.to_state()
        return state

    def learn_normal(self, rows: np.ndarray) -> None:
        """Learn ``rows`` as normal points, flagged or not (feedback said they were false
        positives): the threshold learns each row's score, against the baseline before that
        row, and the detector learns the rows in order, each with the weight of one point.

        Examples
        --------
        >>> spec = ModelSpec("zscore", {"threshold": 3.0}, n_features=1, warmup=5)
        >>> scorer = ModelScorer(spec)
        >>> _ = scorer.score_many([[9.0], [11.0], [9.0], [11.0], [10.0]])
        >>> scorer.score_one([20.0], learn=False).is_anomaly
        True
        >>> scorer.learn_normal(np.array([[20.0]]))
        >>> scorer.detector.n_learned, scorer.score_one([20.0], learn=False).is_anomaly
        (6, False)
        """
        rows = np.asarray(rows, dtype=float).reshape(-1, self.spec.n_features)
        if self.owns:
            self.detector.learn_block(rows)
            return
        centers, spreads = self.detector.block_baselines(rows)
        if self.adapts:
            floors = self.floor.block_floors(rows)
            spreads = np.where(spreads < floors, floors, spreads)
        _, scores = block_scores(rows, centers, spreads)
        self.detector.learn_block(rows)
        if self.adapts:
            self.floor.learn(rows)
        for score in scores.tolist():
            self.threshold.learn(score)


def _winsorised(value: float, z: float, center: float, spread: float, limit: float) -> float:
    """``value`` pulled in to ``center +- limit * spread`` (as it is learned when flagged).

    >>> _winsorised(20.0, 10.0, 10.0, 1.0, 3.0), _winsorised(9.0, -1.0, 10.0, 1.0, 3.0)
    (13.0, 9.0)
    """
    if math.isnan(value) or math.isnan(center) or abs(z) <= limit:
        return value
    return center + math.copysign(limit, z) * spread
