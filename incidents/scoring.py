"""The per-key step: score a batch of points, suppress noise, and advance the incident lifecycle.

Pure and synchronous, so the stream agents, the REST API and the backtest share it, and so a
read-modify-write of a key's state never interleaves with another one in the worker's event loop.
Two states go in and come out: the (model, entity) key's detector state, and the entity's
incident state, shared by every model and stream of the entity.
"""

from __future__ import annotations

import copy
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from detectors import DetectorError, ModelScorer, PointResult
from detectors.suppression import Suppressor
from incidents.config import ModelConfig
from incidents.incident import signals_for
from incidents.lifecycle import EntityIncidents, Observation
from incidents.rootcause import describe

STATE_FORMAT = 2


@dataclass(frozen=True)
class PointOutcome:
    """How one point scored.

    ``is_anomaly``: the detector flagged it; ``alert``: it also passed suppression;
    ``suppressed_by``: why a flagged point did not alert or open an incident; ``incident_id``:
    set on the point that opened an incident; ``root_cause``: for flagged points, the deviant
    features with their numbers.
    """

    ts: float
    score: float
    threshold: float
    is_anomaly: bool
    warm: bool
    alert: bool = False
    suppressed_by: str | None = None
    incident_id: str | None = None
    root_cause: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "ts": self.ts,
            "score": self.score if math.isfinite(self.score) else None,
            "threshold": self.threshold,
            "is_anomaly": self.is_anomaly,
            "warm": self.warm,
            "alert": self.alert,
            "suppressed_by": self.suppressed_by,
            "incident_id": self.incident_id,
            "root_cause": self.root_cause,
        }


@dataclass
class BatchOutcome:
    points: list[PointOutcome]
    events: list[dict[str, Any]] = field(default_factory=list)  # incident events to publish
    state: dict[str, Any] | None = None  # the key's new state; None when nothing was learned
    entity_state: dict[str, Any] | None = None  # the entity's new incident state, if it changed
    reset: bool = False  # the stored state belonged to another model version and was dropped
    points_seen: int = 0  # points of this key scored (and learned from) before this batch
    counters: Counter[str] = field(default_factory=Counter)

    @property
    def opened(self) -> list[dict[str, Any]]:
        return [e for e in self.events if e["event"] == "open"]


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


def _top_deviation(x: Sequence[float], result: PointResult) -> tuple[float, float]:
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
) -> BatchOutcome:
    """Score ``values`` (one row per point, event times ``ts``) for ``entity``.

    With ``learn`` the detector learns the points it does not flag, and alerts drive the
    entity's incident lifecycle (events in ``BatchOutcome.events``); without it (a dry run)
    nothing is learned and no event is produced, but each point still says whether it would
    alert. A state from another model version (or an incompatible one) is dropped and scoring
    starts fresh. Raises DetectorError, before touching anything, when the points do not fit.

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
    [('alerts', 1), ('anomalies', 2), ('opened', 1), ('points', 5), ('resolved', 1), ('suppressed.persistence', 1)]
    """
    if len(ts) != len(values):
        raise DetectorError(f"got {len(ts)} timestamps for {len(values)} points")
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
    if _compatible(config, state, n_features):
        try:
            scorer = ModelScorer(spec, previous.get("model"))
            current = previous
        except DetectorError:  # same version, but the parameters changed its state's shape
            scorer = None
    reset = state is not None and scorer is None
    if scorer is None:
        scorer = ModelScorer(spec)
    suppressor = Suppressor(config.suppression, current.get("suppress"))
    # A dry run plays the lifecycle on a copy, to say whether points would be suppressed.
    life = EntityIncidents(entity, copy.deepcopy(entity_state) if not learn else entity_state)
    names = config.names_for(n_features)
    lifecycle = config.lifecycle
    counters: Counter[str] = Counter()
    points: list[PointOutcome] = []
    events: list[dict[str, Any]] = []
    for t, x in zip(ts, values, strict=True):
        result = scorer.score_one(x, learn=learn)
        deviation, center = _top_deviation(x, result)
        decision = suppressor.decide(
            result.is_anomaly, result.score, result.threshold, deviation, center, result.warm
        )
        root_cause = None
        signals = []
        if result.is_anomaly:
            signals = signals_for(names, x, result.feature_scores, result.baseline)
            root_cause = describe(signals)
        suppressed_by = decision.suppressed_by
        if not result.warm and math.isfinite(result.score) and result.score > result.threshold:
            suppressed_by = "warmup"  # would have been flagged, had the model learned enough
        opened = None
        step = life.observe(
            Observation(
                model_id=config.model_id,
                model_version=config.model_version,
                source=source,
                ts=t,
                score=result.score,
                threshold=result.threshold,
                alert=decision.fire,
                signals=signals,
                alert_channels=config.alert_channels,
                summary=root_cause or "",
            ),
            lifecycle,
        )
        suppressed_by = suppressed_by or step.suppressed_by
        if learn:
            events += step.events
            opened = step.opened
        counters["points"] += 1
        counters["anomalies"] += result.is_anomaly
        if suppressed_by:
            counters[f"suppressed.{suppressed_by}"] += 1
        counters["alerts"] += decision.fire
        points.append(
            PointOutcome(
                ts=t,
                score=result.score,
                threshold=result.threshold,
                is_anomaly=result.is_anomaly,
                warm=result.warm,
                alert=decision.fire,
                suppressed_by=suppressed_by,
                incident_id=opened,
                root_cause=root_cause,
            )
        )
    for event in events:
        counters["opened" if event["event"] == "open" else f"{event['event']}d"] += 1
    counters.pop("updated", None)
    new_state = None
    if learn:
        new_state = {
            "format": STATE_FORMAT,
            "version": config.model_version,
            "n_features": n_features,
            "model": scorer.to_state(),
            "suppress": suppressor.to_state(),
            "points": int(current.get("points", 0)) + len(values),
        }
    return BatchOutcome(
        points=points,
        events=events,
        state=new_state,
        entity_state=life.to_state() if learn and life.changed else None,
        reset=reset,
        points_seen=int(current.get("points", 0)),
        counters=counters,
    )
