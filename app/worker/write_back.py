"""The telemetry agents' rows and counters, kept in memory and written to their changelogs once
per interval: Kafka Streams' record cache for the ``entity_state`` and ``model_stats`` tables.

With single-point messages from many entities a batch rarely holds one entity twice, so writing
each changed row once per batch (``app.worker.pending_writes``) still costs one changelog record per
message, and a record costs Faust and aiokafka more than scoring a point. Here a row changed by a
batch goes to the table at once (readers see it) but to its changelog only at the next flush, once
however many batches changed it: every ``state_flush_interval_s`` (on the
worker's timer), before partitions are revoked and when the worker stops.

The position protocol (``app.worker.progress``) is kept: a partition's position is a row like the others,
and a flush writes the rows first, then, once the previous flush is on the broker, the positions.
So a position never reaches the broker ahead of the rows it counts, and after a kill -9 a worker
reads again from the last flushed positions and scores those messages again from the rows they
left: the same points, the same incidents with the same ids (published again, which delivery
dedups). A writer that must have its rows on the broker before it goes on (a REST score, the
sweeper's outbox) writes them at once (:meth:`WriteBack.put_now`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from app.telemetry.messages import RESERVED_PREFIX
from app.worker.pending_writes import put
from incidents.live import pin_row

SEND_SLICE = 32  # rows a flush sends between two turns of the event loop


class WriteBack:
    """Dirty rows by (table, key), each with its changelog partition and latest value.

    ``write`` sends one changelog record (``app.worker.pending_writes.put``) and returns its future;
    ``hand_over`` moves the sent records from Faust's buffer to the client. With ``send`` (an
    async ``app.worker.pending_writes.send``: the record straight to the client), a flush sends its
    records that way, after handing over what ``put_now`` left in Faust's buffer (so a key's
    records reach the client in the order written).

    Examples
    --------
    >>> sent = []
    >>> def write(table, partition, key, value):
    ...     sent.append((key, value))
    ...     table.data[key] = value
    >>> class Table:
    ...     def __init__(self): self.data = {}
    >>> rows = Table()
    >>> cache = WriteBack(1.0, write=write)
    >>> cache.put_later(rows, 0, "\\x00position t:0", {"next": 3})
    >>> cache.put_later(rows, 0, "host-1", {"n": 1})
    >>> cache.put_later(rows, 0, "host-1", {"n": 2})  # written once, its last value
    >>> rows.data["host-1"], sent
    ({'n': 2}, [])
    >>> asyncio.run(cache.flush())
    >>> sent  # rows first, then positions
    [('host-1', {'n': 2}), ('\\x00position t:0', {'next': 3})]
    >>> cache.put_later(rows, 0, "host-1", {"n": 3})
    >>> _ = cache.put_now(rows, 0, "host-1", {"n": 4})  # written through: no longer dirty
    >>> cache.dirty
    0
    """

    def __init__(
        self,
        interval_s: float,
        write: Callable[[Any, int, str, Any], Any] = put,
        hand_over: Callable[[], Awaitable[None]] | None = None,
        clock: Callable[[], float] = time.monotonic,
        send: Callable[[Any, int, str, Any], Awaitable[Any]] | None = None,
    ) -> None:
        self.interval_s = interval_s
        self._write = write
        self._send = send
        self._sending: dict[tuple[int, str], tuple[Any, int, Any]] = {}  # a flush's rows, unsent
        self._hand_over = hand_over
        self._clock = clock
        self._dirty: dict[tuple[int, str], tuple[Any, int, Any]] = {}
        self._sent: list[Any] = []  # the last flush's records on their way to the broker
        self._failed: BaseException | None = None  # a send that failed: no position goes after
        self._flushed_at = clock()
        self._lock = asyncio.Lock()

    @property
    def dirty(self) -> int:
        """Rows changed since the last flush."""
        return len(self._dirty)

    def check(self) -> None:
        """Raise the error of a flush whose records did not all reach the broker: the stream
        must stop before a later position counts the rows it lost."""
        if self._failed is not None:
            raise self._failed

    def due(self) -> bool:
        """Whether a flush is due (there are dirty rows and the interval has passed)."""
        return bool(self._dirty) and self._clock() - self._flushed_at >= self.interval_s

    def put_later(self, table: Any, partition: int, key: str, value: Any) -> None:
        """``table[key] = value`` now (None deletes), its changelog record at the next flush."""
        data = table.data
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
        self._dirty[(id(table), key)] = (table, partition, value)

    def put_now(self, table: Any, partition: int, key: str, value: Any) -> Any:
        """``table[key] = value`` with its changelog record sent now; returns its future."""
        self._dirty.pop((id(table), key), None)
        if (id(table), key) in self._sending:  # a flush will send it after this: the new value
            self._sending[(id(table), key)] = (table, partition, value)
        return self._write(table, partition, key, value)

    async def flush(self) -> None:
        """Write every dirty row to its changelog: the rows, then (once the previous flush is on
        the broker) the partitions' positions. A failed send of the previous flush raises."""
        async with self._lock:
            self.check()
            self._flushed_at = self._clock()
            if not self._dirty:
                return
            if self._send is not None:
                await self._flush_sending()
                return
            dirty, self._dirty = self._dirty, {}
            write, sent = self._write, []
            positions = []
            for (_, key), (table, partition, value) in dirty.items():
                if key.startswith(RESERVED_PREFIX):
                    positions.append((table, partition, key, value))
                else:
                    sent.append(write(table, partition, key, value))
            await self._after_previous()
            for table, partition, key, value in positions:
                current = table.data.get(key)
                sent.append(write(table, partition, key, value))
                if (id(table), key) in self._dirty:  # moved on while we waited: keep its news
                    table.data[key] = current
            self._sent = sent
            if self._hand_over is not None:
                await self._hand_over()

    async def _flush_sending(self) -> None:
        """``flush`` with ``send``: the table already holds each value; only records go."""
        assert self._send is not None
        if self._hand_over is not None:
            await self._hand_over()  # what put_now wrote before goes first
        self._sending, self._dirty = self._dirty, {}
        sending, sent = self._sending, []
        for _, _, value in sending.values():  # sent one by one while the agents go on
            pin_row(value)
        try:
            rows = [k for k in sending if not k[1].startswith(RESERVED_PREFIX)]
            for n, k in enumerate(rows, start=1):
                sent.append(await self._send_one(k))
                if not n % SEND_SLICE:
                    await asyncio.sleep(0)  # let the agents run: a flush is off their path
            await self._after_previous()
            for k in list(sending):
                sent.append(await self._send_one(k))
        finally:  # what a failed send left goes with the next flush (unless written since)
            for k, entry in self._sending.items():
                self._dirty.setdefault(k, entry)
            self._sending = {}
            self._sent = sent
        await asyncio.sleep(0)  # one turn of the loop: the client's sender writes the requests

    async def _send_one(self, k: tuple[int, str]) -> Any:
        """Send one row of the flush (its latest value: ``put_now`` may have replaced it)."""
        assert self._send is not None
        table, partition, value = self._sending[k]
        sent = await self._send(table, partition, k[1], value)
        self._sending.pop(k, None)  # sent: a put_now from now on goes after it
        return sent

    async def _after_previous(self) -> None:
        """Wait for the previous flush's records; if one failed, no position may follow."""
        try:
            await self.delivered()
        except BaseException as exc:
            self._failed = exc  # the rows it sent may be missing: never a position after
            raise

    async def delivered(self) -> None:
        """Wait until the broker has every record of the last flush."""
        sent = [future for future in self._sent if isinstance(future, asyncio.Future)]
        self._sent = []
        if sent:
            await asyncio.gather(*sent)
