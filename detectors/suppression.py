"""False-positive suppression: which raw anomalies are worth an alert.

A detector flags a point when its score crosses the threshold. Operators are paged only when the
flag also passes these checks, each configurable per model and on by default:

- **warm-up**: nothing fires before the model has learned ``warmup`` points (see ``ModelSpec``);
- **persistence**: at least ``k`` of the last ``n`` points are flagged (Prometheus' ``for:`` idea),
  unless the score is at least ``bypass_factor`` times the threshold (a huge spike fires alone);
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
    """

    persistence_k: int = 2
    persistence_n: int = 3
    bypass_factor: float = 2.0
    min_abs_deviation: float = 0.0
    min_rel_deviation: float = 0.01

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

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> SuppressionSpec:
        """Build from the configuration's ``suppression`` object; missing keys take defaults."""
        if not data:
            return cls()
        known = {"persistence", "bypass_factor", "min_abs_deviation", "min_rel_deviation"}
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
        )

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        return {
            "persistence": {"k": data.pop("persistence_k"), "n": data.pop("persistence_n")},
            **data,
        }


@dataclass(frozen=True)
class Decision:
    """Whether a point fires, and if a flagged point does not, why (one of ``REASONS``)."""

    fire: bool
    suppressed_by: str | None = None


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
    """

    def __init__(self, spec: SuppressionSpec, state: Mapping[str, Any] | None = None) -> None:
        self.spec = spec
        self._flags = int(state.get("flags", 0)) if state else 0
        self._mask = (1 << spec.persistence_n) - 1

    def decide(
        self,
        flagged: bool,
        score: float,
        threshold: float,
        deviation: float,
        center: float,
        warm: bool,
    ) -> Decision:
        """Record whether this point was flagged and decide if it fires.

        ``deviation`` is |value - center| of the most deviant feature, in the value's units, and
        ``center`` its baseline; NaN skips the minimum-deviation check.
        """
        self._flags = ((self._flags << 1) | int(flagged)) & self._mask
        if not flagged:
            return Decision(False)
        return self._judge(bin(self._flags).count("1"), score, threshold, deviation, center, warm)

    def flag_counts(self, flags: np.ndarray) -> np.ndarray:
        """For each of the ``flags`` of a block (in order): how many of the last ``n`` points,
        itself included, were flagged, with the points before the block from the state; then
        record the block, as :meth:`decide` on each point would."""
        n = self.spec.persistence_n
        history = np.array([(self._flags >> (n - 1 - b)) & 1 for b in range(n)], dtype=np.int64)
        marks = np.concatenate((history, flags.astype(np.int64)))
        totals = np.cumsum(marks)
        counts = totals[n:] - totals[: len(flags)]
        bits = 0
        for mark in marks[-n:]:
            bits = (bits << 1) | int(mark)
        self._flags = bits & self._mask
        return counts

    def judge(
        self,
        flags_in_window: int,
        score: float,
        threshold: float,
        deviation: float,
        center: float,
        warm: bool,
    ) -> Decision:
        """The decision for a flagged point, given the flags in its window (see
        :meth:`flag_counts`)."""
        return self._judge(flags_in_window, score, threshold, deviation, center, warm)

    def _judge(
        self,
        flags_in_window: int,
        score: float,
        threshold: float,
        deviation: float,
        center: float,
        warm: bool,
    ) -> Decision:
        if not warm:
            return Decision(False, "warmup")
        spec = self.spec
        if math.isfinite(deviation) and math.isfinite(center):
            floor = max(spec.min_abs_deviation, spec.min_rel_deviation * abs(center))
            if deviation < floor:
                return Decision(False, "min_deviation")
        strong = math.isfinite(score) and score >= spec.bypass_factor * threshold
        if not strong and flags_in_window < spec.persistence_k:
            return Decision(False, "persistence")
        return Decision(True)

    def to_state(self) -> dict[str, Any]:
        return {"flags": self._flags}
