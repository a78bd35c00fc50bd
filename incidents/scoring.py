"""The per-key step: score a batch of points against a key's state and open incidents.

Pure and synchronous, so the stream agents, the REST API and the backtest share it, and so a
read-modify-write of a key's state never interleaves with another one in the worker's event loop.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from detectors import DetectorError, ModelScorer, PointResult
from incidents.config import ModelConfig
from incidents.incident import Incident, incident_id, severity_for, signals_for, summarize

STATE_FORMAT = 1


@dataclass(frozen=True)
class PointOutcome:
    """How one point scored; ``incident_id`` is set on the point that opened an incident."""

    ts: float
    score: float
    threshold: float
    is_anomaly: bool
    warm: bool
    incident_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "ts": self.ts,
            "score": self.score if math.isfinite(self.score) else None,
            "threshold": self.threshold,
            "is_anomaly": self.is_anomaly,
            "warm": self.warm,
            "incident_id": self.incident_id,
        }


@dataclass
class BatchOutcome:
    points: list[PointOutcome]
    incidents: list[Incident] = field(default_factory=list)
    state: dict[str, Any] | None = None  # the key's new state; None when nothing was learned
    reset: bool = False  # the stored state belonged to another model version and was dropped
    points_seen: int = 0  # points of this key scored (and learned from) before this batch


def point_length(values: Sequence[Sequence[float]]) -> int:
    """The common number of values of ``values``' points (DetectorError if they differ)."""
    lengths = {len(v) for v in values}
    if len(lengths) > 1:
        raise DetectorError(
            f"points of one batch must have the same number of values, got {sorted(lengths)}"
        )
    return lengths.pop() if lengths else 0


def _usable_state(config: ModelConfig, state: Mapping[str, Any] | None, n_features: int) -> bool:
    return (
        state is not None
        and state.get("format") == STATE_FORMAT
        and state.get("version") == config.model_version
        and state.get("n_features") == n_features
        and state.get("model", {}).get("detector") == config.detector
        and state.get("model", {}).get("threshold") == config.threshold_strategy
    )


def score_batch(
    config: ModelConfig,
    entity: str,
    state: Mapping[str, Any] | None,
    ts: Sequence[float],
    values: Sequence[Sequence[float]],
    *,
    learn: bool = True,
    source: str = "telemetry.metrics",
) -> BatchOutcome:
    """Score ``values`` (one row per point, event times ``ts``) for ``entity``.

    With ``learn`` the detector learns the unflagged points and anomalies open incidents, at most
    one per ``config.cooldown`` seconds of event time; without it (a dry run) nothing is learned,
    no incident opens and the returned state is None. A state from another model version (or an
    incompatible one) is dropped and scoring starts fresh. Raises DetectorError, before touching
    anything, when the points do not fit the model.

    Examples
    --------
    >>> cfg = ModelConfig("m", "1", "zscore", {"mean": [100.0], "std": [5.0], "threshold": 3.0},
    ...                   cooldown=60)
    >>> out = score_batch(cfg, "host-1", None, [0.0, 10.0, 20.0, 100.0],
    ...                   [[101.0], [130.0], [131.0], [140.0]])
    >>> [p.is_anomaly for p in out.points]
    [False, True, True, True]
    >>> [i.summary for i in out.incidents]  # the second anomaly is inside the cooldown
    ['m on host-1: feature_0 6.0σ above baseline (130 vs 100±5)', 'm on host-1: feature_0 8.0σ above baseline (140 vs 100±5)']
    >>> out.state["last_incident_ts"]
    100.0
    """
    if len(ts) != len(values):
        raise DetectorError(f"got {len(ts)} timestamps for {len(values)} points")
    n_features = point_length(values)
    if not values:
        return BatchOutcome(points=[], state=dict(state) if state is not None and learn else None)
    spec = config.spec(n_features)
    current: Mapping[str, Any] = state if state is not None else {}
    scorer: ModelScorer | None = None
    if _usable_state(config, state, n_features):
        try:
            scorer = ModelScorer(spec, current.get("model"))
        except DetectorError:  # same version, but the parameters changed its state's shape
            scorer = None
    reset = state is not None and scorer is None
    if scorer is None:
        current = {}
        scorer = ModelScorer(spec)
    last_incident_ts: float | None = current.get("last_incident_ts")
    names = config.names_for(n_features)
    points: list[PointOutcome] = []
    incidents: list[Incident] = []
    for t, x in zip(ts, values, strict=True):
        result = scorer.score_one(x, learn=learn)
        opened: Incident | None = None
        if (
            learn
            and result.is_anomaly
            and (last_incident_ts is None or t - last_incident_ts >= config.cooldown)
        ):
            opened = _open_incident(config, entity, source, t, x, result, names)
            incidents.append(opened)
            last_incident_ts = t
        points.append(
            PointOutcome(
                ts=t,
                score=result.score,
                threshold=result.threshold,
                is_anomaly=result.is_anomaly,
                warm=result.warm,
                incident_id=opened.incident_id if opened else None,
            )
        )
    new_state = None
    if learn:
        new_state = {
            "format": STATE_FORMAT,
            "version": config.model_version,
            "n_features": n_features,
            "model": scorer.to_state(),
            "last_incident_ts": last_incident_ts,
            "points": int(current.get("points", 0)) + len(values),
        }
    return BatchOutcome(
        points=points,
        incidents=incidents,
        state=new_state,
        reset=reset,
        points_seen=int(current.get("points", 0)),
    )


def _opens_incident(t: float, last_incident_ts: float | None, cooldown: float) -> bool:
    """An anomaly opens an incident unless one opened within ``cooldown`` seconds before it.

    An anomaly at or before the last incident's event time (a late or repeated point) opens
    none: its incident would be the last one again, or older than it.

    Examples
    --------
    >>> _opens_incident(100.0, None, 60), _opens_incident(150.0, 100.0, 60)
    (True, False)
    >>> _opens_incident(160.0, 100.0, 60), _opens_incident(100.0, 100.0, 0)
    (True, False)
    """
    if last_incident_ts is None:
        return True
    return t > last_incident_ts and t - last_incident_ts >= cooldown


def _open_incident(
    config: ModelConfig,
    entity: str,
    source: str,
    t: float,
    x: Sequence[float],
    result: PointResult,
    names: Sequence[str],
) -> Incident:
    signals = signals_for(names, x, result.feature_scores, result.baseline)
    return Incident(
        incident_id=incident_id(config.model_id, config.model_version, entity, t),
        model_id=config.model_id,
        model_version=config.model_version,
        entity=entity,
        source=source,
        ts=t,
        score=result.score,
        threshold=result.threshold,
        severity=severity_for(result.score, result.threshold),
        summary=summarize(config.model_id, entity, signals),
        signals=signals,
        alert_channels=list(config.alert_channels),
    )
