"""Whole-topic views: every worker reads every partition of a topic into memory.

Configurations (compacted topic) and incidents (the alerts topic) must be visible on every worker,
not only on the one that owns a partition. A group-less consumer that assigns itself all partitions
and reads from the beginning gives each worker the whole topic; a Faust GlobalTable did not
replicate between two workers on the embedded broker (DESIGN.md).
"""

from __future__ import annotations

import asyncio
import heapq
import logging
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError
from mode import Service

from app.worker.metadata import topic_partitions
from incidents.config import ModelConfig
from incidents.silences import Silence

log = logging.getLogger(__name__)


class TopicView:
    """One topic read whole from the beginning by a :class:`TopicViews` reader, each record handed
    to ``apply``.

    ``ready`` is set once everything that was in the topic when the reader started has been
    read; :meth:`wait_for` waits until a given offset has been read (read-your-writes).
    """

    def __init__(self, topic: str, apply: Callable[[ConsumerRecord[bytes, bytes]], None]) -> None:
        self.topic = topic
        self.apply = apply
        self.ready = asyncio.Event()
        self._positions: dict[int, int] = {}
        self._progress = asyncio.Condition()
        self._tps: list[TopicPartition] = []

    def _check_ready(self, consumer: AIOKafkaConsumer) -> None:
        """Ready once every partition is read up to the high watermark of a fetch response.

        (Not ListOffsets: the embedded broker answers it wrong after batched writes, see
        ``app.worker.offsets``.)
        """
        if self.ready.is_set():
            return
        for tp in self._tps:
            highwater = consumer.highwater(tp)
            if highwater is None or self._positions.get(tp.partition, 0) < highwater:
                return
        self.ready.set()
        log.info("view of %s loaded", self.topic)

    async def _read_up_to(self, consumer: AIOKafkaConsumer) -> None:
        """Note the consumer's positions on this topic and wake whoever waits for them."""
        for tp in self._tps:
            # The fetch position, past any control records or compaction gaps.
            self._positions[tp.partition] = await consumer.position(tp)
        self._check_ready(consumer)
        async with self._progress:
            self._progress.notify_all()

    async def wait_for(self, partition: int, offset: int, timeout: float) -> None:
        """Wait until the record at ``offset`` of ``partition`` has been applied."""

        async def _reached() -> None:
            async with self._progress:
                await self._progress.wait_for(lambda: self._positions.get(partition, 0) > offset)

        await asyncio.wait_for(_reached(), timeout)


class TopicViews(Service):
    """Reads every partition of each view's topic from the beginning with one group-less
    consumer, handing each record to its view.

    One consumer for all the views, not one each: an idle consumer sends a fetch every
    ``fetch_max_wait_ms`` (10 ms by default, for the embedded broker that holds an empty fetch
    that long), and a fetch request costs about the same however many topics it names, so
    five consumers cost a worker five times the idle fetches of one, on its busy event loop.
    """

    def __init__(
        self,
        bootstrap: str,
        views: Sequence[TopicView],
        *,
        fetch_max_wait_ms: int = 10,
        **kwargs: Any,
    ) -> None:
        self.bootstrap = bootstrap
        self.views = {view.topic: view for view in views}
        self.fetch_max_wait_ms = fetch_max_wait_ms
        self._consumer: AIOKafkaConsumer | None = None
        super().__init__(**kwargs)

    @property
    def label(self) -> str:
        return f"{type(self).__name__}: {', '.join(self.views)}"

    async def on_start(self) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=self.fetch_max_wait_ms,
            max_partition_fetch_bytes=16 * 1024 * 1024,
        )
        await consumer.start()
        self._consumer = consumer
        everything: list[TopicPartition] = []
        for topic, view in self.views.items():
            partitions: set[int] | None = None
            for _ in range(100):
                partitions = await topic_partitions(consumer, topic)
                if partitions:
                    break
                await asyncio.sleep(0.1)
            if not partitions:
                raise KafkaError(f"topic {topic!r} does not exist")
            view._tps = [TopicPartition(topic, p) for p in sorted(partitions)]
            view._positions = {tp.partition: 0 for tp in view._tps}
            everything += view._tps
        consumer.assign(everything)  # all at once: a later assign() would drop the positions
        await consumer.seek_to_beginning(*everything)

    async def on_stop(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None

    @Service.task
    async def _read(self) -> None:
        while not self.should_stop:
            consumer = self._consumer
            if consumer is None:
                await asyncio.sleep(0.05)
                continue
            try:
                batches = await consumer.getmany(timeout_ms=200)
            except KafkaError as exc:
                log.warning("reading %s failed, retrying: %s", ", ".join(self.views), exc)
                await asyncio.sleep(0.5)
                continue
            for tp, records in batches.items():
                apply = self.views[tp.topic].apply
                for record in records:
                    try:
                        apply(record)
                    except Exception:  # a bad record must not stop the view
                        log.exception("skipping unreadable record %s:%s", tp, record.offset)
            for view in self.views.values():
                await view._read_up_to(consumer)


def _json(value: bytes | None) -> Any:
    return None if value is None else orjson.loads(value)


class ConfigStore:
    """Model configurations by model id, as last written to the compacted config topic.

    Each is kept as stored (for the API) and parsed (for scoring).
    """

    def __init__(self) -> None:
        self._configs: dict[str, dict[str, Any]] = {}
        self._models: dict[str, ModelConfig] = {}
        self.on_change: list[Callable[[str, dict[str, Any] | None], None]] = []

    def apply(self, record: ConsumerRecord[bytes, bytes]) -> None:
        if record.key is None:
            return
        model_id = record.key.decode()
        value = _json(record.value)
        if value is None:
            self._configs.pop(model_id, None)
            self._models.pop(model_id, None)
        else:
            model = ModelConfig.from_dict(value)
            self._configs[model_id] = value
            self._models[model_id] = model
        for callback in self.on_change:
            callback(model_id, value)

    def get(self, model_id: str) -> dict[str, Any] | None:
        return self._configs.get(model_id)

    def model(self, model_id: str) -> ModelConfig | None:
        """The parsed configuration the scoring step runs with."""
        return self._models.get(model_id)

    def scored_as(self, model_id: str) -> ModelConfig | None:
        """The configuration a key is scored with: its model's, or for a series of a model that
        selects its points by feature (``cpu{cpu=cpu0}``, see ``app.telemetry.formats.route``) the
        model's under the series' id."""
        config = self._models.get(model_id)
        if config is None and "{" in model_id:
            model = self._models.get(model_id.split("{", 1)[0])
            if model is not None and model.features:
                return replace(model, model_id=model_id)
        return config

    def models_for_stream(self, stream: str) -> list[ModelConfig]:
        """The configurations that score ``stream`` ("metrics", "logs", "behavior")."""
        return [self._models[k] for k in sorted(self._models) if self._models[k].stream == stream]

    def all(self) -> list[dict[str, Any]]:
        return [self._configs[k] for k in sorted(self._configs)]


class AlertStore:
    """The latest document of each incident on the alerts topic, the ``limit`` newest by event time.

    Incidents are ordered by (event time, incident id), so every worker lists them in the same
    order whatever order it read the partitions in; past ``limit``, the oldest is forgotten.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._alerts: dict[str, dict[str, Any]] = {}
        self._by_age: list[tuple[float, str]] = []  # heap; entries of replaced docs go stale

    @staticmethod
    def _order(alert: Mapping[str, Any]) -> tuple[float, str]:
        return float(alert.get("ts", 0.0)), str(alert["incident_id"])

    def apply(self, record: ConsumerRecord[bytes, bytes]) -> None:
        alert = _json(record.value)
        if not isinstance(alert, dict) or "incident_id" not in alert:
            return
        key = alert["incident_id"]
        previous = self._alerts.get(key)
        self._alerts[key] = alert
        if previous is None or self._order(previous) != self._order(alert):
            heapq.heappush(self._by_age, self._order(alert))
        while len(self._alerts) > self.limit:
            ts, oldest = heapq.heappop(self._by_age)
            current = self._alerts.get(oldest)
            if current is not None and self._order(current) == (ts, oldest):
                del self._alerts[oldest]
        if len(self._by_age) > 2 * self.limit + 64:  # drop stale heap entries now and then
            self._by_age = [self._order(a) for a in self._alerts.values()]
            heapq.heapify(self._by_age)

    def get(self, incident_id: str) -> dict[str, Any] | None:
        """The latest document of an incident, if it is still kept."""
        return self._alerts.get(incident_id)

    def query(
        self,
        *,
        model_id: str | None = None,
        entity: str | None = None,
        since: float | None = None,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        """Incidents newest first (by event time), filtered."""
        selected = [
            a
            for a in self._alerts.values()
            if (model_id is None or a.get("model_id") == model_id)
            and (entity is None or a.get("entity") == entity)
            and (since is None or float(a.get("ts", 0.0)) >= since)
        ]
        selected.sort(key=self._order, reverse=True)
        return selected[:limit]

    def __len__(self) -> int:
        return len(self._alerts)


class SilenceStore:
    """Silences by id, as last written to the compacted silences topic."""

    def __init__(self) -> None:
        self._silences: dict[str, Silence] = {}

    def apply(self, record: ConsumerRecord[bytes, bytes]) -> None:
        if record.key is None:
            return
        silence_id = record.key.decode()
        value = _json(record.value)
        if value is None:
            self._silences.pop(silence_id, None)
        else:
            self._silences[silence_id] = Silence.from_dict(value)

    def get(self, silence_id: str) -> Silence | None:
        return self._silences.get(silence_id)

    def all(self) -> list[Silence]:
        return sorted(self._silences.values(), key=lambda s: (s.starts_at, s.id))


class DeliveryStore:
    """Delivery status per incident and channel, from the deliveries table's changelog.

    Ledger keys are ``<incident_id>|<event>|<seq>|<channel>`` (see ``incidents.notify.dispatcher``); Faust
    writes them as JSON strings. Keeps the ``limit`` incidents most recently written.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._by_incident: OrderedDict[str, dict[str, dict[str, Any]]] = OrderedDict()

    def apply(self, record: ConsumerRecord[bytes, bytes]) -> None:
        if record.key is None:
            return
        key = orjson.loads(record.key)
        incident, event, seq, channel = str(key).rsplit("|", 3)
        rows = self._by_incident.setdefault(incident, {})
        self._by_incident.move_to_end(incident)
        while len(self._by_incident) > self.limit:
            self._by_incident.popitem(last=False)
        value = _json(record.value)
        name = f"{channel}:{event}:{seq}"
        if value is None:
            rows.pop(name, None)
        else:
            rows[name] = {"channel": channel, "event": event, "seq": int(seq), **value}

    def for_incident(self, incident_id: str) -> dict[str, dict[str, Any]]:
        """Per channel, the status of each event sent (or not) to it, e.g.
        ``{"slack": {"open": "delivered", "resolve": "retrying"}}``, with details."""
        report: dict[str, dict[str, Any]] = {}
        for row in sorted(self._by_incident.get(incident_id, {}).values(), key=lambda r: r["seq"]):
            entry = report.setdefault(row["channel"], {})
            entry[row["event"]] = {
                k: v for k, v in row.items() if k not in ("channel", "event", "partition")
            }
        return report
