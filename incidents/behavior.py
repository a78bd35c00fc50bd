"""The per-key step for behaviour events: graph rarity, a threshold in bits, then the pipeline.

Per (model, entity), ``detectors.graph_rarity.GraphRarity`` keeps a decaying graph of the
entity's transitions, targets and attribute values, and scores each event by the surprise of its
edges (bits, comparable across entities). The threshold (``params.threshold``, 5 bits by default;
``static`` or ``adaptive`` like any model), suppression and the incident lifecycle are the same
as for metrics, and a flagged event is not learned.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from detectors import DetectorError, make_threshold
from detectors.graph_rarity import DEFAULT_THRESHOLD, GraphRarity
from incidents.config import ModelConfig
from incidents.explain import signal_name
from incidents.incident import Signal
from incidents.outcome import BatchOutcome, Draft
from incidents.pipeline import Pipeline

STATE_FORMAT = 1
GRAPH_PARAMS = ("half_life", "alpha", "min_history", "max_edges_per_source", "max_sources")
MAX_EDGE_SIGNALS = 3


@dataclass(frozen=True)
class BehaviorEvent:
    ts: float
    action: str
    target: str | None = None
    attributes: Mapping[str, Any] = field(default_factory=dict)


def graph_params(config: ModelConfig) -> dict[str, Any]:
    """The GraphRarity parameters of a configuration (DetectorError on an unknown one)."""
    params = {k: v for k, v in config.params.items() if k != "threshold"}
    for key in params:
        if key not in GRAPH_PARAMS:
            raise DetectorError(
                f"unknown parameter {key!r} for detector 'graph_rarity'; "
                f"choose from: {', '.join(GRAPH_PARAMS)}"
            )
    return params


def validate(config: ModelConfig) -> None:
    """Raise DetectorError if ``config`` is not a usable graph_rarity configuration."""
    GraphRarity(**graph_params(config))
    _threshold(config, None)


def _threshold(config: ModelConfig, state: Mapping[str, Any] | None) -> Any:
    value = float(config.params.get("threshold", DEFAULT_THRESHOLD))
    if not math.isfinite(value) or value <= 0:
        raise DetectorError(f"threshold must be positive, got {value}")
    return make_threshold(
        config.threshold_strategy,
        threshold=value,
        sensitivity=config.adaptive_sensitivity,
        window=config.history_window,
        state=state,
        alerts_per_day=config.alerts_per_day,
    )


def score_behavior_events(
    config: ModelConfig,
    entity: str,
    state: Mapping[str, Any] | None,
    events: Sequence[BehaviorEvent],
    *,
    learn: bool = True,
    source: str = "telemetry.behavior",
    entity_state: Mapping[str, Any] | None = None,
) -> BatchOutcome:
    """Score ``events`` of ``entity`` in order.

    Examples
    --------
    A user who always goes from login to the dashboard, from France, then logs in from Brazil
    and goes to the admin page:

    >>> cfg = ModelConfig("behavior-v1", "1", "graph_rarity", stream="behavior")
    >>> t = 1795766400.0
    >>> habits = [BehaviorEvent(t + 600 * i + k, action, target, {"country": "FR"})
    ...           for i in range(40)
    ...           for k, (action, target) in enumerate([("login", "/login"), ("view", "/dashboard")])]
    >>> out = score_behavior_events(cfg, "user-42", None, habits)
    >>> any(p.is_anomaly for p in out.points)
    False
    >>> odd = [BehaviorEvent(t + 24000, "login", "/login", {"country": "BR"}),
    ...        BehaviorEvent(t + 24001, "export", "/admin/export", {"country": "BR"})]
    >>> out = score_behavior_events(cfg, "user-42", out.state, odd, entity_state=out.entity_state)
    >>> [(p.is_anomaly, p.alert) for p in out.points]  # persistence: the second one alerts
    [(True, False), (True, True)]
    >>> for part in out.events[0]["summary"].split("; "):
    ...     print(part)
    behavior-v1 on user-42: new country BR (never seen in 79 events), 6.2 bits
    new target /admin/export (never seen in 79 events), 5.3 bits
    new transition view -> export (never seen in 38 events), 5.2 bits

    (The login from Brazil was flagged, so not learned: the export follows the last learned
    action, ``view``.)
    """
    previous: Mapping[str, Any] = state or {}
    usable = (
        previous.get("format") == STATE_FORMAT and previous.get("version") == config.model_version
    )
    params = graph_params(config)
    try:
        graph = GraphRarity.from_state(previous["graph"], **params) if usable else None
        threshold = _threshold(config, previous.get("threshold") if usable else None)
    except (DetectorError, KeyError):
        graph, usable = None, False
    if graph is None:
        graph = GraphRarity(**params)
        threshold = _threshold(config, None)
    current = previous if usable else {}
    warmup = config.warmup or 0
    pipeline = Pipeline(
        config, entity, current.get("suppress"), entity_state, learn=learn, source=source
    )
    series = signal_name(source, config.model_id, "rarity")
    for event in events:
        attributes = dict(event.attributes)
        result = graph.score_event(event.ts, event.action, event.target, attributes)
        limit = threshold.get()
        warm = graph.n_learned >= warmup
        flagged = warm and result.score > limit
        signals = [
            Signal(f"{e.source} -> {e.destination}", None, e.score, None, None, e.describe())
            for e in result.edges[:MAX_EDGE_SIGNALS]
            if e.score > 0
        ]
        pipeline.step(
            Draft(
                ts=event.ts,
                score=result.score,
                threshold=limit,
                is_anomaly=flagged,
                warm=warm,
                signals=signals if flagged else [],
                series={series: result.score},
            )
        )
        if learn and not flagged:
            graph.learn_event(event.ts, event.action, event.target, attributes)
            threshold.learn(result.score)
    new_state = None
    if learn:
        new_state = {
            "format": STATE_FORMAT,
            "version": config.model_version,
            "graph": graph.to_state(),
            "threshold": threshold.to_state(),
            "points": int(current.get("points", 0)) + len(events),
        }
    return pipeline.outcome(
        new_state, reset=bool(previous) and not usable, points_seen=int(current.get("points", 0))
    )
