"""The per-key step for numeric telemetry: score a batch of points, suppress noise, advance the
incident lifecycle, and keep the key's insights (correlation, trend, forecast).

Pure and synchronous, so the stream agents, the REST API and the backtest share it, and so a
read-modify-write of a key's state never interleaves with another one in the worker's event loop.
Two states go in and come out: the (model, entity) key's state, and the entity's shared state
(its incident lifecycle and the correlation of its signals across streams).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any

import numpy as np

from detectors import DetectorError, ModelScorer, PointResult
from detectors.quality_counters import QualityCounters
from detectors.results import describe_change
from detectors.suppression import Suppressor
from incidents.config import ModelConfig
from incidents.explain import signal_name, top_deviation
from incidents.incident import Signal, signals_for
from incidents.insights import Insights
from incidents.key_state import STATE_FORMAT, compatible
from incidents.live import LiveCache, LiveState
from incidents.observation import Observation
from incidents.outcome import BatchOutcome, PointOutcome
from incidents.pipeline import Pipeline

__all__ = [
    "BatchOutcome",
    "PointOutcome",
    "point_length",
    "score_batch",
]

# Insights (correlation, trend, forecasts) follow each message's last points: with their default
# half-lives (32 to 64 points) older points of a big batch would weigh little, and following
# every point costs a Python loop per point. Messages of up to this many points are followed
# point by point.
INSIGHTS_TAIL = 64
_NO_PARTNERS: dict[str, list[tuple[str, float]]] = {}  # read only
SMALL_BATCH = 8  # up to this many points, scored one by one (same results, less overhead)


def point_length(values: Sequence[Sequence[float]]) -> int:
    """The common number of values of ``values``' points (DetectorError if they differ)."""
    if not len(values):
        return 0
    if isinstance(values, np.ndarray) and values.ndim == 2:
        return int(values.shape[1])
    first = len(values[0])
    if all(len(v) == first for v in values):
        return first
    lengths = {len(v) for v in values}
    if len(lengths) > 1:
        raise DetectorError(
            f"points of one batch must have the same number of values, got {sorted(lengths)}"
        )
    return lengths.pop() if lengths else 0


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
    cache: LiveCache | None = None,
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
    of windows and alarms that ended go to ``counters`` as ``quality.<name>``. ``cache`` keeps
    the parsed objects of the states this call writes, to skip parsing them next time. Raises
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
    if not len(values):
        return BatchOutcome(
            point_list=[],
            state=dict(previous) if state is not None and learn else None,
            points_seen=int(previous.get("points", 0)),
        )
    spec = config.spec(n_features)
    scorer: ModelScorer | None = None
    current: Mapping[str, Any] = {}
    insights: Insights | None = None
    quality: QualityCounters | None = None
    suppressor: Suppressor | None = None
    cached = cache.take((config.model_id, entity), state) if cache is not None and learn else None
    entity_objects = cache.take(entity, entity_state) if cache is not None and learn else None
    if entity_objects is not None and type(entity_state) is LiveState:
        entity_state.moved()  # its objects move on now (back below if it stays the entity's)
    if cached is not None and cached[0] is config:
        _, scorer, insights, suppressor, quality = cached
        current = previous
        if type(state) is LiveState:  # its objects move on now
            if not compatible(config, state.light, n_features):  # its fields as they are
                state.state()  # this step will fail: the stored state must stay readable
            state.moved()
    elif compatible(config, state, n_features):
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
        config,
        entity,
        current.get("suppress") if suppressor is None else None,
        entity_state,
        learn=learn,
        source=source,
        live=(suppressor, entity_objects),
    )
    if cached is None and current.get("quality"):
        quality = QualityCounters.from_state(current["quality"])
    if names:
        names = list(names)
        series_names = [signal_name(source, config.model_id, name) for name in names]
    else:  # built once per configuration (read only)
        names, series_names = config.signal_names(source, n_features)
    if labels is not None and any(label is not None for label in labels):
        quality = quality or QualityCounters()
    small = len(values) <= SMALL_BATCH  # numpy's fixed cost outweighs a few points one by one
    if small:
        time_list, row_list = _small_points(ts, values, n_features)
        distinct = len(set(series_names)) == len(series_names)
        results = [
            _score_point(
                pipeline, scorer, insights, names, series_names, learn, t, x, k, details, distinct
            )
            for k, (t, x) in enumerate(zip(time_list, row_list, strict=True))
        ]
        if quality is not None and labels is not None:
            for point, label in zip(pipeline.points, labels, strict=True):
                if label is not None:
                    pipeline.add_quality(quality, point.alert, int(label), point.ts)
        point_of: Callable[[int], PointResult] = results.__getitem__
        flag_list = [bool(r.is_anomaly) for r in results]
    else:
        times = np.asarray(ts, dtype=float)
        rows = np.asarray(values, dtype=float).reshape(len(values), n_features)
        block = scorer.score_block(rows, learn=learn, ts=times)
        pipeline.run_block(
            times,
            rows,
            block,
            names,
            series_names,
            lambda: insights.partners(names),
            details,
            labels,
            quality,
        )
        point_of = block.point
        flags = block.is_anomaly
    result = point_of(len(values) - 1)
    tail = slice(max(0, len(values) - INSIGHTS_TAIL), len(values))
    predictive = learn and config.forecast.predictive_horizon
    if predictive or ((learn or horizon) and small):
        for k in range(tail.start, tail.stop):  # a forecast after every point, or a few points
            if small:
                t_k, x_k, flag_k = time_list[k], list(row_list[k]), flag_list[k]
            else:
                t_k, x_k, flag_k = float(times[k]), rows[k].tolist(), bool(flags[k])
            insights.update(t_k, x_k, flag_k)
            if predictive:
                _predict(pipeline, insights, config, names, t_k, point_of(k))
    elif learn or horizon:  # a dry run updates them only to show what learning would give
        insights.update_many(times[tail], rows[tail], flags[tail])
    report: dict[str, Any] = {}
    if horizon:
        step = float(ts[-1] - ts[0]) / (len(ts) - 1) if len(ts) > 1 else None
        report = insights.report(
            names, horizon, scorer.detector.baseline(), result.threshold, step, float(ts[-1])
        )
    points = int(current.get("points", 0))
    light = {
        "format": STATE_FORMAT,
        "version": config.model_version,
        "n_features": n_features,
        "points": points + len(values),
    }
    deferred = cache is not None and learn  # the worker's: written when read (incidents.live)
    batch = pipeline.outcome(
        _state_of(light, scorer, insights, quality) if learn and not deferred else None,
        reset=reset,
        points_seen=points,
        insights=report,
        live=deferred,
    )
    if batch.entity_state is None and type(entity_state) is LiveState:
        entity_state.kept()  # still the entity's state, its objects where they were
    if deferred:
        write = partial(_state_of, light, scorer, insights, quality, pipeline.suppressor)
        batch.state = LiveState(light, write)
    batch.values = values
    batch.baseline = result.baseline
    if cache is not None and learn and batch.state is not None:
        cache.put(
            (config.model_id, entity),
            batch.state,
            (config, scorer, insights, pipeline.suppressor, quality),
        )
        shared = batch.entity_state if batch.entity_state is not None else entity_state
        if shared is not None:
            written = batch.entity_state is not None  # else the state they were read from
            cache.put(entity, shared, (pipeline.life, pipeline.correlator, written))
    return batch


def _state_of(
    light: Mapping[str, Any],
    scorer: ModelScorer,
    insights: Insights,
    quality: QualityCounters | None,
    suppressor: Suppressor | None = None,
) -> dict[str, Any]:
    """The key's state, as the eager form has it; without ``suppressor`` without its suppression
    part (:meth:`Pipeline.outcome` adds it). A :class:`LiveState` calls it with one."""
    state = {
        "format": light["format"],
        "version": light["version"],
        "n_features": light["n_features"],
        "model": scorer.to_state(),
        "insights": insights.to_state(),
        "points": light["points"],
    }
    if quality is not None:
        state["quality"] = quality.to_state()
    if suppressor is not None:
        state["suppress"] = suppressor.to_state()
    return state


def _small_points(
    ts: Sequence[float], values: Sequence[Sequence[float]], n_features: int
) -> tuple[list[float], list[list[float]]]:
    """``ts`` and ``values`` as lists of floats, as ``np.asarray(..., dtype=float).tolist()``
    gives them; the points of a decoded message, already Python floats, are copied without
    numpy (a few µs of fixed cost per call, on every single-point message).

    Examples
    --------
    >>> _small_points([0.0, 10.0], [[1.0, 2.5], [3.0, float("nan")]], 2)
    ([0.0, 10.0], [[1.0, 2.5], [3.0, nan]])
    >>> _small_points([0, 10], [[1, None]], 2)  # anything else goes through numpy
    ([0.0, 10.0], [[1.0, nan]])
    """
    if all(type(t) is float for t in ts) and all(
        type(row) is list and len(row) == n_features and all(type(v) is float for v in row)
        for row in values
    ):
        return list(ts), [list(row) for row in values]
    rows = np.asarray(values, dtype=float).reshape(len(values), n_features)
    return np.asarray(ts, dtype=float).tolist(), rows.tolist()


def _score_point(
    pipeline: Pipeline,
    scorer: ModelScorer,
    insights: Insights,
    names: Sequence[str],
    series: Sequence[str],
    learn: bool,
    t: float,
    x: list[float],
    k: int,
    details: Sequence[str] | None,
    distinct: bool = True,
) -> PointResult:
    """One point through the scorer and the pipeline (the small-batch path); ``distinct``:
    whether the signal names in ``series`` are."""
    result = scorer.score_one(x, learn=learn, ts=t)
    values: list[float] = x
    if not distinct:  # as a dict of them would have them: each name once, its last value
        by_name = dict(zip(series, x, strict=True))
        series, values = list(by_name), list(by_name.values())
    if result.is_anomaly:
        deviation, center = top_deviation(x, result)
        signals = signals_for(names, x, result.feature_scores, result.baseline)
        partners = insights.partners(names)
    else:  # nothing to explain
        deviation = center = math.nan
        signals, partners = [], _NO_PARTNERS
    pipeline.point(
        t,
        result.score,
        result.threshold,
        result.is_anomaly,
        result.warm,
        deviation,
        center,
        signals,
        partners,
        series,
        values,
        details[k] if details else "",
        describe_change(result.change, list(names)) if result.change else "",
    )
    return result


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
