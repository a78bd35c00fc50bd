"""A model's one-point path: a point scored against its baseline, then learned (see
:mod:`detectors.model` for bounded learning, change points and the resolution floor).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from detectors._checks import state_field
from detectors.base import Detector, DetectorError, Step, combined_score
from detectors.budget import BudgetThreshold
from detectors.changepoint import ChangePoint
from detectors.model_spec import ModelSpec
from detectors.owned_season import season_step
from detectors.registry import make_detector
from detectors.resolution import ResolutionFloor
from detectors.results import Change, PointResult
from detectors.seasonality import SeasonalProfile
from detectors.thresholds import AdaptiveThreshold, StaticThreshold, make_threshold

#: A flagged point is learned as if it were this many spreads from the center.
LEARN_CLIP = 1.0

_isfinite = math.isfinite


class PointScorer:
    """Scores the points of one key one at a time; :class:`detectors.model.ModelScorer`
    adds the block path and the state (its docstring says what a point does)."""

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
            threshold_state = state.get("threshold_state", {})  # left out when empty
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
        #: Whether the threshold is a budget (its learning also takes the point's time).
        self._budget = isinstance(self.threshold, BudgetThreshold)
        #: Whether the baseline adapts (bounded learning, change points, resolution floor).
        self.adapts = self.detector.learning == "bounded"
        #: Whether the detector keeps its own learning (then the scorer adds nothing).
        self.owns = self.detector.learning == "owned"
        state = state or {}
        self.floor = ResolutionFloor.from_state(spec.n_features, state.get("floor"))
        self.change = ChangePoint.from_state(spec.n_features, state.get("change"))
        #: The seasonal profile the points are scored against (configured seasonality only; a
        #: detector that owns its learning takes a declared period, not "auto":
        #: :mod:`detectors.owned_season`).
        self.profile: SeasonalProfile | None = None
        seasonality = spec.seasonality
        if seasonality is not None and (
            self.adapts or (self.owns and seasonality.get("period") != "auto")
        ):
            season = state.get("season")
            self.profile = (
                SeasonalProfile.from_state(spec.n_features, seasonality, season)
                if season is not None
                else SeasonalProfile(spec.n_features, **seasonality)
            )

    # ------------------------------------------------------------------ one point

    def score_one(
        self, x: Sequence[float], learn: bool = True, ts: float | None = None
    ) -> PointResult:
        """Score ``x`` (at event time ``ts``, which a seasonal profile needs) and, with
        ``learn``, learn it (see the class docstring)."""
        if self.owns:  # the detector scores, flags and learns; the threshold learns the rest
            step, threshold, warm, score, is_anomaly = self._owned_step(x, learn, ts)
            # positional: the fields in PointResult's order (keywords cost more a point)
            return PointResult(
                score,
                threshold,
                is_anomaly,
                step.feature_scores,
                step.baseline,
                warm,
                step.change or None,
            )
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
        result = PointResult(  # positional, in the fields' order
            score,
            threshold,
            warm and math.isfinite(score) and score > threshold,
            scores,
            list(zip(shown, spreads, strict=True)),
            warm,
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
        self.detector._learn_row(learned)
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
        detector = self.detector
        values = detector._values(x)  # checked once: feature_scores(x), then learn_one(x)
        feature_scores = detector._row_scores(values)
        score = combined_score(feature_scores)
        baseline = detector.baseline()
        threshold = self.threshold.get()
        warm = detector.n_learned >= self.warmup
        is_anomaly = warm and math.isfinite(score) and score > threshold
        if learn and not is_anomaly and not math.isnan(score):
            detector._learn_row(values)
            self._learn_score(score, ts)
        return PointResult(score, threshold, is_anomaly, feature_scores, baseline, warm)

    def _owned_step(
        self, x: Sequence[float], learn: bool, ts: float | None
    ) -> tuple[Step, float, bool, float, bool]:
        """The detector's step on ``x``, the threshold it had, whether the model was warm, the
        combined score and whether the point is an anomaly; the threshold learns the score of
        a point that is not."""
        threshold = self.threshold.get()
        detector = self.detector
        warm = detector.n_learned >= self.warmup
        if self.profile is not None and ts is not None:
            step = season_step(self.profile, detector, x, float(ts), threshold, learn)
        else:
            step = detector.step(x, ts, threshold, learn)
        score = combined_score(step.feature_scores)
        is_anomaly = warm and _isfinite(score) and True in step.flagged
        if learn and not is_anomaly and score == score:  # not NaN
            self._learn_score(score, ts)
        return step, threshold, warm, score, is_anomaly

    def _learn_score(self, score: float, ts: float | None) -> None:
        """The threshold learns an unflagged score (the budget also its time)."""
        if self._budget:
            self.threshold.learn(score, ts)  # type: ignore[call-arg]
        else:
            self.threshold.learn(score)

    def score_many(self, xs: Iterable[Sequence[float]], learn: bool = True) -> list[PointResult]:
        """:meth:`score_one` on each point in order."""
        return [self.score_one(x, learn) for x in xs]


def _winsorised(value: float, z: float, center: float, spread: float, limit: float) -> float:
    """``value`` pulled in to ``center +- limit * spread`` (as it is learned when flagged).

    >>> _winsorised(20.0, 10.0, 10.0, 1.0, 3.0), _winsorised(9.0, -1.0, 10.0, 1.0, 3.0)
    (13.0, 9.0)
    """
    if math.isnan(value) or math.isnan(center) or abs(z) <= limit:
        return value
    return center + math.copysign(limit, z) * spread
