"""The worker's topics and changelog-backed tables, as its Faust app declares them.

:func:`app.worker.topics.ensure_topics` creates them on the broker with these names and
partition counts before the worker starts; this module only declares them on the app.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import faust

from app.worker.settings import Settings


@dataclass(frozen=True)
class Declared:
    """The app's topics (raw bytes, except the score requests' JSON) and its three tables."""

    metrics: Any
    logs: Any
    behavior: Any
    alerts: Any
    dlq: Any
    config: Any
    silences: Any
    audit: Any
    score_requests: Any
    entity_state: Any  # a row per entity: every model's state and the incidents
    model_stats: Any  # quality counters per model
    deliveries: Any  # the delivery ledger, per incident event and channel

    @property
    def telemetry(self) -> dict[str, Any]:
        """The telemetry topics by stream name."""
        return {"metrics": self.metrics, "logs": self.logs, "behavior": self.behavior}


def declare(app: faust.App, settings: Settings) -> Declared:
    """Declare the worker's topics and tables on ``app``."""
    raw = {"key_serializer": "raw", "value_serializer": "raw"}
    n = settings.partitions
    return Declared(
        metrics=app.topic(settings.metrics_topic, partitions=n, **raw),
        logs=app.topic(settings.logs_topic, partitions=n, **raw),
        behavior=app.topic(settings.behavior_topic, partitions=n, **raw),
        alerts=app.topic(settings.alerts_topic, **raw),
        dlq=app.topic(settings.dlq_topic, **raw),
        config=app.topic(settings.config_topic, compacting=True, **raw),
        silences=app.topic(settings.silences_topic, compacting=True, **raw),
        audit=app.topic(settings.audit_topic, **raw),
        score_requests=app.topic(
            settings.score_requests_topic,
            partitions=n,
            key_serializer="raw",
            value_serializer="json",
        ),
        entity_state=app.Table("entity_state", default=None, partitions=n),
        model_stats=app.Table("model_stats", default=None, partitions=n),
        deliveries=app.Table("deliveries", default=None, partitions=n),
    )
