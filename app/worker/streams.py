"""The telemetry agents' work: admit a message, decode it, score it on its key, publish events.

Every message goes through the same admission: not empty, not over the size limit, JSON, with
an entity, and on the entity's partition (else it is moved there first). What fails goes to the
dead-letter topic with the reason, and the stream goes on.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

import orjson
from faust.types import TP, EventT

from app.telemetry.events import decode_behavior_events, decode_log_events, event_ids
from app.telemetry.formats import sniff
from app.telemetry.messages import decode_batch, incident_feedback, message_ids
from app.worker.collectors import CollectorMessages, format_hint, reason_of
from app.worker.engine_protocol import Run, State
from app.worker.pending_writes import PendingWrites
from app.worker.progress import position_key, stored_position
from detectors import DetectorError
from incidents.behavior import score_behavior_events
from incidents.config import ModelConfig
from incidents.feedback import FeedbackRefused, score_with_feedback
from incidents.logs import score_log_events
from incidents.outcome import BatchOutcome
from incidents.points import TelemetryError

if TYPE_CHECKING:
    from app.worker.engine_protocol import EngineProtocol, Steps
    from app.worker.entity_record import EntityRecord

log = logging.getLogger(__name__)

Step = Run
ModelStep = tuple[ModelConfig, Step]


class Rejected(Exception):
    """A message that goes to the dead-letter topic; the message is the reason."""


class Collected(tuple[str, Any]):
    """A message in a collector format (or the engine's own form without ``model_id``): its
    format and its parsed JSON (None for binary or text formats)."""


class TelemetryHandler:
    """Handles the messages of the three telemetry topics for one engine."""

    def __init__(self, engine: EngineProtocol) -> None:
        self.engine = engine
        self.settings = engine.settings
        self.collectors = CollectorMessages(engine)
        self._decoded: dict[str, int] = {}  # points decoded by topic in the current batch

    async def handle_batch(self, batch: Sequence[EventT], stream: str) -> None:
        """Score a batch of messages of ``stream`` ("metrics", "logs" or "behavior") in order,
        put the rows and counters they changed and the partitions' positions in the tables, and
        publish their incident events. A partition whose records skip past its position is
        sought back to it (see ``app.worker.progress``).

        The rows and positions reach their changelogs at the engine's next flush
        (``app.worker.write_back``: rows first, positions once the rows before them are on the broker),
        so a position never reaches the broker ahead of a row it counts, and Faust may commit
        offsets ahead of both: the next owner starts from the partition's position. On a
        rebalance the engine flushes and waits for the broker before the partitions go.

        A message's incident events are published as soon as it is scored (its row in the
        table first), not after the rest of the batch: a batch that queued behind a pause holds
        a hundred messages at 1,000 events/s, tens of ms of scoring (docs/PROFILING.md). Should
        a rebalance complete during that await (Faust waits for the batch first, but only so
        long), the rest of the batch is left and no position is written: the partitions'
        owners read those messages again from the positions."""
        engine = self.engine
        pending = engine.pending_writes(later=True)
        positions = engine.positions
        generation = engine.app.consumer_generation_id
        positions.new_generation(generation)
        assigned = engine.app.consumer.assignment()
        stored: dict[TP, int | None] = {}
        nexts: dict[TP, int] = {}
        rewound: dict[TP, None] = {}  # partitions to seek back, in order
        handled: dict[str, int] = {}  # messages by topic
        for event in batch:
            tp = event.message.tp
            if tp not in assigned:
                # Taken before a rebalance moved its partition away: its new owner reads it from
                # its position; writing its row here would race that owner's.
                continue
            if tp not in stored:
                key = position_key(tp.topic, tp.partition)
                stored[tp] = stored_position(pending.row(key))
            offset = event.message.offset
            verdict = positions.check(tp.topic, tp.partition, offset, nexts.get(tp, stored[tp]))
            if verdict != "apply":
                # Seek back, and again after each batch of records fetched before the seek:
                # while Faust hands them over it moves its read offset past the seek and drops
                # the records read again (faust Consumer._drain_messages).
                rewound[tp] = None
                if verdict == "rewind":
                    engine.metrics.rewound(tp.topic)
                continue
            events = await self.handle(event, stream, pending)
            nexts[tp] = max(nexts.get(tp, stored[tp]) or 0, offset + 1)
            handled[tp.topic] = handled.get(tp.topic, 0) + 1
            if events:
                pending.flush()  # its row in the table first: other agents run during the await
                await engine.publish_events(events)
                await asyncio.sleep(0)  # a turn of the loop: the client sends it now
            if engine.app.consumer_generation_id != generation:
                nexts.clear()  # a rebalance ran during an await: no position from this batch
                rewound.clear()
                break
        for topic, messages in handled.items():  # the counters once per batch
            engine.metrics.consumed(topic, messages)
        for topic, points in self._decoded.items():
            engine.metrics.decoded(topic, points)
        self._decoded.clear()
        # The rows go to the tables before the first await (the REST agent may run during it
        # and must read them), the positions after them.
        pending.flush()
        for tp, next_offset in nexts.items():
            if next_offset != stored[tp]:
                pending.set_row(
                    position_key(tp.topic, tp.partition), tp.partition, {"next": next_offset}
                )
        pending.flush()
        cache = engine.write_back
        cache.check()
        if not cache.interval_s:
            await cache.flush()  # else the engine's timer flushes, off the agents' path
        await self._seek_back(rewound)

    async def _seek_back(self, rewound: Iterable[TP]) -> None:
        """Seek the partitions that showed a gap back to their position (and those whose
        rewind brought nothing back for a while)."""
        positions = self.engine.positions
        todo = [(tp, positions.rewind_to(tp.topic, tp.partition)) for tp in rewound]
        todo += [(TP(topic, partition), offset) for topic, partition, offset in positions.overdue()]
        offsets = {tp: offset for tp, offset in todo if offset is not None}
        if offsets:  # in the consumer's thread (Consumer.seek is not)
            await self.engine.app.consumer.seek_wait(offsets)

    async def handle(
        self, event: EventT, stream: str, pending: PendingWrites
    ) -> list[dict[str, Any]]:
        """Score one message; its incident events, to publish once its row is written. What
        goes to the dead-letter topic or moves to another partition first flushes ``pending``
        (the only awaits here)."""
        started = time.perf_counter()
        try:
            admitted = self._admit(event, stream)
            if isinstance(admitted, Collected):
                try:
                    events, errors = await self.collectors.handle(
                        event, stream, admitted[0], admitted[1], pending
                    )
                except TelemetryError as exc:
                    raise Rejected(str(exc)) from None
                if not errors:
                    self.engine.metrics.observe_scoring(
                        event.message.topic, time.perf_counter() - started
                    )
                    return events
                pending.flush()  # the rest is scored; the refused parts go to the DLQ
                await self.engine.dead_letter(event, reason_of(errors))
                return events
            if isinstance(admitted, tuple):  # not on the entity's partition: move it there
                pending.flush()
                entity, owner = admitted
                topic = self.engine.telemetry_topics[stream]
                await topic.send(key=entity.encode(), value=event.value, partition=owner)
                return []
            if stream == "metrics":
                entity, steps = self._metrics(event, admitted)
            else:
                entity, steps = self._events(event, admitted, stream)
            message = event.message
            source = (message.topic, message.partition, message.offset)
            try:
                _, events = self.engine.apply_message(
                    entity, message.partition, source, steps, pending
                )
            except (TelemetryError, DetectorError, FeedbackRefused) as exc:
                raise Rejected(str(exc)) from None
        except Rejected as exc:
            reason = str(exc)
        except Exception as exc:  # a bug must cost one message, not the stream
            log.exception("scoring a message of %s failed", event.message.topic)
            reason = f"internal error while scoring: {type(exc).__name__}"
        else:
            self.engine.metrics.observe_scoring(event.message.topic, time.perf_counter() - started)
            return events
        pending.flush()
        await self.engine.dead_letter(event, reason)
        return []

    def _admit(self, event: EventT, stream: str) -> dict[str, Any] | tuple[str, int] | Collected:
        """The message's JSON payload, or its entity and the entity's partition when that is
        not the message's partition, or :class:`Collected` for a message of another format."""
        message = event.message
        raw = event.value
        if not isinstance(raw, bytes) or not raw:
            raise Rejected("empty message")
        limit = self.settings.max_message_bytes
        if len(raw) > limit:
            raise Rejected(f"message of {len(raw)} bytes is over the {limit} limit")
        try:
            if stream == "behavior":
                payload = orjson.loads(raw)
            else:
                setting = getattr(self.settings, f"{stream}_format")
                fmt, payload = sniff.detect(raw, stream, format_hint(event, setting))
                if fmt != "engine" or (stream == "metrics" and "model_id" not in payload):
                    return Collected((fmt, payload))
            entity = message_ids(payload)[1] if stream == "metrics" else event_ids(payload)[0]
        except orjson.JSONDecodeError as exc:
            raise Rejected(f"malformed JSON: {exc}") from None
        except TelemetryError as exc:
            raise Rejected(str(exc)) from None
        owner = self.engine.partition_of(entity)
        if message.partition != owner:
            # Keyed by something else or by a non-murmur2 partitioner: move the message to the
            # entity's partition so that its state lives in one place.
            return entity, owner
        return payload  # type: ignore[no-any-return]

    def _metrics(
        self, event: EventT, payload: dict[str, Any]
    ) -> tuple[str, list[ModelStep] | Callable[[EntityRecord], Steps]]:
        model_id, entity = message_ids(payload)
        try:
            verdict_on = incident_feedback(payload)
        except TelemetryError as exc:
            raise Rejected(str(exc)) from None
        if verdict_on is not None:  # feedback on an incident: the steps depend on the row
            incident_id, verdict = verdict_on
            steps, planned = self.engine.dismissal_of(entity, incident_id, verdict)

            def checked(record: EntityRecord) -> Steps:
                planned_steps = steps(record)
                if model_id not in planned[-1].incident["models"]:
                    raise FeedbackRefused(
                        "other_model",
                        f"incident {incident_id} is not an incident of model {model_id!r}",
                    )
                return planned_steps

            return entity, checked
        config = self._config(model_id, "metrics")
        topic = event.message.topic
        try:
            batch = decode_batch(payload, config, self.settings.max_points_per_request)
        except TelemetryError as exc:
            raise Rejected(str(exc)) from None
        self._decoded[topic] = self._decoded.get(topic, 0) + len(batch.ts)

        def run(state: State, shared: State) -> BatchOutcome:
            return score_with_feedback(
                config,
                entity,
                state,
                batch.ts,
                batch.values,
                batch.feedback,
                source=topic,
                entity_state=shared,
                labels=batch.labels,
                cache=self.engine.live,
            )

        return entity, [(config, run)]

    def _events(
        self, event: EventT, payload: dict[str, Any], stream: str
    ) -> tuple[str, list[ModelStep]]:
        entity, model_id = event_ids(payload)
        configs = (
            [self._config(model_id, stream)]
            if model_id is not None
            else self.engine.configs.models_for_stream(stream)
        )
        if not configs:
            raise Rejected(
                f"no model scores the {stream} stream: POST a configuration with "
                f'"stream": "{stream}" to /anomaly/config first'
            )
        topic = event.message.topic
        limit = self.settings.max_points_per_request
        try:
            logs = decode_log_events(payload, limit) if stream == "logs" else []
            actions = decode_behavior_events(payload, limit) if stream == "behavior" else []
        except TelemetryError as exc:
            raise Rejected(str(exc)) from None
        self._decoded[topic] = self._decoded.get(topic, 0) + len(logs) + len(actions)

        def step(config: ModelConfig) -> Step:
            def run(state: State, shared: State) -> BatchOutcome:
                if stream == "logs":
                    return score_log_events(
                        config, entity, state, logs, source=topic, entity_state=shared
                    )
                return score_behavior_events(
                    config, entity, state, actions, source=topic, entity_state=shared
                )

            return run

        return entity, [(config, step(config)) for config in configs]

    def _config(self, model_id: str, stream: str) -> ModelConfig:
        config = self.engine.model_config(model_id)
        if config is None:
            raise Rejected(
                f"unknown model {model_id!r}: POST its configuration to /anomaly/config first"
            )
        if config.stream != stream:
            raise Rejected(
                f"model {model_id!r} scores the {config.stream} stream, not {stream}: send it to "
                f"the {config.stream} topic"
            )
        return config
