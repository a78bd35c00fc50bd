"""What every stream's scoring step shares once a point has a score: suppression, the incident
lifecycle, cross-stream correlation of the entity's signals, and the counters.

The metrics, logs and behaviour steps turn their input into :class:`Draft` points (a score, a
threshold, whether the detector flagged it, and the signals that explain it) and hand them to a
:class:`Pipeline`, so an anomaly means the same thing, and pages the same way, on every stream.
"""

from __future__ import annotations

import copy
import math
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from detectors.correlation import SignalCorrelator
from detectors.evaluation import QualityCounters
from detectors.suppression import Suppressor
from incidents.config import ModelConfig
from incidents.incident import Signal
from incidents.lifecycle import EntityIncidents, Observation
from incidents.rootcause import describe


@dataclass(frozen=True)
class PointOutcome:
    """How one point scored.

    ``is_anomaly``: the detector flagged it; ``alert``: it also passed suppression;
    ``suppressed_by``: why a flagged point did not alert or open an incident; ``incident_id``:
    set on the point that opened an incident; ``root_cause``: for flagged points, the deviant
    signals with their numbers and what moved with them; ``correlated``: those partners with
    their correlation coefficients.
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
    correlated: tuple[tuple[str, float], ...] = ()

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
            "correlated": [{"signal": name, "r": round(r, 3)} for name, r in self.correlated],
        }


@dataclass(frozen=True)
class Draft:
    """A scored point before suppression and the lifecycle.

    ``deviation`` and ``center``: |value - baseline| and the baseline of the most deviant
    feature, for the minimum-deviation check (NaN to skip it). ``signals``: ranked, for flagged
    points. ``partners``: per signal feature, the features of the same model that move with it.
    ``series``: the values to correlate across the entity's streams, by signal name.
    """

    ts: float
    score: float
    threshold: float
    is_anomaly: bool
    warm: bool
    deviation: float = math.nan
    center: float = math.nan
    signals: Sequence[Signal] = ()
    partners: Mapping[str, Sequence[tuple[str, float]]] = field(default_factory=dict)
    series: Mapping[str, float] = field(default_factory=dict)
    detail: str = ""  # extra root-cause text (e.g. the log template that was new)


@dataclass
class BatchOutcome:
    points: list[PointOutcome]
    events: list[dict[str, Any]] = field(default_factory=list)  # incident events to publish
    state: dict[str, Any] | None = None  # the key's new state; None when nothing was learned
    entity_state: dict[str, Any] | None = None  # the entity's new shared state, if it changed
    reset: bool = False  # the stored state belonged to another model version and was dropped
    points_seen: int = 0  # points of this key scored (and learned from) before this batch
    # Counts by name (``quality.delay_seconds`` adds seconds): sums over batches with ``+``.
    counters: Counter[str] = field(default_factory=Counter)
    insights: dict[str, Any] = field(default_factory=dict)  # trend and forecast, when asked

    @property
    def opened(self) -> list[dict[str, Any]]:
        return [e for e in self.events if e["event"] == "open"]


def signal_name(source: str, model_id: str, feature: str) -> str:
    """The name of a signal across the entity's streams, e.g. ``metrics:cpu-v1:latency_ms``."""
    stream = source.rsplit(".", 1)[-1] if source.startswith("telemetry.") else source
    return f"{stream}:{model_id}:{feature}"


class Pipeline:
    """Suppression, lifecycle, cross-stream correlation and counters for one batch of one key.

    A dry run (``learn=False``) plays everything on copies: points say whether they would alert
    (and why not), nothing is kept and no event is produced.
    """

    def __init__(
        self,
        config: ModelConfig,
        entity: str,
        suppress_state: Mapping[str, Any] | None,
        entity_state: Mapping[str, Any] | None,
        *,
        learn: bool,
        source: str,
    ) -> None:
        self.config = config
        self.learn = learn
        self.source = source
        shared = copy.deepcopy(dict(entity_state or {}))
        self.suppressor = Suppressor(config.suppression, suppress_state)
        self.life = EntityIncidents(entity, shared)
        self.correlator = (
            SignalCorrelator.from_state(shared["signals"])
            if shared.get("signals")
            else SignalCorrelator()
        )
        self._correlated = False
        self.counters: Counter[str] = Counter()
        self.quality: dict[str, float] = defaultdict(float)
        self.points: list[PointOutcome] = []
        self.events: list[dict[str, Any]] = []

    def step(self, draft: Draft) -> PointOutcome:
        config = self.config
        for name, value in draft.series.items():
            if math.isfinite(value):
                self.correlator.add(name, draft.ts, value)
                self._correlated = True
        decision = self.suppressor.decide(
            draft.is_anomaly,
            draft.score,
            draft.threshold,
            draft.deviation,
            draft.center,
            draft.warm,
        )
        root_cause: str | None = None
        correlated: tuple[tuple[str, float], ...] = ()
        if draft.is_anomaly:
            partners = {k: list(v) for k, v in draft.partners.items()}
            top = next((s for s in draft.signals if s.score), None)
            if top is not None:
                own = signal_name(self.source, config.model_id, top.feature)
                across = [
                    (name, r)
                    for name, r in self.correlator.partners(own)
                    if not name.startswith(own.rsplit(":", 1)[0] + ":")
                ]
                partners[top.feature] = partners.get(top.feature, []) + across
                correlated = tuple(partners[top.feature][:5])
            root_cause = describe(draft.signals, partners)
            if draft.detail:
                root_cause = f"{root_cause}; {draft.detail}" if root_cause else draft.detail
        suppressed_by = decision.suppressed_by
        if not draft.warm and math.isfinite(draft.score) and draft.score > draft.threshold:
            suppressed_by = "warmup"  # would have been flagged, had the model learned enough
        step = self.life.observe(
            Observation(
                model_id=config.model_id,
                model_version=config.model_version,
                source=self.source,
                ts=draft.ts,
                score=draft.score,
                threshold=draft.threshold,
                alert=decision.fire,
                signals=draft.signals,
                alert_channels=config.alert_channels,
                summary=root_cause or "",
            ),
            config.lifecycle,
        )
        suppressed_by = suppressed_by or step.suppressed_by
        opened = None
        if self.learn:
            self.events += step.events
            opened = step.opened
        counters = self.counters
        counters["points"] += 1
        counters[f"version.{config.model_version}"] += 1
        counters["anomalies"] += draft.is_anomaly
        counters["alerts"] += decision.fire
        if suppressed_by:
            counters[f"suppressed.{suppressed_by}"] += 1
        outcome = PointOutcome(
            ts=draft.ts,
            score=draft.score,
            threshold=draft.threshold,
            is_anomaly=draft.is_anomaly,
            warm=draft.warm,
            alert=decision.fire,
            suppressed_by=suppressed_by,
            incident_id=opened,
            root_cause=root_cause,
            correlated=correlated,
        )
        self.points.append(outcome)
        return outcome

    def add_quality(self, quality: QualityCounters, alert: bool, label: int, ts: float) -> None:
        """Judge an alert decision against its label; count what that closed."""
        before = quality.closed_counts()
        quality.update(alert, label, ts)
        for name, count in quality.closed_counts().items():
            if count != before[name]:
                self.quality[name] += count - before[name]

    def predicted(self, obs: Observation) -> None:
        """A predictive alert (a forecast expected to breach): it joins or opens an incident
        like any alert, through the lifecycle (and its cooldown)."""
        self.counters["predicted_breaches"] += 1
        step = self.life.observe(obs, self.config.lifecycle)
        if self.learn:
            self.events += step.events

    def outcome(
        self,
        state: dict[str, Any] | None,
        *,
        reset: bool,
        points_seen: int,
        insights: dict[str, Any] | None = None,
    ) -> BatchOutcome:
        """The batch's outcome; ``state`` is the key's new state without the suppression part."""
        for event in self.events:
            if event["event"] in ("open", "resolve"):
                self.counters["opened" if event["event"] == "open" else "resolved"] += 1
        counters = Counter(self.counters)
        for name, count in self.quality.items():
            counters[f"quality.{name}"] += count  # type: ignore[assignment]  # seconds are floats
        entity_state = None
        if self.learn and (self.life.changed or self._correlated):
            entity_state = {**self.life.to_state(), "signals": self.correlator.to_state()}
        if state is not None and self.learn:
            state = {**state, "suppress": self.suppressor.to_state()}
        return BatchOutcome(
            points=self.points,
            events=self.events,
            state=state if self.learn else None,
            entity_state=entity_state,
            reset=reset,
            points_seen=points_seen,
            counters=counters,
            insights=insights or {},
        )
