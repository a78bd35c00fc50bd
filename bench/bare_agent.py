"""A Faust agent that only decodes and counts: what Faust itself costs per message here.

The app is built as the engine's (:func:`app.worker.transport.engine_app`: the same app class and Faust
settings, the worker's fetch wait, rebalance timing and fetch sizes), with the ``memory://`` store
and no web server; one agent over the metrics topic, no tables, no scoring. It keeps Faust's own
per-message path (``lean=False``: Faust's drainer dispatches each message through its tasks),
which the engine's worker does without (see
``app.worker.transport``): the reference is plain Faust as a user writes it. Run by the bench as a process:

    BENCH_EXPECT=<points> BENCH_RESULT=<file> ANOMALY_APP_ID=... ANOMALY_METRICS_TOPIC=... \\
        python -m bench.bare_agent

When it has counted ``BENCH_EXPECT`` points it writes ``BENCH_RESULT`` (JSON): the wall time, point
count and CPU time of the process when a tenth of the points had been counted, and when all had.
It runs under the worker's garbage-collector policy (``app.worker.gc_policy``), as the engine's
worker does.

With ``BENCH_TABLE_WRITE=1`` the agent also writes one row per message to a Faust table (the
message's key: its point count so far), as Faust's own examples write state: ``table[key] =
value`` inside the stream, one changelog record per message. That is the reference for what a
state write per message costs Faust (issue 16: the engine writes its rows back once per interval).
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

import orjson
from faust import Worker

from app.worker.gc_policy import tune_collector
from app.worker.settings import Settings, get_settings
from app.worker.transport import EngineApp, engine_app
from bench.workload import count_points

WARMUP_FRACTION = 0.1


def build_app(
    settings: Settings, expect: int, result: Path, table_write: bool = False
) -> EngineApp:
    """The counting app; writes ``result`` once ``expect`` points went through. With
    ``table_write`` each message also sets its key's row in a table (a changelog record)."""
    datadir = Path(settings.data_dir or f".anomaly-data/{settings.app_id}")
    datadir.mkdir(parents=True, exist_ok=True)
    app = engine_app(settings, datadir, lean=False, store="memory://", web_enabled=False)
    topic = app.topic(
        settings.metrics_topic,
        partitions=settings.partitions,
        key_serializer="raw",
        value_serializer="raw",
    )
    rows: Any = (
        app.Table("bench_rows", default=None, partitions=settings.partitions)
        if table_write
        else None
    )
    mark = max(1, int(expect * WARMUP_FRACTION))
    seen: dict[str, Any] = {"points": 0, "messages": 0, "start": None, "done": False}

    async def count_messages(stream: Any) -> None:
        async for event in stream.events():
            seen["points"] += count_points(orjson.loads(event.value))
            seen["messages"] += 1
            if rows is not None:
                key = event.key.decode()
                rows[key] = (rows.get(key) or 0) + 1
            if seen["start"] is None and seen["points"] >= mark:
                seen["start"] = [time.time(), seen["points"], time.process_time()]
            if not seen["done"] and seen["points"] >= expect:
                seen["done"] = True
                document = {
                    "start": seen["start"],
                    "end": [time.time(), seen["points"], time.process_time()],
                    "messages": seen["messages"],
                }
                partial = result.with_suffix(".partial")
                partial.write_bytes(orjson.dumps(document))
                partial.rename(result)

    app.agent(topic, name="count_messages")(count_messages)
    return app


def main() -> None:
    settings = get_settings()
    expect = int(os.environ["BENCH_EXPECT"])
    result = Path(os.environ["BENCH_RESULT"])
    app = build_app(settings, expect, result, os.environ.get("BENCH_TABLE_WRITE") == "1")
    tune_collector()  # as app.worker.start does for the engine's worker
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    Worker(app, loglevel=settings.log_level, loop=loop).execute_from_commandline()


if __name__ == "__main__":
    main()
