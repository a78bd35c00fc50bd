"""The recent points of the keys a worker scores, in memory, for the dashboard's chart.

The engine keeps no raw history (per-key state is a detector's statistics), so each worker keeps
the last ``points`` points of up to ``max_keys`` (model, entity) keys it scored, least recently
updated keys dropped first. Per point: event time, values, score, threshold, whether the
detector flagged it, whether it alerted, the incident it opened, and the per-feature baseline
(center, spread) its batch was scored against, so a chart draws the alert band
``center ± threshold × spread``.

It lives in the worker's memory only: a restarted worker, or one that has just taken over a
partition, shows the points it scored since. Points are kept in ``array('d')`` columns (8 bytes a
number), so 2,000 keys of 300 points of two features take about 50 MB at most (measured).
"""

from __future__ import annotations

import math
from array import array
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np

from incidents.outcome import BatchOutcome

ANOMALY, ALERT = 1, 2


class _Series:
    """Columns of one key's recent points; ``width`` values (and baselines) per point."""

    __slots__ = ("ts", "score", "threshold", "flags", "values", "center", "spread", "incidents")

    def __init__(self, width: int) -> None:
        self.ts = array("d")
        self.score = array("d")
        self.threshold = array("d")
        self.flags = bytearray()
        self.values = array("d")
        self.center = array("d")
        self.spread = array("d")
        self.incidents: dict[float, str] = {}  # by the ts of the point that opened it

    @property
    def width(self) -> int:
        return len(self.values) // len(self.ts) if self.ts else 0

    def drop_oldest(self, count: int, width: int) -> None:
        for column in (self.ts, self.score, self.threshold):
            del column[:count]
        del self.flags[:count]
        for column in (self.values, self.center, self.spread):
            del column[: count * width]
        if self.incidents:
            first = self.ts[0] if self.ts else math.inf
            self.incidents = {t: i for t, i in self.incidents.items() if t >= first}


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


SMALL_MARKS = 8  # points of a batch scored one by one (incidents.scoring.SMALL_BATCH)


def _as_double(value: Any) -> float:
    """``value`` as numpy's ``float64`` array would hold it (None is NaN)."""
    return math.nan if value is None else float(value)


def _rows(outcome: BatchOutcome, keep: int, count: int) -> tuple[Sequence[Sequence[float]], int]:
    """The last ``keep`` scored rows and their width; none (width 0) when they are not one row
    per point (behaviour events keep their scores only)."""
    rows: Sequence[Sequence[float]] = outcome.values[-keep:] if len(outcome.values) else ()
    width = len(rows[0]) if len(rows) else 0
    if len(rows) and len(rows) != count:
        return (), 0
    return rows, width


class RecentStore:
    """Recent points per (model, entity), least recently updated keys dropped past ``max_keys``.

    Examples
    --------
    >>> from incidents.config import ModelConfig
    >>> from incidents.scoring import score_batch
    >>> cfg = ModelConfig("m", "1", "zscore", {"mean": [100.0], "std": [5.0], "threshold": 3.0})
    >>> out = score_batch(cfg, "host-1", None, [0.0, 10.0, 20.0], [[101.0], [117.0], [120.0]])
    >>> store = RecentStore(max_keys=10, points=2)
    >>> store.add("m", "host-1", out)
    >>> series = store.series("m", "host-1")
    >>> [(p["ts"], p["values"], p["is_anomaly"], p["alert"]) for p in series["points"]]
    [(10.0, [117.0], True, False), (20.0, [120.0], True, True)]
    >>> series["points"][1]["incident_id"] == out.events[0]["incident_id"]
    True
    >>> series["points"][1]["lower"], series["points"][1]["upper"]  # 100 ± 3 × 5
    ([85.0], [115.0])
    >>> store.series("m", "host-2") is None
    True
    """

    def __init__(self, max_keys: int = 2000, points: int = 300) -> None:
        if max_keys < 1 or points < 1:
            raise ValueError("max_keys and points must be at least 1")
        self.max_keys = max_keys
        self.points = points
        self._slack = max(1, points // 4)  # trim in steps, not on every point
        self._series: OrderedDict[tuple[str, str], _Series] = OrderedDict()

    def __len__(self) -> int:
        return len(self._series)

    def add(self, model_id: str, entity: str, outcome: BatchOutcome) -> None:
        """Append the points of a scored batch (only its last ``points`` are looked at)."""
        keep = self.points
        if outcome.table is None and len(outcome.point_list) <= SMALL_MARKS:
            self._add_small(model_id, entity, outcome)
            return
        marks = outcome.last_mark_columns(keep)
        count = len(marks.ts)
        if not count:
            return
        rows, width = _rows(outcome, keep, count)
        series = self._series_of(model_id, entity, width)
        series.ts.frombytes(marks.ts.tobytes())
        series.score.frombytes(marks.score.tobytes())
        series.threshold.frombytes(marks.threshold.tobytes())
        series.flags.extend(marks.flags.tobytes())
        self._add_rows(series, rows, width, outcome.baseline, count)
        series.incidents.update(marks.opened)
        self._trim(series, width)

    def _add_small(self, model_id: str, entity: str, outcome: BatchOutcome) -> None:
        """:meth:`add` for the few outcomes of a small batch, one point at a time: what the
        column path keeps, without building columns of a point or two."""
        points = outcome.point_list[-self.points :]
        count = len(points)
        if not count:
            return
        rows, width = _rows(outcome, self.points, count)
        series = self._series_of(model_id, entity, width)
        for p in points:
            series.ts.append(_as_double(p.ts))
            series.score.append(_as_double(p.score))
            series.threshold.append(_as_double(p.threshold))
            series.flags.append(int(bool(p.is_anomaly)) + 2 * int(bool(p.alert)))
            if p.incident_id:
                series.incidents[p.ts] = p.incident_id
        self._add_rows(series, rows, width, outcome.baseline, count)
        self._trim(series, width)

    def _series_of(self, model_id: str, entity: str, width: int) -> _Series:
        """The key's series, most recently updated now (a new one when the width changed)."""
        key = (model_id, entity)
        series = self._series.get(key)
        if series is None or (series.ts and series.width != width):
            series = self._series[key] = _Series(width)
        self._series.move_to_end(key)
        while len(self._series) > self.max_keys:
            self._series.popitem(last=False)
        return series

    @staticmethod
    def _add_rows(
        series: _Series,
        rows: Sequence[Sequence[float]],
        width: int,
        baseline: Sequence[tuple[float, float]],
        count: int,
    ) -> None:
        """The values of ``count`` points and, for each, the batch's baseline per feature."""
        if not width:
            return
        if isinstance(rows, np.ndarray):  # a decoded message: copy its float64 rows whole
            series.values.frombytes(np.ascontiguousarray(rows, dtype=np.float64).tobytes())
        else:
            for row in rows:
                series.values.extend(row)
        kept = list(baseline)[:width]
        kept += [(math.nan, math.nan)] * (width - len(kept))
        series.center.extend([c for c, _ in kept] * count)
        series.spread.extend([s for _, s in kept] * count)

    def _trim(self, series: _Series, width: int) -> None:
        excess = len(series.ts) - self.points
        if excess >= self._slack:
            series.drop_oldest(excess, width)

    def series(self, model_id: str, entity: str, limit: int | None = None) -> dict[str, Any] | None:
        """The key's last ``limit`` points (all kept when None), oldest first, with the latest
        baseline per feature and threshold; None when this worker has no point of the key."""
        series = self._series.get((model_id, entity))
        if series is None or not series.ts:
            return None
        width = series.width
        count = min(len(series.ts), self.points if limit is None else max(0, limit))
        first = len(series.ts) - count
        out = []
        for i in range(first, len(series.ts)):
            threshold = series.threshold[i]
            values = series.values[i * width : (i + 1) * width]
            center = series.center[i * width : (i + 1) * width]
            spread = series.spread[i * width : (i + 1) * width]
            flags = series.flags[i]
            out.append(
                {
                    "ts": series.ts[i],
                    "values": [_finite(v) for v in values],
                    "score": _finite(series.score[i]),
                    "threshold": _finite(threshold),
                    "is_anomaly": bool(flags & ANOMALY),
                    "alert": bool(flags & ALERT),
                    "incident_id": series.incidents.get(series.ts[i]),
                    "lower": [
                        _finite(c - threshold * s) for c, s in zip(center, spread, strict=True)
                    ],
                    "upper": [
                        _finite(c + threshold * s) for c, s in zip(center, spread, strict=True)
                    ],
                }
            )
        last = len(series.ts) - 1
        return {
            "points": out,
            "baseline": [
                {"center": _finite(c), "spread": _finite(s)}
                for c, s in zip(
                    series.center[last * width :], series.spread[last * width :], strict=True
                )
            ],
            "threshold": _finite(series.threshold[last]),
            "step_seconds": _median_step(series.ts[first:]),
        }


def _median_step(ts: Sequence[float]) -> float | None:
    """The median gap between consecutive event times (None with fewer than two).

    Examples
    --------
    >>> _median_step([0.0, 10.0, 20.0, 50.0]), _median_step([5.0])
    (10.0, None)
    """
    gaps = sorted(b - a for a, b in zip(ts, ts[1:], strict=False) if b > a)
    return gaps[len(gaps) // 2] if gaps else None
