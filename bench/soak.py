"""``make soak``: an hour of simulated time through the engine's own code, in one process.

What a worker that runs for months must keep bounded, without a broker and on a simulated clock:
``--entities`` entities send ``--rate`` points a second in all (one batch per entity every
``--batch-s`` seconds), 10 % of them replaced every simulated hour (the ones replaced go silent:
their open incidents must resolve and their state expire), a spike in about 1 % of the batches
(incidents open, their events are written to a deliveries ledger as a channel would), and a
worker restart half-way (the tables rebuilt from what their compacted changelogs hold).

Scoring is the worker's: ``Engine.apply_message`` with ``score_batch`` (the REST and telemetry
step) on the recommended model (``incidents.recommended``) with ``silent_after`` 300 s and ``state_ttl`` 900 s, rows
written through ``PendingWrites``, and the expiry timer (:class:`app.worker.sweeper.Sweeper`) every 5
simulated seconds with a ledger retention of 30 minutes. Every ``--report-s`` simulated seconds
it prints the RSS, the rows of the state table (and their mean size as JSON) and of its
compacted changelog, the entities held,
the open incidents, the ledger's rows and the counters. The figures are flat once churn is steady
when the state is bounded.

Run as ``python -m bench.soak [--minutes 60] [--entities 1000] [--rate 1000]``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import random
import time
from types import SimpleNamespace
from typing import Any

import numpy as np
import orjson
from faust.types import TP

from app.worker.engine import Engine, partition_for
from app.worker.metrics import EngineMetrics
from app.worker.pending_writes import PendingWrites
from app.worker.recent import RecentStore
from app.worker.settings import Settings
from app.worker.sweeper import SWEEP_INTERVAL_S, Sweeper
from app.worker.write_back import WriteBack
from bench.memory import vm_rss_bytes
from incidents.config import ModelConfig
from incidents.live import LiveCache
from incidents.scoring import score_batch

PARTITIONS = 4
START = 1_800_000_000.0  # the simulated worker clock, and the points' event time


class SoakTable:
    """A table as the engine writes it: a store, and a compacted changelog (key -> last value;
    a tombstone removes the key, as compaction does)."""

    def __init__(self, compacted: dict[str, Any] | None = None) -> None:
        self.data: dict[str, Any] = dict(compacted or {})
        self.compacted: dict[str, Any] = dict(compacted or {})
        self.records = 0

    def send_changelog(self, partition: int, key: str, value: Any, **_: Any) -> None:
        self.records += 1
        if value is None:
            self.compacted.pop(key, None)
        else:
            self.compacted[key] = value

    def get(self, key: str) -> Any:
        return self.data.get(key)


def _config() -> ModelConfig:
    return ModelConfig.from_dict({"model_id": "soak", "silent_after": 300, "state_ttl": 900})


class Worker:
    """The engine's scoring and timer on soak tables, with the clock given."""

    def __init__(self, config: ModelConfig, tables: tuple[dict[str, Any], ...] = ()) -> None:
        rows, ledger = tables or ({}, {})
        self.config = config
        self.now = START
        settings = Settings(
            kafka_bootstrap_servers="soak", ledger_retention_s=1800, ledger_max_rows=50_000
        )
        engine: Any = object.__new__(Engine)
        engine.settings = settings
        engine.metrics = EngineMetrics(process=False)
        engine.recent = RecentStore()
        engine.live = LiveCache()
        engine.entity_state = SoakTable(rows)
        engine.model_stats = SoakTable()
        engine.deliveries = SoakTable(ledger)
        engine.write_back = WriteBack(0.0)  # the sweeper's writes go through at once
        engine.partition_of = lambda entity: partition_for(entity, PARTITIONS)
        engine.model_config = lambda model_id: config if model_id == config.model_id else None
        engine.list_configs = lambda: [{"model_id": config.model_id}]
        owned = {(t, p) for p in range(PARTITIONS) for t in (settings.metrics_topic,)}
        owned |= {(settings.alerts_topic, p) for p in range(PARTITIONS)}
        recovered = asyncio.Event()
        recovered.set()
        engine.app = SimpleNamespace(
            rebalancing=False,
            tables=SimpleNamespace(recovery=SimpleNamespace(completed=recovered)),
            consumer=SimpleNamespace(assignment=lambda: {TP(t, p) for t, p in owned}),
        )
        engine.publish_events = self._publish
        engine.clock = lambda: self.now
        self.engine = engine
        self.sweeper = Sweeper(engine, clock=lambda: self.now)
        self.offsets: dict[int, int] = {}
        self.events = 0

    async def _publish(self, events: list[dict[str, Any]]) -> list[Any]:
        self._deliver(events)
        return []

    def _deliver(self, events: list[dict[str, Any]]) -> None:
        """What a channel's delivery writes to the ledger per event."""
        ledger = self.engine.deliveries
        for event in events:
            partition = partition_for(event["entity"], PARTITIONS)
            key = f"{event['incident_id']}|{event['event']}|{event['seq']}|webhook"
            row = {"status": "delivered", "attempts": 1, "at": self.now, "partition": partition}
            ledger.send_changelog(partition, key, row)
            ledger.data[key] = row
        self.events += len(events)

    def score(self, entity: str, ts: np.ndarray, values: np.ndarray) -> None:
        engine, config = self.engine, self.config
        partition = partition_for(entity, PARTITIONS)
        offset = self.offsets[partition] = self.offsets.get(partition, -1) + 1

        def run(state: Any, shared: Any) -> Any:
            return score_batch(
                config, entity, state, ts, values, entity_state=shared, cache=engine.live
            )

        pending = PendingWrites(engine.entity_state, engine.model_stats)
        source = ("telemetry.metrics", partition, offset)
        _, events = engine.apply_message(entity, partition, source, [(config, run)], pending)
        pending.flush()
        self._deliver(events)

    def tables(self) -> tuple[dict[str, Any], ...]:
        """What a restarted worker recovers: the compacted changelogs."""
        return self.engine.entity_state.compacted, self.engine.deliveries.compacted


def _open_incidents(rows: dict[str, Any]) -> int:
    return sum(
        1
        for row in rows.values()
        if isinstance(row, dict) and (row.get("shared") or {}).get("open")
    )


def _row_kb(rows: dict[str, Any]) -> float:
    """The rows' mean size as JSON, in KB (what the changelog and a rocksdb store hold)."""
    sizes = [len(orjson.dumps(row, default=dict)) for row in rows.values()]  # live states too
    return sum(sizes) / len(sizes) / 1024 if sizes else 0.0


def _report(worker: Worker, elapsed: float, header: bool = False) -> None:
    if header:
        print(
            "sim_min  rss_mb  rows  row_kb  changelog_keys  entities  open  ledger  ledger_keys  "
            "expired  silent  events  wall_s",
            flush=True,
        )
    engine = worker.engine
    metrics = engine.metrics
    print(
        f"{(worker.now - START) / 60:7.1f}  {vm_rss_bytes() / 2**20:6.1f}  "
        f"{len(engine.entity_state.data):4d}  {_row_kb(engine.entity_state.data):6.2f}  "
        f"{len(engine.entity_state.compacted):14d}  "
        f"{int(metrics.value('anomaly_state_entities', model_id=worker.config.model_id) or 0):8d}  "
        f"{_open_incidents(engine.entity_state.data):4d}  {len(engine.deliveries.data):6d}  "
        f"{len(engine.deliveries.compacted):11d}  "
        f"{int(metrics.value('anomaly_state_expired_total', model_id=worker.config.model_id) or 0):7d}  "
        f"{int(metrics.value('anomaly_incidents_silent_total', model_id=worker.config.model_id) or 0):6d}  "
        f"{worker.events:6d}  {elapsed:6.0f}",
        flush=True,
    )


def soak(minutes: float, entities: int, rate: float, batch_s: float, report_s: float) -> None:
    rng = random.Random(7)
    config = _config()
    worker = Worker(config)
    names = [f"pod-{k}" for k in range(entities)]
    born = entities
    per_entity = max(1, round(rate / entities * batch_s))  # points per batch per entity
    churn_per_batch = 0.10 * entities * batch_s / 3600
    churn_due = 0.0
    end = START + minutes * 60
    restart_at = START + minutes * 30
    restarted = False
    next_batch = next_sweep = next_report = START
    started = time.monotonic()
    _report(worker, 0.0, header=True)
    while worker.now < end:
        if worker.now >= next_batch:
            ts = worker.now - batch_s + (np.arange(per_entity) + 1) * batch_s / per_entity
            noise = np.random.default_rng(rng.getrandbits(32))
            for name in names:
                values = noise.normal(0.0, 1.0, (per_entity, 2)) * (5.0, 1.0) + (100.0, 5.0)
                if rng.random() < 0.01:
                    values[-3:, 0] += 60.0  # a spike: an incident opens
                worker.score(name, ts, values)
            churn_due += churn_per_batch
            while churn_due >= 1:  # replaced: the old one goes silent for good
                churn_due -= 1
                names[rng.randrange(len(names))] = f"pod-{born}"
                born += 1
            next_batch += batch_s
        if worker.now >= next_sweep:
            asyncio.run(worker.sweeper.sweep())
            next_sweep += SWEEP_INTERVAL_S
        if not restarted and worker.now >= restart_at:
            restarted = True
            now = worker.now
            tables = worker.tables()
            events = worker.events
            offsets = worker.offsets  # where each partition's consumer goes on from
            worker = Worker(config, tables)  # the old worker's objects go
            worker.now, worker.events, worker.offsets = now, events, offsets
            gc.collect()
            print("-- restarted: tables recovered from their compacted changelogs", flush=True)
        if worker.now >= next_report:
            gc.collect()
            _report(worker, time.monotonic() - started)
            next_report += report_s
        worker.now = min(next_batch, next_sweep, next_report)
    _report(worker, time.monotonic() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=60)
    parser.add_argument("--entities", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=1000, help="points per simulated second")
    parser.add_argument("--batch-s", type=float, default=60, help="seconds between batches")
    parser.add_argument("--report-s", type=float, default=300)
    args = parser.parse_args()
    soak(args.minutes, args.entities, args.rate, args.batch_s, args.report_s)


if __name__ == "__main__":
    main()
