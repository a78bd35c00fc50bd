"""Measurement 5: memory per (model, entity) key, zscore + adaptive (the README configuration).

A key's state is what the worker keeps for it: the entity's ``entity_state`` row with the model's
state, the entity's shared state and the applied offsets, built here by the engine's own code
(``score_batch`` per message, ``EntityRecord.updated``) after 100 points in 10 messages of 10.

- Serialised size: the row as JSON bytes (what the changelog and a ``rocksdb://`` store hold),
  median and p99 over ``templates`` keys warmed with different random series.
- RSS: a fresh process measures ``VmRSS`` (``/proc/self/status``), then builds a dict of ``keys``
  rows (the ``memory://`` store is such a dict of decoded rows) by decoding the warmed rows in
  turn, and measures again; growth / keys. Warming 100,000 keys through ``score_batch`` would
  take minutes, so the 100,000 rows are decoded copies of the ``templates`` warmed ones: the same
  shapes and sizes as the worker's rows, each its own objects.

The recommended model's row (a configuration without ``detector``: the ``adaptive`` detector)
is measured beside it, after 3 days of one-point minute messages of one feature (noise around
100, sd 1), without a cycle and with a daily one (amplitude 10): the issue's targets are 2 KB
for a non-seasonal metric and 8 KB with a profile. :data:`RECOMMENDED_KEYS` keys of each, median
and largest.

Run as ``python -m bench.memory KEYS TEMPLATES SEED``; prints one JSON line.
"""

from __future__ import annotations

import gc
import json
import math
import random
import subprocess
import sys
from typing import Any

import orjson

from bench.profile import Profile, progress
from bench.summary import Summary, median, percentile
from bench.table import Row, Target
from bench.workload import MODEL_ID, README_CONFIG, START_TS, STEP_S, normal_values

POINTS_PER_KEY = 100
MESSAGES_PER_KEY = 10
STATE_TARGET_BYTES = 2048
SEASONAL_TARGET_BYTES = 8192
RECOMMENDED_MINUTES = 3 * 1440  # one-point messages, a minute apart
RECOMMENDED_KEYS = 3


def vm_rss_bytes(status: str | None = None) -> int:
    """Resident set size from ``/proc/self/status`` (or the given text of such a file).

    Examples
    --------
    >>> vm_rss_bytes("Name:\\tpython\\nVmRSS:\\t  20480 kB\\nThreads:\\t1\\n")
    20971520
    """
    if status is None:
        with open("/proc/self/status", encoding="ascii") as handle:
            status = handle.read()
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS line in /proc/self/status")


def warmed_row(config: Any, entity: str, seed: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """(entity_state row, model state) of ``entity`` after 100 points in 10 messages."""
    from app.worker.entity_record import EntityRecord, source_key
    from incidents.scoring import score_batch

    rng = random.Random(seed)
    row: dict[str, Any] | None = None
    state: dict[str, Any] | None = None
    per_message = POINTS_PER_KEY // MESSAGES_PER_KEY
    for offset in range(MESSAGES_PER_KEY):
        record = EntityRecord(row)
        first = offset * per_message
        outcome = score_batch(
            config,
            entity,
            record.model_state(MODEL_ID),
            [START_TS + STEP_S * (first + k) for k in range(per_message)],
            [normal_values(rng) for _ in range(per_message)],
            entity_state=record.shared,
        )
        state = outcome.state
        row = record.updated(
            source_key("telemetry.metrics", 0),
            offset,
            {MODEL_ID: outcome.state} if outcome.state is not None else {},
            outcome.entity_state,
            outcome.events,
        )
    assert row is not None and state is not None
    return row, state


def recommended_row(seed: int, daily: bool) -> dict[str, Any]:
    """The recommended model's entity_state row after :data:`RECOMMENDED_MINUTES` one-point
    minute messages of noise around 100 (sd 1), with a daily cycle of amplitude 10 if ``daily``."""
    from api.schemas.config import ModelConfigIn
    from app.worker.entity_record import EntityRecord, source_key
    from incidents.config import ModelConfig
    from incidents.scoring import score_batch

    config = ModelConfig.from_dict(ModelConfigIn.model_validate({"model_id": "m"}).model_dump())
    rng = random.Random(seed)
    row: dict[str, Any] | None = None
    source = source_key("telemetry.metrics", 0)
    start = START_TS - START_TS % 86400.0  # from midnight: the last point at 23:59, when
    for minute in range(RECOMMENDED_MINUTES):  # the day's peaks are all set (the most bytes)
        ts = start + 60.0 * minute
        cycle = 10.0 * math.sin(2 * math.pi * ts / 86400.0) if daily else 0.0
        record = EntityRecord(row)
        outcome = score_batch(
            config,
            "host-1",
            record.model_state("m"),
            [ts],
            [[100.0 + cycle + rng.gauss(0.0, 1.0)]],
            entity_state=record.shared,
        )
        models = {"m": outcome.state} if outcome.state is not None else {}
        row = record.updated(source, minute, models, outcome.entity_state, outcome.events)
    assert row is not None
    return row


def probe(keys: int, templates: int, seed: int) -> dict[str, Any]:
    """Build the rows and measure them (in a fresh process: see the module docstring)."""
    from api.schemas.config import ModelConfigIn
    from incidents.config import ModelConfig

    config = ModelConfig.from_dict(ModelConfigIn.model_validate(README_CONFIG).model_dump())
    encoded: list[bytes] = []
    model_sizes: list[int] = []
    parts: dict[str, list[int]] = {}
    for t in range(templates):
        row, state = warmed_row(config, f"entity-{t:06d}", seed * 1_000_003 + t)
        encoded.append(orjson.dumps(row))
        model_sizes.append(len(orjson.dumps(state)))
        for name, value in row.items():
            parts.setdefault(name, []).append(len(orjson.dumps(value)))
    row_sizes = [len(b) for b in encoded]
    names = [f"entity-{i:06d}" for i in range(keys)]
    gc.collect()
    before = vm_rss_bytes()
    gc.disable()  # millions of new containers: the collector would only slow the build down
    table = {name: orjson.loads(encoded[i % templates]) for i, name in enumerate(names)}
    gc.enable()
    gc.collect()
    after = vm_rss_bytes()
    assert len(table) == keys
    recommended = {
        daily: [
            len(orjson.dumps(recommended_row(seed * 1_000_003 + k, daily)))
            for k in range(RECOMMENDED_KEYS)
        ]
        for daily in (False, True)
    }
    return {
        "keys": keys,
        "recommended_bytes_median": median(recommended[False]),
        "recommended_bytes_max": max(recommended[False]),
        "recommended_daily_bytes_median": median(recommended[True]),
        "recommended_daily_bytes_max": max(recommended[True]),
        "row_bytes_median": median(row_sizes),
        "row_bytes_p99": percentile(row_sizes, 99),
        "model_bytes_median": median(model_sizes),
        "rss_per_key": (after - before) / keys,
        "parts_median": {name: median(sizes) for name, sizes in sorted(parts.items())},
    }


def measure(profile: Profile, notes: list[str] | None = None) -> list[Row]:
    found: dict[str, list[float]] = {}
    parts: dict[str, float] = {}
    for run in range(1, profile.memory_runs + 1):
        output = subprocess.run(
            [
                sys.executable,
                "-m",
                "bench.memory",
                str(profile.memory_keys),
                str(profile.memory_templates),
                str(run),
            ],
            capture_output=True,
            text=True,
            check=True,
            timeout=600,
        )
        result = json.loads(output.stdout.strip().splitlines()[-1])
        for name, value in result.items():
            if isinstance(value, int | float):
                found.setdefault(name, []).append(float(value))
        parts = result["parts_median"]
        progress(
            f"memory run {run}/{profile.memory_runs}: {profile.memory_keys:,} keys, row JSON "
            f"median {result['row_bytes_median']:,.0f} B, p99 {result['row_bytes_p99']:,.0f} B "
            f"(model state {result['model_bytes_median']:,.0f} B), recommended model after 3 "
            f"days {result['recommended_bytes_median']:,.0f} B (max "
            f"{result['recommended_bytes_max']:,.0f} B), with a daily cycle "
            f"{result['recommended_daily_bytes_median']:,.0f} B, RSS "
            f"{result['rss_per_key']:,.0f} B/key; row parts (median JSON bytes): "
            + ", ".join(f"{k} {v:,.0f}" for k, v in result["parts_median"].items())
        )
    if notes is not None and parts:
        notes.append(
            "Memory: median JSON bytes of the parts of an entity_state row after 100 points: "
            + ", ".join(f"{name} {size:,.0f}" for name, size in parts.items())
            + " (models: the model's own state; shared: the open incident and signal "
            "correlation; recent: the events of the last messages, kept for replays; ended: the "
            "last incident that ended, in the rows whose kept events refer to it)."
        )
    keys = f"{profile.memory_keys:,} keys"
    target = Target("<=", STATE_TARGET_BYTES)
    return [
        Row(
            "5",
            "state per key, JSON, median (entity_state row)",
            "bytes",
            Summary.of(found["row_bytes_median"]),
        ),
        Row(
            "5",
            "state per key, JSON, p99 (entity_state row)",
            "bytes",
            Summary.of(found["row_bytes_p99"]),
            target,
        ),
        Row(
            "5",
            "of which the model's own state, JSON, median",
            "bytes",
            Summary.of(found["model_bytes_median"]),
        ),
        Row(
            "5",
            "recommended model's row after 3 days of minute points, largest of 3 keys",
            "bytes",
            Summary.of(found["recommended_bytes_max"]),
            target,
        ),
        Row(
            "5",
            "the same with a daily cycle (a profile), largest of 3 keys",
            "bytes",
            Summary.of(found["recommended_daily_bytes_max"]),
            Target("<=", SEASONAL_TARGET_BYTES),
        ),
        Row(
            "5",
            f"RSS growth per key ({keys} held as decoded rows)",
            "bytes",
            Summary.of(found["rss_per_key"]),
            target,
        ),
    ]


if __name__ == "__main__":
    keys_arg, templates_arg, seed_arg = (int(a) for a in sys.argv[1:4])
    print(json.dumps(probe(keys_arg, templates_arg, seed_arg)))
