"""A probe of a worker's event loop: where it stops, and for how long (not part of the engine).

Put this folder first on ``PYTHONPATH`` and name a file in ``ANOMALY_LOOP_PROBE``; a process
started as ``python -m app run`` (a bench's worker too: it inherits the environment) then
records, every 2 s into that file as JSON:

- ``gc``: each collection of the cyclic garbage collector (``gc.callbacks``) as totals per
  generation (count, wall and CPU seconds), and each one over 2 ms or of the oldest generation as
  ``[end time, generation, wall s, CPU s, objects collected]``;
- ``slow``: each loop callback (a step of a task: an agent's batch, a timer, the Kafka client)
  that ran over 10 ms, as ``[end time, wall s, CPU s, task's coroutine]``;
- ``heap``: the tracked objects per generation and frozen, every 10 s.

``python -m bench.loop_probe FILE`` summarises it. The CPU times are the main thread's
(``time.thread_time``): on a shared machine they show the work, the wall times the wait.
"""

from __future__ import annotations

import gc
import json
import os
import threading
import time
from typing import Any

PATH = os.environ.get("ANOMALY_LOOP_PROBE", "")
SLOW_S = 0.010


def _worker() -> bool:
    try:
        with open("/proc/self/cmdline", "rb") as f:
            argv = f.read().split(b"\0")
    except OSError:
        return False
    return b"app" in argv and b"run" in argv


def _install(path: str) -> None:
    import asyncio.events

    found: dict[str, Any] = {"gc_totals": [[0, 0.0, 0.0] for _ in range(3)], "gc": []}
    found.update(slow=[], heap=[], started=time.time())
    clock, cpu = time.perf_counter, time.thread_time
    began = [0.0, 0.0]

    def collected(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            began[0], began[1] = clock(), cpu()
            return
        wall, spent, generation = clock() - began[0], cpu() - began[1], info["generation"]
        totals = found["gc_totals"][generation]
        totals[0] += 1
        totals[1] += wall
        totals[2] += spent
        if wall > 0.002 or generation == 2:
            found["gc"].append([time.time(), generation, wall, spent, info["collected"]])

    gc.callbacks.append(collected)
    run = asyncio.events.Handle._run

    def timed_run(handle: Any) -> None:
        start, start_cpu = clock(), cpu()
        run(handle)
        wall = clock() - start
        if wall > SLOW_S:
            task = getattr(handle._callback, "__self__", None)
            name = ""
            if task is not None and hasattr(task, "get_coro"):
                name = getattr(task.get_coro(), "__qualname__", "")
            found["slow"].append([time.time(), wall, cpu() - start_cpu, name or repr(handle)[:80]])

    asyncio.events.Handle._run = timed_run  # type: ignore[method-assign]

    def write() -> None:
        ticks = 0
        while True:
            time.sleep(2)
            ticks += 1
            if ticks % 5 == 0:
                sizes = [len(gc.get_objects(generation)) for generation in range(3)]
                found["heap"].append([time.time(), sizes, gc.get_freeze_count()])
            with open(path, "w") as f:
                json.dump(found, f)

    threading.Thread(target=write, daemon=True, name="loop-probe").start()


if PATH and _worker():
    _install(PATH)
