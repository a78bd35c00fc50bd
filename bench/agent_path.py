"""CPU per message (single-point, or ``--points`` columnar) on a telemetry agent's whole path,
in-process: a real :class:`app.worker.engine.Engine` and its ``TelemetryHandler.handle_batch``
(admission, decoding, scoring, the row update, the write-back cache, positions, metrics) over
its in-memory tables, without Faust's consumer, the broker or the REST server. ``bench.hotspots`` times the scoring
path alone; the difference is what the agent adds around it. Faust's own cost per event is the
bare agent's (``bench.bare_agent``).

The engine is built with an address nothing listens on and never started: the consumer's
assignment is every metrics partition and incident events are dropped instead of published. The
messages are the bench's (``bench.workload``), their offsets per partition as a topic gives
them; the first fifth warms the keys up and is not timed. Prints the median CPU time per message
over ``--runs`` fresh engines:

    python -m bench.agent_path --messages 3000 --entities 50 --batch 20 --runs 3

With ``--profile``, one run under cProfile instead: the functions with the most own time per
message (a mypyc-compiled function counts the compiled functions it calls as its own).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import statistics
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from faust.types import TP

from app.worker.engine import Engine, partition_for
from app.worker.settings import get_settings
from bench.workload import README_CONFIG, messages
from incidents.config import ModelConfig


@dataclass
class _Message:
    topic: str
    partition: int
    offset: int
    tp: TP
    headers: list[Any] = field(default_factory=list)


@dataclass
class _Event:
    """What ``handle_batch`` reads of a Faust event."""

    message: _Message
    key: bytes
    value: bytes
    headers: list[Any] = field(default_factory=list)


def engine(datadir: str) -> Engine:
    """An engine with the README configuration, never started (see the module's text)."""
    settings = get_settings(
        kafka_bootstrap_servers="127.0.0.1:1", app_id="bench-agent-path", data_dir=datadir
    )
    built = Engine(settings)
    config = ModelConfig.from_dict(README_CONFIG)
    built.configs._configs[config.model_id] = README_CONFIG
    built.configs._models[config.model_id] = config
    tps = {TP(settings.metrics_topic, p) for p in range(settings.partitions)}
    built.app.consumer.assignment = lambda: tps  # type: ignore[method-assign]

    async def publish(events: list[dict[str, Any]]) -> list[Any]:
        return []

    built.publish_events = publish  # type: ignore[method-assign]
    return built


def events(built: Engine, count: int, entities: int, points: int = 1) -> list[_Event]:
    """``count`` messages of ``points`` points (columnar when more than one) over ``entities``
    keys, each on its key's partition.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     sent = events(engine(d), 3, 2)
    >>> [(e.key, e.message.offset) for e in sent]
    [(b'bench-0000', 0), (b'bench-0001', 0), (b'bench-0000', 1)]
    """
    settings = built.settings
    offsets: dict[int, int] = {}
    out = []
    for key, value in messages(count, points, entities):
        partition = partition_for(key.decode(), settings.partitions)
        offset = offsets.get(partition, 0)
        offsets[partition] = offset + 1
        tp = TP(settings.metrics_topic, partition)
        out.append(_Event(_Message(tp.topic, partition, offset, tp), key, value))
    return out


async def _timed(
    count: int,
    entities: int,
    batch: int,
    points: int = 1,
    profiler: cProfile.Profile | None = None,
) -> float:
    """CPU seconds per message of the timed four fifths (profiled by ``profiler``, if any)."""
    with tempfile.TemporaryDirectory() as datadir:
        built = engine(datadir)
        stream = events(built, count, entities, points)
        handler = built.telemetry
        warm = count // 5
        for i in range(0, warm, batch):
            await handler.handle_batch(stream[i : min(i + batch, warm)], "metrics")  # type: ignore[arg-type]
        started = time.process_time()
        if profiler is not None:
            profiler.enable()
        for i in range(warm, count, batch):
            await handler.handle_batch(stream[i : i + batch], "metrics")  # type: ignore[arg-type]
        if profiler is not None:
            profiler.disable()
        return (time.process_time() - started) / (count - warm)


def top_functions(
    count: int = 3000, entities: int = 50, batch: int = 20, points: int = 1, top: int = 12
) -> list[str]:
    """The ``top`` functions by own time of the agent path under cProfile, as
    ``"µs/message (share) function (file:line)"`` (times inflated by the profiler's own cost;
    the shares are the point).

    >>> lines = top_functions(count=100, entities=5, top=3)
    >>> len(lines) == 3 and all(" µs/message " in line for line in lines)
    True
    """
    profiler = cProfile.Profile()
    asyncio.run(_timed(count, entities, batch, points, profiler))
    n = count - count // 5
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    total = sum(own for _, _, own, _, _ in stats.values()) or 1.0
    ranked = sorted(stats.items(), key=lambda item: -item[1][2])[:top]
    return [
        f"{1e6 * own / n:.1f} µs/message ({own / total:.0%}) {name} ({Path(file).name}:{line})"
        for (file, line, name), (_, _, own, _, _) in ranked
    ]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.agent_path", description=__doc__)
    parser.add_argument("--messages", type=int, default=3000, help="messages (a fifth warm-up)")
    parser.add_argument("--entities", type=int, default=50, help="keys, round robin")
    parser.add_argument("--batch", type=int, default=20, help="messages per handle_batch")
    parser.add_argument("--runs", type=int, default=3, help="fresh engines; the median is shown")
    parser.add_argument("--points", type=int, default=1, help="points per message")
    parser.add_argument(
        "--profile", action="store_true", help="one run under cProfile: the top 25 by own time"
    )
    args = parser.parse_args(argv)
    if args.profile:
        print(f"agent path under cProfile, {args.points} points/message, {args.entities} keys:")
        for line in top_functions(args.messages, args.entities, args.batch, args.points, 25):
            print(f"  {line}")
        return
    spent = [
        asyncio.run(_timed(args.messages, args.entities, args.batch, args.points))
        for _ in range(args.runs)
    ]
    print(
        f"agent path, {args.points} points/message, {args.entities} keys, batches of "
        f"{args.batch}: "
        f"{1e6 * statistics.median(spent):.1f} µs CPU/message (median of {len(spent)}; "
        + ", ".join(f"{1e6 * s:.1f}" for s in spent)
        + ")"
    )


if __name__ == "__main__":
    main()
