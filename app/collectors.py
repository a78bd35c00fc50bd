"""Messages of the formats collectors write (OTLP, Prometheus, Influx, JSON log lines, and the
engine's own form without ``model_id``): decoded by :mod:`incidents.formats`, each entity's
points scored on its partition, the others moved to their entity's partition.

One message may hold many entities (an OTLP batch, a Telegraf flush): each entity's share goes
to the entity's partition in the engine's own form, so that its state stays on one worker. The
parts that cannot be decoded go to the dead-letter topic with their reasons, once per message,
and the rest of the message is scored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from faust.types import EventT

from app.pending_writes import PendingWrites
from detectors import DetectorError
from incidents.config import ModelConfig
from incidents.feedback import score_with_feedback
from incidents.formats import Decoded, Sample, sniff
from incidents.formats.route import plan, rows
from incidents.logs import LogEvent, score_log_events
from incidents.pipeline import BatchOutcome
from incidents.telemetry import TelemetryError

if TYPE_CHECKING:
    from app.engine import Engine
    from app.streams import State

MAX_REASONS = 5  # reasons quoted in one dead-letter record; the rest are counted


def format_hint(event: EventT, setting: str) -> str | None:
    """The message's ``telemetry-format`` header, else the topic's setting."""
    headers = event.message.headers or ()
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

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def decode(self, event: EventT, stream: str, fmt: str, parsed: Any) -> Decoded:
        """The message's samples or records (TelemetryError when none can be read)."""
        settings = self.engine.settings
        if fmt == "engine":
            return sniff.engine_samples(parsed, settings.max_points_per_request)
        configs = self.engine.configs.models_for_stream(stream)
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
        decoded = self.decode(event, stream, fmt, parsed)
        chosen, errors = plan(decoded, engine.configs.models_for_stream(stream), stream)
        errors = [*decoded.errors, *errors]
        engine.metrics.decoded(message.topic, len(decoded.samples) + len(decoded.records))
        source = (message.topic, message.partition, message.offset)
        events: list[dict[str, Any]] = []
        for entity, by_model in chosen.items():
            owner = engine.partition_of(entity)
            if owner != message.partition:
                pending.flush()
                await self._move(stream, entity, by_model, owner)
                continue
            steps = [
                (config, self._step(config, entity, items, stream, message.topic))
                for config, items in by_model.values()
            ]
            try:
                _, produced = engine.apply_message(
                    entity, message.partition, source, steps, pending
                )
            except (TelemetryError, DetectorError) as exc:
                errors.append(f"entity {entity!r}: {exc}")
                continue
            events += produced
        return events, errors

    async def _move(
        self,
        stream: str,
        entity: str,
        by_model: Mapping[str, tuple[ModelConfig, list[Any]]],
        owner: int,
    ) -> None:
        if stream == "metrics":
            samples: dict[int, Sample] = {}
            for _, items in by_model.values():
                samples.update((id(s), s) for s in items)
            value = sniff.moved_metrics(entity, list(by_model), list(samples.values()))
        else:
            records = next(iter(by_model.values()))[1]
            value = sniff.moved_logs(entity, records)
        topic = self.engine.telemetry_topics[stream]
        await topic.send(key=entity.encode(), value=value, partition=owner)

    def _step(
        self, config: ModelConfig, entity: str, items: list[Any], stream: str, topic: str
    ) -> Any:
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

        return metrics if stream == "metrics" else logs
