"""The adaptive detector: a slow baseline, a fast one, a daily profile and a calibrated tail.

Each feature keeps (all updated online, one point at a time):

- a slow level and variance (unbiased exponential weights ``alpha`` and ``var_alpha``) and a
  fast center (weight ``fast_alpha``); the deviation ``z`` is the geometric mean of the two
  centers' ``|x - center| / spread``, so a point must be far from both the long-run level and
  the last few points;
- a daily profile of 48 half-hour offsets, used once two days are seen and the profile halves
  the squared error, read as steps or as lines between the half hours' centers, whichever has
  predicted better (each point teaches its half hour's offset and, by nearness, the nearest
  other center's); when it comes into use the variance of day 1's residuals from it (while it
  was being learned) counts as 100 points only; and per bin the largest recent deviation
  (decaying over ``peak_days``):
  the spread is at least ``peak_factor`` times the largest of its bin's and the two
  neighbouring bins', so a daily peak seen before is no anomaly though it comes up to half an
  hour earlier or later than on earlier days;
- a spread floor from the data's granularity (smallest step between distinct values) and
  ``range_floor`` times its recent range;
- a tail calibration of ``z`` (:class:`detectors._tail.TailCalibration`): the score is
  ``-log10`` of the tail probability, so one threshold means the same on every series;
- an alert budget per unit of time: the probability is per ``tail_interval`` seconds of event
  time, so a key sampled every ``dt < tail_interval`` seconds scores ``-log10(p * tail_interval
  / dt)`` (the chance that one of an interval's points is as far) and is held to the same false
  alerts a day as one sampled every ``tail_interval`` seconds;
- a second, sustained path: a run of moderately far points flags though none crosses the
  threshold (each adds its score above ``sustain_level`` to a sum decaying by
  ``sustain_decay``; the sum above ``sustain_sum`` flags, and no single point can get it there);
  the point whose sum first crosses scores at least :data:`CONFIRMED` times the threshold, so
  the run also stands out in the scores, once;
- a flag's direction: a point past the threshold (but under twice it) against the direction of
  a threshold flag of the last 3 points is not flagged, so a pair of opposite noise flags does
  not pass a 2-of-3 persistence (a persistent move goes one way; a spread that rose is the
  sustained path's and the variance re-baseline's);
- a run reported once, at its peak: for ``repeat_points`` points after a score above
  ``repeat_level``, a point scoring no more than the run's highest so far reports 0 (its flag is
  kept, so the alerts are what they were): a burst of three far points is one report, not three;
- a level seen before reports less: the range of values seen is cut into ``novel_bins`` bands
  (:mod:`detectors._value_bands`); a point in a band a value was in before reports
  ``familiar_factor`` times its score, a new level its whole score (a contextual view in the
  spirit of CAD OSE's novel contexts), and one whose band is new but whose pair or four of bands
  is not (``novel_levels`` 3) a third or two thirds of the cut; the cut stays between 0.8 of the
  threshold and the bypass of the recommended suppression, so the flags, bypasses and incidents
  are the same;
- bounded learning: a flagged point is learned pulled in to the threshold (by the slow level,
  the variance and the fast center, so a bump stays far from the fast center for its length),
  and does not teach the half-hour offset of a profile in use (a bump at a trough stays a bump);
- change points: a decaying count of flags (``change_decay``) reaching ``change_count``
  re-baselines the level on the run's own points, and a fast center that stays more than
  ``drift_sigmas`` spreads away for ``drift_points`` points moves the level to it; both say so;
  for 6 hours after (``RETURN_TIME``) a point back near the level before (twice as near to it
  as to the level now, and past the threshold's distance from that) takes that level back at
  once, says so, and is scored against it: a level that moved for an hour and came back is one
  change, not two (the level left takes its place, so a lone noise point near the old level is
  undone by the next one);
- a variance re-baseline: during a sustained run of at least ``var_points`` points whose steps
  between consecutive values are ``var_ratio`` times the long-run ones (clipped, so a level
  shift's one jump does not count), the variance takes the ratio of their mean squares.

The detector owns its learning, change points, season and calibration (its ``learning`` is ``"owned"``):
:class:`detectors.model.ModelScorer` calls :meth:`Adaptive.step` and adds none of its own (a
declared seasonality: it steps on the residuals from that profile, :mod:`detectors.owned_season`).
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Self

import numpy as np

from detectors._checks import require_finite, require_int, state_field
from detectors._packed import (
    pack_decimals,
    pack_sparse,
    packed_count,
    unpack_decimals,
    unpack_floats,
)
from detectors._tail import TailCalibration
from detectors.adaptive_state import (
    _NAN,
    _SCALARS,
    _SCALARS_V1,
    _SCALARS_V2,
    _SCALARS_V3,
    _SCALARS_V4,
    _SCALARS_V5,
    _SCALARS_V6,
    BINS,
    _Feature,
    _pack32,
    _packed_len,
    _trimmed,
    _unpack32,
)
from detectors.adaptive_step import BytesWriter, FeatureStep
from detectors.base import BlockSteps, Detector, DetectorError, Step


class Adaptive(Detector):
    """Per feature ``-log10`` tail probability of its deviation; see the module docstring.

    Parameters
    ----------
    n_features
        Number of features of each point.
    alpha, var_alpha, fast_alpha
        Weights of the newest point in the slow level, the variance and the fast center,
        each in (0, 1].
    tail_quantile, tail_rate, min_tail
        The tail calibration's quantile, mean-excess weight and least base (sigma units).
    gaussian_cap
        Whether the calibrated tail is never lighter than a normal's.
    min_z
        Deviations below this many spreads score 0.
    change_decay, change_count
        The change-point count's decay per point and the count that re-baselines.
    drift_sigmas, drift_points
        The fast center this many spreads from the level for this many points moves the level
        (``drift_points`` 0: never).
    season_alpha, season_days
        Weight of a new residual in its half-hour offset, for points 5 minutes apart (less for
        closer ones, so a bin learns as much per day at any sampling rate); days seen before the profile may
        be used (then from when it halves the squared error; the per-bin peaks start again).
    range_floor, rel_floor
        The spread is at least ``range_floor`` times the recent range, and (before two distinct
        values are seen) ``rel_floor`` times the level's magnitude.
    peak_factor, peak_days
        The spread is at least ``peak_factor`` times the largest deviation in the same half
        hour or the two next to it (a daily peak's time wanders), which decays by ``e`` in
        ``peak_days`` days.
    tail_interval
        Seconds of event time the tail probability is counted per: points closer together
        score ``log10(tail_interval / dt)`` less (0: per point, whatever the sampling).
    sustain_level, sustain_sum, sustain_decay
        The sustained path: each point adds its score above ``sustain_level`` (at most 0.6 of
        ``sustain_sum``) to a sum decaying by ``sustain_decay`` per point; above
        ``sustain_sum`` the point is flagged (``sustain_sum`` 0: no sustained path).
    short_alpha, var_ratio, var_points
        Weight of a new step in the long-run step size; the ratio of a sustained run's step size
        to it, and the run's length, that re-baseline the variance (``var_ratio`` 0: never).
    repeat_level, repeat_points
        A run is reported once, at its peak: for ``repeat_points`` points after a score above
        ``repeat_level`` (counted again from each), a point scoring no more than the run's
        highest so far reports 0; its flag is kept (``repeat_points`` 0: every point reports
        its own score).
    novel_bins, novel_levels, familiar_factor
        The range of values seen is cut into ``novel_bins`` equal bands; a point in a band a
        value was in before reports ``familiar_factor`` times its score, a value at a new level
        its whole score; the flags are the same (``novel_bins`` 0: every point its own score).
        The bands are read at ``novel_levels`` resolutions (``novel_bins``, half as many, a
        quarter, ...): a point whose band was not visited but whose pair or four of bands was
        reports a proportionate part of the cut (``novel_levels`` 1: its own band only).

    Examples
    --------
    Noise around 100, then a 10-sigma spike: it alone scores far above the rest.

    >>> import numpy as np
    >>> rng = np.random.default_rng(1)
    >>> det = Adaptive(1)
    >>> steps = [det.step([100.0 + rng.normal()], 60.0 * k, 2.0) for k in range(2000)]
    >>> sum(any(s.flagged) for s in steps[100:]) < 40
    True
    >>> spike = det.step([110.0], 60.0 * 2000, 2.0)
    >>> spike.flagged, round(spike.feature_scores[0], 2)
    ([True], 7.62)

    A level that moved for good: its first points flag (once the fast center has moved, as a
    sustained run), the run of flags re-baselines the level on its own points, the step says
    so, and the points after it no longer flag:

    >>> shifted = [det.step([150.0 + rng.normal()], 60.0 * (2001 + k), 2.0) for k in range(40)]
    >>> [k for k, s in enumerate(shifted) if any(s.flagged)]
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22]
    >>> [(k, round(s.change[0][1]), round(s.change[0][2])) for k, s in enumerate(shifted)
    ...  if s.change]
    [(20, 100, 148)]
    >>> Adaptive(1, alpha=0.0)
    Traceback (most recent call last):
    ...
    detectors.base.DetectorError: alpha must be in (0, 1], got 0.0
    """

    name: ClassVar[str] = "adaptive"
    param_names: ClassVar[tuple[str, ...]] = (
        "alpha", "var_alpha", "fast_alpha", "tail_quantile", "tail_rate", "min_tail",
        "gaussian_cap", "min_z", "change_decay", "change_count", "drift_sigmas",
        "drift_points", "season_alpha", "season_days", "range_floor", "rel_floor", "peak_factor", "peak_days",
        "tail_interval", "sustain_level", "sustain_sum", "sustain_decay", "short_alpha", "var_ratio", "var_points",
        "repeat_level", "repeat_points", "novel_bins", "novel_levels", "familiar_factor",
    )  # fmt: skip
    learning = "owned"

    def __init__(
        self,
        n_features: int,
        alpha: float = 0.003,
        var_alpha: float = 0.001,
        fast_alpha: float = 0.4,
        tail_quantile: float = 0.99,
        tail_rate: float = 0.05,
        min_tail: float = 2.0,
        gaussian_cap: bool = False,
        min_z: float = 0.0,
        change_decay: float = 0.9,
        change_count: float = 9.0,
        drift_sigmas: float = 3.0,
        drift_points: int = 30,
        season_alpha: float = 0.2,
        season_days: float = 1.0,
        range_floor: float = 0.01,
        rel_floor: float = 1e-3,
        peak_factor: float = 0.3,
        peak_days: float = 7.0,
        tail_interval: float = 60.0,
        sustain_level: float = 1.0,
        sustain_sum: float = 2.5,
        sustain_decay: float = 0.8,
        short_alpha: float = 0.01,
        var_ratio: float = 2.0,
        var_points: int = 30,
        repeat_level: float = 1.0,
        repeat_points: int = 10,
        novel_bins: int = 32,
        novel_levels: int = 3,
        familiar_factor: float = 0.7,
    ) -> None:
        super().__init__(n_features)
        for field, value in (
            ("alpha", alpha),
            ("var_alpha", var_alpha),
            ("fast_alpha", fast_alpha),
            ("season_alpha", season_alpha),
            ("change_decay", change_decay),
            ("sustain_decay", sustain_decay),
            ("short_alpha", short_alpha),
            ("familiar_factor", familiar_factor),
        ):
            if not 0.0 < require_finite(field, value) <= 1.0:
                raise DetectorError(f"{field} must be in (0, 1], got {float(value)}")
        for field, value in (
            ("min_z", min_z),
            ("drift_sigmas", drift_sigmas),
            ("range_floor", range_floor),
            ("rel_floor", rel_floor),
            ("peak_factor", peak_factor),
            ("season_days", season_days),
            ("tail_interval", tail_interval),
            ("sustain_level", sustain_level),
            ("sustain_sum", sustain_sum),
            ("var_ratio", var_ratio),
            ("repeat_level", repeat_level),
        ):
            if require_finite(field, value) < 0.0:
                raise DetectorError(f"{field} must be >= 0, got {float(value)}")
        for field, value in (("change_count", change_count), ("peak_days", peak_days)):
            if not require_finite(field, value) > 0.0:
                raise DetectorError(f"{field} must be positive, got {float(value)}")
        if not isinstance(gaussian_cap, bool):
            raise DetectorError(f"gaussian_cap must be true or false, got {gaussian_cap!r}")
        self.alpha = float(alpha)
        self.var_alpha = float(var_alpha)
        self.fast_alpha = float(fast_alpha)
        self.tail_quantile = float(tail_quantile)
        self.tail_rate = float(tail_rate)
        self.min_tail = float(min_tail)
        self.gaussian_cap = gaussian_cap
        self.min_z = float(min_z)
        self.change_decay = float(change_decay)
        self.change_count = float(change_count)
        self.drift_sigmas = float(drift_sigmas)
        self.drift_points = require_int("drift_points", drift_points, 0)
        self.season_alpha = float(season_alpha)
        self.season_days = float(season_days)
        self.range_floor = float(range_floor)
        self.rel_floor = float(rel_floor)
        self.peak_factor = float(peak_factor)
        self.peak_days = float(peak_days)
        self.tail_interval = float(tail_interval)
        self.sustain_level = float(sustain_level)
        self.sustain_sum = float(sustain_sum)
        self.sustain_decay = float(sustain_decay)
        self.short_alpha = float(short_alpha)
        self.var_ratio = float(var_ratio)
        self.var_points = require_int("var_points", var_points, 1)
        self.repeat_level = float(repeat_level)
        self.repeat_points = require_int("repeat_points", repeat_points, 0)
        self.novel_bins = require_int("novel_bins", novel_bins, 0)
        if self.novel_bins > 53:
            raise DetectorError(f"novel_bins must be at most 53, got {self.novel_bins}")
        self.novel_levels = require_int("novel_levels", novel_levels, 1)
        if self.novel_levels > 6:
            raise DetectorError(f"novel_levels must be at most 6, got {self.novel_levels}")
        self.familiar_factor = float(familiar_factor)
        self._kernel = FeatureStep(self)
        self._features = [_Feature(self._calibration()) for _ in range(n_features)]

    def _calibration(self) -> TailCalibration:
        return TailCalibration(
            self.tail_quantile, self.tail_rate, self.min_tail, gaussian_cap=self.gaussian_cap
        )

    def step(
        self, x: Sequence[float], ts: float | None, threshold: float, learn: bool = True
    ) -> Step:
        """Score ``x`` at event time ``ts`` (seconds; None: no profile) and, with ``learn``,
        learn it: a feature is flagged when its score is above ``threshold``."""
        values = self._values(x)
        scores: list[float] = []
        baseline: list[tuple[float, float]] = []
        flagged: list[bool] = []
        change: list[tuple[int, float, float]] = []
        learned = False
        features = self._features
        for i, v in enumerate(values):
            f = features[i]
            if math.isnan(v):
                scores.append(_NAN)
                baseline.append(self._kernel.baseline_of(f) or (_NAN, _NAN))
                flagged.append(False)
                continue
            if math.isnan(f.plain):
                scores.append(0.0)
                baseline.append((_NAN, _NAN))
                flagged.append(False)
                if learn:
                    self._kernel.start(f, v, 0.0 if ts is None else ts, ts is not None)
                    learned = True
                continue
            if learn:
                moved = self._kernel.score_learn(i, f, v, ts, threshold, scores, baseline, flagged)
            else:
                saved = self.to_state()
                moved = self._kernel.score_learn(i, f, v, ts, threshold, scores, baseline, flagged)
                self._restore(saved)
                features = self._features
            if moved is not None:
                change.append(moved)
            learned = True
        if learn and learned:
            self._n_learned += 1
        return Step(scores, baseline, flagged, tuple(change))

    def step_block(self, rows: np.ndarray, ts: np.ndarray | None, threshold: float) -> BlockSteps:
        """:meth:`step` with learning on each of ``rows`` in order (at ``ts``, seconds; None:
        no profile) against one ``threshold``, as arrays: the same floats, flags and change
        points. Each feature's values are walked by the compiled kernel
        (:meth:`detectors.adaptive_step.FeatureStep.walk`), one feature after the other (a
        feature's step reads only its own state), with no object made per point.

        >>> import numpy as np
        >>> rng = np.random.default_rng(2)
        >>> rows = 100.0 + rng.normal(size=(300, 2))
        >>> rows[250, 0], rows[260:, 1], rows[5, 1] = 120.0, rows[260:, 1] + 50.0, np.nan
        >>> one, block = Adaptive(2), Adaptive(2)
        >>> steps = [one.step(row.tolist(), 60.0 * k, 2.0) for k, row in enumerate(rows)]
        >>> walked = block.step_block(rows, 60.0 * np.arange(300), 2.0)
        >>> np.array_equal(walked.feature_scores, [s.feature_scores for s in steps], equal_nan=True)
        True
        >>> walked.flagged.tolist() == [s.flagged for s in steps]
        True
        >>> walked.changes == {k: s.change for k, s in enumerate(steps) if s.change}
        True
        >>> block.to_state() == one.to_state()
        True
        """
        m, n = rows.shape
        finite = np.isfinite(rows)
        every = bool(finite.all())
        if not every:
            rows = np.where(finite, rows, np.nan)
        # the walk reads and writes little-endian float64 bytes (no Python float a value): the
        # features' results one after the other in one writer, read as one array
        columns = np.ascontiguousarray(rows.T, dtype="<f8")
        times = None if ts is None else np.ascontiguousarray(ts, dtype="<f8").tobytes()
        out = BytesWriter()
        flagged = np.zeros((n, m), dtype=bool)
        moved: list[tuple[int, int, float, float]] = []
        kernel = self._kernel
        for i, f in enumerate(self._features):
            flags: list[int] = []
            changes: list[tuple[int, float, float]] = []
            kernel.walk(f, columns[i].tobytes(), times, threshold, out, flags, changes)
            if flags:
                flagged[i, flags] = True
            moved.extend((k, i, before, after) for k, before, after in changes)
        found = np.frombuffer(out.getvalue(), dtype="<f8").reshape(n, m, 3)
        learned = np.ones(m, dtype=bool) if every else finite.any(axis=1)  # not all NaN
        self._n_learned += m if every else int(np.count_nonzero(learned))
        by_row: dict[int, list[tuple[int, float, float]]] = {}
        for k, i, before, after in sorted(moved):
            by_row.setdefault(k, []).append((i, before, after))
        return BlockSteps(
            found[:, :, 0].T,
            found[:, :, 1].T,
            found[:, :, 2].T,
            flagged.T,
            learned,
            {k: tuple(change) for k, change in by_row.items()},
        )

    # ---------------------------------------------------------------- the Detector contract

    def _feature_baseline(self, i: int) -> tuple[float, float] | None:
        return self._kernel.baseline_of(self._features[i])

    def _learn_value(self, i: int, v: float) -> None:
        """Learn ``v`` as a normal point without a time (feedback)."""
        f = self._features[i]
        if math.isnan(f.plain):
            f.level = f.plain = f.prev = f.high = f.low = v
            f.first = 0.0
            f.n = 1.0
            self._kernel.familiar(f, v)
            return
        self._kernel.score_learn(i, f, v, None, math.inf, [], [], [])

    def to_state(self) -> dict[str, Any]:
        """Per feature: its scalars packed (``s``, :func:`detectors._packed.pack_sparse`: those
        that are 0.0 left out; rows written before hold every scalar), offsets and
        peaks packed as float32 (``o``, ``p``; rows written before hold the offsets as
        float64, which load rounded to float32; the peaks without the zeros at the end, as of
        the bins not reached today), the bins with an offset (``b``) and the calibration's
        counts (``h``, without the zeros at the end; ``c``, their sum, only when it is not)."""
        rows = []
        for f in self._features:
            scalars = [getattr(f, name) for name in _SCALARS[:-2]] + [f.cal.base, f.cal.beta]
            counts = f.cal.counts
            last = len(counts)
            while last and not counts[last - 1]:
                last -= 1  # the zero counts at the end are left out
            rows.append(
                {
                    "s": pack_sparse([math.nan if v == math.inf else v for v in scalars]),
                    "o": _pack32(array("f", f.offsets)) if f.seen else "",
                    "p": _pack32(_trimmed(array("f", f.peaks + f.today))),
                    "b": f.seen,
                    "h": pack_decimals([float(c) for c in counts[:last]]),
                }
            )
            if f.cal.n != sum(counts):  # the usual: every deviation counted once
                rows[-1]["c"] = f.cal.n
        return {"n": self._n_learned, "features": rows}

    def _restore(self, state: Mapping[str, Any]) -> None:
        rows = state_field(state, "features", "adaptive state")
        if not isinstance(rows, list) or len(rows) != self.n_features:
            raise DetectorError(f"adaptive state must hold {self.n_features} features")
        features = []
        for row in rows:
            if not isinstance(row, Mapping):
                raise DetectorError("adaptive state features must be objects")
            f = _Feature(self._calibration())
            names: tuple[str, ...] = _SCALARS
            packed = row.get("s")
            if isinstance(packed, str):  # a row of an older engine: the new scalars start afresh
                count = packed_count(packed)
                for older in (
                    _SCALARS_V1, _SCALARS_V2, _SCALARS_V3, _SCALARS_V4, _SCALARS_V5, _SCALARS_V6
                ):  # fmt: skip
                    if count == len(older):
                        names = older
            scalars = unpack_floats("adaptive state", packed, len(names))
            for name, value in zip(names[:-2], scalars, strict=False):
                setattr(f, name, value)
            if "err_lin" not in names:  # the profile stays read as steps until lines do better
                f.err_lin = f.err_season
            if math.isnan(f.step):
                f.step = math.inf
            f.cal.base, f.cal.beta = scalars[-2], scalars[-1]
            seen = row.get("b")
            if not isinstance(seen, int) or seen < 0:
                raise DetectorError(f"adaptive state bins must be an integer, got {seen!r}")
            f.seen = seen
            offsets = row.get("o")
            if offsets and isinstance(offsets, str) and len(offsets) == _packed_len(BINS):
                # float64, as rows written before the offsets were float32 hold them
                f.offsets = array(
                    "f", unpack_floats("adaptive state offsets", offsets, BINS)
                ).tolist()
            elif offsets:
                f.offsets = _unpack32(offsets, "offsets", BINS).tolist()
            if row.get("p"):
                both = _unpack32(row["p"], "peaks", 2 * BINS, trimmed=True).tolist()
                f.peaks, f.today = both[:BINS], both[BINS:]
            h = row.get("h")
            if not isinstance(h, str):
                raise DetectorError("adaptive state counts must be packed decimals")
            counts = [int(c) for c in unpack_decimals("adaptive state counts", h)]
            if len(counts) > len(f.cal.counts):
                raise DetectorError(f"adaptive state counts must be at most {len(f.cal.counts)}")
            f.cal.counts = counts + [0] * (len(f.cal.counts) - len(counts))
            f.cal.n = int(row.get("c", sum(counts)))
            features.append(f)
        self._features = features
        self._n_learned = int(state_field(state, "n", "adaptive state"))

    @classmethod
    def from_state(
        cls, n_features: int, params: Mapping[str, Any], state: Mapping[str, Any]
    ) -> Self:
        det = cls(n_features, **params)
        det._restore(state)
        return det
