"""The REST surface's reads of this worker's views: the incidents with what delivery did to
them, the models' counters, and the worker's health."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from app.worker.settings import Settings
from app.worker.stats import StatsStore
from app.worker.transport import EngineApp
from app.worker.views import AlertStore, DeliveryStore, SilenceStore, TopicView


class Queries:
    """Answers ``GET /anomaly/alerts``, ``/anomaly/stats`` and ``/health`` from the views."""

    def __init__(
        self,
        settings: Settings,
        app: EngineApp,
        *,
        alerts: AlertStore,
        silences: SilenceStore,
        delivery_status: DeliveryStore,
        stats: StatsStore,
        config_view: TopicView,
        views: Sequence[TopicView],
        embedded_broker_kind: str | None,
    ) -> None:
        self.settings = settings
        self.app = app
        self.alerts = alerts
        self.silences = silences
        self.delivery_status = delivery_status
        self.stats = stats
        self.config_view = config_view
        self.views = views
        self.embedded_broker_kind = embedded_broker_kind

    def query_alerts(
        self, *, model_id: str | None, entity: str | None, since: float | None, limit: int
    ) -> list[dict[str, Any]]:
        alerts = self.alerts.query(model_id=model_id, entity=entity, since=since, limit=limit)
        now = time.time()
        silences = self.silences.all()
        listed = []
        for alert in alerts:
            deliveries = self.delivery_status.for_incident(alert["incident_id"])
            rows = [e for events in deliveries.values() for e in events.values()]
            if rows:  # what delivery did: a silence made later does not unsend a page
                silenced = any(e.get("status") == "silenced" for e in rows)
            else:
                silenced = any(s.matches(alert, float(alert.get("ts", now))) for s in silences)
            listed.append({**alert, "deliveries": deliveries, "silenced": silenced})
        return listed

    def model_stats_report(self) -> dict[str, dict[str, Any]]:
        return self.stats.models()

    def health(self) -> dict[str, Any]:
        recovery_done = (
            bool(self.app.tables.recovery.completed.is_set()) and not self.app.rebalancing
        )
        configs_loaded = self.config_view.ready.is_set()
        alerts_loaded = all(
            view.ready.is_set() for view in self.views if view is not self.config_view
        )
        try:
            assigned = sorted(
                tp.partition
                for tp in self.app.consumer.assignment()
                if tp.topic == self.settings.metrics_topic
            )
        except Exception:  # not assigned yet
            assigned = []
        ok = recovery_done and configs_loaded and alerts_loaded
        return {
            "status": "ok" if ok else "starting",
            "broker": self.settings.kafka_bootstrap_servers,
            "embedded_broker": self.embedded_broker_kind is not None,
            "embedded_broker_kind": self.embedded_broker_kind,
            "recovery_done": recovery_done,
            "configs_loaded": configs_loaded,
            "alerts_loaded": alerts_loaded,
            "app_id": self.settings.app_id,
            "assigned_partitions": assigned,
        }
