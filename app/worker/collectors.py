"""Messages of the formats collectors write (OTLP, Prometheus, Influx, JSON log lines, and the
engine's own form without ``model_id``): decoded by :mod:`app.telemetry.formats`, each entity's
points scored on its partition, the others moved to their entity's partition.

One message may hold many entities (an OTLP batch, a Telegraf flush): each entity's share goes
to the entity's partition in the engine's own form, so that its state stays on one worker. The
parts that cannot be decoded go to the dead-letter topic with their reasons, once per message,
and the rest of the message is scored.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from faust.types import EventT

from app.telemetry.formats import Decoded, sniff
from app.telemetry.formats.route import Share, plan, rows
from app.worker.pending_writes import PendingWrites
from detectors import DetectorError
from incidents.config import ModelConfig
from incidents.feedback import score_with_feedback
from incidents.logs import LogEvent, score_log_events
from incidents.outcome import BatchOutcome
from incidents.points import TelemetryError

if TYPE_CHECKING:
    from app.worker.engine_protocol import EngineProtocol, State, Steps
    from app.worker.entity_record import EntityRecord

MAX_REASONS = 5  # reasons quoted in one dead-letter record; the rest are counted
MAX_REMEMBERED = 10_000  # series configurations and refused series kept in memory


def format_hint(event: EventT, setting: str) -> str | None:
    """The message's ``telemetry-format`` header, else the topic's setting."""
    headers = event.message.headers
    if not headers:  # the common case
        return setting
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    for key, value in pairs:
        if key == sniff.FORMAT_HEADER:
            return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    return setting


def reason_of(errors: list[str]) -> str:
    """One dead-letter reason for a message's refused parts.

    >>> reason_of(["a", "b"]), reason_of([str(i) for i in range(7)])
    ('a; b', '0; 1; 2; 3; 4 (and 2 more)')
    """
    shown = "; ".join(errors[:MAX_REASONS])
    more = len(errors) - MAX_REASONS
    return f"{shown} (and {more} more)" if more > 0 else shown


class CollectorMessages:
    """Scores the collector-format messages of the metrics and logs topics for one engine."""

    def __init__(self, engine: EngineProtocol) -> None:
        self.engine = engine
        # The configuration each series is scored with (built once: a configuration caches its
        # detector specs), and the series refused over their limit (sent to the DLQ once).
        self._series_configs: OrderedDict[str, tuple[ModelConfig, ModelConfig]] = OrderedDict()
        self._refused: OrderedDict[tuple[str, str], None] = OrderedDict()

    def decode(
        self, event: EventT, stream: str, fmt: str, parsed: Any, configs: Sequence[ModelConfig]
    ) -> Decoded:
        """The message's samples or records (TelemetryError when none can be read);
        ``configs``: the stream's configurations (their counters)."""
        settings = self.engine.settings
        if fmt == "engine":
            return sniff.engine_samples(parsed, settings.max_points_per_request)
        counters = {name for config in configs for name in config.counters}
        ts = event.message.timestamp
        return sniff.decode(fmt, event.value, parsed, stream, ts, counters)

    async def handle(
        self, event: EventT, stream: str, fmt: str, parsed: Any, pending: PendingWrites
    ) -> tuple[list[dict[str, Any]], list[str]]:
        """Score what ``event`` holds for the entities of this partition and move the rest;
        (the incident events, the reasons for what was refused)."""
        engine = self.engine
        message = event.message
        configs = engine.configs.models_for_stream(stream)
        decoded = self.decode(event, stream, fmt, parsed, configs)
        chosen, errors = plan(decoded, configs, stream)
        errors = [*decoded.errors, *errors]
        engine.metrics.decoded(message.topic, decoded.points)
        source = (message.topic, message.partition, message.offset)
        events: list[dict[str, Any]] = []
        for entity, shares in chosen.items():
            owner = engine.partition_of(entity)
            if owner != message.partition:
                pending.flush()
                await self._move(stream, entity, shares, owner)
                continue
            refused: list[str] = []
            steps = self._steps(entity, shares, stream, message.topic, refused)
            try:
                _, produced = engine.apply_message(
                    entity, message.partition, source, steps, pending
                )
            except (TelemetryError, DetectorError) as exc:
                errors.append(f"entity {entity!r}: {exc}")
                continue
            errors += refused
            events += produced
        return events, errors

    async def _move(
        self, stream: str, entity: str, shares: Mapping[str, Share], owner: int
    ) -> None:
        if stream == "metrics":
            value = sniff.moved_metrics(
                entity, [(s.config.model_id, s.series, s.items) for s in shares.values()]
            )
        else:
            value = sniff.moved_logs(entity, next(iter(shares.values())).items)
        topic = self.engine.telemetry_topics[stream]
        await topic.send(key=entity.encode(), value=value, partition=owner)

    def _steps(
        self,
        entity: str,
        shares: Mapping[str, Share],
        stream: str,
        topic: str,
        refused: list[str],
    ) -> Callable[[EntityRecord], Steps]:
        """The scoring steps of an entity's shares, given its row: a series the row does not
        have yet is refused when its model has ``max_series_per_entity`` series there already
        (the reason goes to ``refused`` the first time)."""

        def steps(record: EntityRecord) -> Steps:
            models = record.row.get("models", {})
            counts: dict[str, int] = {}
            planned: Steps = []
            for key, share in shares.items():
                config = share.config
                if share.series and key not in models:
                    if config.model_id not in counts:
                        prefix = config.model_id + "{"
                        counts[config.model_id] = sum(k.startswith(prefix) for k in models)
                    if counts[config.model_id] >= config.max_series_per_entity:
                        self._refuse(config, entity, share, refused)
                        continue
                    counts[config.model_id] += 1
                scored_as = self._series_config(share)
                planned.append((scored_as, self._step(scored_as, share.items, entity, topic)))
            return planned

        return steps

    def _refuse(self, config: ModelConfig, entity: str, share: Share, refused: list[str]) -> None:
        self.engine.metrics.series_refused(config.model_id, share.points)
        if (share.key, entity) in self._refused:
            return
        self._refused[(share.key, entity)] = None
        if len(self._refused) > MAX_REMEMBERED:
            self._refused.popitem(last=False)
        refused.append(
            f"model {config.model_id!r}: entity {entity!r} has {config.max_series_per_entity} "
            f"series already (max_series_per_entity), so series {share.series} is not scored"
        )

    def _series_config(self, share: Share) -> ModelConfig:
        """The configuration a series is scored with: its model's, under the series' id (one
        object per series and configuration: the scoring caches key on it)."""
        if not share.series:
            return share.config
        cached = self._series_configs.get(share.key)
        if cached is None or cached[0] is not share.config:
            cached = self._series_configs[share.key] = (
                share.config,
                replace(share.config, model_id=share.key),
            )
            if len(self._series_configs) > MAX_REMEMBERED:
                self._series_configs.popitem(last=False)
        return cached[1]

    def _step(self, config: ModelConfig, items: list[Any], entity: str, topic: str) -> Any:
        cache = self.engine.live

        def metrics(state: State, shared: State) -> BatchOutcome:
            memory = state.get("rates") if state is not None else None
            ts, values, rates = rows(items, config, memory)
            outcome = score_with_feedback(
                config, entity, state, ts, values, None,
                source=topic, entity_state=shared, cache=cache,
            )  # fmt: skip
            if outcome.state is not None:
                outcome.state["rates"] = rates  # kept with the key's state, in its row
            return outcome

        def logs(state: State, shared: State) -> BatchOutcome:
            events = [LogEvent(ts=r.ts, level=r.level, message=r.message) for r in items]
            return score_log_events(
                config, entity, state, events, source=topic, entity_state=shared
            )

        return metrics if config.stream == "metrics" else logs
