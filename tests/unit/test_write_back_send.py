"""The write-back cache's flush with records sent straight to the Kafka client
(``app.worker.pending_writes.send``), past Faust's producer buffer."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest
from faust.types import TP

from app.worker.pending_writes import send
from app.worker.progress import position_key
from app.worker.write_back import WriteBack


class Store(dict[str, Any]):
    def __init__(self) -> None:
        super().__init__()
        self.persisted: dict[TP, int] = {}

    def set_persisted_offset(self, tp: TP, offset: int) -> None:
        self.persisted[tp] = offset


class Producer:
    """Faust's producer as ``send`` uses it: each record's future, completed by the test."""

    def __init__(self) -> None:
        self.records: list[tuple[str, bytes, bytes | None, int]] = []
        self.futures: list[asyncio.Future[Any]] = []

    async def send(self, topic: str, key: bytes, value: bytes | None, partition: int, *_: Any):
        self.records.append((topic, key, value, partition))
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.futures.append(future)
        return future

    def deliver(self) -> None:
        for offset, future in enumerate(self.futures):
            if not future.done():
                future.set_result(SimpleNamespace(offset=offset))


class Topic:
    def prepare_key(self, key: str, serializer: str) -> tuple[bytes, None]:
        return f"{serializer}:{key}".encode(), None

    def prepare_value(self, value: Any, serializer: str) -> tuple[bytes, None]:
        return f"{serializer}:{value}".encode(), None

    def get_topic_name(self) -> str:
        return "app-entity_state-changelog"


class Table:
    def __init__(self, producer: Producer) -> None:
        self.data = Store()
        self.changelog_topic = Topic()
        self.key_serializer = self.value_serializer = "json"
        self.app = SimpleNamespace(producer=producer)
        self.through_faust: list[tuple[str, Any]] = []  # put_now's records (Faust's buffer)

    def send_changelog(self, partition: int, key: str, value: Any, **_: Any) -> None:
        self.through_faust.append((key, value))


def on_send(producer: Producer) -> tuple[Table, WriteBack]:
    """A table and a write-back cache whose flushes send through ``producer``."""
    return Table(producer), WriteBack(1.0, send=send)


async def until_sent(producer: Producer, count: int) -> None:
    """Let the event loop run until ``producer`` has ``count`` records (a flush in progress)."""
    for _ in range(1000):
        if len(producer.records) >= count:
            return
        await asyncio.sleep(0)
    raise AssertionError(f"{len(producer.records)} records sent, not {count}")


def test_send_serialises_with_the_tables_codecs_and_keeps_the_persisted_offset() -> None:
    async def scenario() -> None:
        producer = Producer()
        table = Table(producer)
        table.data["host-1"] = {"n": 1}
        row = await send(table, 2, "host-1", {"n": 1})
        tombstone = await send(table, 3, "host-2", None)
        assert producer.records == [
            ("app-entity_state-changelog", b"json:host-1", b"json:{'n': 1}", 2),
            ("app-entity_state-changelog", b"json:host-2", None, 3),
        ]
        assert table.data == {"host-1": {"n": 1}}  # the store is the caller's to set
        producer.deliver()
        await asyncio.gather(row, tombstone)
        assert table.data.persisted == {
            TP("app-entity_state-changelog", 2): 0,
            TP("app-entity_state-changelog", 3): 1,
        }

    asyncio.run(scenario())


def test_a_flush_sends_rows_then_positions_once_the_previous_flush_is_on_the_broker() -> None:
    async def scenario() -> None:
        producer = Producer()
        rows, cache = on_send(producer)
        position = position_key("telemetry.metrics", 0)
        cache.put_later(rows, 0, "host-1", {"n": 1})
        await cache.flush()
        cache.put_later(rows, 0, position, {"next": 5})
        cache.put_later(rows, 0, "host-1", {"n": 2})
        flushing = asyncio.ensure_future(cache.flush())
        await until_sent(producer, 2)
        # host-1's new row went out; the position waits for the first flush's record
        assert [r[1] for r in producer.records] == [b"json:host-1", b"json:host-1"]
        assert not flushing.done()
        producer.deliver()
        await flushing
        assert producer.records[-1][1:3] == (f"json:{position}".encode(), b"json:{'next': 5}")
        assert rows.data == {"host-1": {"n": 2}, position: {"next": 5}}

    asyncio.run(scenario())


def test_a_row_written_through_during_a_flush_is_sent_with_its_new_value() -> None:
    async def scenario() -> None:
        producer = Producer()
        rows, cache = on_send(producer)
        cache.put_later(rows, 0, "host-1", {"n": 1})
        await cache.flush()  # a record on its way: the next flush waits for it
        cache.put_later(rows, 0, "host-2", {"n": 1})
        cache.put_later(rows, 0, position_key("t", 0), {"next": 2})
        flushing = asyncio.ensure_future(cache.flush())
        await until_sent(producer, 2)  # host-2's row out, the position waiting for host-1's
        cache.put_now(rows, 0, position_key("t", 0), {"next": 3})  # e.g. the sweeper
        producer.deliver()
        await flushing
        assert producer.records[-1][2] == b"json:{'next': 3}"
        assert rows.through_faust == [(position_key("t", 0), {"next": 3})]

    asyncio.run(scenario())


def test_what_a_failed_send_left_goes_with_the_next_flush() -> None:
    async def scenario() -> None:
        producer = Producer()
        rows = Table(producer)
        calls = []

        async def flaky(table: Any, partition: int, key: str, value: Any) -> Any:
            calls.append(key)
            if len(calls) == 2:
                raise RuntimeError("producer stopped")
            return await send(table, partition, key, value)

        cache = WriteBack(1.0, send=flaky)
        for entity in ("host-1", "host-2", "host-3"):
            cache.put_later(rows, 0, entity, {"n": 1})
        with pytest.raises(RuntimeError):
            await cache.flush()
        assert cache.dirty == 2  # host-2 and host-3
        producer.deliver()
        await cache.flush()
        assert sorted(r[1] for r in producer.records) == [
            b"json:host-1",
            b"json:host-2",
            b"json:host-3",
        ]

    asyncio.run(scenario())


def test_a_flush_of_many_rows_lets_the_agents_run_between_slices() -> None:
    async def scenario() -> None:
        producer = Producer()
        rows, cache = on_send(producer)
        for n in range(100):
            cache.put_later(rows, 0, f"host-{n}", {"n": n})
        flushing = asyncio.ensure_future(cache.flush())
        seen = []

        async def agent() -> None:
            seen.append(len(producer.records))
            cache.put_later(rows, 0, "host-0", {"n": -1})  # scored meanwhile: the next flush

        await asyncio.gather(flushing, agent())
        assert 0 < seen[0] < 100 and len(producer.records) == 100
        assert cache.dirty == 1 and rows.data["host-0"] == {"n": -1}

    asyncio.run(scenario())


def test_a_key_scored_again_during_a_flush_is_sent_with_the_state_its_row_had() -> None:
    """The worker's key states are written from their live objects when serialised; a flush
    sends its rows one by one while the agents go on, so a key scored again before its row
    went must still send the state of that row, not the one its objects moved on to."""
    import json

    from app.worker.write_back import SEND_SLICE
    from incidents.config import ModelConfig
    from incidents.live import LiveCache
    from incidents.scoring import score_batch

    config = ModelConfig.from_dict({"model_id": "m", "detector": "ewma", "warmup": 2})

    class JsonTopic(Topic):
        def prepare_value(self, value: Any, serializer: str) -> tuple[bytes, None]:
            return json.dumps(value, default=dict).encode(), None

    async def scenario() -> None:
        producer = Producer()
        rows, cache = on_send(producer)
        rows.changelog_topic = JsonTopic()
        live = LiveCache()
        entities = [f"host-{i}" for i in range(SEND_SLICE + 4)]
        for entity in entities:
            out = score_batch(config, entity, None, [0.0, 1.0], [[1.0], [2.0]], cache=live)
            cache.put_later(rows, 0, entity, {"models": {"m": out.state}})
        last = entities[-1]
        want = score_batch(config, last, None, [0.0, 1.0], [[1.0], [2.0]]).state
        flushing = asyncio.ensure_future(cache.flush())
        await until_sent(producer, SEND_SLICE)
        assert not flushing.done()
        state = rows.data[last]["models"]["m"]  # the agent scores the key again meanwhile
        again = score_batch(config, last, state, [2.0], [[40.0]], cache=live)
        cache.put_later(rows, 0, last, {"models": {"m": again.state}})
        producer.deliver()
        await flushing
        sent = [json.loads(r[2]) for r in producer.records if r[1] == f"json:{last}".encode()]
        assert sent == [{"models": {"m": json.loads(json.dumps(want))}}]

    asyncio.run(scenario())
