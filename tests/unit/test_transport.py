"""The worker consumer's seek after a rebalance: a partition nobody committed is read from its start.

Faust drops the records it fetched while its flow was stopped and relies on this seek to read them
again; aiokafka seeks only partitions with a committed offset, so without the rewind a partition
that held only unfinished alert events (a PagerDuty outage) lost them for good after a restart.
"""

from __future__ import annotations

import asyncio
from collections import namedtuple
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

from app.transport import _ConsumerThread

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
