"""The worker: the Faust app, its topics, the state table, the agents, and the API's engine.

One :class:`Engine` per process. It implements :class:`api.engine.Engine` over the same Faust
tables the agents write, so REST scoring and streamed telemetry share per-key state.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiokafka.partitioner import murmur2
from faust.contrib.asgi import serve_asgi
from faust.types import EventT, StreamT

from api import create_api
from api.engine import (
    ScoreCommand,
)
from app.worker.admin_writes import AdminWrites
from app.worker.declared import declare
from app.worker.delivery_agents import add_delivery_agents, build_dispatcher
from app.worker.emit import Emitter
from app.worker.engine_protocol import Steps
from app.worker.entity_record import EntityRecord
from app.worker.metrics import EngineMetrics
from app.worker.owner_answers import OwnerAnswers
from app.worker.owner_asks import OwnerAsks, score_request
from app.worker.pending_writes import PendingWrites
from app.worker.pending_writes import send as send_record
from app.worker.progress import PartitionPositions
from app.worker.queries import Queries
from app.worker.recent import RecentStore
from app.worker.row_step import apply_to_row
from app.worker.settings import Settings
from app.worker.streams import TelemetryHandler
from app.worker.sweeper import SWEEP_INTERVAL_S, Sweeper
from app.worker.transport import engine_app
from app.worker.worker_views import WorkerViews
from app.worker.write_back import WriteBack
from incidents.config import ModelConfig
from incidents.feedback import Dismissal, dismissal
from incidents.live import LiveCache
from incidents.notify.channels import ChannelSettings
from incidents.outcome import BatchOutcome
from incidents.redact import Redactor

log = logging.getLogger(__name__)


def partition_for(entity: str, partitions: int) -> int:
    """Kafka's default partition of a key (murmur2, as Java clients, aiokafka and Faust use).

    Examples
    --------
    >>> partition_for("host-1", 4), partition_for("host-2", 4)
    (1, 3)
    """
    return (murmur2(entity.encode()) & 0x7FFFFFFF) % partitions


class Engine:
    """Builds the Faust app and serves the REST API from inside it."""

    # The worker's clock: when a message was received (``silent_after``, ``state_ttl``).
    clock: Callable[[], float] = staticmethod(time.time)

    def __init__(self, settings: Settings, *, embedded_broker_kind: str | None = None) -> None:
        if not settings.kafka_bootstrap_servers:
            raise ValueError("Engine needs a bootstrap address (KAFKA_BOOTSTRAP_SERVERS)")
        self.settings = settings
        self.embedded_broker = embedded_broker_kind is not None
        self.embedded_broker_kind = embedded_broker_kind  # "kafka" or "tansu" (kafka/embedded.py)
        self.partitions = settings.partitions
        self._partition_cache = functools.lru_cache(maxsize=1 << 16)(
            functools.partial(partition_for, partitions=settings.partitions)
        )
        datadir = Path(settings.data_dir or f".anomaly-data/{settings.app_id}-{settings.api_port}")
        datadir.mkdir(parents=True, exist_ok=True)
        servers = [s.strip() for s in settings.kafka_bootstrap_servers.split(",") if s.strip()]
        self.app = engine_app(
            settings,
            datadir,
            store=settings.store,
            reply_create_topic=True,
            web_bind=settings.api_host,
            web_port=settings.api_port,
            canonical_url=f"http://{settings.api_host}:{settings.api_port}",
        )
        # The topics and tables (app/worker/declared.py), under the names callers use.
        t = self.declared = declare(self.app, settings)
        self.metrics_topic, self.logs_topic, self.behavior_topic = t.metrics, t.logs, t.behavior
        self.telemetry_topics = t.telemetry
        self.alerts_topic, self.dlq_topic, self.config_topic = t.alerts, t.dlq, t.config
        self.silences_topic, self.audit_topic = t.silences, t.audit
        self.score_requests_topic = t.score_requests
        self.entity_state, self.model_stats = t.entity_state, t.model_stats
        self.deliveries = t.deliveries
        self.recent = RecentStore()  # recent points of the keys this worker scores, for charts
        self.live = LiveCache()  # parsed states of the keys this worker scored (identity-checked)
        self.positions = PartitionPositions()  # telemetry partitions sought back to a gap
        views = WorkerViews(settings, servers)
        self.configs, self.alerts, self.stats = views.configs, views.alerts, views.stats
        self.silences, self.delivery_status = views.silences, views.delivery_status
        self.config_view, self.silence_view = views.config_view, views.silence_view
        self.views, self.view_reader = views.all, views.reader
        self.app.add_dependency(self.view_reader)
        self.queries = Queries(
            settings,
            self.app,
            alerts=self.alerts,
            silences=self.silences,
            delivery_status=self.delivery_status,
            stats=self.stats,
            config_view=self.config_view,
            views=self.views,
            embedded_broker_kind=embedded_broker_kind,
        )
        self.admin = AdminWrites(
            settings,
            configs=self.configs,
            config_topic=self.config_topic,
            config_view=self.config_view,
            silences=self.silences,
            silences_topic=self.silences_topic,
            silence_view=self.silence_view,
            audit_topic=self.audit_topic,
        )
        channel_settings = ChannelSettings.from_mapping(settings.channel_settings())
        self.redactor = Redactor([*channel_settings.secrets(), *settings.api_keys()])
        self.metrics = EngineMetrics()  # GET /metrics
        self.metrics_registry = self.metrics.registry
        self.emit = Emitter(settings, self.alerts_topic, self.dlq_topic, self.metrics)
        self.dispatcher = build_dispatcher(
            settings, self.app, self.silences, self.redactor, self.metrics
        )
        add_delivery_agents(
            self.app,
            settings,
            self.alerts_topic,
            self.dispatcher,
            self.deliveries,
            self.silence_view,
        )
        # Silent incidents, idle state, the ledger (app/worker/sweeper.py).
        self.sweeper = Sweeper(self, self.clock)
        self.app.timer(SWEEP_INTERVAL_S, name="sweep_state")(self._sweep)
        # The agents' rows and counters, written to their changelogs once per interval.
        self.write_back = WriteBack(
            settings.state_flush_interval_s, hand_over=self.hand_over, send=send_record
        )
        self.app.timer(max(0.05, min(settings.state_flush_interval_s, 0.25)), name="flush_state")(
            self._flush_due
        )
        self.app.on_partitions_revoked.connect(self._flush_before_revoke)
        self.app.on_before_shutdown.connect(self._flush_before_stop)
        self.telemetry = TelemetryHandler(self)
        for topic, agent in (
            (self.metrics_topic, self.score_metrics),
            (self.logs_topic, self.score_logs),
            (self.behavior_topic, self.score_behavior),
        ):
            self.app.agent(topic, name=agent.__name__)(agent)
        self.answers = OwnerAnswers(self, self.config_view)
        self.score_requests = self.app.agent(self.score_requests_topic, name="score_requests")(
            self.answers.serve
        )
        self.asks = OwnerAsks(
            settings,
            self.app,
            configs=self.configs,
            alerts=self.alerts,
            score_requests=self.score_requests,
            answers=self.answers,
            admin=self.admin,
            partition_of=self.partition_of,
        )
        lag_topics = (
            *settings.telemetry_topics,
            settings.alerts_topic,
            settings.score_requests_topic,
        )
        self.metrics.watch_consumer(lambda: self.app.consumer, lag_topics)
        self.api = create_api(self)
        serve_asgi(self.app, self.api, host=settings.api_host, port=settings.api_port)

    # ---------------------------------------------------------------- configuration

    def model_config(self, model_id: str) -> ModelConfig | None:
        return self.configs.model(model_id)

    async def apply_configs(
        self, configs: list[dict[str, Any]], actor: str | None = None
    ) -> list[dict[str, Any]]:
        return await self.admin.apply_configs(configs, actor)

    def list_configs(self) -> list[dict[str, Any]]:
        return self.configs.all()

    def get_config(self, model_id: str) -> dict[str, Any] | None:
        return self.configs.get(model_id)

    # ---------------------------------------------------------------- scoring

    def partition_of(self, entity: str) -> int:
        """The entity's partition (murmur2 in Python costs 10-50 µs: the recent ones are kept)."""
        return self._partition_cache(entity)

    def apply_message(
        self,
        entity: str,
        partition: int,
        source: tuple[str, int, int] | None,
        steps: Steps | Callable[[EntityRecord], Steps],
        pending: PendingWrites,
    ) -> tuple[list[BatchOutcome], list[dict[str, Any]]]:
        """Apply a message's steps to the entity's row: :func:`app.worker.row_step.apply_to_row`
        with this engine's metrics, recent points and clock."""
        return apply_to_row(
            entity,
            partition,
            source,
            steps,
            pending,
            metrics=self.metrics,
            recent=self.recent,
            clock=self.clock,
        )

    async def publish_events(self, events: list[dict[str, Any]]) -> list[Any]:
        """Send ``events`` to the alerts topic (:meth:`app.worker.emit.Emitter.publish`)."""
        return await self.emit.publish(events)

    async def dead_letter(self, event: EventT, reason: str) -> None:
        await self.emit.dead_letter(event, reason)

    def pending_writes(self, *, later: bool = False) -> PendingWrites:
        """A batch of writes to ``entity_state`` and ``model_stats``: on their changelogs at the
        next flush (``later``, the telemetry agents) or when the batch is flushed."""
        cache = self.write_back
        return PendingWrites(
            self.entity_state, self.model_stats, write=cache.put_later if later else cache.put_now
        )

    async def hand_over(self) -> None:
        """Move the changelog records from Faust's producer buffer to the Kafka client now, so
        that they travel while the agents go on: Faust drains its buffer in a task that runs
        only while an agent awaits, and scoring a batch awaits nothing. Without this a batch
        found its predecessor's rows not even sent (20-45 ms of waiting per batch here)."""
        buffer = self.app.producer.buffer
        if buffer.state == "running":  # not while the worker stops (it flushes on its own)
            await buffer.flush()
        await asyncio.sleep(0)  # one turn of the loop: the client's sender writes the requests

    async def _flush_due(self) -> None:
        if self.write_back.due():
            await self.write_back.flush()

    async def _flush_before_revoke(self, *args: Any, **kwargs: Any) -> None:
        """Before partitions go to another worker, it must find their rows on the broker."""
        await self.write_back.flush()
        await self.write_back.delivered()

    async def _flush_before_stop(self, *args: Any, **kwargs: Any) -> None:
        """On a stop (the agents are done): the rows go out with Faust's last producer flush."""
        await self.write_back.flush()

    async def _sweep(self) -> None:
        try:
            await self.sweeper.sweep()
        except Exception:  # a bug must cost one round, not the timer
            log.exception("sweeping the state failed")

    async def _wait_for_configs(self) -> None:
        await self.config_view.ready.wait()

    # The telemetry agents, one per stream: each scores its topic's messages in batches.

    async def score_metrics(self, events: StreamT[bytes]) -> None:
        await self._score_stream(events, "metrics")

    async def score_logs(self, events: StreamT[bytes]) -> None:
        await self._score_stream(events, "logs")

    async def score_behavior(self, events: StreamT[bytes]) -> None:
        await self._score_stream(events, "behavior")

    async def _score_stream(self, events: StreamT[bytes], stream: str) -> None:
        await self._wait_for_configs()
        settings = self.settings
        async for batch in events.take_events(
            settings.stream_batch_max, within=settings.stream_batch_wait_s
        ):
            await self.telemetry.handle_batch(batch, stream)

    async def score(self, command: ScoreCommand) -> dict[str, Any]:
        return await self.asks.score(command)

    _score_request = staticmethod(score_request)  # the request the owning worker scores

    def owns_recovered(self, entity: str) -> bool:
        return self.asks.owns_recovered(entity)

    # ---------------------------------------------------------------- feedback

    def dismissal_of(
        self, entity: str, incident_id: str, verdict: str
    ) -> tuple[Callable[[EntityRecord], Steps], list[Dismissal]]:
        """The steps of ``verdict`` on the open incident ``incident_id`` of ``entity``, as a
        function of the entity's row for :meth:`apply_message` (which raises FeedbackRefused
        when that incident is not open there), and the list it appends what it planned to."""
        planned: list[Dismissal] = []

        def steps(record: EntityRecord) -> Steps:
            plan = dismissal(
                entity, record.shared, incident_id, verdict, self.model_config, record.model_state
            )
            planned.append(plan)
            return plan.steps

        return steps, planned

    async def feedback(
        self, incident_id: str, verdict: str, actor: str | None = None
    ) -> dict[str, Any]:
        return await self.asks.feedback(incident_id, verdict, actor)

    async def series(self, model_id: str, entity: str, limit: int, horizon: int) -> dict[str, Any]:
        return await self.asks.series(model_id, entity, limit, horizon)

    # ---------------------------------------------------------------- silences

    async def create_silence(
        self, silence: dict[str, Any], actor: str | None = None
    ) -> dict[str, Any]:
        return await self.admin.create_silence(silence, actor)

    def list_silences(self) -> list[dict[str, Any]]:
        return self.admin.list_silences()

    async def delete_silence(self, silence_id: str, actor: str | None = None) -> bool:
        return await self.admin.delete_silence(silence_id, actor)

    # ---------------------------------------------------------------- alerts and health

    def query_alerts(
        self, *, model_id: str | None, entity: str | None, since: float | None, limit: int
    ) -> list[dict[str, Any]]:
        return self.queries.query_alerts(model_id=model_id, entity=entity, since=since, limit=limit)

    def model_stats_report(self) -> dict[str, dict[str, Any]]:
        return self.queries.model_stats_report()

    @property
    def max_points_per_request(self) -> int:
        return self.settings.max_points_per_request

    def health(self) -> dict[str, Any]:
        return self.queries.health()
