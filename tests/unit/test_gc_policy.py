"""The worker's garbage-collector settings (app/worker/gc_policy.py): rows that live until the
next write-back flush must not bring full collections, whose pauses were the tail of
produce → incident. The latency itself is measured by ``python -m bench --only latency``."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

from app.worker.gc_policy import freeze_startup_heap, tune_collector


@contextmanager
def collector_state() -> Iterator[list[int]]:
    """An empty oldest generation to start from (what is there now is frozen), the generations
    of the full collections run inside, and the collector as it was afterwards."""
    saved = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.collect()  # the oldest generation is empty: its size no longer depends on the test run
    full: list[int] = []

    def count(phase: str, info: dict[str, int]) -> None:
        if phase == "stop" and info["generation"] == 2:
            full.append(1)

    gc.callbacks.append(count)
    try:
        yield full
    finally:
        gc.callbacks.remove(count)
        gc.set_threshold(*saved)
        gc.unfreeze()


def stream_of_messages(messages: int, interval: int) -> None:
    """What a worker does per message, in containers: some garbage, and the entity's new row,
    held (as the write-back cache holds it) until the flush every ``interval`` messages."""
    dirty: dict[int, dict[str, object]] = {}
    for n in range(messages):
        scratch = [{"point": [n, n]} for _ in range(3)]
        dirty[n % 200] = {  # a row: its parts, the model's state, the recent events
            "offsets": {"metrics": [n]},
            "models": {"m": {"threshold": [n], "history": [[n], [n]]}},
            "shared": {"open": None, "correlation": {"cpu": [n]}},
            "recent": [{"ts": n, "events": scratch}],
        }
        if n % interval == interval - 1:
            dirty = {}  # flushed: the rows of the interval go


def test_rows_held_until_the_flush_bring_no_full_collection() -> None:
    with collector_state() as default_full:
        gc.set_threshold(700, 10, 10)  # CPython's default
        stream_of_messages(200_000, interval=1_000)
    with collector_state() as tuned_full:
        tune_collector()
        stream_of_messages(200_000, interval=1_000)
    assert len(default_full) >= 3  # what the worker ran into with the default
    assert tuned_full == []


def test_the_heap_of_start_up_is_out_of_every_generation() -> None:
    made_before = {"kept": [1, 2, 3]}
    try:
        frozen = freeze_startup_heap()
        made_after = {"kept": [4]}
        tracked = {id(obj) for obj in gc.get_objects()}
        assert frozen > 0
        assert id(made_before) not in tracked  # no collection walks it again
        assert id(made_after) in tracked  # what the worker makes later is collected as before
    finally:
        gc.unfreeze()
