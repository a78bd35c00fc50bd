"""End offsets that are right on every broker.

The embedded Tansu 0.6 broker answers ListOffsets(latest) with the base offset of the last record
batch plus one, not the last offset plus one: after a producer writes offsets 0-4 in one batch it
reports 1, while a fetch response reports the true high watermark (5). Faust recovers tables up to
the ListOffsets answer, so a restarted worker silently lost the tail of its state changelog (seen
here: 80 points written, 78 restored). Fetching the last batch and reading the high watermark of
the response gives the right answer on Tansu and the same answer as ListOffsets on Apache Kafka.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition


async def fetched_end_offsets(
    bootstrap: str | Sequence[str],
    listed: Mapping[Any, int | None],
    *,
    timeout: float = 10.0,
) -> dict[Any, int | None]:
    """Correct ``listed`` (ListOffsets answers, by topic-partition) with fetch high watermarks.

    Partitions listed as empty (0 or None) are returned unchanged: a broker that has records in a
    partition answers ListOffsets with at least 1.
    """
    result: dict[Any, int | None] = dict(listed)
    to_check = {tp: offset for tp, offset in listed.items() if offset}
    if not to_check:
        return result
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        fetch_max_wait_ms=10,
    )
    await consumer.start()
    try:
        tps = {tp: TopicPartition(tp.topic, tp.partition) for tp in to_check}
        consumer.assign(list(tps.values()))
        for tp, offset in to_check.items():
            consumer.seek(tps[tp], offset - 1)
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            pending = [tp for tp in to_check if consumer.highwater(tps[tp]) is None]
            if not pending:
                break
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"no fetch answer for {pending} within {timeout:.0f} s")
            await consumer.getmany(*[tps[tp] for tp in pending], timeout_ms=100)
        for tp, offset in to_check.items():
            highwater = consumer.highwater(tps[tp])
            result[tp] = max(offset, highwater) if highwater is not None else offset
    finally:
        await consumer.stop()
    return result
