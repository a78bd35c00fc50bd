"""Table writes of a batch of telemetry messages, made once per key when the batch is done.

A telemetry agent takes its messages in batches (``Stream.take_events``) and scores them one
by one as before, but each entity's row and each model's counters go to their tables (and
changelogs) once per batch instead of once per message: a changelog record costs Faust and
aiokafka more than scoring a point does. Nothing of the exactly-once design changes: a row
still carries the last source offset applied for its entity, and Faust acknowledges (so may
commit) a batch's messages only after the agent is done with the whole batch, writes included.

Writes go to the partition of the message they come from, given explicitly: a Faust table
picks the changelog partition from the current event, which in a batch is the last one. The
batch's rows must be written before the agent awaits anything (a send to the dead-letter
topic, a message moved to its entity's partition), so that the REST scoring agent, which may
run during that await, reads the rows as the stream left them: :meth:`flush` is called there.

Faust sends changelog records through a buffer and, before it commits offsets, gives that buffer
only 0.1 s to drain (``ProducerBuffer.flush_atmost``): on a busy machine it commits the offsets
of messages whose rows are still in the buffer. That is harmless, because each partition's
position (``app.worker.progress``) says what was applied, provided a position never reaches the broker
ahead of the rows it counts: :meth:`delivered` waits until the broker has every record the batch
wrote, and a telemetry agent awaits it for a batch before it writes the next batch's positions
(``TelemetryHandler.handle_batch``); a REST score awaits it before it answers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from faust.types import TP, CollectionT

from app.worker.stats import add_counters
from incidents.live import pin_row


def put(table: CollectionT, partition: int, key: str, value: Any) -> Any:
    """``table[key] = value`` with the changelog record sent to ``partition``, what Faust does
    inside a stream event (``Table.on_key_set``), without needing that event; ``value`` None
    deletes the key (a tombstone on the changelog, as ``Table.on_key_del``). Returns the
    record's future (done once the broker has it)."""
    data = table.data  # type: ignore[attr-defined]  # the table's store
    pin_row(value)  # Faust's buffer serialises the record later
    if value is None:
        sent = table.send_changelog(partition, key, None, value_serializer="raw")
        if key in data:
            del data[key]
        return sent
    sent = table.send_changelog(partition, key, value)
    data[key] = value
    return sent


async def send(table: CollectionT, partition: int, key: str, value: Any) -> Any:
    """The changelog record of ``table[key] = value`` (None: a tombstone), handed to the Kafka
    client at once; the table's store is left as it is (the caller has set it). :func:`put` goes
    through Faust's producer buffer instead, which moves its records one per turn of the event
    loop (a ``wait_for`` each): a write-back flush of 200 rows spent 100-350 ms of the agent's
    time there on a loaded machine. The record is serialised by the table's own codecs and, once
    on the broker, its offset is kept as persisted as Faust's own send does
    (``Table._on_changelog_sent``, which ``rocksdb://`` reads at start). Returns the record's
    future (done once the broker has it)."""
    topic = table.changelog_topic
    raw_key, _ = topic.prepare_key(key, table.key_serializer)
    raw_value = None if value is None else topic.prepare_value(value, table.value_serializer)[0]
    name = topic.get_topic_name()
    sent = await table.app.producer.send(name, raw_key, raw_value, partition, None, None)
    store = table.data  # type: ignore[attr-defined]  # the table's store
    tp = TP(name, partition)

    def persisted(future: Any) -> None:
        if not future.cancelled() and future.exception() is None:
            store.set_persisted_offset(tp, future.result().offset)

    sent.add_done_callback(persisted)
    return sent


class PendingWrites:
    """The rows and counters a batch has changed so far, by key, with their partitions.

    Examples
    --------
    >>> rows, stats = {"host-1": {"n": 1}}, {}
    >>> pending = PendingWrites(rows, stats, write=lambda t, p, k, v: t.__setitem__(k, v))
    >>> pending.row("host-1")
    {'n': 1}
    >>> pending.set_row("host-1", 3, {"n": 2})
    >>> pending.add_stats("m|p3", 3, {"points": 1})
    >>> pending.add_stats("m|p3", 3, {"points": 2, "alerts": 1})
    >>> pending.row("host-1"), rows["host-1"]  # the table moves on flush
    ({'n': 2}, {'n': 1})
    >>> pending.flush()
    >>> rows["host-1"], stats["m|p3"], pending.row("host-1")
    ({'n': 2}, {'points': 3, 'alerts': 1}, {'n': 2})
    >>> pending.delete_row("host-1", 3)
    >>> pending.row("host-1") is None, rows["host-1"]
    (True, {'n': 2})
    """

    def __init__(self, rows: Any, stats: Any, write: Any = put) -> None:
        self._tables = (rows, stats)
        # Rows are read from the table's store (as ``put`` writes them): a read through the
        # Faust table also runs its sensors, a few µs a message.
        self._stored_rows = getattr(rows, "data", rows)
        self._write = write
        self._rows: dict[str, tuple[int, Mapping[str, Any] | None]] = {}  # None: deleted
        self._stats: dict[str, tuple[int, dict[str, Any]]] = {}
        self._sent: list[Any] = []  # changelog records on their way to the broker

    def row(self, entity: str) -> Mapping[str, Any] | None:
        """The entity's row as the batch left it, else as stored."""
        pending = self._rows.get(entity)
        return pending[1] if pending is not None else self._stored_rows.get(entity)

    def set_row(self, entity: str, partition: int, row: Mapping[str, Any]) -> None:
        self._rows[entity] = (partition, row)

    def delete_row(self, entity: str, partition: int) -> None:
        """Delete the entity's row (a tombstone on its changelog partition) on flush."""
        self._rows[entity] = (partition, None)

    def add_stats(self, key: str, partition: int, counters: Mapping[str, float]) -> None:
        previous = self._stats.get(key)
        if previous is None:
            self._stats[key] = (partition, add_counters(None, counters))
            return
        merged = previous[1]  # the batch's own dict: added to in place
        for name, value in counters.items():
            merged[name] = merged.get(name, 0) + value

    def flush(self) -> None:
        """Write what the batch changed to the tables (counters added to the stored ones)."""
        rows, stats = self._tables
        sent = self._sent
        for entity, (partition, row) in self._rows.items():
            sent.append(self._write(rows, partition, entity, row))
        for key, (partition, counters) in self._stats.items():
            sent.append(self._write(stats, partition, key, add_counters(stats.get(key), counters)))
        self._rows.clear()
        self._stats.clear()

    async def delivered(self) -> None:
        """Wait until the broker has every changelog record flushed so far (a failed send
        raises: the batch must not be acknowledged without its rows)."""
        sent = [future for future in self._sent if isinstance(future, asyncio.Future)]
        self._sent.clear()
        if sent:
            await asyncio.gather(*sent)
