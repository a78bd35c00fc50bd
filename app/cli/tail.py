"""Follow the alerts topic (what `anomaly-engine alerts tail` runs), with each event's deliveries.

The tail reads every partition of the alerts topic directly (no consumer group, so it never
disturbs the engine's group and starts at once) and, when it exists, the changelog of the
engine's delivery ledger (the `deliveries` table), whose rows say what became of each event on
each channel. From the beginning, it first reads both topics up to their ends and prints the past
events in event-time order with their deliveries as they stand; then it follows: a new event is
printed as it arrives (its deliveries pending), and each delivery outcome of a printed event is
printed as the ledger records it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError

from app.worker.metadata import topic_partitions
from app.worker.offsets import fetched_end_offsets
from incidents.incident import iso_time

Event = dict[str, Any]
Row = dict[str, Any]
EventKey = tuple[str, str, int]  # incident id, event, seq


class TailError(RuntimeError):
    """The tail cannot start: no broker, or no alerts topic."""


def event_key(event: Mapping[str, Any]) -> EventKey:
    return (
        str(event.get("incident_id")),
        str(event.get("event", "open")),
        int(event.get("seq", 0)),
    )


def parse_ledger_key(raw: bytes) -> tuple[EventKey, str] | None:
    """``(incident id, event, seq), channel`` of a ledger row's key (a JSON string).

    >>> parse_ledger_key(b'"inc-1|open|0|slack"')
    (('inc-1', 'open', 0), 'slack')
    >>> parse_ledger_key(b'"nonsense"') is None
    True
    """
    try:
        key = orjson.loads(raw)
        incident, event, seq, channel = str(key).rsplit("|", 3)
        return (incident, event, int(seq)), channel
    except (orjson.JSONDecodeError, ValueError):
        return None


def event_time(event: Mapping[str, Any]) -> str:
    """When the event happened (event time): resolved_at, else last_seen for an update, else the
    opening."""
    if event.get("event") == "resolve" and event.get("resolved_at"):
        return str(event["resolved_at"])
    if event.get("event") == "update" and event.get("last_seen"):
        return str(event["last_seen"])
    if event.get("opened_at"):
        return str(event["opened_at"])
    try:
        return iso_time(float(event.get("ts", 0.0)))
    except (TypeError, ValueError):
        return "?"


def describe_delivery(row: Mapping[str, Any]) -> str:
    """``delivered``, ``failed (HTTP 400: …)``, ``silenced (sil-…)``, ``retrying (attempt 2)``.

    >>> describe_delivery({"status": "failed", "http_status": 400, "error": "HTTP 400: bad"})
    'failed (HTTP 400: bad)'
    >>> describe_delivery({"status": "delivered", "attempts": 2, "http_status": 202})
    'delivered (HTTP 202, attempt 2)'
    """
    status = str(row.get("status", "?"))
    if status == "delivered":
        attempts = int(row.get("attempts", 1) or 1)
        code = f"HTTP {row['http_status']}" if row.get("http_status") else ""
        more = f"attempt {attempts}" if attempts > 1 else ""
        details = ", ".join(part for part in (code, more) if part)
        return f"delivered ({details})" if details else "delivered"
    if status == "failed":
        return f"failed ({row.get('error') or 'no detail'})"
    if status == "silenced":
        return f"silenced ({row['silence_id']})" if row.get("silence_id") else "silenced"
    if status == "retrying":
        return f"retrying (attempt {row.get('attempts', '?')}: {row.get('error') or 'no detail'})"
    return status


@dataclass
class Tail:
    """What to follow and how to print it."""

    bootstrap: str
    alerts_topic: str
    ledger_topic: str | None
    on_event: Callable[[Event, Mapping[str, Row]], None]
    on_delivery: Callable[[EventKey, str, Row], None] = lambda key, channel, row: None
    on_ready: Callable[[], None] = lambda: None
    matches: Callable[[Event], bool] = lambda event: True
    from_beginning: bool = False
    count: int | None = None  # stop after this many events printed
    on_skip: Callable[[str], None] = lambda reason: None
    deliveries: dict[EventKey, dict[str, Row]] = field(default_factory=dict)
    printed: set[EventKey] = field(default_factory=set)
    shown: int = 0

    async def run(self) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=50,
        )
        try:
            await consumer.start()
        except KafkaError as exc:
            await consumer.stop()
            raise TailError(f"cannot reach the broker at {self.bootstrap}: {exc}") from None
        try:
            await self._follow(consumer)
        finally:
            await consumer.stop()

    async def _partitions(self, consumer: AIOKafkaConsumer, topic: str) -> list[TopicPartition]:
        return [TopicPartition(topic, p) for p in sorted(await topic_partitions(consumer, topic))]

    async def _follow(self, consumer: AIOKafkaConsumer) -> None:
        alerts = await self._partitions(consumer, self.alerts_topic)
        if not alerts:
            raise TailError(
                f"topic {self.alerts_topic!r} does not exist on {self.bootstrap}; the engine "
                "creates it when it starts (ANOMALY_ALERTS_TOPIC), or pass --topic"
            )
        ledger = await self._partitions(consumer, self.ledger_topic) if self.ledger_topic else []
        tps = alerts + ledger
        consumer.assign(tps)
        listed = await consumer.end_offsets(tps)
        ends = await fetched_end_offsets(self.bootstrap, listed)
        if self.from_beginning:
            await consumer.seek_to_beginning(*tps)
            await self._catch_up(consumer, {tp: ends[tp] or 0 for tp in tps})
        else:  # only what happens from now: new events, and their deliveries
            for tp in tps:
                consumer.seek(tp, ends[tp] or 0)
        if self._done():
            return
        self.on_ready()
        while not self._done():
            batches = await consumer.getmany(timeout_ms=500)
            self._apply(batches, live=True)

    async def _catch_up(self, consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int]) -> None:
        """Read up to ``ends``; print the past events (oldest first) with their deliveries."""
        past: list[Event] = []
        behind = [tp for tp, end in ends.items() if end > 0]
        while behind:
            batches = await consumer.getmany(*behind, timeout_ms=500)
            past += self._apply(batches, live=False)
            behind = [tp for tp in behind if await consumer.position(tp) < ends[tp]]
        past.sort(key=event_time)
        for event in past:
            if self._done():
                return
            self._show(event)

    def _apply(
        self, batches: Mapping[TopicPartition, list[ConsumerRecord[bytes, bytes]]], *, live: bool
    ) -> list[Event]:
        """Live: show the events, then record the ledger rows and print those of events shown
        (an event's own block never repeats a row fetched with it). Else record the rows and
        return the events."""
        events: list[Event] = []
        rows: list[tuple[EventKey, str, Row]] = []
        for tp, records in batches.items():
            for record in records:
                if tp.topic == self.alerts_topic:
                    event = self._event(record)
                    if event is not None and self.matches(event):
                        events.append(event)
                else:
                    row = _ledger_row(record)
                    if row is not None:
                        rows.append(row)
        if live:
            for event in events:
                if self._done():
                    return []
                self._show(event)
        for key, channel, row in rows:
            self.deliveries.setdefault(key, {})[channel] = row
            if live and key in self.printed and not self._done():
                self.on_delivery(key, channel, row)
        return [] if live else events

    def _event(self, record: ConsumerRecord[bytes, bytes]) -> Event | None:
        try:
            event = orjson.loads(record.value) if record.value else None
        except orjson.JSONDecodeError:
            event = None
        if not isinstance(event, dict) or "incident_id" not in event:
            self.on_skip(f"{record.topic}[{record.partition}]@{record.offset} is not an incident")
            return None
        return event

    def _show(self, event: Event) -> None:
        key = event_key(event)
        self.printed.add(key)
        self.shown += 1
        self.on_event(event, self.deliveries.get(key, {}))

    def _done(self) -> bool:
        return self.count is not None and self.shown >= self.count


def _ledger_row(record: ConsumerRecord[bytes, bytes]) -> tuple[EventKey, str, Row] | None:
    """``(event key, channel, row)`` of a delivery-ledger record; None for a tombstone or junk."""
    parsed = parse_ledger_key(record.key) if record.key is not None else None
    if parsed is None or record.value is None:
        return None
    try:
        row = orjson.loads(record.value)
    except orjson.JSONDecodeError:
        return None
    return (*parsed, row) if isinstance(row, dict) else None


def run_tail(tail: Tail) -> None:
    asyncio.run(tail.run())
