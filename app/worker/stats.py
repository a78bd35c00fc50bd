"""Per-model counters: points, anomalies, alerts, incidents, suppressions by reason, and the
quality of the alerts against labels streamed with the points.

Each worker adds a batch's counters to the `model_stats` table under the key
``<model_id>|p<partition>``, written only from events of that partition, so the table's changelog
holds one up-to-date row per (model, partition) and survives restarts and rebalances. Every worker
reads that changelog whole (a topic view) and sums the rows per model, so any worker answers with
the counters of all of them. (Faust writes the changelog's keys and values as JSON.)
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

import orjson
from aiokafka import ConsumerRecord

from detectors.quality_counters import quality_report


def stats_key(model_id: str, partition: int) -> str:
    return f"{model_id}|p{partition}"


def add_counters(row: Mapping[str, Any] | None, counters: Mapping[str, float]) -> dict[str, Any]:
    """``row`` (a table value) plus ``counters``.

    Examples
    --------
    >>> add_counters({"points": 2, "suppressed.warmup": 1}, {"points": 3, "alerts": 1})
    {'points': 5, 'suppressed.warmup': 1, 'alerts': 1}
    """
    merged = dict(row or {})
    for name, value in counters.items():
        merged[name] = merged.get(name, 0) + value
    return merged


class StatsStore:
    """The latest row of every (model, partition), summed per model on demand."""

    def __init__(self) -> None:
        self._rows: dict[str, dict[str, Any]] = {}

    def apply(self, record: ConsumerRecord[bytes, bytes]) -> None:
        if record.key is None:
            return
        key = orjson.loads(record.key)  # Faust writes table keys as JSON
        if record.value is None:
            self._rows.pop(key, None)
        else:
            self._rows[key] = orjson.loads(record.value)

    def models(self) -> dict[str, dict[str, Any]]:
        """Counters per model: totals, and ``suppressed`` by reason."""
        totals: dict[str, Counter[str]] = {}
        for key, row in self._rows.items():
            model_id = key.rsplit("|p", 1)[0]
            totals.setdefault(model_id, Counter()).update(
                {k: v for k, v in row.items() if isinstance(v, int | float)}
            )
        report = {}
        for model_id, counts in sorted(totals.items()):
            suppressed = {
                name.split(".", 1)[1]: count
                for name, count in sorted(counts.items())
                if name.startswith("suppressed.")
            }
            plain = {k: v for k, v in counts.items() if "." not in k}
            quality = {
                name.split(".", 1)[1]: count
                for name, count in counts.items()
                if name.startswith("quality.")
            }
            versions = {
                name.split(".", 1)[1]: count
                for name, count in sorted(counts.items())
                if name.startswith("version.")
            }
            report[model_id] = {
                "points": plain.get("points", 0),
                "points_by_version": versions,
                "anomalies": plain.get("anomalies", 0),
                "alerts": plain.get("alerts", 0),
                "incidents_opened": plain.get("opened", 0),
                "incidents_resolved": plain.get("resolved", 0),
                "false_positives": plain.get("false_positives", 0),
                "predicted_breaches": plain.get("predicted_breaches", 0),
                "suppressed": suppressed,
                "quality": quality_report(quality) if quality else None,
            }
        return report
