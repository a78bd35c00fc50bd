"""False-positive suppression: which raw anomalies are worth an alert.

A detector flags a point when its score crosses the threshold. Operators are paged only when the
flag also passes these checks, each configurable per model and on by default:

- **warm-up**: nothing fires before the model has learned ``warmup`` points (see ``ModelSpec``);
- **persistence**: at least ``k`` of the last ``n`` points are flagged (Prometheus' ``for:`` idea),
  unless the score is at least ``bypass_factor`` times the threshold (a huge spike fires alone);
- **in event time** (``interval`` seconds, 0: off): ``n`` and the bypass are for points
  ``interval`` seconds apart. A key sampled less often (its mean gap ``dt``, gaps counted up to
  half an hour) keeps the same chance per day that noise alone alerts: the window spans
  ``1 + (n - 1) * dt / interval`` points (at most 63; for ``k`` = 2 the chance of a pair of noise
  flags grows with the window's length, and the points per day shrink by as much) and the bypass is
  ``log10(dt / interval)`` lower (for scores that are ``-log10`` tail probabilities, as
  ``adaptive``'s: a point that rare per interval), never below the threshold;
- **minimum deviation**: the most deviant feature is at least ``min_abs_deviation`` away from its
  baseline, and at least ``min_rel_deviation`` times the baseline's magnitude (a 5σ move of a
  flat 0.1 % CPU series is not worth a page).

Hysteresis (a lower threshold to recover than to fire) and keep-firing belong to the incident
lifecycle (``incidents.lifecycle``); never learning from flagged points belongs to ``ModelScorer``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from detectors._checks import require_finite, require_int
from detectors.base import DetectorError

REASONS = ("warmup", "persistence", "min_deviation")
#: A gap counts at most this many seconds in the mean gap (a feed that stops is not a slower feed).
GAP_CAP = 1800.0
#: The longest window in event time, in points (the flags of a key fit a 64-bit integer).
MAX_WINDOW = 63


@dataclass(frozen=True)
class SuppressionSpec:
    """Suppression settings of a model (the configuration's ``suppression`` object).

    Examples
    --------
    >>> SuppressionSpec.from_dict({"persistence": {"k": 1, "n": 1}}).persistence_k
    1
    >>> SuppressionSpec.from_dict({"persistence": {"k": 3, "n": 2}})
    Traceback (most recent call last):
    ...
    detectors.base.DetectorError: suppression.persistence.k must be at most n, got k=3 and n=2
    >>> SuppressionSpec.from_dict({"interval": 60}).to_dict()["interval"]
    60.0
    """

    persistence_k: int = 2
    persistence_n: int = 3
    bypass_factor: float = 2.0
    min_abs_deviation: float = 0.0
    min_rel_deviation: float = 0.01
    interval: float = 0.0

    def __post_init__(self) -> None:
        require_int("suppression.persistence.k", self.persistence_k, 1)
        require_int("suppression.persistence.n", self.persistence_n, 1)
        if self.persistence_n > 64:
            raise DetectorError(
                f"suppression.persistence.n must be at most 64, got {self.persistence_n}"
            )
        if self.persistence_k > self.persistence_n:
            raise DetectorError(
                "suppression.persistence.k must be at most n, got "
                f"k={self.persistence_k} and n={self.persistence_n}"
            )
        if require_finite("suppression.bypass_factor", self.bypass_factor) < 1:
            raise DetectorError(
                f"suppression.bypass_factor must be at least 1, got {self.bypass_factor}"
            )
        if require_finite("suppression.min_abs_deviation", self.min_abs_deviation) < 0:
            raise DetectorError("suppression.min_abs_deviation must be >= 0")
        if require_finite("suppression.min_rel_deviation", self.min_rel_deviation) < 0:
            raise DetectorError("suppression.min_rel_deviation must be >= 0")
        if require_finite("suppression.interval", self.interval) < 0:
            raise DetectorError("suppression.interval must be >= 0")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> SuppressionSpec:
        """Build from the configuration's ``suppression`` object; missing keys take defaults."""
        if not data:
            return cls()
        known = {
            "persistence",
            "bypass_factor",
            "min_abs_deviation",
            "min_rel_deviation",
            "interval",
        }
        for key in data:
            if key not in known:
                raise DetectorError(
                    f"unknown suppression setting {key!r}; choose from: {', '.join(sorted(known))}"
                )
        persistence = data.get("persistence", {})
        if not isinstance(persistence, Mapping) or set(persistence) - {"k", "n"}:
            raise DetectorError('suppression.persistence must be an object {"k": int, "n": int}')
        defaults = cls()
        return cls(
            persistence_k=persistence.get("k", defaults.persistence_k),
            persistence_n=persistence.get("n", defaults.persistence_n),
            bypass_factor=data.get("bypass_factor", defaults.bypass_factor),
            min_abs_deviation=data.get("min_abs_deviation", defaults.min_abs_deviation),
            min_rel_deviation=data.get("min_rel_deviation", defaults.min_rel_deviation),
            interval=float(data.get("interval", defaults.interval)),
        )

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        if not data["interval"]:  # off: configurations written before it read the same
            del data["interval"]
        return {
            "persistence": {"k": data.pop("persistence_k"), "n": data.pop("persistence_n")},
            **data,
        }


@dataclass(frozen=True)
class Decision:
    """Whether a point fires, and if a flagged point does not, why (one of ``REASONS``)."""

    fire: bool
    suppressed_by: str | None = None


QUIET = Decision(False)  # a point that was not flagged (immutable: one for all)


class Suppressor:
    """Decides which flagged points fire. State: the flags of the last ``n`` points.

    Examples
    --------
    A single flagged point at 1.5x the threshold waits for a second one (2 of 3); a point at
    twice the threshold fires alone:

    >>> s = Suppressor(SuppressionSpec())
    >>> s.decide(True, score=4.5, threshold=3.0, deviation=10.0, center=100.0, warm=True)
    Decision(fire=False, suppressed_by='persistence')
    >>> s.decide(True, score=4.5, threshold=3.0, deviation=10.0, center=100.0, warm=True)
    Decision(fire=True, suppressed_by=None)
    >>> Suppressor(SuppressionSpec()).decide(True, 6.0, 3.0, 10.0, 100.0, warm=True)
    Decision(fire=True, suppressed_by=None)

    A tiny move of a near-constant series is not worth a page:

    >>> Suppressor(SuppressionSpec()).decide(True, 50.0, 3.0, deviation=0.5, center=100.0, warm=True)
    Decision(fire=False, suppressed_by='min_deviation')

    In event time, for points a minute apart: a key sampled every 5 minutes gets a window of
    1 + 2 * 5 = 11 points and a bypass log10(5) = 0.7 lower, so two flags 8 points apart fire:

    >>> s = Suppressor(SuppressionSpec(interval=60.0))
    >>> [s.decide(k in (0, 8), 2.5, 2.0, 10.0, 100.0, True, ts=300.0 * k).fire for k in range(9)]
    [False, False, False, False, False, False, False, False, True]
    >>> n, lower = s.window()
    >>> n, round(lower, 2)
    (11, 0.7)
    >>> s.decide(True, 3.4, 2.0, 10.0, 100.0, True, ts=300.0 * 9)  # alone: over 4 - 0.7
    Decision(fire=True, suppressed_by=None)
    """

    def __init__(self, spec: SuppressionSpec, state: Mapping[str, Any] | None = None) -> None:
        self.spec = spec
        state = state or {}
        self._flags = int(state.get("flags", 0))
        self._timed = spec.interval > 0
        # in event time the flags of the longest window are kept, whatever the window now
        self._mask = (1 << (MAX_WINDOW if self._timed else spec.persistence_n)) - 1
        self._dt = float(state.get("dt", 0.0))  # mean gap between points (0: none seen yet)
        self._gaps = int(state.get("gaps", 0))  # gaps in the mean, up to 100 (then it fades)
        last = state.get("last")
        self._last = float(last) if last is not None else None

    def window(self) -> tuple[int, float]:
        """``(points in the persistence window, how much lower the bypass is)`` at the key's
        sampling interval (see the module docstring)."""
        spec = self.spec
        if not self._timed or self._dt <= spec.interval:
            return spec.persistence_n, 0.0
        ratio = self._dt / spec.interval
        n = round(1 + (spec.persistence_n - 1) * ratio)
        return min(MAX_WINDOW, max(spec.persistence_n, n)), round(math.log10(ratio), 9)

    def _tick(self, ts: float | None) -> None:
        """Learn the gap from the previous point: the mean of the first 100, then fading."""
        if ts is None or not math.isfinite(ts):
            return
        if self._last is not None:
            gap = min(max(ts - self._last, 0.0), GAP_CAP)
            self._gaps = min(self._gaps + 1, 100)
            self._dt += (gap - self._dt) / self._gaps
        self._last = ts

    def decide(
        self,
        flagged: bool,
        score: float,
        threshold: float,
        deviation: float,
        center: float,
        warm: bool,
        ts: float | None = None,
    ) -> Decision:
        """Record whether this point (at event time ``ts``) was flagged and decide if it fires.

        ``deviation`` is |value - center| of the most deviant feature, in the value's units, and
        ``center`` its baseline; NaN skips the minimum-deviation check.
        """
        self._flags = ((self._flags << 1) | int(flagged)) & self._mask
        if not self._timed:
            if not flagged:
                return QUIET
            return self._judge(self._flags.bit_count(), score, threshold, deviation, center, warm)
        self._tick(ts)
        if not flagged:
            return QUIET
        n, lower = self.window()
        count = (self._flags & ((1 << n) - 1)).bit_count()
        return self._judge(count, score, threshold, deviation, center, warm, lower)

    def flag_counts(
        self, flags: np.ndarray, ts: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """For each of the ``flags`` of a block (in order, at event times ``ts``): how many of
        the points of its window, itself included, were flagged, with the points before the
        block from the state, and (in event time; else None) how much lower its bypass is; then
        record the block, as :meth:`decide` on each point would."""
        if self._timed:
            return self._timed_counts(flags, ts)
        n = self.spec.persistence_n
        history = np.array([(self._flags >> (n - 1 - b)) & 1 for b in range(n)], dtype=np.int64)
        marks = np.concatenate((history, flags.astype(np.int64)))
        totals = np.cumsum(marks)
        counts = totals[n:] - totals[: len(flags)]
        bits = 0
        for mark in marks[-n:]:
            bits = (bits << 1) | int(mark)
        self._flags = bits & self._mask
        return counts, None

    def _timed_counts(
        self, flags: np.ndarray, ts: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        m = len(flags)
        if ts is None:
            ts = np.full(m, math.nan)
        elif m and self._last is not None:
            steps = np.minimum(np.maximum(np.diff(ts, prepend=self._last), 0.0), GAP_CAP)
            if (steps == self._dt).all():  # a steady feed: the mean gap stays, so does the window
                return self._steady_counts(flags, float(ts[-1]))
        counts = np.zeros(m, dtype=np.int64)
        lowers = np.zeros(m)
        bits, mask = self._flags, self._mask
        # _tick inlined: the same arithmetic in the same order, as this runs on every row
        dt, gaps, last = self._dt, self._gaps, self._last
        for j, (flag, t) in enumerate(zip(flags.tolist(), ts.tolist(), strict=True)):
            bits = ((bits << 1) | flag) & mask
            if t == t and t not in (math.inf, -math.inf):  # finite
                if last is not None:
                    gaps = min(gaps + 1, 100)
                    dt += (min(max(t - last, 0.0), GAP_CAP) - dt) / gaps
                last = t
            if flag:
                self._dt = dt
                n, lowers[j] = self.window()
                counts[j] = (bits & ((1 << n) - 1)).bit_count()
        self._flags, self._dt, self._gaps, self._last = bits, dt, gaps, last
        return counts, lowers

    def _steady_counts(self, flags: np.ndarray, last: float) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`_timed_counts` of a block whose every gap equals the mean gap: one window for
        the whole block, counted at once."""
        m = len(flags)
        n, lower = self.window()
        history = np.array([(self._flags >> (n - 1 - b)) & 1 for b in range(n)], dtype=np.int64)
        totals = np.cumsum(np.concatenate((history, flags.astype(np.int64))))
        counts = np.where(flags, totals[n:] - totals[:m], 0)
        bits = 0 if m >= MAX_WINDOW else self._flags
        for flag in flags[-MAX_WINDOW:].tolist():
            bits = (bits << 1) | flag
        self._flags = bits & self._mask
        self._gaps = min(self._gaps + m, 100)
        self._last = last
        return counts, np.where(flags, lower, 0.0)

    def judge(
        self,
        flags_in_window: int,
        score: float,
        threshold: float,
        deviation: float,
        center: float,
        warm: bool,
        lower: float = 0.0,
    ) -> Decision:
        """The decision for a flagged point, given the flags in its window and how much lower
        its bypass is (see :meth:`flag_counts`)."""
        return self._judge(flags_in_window, score, threshold, deviation, center, warm, lower)

    def _judge(
        self,
        flags_in_window: int,
        score: float,
        threshold: float,
        deviation: float,
        center: float,
        warm: bool,
        lower: float = 0.0,
    ) -> Decision:
        if not warm:
            return Decision(False, "warmup")
        spec = self.spec
        if math.isfinite(deviation) and math.isfinite(center):
            floor = max(spec.min_abs_deviation, spec.min_rel_deviation * abs(center))
            if deviation < floor:
                return Decision(False, "min_deviation")
        bypass = spec.bypass_factor * threshold
        if lower:
            bypass = max(threshold, bypass - lower)
        strong = math.isfinite(score) and score >= bypass
        if not strong and flags_in_window < spec.persistence_k:
            return Decision(False, "persistence")
        return Decision(True)

    def judge_many(
        self,
        counts: np.ndarray,
        score: np.ndarray,
        threshold: np.ndarray,
        deviation: np.ndarray,
        center: np.ndarray,
        warm: np.ndarray,
        lower: np.ndarray | None = None,
    ) -> tuple[np.ndarray, list[str | None]]:
        """:meth:`judge` on many flagged points at once (arrays of its arguments, ``lower``
        None: all 0): whether each fires, and why each does not (None where it fires).

        Examples
        --------
        >>> s = Suppressor(SuppressionSpec())
        >>> fires, why = s.judge_many(np.array([1, 1, 2, 2]), np.array([4.0, 7.0, 4.0, 4.0]),
        ...     np.full(4, 3.0), np.array([20.0, 20.0, 20.0, 0.5]),
        ...     np.full(4, 100.0), np.array([True, True, True, True]))
        >>> fires.tolist(), why
        ([False, True, True, False], ['persistence', None, None, 'min_deviation'])
        """
        spec = self.spec
        with np.errstate(invalid="ignore"):
            # max(a, b) as Python has it: a unless b is greater (NaN compares false)
            relative = spec.min_rel_deviation * np.abs(center)
            floor = np.where(relative > spec.min_abs_deviation, relative, spec.min_abs_deviation)
            shallow = np.isfinite(deviation) & np.isfinite(center) & (deviation < floor)
            bypass = spec.bypass_factor * threshold
            if lower is not None:
                lowered = bypass - lower
                bypass = np.where(
                    lower != 0.0, np.where(lowered > threshold, lowered, threshold), bypass
                )
            strong = np.isfinite(score) & (score >= bypass)
        cold = ~warm.astype(bool)
        persistence = ~strong & (counts < spec.persistence_k)
        fires = ~cold & ~shallow & ~persistence
        why: list[str | None] = [None] * len(fires)
        if not fires.all():
            for j in np.flatnonzero(~fires).tolist():
                why[j] = "warmup" if cold[j] else "min_deviation" if shallow[j] else "persistence"
        return fires, why

    def to_state(self) -> dict[str, Any]:
        """The recent flags (left out when none), and in event time the mean gap, the gaps in
        it and the last point's time.

        >>> Suppressor(SuppressionSpec()).to_state()
        {}
        """
        state: dict[str, Any] = {"flags": self._flags} if self._flags else {}
        if self._timed:
            state.update(dt=self._dt, gaps=self._gaps, last=self._last)
        return state
