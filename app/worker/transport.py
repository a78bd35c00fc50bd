"""Five adjustments to Faust's aiokafka transport that the engine relies on, and one that makes
Faust's per-message path cheaper.

1. Fetch wait. Faust's worker consumer hard-codes ``fetch_max_wait_ms=1500``
   (``faust/transport/drivers/aiokafka.py``). The embedded broker holds an empty fetch for the whole
   wait even when data arrives meanwhile, so every incident and every REST score would wait up to
   1.5 s. :class:`EngineApp` lowers it to ``Settings.fetch_max_wait_ms``. Apache Kafka answers a long
   poll as soon as data arrives, so a low value costs it only a few more idle fetches.

2. End offsets. Table recovery reads each changelog partition up to its end offset as the broker
   lists it; the embedded broker lists it wrong after batched writes (see ``app.worker.offsets``), so
   the consumer corrects the list with a fetch.

3. Reply acks. Faust's ``ReplyConsumer`` (behind ``agent.ask``) leaves the last reply it read
   tracked as unacked, so on the next rebalance the worker waits for it forever (seen here with two
   workers: ``wait_empty: Waiting for tasks [... f-reply-... offset=5]`` and a group that never
   settles). Nothing commits reply offsets, so the reply topic is declared with ``acks=False``.
   Because nothing commits them, a reply can also be read twice (after a rebalance the reply
   stream starts over from an earlier position, seen on Apache Kafka): Faust then fulfils a
   promise that is already done, the ``InvalidStateError`` ends the reply stream and the worker
   stops. Replies for done promises are dropped.

4. Never-committed partitions. Around a rebalance (and at a worker's start) Faust drops the
   records it fetches while its flow is stopped and then seeks every partition back to its
   committed offset; aiokafka seeks only partitions with a committed offset above 0, so one that
   nobody committed stays where the fetcher stood, past the dropped records. Seen on the alerts
   topic: a partition holding only events PagerDuty had not finished when the worker was killed
   (so nothing of it was committed) was not read again after the restart, and those pages were
   never sent; likewise telemetry written while the worker was down. Such a partition of a topic
   whose offsets Faust commits is sought to its beginning (``never_committed``), as
   ``consumer_auto_offset_reset="earliest"`` means. And the seeks are done at once, after every
   committed offset is known: Faust clears its agents' queues only after the seek, so a record
   read again before that was dropped from the queue of an agent that had not taken it yet.

5. Fetches that span a rebalance. Faust hands the fetch its set of active partitions, a set it
   changes in place: a rebalance that pauses the whole assignment empties it while the fetch
   waits, and aiokafka reads an empty set as *every* partition. The fetch then returned the
   changelog records a new recovery had just sought to, Faust dropped them (its flow was
   stopped, or the partition was not in its set any more), and nothing seeks a changelog back:
   the recovery waited for them for ever (a worker that kept its partitions through a
   rebalance stayed "starting", ``No event received for active tp``). The fetch now asks for a
   copy of the set taken when it starts, and the records Faust would drop are sought back
   (``_fetch_records``), so they are read again.

6. One dispatch without tasks. Faust's drainer hands every fetched message to the conductor as
   ``wait_first(callback(message), suspend_flow.wait())`` (``faust.transport.consumer``,
   ``Consumer._drain_messages``), so that a callback blocked on a full agent queue gives way when
   a rebalance suspends the flow. ``mode``'s ``wait_first`` makes a task of each of the two, and
   of the consumer's stopped and crashed events, and waits for the first: four tasks, an
   ``asyncio.wait`` and two turns of the loop per message, although the callback almost never
   waits (it puts the event on the agent's queue). :class:`_Consumer` runs the callback inline
   up to its first real wait; only a callback that does wait is raced against the flow's
   suspension as before (``run_until_blocked``).

The bare agent of the benchmark (``bench.bare_agent``) builds its app here too, with 6 off
(``lean=False``): it measures Faust as a user has it.
"""

from __future__ import annotations

import asyncio
import types
from collections.abc import Awaitable, Callable, Generator, Mapping
from pathlib import Path
from typing import Any

import faust
from faust.agents.replies import ReplyConsumer, ReqRepResponse
from faust.models import maybe_model
from faust.transport.drivers import aiokafka as faust_aiokafka
from mode.services import WaitArgT, WaitResults
from mode.utils.objects import cached_property

from app.worker.offsets import fetched_end_offsets
from app.worker.settings import Settings


def never_committed(committed: Mapping[Any, int | None], acked: Callable[[str], bool]) -> list[Any]:
    """The partitions of ``committed`` (``seek_to_committed``'s answer) that aiokafka did not seek
    (no committed offset above 0), of the topics whose offsets are committed (``acked``).

    >>> from collections import namedtuple
    >>> TP = namedtuple("TP", "topic partition")
    >>> answer = {TP("alerts", 0): 6, TP("alerts", 2): None, TP("alerts", 3): 0, TP("reply", 0): None}
    >>> never_committed(answer, lambda topic: topic != "reply")
    [TP(topic='alerts', partition=2), TP(topic='alerts', partition=3)]
    """
    return [
        tp for tp, offset in committed.items() if not (offset and offset > 0) and acked(tp.topic)
    ]


class _ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        # Read by aiokafka when the consumer starts (it builds its Fetcher then).
        consumer._fetch_max_wait_ms = self.app.fetch_max_wait_ms
        return consumer

    async def _highwaters(self, partitions: list[Any]) -> Mapping[Any, int]:
        listed = await super()._highwaters(partitions)
        if self.consumer.in_transaction:
            return listed
        bootstrap = faust_aiokafka.server_list(self.transport.url, self.transport.default_port)
        return await fetched_end_offsets(bootstrap, listed)  # type: ignore[return-value]

    async def seek_to_committed(self) -> Mapping[Any, int | None]:
        return await self.call_thread(self._seek_to_committed_at_once)

    async def _seek_to_committed_at_once(self) -> dict[Any, int | None]:
        """aiokafka's ``seek_to_committed`` asks for one committed offset at a time and seeks each
        partition as its answer comes: the first ones are read again long before Faust clears
        its agents' queues (``flow_control.resume``), and what a slow agent had not taken from
        its queue by then (PagerDuty while it retries) is gone. So: every committed offset
        first, then every seek at once, a never-committed partition to its start."""
        consumer = self._ensure_consumer()
        partitions = sorted(consumer.assignment())
        found = await asyncio.gather(*(consumer.committed(tp) for tp in partitions))
        committed = dict(zip(partitions, found, strict=True))
        fresh = set(never_committed(committed, self.app.topics.acks_enabled_for))
        for tp, offset in committed.items():
            if tp in fresh:
                consumer.seek(tp, 0)  # gone by retention: auto_offset_reset (earliest) applies
            elif offset and offset > 0:
                consumer.seek(tp, offset)
        return committed

    async def _fetch_records(
        self,
        consumer: Any,
        active_partitions: Any,
        timeout: float | None = None,
        max_records: int | None = None,
    ) -> Any:
        if active_partitions is None:  # a client-only app: every partition
            return await super()._fetch_records(consumer, None, timeout, max_records)
        wanted = frozenset(active_partitions)  # Faust changes its set in place
        if not wanted:
            return {}  # aiokafka would read an empty set as every partition
        records = await super()._fetch_records(consumer, wanted, timeout, max_records)
        # What Faust's getmany keeps: its flow running, and partitions still in the set it passed
        taken = set(active_partitions) | set(self.consumer._buffered_partitions)
        kept, rewind = split_fetched(records, self.consumer.flow_active, taken)
        assigned = consumer.assignment()
        for tp, offset in rewind.items():
            if tp in assigned:  # a revoked partition's new owner reads it from its commit
                consumer.seek(tp, offset)
        return kept


def split_fetched(
    records: Mapping[Any, list[Any]], flowing: bool, active: set[Any]
) -> tuple[dict[Any, list[Any]], dict[Any, int]]:
    """The fetched ``records`` Faust will take, and the first offset of each partition whose
    records it would drop (its flow stopped, or the partition no longer in its ``active`` set).

    >>> from collections import namedtuple
    >>> R = namedtuple("R", "offset")
    >>> fetched = {"a": [R(4), R(5)], "b": [R(7)], "c": []}
    >>> split_fetched(fetched, True, {"a", "c"})
    ({'a': [R(offset=4), R(offset=5)], 'c': []}, {'b': 7})
    >>> split_fetched(fetched, False, {"a", "b"})
    ({}, {'a': 4, 'b': 7})
    """
    kept: dict[Any, list[Any]] = {}
    rewind: dict[Any, int] = {}
    for tp, batch in records.items():
        if flowing and tp in active:
            kept[tp] = batch
        elif batch:
            rewind[tp] = batch[0].offset
    return kept, rewind


def run_until_blocked(coro: Any) -> tuple[bool, Any]:
    """Run the coroutine ``coro`` in the calling task up to its first real wait: ``(True, its
    result)`` when it finished without one, else ``(False, an awaitable)`` that goes on from
    that wait (in whichever task awaits it).

    >>> async def at_once():
    ...     return 1
    >>> run_until_blocked(at_once())
    (True, 1)
    >>> async def later():
    ...     await asyncio.sleep(0)
    ...     return 2
    >>> finished, rest = run_until_blocked(later())
    >>> finished, asyncio.run(rest)
    (False, 2)
    """
    try:
        waits_for = coro.send(None)
    except StopIteration as done:
        return True, done.value
    return False, _rest(coro, waits_for)


async def _rest(coro: Any, waits_for: Any) -> Any:
    return await _resumed(coro, waits_for)


@types.coroutine
def _resumed(coro: Any, waits_for: Any) -> Generator[Any, Any, Any]:
    """The rest of ``coro``, which yielded ``waits_for`` (a future, or None for a bare turn of
    the loop) to its task: hand it to the task that runs this, and pass what the task sends or
    throws back to ``coro``, as the task would have."""
    try:
        while True:
            try:
                sent = yield waits_for
            except GeneratorExit:
                coro.close()
                raise
            except BaseException as exc:  # noqa: BLE001 - CancelledError included: coro decides
                waits_for = coro.throw(exc)
            else:
                waits_for = coro.send(sent)
    except StopIteration as done:
        return done.value


def _close(awaitable: Any) -> None:
    if asyncio.iscoroutine(awaitable):
        awaitable.close()  # never awaited: no warning about it


class _Consumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> faust_aiokafka.AIOKafkaConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)

    async def wait_first(self, *coros: WaitArgT, timeout: Any = None) -> WaitResults:
        """``Service.wait_first``, but a coroutine that finishes without waiting runs inline.

        Faust's drainer calls this once a message with the conductor's callback and the flow's
        suspension (see 6 above). When the callback finishes at once it is done, as the tasks
        would have found it; ``suspend_flow.wait()`` is closed unawaited (it only ends the race
        early, and there is none). A callback that waits goes on in a task, raced as before."""
        if not (getattr(self.app, "lean", False) and timeout is None and len(coros) == 2):
            return await super().wait_first(*coros, timeout=timeout)
        callback, suspended = coros
        if not asyncio.iscoroutine(callback) or self.should_stop:
            return await super().wait_first(*coros, timeout=timeout)
        try:
            finished, result = run_until_blocked(callback)
        except BaseException:
            _close(suspended)
            raise
        if not finished:
            return await super().wait_first(asyncio.ensure_future(result), suspended)
        _close(suspended)
        if self._stopped.is_set() or self._crashed.is_set():
            return WaitResults([], [], True)
        return WaitResults([callback], [result], False)


class _Transport(faust_aiokafka.Transport):
    Consumer = _Consumer


class _AcklessReplyConsumer(ReplyConsumer):
    def _reply_topic(self, topic: str) -> Any:
        return self.app.topic(
            topic,
            partitions=1,
            replicas=self.app.conf.topic_replication_factor,
            deleting=True,
            retention=self.app.conf.reply_expires,
            value_type=ReqRepResponse,
            acks=False,
        )

    async def _drain_replies(self, channel: Any) -> None:
        async for reply in channel.stream():
            waiting = self._waiting.get(reply.correlation_id)
            for promise in list(waiting or ()):
                if not promise.done():
                    promise.fulfill(reply.correlation_id, maybe_model(reply.value))
            if waiting is not None and all(promise.done() for promise in waiting):
                del self._waiting[reply.correlation_id]


class EngineApp(faust.App):
    """A Faust app with the low fetch wait and the ack-less reply consumer described above;
    ``lean`` also dispatches without tasks (6)."""

    def __init__(
        self, *args: Any, fetch_max_wait_ms: int = 10, lean: bool = True, **kwargs: Any
    ) -> None:
        self.fetch_max_wait_ms = fetch_max_wait_ms
        self.lean = lean
        self.stop_hooks: list[Callable[[], Awaitable[None]]] = []
        super().__init__(*args, **kwargs)

    async def on_stop(self) -> None:
        """Run the engine's stop hooks (e.g. close the delivery HTTP client), then Faust's."""
        for hook in self.stop_hooks:
            await hook()
        await super().on_stop()

    def _new_transport(self) -> Any:
        return _Transport(self.conf.broker_consumer, self)

    @cached_property
    def _reply_consumer(self) -> ReplyConsumer:
        return _AcklessReplyConsumer(self, loop=self.loop, beacon=self.beacon)


def engine_app(
    settings: Settings, datadir: Path, *, lean: bool = True, **specific: Any
) -> EngineApp:
    """An :class:`EngineApp` with the worker's Faust settings (broker, topics, group timing, fetch
    and message sizes) from ``settings``, plus ``specific`` ones (store, web server, replies).
    The worker and the benchmark's bare agent both build their app here, so the bare agent
    measures Faust as the worker configures it; the bare agent passes ``lean=False`` (Faust's
    own dispatch, 6 above)."""
    servers = [s.strip() for s in settings.kafka_bootstrap_servers.split(",") if s.strip()]
    return EngineApp(
        settings.app_id,
        broker=[f"kafka://{s}" for s in servers],
        datadir=str(datadir),
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication_factor,
        topic_disable_leader=True,
        broker_rebalance_timeout=settings.rebalance_timeout_s,
        broker_session_timeout=settings.session_timeout_s,
        broker_heartbeat_interval=settings.heartbeat_interval_s,
        consumer_max_fetch_size=settings.max_message_bytes,
        producer_max_request_size=settings.max_message_bytes,
        fetch_max_wait_ms=settings.fetch_max_wait_ms,
        lean=lean,
        **specific,
    )
