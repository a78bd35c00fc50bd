"""The per-key step for numeric telemetry: score a batch of points, suppress noise, advance the
incident lifecycle, and keep the key's insights (correlation, trend, forecast).

Pure and synchronous, so the stream agents, the REST API and the backtest share it, and so a
read-modify-write of a key's state never interleaves with another one in the worker's event loop.
Two states go in and come out: the (model, entity) key's state, and the entity's shared state
(its incident lifecycle and the correlation of its signals across streams).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from detectors import DetectorError, ModelScorer, PointResult
from detectors.evaluation import QualityCounters
from incidents.config import ModelConfig
from incidents.incident import Signal, signals_for
from incidents.insights import Insights
from incidents.lifecycle import Observation
from incidents.pipeline import BatchOutcome, Draft, Pipeline, PointOutcome, signal_name

__all__ = ["STATE_FORMAT", "BatchOutcome", "PointOutcome", "point_length", "score_batch"]

STATE_FORMAT = 3


def point_length(values: Sequence[Sequence[float]]) -> int:
    """The common number of values of ``values``' points (DetectorError if they differ)."""
    lengths = {len(v) for v in values}
    if len(lengths) > 1:
        raise DetectorError(
            f"points of one batch must have the same number of values, got {sorted(lengths)}"
        )
    return lengths.pop() if lengths else 0


def _compatible(config: ModelConfig, state: Mapping[str, Any] | None, n_features: int) -> bool:
    return (
        state is not None
        and state.get("format") == STATE_FORMAT
        and state.get("version") == config.model_version
        and state.get("n_features") == n_features
    )


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


def score_batch(
    config: ModelConfig,
    entity: str,
    state: Mapping[str, Any] | None,
    ts: Sequence[float],
    values: Sequence[Sequence[float]],
    *,
    learn: bool = True,
    source: str = "telemetry.metrics",
    entity_state: Mapping[str, Any] | None = None,
    horizon: int = 0,
    names: Sequence[str] | None = None,
    details: Sequence[str] | None = None,
    labels: Sequence[int | None] | None = None,
) -> BatchOutcome:
    """Score ``values`` (one row per point, event times ``ts``) for ``entity``.

    With ``learn`` the detector learns the points it does not flag, and alerts drive the
    entity's incident lifecycle (events in ``BatchOutcome.events``); without it (a dry run)
    nothing is learned and no event is produced, but each point still says whether it would
    alert. A state from another model version (or an incompatible one) is dropped and scoring
    starts fresh. With ``horizon``, ``insights`` holds each feature's trend and a forecast of
    that many steps. ``names`` overrides the configuration's feature names, and ``details`` adds
    a sentence per point to its root cause. ``labels`` (1 anomalous, 0 normal, None unknown, per
    point) feed the key's running quality counters, which judge the engine's alerts; the counts
    of windows and alarms that ended go to ``counters`` as ``quality.<name>``. Raises
    DetectorError, before touching anything, when the points do not fit.

    Examples
    --------
    >>> cfg = ModelConfig("m", "1", "zscore", {"mean": [100.0], "std": [5.0], "threshold": 3.0},
    ...                   resolve_after=60)
    >>> out = score_batch(cfg, "host-1", None, [0.0, 10.0, 20.0, 30.0, 100.0],
    ...                   [[101.0], [117.0], [140.0], [101.0], [101.0]])
    >>> [(p.is_anomaly, p.alert, p.suppressed_by) for p in out.points]
    [(False, False, None), (True, False, 'persistence'), (True, True, None), (False, False, None), (False, False, None)]
    >>> [(e["event"], e["ts"]) for e in out.events]
    [('open', 20.0), ('resolve', 20.0)]
    >>> out.events[0]["summary"]
    'm on host-1: feature_0 8.0σ above baseline (140 vs 100±5)'
    >>> sorted(out.counters.items())
    [('alerts', 1), ('anomalies', 2), ('opened', 1), ('points', 5), ('resolved', 1), ('suppressed.persistence', 1), ('version.1', 5)]
    """
    if len(ts) != len(values):
        raise DetectorError(f"got {len(ts)} timestamps for {len(values)} points")
    if labels is not None and len(labels) != len(values):
        raise DetectorError(f"got {len(labels)} labels for {len(values)} points")
    n_features = point_length(values)
    previous: Mapping[str, Any] = state if state is not None else {}
    if not values:
        return BatchOutcome(
            points=[],
            state=dict(previous) if state is not None and learn else None,
            points_seen=int(previous.get("points", 0)),
        )
    spec = config.spec(n_features)
    scorer: ModelScorer | None = None
    current: Mapping[str, Any] = {}
    insights: Insights | None = None
    if _compatible(config, state, n_features):
        try:
            scorer = ModelScorer(spec, previous.get("model"))
            insights = Insights(config.forecast, n_features, previous.get("insights"))
            current = previous
        except DetectorError:  # same version, but the parameters changed its state's shape
            scorer = None
    reset = state is not None and scorer is None
    if scorer is None or insights is None:
        scorer = ModelScorer(spec)
        insights = Insights(config.forecast, n_features)
    pipeline = Pipeline(
        config, entity, current.get("suppress"), entity_state, learn=learn, source=source
    )
    quality = QualityCounters.from_state(current["quality"]) if current.get("quality") else None
    names = list(names) if names else config.names_for(n_features)
    series_names = [signal_name(source, config.model_id, name) for name in names]
    result = None
    for index, (t, x) in enumerate(zip(ts, values, strict=True)):
        result = scorer.score_one(x, learn=learn)
        deviation, center = top_deviation(x, result)
        signals: list[Signal] = []
        if result.is_anomaly:
            signals = signals_for(names, x, result.feature_scores, result.baseline)
        outcome = pipeline.step(
            Draft(
                ts=t,
                score=result.score,
                threshold=result.threshold,
                is_anomaly=result.is_anomaly,
                warm=result.warm,
                deviation=deviation,
                center=center,
                signals=signals,
                partners=insights.partners(names) if result.is_anomaly else {},
                series=dict(zip(series_names, x, strict=True)),
                detail=details[index] if details else "",
            )
        )
        label = labels[index] if labels is not None else None
        if label is not None:
            quality = quality or QualityCounters()
            pipeline.add_quality(quality, outcome.alert, label, t)
        if learn:
            insights.update(t, x, result.is_anomaly)
            _predict(pipeline, insights, config, names, t, result)
    report: dict[str, Any] = {}
    if horizon and result is not None:
        if not learn:  # a dry run did not update the insights: show what learning would give
            for t, x, point in zip(ts, values, pipeline.points, strict=True):
                insights.update(t, x, point.is_anomaly)
        step = (ts[-1] - ts[0]) / (len(ts) - 1) if len(ts) > 1 else None
        report = insights.report(
            names, horizon, scorer.detector.baseline(), result.threshold, step, ts[-1]
        )
    new_state = None
    if learn:
        new_state = {
            "format": STATE_FORMAT,
            "version": config.model_version,
            "n_features": n_features,
            "model": scorer.to_state(),
            "insights": insights.to_state(),
            "points": int(current.get("points", 0)) + len(values),
        }
        if quality is not None:
            new_state["quality"] = quality.to_state()
    return pipeline.outcome(
        new_state, reset=reset, points_seen=int(current.get("points", 0)), insights=report
    )


def _predict(
    pipeline: Pipeline,
    insights: Insights,
    config: ModelConfig,
    names: Sequence[str],
    t: float,
    result: PointResult,
) -> None:
    """Raise a predictive alert when a forecast is expected to leave the alert band soon."""
    if not config.forecast.predictive_horizon or result.is_anomaly or not result.warm:
        return
    breach = insights.predict(result.baseline, result.threshold)
    if breach is None:
        return
    name = names[breach.feature]
    center, spread = result.baseline[breach.feature]
    pipeline.predicted(
        Observation(
            model_id=config.model_id,
            model_version=config.model_version,
            source="forecast",
            ts=t,
            score=result.threshold,
            threshold=result.threshold,
            alert=True,
            signals=[Signal(name, breach.point.mean, None, center, spread)],
            alert_channels=config.alert_channels,
            summary=breach.describe(name),
        )
    )
