"""Scoring one series as the stream scores it, and judging its alerts against the labels.

A file's points go through :func:`incidents.scoring.score_batch` in event-time order; each point
gets its ``anomaly_score`` (continuous or the engine's decisions) and the alerts give point-wise
and event-wise metrics per file (:func:`file_metrics`) and over all files (:func:`overall_metrics`).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from app.backtest.inputs import BacktestError, Series
from detectors import DetectorError
from detectors.evaluation import eventwise_metrics, pointwise_metrics
from incidents.config import ModelConfig
from incidents.scoring import PointOutcome, score_batch

BATCH = 500  # points per score_batch call: the stream's batches carry state the same way


@dataclass
class FileResult:
    """What scoring one file gave: per point its anomaly_score and label, and the metrics."""

    key: str
    points: int
    seconds: float
    scores: list[float]
    labels: list[int] | None
    metrics: dict[str, Any] | None = None
    alerts: int = 0
    incidents: int = 0
    state_bytes: int = 0


def continuous_score(point: PointOutcome) -> float:
    """The engine's score mapped into [0, 1): ``score / (score + threshold)``; NaN gives 0.

    Monotone in the score for a given threshold, and 0.5 exactly at the threshold, so the
    engine's alert line is the same on every series.

    Examples
    --------
    >>> p = PointOutcome(ts=0.0, score=9.0, threshold=3.0, is_anomaly=True, warm=True)
    >>> continuous_score(p)
    0.75
    >>> continuous_score(PointOutcome(0.0, float("nan"), 3.0, False, True))
    0.0
    """
    score = point.score
    if not math.isfinite(score) or score <= 0:
        return 0.0 if not (math.isinf(score) and score > 0) else 1.0
    return score / (score + point.threshold)


def decision_score(point: PointOutcome) -> float:
    """1.0 on the point that opened an incident, else 0.0.

    Examples
    --------
    >>> decision_score(PointOutcome(0.0, 9.0, 3.0, True, True, alert=True, incident_id="inc-1"))
    1.0
    >>> decision_score(PointOutcome(0.0, 9.0, 3.0, True, True, alert=True))
    0.0
    """
    return 1.0 if point.incident_id is not None else 0.0


def score_series(
    config: ModelConfig, series: Series, batch: int = BATCH
) -> tuple[list[PointOutcome], int]:
    """Score ``series`` in event-time order; outcomes in input order, and the state's size.

    One entity (the file's key) of the configuration's model, learning on, state carried from
    batch to batch as the stream carries it.
    """
    order = sorted(range(len(series.ts)), key=series.ts.__getitem__)
    outcomes: list[PointOutcome | None] = [None] * len(order)
    state: Mapping[str, Any] | None = None
    entity_state: Mapping[str, Any] | None = None
    for start in range(0, len(order), batch):
        chunk = order[start : start + batch]
        try:
            out = score_batch(
                config,
                series.key,
                state,
                [series.ts[i] for i in chunk],
                [[series.values[i]] for i in chunk],
                entity_state=entity_state,
            )
        except DetectorError as exc:
            raise BacktestError(f"{series.key}: {exc}.") from None
        state = out.state
        if out.entity_state is not None:
            entity_state = out.entity_state
        for i, point in zip(chunk, out.points, strict=True):
            outcomes[i] = point
    size = len(json.dumps(state, separators=(",", ":"))) if state is not None else 0
    return [p for p in outcomes if p is not None], size


def point_labels(ts: Sequence[float], windows: Sequence[tuple[float, float]]) -> list[int]:
    """1 for a point inside a window (bounds included), else 0.

    Examples
    --------
    >>> point_labels([0.0, 10.0, 20.0, 30.0], [(10.0, 20.0)])
    [0, 1, 1, 0]
    """
    return [int(any(start <= t <= end for start, end in windows)) for t in ts]


def file_metrics(
    alerts: Sequence[bool], labels: Sequence[int], ts: Sequence[float]
) -> dict[str, Any]:
    """Point-wise and event-wise metrics of the alerts, in event-time order.

    Examples
    --------
    >>> m = file_metrics([False, True, True, False, True], [0, 1, 1, 0, 0], [0, 1, 2, 3, 4])
    >>> m["point"]["precision"], m["point"]["recall"], m["event"]["detected"]
    (0.6666666666666666, 1.0, 1)
    """
    order = sorted(range(len(ts)), key=ts.__getitem__)
    predicted = [bool(alerts[i]) for i in order]
    ordered = [labels[i] for i in order]
    return {
        "point": pointwise_metrics(predicted, ordered),
        "event": eventwise_metrics(predicted, ordered, [ts[i] for i in order]),
    }


def overall_metrics(results: Sequence[FileResult]) -> dict[str, Any]:
    """Sums of the files' counts, and the ratios and mean delay they give.

    Examples
    --------
    >>> a = FileResult("a", 4, 0.0, [], [], {"point": {"tp": 1, "fp": 1, "fn": 1, "tn": 1},
    ...     "event": {"windows": 1, "detected": 1, "alarms": 2, "false_alarms": 1,
    ...               "delays_points": [3], "delays_seconds": [30.0]}})
    >>> m = overall_metrics([a, a])
    >>> m["point"]["precision"], m["point"]["accuracy"], m["event"]["recall"]
    (0.5, 0.5, 1.0)
    >>> m["event"]["mean_delay_points"]
    3.0
    """
    point = {name: 0 for name in ("tp", "fp", "fn", "tn")}
    event = {name: 0 for name in ("windows", "detected", "alarms", "false_alarms")}
    delays_points: list[float] = []
    delays_seconds: list[float] = []
    for result in results:
        if result.metrics is None:
            continue
        for name in point:
            point[name] += result.metrics["point"][name]
        for name in event:
            event[name] += result.metrics["event"][name]
        delays_points += [d for d in result.metrics["event"]["delays_points"] if d is not None]
        delays_seconds += [
            d for d in result.metrics["event"]["delays_seconds"] or [] if d is not None
        ]

    def ratio(a: float, b: float) -> float:
        return a / b if b else 0.0

    def f1(p: float, r: float) -> float:
        return ratio(2 * p * r, p + r)

    precision = ratio(point["tp"], point["tp"] + point["fp"])
    recall = ratio(point["tp"], point["tp"] + point["fn"])
    accuracy = ratio(point["tp"] + point["tn"], sum(point.values()))
    e_precision = ratio(event["alarms"] - event["false_alarms"], event["alarms"])
    e_recall = ratio(event["detected"], event["windows"])
    return {
        "point": {
            **point,
            "precision": precision,
            "recall": recall,
            "f1": f1(precision, recall),
            "accuracy": accuracy,
        },
        "event": {
            **event,
            "precision": e_precision,
            "recall": e_recall,
            "f1": f1(e_precision, e_recall),
            "mean_delay_points": ratio(sum(delays_points), len(delays_points))
            if delays_points
            else None,
            "mean_delay_seconds": ratio(sum(delays_seconds), len(delays_seconds))
            if delays_seconds
            else None,
        },
    }


def backtest_file(
    config: ModelConfig,
    series: Series,
    windows: Sequence[tuple[float, float]] | None,
    decisions: bool = False,
) -> FileResult:
    """Score one series and judge its alerts against its windows (None: no labels)."""
    started = time.perf_counter()
    points, size = score_series(config, series)
    mapping = decision_score if decisions else continuous_score
    labels = point_labels(series.ts, windows) if windows is not None else None
    result = FileResult(
        key=series.key,
        points=len(points),
        seconds=time.perf_counter() - started,
        scores=[mapping(p) for p in points],
        labels=labels,
        alerts=sum(p.alert for p in points),
        incidents=sum(p.incident_id is not None for p in points),
        state_bytes=size,
    )
    if labels is not None:
        result.metrics = file_metrics([p.alert for p in points], labels, series.ts)
    return result
