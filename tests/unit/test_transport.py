"""The worker consumer's seek after a rebalance: a partition nobody committed is read from its start.

Faust drops the records it fetched while its flow was stopped and relies on this seek to read them
again; aiokafka seeks only partitions with a committed offset, so without the rewind a partition
that held only unfinished alert events (a PagerDuty outage) lost them for good after a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import namedtuple
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

from app.worker.transport import _ConsumerThread

TP = namedtuple("TP", "topic partition")
ALERTS, REPLIES, CHANGELOG = "anomaly.alerts", "f-reply-1", "app-deliveries-changelog"


class Consumer:
    """The part of aiokafka's consumer the seek uses, with the group's committed offsets."""

    def __init__(self, committed: dict[Any, int | None]) -> None:
        self._committed = committed
        self.asked: list[Any] = []
        self.sought: dict[Any, int] = {}

    def assignment(self) -> set[Any]:
        return set(self._committed)

    async def committed(self, tp: Any) -> int | None:
        self.asked.append(tp)
        await asyncio.sleep(0)
        return self._committed[tp]

    def seek(self, tp: Any, offset: int) -> None:
        assert len(self.asked) == len(self._committed), "a seek before every offset was known"
        self.sought[tp] = offset


def seek(committed: dict[Any, int | None]) -> dict[Any, int]:
    """Where the worker consumer seeks each partition, given the group's ``committed`` offsets."""
    consumer = Consumer(committed)
    thread = object.__new__(_ConsumerThread)
    thread.app = SimpleNamespace(topics=SimpleNamespace(acks_enabled_for=lambda t: t == ALERTS))
    thread._ensure_consumer = lambda: consumer  # type: ignore[method-assign]

    async def call_thread(fun: Callable[..., Any], *args: Any) -> Any:
        return await fun(*args)

    thread.call_thread = call_thread  # type: ignore[method-assign]
    assert asyncio.run(thread.seek_to_committed()) == committed  # Faust's read offsets from it
    return consumer.sought


def test_a_never_committed_partition_is_read_again_from_its_beginning() -> None:
    committed = {TP(ALERTS, 0): 6, TP(ALERTS, 1): None, TP(ALERTS, 2): None, TP(ALERTS, 3): 4}
    assert seek(committed) == {
        TP(ALERTS, 0): 6,
        TP(ALERTS, 1): 0,
        TP(ALERTS, 2): 0,
        TP(ALERTS, 3): 4,
    }


def test_unacked_topics_without_a_committed_offset_stay_where_they_are() -> None:
    committed = {TP(ALERTS, 0): 6, TP(REPLIES, 0): None, TP(CHANGELOG, 0): None}
    assert seek(committed) == {TP(ALERTS, 0): 6}


# A fetch that spans a rebalance (app/worker/transport.py, item 5).

R = namedtuple("R", "offset")
STREAM, STATE = TP("telemetry.metrics", 3), TP("app-entity_state-changelog", 3)


class Broker:
    """aiokafka's consumer as the worker's fetch sees it: a log and a position per partition;
    ``fetched_records`` waits for records and returns (consumes) those of the partitions asked
    for, of every partition when the set is empty; ``seek`` moves a position."""

    _closed = False

    def __init__(self, log: dict[Any, list[Any]], during_wait: Callable[[], None]) -> None:
        self.log, self.position = log, dict.fromkeys(log, 0)
        self._fetcher, self._subscriptions = (
            self,
            SimpleNamespace(fetch_context=contextlib.nullcontext),
        )
        self.during_wait = during_wait
        self.asked: list[frozenset[Any]] = []

    def assignment(self) -> set[Any]:
        return set(self.log)

    def seek(self, tp: Any, offset: int) -> None:
        self.position[tp] = offset

    async def fetched_records(self, partitions: Any, timeout: Any, max_records: Any) -> Any:
        self.asked.append(frozenset(partitions))
        self.during_wait()  # what happens while the fetch waits
        records = {}
        for tp, log in self.log.items():
            if (not partitions or tp in partitions) and log[self.position[tp] :]:
                records[tp] = log[self.position[tp] :]
                self.position[tp] = len(log)
        return records


class Faust:
    """The side of Faust's consumer the fetch reads: its flow, its set of active partitions."""

    def __init__(self, active: set[Any]) -> None:
        self.flow_active, self.active, self._buffered_partitions = True, active, set()

    def fetch(self, broker: Broker) -> Any:
        """One ``getmany``: the worker's fetch, then what Faust takes of its answer."""
        thread = object.__new__(_ConsumerThread)
        thread.consumer = self
        records = asyncio.run(thread._fetch_records(broker, self.active, timeout=1.0))
        return {tp: rs for tp, rs in records.items() if self.flow_active and tp in self.active}


def test_records_fetched_while_a_rebalance_paused_everything_are_read_again() -> None:
    """The rebalance that left a worker its partitions: Faust's set was emptied in place while
    the fetch waited, and a new recovery sought the table's changelog to its start. The
    recovery must get the changelog's records once its flow runs again."""
    faust = Faust({STREAM})
    broker = Broker({STREAM: [], STATE: [R(0), R(1), R(2), R(3)]}, lambda: None)
    broker.position[STATE] = 4  # written by this worker, never read

    def rebalance() -> None:
        faust.active.clear()  # on_partitions_revoked pauses the whole assignment
        faust.flow_active = False
        broker.seek(STATE, 0)  # the new recovery reads the changelog from its start

    broker.during_wait = rebalance
    assert faust.fetch(broker) == {}  # the flow is stopped: Faust takes nothing
    broker.during_wait = lambda: None
    faust.flow_active, faust.active = True, {STATE}  # the recovery resumes the changelog
    assert faust.fetch(broker) == {STATE: [R(0), R(1), R(2), R(3)]}


def test_an_empty_set_of_partitions_fetches_nothing() -> None:
    broker = Broker({STREAM: [R(0)]}, lambda: None)
    assert Faust(set()).fetch(broker) == {}
    assert broker.asked == []  # aiokafka would have read it as every partition
    assert broker.position[STREAM] == 0


def test_a_partition_paused_during_the_fetch_is_read_again_the_others_kept() -> None:
    faust = Faust({STREAM, STATE})
    broker = Broker({STREAM: [R(0), R(1)], STATE: [R(0)]}, lambda: faust.active.discard(STATE))
    assert faust.fetch(broker) == {STREAM: [R(0), R(1)]}
    assert broker.position == {STREAM: 2, STATE: 0}  # STATE's record is read again later


def test_an_ordinary_fetch_is_returned_as_it_is() -> None:
    broker = Broker({STREAM: [R(0)], STATE: [R(0)]}, lambda: None)
    assert Faust({STREAM}).fetch(broker) == {STREAM: [R(0)]}
    assert broker.position == {STREAM: 1, STATE: 0}
