"""What scoring gives: one point's :class:`PointResult`, a block's :class:`BlockResult`."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: A change point: per re-baselined feature ``(feature, center before, center after)``.
Change = tuple[tuple[int, float, float], ...]


def describe_change(change: Change, names: list[str] | None = None) -> str:
    """The root-cause sentence of a change point.

    Examples
    --------
    >>> describe_change(((0, 100.04, 150.2),), ["latency"])
    'latency level shift: 100 → 150'
    >>> describe_change(((0, 3.0, 3.001), (1, 0.5, 0.25)))
    'feature_0 spread rose around 3; feature_1 level shift: 0.5 → 0.25'
    """
    parts = []
    for i, before, after in change:
        name = names[i] if names and i < len(names) else f"feature_{i}"
        if f"{before:.3g}" == f"{after:.3g}":
            parts.append(f"{name} spread rose around {after:.3g}")
        else:
            parts.append(f"{name} level shift: {before:.3g} → {after:.3g}")
    return "; ".join(parts)


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
    #: Rows at which the model re-baselined (a change point), and how.
    changes: dict[int, Change] = field(default_factory=dict)

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

    def put(self, k: int, result: PointResult) -> None:
        """Row ``k`` from a point's result."""
        self.score[k] = result.score
        self.threshold[k] = result.threshold
        self.is_anomaly[k] = result.is_anomaly
        self.warm[k] = result.warm
        self.feature_scores[k] = result.feature_scores
        base = np.array(result.baseline, dtype=float).reshape(-1, 2)
        self.centers[k] = base[:, 0]
        self.spreads[k] = base[:, 1]
        if result.change:
            self.changes[k] = result.change

    def point(self, k: int) -> PointResult:
        """Row ``k`` as a :class:`PointResult`."""
        return PointResult(
            score=float(self.score[k]),
            threshold=float(self.threshold[k]),
            is_anomaly=bool(self.is_anomaly[k]),
            feature_scores=self.feature_scores[k].tolist(),
            baseline=list(zip(self.centers[k].tolist(), self.spreads[k].tolist(), strict=True)),
            warm=bool(self.warm[k]),
            change=self.changes.get(k),
        )


@dataclass
class PointResult:
    """The outcome of scoring one point.

    ``baseline`` is the per-feature ``(center, spread)`` the point was scored against
    (``(nan, nan)`` for a feature without a baseline yet). ``change`` is set on the point at
    which the model re-baselined (a change point, or a return from one).

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
    change: Change | None = None
