"""Where a worker's CPU goes per message, in-process: the scoring path without Faust or a broker.

For each message of a synthetic workload (the README configuration, ``--entities`` keys, random
normal values): ``orjson`` decode and ``decode_batch``, ``score_batch`` with the worker's live
cache, ``EntityRecord.updated`` plus the JSON encoding of the rows changed since the last flush
every ``FLUSH_EVERY`` messages (what the worker's write-back sends to the changelog, about once a
second), and the recent-series view (``RecentStore.add``, the dashboard's chart). The first fifth of the messages warms the keys up and is not timed. Prints milliseconds per message
by section, and with ``--profile`` the top functions of a cProfile run (slower; use it for where,
the plain run for how much). This is how the hot spots in docs/PROFILING.md were found:

    python -m bench.hotspots --points 1000 --messages 200
    python -m bench.hotspots --points 1 --messages 10000 --entities 50 --profile
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import random
import statistics
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

import orjson

from app.telemetry.messages import decode_batch
from app.worker.entity_record import EntityRecord
from app.worker.recent import RecentStore
from bench.workload import MODEL_ID, README_CONFIG, START_TS, STEP_S
from incidents.config import ModelConfig
from incidents.live import LiveCache
from incidents.scoring import score_batch

SOURCE = "telemetry.metrics"
FLUSH_EVERY = 2000  # messages between two write-back flushes (about a second in a worker)


def messages(points: int, count: int, entities: int, seed: int = 1) -> list[tuple[str, bytes]]:
    """``count`` messages of ``points`` points each (columnar when more than one), round robin
    over ``entities`` keys, in event-time order per key.

    Examples
    --------
    >>> [(e, orjson.loads(m)["values"]) for e, m in messages(1, 2, 2)][1][0]
    'host-1'
    >>> len(orjson.loads(messages(3, 1, 1)[0][1])["ts"])
    3
    """
    rng = random.Random(seed)
    out = []
    for m in range(count):
        entity = f"host-{m % entities}"
        first = (m // entities) * points
        ts = [START_TS + STEP_S * (first + i) for i in range(points)]
        rows = [[rng.gauss(100.0, 5.0), rng.gauss(5.0, 1.0)] for _ in range(points)]
        if points == 1:
            doc = {"model_id": MODEL_ID, "entity": entity, "ts": ts[0], "values": rows[0]}
        else:
            columns = [list(c) for c in zip(*rows, strict=True)]
            doc = {"model_id": MODEL_ID, "entity": entity, "ts": ts, "values": columns}
        out.append((entity, orjson.dumps(doc)))
    return out


def run(
    config: ModelConfig,
    batch: Sequence[tuple[str, bytes]],
    table: dict[str, dict],
    cache: LiveCache,
    recent: RecentStore,
    spent: Counter[str],
    first_offset: int = 0,
    clock: Callable[[], float] = time.perf_counter,
) -> None:
    """Score ``batch`` as the worker does, adding seconds of ``clock`` per section to ``spent``."""
    dirty: dict[str, None] = {}
    for offset, (entity, raw) in enumerate(batch, start=first_offset):
        t0 = clock()
        decoded = decode_batch(orjson.loads(raw), config, 1_000_000)
        t1 = clock()
        record = EntityRecord(table.get(entity))
        out = score_batch(
            config,
            entity,
            record.model_state(MODEL_ID),
            decoded.ts,
            decoded.values,
            source=SOURCE,
            entity_state=record.shared,
            labels=decoded.labels,
            cache=cache,
        )
        t2 = clock()
        row = record.updated(
            f"{SOURCE}:0", offset, {MODEL_ID: out.state or {}}, out.entity_state, out.events
        )
        table[entity] = row
        dirty[entity] = None
        if not (offset + 1) % FLUSH_EVERY:
            for key in dirty:  # the write-back's flush: each changed row once, as JSON
                orjson.dumps(table[key], default=dict)  # a live state is written now
            dirty.clear()
        t3 = clock()
        recent.add(MODEL_ID, entity, out)
        t4 = clock()
        spent["decode"] += t1 - t0
        spent["score_batch"] += t2 - t1
        spent["row update + encode"] += t3 - t2
        spent["recent-series view"] += t4 - t3


def top_functions(
    points: int = 1, count: int = 3000, entities: int = 50, top: int = 12
) -> list[str]:
    """cProfile of the scoring path of single-point messages (``run``, in-process: no Faust,
    no broker) after a warm-up of a fifth of them: the ``top`` functions by own time, as
    ``"µs/message (share) function (file:line)"``; the same for the sections of ``run``.

    >>> lines = top_functions(count=50, entities=5, top=3)
    >>> len(lines) == 3 + 4 and all(" µs/message " in line for line in lines)
    True
    """
    config = ModelConfig.from_dict(README_CONFIG)
    workload = messages(points, count, entities)
    warm = len(workload) // 5
    table: dict[str, dict] = {}
    cache, recent = LiveCache(), RecentStore()
    spent: Counter[str] = Counter()
    run(config, workload[:warm], table, cache, recent, spent)
    spent.clear()
    profiler = cProfile.Profile()
    profiler.enable()
    run(config, workload[warm:], table, cache, recent, spent, first_offset=warm)
    profiler.disable()
    n = len(workload) - warm
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    total = sum(own for _, _, own, _, _ in stats.values()) or 1.0
    ranked = sorted(stats.items(), key=lambda item: -item[1][2])[:top]
    lines = [
        f"{1e6 * own / n:.1f} µs/message ({own / total:.0%}) {name} ({Path(file).name}:{line})"
        for (file, line, name), (_, _, own, _, _) in ranked
    ]
    lines += [
        f"{1e6 * seconds / n:.1f} µs/message section: {name}" for name, seconds in spent.items()
    ]
    return lines


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.hotspots", description=__doc__)
    parser.add_argument("--points", type=int, default=1000, help="points per message")
    parser.add_argument("--messages", type=int, default=200, help="messages (a fifth warm-up)")
    parser.add_argument("--entities", type=int, default=5, help="keys, round robin")
    parser.add_argument("--runs", type=int, default=5, help="repetitions; medians are shown")
    parser.add_argument("--profile", action="store_true", help="also print cProfile's top 25")
    parser.add_argument(
        "--cpu", action="store_true", help="CPU time of the process instead of wall clock"
    )
    args = parser.parse_args(argv)
    config = ModelConfig.from_dict(README_CONFIG)
    workload = messages(args.points, args.messages, args.entities)
    warm = len(workload) // 5
    timed = workload[warm:]
    n = len(timed)
    rates, sections = [], []
    profiler = cProfile.Profile() if args.profile else None
    clock = time.process_time if args.cpu else time.perf_counter
    for _ in range(1 if profiler else max(1, args.runs)):
        table: dict[str, dict] = {}
        cache, recent = LiveCache(), RecentStore()
        spent: Counter[str] = Counter()
        run(config, workload[:warm], table, cache, recent, spent)
        spent.clear()
        started = clock()
        if profiler is not None:
            profiler.enable()
        run(config, timed, table, cache, recent, spent, first_offset=warm, clock=clock)
        if profiler is not None:
            profiler.disable()
        rates.append(n / (clock() - started))
        sections.append(spent)
    rate = statistics.median(rates)
    print(
        f"{args.points} points/message, {args.entities} keys: {rate * args.points:,.0f} "
        f"points/s, {1e3 / rate:.3f} ms/message (median of {len(rates)}"
        f"{', profiled' if profiler else ''}{', CPU time' if args.cpu else ''})"
    )
    for name in sections[0]:
        ms = statistics.median(s[name] for s in sections) / n * 1e3
        print(f"  {name:22s} {ms:8.3f} ms/message")
    if profiler is not None:
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    main()
