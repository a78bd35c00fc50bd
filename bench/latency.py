"""Measurement 3: produce-to-incident latency at a steady 500 and 1,000 events per second.

Single-point messages go to the worker at a fixed pace over a pool of ordinary entities; every
``spike_every``-th message is instead a spike (160 against a baseline of 100 ± 5) on an entity
never seen before, which opens an incident at once. Each message's ``ts`` is its produce wall
time, so the incident on ``anomaly.alerts`` (whose ``ts`` is its opening point's) tells when its
point was produced. A group-less consumer assigned every partition of the alerts topic takes the
receive time; latency = receive time - ``ts``. The first seconds are a warm-up; the rest is cut
into windows, each one run, so the table shows the median and range of each window's p50 and p99.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from dataclasses import dataclass, field

import orjson
from aiokafka import AIOKafkaProducer

from bench.cluster import BenchError, Cluster, Worker, assigned_consumer
from bench.profile import Profile, progress
from bench.summary import Summary, percentile
from bench.table import Row, Target
from bench.workload import normal_values, point_message

ENTITIES = 200


@dataclass
class Spike:
    ts: float  # produce wall time, also the point's ts
    window: int  # -1 during warm-up
    received: float | None = None
    published: float | None = None  # the alert record's timestamp (the worker's send time)


@dataclass
class LatencyRun:
    spikes: dict[str, Spike] = field(default_factory=dict)
    sent: int = 0
    seconds: float = 0.0

    def latencies_ms(self, window: int) -> list[float]:
        """Receive latency of the window's spikes; a spike never seen counts as infinite."""
        return [
            math.inf if s.received is None else 1000 * (s.received - s.ts)
            for s in self.spikes.values()
            if s.window == window
        ]

    def publish_ms(self, window: int) -> list[float]:
        return [
            1000 * (s.published - s.ts)
            for s in self.spikes.values()
            if s.window == window and s.published is not None
        ]


async def _read_alerts(
    bootstrap: str, topic: str, run: LatencyRun, started: asyncio.Event, done: asyncio.Event
) -> None:
    consumer = await assigned_consumer(bootstrap, topic, from_end=True, fetch_max_wait_ms=10)
    started.set()
    try:
        while not done.is_set():
            batches = await consumer.getmany(timeout_ms=50)
            now = time.time()
            for records in batches.values():
                for record in records:
                    event = orjson.loads(record.value)
                    spike = run.spikes.get(event.get("entity", ""))
                    if spike is None or event.get("event") != "open" or spike.received:
                        continue
                    spike.received = now
                    spike.published = record.timestamp / 1000.0
    finally:
        await consumer.stop()


async def _run(
    worker: Worker, bootstrap: str, topic: str, alerts: str, profile: Profile, rate: int
) -> LatencyRun:
    run = LatencyRun()
    rng = random.Random(3)
    started, done = asyncio.Event(), asyncio.Event()
    reader = asyncio.create_task(_read_alerts(bootstrap, alerts, run, started, done))
    await started.wait()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=0)
    await producer.start()
    tag = f"{time.time_ns():x}"
    duration = profile.latency_warmup_s + profile.latency_windows * profile.latency_window_s
    try:
        begin = time.monotonic()
        i = 0
        while True:
            elapsed = time.monotonic() - begin
            if elapsed >= duration:
                break
            due = int(elapsed * rate) + 1
            while i < due:  # catch up on the schedule, then sleep to the next slot
                ts = time.time()
                if i % profile.latency_spike_every == profile.latency_spike_every - 1:
                    entity = f"spike-{tag}-{i}"
                    window = (
                        -1
                        if elapsed < profile.latency_warmup_s
                        else int((elapsed - profile.latency_warmup_s) / profile.latency_window_s)
                    )
                    run.spikes[entity] = Spike(ts, window)
                    value = point_message(entity, ts, [160.0, 5.0])
                else:
                    entity = f"steady-{i % ENTITIES:03d}"
                    value = point_message(entity, ts, normal_values(rng))
                await producer.send(topic, key=entity.encode(), value=value)
                i += 1
            await asyncio.sleep(max(0.0, (i / rate) - (time.monotonic() - begin)))
        run.sent, run.seconds = i, time.monotonic() - begin
        await producer.flush()
        deadline = time.monotonic() + profile.latency_late_s
        while time.monotonic() < deadline and any(s.received is None for s in run.spikes.values()):
            worker.check_alive()
            await asyncio.sleep(0.1)
    finally:
        done.set()
        await producer.stop()
        await reader
    return run


def measure(cluster: Cluster, worker: Worker, names: dict[str, str], profile: Profile) -> list[Row]:
    """Run the paced stream against ``worker`` (configured with the README model) at each rate."""
    rows: list[Row] = []
    for rate in profile.latency_rates:
        rows += _measure_rate(cluster, worker, names, profile, rate)
    return rows


def _measure_rate(
    cluster: Cluster, worker: Worker, names: dict[str, str], profile: Profile, rate: int
) -> list[Row]:
    progress(
        f"latency: {rate} events/s for {profile.latency_warmup_s:.0f} s warm-up + "
        f"{profile.latency_windows} x {profile.latency_window_s:.0f} s, a spike on a fresh entity "
        f"every {profile.latency_spike_every} messages"
    )
    run = asyncio.run(
        _run(
            worker, cluster.bootstrap, names["metrics_topic"], names["alerts_topic"], profile, rate
        )
    )
    achieved = run.sent / run.seconds
    p50s, p99s, publish99 = [], [], []
    missing = seen = 0
    for window in range(profile.latency_windows):
        values = run.latencies_ms(window)
        if not values:
            raise BenchError(f"no spike was sent in latency window {window}")
        lost = sum(math.isinf(v) for v in values)
        missing, seen = missing + lost, seen + len(values)
        p50s.append(percentile(values, 50))
        p99s.append(percentile(values, 99))
        published = run.publish_ms(window)
        if published:
            publish99.append(percentile(published, 99))
        progress(
            f"latency window {window + 1}/{profile.latency_windows}: {len(values)} spikes, "
            f"p50 {p50s[-1]:.1f} ms, p99 {p99s[-1]:.1f} ms (published p99 "
            f"{percentile(published, 99):.1f} ms of {len(published)} received), "
            f"{lost} incidents not seen {profile.latency_late_s:.0f} s after the last send; "
            f"sent {achieved:,.0f} events/s"
        )
    note = (
        f"{missing} of {seen} incidents not seen {profile.latency_late_s:.0f} s after the last send"
        if missing
        else ""
    )
    p50 = Summary.of(p50s)
    return [
        Row(
            "3",
            f"produce → incident received, p50 ({rate:,} events/s)",
            "ms",
            p50,
            note=note if math.isinf(p50.median) else "",
        ),
        Row(
            "3",
            f"produce → incident received, p99 ({rate:,} events/s)",
            "ms",
            Summary.of(p99s),
            Target("<=", 100),
            note=note,
        ),
        Row.of(
            "3",
            f"produce → incident published by the worker, p99 of those received ({rate:,}/s)",
            "ms",
            publish99,
            failures=["no incident received"] * (profile.latency_windows - len(publish99)),
        ),
    ]
