"""Root-cause text of a point: its most deviant features and the sentence that explains it, and
the name of a signal across streams (``metrics:latency_ms``)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from detectors.results import PointResult
from incidents.incident import Signal
from incidents.outcome import Partners
from incidents.rootcause import describe


def top_deviation(x: Sequence[float], result: PointResult) -> tuple[float, float]:
    """(|value - center|, center) of the most deviant feature, NaN when there is none."""
    best, best_score = -1, -1.0
    for i, score in enumerate(result.feature_scores):
        if math.isfinite(score) and abs(score) > best_score:
            best, best_score = i, abs(score)
    if best < 0:
        return math.nan, math.nan
    center = result.baseline[best][0]
    return abs(x[best] - center), center


def top_deviations(
    rows: np.ndarray, feature_scores: np.ndarray, centers: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`top_deviation` of each row: (|value - center|, center) of its first feature of
    largest finite |score|, NaN where no score is finite.

    Examples
    --------
    >>> nan = float("nan")
    >>> dev, center = top_deviations(np.array([[130.0, 9.0], [90.0, 5.0], [1.0, 2.0]]),
    ...                              np.array([[6.0, -6.0], [-2.0, nan], [nan, nan]]),
    ...                              np.array([[100.0, 5.0], [100.0, 5.0], [0.0, 0.0]]))
    >>> dev.tolist(), center.tolist()
    ([30.0, 10.0, nan], [100.0, 100.0, nan])
    """
    size = np.abs(feature_scores)
    size = np.where(np.isfinite(size), size, -1.0)
    best = np.argmax(size, axis=1)[:, None]
    center = np.take_along_axis(centers, best, axis=1)[:, 0]
    deviation = np.abs(np.take_along_axis(rows, best, axis=1)[:, 0] - center)
    none = size.max(axis=1) < 0.0
    return np.where(none, np.nan, deviation), np.where(none, np.nan, center)


def explain(
    signals: Sequence[Signal],
    partners: Mapping[str, Sequence[tuple[str, float]]],
    across: Callable[[str], Sequence[tuple[str, float]]],
    detail: str = "",
) -> tuple[str | None, Partners]:
    """The root cause of a flagged point and the partners of its top signal: ``partners`` per
    feature within the model, plus ``across(feature)``, the entity's other signals that move
    with the top one.

    Examples
    --------
    >>> cpu = Signal("cpu", 98.0, 6.0, 50.0, 8.0)
    >>> explain([cpu], {"cpu": [("load", 0.9)]}, lambda f: [("logs:m:errors", 0.8)], "new log")
    ('cpu 6.0σ above baseline (98 vs 50±8), moving with load (r=0.90), logs:m:errors (r=0.80); new log', (('load', 0.9), ('logs:m:errors', 0.8)))
    """
    merged = {k: list(v) for k, v in partners.items()}
    correlated: Partners = ()
    top = next((s for s in signals if s.score), None)
    if top is not None:
        merged[top.feature] = merged.get(top.feature, []) + list(across(top.feature))
        correlated = tuple(merged[top.feature][:5])
    root_cause = describe(signals, merged)
    if detail:
        root_cause = f"{root_cause}; {detail}" if root_cause else detail
    return root_cause, correlated


def signal_name(source: str, model_id: str, feature: str) -> str:
    """The name of a signal across the entity's streams, e.g. ``metrics:cpu-v1:latency_ms``."""
    stream = source.rsplit(".", 1)[-1] if source.startswith("telemetry.") else source
    return f"{stream}:{model_id}:{feature}"
