"""What the worker emits: incident events on the alerts topic (each logged as an incident
line) and the messages it cannot score on the dead-letter topic, with the reason, the source
topic, partition and offset, and a preview of the value."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import orjson
from faust.types import EventT

from app.worker.metrics import EngineMetrics
from app.worker.settings import Settings
from incidents.incident import iso_time
from incidents.log_context import log_context

log = logging.getLogger("app.engine")  # operators read the incident lines under this name

DLQ_VALUE_PREVIEW = 2048


class Emitter:
    """Sends incident events and dead letters, and counts them."""

    def __init__(
        self, settings: Settings, alerts_topic: Any, dlq_topic: Any, metrics: EngineMetrics
    ) -> None:
        self.settings = settings
        self.alerts_topic = alerts_topic
        self.dlq_topic = dlq_topic
        self.metrics = metrics
        self._producer: Any = None  # the app's producer, once started

    async def _started_producer(self) -> Any:
        """The app's producer (started once, by Faust's own ``maybe_start_producer``)."""
        if self._producer is None:
            self._producer = await self.alerts_topic.app.maybe_start_producer()
        return self._producer

    async def publish(self, events: list[dict[str, Any]]) -> list[Any]:
        """Send ``events`` to the alerts topic; returns the sends' futures (done once the
        broker has each).

        Each goes straight to the producer, as ``Topic.send`` would send it (raw key and value,
        the key's partition, no headers; Faust's attachments are off), without the three turns
        of the event loop that ``Topic.send`` takes per record to check that the producer has
        started (``App.maybe_start_producer``, a ``stampede`` wrapper) and its send sensors:
        a 1000-point message opens and resolves ~5 incidents (docs/PROFILING.md)."""
        producer = await self._started_producer()
        topic = self.alerts_topic.get_topic_name()
        sent = []
        for event in events:
            key, value = event["entity"].encode(), orjson.dumps(event)
            sent.append(await producer.send(topic, key, value, None, None, None))
            log.info(
                "incident %s %s: %s",
                event["incident_id"],
                event["event"],
                event["summary"],
                extra=log_context(event),
            )
        self.metrics.published(events)
        # The client's sender takes three turns of the loop to write them (its wait for new
        # records ends, it drains the batches, the request's task writes them): these two and
        # the caller's (TelemetryHandler.handle_batch), before the agent scores on.
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        return sent

    async def dead_letter(self, event: EventT, reason: str) -> None:
        message = event.message
        value = message.value if isinstance(message.value, bytes) else b""
        record = {
            "reason": reason,
            "topic": message.topic,
            "partition": message.partition,
            "offset": message.offset,
            "key": message.key.decode("utf-8", "replace") if message.key else None,
            "value_preview": value[:DLQ_VALUE_PREVIEW].decode("utf-8", "replace"),
            "value_bytes": len(value),
            "dead_lettered_at": iso_time(time.time()),
        }
        await self.dlq_topic.send(key=message.key, value=orjson.dumps(record))
        self.metrics.dead_lettered(message.topic)
        log.warning(
            "message %s[%d]@%d sent to %s: %s",
            message.topic,
            message.partition,
            message.offset,
            self.settings.dlq_topic,
            reason,
            extra=log_context(record, entity=record["key"]),
        )
