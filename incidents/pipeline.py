"""What every stream's scoring step shares once a point has a score: suppression, the incident
lifecycle, cross-stream correlation of the entity's signals, and the counters.

The metrics, logs and behaviour steps turn their input into :class:`Draft` points (a score, a
threshold, whether the detector flagged it, and the signals that explain it) and hand them to a
:class:`Pipeline`, so an anomaly means the same thing, and pages the same way, on every stream.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any

import numpy as np

from detectors.quality_counters import QualityCounters
from detectors.results import BlockResult, describe_change
from detectors.signal_correlation import SignalCorrelator
from detectors.suppression import Decision, Suppressor
from incidents.causes import BlockCauses, Cause, top_features
from incidents.config import ModelConfig
from incidents.explain import explain, signal_name, top_deviation, top_deviations
from incidents.frozen import made
from incidents.incident import Signal, signals_for
from incidents.lifecycle import EntityIncidents
from incidents.live import SHARED_WRITTEN, LiveState
from incidents.observation import Observation
from incidents.outcome import (
    BatchOutcome,
    Draft,
    Partners,
    PointOutcome,
    PointTable,
)

# An empty Counter as Counter() makes it (a dict subclass without state of its own), without
# Counter.__init__'s Python call (~0.3 µs, once a message).
_new_counter = Counter.__new__


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
        live: tuple[Suppressor | None, tuple[EntityIncidents, SignalCorrelator, bool] | None] = (
            None,
            None,
        ),
    ) -> None:
        """``live``: already parsed suppressor and entity objects (see ``incidents.live``), the
        latter with whether ``entity_state`` is what they wrote (then, while the lifecycle does
        not change, its part of the state is kept as it is instead of being copied again)."""
        self.config = config
        self.learn = learn
        self.source = source
        suppressor, entity_objects = live
        self.suppressor = suppressor or Suppressor(config.suppression, suppress_state)
        self.lifecycle = config.lifecycle  # built anew by each read of the property
        self._written: Mapping[str, Any] | None = None  # the lifecycle's own stored state
        if entity_objects is not None:
            self.life, self.correlator, written = entity_objects
            self.life.changed = False
            self._written = entity_state if written else None
        else:
            shared = dict(entity_state or {})  # its parts are copied by their readers below
            self.life = EntityIncidents(entity, shared)
            self.correlator = (
                SignalCorrelator.from_state(shared["signals"])
                if shared.get("signals")
                else SignalCorrelator()
            )
        self._correlated = False
        # Within a block, the correlations do not move after its values are added up front.
        self._across: dict[str, list[tuple[str, float]]] | None = None
        self.counters: Counter[str] = _new_counter(Counter)  # Counter() without its __init__
        self._version_key = f"version.{config.model_version}"
        self.quality: dict[str, float] = {}
        self.points: list[PointOutcome] = []
        self.table: PointTable | None = None
        self.events: list[dict[str, Any]] = []

    def step(self, draft: Draft) -> PointOutcome:
        """Suppression, correlation, lifecycle and counters for one scored point."""
        return self.point(
            draft.ts,
            draft.score,
            draft.threshold,
            draft.is_anomaly,
            draft.warm,
            draft.deviation,
            draft.center,
            draft.signals,
            draft.partners,
            list(draft.series),
            list(draft.series.values()),
            draft.detail,
            draft.change,
        )

    def point(
        self,
        ts: float,
        score: float,
        threshold: float,
        is_anomaly: bool,
        warm: bool,
        deviation: float,
        center: float,
        signals: Sequence[Signal],
        partners: Mapping[str, Sequence[tuple[str, float]]],
        series: Sequence[str],
        values: Sequence[float],
        detail: str,
        change: str,
    ) -> PointOutcome:
        """:meth:`step` on the fields of a :class:`Draft` without building one (the metrics'
        points, one by one); ``series``: the signal names of ``values``, distinct."""
        correlator = self.correlator
        for name, value in zip(series, values, strict=True):
            if math.isfinite(value):
                correlator.add(name, ts, value)
                self._correlated = True
        decision = self.suppressor.decide(is_anomaly, score, threshold, deviation, center, warm, ts)
        warmup = not warm and math.isfinite(score) and score > threshold
        outcome = self._observe(
            ts, score, threshold, is_anomaly, warm, signals, partners, detail, change,
            decision, warmup, False, None,
        )  # fmt: skip
        self.points.append(outcome)
        return outcome

    def _observe(
        self,
        ts: float,
        score: float,
        threshold: float,
        is_anomaly: bool,
        warm: bool,
        signals: Sequence[Signal],
        partners: Mapping[str, Sequence[tuple[str, float]]],
        detail: str,
        change: str,
        decision: Decision,
        warmup: bool,
        counted: bool,
        cause: Cause | None,
    ) -> PointOutcome:
        """Root cause, lifecycle and counters of a point (the fields of a :class:`Draft`) whose
        suppression is decided. ``counted``: its point, anomaly and warm-up counts were already
        added (a block). ``cause``: the root cause of a row of a block that fires, written by its
        :class:`BlockCauses` (the root cause of a row that does not fire is left to the caller:
        the lifecycle does not read it)."""
        root_cause: str | None = None
        correlated: Partners = ()
        if cause is not None:
            root_cause, correlated = cause
        elif is_anomaly and not counted:
            root_cause, correlated = explain(signals, partners, self._across_of, detail)
        suppressed_by = decision.suppressed_by
        if warmup:
            suppressed_by = "warmup"  # would have been flagged, had the model learned enough
        opened = None
        fire = decision.fire
        if fire or self.life.open is not None:  # else the lifecycle does nothing
            config = self.config
            step = self.life.observe(
                made(
                    Observation,
                    {
                        "model_id": config.model_id,
                        "model_version": config.model_version,
                        "source": self.source,
                        "ts": ts,
                        "score": score,
                        "threshold": threshold,
                        "alert": fire,
                        "signals": signals,
                        "alert_channels": config.alert_channels,
                        "summary": root_cause or "",
                        "change": change,
                    },
                ),
                self.lifecycle,
            )
            suppressed_by = suppressed_by or step.suppressed_by
            if self.learn:
                self.events += step.events
                opened = step.opened
        counters = self.counters
        if not counted:
            counters["points"] += 1
            counters[self._version_key] += 1
            counters["anomalies"] += is_anomaly
        counters["alerts"] += fire
        if suppressed_by and not (counted and suppressed_by == "warmup"):
            counters[f"suppressed.{suppressed_by}"] += 1
        return made(
            PointOutcome,
            {
                "ts": ts,
                "score": score,
                "threshold": threshold,
                "is_anomaly": is_anomaly,
                "warm": warm,
                "alert": fire,
                "suppressed_by": suppressed_by,
                "incident_id": opened,
                "root_cause": root_cause,
                "correlated": correlated,
            },
        )

    def _partners_of(self, signal: str) -> list[tuple[str, float]]:
        if self._across is None:
            return self.correlator.partners(signal)
        if signal not in self._across:
            self._across[signal] = self.correlator.partners(signal)
        return self._across[signal]

    def _across_of(self, feature: str) -> list[tuple[str, float]]:
        """The entity's signals of other models and streams that move with ``feature``."""
        own = signal_name(self.source, self.config.model_id, feature)
        model = own.rsplit(":", 1)[0] + ":"
        return [(name, r) for name, r in self._partners_of(own) if not name.startswith(model)]

    def run_block(
        self,
        ts: np.ndarray,
        rows: np.ndarray,
        block: BlockResult,
        names: Sequence[str],
        series: Sequence[str],
        partners: Callable[[], Mapping[str, Sequence[tuple[str, float]]]],
        details: Sequence[str] | None = None,
        labels: Sequence[int | None] | None = None,
        quality: QualityCounters | None = None,
    ) -> None:
        """The block form of :meth:`step` for a metrics block: suppression decided for the
        flagged rows at once, the lifecycle in one compiled walk over each run of rows that do
        not fire (the common case, also while an incident is open), one by one for those that
        fire (for every row when ``labels`` are given); the result is what :meth:`step` gives
        on each row in order."""
        m = len(ts)
        for j, name in enumerate(series):
            column = rows[:, j]
            if np.isfinite(column).any():
                self.correlator.add_many(name, ts, column)
                self._correlated = True
        flags = block.is_anomaly
        with np.errstate(invalid="ignore"):
            warmup = ~block.warm & np.isfinite(block.score) & (block.score > block.threshold)
        counts, lowers = self.suppressor.flag_counts(flags, ts)
        counters = self.counters
        counters["points"] += m
        counters[f"version.{self.config.model_version}"] += m
        counters["anomalies"] += int(np.count_nonzero(flags))
        counters["suppressed.warmup"] += int(np.count_nonzero(warmup))
        if not counters["suppressed.warmup"]:
            del counters["suppressed.warmup"]
        table = PointTable(ts, block, warmup)
        self.table = table
        self._across = {}
        flagged = np.flatnonzero(flags)
        if len(flagged):  # the partners, as they are while the block is scored
            tops = top_features(block.feature_scores[flagged])
            across = {names[t]: self._across_of(names[t]) for t in np.unique(tops[tops >= 0])}
            table.causes = BlockCauses(names, rows.copy(), block, partners(), across, details)
        fired: dict[int, Cause] = {}
        every_row = labels is not None
        if every_row:
            single = np.ones(m, dtype=bool)
        else:  # only the rows that fire go one by one
            single = np.zeros(m, dtype=bool)
            if len(flagged):
                fires = flagged[self._hold_back(flagged, rows, block, counts, lowers)]
                single[fires] = True
                assert table.causes is not None
                fired = dict(zip(fires.tolist(), table.causes.explain(fires), strict=True))
        if block.changes:  # a change point is news to an open incident
            single[list(block.changes)] = True
        singles = [*np.flatnonzero(single).tolist(), m]
        quiet: tuple[list[float], list[float], list[float]] | None = None  # as lists, once
        k, nxt = 0, 0
        while k < m:
            if k < singles[nxt]:
                stop = singles[nxt]
                if self.life.open is None:  # the lifecycle does nothing
                    k = stop
                    continue
                if quiet is None:
                    quiet = (ts.tolist(), block.score.tolist(), block.threshold.tolist())
                used, events = self.life.quiet_span(  # the incident may resolve on the way
                    self.config.model_id, *quiet, k, stop, self.lifecycle
                )
                if self.learn:
                    self.events += events
                k += used
                continue
            nxt += 1
            label = labels[k] if labels is not None else None
            point = self._block_row(
                k, ts, rows, block, names, (counts, lowers), bool(warmup[k]), fired
            )
            if label is not None and quality is not None:
                self.add_quality(quality, point.alert, int(label), point.ts)
            k += 1
        self._across = None

    def _block_row(
        self,
        k: int,
        ts: np.ndarray,
        rows: np.ndarray,
        block: BlockResult,
        names: Sequence[str],
        window: tuple[np.ndarray, np.ndarray | None],
        warmup: bool,
        fired: Mapping[int, Cause],
    ) -> PointOutcome:
        """One row of a block, as :meth:`step` handles a point (its series already added).
        ``fired``: the root causes of the rows known to fire. A flagged row that does not fire
        is held in the table, its root cause written when read."""
        assert self.table is not None
        result = block.point(k)
        x = rows[k].tolist()
        cause = fired.get(k)
        decision = Decision(cause is not None)
        if result.is_anomaly and cause is None:
            deviation, center = top_deviation(x, result)
            counts, lowers = window
            decision = self.suppressor.judge(
                int(counts[k]),
                result.score,
                result.threshold,
                deviation,
                center,
                result.warm,
                float(lowers[k]) if lowers is not None else 0.0,
            )
        fire = decision.fire
        causes = self.table.causes
        if fire and cause is None:
            assert causes is not None
            cause = causes.explain([k])[0]
        point = self._observe(
            float(ts[k]),
            result.score,
            result.threshold,
            result.is_anomaly,
            result.warm,
            signals_for(names, x, result.feature_scores, result.baseline) if fire else [],
            {},
            "",
            describe_change(result.change, list(names)) if result.change else "",
            decision,
            warmup,
            True,
            cause,
        )
        if result.is_anomaly and not fire:
            self.table.held[k] = point.suppressed_by  # all else of it is in the block
        else:
            self.table.rows[k] = point
        return point

    def _hold_back(
        self,
        flagged: np.ndarray,
        rows: np.ndarray,
        block: BlockResult,
        counts: np.ndarray,
        lowers: np.ndarray | None,
    ) -> np.ndarray:
        """Suppression of the ``flagged`` rows at once (``counts``, ``lowers``: their windows'
        flags and bypass, see :meth:`Suppressor.flag_counts`); the outcomes of those that do not
        fire (the lifecycle takes them as it takes rows that were not flagged: see
        :meth:`EntityIncidents.quiet`) are held in the table. Returns which of them fire."""
        assert self.table is not None
        deviations, centers = top_deviations(
            rows[flagged], block.feature_scores[flagged], block.centers[flagged]
        )
        fires, why = self.suppressor.judge_many(
            counts[flagged],
            block.score[flagged],
            block.threshold[flagged],
            deviations,
            centers,
            block.warm[flagged],
            lowers[flagged] if lowers is not None else None,
        )
        counters, held = self.counters, self.table.held
        for k, reason in zip(flagged.tolist(), why, strict=True):
            if reason is not None:  # in order, as one by one
                counters[f"suppressed.{reason}"] += 1
                held[k] = reason
        counters["alerts"] += 0  # as one by one: the key exists once a flagged point is judged
        return fires

    def add_quality(self, quality: QualityCounters, alert: bool, label: int, ts: float) -> None:
        """Judge an alert decision against its label; count what that closed."""
        before = quality.closed_counts()
        quality.update(alert, label, ts)
        for name, count in quality.closed_counts().items():
            if count != before[name]:
                self.quality[name] = self.quality.get(name, 0.0) + (count - before[name])

    def predicted(self, obs: Observation) -> None:
        """A predictive alert (a forecast expected to breach): it joins or opens an incident
        like any alert, through the lifecycle (and its cooldown)."""
        self.counters["predicted_breaches"] += 1
        step = self.life.observe(obs, self.lifecycle)
        if self.learn:
            self.events += step.events

    def outcome(
        self,
        state: dict[str, Any] | None,
        *,
        reset: bool,
        points_seen: int,
        insights: dict[str, Any] | None = None,
        live: bool = False,
    ) -> BatchOutcome:
        """The batch's outcome; ``state`` is the key's new state without the suppression part.
        With ``live`` (the worker's, see ``incidents.live``) the entity's new state is a
        :class:`LiveState` whose correlation part is written from the correlator when read."""
        for event in self.events:
            if event["event"] in ("open", "resolve"):
                self.counters["opened" if event["event"] == "open" else "resolved"] += 1
        counters = self.counters  # the pipeline's last use of them: no copy
        for name, count in self.quality.items():
            counters[f"quality.{name}"] += count  # type: ignore[assignment]  # seconds are floats
        entity_state: Mapping[str, Any] | None = None
        if self.learn and (self.life.changed or self._correlated):
            written = self._written
            life: Mapping[str, Any]
            if written is not None and not self.life.changed:
                life = written.light if type(written) is LiveState else written
            else:
                life = self.life.to_state()
            if live:
                light = {k: v for k, v in life.items() if k not in SHARED_WRITTEN}
                entity_state = LiveState(
                    light, partial(_shared_of, light, self.correlator), SHARED_WRITTEN
                )
            else:
                entity_state = {**life, "signals": self.correlator.to_state()}
        if state is not None and self.learn:
            state = {**state, "suppress": self.suppressor.to_state()}
        return BatchOutcome(
            point_list=self.points,
            events=self.events,
            table=self.table,
            state=state if self.learn else None,
            entity_state=entity_state,
            reset=reset,
            points_seen=points_seen,
            counters=counters,
            insights=insights or {},
        )


def _shared_of(life: Mapping[str, Any], correlator: SignalCorrelator) -> dict[str, Any]:
    """The entity's shared state: the lifecycle's part ``life`` and the correlation of its
    signals, written from ``correlator`` now."""
    return {**life, "signals": correlator.to_state()}
