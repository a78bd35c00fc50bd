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

from itertools import chain
from typing import Any

import numpy as np

from detectors.base import DetectorError, block_scores, combined_scores
from detectors.budget import BudgetThreshold
from detectors.model_point import PointScorer
from detectors.model_spec import ModelSpec as ModelSpec
from detectors.owned_season import season_walk
from detectors.results import BlockResult
from detectors.thresholds import StaticThreshold


def warm_rows(before: int, counted: np.ndarray, warmup: int) -> np.ndarray:
    """Per row of a block whether the detector has learned ``warmup`` rows before it: the
    ``before`` of earlier blocks and the block's ``counted`` rows ahead of it (all of them once
    ``before`` is enough, without the cumulative count).

    >>> warm_rows(3, np.array([True, False, True, True]), 5).tolist(), warm_rows(5, np.ones(2), 5)
    ([False, False, False, True], array([ True,  True]))
    """
    if before >= warmup:
        return np.ones(len(counted), dtype=bool)
    warm: np.ndarray = before + np.cumsum(counted) - counted >= warmup
    return warm


class ModelScorer(PointScorer):
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

    def _score_owned_block(
        self, rows: np.ndarray, out: BlockResult, times: np.ndarray | None, learn: bool
    ) -> None:
        """:meth:`score_one` (owned learning) on each row in order: with learning and a static
        threshold (which a row's score does not move) the detector's own block walk, else
        each row's step, the results gathered in lists and written to ``out`` at once (a row at
        a time costs more than the detector's step)."""
        if learn and isinstance(self.threshold, StaticThreshold):
            self._walk_owned_block(rows, out, times)
            return
        m, n = rows.shape
        stamps: list[float | None] = [None] * m if times is None else times.tolist()
        scores, thresholds, flagged, warm = [], [], [], []
        feature_scores: list[list[float]] = []
        baselines: list[list[tuple[float, float]]] = []
        for k, row in enumerate(rows.tolist()):  # score_one, without a PointResult a row
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
        # flattened first: numpy reads a flat iterator of floats several times faster than
        # nested lists of tuples
        out.feature_scores[:] = np.fromiter(
            chain.from_iterable(feature_scores), float, m * n
        ).reshape(m, n)
        flat = chain.from_iterable(chain.from_iterable(baselines))
        base = np.fromiter(flat, float, 2 * m * n).reshape(m, n, 2)
        out.centers[:] = base[:, :, 0]
        out.spreads[:] = base[:, :, 1]

    def _walk_owned_block(
        self, rows: np.ndarray, out: BlockResult, times: np.ndarray | None
    ) -> None:
        """:meth:`_score_owned_block` with learning and a static threshold, in one walk of the
        detector (:meth:`detectors.base.Detector.step_block`)."""
        threshold = self.threshold.get()
        before = self.detector.n_learned
        if self.profile is not None and times is not None:
            steps = season_walk(self.profile, self.detector, rows, times, threshold)
        else:
            steps = self.detector.step_block(rows, times, threshold)
        learned = steps.learned
        warm = warm_rows(before, learned, self.warmup)
        score = combined_scores(steps.feature_scores)
        out.score[:] = score
        out.threshold[:] = threshold
        out.is_anomaly[:] = warm & np.isfinite(score) & steps.flagged.any(axis=1)
        out.warm[:] = warm
        out.feature_scores[:] = steps.feature_scores
        out.centers[:] = steps.centers
        out.spreads[:] = steps.spreads
        out.changes.update(steps.changes)

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
        if learn and self.detector.learning == "fixed":
            self._settle_fixed(rows, out, times)
            return out
        if learn:  # its batch walk is per row anyway: no copy of the detector, no re-walks
            for k, row in enumerate(rows.tolist()):
                out.put(k, self.score_one(row, ts=None if times is None else float(times[k])))
            return out
        # A dry run learns nothing: every row is scored against the current state at once.
        centers, spreads = self.detector.baselines(rows, in_order=False)
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
        centers, spreads = detector.baselines(rows, in_order=False)
        feature_scores, score = block_scores(rows, centers, spreads)
        warm = warm_rows(detector.n_learned, has_value, self.warmup)
        limits, flagged, _ = self._settle(score, warm, None, ts)
        out.fill(0, slice(0, m), feature_scores, score, limits, flagged, warm, centers, spreads)
        detector.learn(rows[~flagged])

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
            centers, spreads = detector.baselines(residuals)
            floors = floor.block_floors(part)
            spreads = np.where(spreads < floors, floors, spreads)
            feature_scores, score = block_scores(residuals, centers, spreads)
            counted = has_value[start:stop]
            warm = warm_rows(detector.n_learned, counted, self.warmup)
            limits, flagged, done = self._settle(
                score, warm, np.zeros(len(part), dtype=bool), None if ts is None else ts[start:stop]
            )
            shown = centers if offsets is None else centers + offsets
            out.fill(
                start, slice(0, done), feature_scores, score, limits, flagged, warm, shown, spreads
            )
            last = done - 1
            n_normal = last if flagged[last] else done
            detector.learn(residuals[:n_normal])
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
        >>> state["detector"], state["threshold"], "threshold_state" in state
        ('ewma', 'static', False)
        >>> state["detector_state"], state["floor"]["step"]
        ({'n': 2, 'count': [2], 'mean': [2.0], 'var': [0.0784]}, [2.0])
        >>> ModelScorer(scorer.spec, state).score_one([5.0]) == scorer.score_one([5.0])
        True
        """
        state: dict[str, Any] = {
            "detector": self.spec.detector,
            "threshold": self.spec.threshold_strategy,
            "detector_state": self.detector.to_state(),
        }
        threshold_state = self.threshold.to_state()
        if threshold_state:  # a static threshold's is empty: left out
            state["threshold_state"] = threshold_state
        if self.adapts:
            state["floor"] = self.floor.to_state()
            change = self.change.to_state()
            if change is not None:
                state["change"] = change
        if self.profile is not None:
            state["season"] = self.profile.to_state()
        return state

    def learn_normal(self, rows: np.ndarray, ts: np.ndarray | None = None) -> None:
        """Learn ``rows`` as normal points, flagged or not (feedback said they were false
        positives): the threshold learns each row's score, against the baseline before that
        row, and the detector learns the rows in order, each with the weight of one point. A
        detector that owns its learning under a declared seasonality learns the rows less the
        profile's offsets at their times ``ts`` (what it steps on), when the times are given.

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
            if self.profile is not None and ts is not None:
                times = np.asarray(ts, dtype=float)
                rows = rows - self.profile.offsets(times, rows)
            self.detector.learn(rows)
            return
        centers, spreads = self.detector.baselines(rows)
        if self.adapts:
            floors = self.floor.block_floors(rows)
            spreads = np.where(spreads < floors, floors, spreads)
        _, scores = block_scores(rows, centers, spreads)
        self.detector.learn(rows)
        if self.adapts:
            self.floor.learn(rows)
        for score in scores.tolist():
            self.threshold.learn(score)
