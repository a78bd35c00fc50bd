"""How a batch of points scored: per point (:class:`PointOutcome`), as columns
(:class:`PointTable`, :class:`MarkColumns`) and for the whole batch (:class:`BatchOutcome`), and the
:class:`Draft` a stream's step hands the :class:`~incidents.pipeline.Pipeline` for each point.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from detectors.results import BlockResult
from incidents.causes import BlockCauses, Cause
from incidents.incident import Signal, finite_or_none

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
    state: Mapping[str, Any] | None = None  # the key's new state; None when nothing was learned
    entity_state: Mapping[str, Any] | None = None  # the entity's new shared state, if it changed
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
