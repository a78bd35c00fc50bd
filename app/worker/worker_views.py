"""This worker's views of the topics every worker reads whole: the configurations, the
incidents, the models' counters, the silences and the deliveries, each a store kept up to date
by a :class:`app.worker.views.TopicView`, all read by one group-less reader."""

from __future__ import annotations

from app.worker.settings import Settings
from app.worker.stats import StatsStore
from app.worker.topics import changelog_topic
from app.worker.views import (
    AlertStore,
    ConfigStore,
    DeliveryStore,
    SilenceStore,
    TopicView,
    TopicViews,
)


class WorkerViews:
    """The stores, their topic views and the reader that feeds them (a Faust dependency)."""

    def __init__(self, settings: Settings, servers: list[str]) -> None:
        self.configs = ConfigStore()
        self.alerts = AlertStore(settings.alerts_retained)
        self.stats = StatsStore()
        self.silences = SilenceStore()
        self.delivery_status = DeliveryStore(2 * settings.alerts_retained)
        self.config_view = TopicView(settings.config_topic, self.configs.apply)
        self.alert_view = TopicView(settings.alerts_topic, self.alerts.apply)
        self.stats_view = TopicView(changelog_topic(settings, "model_stats"), self.stats.apply)
        self.silence_view = TopicView(settings.silences_topic, self.silences.apply)
        self.delivery_view = TopicView(
            changelog_topic(settings, "deliveries"), self.delivery_status.apply
        )
        self.all = (
            self.config_view,
            self.alert_view,
            self.stats_view,
            self.silence_view,
            self.delivery_view,
        )
        self.reader = TopicViews(
            ",".join(servers), self.all, fetch_max_wait_ms=settings.fetch_max_wait_ms
        )
