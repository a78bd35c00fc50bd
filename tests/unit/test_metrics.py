"""The worker's Prometheus metrics: the counters, the lag collector, delivery outcomes, GET /metrics."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from typing import Any

import pytest
from fastapi.testclient import TestClient
from faust.types import TP
from prometheus_client.parser import text_string_to_metric_families

from api import create_api
from api.options import ApiOptions
from api.security import KeyRing
from app.worker.metrics import SCORING_BUCKETS, EngineMetrics, consumer_lag
from incidents.notify.channels.base import DeliveryResult
from incidents.notify.dispatcher import Dispatcher
from incidents.notify.retry import RetryPolicy
from tests.unit.test_api import FakeEngine


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of an exposition, by name and labels (parsed as Prometheus would)."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def test_a_batch_counters_feed_the_model_counters_by_reason() -> None:
    metrics = EngineMetrics(process=False)
    counters = Counter(
        {
            "points": 10,
            "version.1.0": 10,
            "anomalies": 3,
            "alerts": 1,
            "suppressed.persistence": 1,
            "suppressed.warmup": 1,
            "opened": 1,
            "quality.tp": 1,
        }
    )
    metrics.scored("metrics-v1", counters)
    metrics.scored("metrics-v1", {"points": 5, "resolved": 1})
    value = metrics.value
    assert value("anomaly_points_scored_total", model_id="metrics-v1") == 15
    assert value("anomaly_anomalies_total", model_id="metrics-v1") == 3
    assert value("anomaly_alerts_total", model_id="metrics-v1") == 1
    assert value("anomaly_incidents_opened_total", model_id="metrics-v1") == 1
    assert value("anomaly_incidents_resolved_total", model_id="metrics-v1") == 1
    for reason in ("persistence", "warmup"):
        assert value("anomaly_alerts_suppressed_total", model_id="metrics-v1", reason=reason) == 1
    assert (
        value("anomaly_alerts_suppressed_total", model_id="metrics-v1", reason="cooldown") is None
    )


def test_labels_stay_bounded_no_entity_no_version() -> None:
    metrics = EngineMetrics(process=False)
    for i in range(50):  # many entities and versions: the series do not grow with them
        metrics.scored("m", {"points": 1, f"version.{i}": 1, "suppressed.late": 1})
        metrics.consumed("telemetry.metrics")
        metrics.decoded("telemetry.metrics", 3)
        metrics.observe_scoring("telemetry.metrics", 0.001)
        metrics.published([{"event": "open", "entity": f"host-{i}"}])
    from prometheus_client import generate_latest

    exposed = samples(generate_latest(metrics.registry).decode())
    labels = {name for _, pairs in exposed for name, _ in pairs}
    assert labels <= {"topic", "model_id", "reason", "event", "le"}
    assert len(exposed) < 40
    assert exposed[("anomaly_points_total", frozenset({("topic", "telemetry.metrics")}))] == 150


class FakeConsumer:
    def __init__(
        self,
        highwaters: dict[TP, int | None],
        committed: dict[TP, int | None],
        read: dict[TP, int | None],
    ) -> None:
        self.highwaters = highwaters
        self._committed_offset = committed
        self._read_offset = read

    def assignment(self) -> set[TP]:
        return set(self.highwaters)

    def highwater(self, tp: TP) -> int | None:
        return self.highwaters[tp]


def test_lag_is_the_highwater_minus_the_committed_offset_and_skips_empty_partitions() -> None:
    t = "telemetry.metrics"
    consumer = FakeConsumer(
        highwaters={TP(t, 0): 100, TP(t, 1): 7, TP(t, 2): None, TP(t, 3): 0, TP("other", 0): 9},
        committed={TP(t, 0): 90},
        read={TP(t, 1): 4},  # nothing committed yet: the next offset to read
    )
    assert sorted(consumer_lag(consumer, [t])) == [(t, 0, 10), (t, 1, 2)]


def test_the_lag_collector_exports_per_partition_and_survives_a_consumer_not_started() -> None:
    from prometheus_client import generate_latest

    t = "telemetry.metrics"
    metrics = EngineMetrics(process=False)
    consumer: dict[str, Any] = {"value": None}

    def current() -> Any:
        if consumer["value"] is None:
            raise RuntimeError("consumer not started")
        return consumer["value"]

    metrics.watch_consumer(current, [t])
    assert "anomaly_consumer_lag{" not in generate_latest(metrics.registry).decode()
    consumer["value"] = FakeConsumer({TP(t, 2): 12}, {TP(t, 2): 5}, {})
    exposed = samples(generate_latest(metrics.registry).decode())
    assert exposed[("anomaly_consumer_lag", frozenset({("topic", t), ("partition", "2")}))] == 7


class ScriptedChannel:
    """A channel answering from a script of results."""

    name = "webhook"
    min_interval = 0.0

    def __init__(self, results: list[DeliveryResult]) -> None:
        self.results = results

    def target_id(self) -> str:
        return "test"

    def wants(self, event: Any) -> bool:
        return True

    async def send(self, event: Any, client: Any) -> DeliveryResult:
        return self.results.pop(0)


def ok() -> DeliveryResult:
    return DeliveryResult(ok=True, retryable=False, status=200, retry_after=None, detail="")


def refused(status: int, retryable: bool) -> DeliveryResult:
    return DeliveryResult(
        ok=False, retryable=retryable, status=status, retry_after=None, detail=f"HTTP {status}"
    )


async def no_sleep(_: float) -> None:
    return None


def test_deliveries_are_counted_by_channel_and_outcome() -> None:
    metrics = EngineMetrics(process=False)
    channel = ScriptedChannel([refused(503, True), ok(), refused(400, False)])
    dispatcher = Dispatcher(
        {"webhook": channel},
        list,
        RetryPolicy(max_attempts=5),
        timeout=1,
        sleep=no_sleep,
        rng=random.Random(0),
        metrics=metrics,
    )
    ledger: dict[str, Any] = {}
    event = {"incident_id": "inc-1", "event": "open", "seq": 0, "alert_channels": ["webhook"]}
    other = {**event, "incident_id": "inc-2"}

    async def deliver() -> list[str | None]:
        return [
            await dispatcher.handle("webhook", event, ledger),  # 503, then delivered
            await dispatcher.handle("webhook", event, ledger),  # a replay: not sent again
            await dispatcher.handle("webhook", other, ledger),  # 400: final
        ]

    assert asyncio.run(deliver()) == ["delivered", "delivered", "failed"]
    outcomes = {
        outcome: metrics.value("anomaly_deliveries_total", channel="webhook", outcome=outcome)
        for outcome in ("retried", "delivered", "duplicate", "failed", "silenced")
    }
    assert outcomes == {
        "retried": 1,
        "delivered": 1,
        "duplicate": 1,
        "failed": 1,
        "silenced": None,
    }


class MeteredEngine(FakeEngine):
    def __init__(self) -> None:
        super().__init__()
        self.metrics = EngineMetrics(process=False)
        self.metrics_registry = self.metrics.registry


@pytest.fixture
def metered() -> MeteredEngine:
    return MeteredEngine()


def test_get_metrics_serves_the_engine_counters_without_a_key(metered: MeteredEngine) -> None:
    metered.metrics.consumed("telemetry.metrics")
    metered.metrics.dead_lettered("telemetry.metrics")
    metered.metrics.rewound("telemetry.metrics")
    options = ApiOptions(keys=KeyRing(admin_keys=["a" * 32], read_keys=["r" * 32]))
    with TestClient(create_api(metered, options)) as client:
        assert client.get("/anomaly/config").status_code == 401  # keys are required...
        response = client.get("/metrics")  # ... but not to scrape, like /health
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    exposed = samples(response.text)
    topic = frozenset({("topic", "telemetry.metrics")})
    assert exposed[("anomaly_messages_total", topic)] == 1
    assert exposed[("anomaly_dlq_messages_total", topic)] == 1
    assert exposed[("anomaly_partition_rewinds_total", topic)] == 1


def test_get_metrics_speaks_openmetrics_when_asked(metered: MeteredEngine) -> None:
    with TestClient(create_api(metered)) as client:
        response = client.get("/metrics", headers={"Accept": "application/openmetrics-text"})
    assert response.headers["content-type"].startswith("application/openmetrics-text")
    assert response.text.rstrip().endswith("# EOF")


def test_held_counts_and_timings_show_in_every_scrape() -> None:
    """The per-message counts are held between scrapes: each scrape shows all of them, the
    histogram as ``observe`` on each would have it."""
    from prometheus_client import CollectorRegistry, Histogram, generate_latest

    metrics = EngineMetrics(process=False)
    reference = Histogram(
        "ref",
        "ref",
        ["topic"],
        buckets=SCORING_BUCKETS,
        registry=CollectorRegistry(),
    )
    topic = "telemetry.metrics"
    for round_ in range(3):
        for k in range(7):
            seconds = 0.0003 * (k + 1) ** 3 * (round_ + 1)
            metrics.observe_scoring(topic, seconds)
            reference.labels(topic).observe(seconds)
            metrics.scored("m", Counter({"points": 1, "anomalies": k % 2, "alerts": 0}))
        exposed = samples(generate_latest(metrics.registry).decode())
        assert exposed[("anomaly_points_scored_total", frozenset({("model_id", "m")}))] == 7 * (
            round_ + 1
        )
        assert exposed[("anomaly_anomalies_total", frozenset({("model_id", "m")}))] == 3 * (
            round_ + 1
        )
        expected = {
            s.labels["le"]: s.value
            for s in reference.collect()[0].samples
            if s.name == "ref_bucket"
        }
        got = {
            dict(labels)["le"]: value
            for (name, labels), value in exposed.items()
            if name == "anomaly_scoring_seconds_bucket"
        }
        assert got == expected
        assert exposed[("anomaly_scoring_seconds_count", frozenset({("topic", topic)}))] == 7 * (
            round_ + 1
        )


def test_timings_are_observed_one_by_one_on_a_prometheus_client_without_the_held_fields(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from prometheus_client import generate_latest

    from app.worker import metrics as metrics_module

    monkeypatch.setattr(metrics_module._HeldTimings, "fits", staticmethod(lambda child: False))
    metrics = EngineMetrics(process=False)
    for seconds in (0.001, 0.02, 0.5):
        metrics.observe_scoring("telemetry.metrics", seconds)
    assert not metrics._held_timings
    exposed = samples(generate_latest(metrics.registry).decode())
    count = ("anomaly_scoring_seconds_count", frozenset({("topic", "telemetry.metrics")}))
    assert exposed[count] == 3
