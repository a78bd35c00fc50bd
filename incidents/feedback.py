"""Feedback on alerts, kept apart from evaluation.

A ``label`` (or ``labels``) sent with points is ground truth for the quality counters and is never
learned. Feedback is its own input, and it is learned: the verdict ``false_positive`` says points
the model flagged were normal.

- On an incident (``POST /anomaly/alerts/{incident_id}/feedback``, or a metrics message
  ``{"model_id", "entity", "feedback": {"incident_id", "verdict"}}``): each metrics model of the
  incident learns the incident's points as normal and forgets the flags of its persistence window
  (they were the incident's), the incident resolves with ``"resolution": "false_positive"``, and
  the incident's model counts one false positive. The points are those the incident recorded: its
  signals (for each feature, the value of the first point that alerted on it), grouped by the
  point that added them; a feature a point did not record is a gap.
- On a point (``"feedback": "false_positive"``): the point is learned as normal and never
  scored; an open incident of the entity that the model is part of and whose span (opening to
  last elevated point) holds the point resolves with that resolution (and the persistence window
  forgets its flags); each such point counts one false positive.

Learning is :meth:`detectors.model.ModelScorer.learn_normal`: each point once, with the weight of
any normal point.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from incidents.config import ModelConfig
from incidents.key_state import learn_as_normal
from incidents.lifecycle import EntityIncidents
from incidents.live import LiveCache
from incidents.outcome import BatchOutcome
from incidents.scoring import score_batch

FALSE_POSITIVE = "false_positive"
VERDICTS = (FALSE_POSITIVE,)  # a verdict that the alert was right teaches nothing: not taken

State = Mapping[str, Any] | None
Step = Callable[[State, State], BatchOutcome]


class FeedbackRefused(ValueError):
    """Feedback that cannot be applied; ``reason`` is ``not_open`` (no such open incident) or
    ``unknown_model`` (none of the incident's models is configured any more)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def incident_points(
    incident: Mapping[str, Any], model_id: str, names: Sequence[str]
) -> tuple[np.ndarray, np.ndarray]:
    """The points of ``model_id`` that an incident recorded: their times and one row per point
    (in the order they joined), with the features ``names`` in order and NaN where the point
    recorded none.
    Forecast signals (a predicted value, not a point) are left out.

    Examples
    --------
    >>> signals = [
    ...     {"model_id": "m", "source": "s", "feature": "cpu", "value": 90.0, "ts": 60.0},
    ...     {"model_id": "m", "source": "s", "feature": "mem", "value": 7.0, "ts": 60.0},
    ...     {"model_id": "logs", "source": "l", "feature": "error_ratio", "value": 0.5, "ts": 65.0},
    ...     {"model_id": "m", "source": "s", "feature": "disk", "value": 3.0, "ts": 70.0},
    ...     {"model_id": "m", "source": "forecast", "feature": "cpu", "value": 99.0, "ts": 80.0},
    ... ]
    >>> ts, rows = incident_points({"signals": signals}, "m", ["cpu", "mem", "disk"])
    >>> ts.tolist(), rows.tolist()
    ([60.0, 70.0], [[90.0, 7.0, nan], [nan, nan, 3.0]])
    """
    index = {name: i for i, name in enumerate(names)}
    rows: dict[float, list[float]] = {}
    for signal in incident.get("signals", ()):
        i = index.get(signal.get("feature"))
        value = signal.get("value")
        if (
            signal.get("model_id") != model_id
            or signal.get("source") == "forecast"
            or i is None
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            continue
        rows.setdefault(float(signal["ts"]), [math.nan] * len(names))[i] = float(value)
    values = np.array(list(rows.values()), dtype=float).reshape(len(rows), len(names))
    return np.array(list(rows), dtype=float), values


@dataclass(frozen=True)
class Dismissal:
    """What a verdict on an open incident does: ``steps`` for ``Engine.apply_message`` (one per
    configured model of the incident; the first resolves it), and the points each metrics
    model learns as normal."""

    incident: Mapping[str, Any]
    learned: Mapping[str, int]
    steps: list[tuple[ModelConfig, Step]]


def dismissal(
    entity: str,
    shared: State,
    incident_id: str,
    verdict: str,
    model_config: Callable[[str], ModelConfig | None],
    model_state: Callable[[str], State],
) -> Dismissal:
    """The verdict ``verdict`` on the open incident ``incident_id`` of ``entity``, whose shared
    state is ``shared``; the models' configurations and states are looked up by id. Raises
    :class:`FeedbackRefused` when that incident is not open, or none of its models is configured.

    Examples
    --------
    >>> from incidents.observation import LifecycleSpec, Observation
    >>> from incidents.incident import Signal
    >>> cfg = ModelConfig("m", "1", "zscore", {"threshold": 3.0}, warmup=5)
    >>> out = score_batch(cfg, "host-1", None, [0, 1, 2, 3, 4], [[9.0], [11.0], [9.0], [11.0], [10.0]])
    >>> life = EntityIncidents("host-1")
    >>> opened = life.observe(Observation("m", "1", "s", 5.0, 10.0, 3.0, True,
    ...                                   [Signal("feature_0", 20.0, 10.0, 10.0, 1.0)]),
    ...                       LifecycleSpec()).opened
    >>> plan = dismissal("host-1", life.to_state(), opened, FALSE_POSITIVE,
    ...                  {"m": cfg}.get, {"m": out.state}.get)
    >>> plan.learned
    {'m': 1}
    >>> [(config, run)] = plan.steps
    >>> result = run(out.state, life.to_state())
    >>> [(e["event"], e["resolution"]) for e in result.events], result.entity_state["open"]
    ([('resolve', 'false_positive')], None)
    >>> sorted(result.counters.items())
    [('false_positives', 1), ('resolved', 1)]
    >>> score_batch(cfg, "host-1", result.state, [6.0], [[20.0]], learn=False).points[0].is_anomaly
    False
    >>> dismissal("host-1", result.entity_state, opened, FALSE_POSITIVE, {"m": cfg}.get,
    ...           {"m": result.state}.get)
    Traceback (most recent call last):
    ...
    incidents.feedback.FeedbackRefused: incident ... is not open on host-1 (it has resolved, ...)
    """
    incident = EntityIncidents(entity, shared).open
    if incident is None or incident["incident_id"] != incident_id:
        raise FeedbackRefused(
            "not_open",
            f"incident {incident_id} is not open on {entity} (it has resolved, or it is not "
            "an incident of this entity)",
        )
    learned: dict[str, int] = {}
    steps: list[tuple[ModelConfig, Step]] = []
    for model_id in incident["models"]:
        config = model_config(model_id)
        if config is None:
            continue
        rows = times = None
        state = model_state(model_id)
        n_features = state.get("n_features") if state is not None else None
        same_version = model_id != incident["model_id"] or (
            config.model_version == incident["model_version"]
        )
        if config.stream == "metrics" and isinstance(n_features, int) and same_version:
            times, rows = incident_points(incident, model_id, config.names_for(n_features))
            learned[model_id] = len(rows)
        steps.append(
            (
                config,
                _dismiss_step(config, entity, incident_id, verdict, rows, times, first=not steps),
            )
        )
    if not steps:
        raise FeedbackRefused(
            "unknown_model",
            f"none of the models of incident {incident_id} ({', '.join(incident['models'])}) "
            "is configured any more",
        )
    return Dismissal(incident=incident, learned=learned, steps=steps)


def _dismiss_step(
    config: ModelConfig,
    entity: str,
    incident_id: str,
    verdict: str,
    rows: np.ndarray | None,
    times: np.ndarray | None,
    *,
    first: bool,
) -> Step:
    """The step of one model of a dismissed incident: it learns ``rows`` at ``times`` (None: it
    learns nothing), and the ``first`` step resolves the incident and counts the verdict."""

    def run(state: State, shared: State) -> BatchOutcome:
        points_seen = int(state.get("points", 0)) if state is not None else 0
        new_state = dict(state) if state is not None else None
        reset = False
        if rows is not None and len(rows):
            new_state, reset = learn_as_normal(
                config, state, rows, count=False, forget_flags=True, ts=times
            )
        counters: Counter[str] = Counter()
        events: list[dict[str, Any]] = []
        entity_state = None
        if first:
            life = EntityIncidents(entity, shared)
            event = life.dismiss(incident_id, verdict)
            if event is not None:
                events.append(event)
                counters.update(resolved=1, false_positives=1)
                entity_state = {**(shared or {}), **life.to_state()}
        return BatchOutcome(
            events=events,
            state=new_state,
            entity_state=entity_state,
            reset=reset,
            points_seen=points_seen,
            counters=counters,
        )

    return run


def score_with_feedback(
    config: ModelConfig,
    entity: str,
    state: State,
    ts: Sequence[float],
    values: Sequence[Sequence[float]],
    feedback: Sequence[str | None] | None,
    *,
    source: str,
    entity_state: State,
    labels: Sequence[int | None] | None = None,
    cache: LiveCache | None = None,
) -> BatchOutcome:
    """:func:`incidents.scoring.score_batch` for a message whose points may carry feedback:
    the points marked ``false_positive`` are learned as normal first (:func:`mark_normal`),
    then the others are scored, with their labels. Without such points it is ``score_batch``.

    Examples
    --------
    >>> cfg = ModelConfig("m", "1", "zscore", {"threshold": 3.0}, warmup=5)
    >>> before = score_batch(cfg, "h", None, [0, 1, 2, 3, 4], [[9.0], [11.0], [9.0], [11.0], [10.0]])
    >>> out = score_with_feedback(cfg, "h", before.state, [5, 6], [[20.0], [20.0]],
    ...                           [FALSE_POSITIVE, None], source="s", entity_state=None)
    >>> [(p.ts, p.is_anomaly) for p in out.points], out.counters["false_positives"]
    ([(6.0, False)], 1)
    """
    if not feedback or FALSE_POSITIVE not in feedback:  # the common case: no numpy for it
        return score_batch(
            config,
            entity,
            state,
            ts,
            values,
            source=source,
            entity_state=entity_state,
            labels=labels,
            cache=cache,
        )
    marked = np.array([v == FALSE_POSITIVE for v in feedback], dtype=bool)
    times = np.asarray(ts, dtype=float)
    rows = np.asarray(values, dtype=float).reshape(len(times), -1)
    first = mark_normal(config, entity, state, times[marked], rows[marked], entity_state)
    rest = ~marked
    if not rest.any():
        return first
    then = score_batch(
        config,
        entity,
        first.state,
        times[rest],
        rows[rest],
        source=source,
        entity_state=first.entity_state if first.entity_state is not None else entity_state,
        labels=[labels[k] for k in np.flatnonzero(rest).tolist()] if labels is not None else None,
        cache=cache,
    )
    then.events = [*first.events, *then.events]
    then.counters = first.counters + then.counters
    if then.entity_state is None:
        then.entity_state = first.entity_state
    then.reset = first.reset or then.reset
    then.points_seen = first.points_seen
    return then


def mark_normal(
    config: ModelConfig,
    entity: str,
    state: State,
    ts: np.ndarray,
    rows: np.ndarray,
    entity_state: State,
) -> BatchOutcome:
    """Points a producer marked ``false_positive``: learned as normal (never flagged), one false
    positive counted each; the entity's open incident resolves with that resolution when the
    model is part of it and one of the points lies in its span (opening to last elevated point).

    Examples
    --------
    >>> from incidents.observation import LifecycleSpec, Observation
    >>> cfg = ModelConfig("m", "1", "zscore", {"threshold": 3.0}, warmup=5)
    >>> life = EntityIncidents("h")
    >>> _ = life.observe(Observation("m", "1", "s", 50.0, 10.0, 3.0, True), LifecycleSpec())
    >>> late = mark_normal(cfg, "h", None, np.array([60.0]), np.array([[20.0]]), life.to_state())
    >>> late.events, late.counters["false_positives"], late.state["points"]
    ([], 1, 1)
    >>> out = mark_normal(cfg, "h", None, np.array([50.0]), np.array([[20.0]]), life.to_state())
    >>> [(e["event"], e["resolution"]) for e in out.events], out.entity_state["open"]
    ([('resolve', 'false_positive')], None)
    """
    counters: Counter[str] = Counter(false_positives=len(rows))
    life = EntityIncidents(entity, entity_state)
    incident = life.open
    events: list[dict[str, Any]] = []
    changed = None
    if incident is not None and config.model_id in incident["models"]:
        end = max(incident["last_seen"], incident["last_elevated"])
        if ((ts >= incident["ts"]) & (ts <= end)).any():
            event = life.dismiss(incident["incident_id"], FALSE_POSITIVE)
            if event is not None:
                events.append(event)
                counters["resolved"] += 1
                changed = {**(entity_state or {}), **life.to_state()}
    learned, reset = learn_as_normal(
        config, state, rows, count=True, forget_flags=bool(events), ts=ts
    )
    return BatchOutcome(
        events=events,
        state=learned,
        entity_state=changed,
        reset=reset,
        points_seen=int(state.get("points", 0)) if state is not None and not reset else 0,
        counters=counters,
    )
