"""The worker consumer's seek after a rebalance: a partition nobody committed is read from its start.

Faust drops the records it fetched while its flow was stopped and relies on this seek to read them
again; aiokafka seeks only partitions with a committed offset, so without the rewind a partition
that held only unfinished alert events (a PagerDuty outage) lost them for good after a restart.
"""

from __future__ import annotations

import asyncio
from collections import namedtuple
from types import SimpleNamespace
from typing import Any

import pytest
from faust.transport.drivers import aiokafka as faust_aiokafka

from app.transport import _ConsumerThread

TP = namedtuple("TP", "topic partition")
ALERTS, REPLIES, CHANGELOG = "anomaly.alerts", "f-reply-1", "app-deliveries-changelog"


def seek(committed: dict[Any, int | None], monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The partitions the worker consumer seeks to their beginning after ``committed``."""

    async def parent_seek(self: Any) -> dict[Any, int | None]:
        return committed

    monkeypatch.setattr(faust_aiokafka.AIOKafkaConsumerThread, "seek_to_committed", parent_seek)
    thread = object.__new__(_ConsumerThread)
    thread.app = SimpleNamespace(topics=SimpleNamespace(acks_enabled_for=lambda t: t == ALERTS))
    rewound: list[Any] = []

    async def seek_to_beginning(*partitions: Any) -> None:
        rewound.extend(partitions)

    thread.seek_to_beginning = seek_to_beginning  # type: ignore[method-assign]
    assert asyncio.run(thread.seek_to_committed()) == committed  # Faust's read offsets from it
    return rewound


def test_a_never_committed_partition_is_read_again_from_its_beginning(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    committed = {TP(ALERTS, 0): 6, TP(ALERTS, 1): None, TP(ALERTS, 2): None, TP(ALERTS, 3): 4}
    assert seek(committed, monkeypatch) == [TP(ALERTS, 1), TP(ALERTS, 2)]


def test_committed_partitions_and_unacked_topics_are_left_to_faust(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    committed = {TP(ALERTS, 0): 6, TP(REPLIES, 0): None, TP(CHANGELOG, 0): None}
    assert seek(committed, monkeypatch) == []
