"""What every stream's scoring step shares once a point has a score: suppression, the incident
lifecycle, cross-stream correlation of the entity's signals, and the counters.

The metrics, logs and behaviour steps turn their input into :class:`Draft` points (a score, a
threshold, whether the detector flagged it, and the signals that explain it) and hand them to a
:class:`Pipeline`, so an anomaly means the same thing, and pages the same way, on every stream.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from detectors.quality_counters import QualityCounters
from detectors.results import BlockResult, PointResult, describe_change
from detectors.signal_correlation import SignalCorrelator
from detectors.suppression import Decision, Suppressor
from incidents.causes import BlockCauses, Cause, top_features
from incidents.config import ModelConfig
from incidents.incident import Signal, finite_or_none, signals_for
from incidents.lifecycle import EntityIncidents
from incidents.observation import Observation
from incidents.rootcause import describe

Partners = tuple[tuple[str, float], ...]


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
            "correlated": correlated_json(self.correlated),
        }


def correlated_json(correlated: Partners) -> list[dict[str, Any]]:
    """A point's partners as its JSON field ``correlated``."""
    return [{"signal": name, "r": round(r, 3)} for name, r in correlated]


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
    change: str = ""  # where the model re-baselined: "latency level shift: 100 → 150"


# What the recent-series view keeps of a point: ts, score, threshold, is_anomaly, alert, incident_id.
PointMark = tuple[float, float, float, bool, bool, str | None]


class MarkColumns(NamedTuple):
    """What the recent-series view keeps of a run of points, as columns (see
    :meth:`PointTable.mark_columns`)."""

    ts: np.ndarray
    score: np.ndarray
    threshold: np.ndarray
    flags: np.ndarray  # is_anomaly + 2 * alert
    opened: dict[float, str]  # the incident ids, by the time of their point

    @classmethod
    def of(cls, marks: Sequence[PointMark]) -> MarkColumns:
        """The columns of a list of marks.

        Examples
        --------
        >>> MarkColumns.of([(1.0, 2.0, 3.0, True, True, "i-1"), (2.0, 0.5, 3.0, False, False, None)]).flags.tolist()
        [3, 0]
        """
        ts, score, threshold, is_anomaly, alert, ids = (
            zip(*marks, strict=True) if marks else [()] * 6
        )
        return cls(
            np.array(ts, dtype=np.float64),
            np.array(score, dtype=np.float64),
            np.array(threshold, dtype=np.float64),
            np.array(is_anomaly, dtype=np.uint8) + 2 * np.array(alert, dtype=np.uint8),
            {t: i for t, i in zip(ts, ids, strict=True) if i},
        )


def _mark(point: PointOutcome) -> PointMark:
    return (
        point.ts,
        point.score,
        point.threshold,
        point.is_anomaly,
        point.alert,
        point.incident_id,
    )


class PointTable:
    """The points of a block as arrays, with the few rows the pipeline looked at one by one
    (flagged, or while an incident was open) overriding them; :class:`PointOutcome` objects are
    only built when asked for (the stream does not need them, the API and the backtest do)."""

    def __init__(self, ts: np.ndarray, block: BlockResult, warmup: np.ndarray) -> None:
        self.ts = ts
        self.block = block
        self.warmup = warmup  # rows suppressed because the model was still warming up
        self.rows: dict[int, PointOutcome] = {}
        # Flagged rows that did not fire (in order), with why: an outcome without alert,
        # incident or root cause until asked for, when ``causes`` writes their root causes
        # (the stream never reads them; an alert's is written at once, for its incident).
        self.held: dict[int, str | None] = {}
        self.causes: BlockCauses | None = None

    def __len__(self) -> int:
        return len(self.ts)

    def held_causes(self, start: int = 0) -> dict[int, Cause]:
        """The root causes of the held rows ``start ..``, by row."""
        held = list(self.held)
        ks = held[bisect_left(held, start) :]
        if not ks:
            return {}
        assert self.causes is not None
        return dict(zip(ks, self.causes.explain(ks), strict=True))

    def looked_at(self, start: int = 0) -> dict[int, PointOutcome]:
        """The rows looked at one by one, with the held ones from ``start`` as outcomes."""
        causes = self.held_causes(start)
        if not causes:
            return self.rows
        ks = list(causes)
        block = self.block
        columns = zip(
            ks,
            self.ts[ks].tolist(),
            block.score[ks].tolist(),
            block.threshold[ks].tolist(),
            block.warm[ks].tolist(),
            strict=True,
        )
        for k, t, score, threshold, warm in columns:
            root_cause, correlated = causes[k]
            self.rows[k] = PointOutcome(
                ts=t,
                score=score,
                threshold=threshold,
                is_anomaly=True,
                warm=warm,
                suppressed_by=self.held.pop(k),
                root_cause=root_cause,
                correlated=correlated,
            )
        return self.rows

    def marks(self, start: int) -> list[PointMark]:
        """What the recent-series view keeps of rows ``start ..``: no outcome objects, and no
        root cause written (a 1000-point message spent a third of its worker time building
        those for the 300 points the view keeps)."""
        block = self.block
        part = slice(start, None)
        ts = self.ts[part].tolist()
        score, threshold = block.score[part].tolist(), block.threshold[part].tolist()
        flags = block.is_anomaly[part].tolist()
        marks = list(
            zip(ts, score, threshold, flags, [False] * len(ts), [None] * len(ts), strict=True)
        )
        for k, row in self.rows.items():
            if k >= start:
                marks[k - start] = _mark(row)
        return marks

    def mark_columns(self, start: int) -> MarkColumns:
        """:meth:`marks` as columns: times, scores, thresholds (float64), flags (``is_anomaly +
        2 * alert``, uint8) and the incident ids by time, without a tuple per row."""
        block = self.block
        ts = self.ts[start:].astype(np.float64)
        score = block.score[start:].astype(np.float64)
        threshold = block.threshold[start:].astype(np.float64)
        flags = block.is_anomaly[start:].astype(np.uint8)
        opened: dict[float, str] = {}
        for k in sorted(self.rows):
            row = self.rows[k]
            if k >= start:
                ts[k - start], score[k - start], threshold[k - start] = (
                    row.ts,
                    row.score,
                    row.threshold,
                )
                flags[k - start] = int(row.is_anomaly) + 2 * int(row.alert)
                if row.incident_id:
                    opened[row.ts] = row.incident_id
        return MarkColumns(ts, score, threshold, flags, opened)

    def outcomes(self, start: int = 0) -> list[PointOutcome]:
        """The outcomes of rows ``start ..`` (all by default)."""
        self.looked_at(start)
        block = self.block
        part = slice(start, None)
        ts = self.ts[part].tolist()
        score, threshold = block.score[part].tolist(), block.threshold[part].tolist()
        flags, warm = block.is_anomaly[part].tolist(), block.warm[part].tolist()
        warmup = self.warmup[part].tolist()
        return [
            self.rows.get(start + k)
            or PointOutcome(
                ts=ts[k],
                score=score[k],
                threshold=threshold[k],
                is_anomaly=flags[k],
                warm=warm[k],
                suppressed_by="warmup" if warmup[k] else None,
            )
            for k in range(len(ts))
        ]


@dataclass
class BatchOutcome:
    point_list: list[PointOutcome] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)  # incident events to publish
    state: dict[str, Any] | None = None  # the key's new state; None when nothing was learned
    entity_state: dict[str, Any] | None = None  # the entity's new shared state, if it changed
    reset: bool = False  # the stored state belonged to another model version and was dropped
    points_seen: int = 0  # points of this key scored (and learned from) before this batch
    # Counts by name (``quality.delay_seconds`` adds seconds): sums over batches with ``+``.
    counters: Counter[str] = field(default_factory=Counter)
    insights: dict[str, Any] = field(default_factory=dict)  # trend and forecast, when asked
    # The scored rows (the caller's own list, not a copy) and the per-feature (center, spread)
    # the last point was scored against, for the recent-series view; empty for behaviour events.
    values: Sequence[Sequence[float]] = ()
    baseline: Sequence[tuple[float, float]] = ()
    table: PointTable | None = None

    @property
    def points(self) -> list[PointOutcome]:
        """How each point scored, in order (built on first use for a block)."""
        if self.table is not None:
            self.point_list = self.table.outcomes()
            self.table = None
        return self.point_list

    def columns(self) -> dict[str, Any]:
        """The points as JSON columns (about a third of the size of one object per point): the
        worker's reply to a score request, which :func:`points_from_columns` turns back into
        :meth:`PointOutcome.to_dict` objects. ``extra`` lists ``[row, fields]`` for the rows
        with a suppression reason, an incident, a root cause or partners.

        Examples
        --------
        >>> out = BatchOutcome(point_list=[PointOutcome(0.0, 1.0, 3.0, False, True),
        ...                               PointOutcome(1.0, 9.0, 3.0, True, True, root_cause="x")])
        >>> points_from_columns(out.columns()) == [p.to_dict() for p in out.points]
        True
        """
        table = self.table
        if table is None:
            points = self.point_list
            ts = [p.ts for p in points]
            score = [p.score for p in points]
            threshold = [p.threshold for p in points]
            flags = [p.is_anomaly for p in points]
            warm = [p.warm for p in points]
            special: Mapping[int, PointOutcome] = dict(enumerate(points))
            held: Mapping[int, str | None] = {}
            causes: Mapping[int, Cause] = {}
            warmup: list[int] = []
            finite = all(map(math.isfinite, score))
        else:
            block = table.block
            ts, score = table.ts.tolist(), block.score.tolist()
            threshold, flags = block.threshold.tolist(), block.is_anomaly.tolist()
            warm = block.warm.tolist()
            special, held, causes = table.rows, table.held, table.held_causes()
            warmup = np.flatnonzero(table.warmup).tolist()
            finite = bool(np.isfinite(block.score).all())
        alert = [False] * len(ts)
        extra: list[list[Any]] = []
        for k in sorted({*special, *held, *warmup}):
            point = special.get(k)
            fields: dict[str, Any] = {}
            if point is None:
                reason = held.get(k, "warmup")
                if reason:
                    fields["suppressed_by"] = reason
                root_cause, correlated = causes.get(k) or (None, ())
            else:
                alert[k] = point.alert
                root_cause, correlated = point.root_cause, point.correlated
                if point.suppressed_by:
                    fields["suppressed_by"] = point.suppressed_by
                if point.incident_id:
                    fields["incident_id"] = point.incident_id
            if root_cause:
                fields["root_cause"] = root_cause
            if correlated:
                fields["correlated"] = correlated_json(correlated)
            if fields:
                extra.append([k, fields])
        return {
            "ts": ts,
            "score": score if finite else [finite_or_none(x) for x in score],
            "threshold": threshold,
            "is_anomaly": flags,
            "warm": warm,
            "alert": alert,
            "extra": extra,
        }

    def last_marks(self, n: int) -> list[PointMark]:
        """(ts, score, threshold, is_anomaly, alert, incident_id) of the last ``n`` points,
        without building the outcomes of a block.

        Examples
        --------
        >>> BatchOutcome(point_list=[PointOutcome(float(t), 0.0, 1.0, False, True)
        ...                          for t in range(5)]).last_marks(2)
        [(3.0, 0.0, 1.0, False, False, None), (4.0, 0.0, 1.0, False, False, None)]
        """
        if n <= 0:
            return []
        if self.table is not None:
            return self.table.marks(max(0, len(self.table) - n))
        return [_mark(point) for point in self.point_list[-n:]]

    def last_mark_columns(self, n: int) -> MarkColumns:
        """:meth:`last_marks` as :class:`MarkColumns`.

        Examples
        --------
        >>> BatchOutcome(point_list=[PointOutcome(float(t), 0.0, 1.0, False, True)
        ...                          for t in range(5)]).last_mark_columns(2).ts.tolist()
        [3.0, 4.0]
        """
        if self.table is not None and n > 0:
            return self.table.mark_columns(max(0, len(self.table) - n))
        return MarkColumns.of(self.last_marks(n))

    @property
    def opened(self) -> list[dict[str, Any]]:
        return [e for e in self.events if e["event"] == "open"]


def points_from_columns(columns: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The point objects of :meth:`BatchOutcome.columns`."""
    rows = zip(
        columns["ts"],
        columns["score"],
        columns["threshold"],
        columns["is_anomaly"],
        columns["warm"],
        columns["alert"],
        strict=True,
    )
    points = [
        {
            "ts": ts,
            "score": score,
            "threshold": threshold,
            "is_anomaly": flag,
            "warm": warm,
            "alert": alert,
            "suppressed_by": None,
            "incident_id": None,
            "root_cause": None,
            "correlated": [],
        }
        for ts, score, threshold, flag, warm, alert in rows
    ]
    for k, fields in columns["extra"]:
        points[k].update(fields)
    return points


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
        live: tuple[Suppressor | None, tuple[EntityIncidents, SignalCorrelator] | None] = (
            None,
            None,
        ),
    ) -> None:
        """``live``: already parsed suppressor and entity objects (see ``incidents.live``)."""
        self.config = config
        self.learn = learn
        self.source = source
        suppressor, entity_objects = live
        self.suppressor = suppressor or Suppressor(config.suppression, suppress_state)
        self.lifecycle = config.lifecycle  # built anew by each read of the property
        if entity_objects is not None:
            self.life, self.correlator = entity_objects
            self.life.changed = False
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
        self.counters: Counter[str] = Counter()
        self.quality: dict[str, float] = defaultdict(float)
        self.points: list[PointOutcome] = []
        self.table: PointTable | None = None
        self.events: list[dict[str, Any]] = []

    def step(self, draft: Draft) -> PointOutcome:
        """Suppression, correlation, lifecycle and counters for one scored point."""
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
            draft.ts,
        )
        warmup = not draft.warm and math.isfinite(draft.score) and draft.score > draft.threshold
        outcome = self._observe(draft, decision, warmup, counted=False)
        self.points.append(outcome)
        return outcome

    def _observe(
        self,
        draft: Draft,
        decision: Decision,
        warmup: bool,
        *,
        counted: bool,
        cause: Cause | None = None,
    ) -> PointOutcome:
        """Root cause, lifecycle and counters of a point whose suppression is decided.
        ``counted``: its point, anomaly and warm-up counts were already added (a block).
        ``cause``: the root cause of a row of a block that fires, written by its
        :class:`BlockCauses` (the root cause of a row that does not fire is left to the caller:
        the lifecycle does not read it)."""
        config = self.config
        root_cause: str | None = None
        correlated: Partners = ()
        if cause is not None:
            root_cause, correlated = cause
        elif draft.is_anomaly and not counted:
            root_cause, correlated = explain(
                draft.signals, draft.partners, self._across_of, draft.detail
            )
        suppressed_by = decision.suppressed_by
        if warmup:
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
                change=draft.change,
            ),
            self.lifecycle,
        )
        suppressed_by = suppressed_by or step.suppressed_by
        opened = None
        if self.learn:
            self.events += step.events
            opened = step.opened
        counters = self.counters
        if not counted:
            counters["points"] += 1
            counters[f"version.{config.model_version}"] += 1
            counters["anomalies"] += draft.is_anomaly
        counters["alerts"] += decision.fire
        if suppressed_by and not (counted and suppressed_by == "warmup"):
            counters[f"suppressed.{suppressed_by}"] += 1
        return PointOutcome(
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
        flagged rows at once, the lifecycle vectorised over the runs of rows that do not fire
        (the common case, also while an incident is open), one by one for those that fire (for
        every row when ``labels`` are given); the result is what :meth:`step` gives on each row
        in order."""
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
        k, nxt = 0, 0
        while k < m:
            if k < singles[nxt]:
                stop = singles[nxt]
                used, events = self.life.quiet(  # an incident, if open, may resolve on the way
                    self.config.model_id,
                    ts[k:stop],
                    block.score[k:stop],
                    block.threshold[k:stop],
                    self.lifecycle,
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
        draft = Draft(
            ts=float(ts[k]),
            score=result.score,
            threshold=result.threshold,
            is_anomaly=result.is_anomaly,
            warm=result.warm,
            signals=signals_for(names, x, result.feature_scores, result.baseline) if fire else [],
            change=describe_change(result.change, list(names)) if result.change else "",
        )
        point = self._observe(draft, decision, warmup, counted=True, cause=cause)
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
        fires = np.zeros(len(flagged), dtype=bool)
        judge, counters = self.suppressor.judge, self.counters
        held = self.table.held
        columns = zip(
            flagged.tolist(),
            counts[flagged].tolist(),
            block.score[flagged].tolist(),
            block.threshold[flagged].tolist(),
            deviations.tolist(),
            centers.tolist(),
            block.warm[flagged].tolist(),
            lowers[flagged].tolist() if lowers is not None else [0.0] * len(flagged),
            strict=True,
        )
        for j, (k, count, score, threshold, deviation, center, warm, lower) in enumerate(columns):
            decision = judge(count, score, threshold, deviation, center, warm, lower)
            if decision.fire:
                fires[j] = True
                continue
            reason = decision.suppressed_by
            if reason:
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
                self.quality[name] += count - before[name]

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
