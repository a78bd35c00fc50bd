"""What makes a message count as consumed: its rows on the broker, and no record skipped
(unit tests of app.worker.pending_writes, app.worker.write_back and app.worker.progress)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest
from faust.types import TP

from app.telemetry.events import event_ids
from app.telemetry.messages import message_ids
from app.worker import progress
from app.worker.engine import Engine
from app.worker.metrics import EngineMetrics
from app.worker.pending_writes import PendingWrites
from app.worker.progress import PartitionPositions, position_key, stored_position
from app.worker.streams import TelemetryHandler
from app.worker.write_back import WriteBack
from incidents.points import TelemetryError


class SlowChangelog:
    """A Faust table stand-in whose changelog records reach the broker only when the test
    completes their futures."""

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}
        self.sent: list[asyncio.Future[Any]] = []
        self.records: list[tuple[str, Any]] = []  # (key, value) in the order sent

    def get(self, key: str) -> Any:
        return self.data.get(key)

    def send_changelog(self, partition: int, key: str, value: Any) -> asyncio.Future[Any]:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.sent.append(future)
        self.records.append((key, value))
        return future


def test_delivered_waits_for_every_changelog_record_of_the_batch() -> None:
    asyncio.run(_delivered_waits())


async def _delivered_waits() -> None:
    rows, stats = SlowChangelog(), SlowChangelog()
    pending = PendingWrites(rows, stats)
    pending.set_row("host-1", 0, {"n": 1})
    pending.add_stats("m|p0", 0, {"points": 1})
    pending.flush()
    waiting = asyncio.ensure_future(pending.delivered())
    await asyncio.sleep(0)
    rows.sent[0].set_result("offset 7")
    await asyncio.sleep(0)
    assert not waiting.done()  # the counters' record is still on its way
    stats.sent[0].set_result("offset 8")
    await asyncio.wait_for(waiting, 1)


def test_a_failed_changelog_record_fails_the_batch() -> None:
    asyncio.run(_failed_record())


async def _failed_record() -> None:
    rows = SlowChangelog()
    pending = PendingWrites(rows, SlowChangelog())
    pending.set_row("host-1", 0, {"n": 1})
    pending.flush()
    rows.sent[0].set_exception(RuntimeError("broker gone"))
    with pytest.raises(RuntimeError, match="broker gone"):
        await pending.delivered()


def test_a_partition_never_read_is_read_from_its_first_offset() -> None:
    positions = PartitionPositions()
    # A worker that took the partition over started where its fetcher stood (seen: 808).
    assert positions.check("metrics", 0, 808, stored=None) == "rewind"
    assert positions.rewind_to("metrics", 0) == 0
    assert positions.check("metrics", 0, 809, stored=None) == "drop"
    assert positions.check("metrics", 0, 0, stored=None) == "apply"
    assert positions.rewind_to("metrics", 0) is None


def test_records_gone_from_the_broker_do_not_block_the_partition() -> None:
    positions = PartitionPositions()
    assert positions.check("metrics", 1, 500, stored=120) == "rewind"
    # Read again from 120, the first record back is 300: maybe 120-299 were dropped on the way,
    # so the partition is read once more (records after 300 are from the first re-read).
    assert positions.check("metrics", 1, 300, stored=120) == "drop"
    assert positions.check("metrics", 1, 301, stored=120) == "drop"
    # The second re-read starts at 300 too: retention removed the rest; go on from there.
    assert positions.check("metrics", 1, 300, stored=120) == "apply"
    assert positions.check("metrics", 1, 301, stored=301) == "apply"


def test_a_re_read_that_starts_late_once_is_read_again() -> None:
    positions = PartitionPositions()
    assert positions.check("metrics", 0, 484, stored=298) == "rewind"
    assert positions.check("metrics", 0, 303, stored=298) == "drop"  # 298-302 lost on the way
    assert positions.check("metrics", 0, 298, stored=298) == "apply"  # the second re-read


def test_partitions_rewind_independently_and_a_new_assignment_forgets_rewinds() -> None:
    positions = PartitionPositions()
    positions.new_generation(4)
    assert positions.check("metrics", 0, 50, stored=10) == "rewind"
    assert positions.check("metrics", 1, 7, stored=7) == "apply"
    assert positions.check("logs", 0, 51, stored=51) == "apply"
    positions.new_generation(4)  # same assignment: the rewind stands
    assert positions.check("metrics", 0, 60, stored=10) == "drop"
    positions.new_generation(5)  # sought to its committed offset by the rebalance: check anew
    assert positions.check("metrics", 0, 10, stored=10) == "apply"


def test_a_rewind_that_brings_nothing_back_is_asked_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = [100.0]
    monkeypatch.setattr(progress.time, "monotonic", lambda: clock[0])
    positions = PartitionPositions()
    positions.check("metrics", 2, 90, stored=40)
    assert positions.overdue() == []
    clock[0] += progress.RESEEK_AFTER_S + 1
    assert positions.overdue() == [("metrics", 2, 40)]
    assert positions.overdue() == []  # asked again just now


def test_position_rows_cannot_be_reached_by_an_entity_name() -> None:
    key = position_key("telemetry.metrics", 0)
    assert stored_position({"next": 42}) == 42 and stored_position(None) is None
    with pytest.raises(TelemetryError, match="NUL"):
        message_ids({"model_id": "m", "entity": key})
    with pytest.raises(TelemetryError, match="NUL"):
        event_ids({"entity": key})


class RowPerMessage(TelemetryHandler):
    """The real batch handling, with each message's scoring reduced to writing one row."""

    async def handle(self, event: Any, stream: str, pending: PendingWrites) -> list[Any]:
        pending.set_row(f"entity-{event.message.offset}", event.message.partition, {"n": 1})
        return []


class ProducerBuffer:
    """Faust's producer buffer stand-in: counts the flushes that hand records to the client."""

    state = "running"

    def __init__(self) -> None:
        self.flushes = 0

    async def flush(self) -> None:
        self.flushes += 1


def _batch_engine(interval_s: float = 0.0, clock: list[float] | None = None) -> Any:
    async def nothing(*args: Any) -> None:
        return None

    consumer = SimpleNamespace(assignment=lambda: {TP("metrics", 0)}, seek_wait=nothing)
    producer = SimpleNamespace(buffer=ProducerBuffer())
    now = clock or [0.0]
    engine = SimpleNamespace(
        entity_state=SlowChangelog(),
        model_stats=SlowChangelog(),
        positions=PartitionPositions(),
        app=SimpleNamespace(consumer_generation_id=1, consumer=consumer, producer=producer),
        publish_events=nothing,
        settings=None,
        metrics=EngineMetrics(process=False),
    )
    engine.hand_over = lambda: Engine.hand_over(engine)
    engine.write_back = WriteBack(interval_s, hand_over=engine.hand_over, clock=lambda: now[0])
    engine.pending_writes = lambda later=False: Engine.pending_writes(engine, later=later)
    return engine


def _events(*offsets: int) -> list[Any]:
    return [
        SimpleNamespace(message=SimpleNamespace(tp=TP("metrics", 0), partition=0, offset=o))
        for o in offsets
    ]


POSITION = position_key("metrics", 0)


def test_with_no_interval_a_batch_is_acknowledged_before_its_rows_arrive_but_the_next_waits() -> (
    None
):
    asyncio.run(_next_batch_waits())


async def _next_batch_waits() -> None:
    engine = _batch_engine(interval_s=0.0)
    handler = RowPerMessage(engine)
    rows = engine.entity_state
    # The first batch returns (so is acknowledged) with its rows handed to the client and
    # still on their way, its position after them.
    await asyncio.wait_for(handler.handle_batch(_events(0, 1), "metrics"), 1)
    assert rows.records == [("entity-0", {"n": 1}), ("entity-1", {"n": 1}), (POSITION, {"next": 2})]
    assert not any(f.done() for f in rows.sent)
    assert engine.app.producer.buffer.flushes == 1
    first_batch = list(rows.sent)
    second = asyncio.ensure_future(handler.handle_batch(_events(2), "metrics"))
    for _ in range(5):
        await asyncio.sleep(0)
    # Scored and its row sent and in the table (what the REST agent reads while the stream
    # waits), but its position waits for the first batch's rows to reach the broker.
    assert not second.done() and rows.records[-1] == ("entity-2", {"n": 1})
    for future in first_batch:
        future.set_result("stored")
    await asyncio.wait_for(second, 1)
    assert rows.records[-1] == (POSITION, {"next": 3}) and rows.data[POSITION] == {"next": 3}


def test_rows_stay_in_memory_until_the_interval_and_go_once_however_many_batches() -> None:
    asyncio.run(_written_back())


class SameEntity(TelemetryHandler):
    """Every message changes the same entity's row."""

    async def handle(self, event: Any, stream: str, pending: PendingWrites) -> list[Any]:
        pending.set_row("host-1", event.message.partition, {"last": event.message.offset})
        pending.add_stats("m|p0", event.message.partition, {"points": 1})
        return []


async def _written_back() -> None:
    clock = [0.0]
    engine = _batch_engine(interval_s=1.0, clock=clock)
    handler = SameEntity(engine)
    rows, stats = engine.entity_state, engine.model_stats
    for offset in range(5):
        clock[0] += 0.1
        await handler.handle_batch(_events(offset), "metrics")
    # Readers see the rows and counters at once; the changelogs have nothing yet.
    assert rows.data["host-1"] == {"last": 4} and rows.data[POSITION] == {"next": 5}
    assert stats.data["m|p0"] == {"points": 5}
    assert rows.records == [] and stats.records == []
    clock[0] += 1.0
    await handler.handle_batch(_events(5), "metrics")
    assert rows.records == []  # the engine's timer flushes, not the agent
    await Engine._flush_due(engine)
    assert rows.records == [("host-1", {"last": 5}), (POSITION, {"next": 6})]
    assert stats.records == [("m|p0", {"points": 6})]


def test_a_flush_sends_positions_only_once_the_previous_flush_is_on_the_broker() -> None:
    asyncio.run(_positions_wait())


async def _positions_wait() -> None:
    engine = _batch_engine(interval_s=1.0)
    handler = RowPerMessage(engine)
    rows, cache = engine.entity_state, engine.write_back
    await handler.handle_batch(_events(0), "metrics")
    await cache.flush()
    first = list(rows.sent)
    await handler.handle_batch(_events(1), "metrics")
    second = asyncio.ensure_future(cache.flush())
    for _ in range(5):
        await asyncio.sleep(0)
    assert not second.done() and rows.records[-1] == ("entity-1", {"n": 1})
    # Meanwhile the stream goes on: its position moves on in memory, and the flush, once the
    # broker has the first flush, writes the position of what it wrote, not the newer one.
    await handler.handle_batch(_events(2), "metrics")
    for future in first:
        future.set_result("stored")
    await asyncio.wait_for(second, 1)
    assert rows.records[-1] == (POSITION, {"next": 2}) and rows.data[POSITION] == {"next": 3}
    for future in rows.sent:
        if not future.done():
            future.set_result("stored")
    await asyncio.wait_for(cache.flush(), 1)
    assert rows.records[-2:] == [("entity-2", {"n": 1}), (POSITION, {"next": 3})]


def test_a_revoke_writes_every_dirty_row_and_waits_for_the_broker() -> None:
    asyncio.run(_revoke())


async def _revoke() -> None:
    engine = _batch_engine(interval_s=60.0)
    handler = RowPerMessage(engine)
    rows = engine.entity_state
    await handler.handle_batch(_events(0, 1), "metrics")
    assert rows.records == []
    revoke = asyncio.ensure_future(Engine._flush_before_revoke(engine, {TP("metrics", 0)}))
    for _ in range(5):
        await asyncio.sleep(0)
    assert not revoke.done()  # the rows and positions are sent; the broker has not answered
    assert [key for key, _ in rows.records] == ["entity-0", "entity-1", POSITION]
    for future in rows.sent:
        future.set_result("stored")
    await asyncio.wait_for(revoke, 1)


def test_a_lost_row_stops_the_stream_before_a_later_position_counts_it() -> None:
    asyncio.run(_lost_row())


async def _lost_row() -> None:
    engine = _batch_engine(interval_s=0.0)
    handler = RowPerMessage(engine)
    rows = engine.entity_state
    await handler.handle_batch(_events(0), "metrics")
    rows.sent[0].set_exception(RuntimeError("broker gone"))
    rows.sent[1].set_result("stored")
    with pytest.raises(RuntimeError, match="broker gone"):
        await handler.handle_batch(_events(1), "metrics")
    # The next owner re-reads offset 0 onwards: no position counts the lost row (the second
    # batch's row went out; its message counts as applied when it is read again), and no
    # later flush writes one either.
    assert rows.records[-1] == ("entity-1", {"n": 1}) and len(rows.sent) == 3
    with pytest.raises(RuntimeError, match="broker gone"):
        await engine.write_back.flush()
    assert len(rows.sent) == 3


class SpikeAt(TelemetryHandler):
    """One row per message; the message at ``offset`` opens an incident."""

    def __init__(self, engine: Any, offset: int) -> None:
        super().__init__(engine)
        self.spike = offset
        self.scored: list[int] = []

    async def handle(self, event: Any, stream: str, pending: PendingWrites) -> list[Any]:
        offset = event.message.offset
        self.scored.append(offset)
        pending.set_row(f"entity-{offset}", event.message.partition, {"n": 1})
        return [{"entity": f"entity-{offset}", "event": "open"}] if offset == self.spike else []


def test_an_incident_is_published_before_the_rest_of_its_batch_is_scored() -> None:
    asyncio.run(_published_at_once())


async def _published_at_once() -> None:
    engine = _batch_engine(interval_s=1.0)
    handler = SpikeAt(engine, offset=1)
    seen: list[tuple[list[int], Any]] = []

    async def publish(events: list[Any]) -> None:
        seen.append((list(handler.scored), engine.entity_state.data.get("entity-1")))

    engine.publish_events = publish
    await handler.handle_batch(_events(0, 1, 2, 3), "metrics")
    # Published when its own message was scored, with its row already in the table (what
    # another agent reads during the send), not once messages 2 and 3 were.
    assert seen == [([0, 1], {"n": 1})]
    assert handler.scored == [0, 1, 2, 3]
    assert engine.entity_state.data[POSITION] == {"next": 4}


def test_a_rebalance_during_a_publish_leaves_the_rest_of_the_batch_and_its_position() -> None:
    asyncio.run(_rebalanced_during_publish())


async def _rebalanced_during_publish() -> None:
    engine = _batch_engine(interval_s=1.0)
    handler = SpikeAt(engine, offset=1)
    await handler.handle_batch(_events(0), "metrics")
    assert engine.entity_state.data[POSITION] == {"next": 1}

    async def publish(events: list[Any]) -> None:
        engine.app.consumer_generation_id += 1  # the partitions went and came back meanwhile

    engine.publish_events = publish
    await handler.handle_batch(_events(1, 2, 3), "metrics")
    # Message 1 is scored and its row kept (its row's offset skips it when read again); 2 and
    # 3 are left, and the position stays where it was: the owner reads from offset 1 again.
    assert handler.scored == [0, 1]
    assert engine.entity_state.data["entity-1"] == {"n": 1}
    assert engine.entity_state.data[POSITION] == {"next": 1}
