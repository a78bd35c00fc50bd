"""The worker's Prometheus metrics, served at ``GET /metrics``.

One :class:`EngineMetrics` per engine, on its own registry (so tests can build several). The
engine's code records with one call per place (:meth:`~EngineMetrics.consumed` when a telemetry
message arrives, :meth:`~EngineMetrics.scored` with a batch's counters, and so on). Labels are
bounded: topics, model ids (configured models only), suppression reasons, channels and delivery
outcomes, incident event kinds; never an entity.

Consumer lag is read when Prometheus scrapes, from the Faust consumer: for each assigned partition
of the topics the agents consume, the partition's high watermark (the offset the next record will
get, known from the last fetch) minus the group's committed offset, as ``kafka-consumer-groups``
shows it. Faust commits every ``broker_commit_interval`` (2.8 s), so a worker that keeps up shows
a lag of at most a few seconds of traffic. A partition without data (no high watermark yet, or
an empty one) is left out.

Examples
--------
>>> metrics = EngineMetrics(process=False)
>>> metrics.consumed("telemetry.metrics")
>>> metrics.scored("metrics-v1", {"points": 3, "anomalies": 1, "suppressed.warmup": 1})
>>> metrics.value("anomaly_points_scored_total", model_id="metrics-v1")
3.0
>>> metrics.value("anomaly_alerts_suppressed_total", model_id="metrics-v1", reason="warmup")
1.0
"""

from __future__ import annotations

import logging
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)

# Seconds to admit, decode and score one message: from a single point (~0.2 ms) to a batch of
# 100k points (seconds).
SCORING_BUCKETS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)

_UNSEEN = object()  # a counter name not looked up yet

# BatchOutcome.counters names -> the per-model counter they feed.
_MODEL_COUNTERS = {
    "points": "points_scored",
    "anomalies": "anomalies",
    "alerts": "alerts",
    "opened": "incidents_opened",
    "resolved": "incidents_resolved",
    "false_positives": "false_positives",
}


class EngineMetrics:
    """The counters, the scoring histogram and the consumer-lag collector of one worker.

    ``process``: also export the process's CPU, memory, file descriptors and GC figures.
    """

    def __init__(self, registry: CollectorRegistry | None = None, *, process: bool = True) -> None:
        disable_created_metrics()  # no `_created` twin of every counter in the exposition
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        # The per-message counts are held here and added to their series when the registry is
        # read (a scrape, :meth:`value`): a labelled counter's ``inc`` takes a lock and the
        # histogram's ``observe`` walks its buckets, ~4 µs a single-point message in all. The
        # collector that adds them is registered first, so it runs before the series it feeds.
        self._held_counts: dict[Any, int] = {}  # a counter's labelled series: its count
        self._held_timings: dict[str, _HeldTimings] = {}  # by topic
        r.register(_Release(self.release))
        self.messages = Counter(
            "anomaly_messages", "Telemetry messages consumed, by topic", ["topic"], registry=r
        )
        self.points = Counter(
            "anomaly_points",
            "Telemetry points (metrics points, log or behaviour events) decoded from consumed "
            "messages, by topic",
            ["topic"],
            registry=r,
        )
        self.points_scored = Counter(
            "anomaly_points_scored",
            "Points scored and learned, by model (streamed and REST, not dry runs)",
            ["model_id"],
            registry=r,
        )
        self.anomalies = Counter(
            "anomaly_anomalies", "Points the detector flagged, by model", ["model_id"], registry=r
        )
        self.alerts = Counter(
            "anomaly_alerts",
            "Flagged points that passed suppression, by model",
            ["model_id"],
            registry=r,
        )
        self.suppressed = Counter(
            "anomaly_alerts_suppressed",
            "Flagged points that did not alert, by model and reason (warmup, persistence, "
            "min_deviation, cooldown, late)",
            ["model_id", "reason"],
            registry=r,
        )
        self.incidents_opened = Counter(
            "anomaly_incidents_opened", "Incidents opened, by model", ["model_id"], registry=r
        )
        self.incidents_resolved = Counter(
            "anomaly_incidents_resolved", "Incidents resolved, by model", ["model_id"], registry=r
        )
        self.false_positives = Counter(
            "anomaly_false_positives",
            "Verdicts that alerts were false positives, by model: one per incident dismissed "
            "(POST /anomaly/alerts/{incident_id}/feedback, or a feedback message), one per point "
            'marked "feedback": "false_positive"',
            ["model_id"],
            registry=r,
        )
        self.events_published = Counter(
            "anomaly_incident_events_published",
            "Incident events written to the alerts topic (open, update, resolve), replays included",
            ["event"],
            registry=r,
        )
        self.deliveries = Counter(
            "anomaly_deliveries",
            "Delivery outcomes by channel: delivered, failed, silenced, retried (an attempt to be "
            "retried), duplicate (a replayed event the ledger had already finished)",
            ["channel", "outcome"],
            registry=r,
        )
        self.dlq = Counter(
            "anomaly_dlq_messages",
            "Messages sent to the dead-letter topic, by source topic",
            ["topic"],
            registry=r,
        )
        self.refused_series = Counter(
            "anomaly_series_refused",
            "Points not scored because their series is over its model's max_series_per_entity",
            ["model_id"],
            registry=r,
        )
        self.rewinds = Counter(
            "anomaly_partition_rewinds",
            "Telemetry partitions sought back because records arrived beyond the next offset to "
            "apply (records the consumer skipped, usually around a rebalance), by topic",
            ["topic"],
            registry=r,
        )
        self.silent = Counter(
            "anomaly_incidents_silent",
            "Incidents resolved by the timer because their entity sent nothing for the model's "
            "silent_after seconds (also counted in anomaly_incidents_resolved_total), by model",
            ["model_id"],
            registry=r,
        )
        self.absent = Counter(
            "anomaly_incidents_absent",
            "Incidents opened by the timer because an entity sent the model nothing for its "
            "expect_every seconds (also counted in anomaly_incidents_opened_total), by model",
            ["model_id"],
            registry=r,
        )
        self.state_expired = Counter(
            "anomaly_state_expired",
            "Model states of entities deleted after state_ttl seconds without a message, by model",
            ["model_id"],
            registry=r,
        )
        self.state_entities = Gauge(
            "anomaly_state_entities",
            "Entities whose state this worker holds, by model (partitions it owns; swept by the "
            "timer)",
            ["model_id"],
            registry=r,
        )
        self.state_resets = Counter(
            "anomaly_state_resets",
            "Model states reset because they could not be read (a row written by a newer "
            "engine), by model and reason",
            ["model_id", "reason"],
            registry=r,
        )
        self.newer_rows = Counter(
            "anomaly_state_rows_newer",
            "State rows read that a newer engine wrote (read by the fields this version knows), "
            "by their format version",
            ["version"],
            registry=r,
        )
        self.ledger_rows = Gauge(
            "anomaly_ledger_rows",
            "Rows of a per-incident ledger held for the partitions this worker owns, by ledger",
            ["ledger"],
            registry=r,
        )
        self.ledger_cap = Gauge(
            "anomaly_ledger_cap",
            "The most rows a per-incident ledger keeps per worker (the oldest go first), by ledger",
            ["ledger"],
            registry=r,
        )
        self.ledger_pruned = Counter(
            "anomaly_ledger_pruned",
            "Ledger rows deleted, by ledger and reason (age: older than its retention; cap: over "
            "its cap)",
            ["ledger", "reason"],
            registry=r,
        )
        self.scoring = Histogram(
            "anomaly_scoring_seconds",
            "Seconds to admit, decode and score one telemetry message, by topic",
            ["topic"],
            buckets=SCORING_BUCKETS,
            registry=r,
        )
        # The labelled series of the per-message calls, looked up once (``labels`` validates
        # and locks at every call: a few µs a message).
        self._scored: dict[str, dict[str, Any]] = {}  # by model id and counter name
        self._scoring: dict[str, Any] = {}
        if process:
            ProcessCollector(registry=r)
            PlatformCollector(registry=r)
            GCCollector(registry=r)

    # ------------------------------------------------------------------ call sites

    def consumed(self, topic: str, messages: int = 1) -> None:
        """Telemetry messages arrived (before admission: rejected messages count too)."""
        self.messages.labels(topic).inc(messages)

    def decoded(self, topic: str, points: int) -> None:
        """A message of ``topic`` held ``points`` points or events."""
        self.points.labels(topic).inc(points)

    def scored(self, model_id: str, counters: Mapping[str, float]) -> None:
        """A batch's :attr:`incidents.outcome.BatchOutcome.counters` for ``model_id`` (whole
        counts held until the registry is read, see ``__init__``)."""
        children = self._scored.get(model_id)
        if children is None:
            children = self._scored[model_id] = {}
        held = self._held_counts
        for name, value in counters.items():
            if not value:
                continue
            child = children.get(name, _UNSEEN)
            if child is _UNSEEN:
                child = children[name] = self._scored_child(model_id, name)
            if child is None:
                continue
            if type(value) is int and value > 0:  # the same sum in any order
                held[child] = held.get(child, 0) + value
            else:
                child.inc(value)

    def _scored_child(self, model_id: str, name: str) -> Any:
        """The labelled counter that the counter ``name`` of ``model_id`` feeds (None: none)."""
        if name.startswith("suppressed."):
            return self.suppressed.labels(model_id, name.split(".", 1)[1])
        if name in _MODEL_COUNTERS:
            return getattr(self, _MODEL_COUNTERS[name]).labels(model_id)
        return None

    def observe_scoring(self, topic: str, seconds: float) -> None:
        """One message's scoring time (held until the registry is read, see ``__init__``)."""
        held = self._held_timings.get(topic)
        if held is None:
            child = self._scoring.get(topic)
            if child is None:
                child = self._scoring[topic] = self.scoring.labels(topic)
            if not _HeldTimings.fits(child):  # a prometheus_client without those fields
                child.observe(seconds)
                return
            held = self._held_timings[topic] = _HeldTimings(child)
        held.observe(seconds)

    def release(self) -> None:
        """Add the held counts to their series (the registry's first collector calls it)."""
        counts, self._held_counts = self._held_counts, {}
        for child, count in counts.items():
            child.inc(count)
        for held in self._held_timings.values():
            held.release()

    def published(self, events: Iterable[Mapping[str, Any]]) -> None:
        for event in events:
            self.events_published.labels(str(event.get("event", "open"))).inc()

    def delivery(self, channel: str, outcome: str) -> None:
        self.deliveries.labels(channel, outcome).inc()

    def dead_lettered(self, topic: str) -> None:
        self.dlq.labels(topic).inc()

    def series_refused(self, model_id: str, points: int) -> None:
        """Points of a series over its model's ``max_series_per_entity`` were not scored."""
        self.refused_series.labels(model_id).inc(points)

    def rewound(self, topic: str) -> None:
        self.rewinds.labels(topic).inc()

    def resolved_silent(self, model_id: str) -> None:
        self.silent.labels(model_id).inc()
        self.incidents_resolved.labels(model_id).inc()

    def opened_absent(self, model_id: str) -> None:
        self.absent.labels(model_id).inc()
        self.incidents_opened.labels(model_id).inc()

    def expired(self, model_id: str, count: int = 1) -> None:
        self.state_expired.labels(model_id).inc(count)

    def entities(self, counts: Mapping[str, int]) -> None:
        """Set ``anomaly_state_entities`` to ``counts`` (by model id); models not in it go.

        >>> metrics = EngineMetrics(process=False)
        >>> metrics.entities({"a": 3, "b": 1})
        >>> metrics.entities({"a": 2})
        >>> metrics.value("anomaly_state_entities", model_id="a"), metrics.value(
        ...     "anomaly_state_entities", model_id="b")
        (2.0, None)
        """
        for (model_id,) in list(self.state_entities._metrics):
            if model_id not in counts:
                self.state_entities.remove(model_id)
        for model_id, count in counts.items():
            self.state_entities.labels(model_id).set(count)

    def state_reset(self, model_id: str, reason: str) -> None:
        self.state_resets.labels(model_id, reason).inc()

    def newer_row(self, version: int) -> None:
        self.newer_rows.labels(str(version)).inc()

    def ledger(self, name: str, rows: int, cap: int, pruned: Mapping[str, int]) -> None:
        """A ledger's size and cap after a sweep, and the rows it pruned, by reason."""
        self.ledger_rows.labels(name).set(rows)
        self.ledger_cap.labels(name).set(cap)
        for reason, count in pruned.items():
            if count:
                self.ledger_pruned.labels(name, reason).inc(count)

    def watch_consumer(self, consumer: Callable[[], Any], topics: Iterable[str]) -> None:
        """Export ``anomaly_consumer_lag`` for ``topics``' partitions assigned to ``consumer()``."""
        self.registry.register(ConsumerLagCollector(consumer, topics))

    # ------------------------------------------------------------------ reading

    def value(self, name: str, **labels: str) -> float | None:
        """A sample's current value (for tests and the doctest above)."""
        return self.registry.get_sample_value(name, labels)


class _HeldTimings:
    """A histogram series' observations since the registry was last read: their sum and their
    count per bucket, added to the series by :meth:`release` as ``observe`` on each would have.

    >>> from prometheus_client import CollectorRegistry, Histogram
    >>> h = Histogram("t", "t", ["topic"], buckets=(0.1, 1.0), registry=CollectorRegistry())
    >>> held = _HeldTimings(h.labels("a"))
    >>> for seconds in (0.05, 0.1, 0.5, 3.0):
    ...     held.observe(seconds)
    >>> held.release()
    >>> [s.value for s in h.collect()[0].samples if s.name == "t_bucket"], held.counts
    ([2.0, 3.0, 4.0], [0, 0, 0])
    """

    __slots__ = ("bounds", "child", "counts", "total")

    @staticmethod
    def fits(child: Any) -> bool:
        """Whether ``child`` has the fields a release adds to (prometheus_client's own, not part
        of its API: a version without them gets ``observe`` at every message instead)."""
        return all(hasattr(child, name) for name in ("_upper_bounds", "_buckets", "_sum"))

    def __init__(self, child: Any) -> None:
        self.child = child
        self.bounds: list[float] = list(child._upper_bounds)  # the last is +Inf
        self.counts = [0] * len(self.bounds)
        self.total = 0.0

    def observe(self, seconds: float) -> None:
        if seconds != seconds:  # NaN: in no bucket
            self.child.observe(seconds)
            return
        self.total += seconds
        self.counts[bisect_left(self.bounds, seconds)] += 1  # the first bound >= seconds

    def release(self) -> None:
        counts = self.counts
        if not any(counts):
            return
        self.child._sum.inc(self.total)
        for bucket, count in zip(self.child._buckets, counts, strict=True):
            if count:
                bucket.inc(count)
        self.counts, self.total = [0] * len(counts), 0.0


class _Release(Collector):
    """A collector of nothing that adds the held counts before the registry's other collectors
    run (see :class:`EngineMetrics`)."""

    def __init__(self, release: Callable[[], None]) -> None:
        self._release = release

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        self._release()
        return iter(())


def consumer_lag(consumer: Any, topics: Iterable[str]) -> Iterator[tuple[str, int, int]]:
    """``(topic, partition, lag)`` for each partition of ``topics`` assigned to a Faust consumer.

    The lag is the high watermark minus the committed offset (else the next offset to read, else
    0: nothing read yet). Partitions with no high watermark yet, or an empty one, are skipped.

    Examples
    --------
    >>> from faust.types import TP
    >>> class Consumer:
    ...     _committed_offset = {TP("t", 0): 40}
    ...     _read_offset = {TP("t", 1): 9}
    ...     def assignment(self):
    ...         return {TP("t", 0), TP("t", 1), TP("t", 2), TP("other", 0)}
    ...     def highwater(self, tp):
    ...         return {TP("t", 0): 42, TP("t", 1): 10, TP("other", 0): 5}.get(tp)
    >>> sorted(consumer_lag(Consumer(), ["t"]))
    [('t', 0, 2), ('t', 1, 0)]
    """
    wanted = set(topics)
    committed: Mapping[Any, int | None] = getattr(consumer, "_committed_offset", {})
    read: Mapping[Any, int | None] = getattr(consumer, "_read_offset", {})
    for tp in sorted(consumer.assignment()):
        if tp.topic not in wanted:
            continue
        highwater = consumer.highwater(tp)
        if not highwater or highwater <= 0:
            continue
        done = committed.get(tp)
        if done is None:
            last_read = read.get(tp)
            done = last_read + 1 if last_read is not None else 0
        yield tp.topic, tp.partition, max(int(highwater) - int(done), 0)


class ConsumerLagCollector(Collector):
    """Reads the lag at scrape time; reports nothing while the consumer is not started."""

    def __init__(self, consumer: Callable[[], Any], topics: Iterable[str]) -> None:
        self.consumer = consumer
        self.topics = tuple(topics)

    def describe(self) -> list[Metric]:
        return [self._family()]

    def collect(self) -> Iterator[Metric]:
        family = self._family()
        try:
            for topic, partition, lag in consumer_lag(self.consumer(), self.topics):
                family.add_metric([topic, str(partition)], lag)
        except Exception as exc:  # not started or rebalancing: a scrape must not fail on it
            log.debug("consumer lag not available: %s", exc)
        yield family

    @staticmethod
    def _family() -> GaugeMetricFamily:
        return GaugeMetricFamily(
            "anomaly_consumer_lag",
            "Records of an assigned partition not yet committed by this worker's consumer group "
            "(high watermark minus committed offset)",
            labels=["topic", "partition"],
        )
