"""Measurements 1 and 2: points per second through one worker, against the client's limit and
against a bare Faust agent, on the same broker in the same run.

The engine is timed twice, each time with a fresh group and topics. As a user sees it (issue
16's targets): a worker starts, and once it is ready and holds its partitions the messages are
produced while it runs; the time runs from the first message handed to the producer to the
first poll of the worker's live counter of scored points (``anomaly_points_scored_total`` on
``GET /metrics``, polled 10 times a second) that holds every point. Over a backlog: the
messages are produced first, then a worker works through them, and its rate is taken from
the same counter over the last 90 % of the points, so worker start-up and the producer are
not counted. In the same run two raw clients read the backlog's topic with the engine's fetch
settings and count the points of each message: confluent-kafka (librdkafka) with the standard
``json`` module, the client as an outside user has it and the reference of the targets, and
aiokafka with ``orjson``, the engine's own client and decoder; for single-point messages a
bare counting Faust agent does too (over the backlog, on its own clock).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

from app.worker.settings import Settings
from bench.cluster import (
    BenchError,
    Cluster,
    Worker,
    assigned_consumer,
    process_cpu_s,
    produce,
)
from bench.profile import Profile, progress
from bench.summary import rate
from bench.table import Row, Target
from bench.workload import MODEL_ID, count_points, messages

WARMUP_FRACTION = 0.1
STALL_S = 60.0  # give up on a run when no point was counted for this long


@dataclass(frozen=True)
class Timing:
    points: int  # points counted over the timed interval
    seconds: float
    how: str
    cpu_seconds: float = math.nan  # CPU time of the process over the same interval

    @property
    def rate(self) -> float:
        return rate(self.points, self.seconds)

    @property
    def cpu_us_per_point(self) -> float:
        """CPU µs of the process per point: unlike the rate, hardly moved by what else runs on
        the machine (it gets less of a core, not more work).

        >>> Timing(90, 2.0, "test", 0.009).cpu_us_per_point
        100.0
        """
        return 1e6 * self.cpu_seconds / self.points if self.points else math.nan


def steady_rate(samples: Sequence[tuple[float, ...]], how: str) -> Timing:
    """The rate over the last 90 % of the points counted, from (time, points) samples, and
    the CPU time of the process over them when the samples carry it (a third item).

    Starts at the first sample with a tenth of the final count, ends at the first sample with
    the final count.

    Examples
    --------
    >>> samples = [(0.0, 5, 0.1), (1.0, 10, 0.2), (2.0, 60, 0.5), (3.0, 100, 0.209), (4.0, 100, 1.3)]
    >>> t = steady_rate(samples, "test")
    >>> t.points, t.seconds, t.rate, round(t.cpu_us_per_point, 1)
    (90, 2.0, 45.0, 100.0)
    """
    if not samples or samples[-1][1] <= 0:
        raise BenchError("no point was counted")
    final = int(max(s[1] for s in samples))
    mark = max(1, int(final * WARMUP_FRACTION))
    start = next(s for s in samples if s[1] >= mark)
    end = next(s for s in samples if s[1] >= final)
    if end[1] <= start[1]:
        raise BenchError(f"too few points counted ({final}) to time a rate")
    cpu = end[2] - start[2] if len(end) > 2 and len(start) > 2 else math.nan
    return Timing(int(end[1] - start[1]), end[0] - start[0], how, cpu)


def scored_points(metrics_text: str, model_id: str = MODEL_ID) -> int:
    """``anomaly_points_scored_total`` of ``model_id`` in a ``GET /metrics`` answer.

    Examples
    --------
    >>> scored_points('# HELP x\\nanomaly_points_scored_total{model_id="metrics-v1"} 1500.0\\n'
    ...               'anomaly_points_scored_total{model_id="other"} 7.0\\n')
    1500
    """
    label = f'model_id="{model_id}"'
    return int(
        sum(
            float(line.rsplit(" ", 1)[1])
            for line in metrics_text.splitlines()
            if line.startswith("anomaly_points_scored_total{") and label in line
        )
    )


def _poll_until_counted(
    worker: Worker, total: int, cap_s: float, since_first_point: bool = True
) -> list[tuple[float, int, float]]:
    """Poll the worker's live counter of scored points (``GET /metrics``, 10 times a second)
    until ``total`` points are counted, or until ``cap_s`` seconds after the first one was
    (after the polling started, without ``since_first_point``); each sample with the worker's
    CPU time."""
    samples: list[tuple[float, int, float]] = []
    last_change = time.monotonic()
    first: float | None = None if since_first_point else time.monotonic()
    counted = -1
    while True:
        worker.check_alive()
        with contextlib.suppress(httpx.HTTPError, ValueError):
            text = worker.http.get("/metrics", timeout=10).text
            now = time.time()  # when the answer came: the count was read just before
            n = scored_points(text)
            samples.append((now, n, process_cpu_s(worker.pid)))
            if n != counted:
                counted, last_change = n, time.monotonic()
            if n > 0 and first is None:
                first = time.monotonic()
            if n >= total or (first is not None and time.monotonic() - first >= cap_s):
                return samples
        if time.monotonic() - last_change > STALL_S:
            raise BenchError(
                f"the worker counted {max(counted, 0)} of {total} points and no more for "
                f"{STALL_S:.0f} s:\n{worker.log_tail()}"
            )
        time.sleep(0.1)


def _final_stats(worker: Worker, counted: int) -> dict[str, Any]:
    """``GET /anomaly/stats`` for the model once it holds the ``counted`` points (its counters
    reach their changelog once per flush interval), or as it is after 10 s."""
    deadline = time.monotonic() + 10
    while True:
        models = worker.http.get("/anomaly/stats").json().get("models", {})
        stats: dict[str, Any] = models.get(MODEL_ID, {})
        if stats.get("points", 0) >= counted or time.monotonic() > deadline:
            return stats
        time.sleep(0.2)


@dataclass(frozen=True)
class EngineRun:
    timing: Timing
    stats: dict[str, Any]  # GET /anomaly/stats for the model at the end


def engine_run(
    cluster: Cluster, names: dict[str, str], settings: Settings, total: int, cap_s: float
) -> EngineRun:
    """Start a worker on the backlog; time it until it has counted everything, or for ``cap_s``."""
    worker = cluster.start_worker(names)
    try:
        polled = _poll_until_counted(worker, total, cap_s)
        stats = _final_stats(worker, polled[-1][1])
    finally:
        cluster.stop(worker)
    return EngineRun(steady_rate(polled, "the worker's live counter, polled every 0.1 s"), stats)


def _wait_assigned(worker: Worker, timeout: float = 120.0) -> None:
    """Wait until the worker says it is ready and holds partitions of the telemetry topic."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        worker.check_alive()
        with contextlib.suppress(httpx.HTTPError, ValueError):
            health = worker.http.get("/health", timeout=2).json()
            if health.get("status") == "ok" and health.get("assigned_partitions"):
                return
        time.sleep(0.2)
    raise BenchError(f"the worker held no partition after {timeout:.0f} s:\n{worker.log_tail()}")


def live_run(
    cluster: Cluster,
    names: dict[str, str],
    settings: Settings,
    batch_messages: Sequence[tuple[bytes, bytes]],
    total: int,
    cap_s: float,
) -> Timing:
    """The engine as a user sees it: a ready worker, then the messages produced while it runs;
    timed from the first message handed to the producer to the first poll of the worker's live
    counter that holds every point (or to ``cap_s`` after the first message)."""
    worker = cluster.start_worker(names)
    try:
        _wait_assigned(worker)
        first_sent: list[float] = []
        cpu_before = process_cpu_s(worker.pid)
        producer = threading.Thread(
            target=produce,
            args=(cluster.bootstrap, settings.metrics_topic, batch_messages, first_sent),
            name="bench-live-producer",
            daemon=True,
        )
        producer.start()
        polled = _poll_until_counted(worker, total, cap_s, since_first_point=False)
        producer.join(timeout=STALL_S)
    finally:
        cluster.stop(worker)
    if not first_sent:
        raise BenchError("the live producer sent nothing")
    end = polled[-1]
    return Timing(
        end[1],
        end[0] - first_sent[0],
        "first message produced to last point counted",
        end[2] - cpu_before,
    )


def describe_stats(stats: dict[str, Any]) -> str:
    """The workload the engine saw, from its counters.

    Examples
    --------
    >>> describe_stats({"points": 200, "anomalies": 10, "alerts": 4, "incidents_opened": 2})
    '200 points counted, 5.0 % flagged, 2.0 % alerted, 2 incidents opened'
    """
    points = stats.get("points", 0) or 0
    if not points:
        return "no points counted"
    flagged = 100 * stats.get("anomalies", 0) / points
    alerted = 100 * stats.get("alerts", 0) / points
    return (
        f"{points:,} points counted, {flagged:.1f} % flagged, {alerted:.1f} % alerted, "
        f"{stats.get('incidents_opened', 0):,} incidents opened"
    )


async def _raw_loop(bootstrap: str, settings: Settings, total: int) -> Timing:
    consumer = await assigned_consumer(
        bootstrap,
        settings.metrics_topic,
        fetch_max_wait_ms=settings.fetch_max_wait_ms,
        max_partition_fetch_bytes=settings.max_message_bytes,
    )
    points = 0
    try:
        started = time.perf_counter()
        while points < total:
            batches = await consumer.getmany(timeout_ms=1000)
            if not batches and time.perf_counter() - started > STALL_S:
                raise BenchError(f"the raw client read {points} of {total} points")
            for records in batches.values():
                for record in records:
                    points += count_points(orjson.loads(record.value))
        elapsed = time.perf_counter() - started
    finally:
        await consumer.stop()
    return Timing(points, elapsed, "first fetch to last decode")


def raw_run(cluster: Cluster, settings: Settings, total: int) -> Timing:
    """A raw aiokafka consume-and-decode loop over the topic: the client's own limit."""
    return asyncio.run(_raw_loop(cluster.bootstrap, settings, total))


def confluent_run(cluster: Cluster, settings: Settings, total: int) -> Timing:
    """A raw confluent-kafka consume loop over the topic with ``json.loads`` and a point count
    per message: the raw client as an outside user has it."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    consumer = Consumer(
        {
            "bootstrap.servers": cluster.bootstrap,
            "group.id": f"bench-raw-{settings.metrics_topic}",  # required; assign() joins none
            "enable.auto.commit": False,
            "fetch.wait.max.ms": settings.fetch_max_wait_ms,
            "max.partition.fetch.bytes": settings.max_message_bytes,
        }
    )
    points = 0
    try:
        topic = settings.metrics_topic
        partitions = consumer.list_topics(topic, timeout=30).topics[topic].partitions
        for p in partitions:  # the connections to the partitions' leaders, before the clock
            consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=30)
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in sorted(partitions)])
        started = time.perf_counter()
        while points < total:  # poll: consume(n) would wait out its timeout for a short batch
            record = consumer.poll(1.0)
            if record is None:
                if time.perf_counter() - started > STALL_S:
                    raise BenchError(f"the confluent-kafka client read {points} of {total} points")
            elif record.error() is None:
                points += count_points(json.loads(record.value()))
        elapsed = time.perf_counter() - started
    finally:
        consumer.close()
    return Timing(points, elapsed, "first fetch to last decode")


def bare_run(
    cluster: Cluster, names: dict[str, str], total: int, label: str, table_write: bool = False
) -> Timing:
    """The bare counting Faust agent (``bench.bare_agent``) over the same topic; with
    ``table_write``, one table write (a changelog record) per message."""
    kind = "bare-table" if table_write else "bare"
    bare_names = {**names, "app_id": f"{names['app_id']}-{kind}-{label}"}
    result = cluster.workdir / f"{bare_names['app_id']}.json"
    env = cluster.env(
        bare_names,
        {
            "BENCH_EXPECT": str(total),
            "BENCH_RESULT": str(result),
            "BENCH_TABLE_WRITE": "1" if table_write else "0",
            "ANOMALY_DATA_DIR": str(cluster.workdir / bare_names["app_id"] / "data"),
        },
    )
    process = cluster.start_process(
        bare_names["app_id"], [sys.executable, "-m", "bench.bare_agent"], env
    )
    try:
        deadline = time.monotonic() + STALL_S + total / 500
        while not result.exists():
            process.check_alive()
            if time.monotonic() > deadline:
                raise BenchError(
                    f"the bare agent did not count {total} points:\n{process.log_tail()}"
                )
            time.sleep(0.1)
    finally:
        cluster.stop(process)
    document = orjson.loads(result.read_bytes())
    (t0, n0, c0), (t1, n1, c1) = document["start"], document["end"]
    return Timing(n1 - n0, t1 - t0, "agent's own clock", c1 - c0)


@dataclass
class SizeResults:
    engine: list[float] = field(default_factory=list)  # last 90 % of a pre-produced backlog
    live: list[float] = field(default_factory=list)  # first message produced -> last scored
    live_cpu: list[float] = field(default_factory=list)  # CPU µs of the worker per point, live
    live_vs_confluent: list[float] = field(default_factory=list)
    live_vs_bare: list[float] = field(default_factory=list)
    raw: list[float] = field(default_factory=list)
    confluent: list[float] = field(default_factory=list)
    bare: list[float] = field(default_factory=list)
    bare_table: list[float] = field(default_factory=list)  # + one table write per message
    engine_cpu: list[float] = field(default_factory=list)  # CPU µs of the worker per point
    bare_cpu: list[float] = field(default_factory=list)  # CPU µs of the bare agent per point
    bare_vs_engine_cpu: list[float] = field(default_factory=list)
    engine_vs_raw: list[float] = field(default_factory=list)
    engine_vs_confluent: list[float] = field(default_factory=list)
    engine_vs_bare: list[float] = field(default_factory=list)
    workload: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    bare_failures: list[str] = field(default_factory=list)


def _one_run(
    cluster: Cluster, profile: Profile, batch: int, run: int, found: SizeResults, with_bare: bool
) -> str:
    """One run of one message size: produce, engine, raw client (and bare agent); a summary."""
    count, entities = profile.stream[batch]
    total = count * batch
    names = cluster.names(f"p{batch}-r{run}")
    settings = cluster.create_topics(names)
    started = time.monotonic()
    sent = produce(cluster.bootstrap, settings.metrics_topic, messages(count, batch, entities, run))
    progress(
        f"pipeline {batch} pt/msg run {run}/{profile.runs}: produced {sent:,} messages "
        f"({total:,} points, {entities} entities) in {time.monotonic() - started:.1f} s; "
        "starting a worker"
    )
    engine = engine_run(cluster, names, settings, total, profile.stream_cap_s)
    outside = confluent_run(cluster, settings, total)
    raw = raw_run(cluster, settings, total)
    live_names = cluster.names(f"p{batch}-r{run}-live")
    live_settings = cluster.create_topics(live_names)
    live = live_run(
        cluster,
        live_names,
        live_settings,
        list(messages(count, batch, entities, run)),
        total,
        profile.stream_cap_s,
    )
    found.live.append(live.rate)
    found.live_cpu.append(live.cpu_us_per_point)
    found.live_vs_confluent.append(live.rate / outside.rate)
    ratio = engine.timing.rate / raw.rate
    found.engine.append(engine.timing.rate)
    found.engine_cpu.append(engine.timing.cpu_us_per_point)
    found.confluent.append(outside.rate)
    found.engine_vs_confluent.append(engine.timing.rate / outside.rate)
    found.raw.append(raw.rate)
    found.engine_vs_raw.append(ratio)
    found.workload.append(describe_stats(engine.stats))
    line = (
        f"engine {engine.timing.rate:,.0f} points/s over {engine.timing.seconds:.1f} s "
        f"({engine.timing.how}; {describe_stats(engine.stats)}; worker CPU "
        f"{engine.timing.cpu_us_per_point:.1f} µs/point), confluent-kafka + json "
        f"{outside.rate:,.0f} points/s, engine/confluent {engine.timing.rate / outside.rate:.2%}, "
        f"aiokafka + orjson {raw.rate:,.0f} points/s, engine/aiokafka {ratio:.2%}; "
        f"produced live: {live.rate:,.0f} points/s over {live.seconds:.1f} s ({live.how}; "
        f"worker CPU {live.cpu_us_per_point:.1f} µs/point), live/confluent "
        f"{live.rate / outside.rate:.2%}"
    )
    if with_bare and batch == 1:
        try:
            bare = bare_run(cluster, names, total, str(run))
        except BenchError as exc:
            found.bare_failures.append(str(exc).strip().splitlines()[0][:120])
            return line + f"; bare Faust agent failed: {exc}"
        found.bare.append(bare.rate)
        found.engine_vs_bare.append(engine.timing.rate / bare.rate)
        found.live_vs_bare.append(live.rate / bare.rate)
        found.bare_cpu.append(bare.cpu_us_per_point)
        found.bare_vs_engine_cpu.append(bare.cpu_us_per_point / engine.timing.cpu_us_per_point)
        line += (
            f"; bare Faust agent {bare.rate:,.0f} points/s ({bare.cpu_us_per_point:.1f} µs "
            f"CPU/point), engine/bare {engine.timing.rate / bare.rate:.1%}, live/bare "
            f"{live.rate / bare.rate:.1%}, bare/engine CPU "
            f"per point {bare.cpu_us_per_point / engine.timing.cpu_us_per_point:.1%}"
        )
        try:
            table = bare_run(cluster, names, total, str(run), table_write=True)
        except BenchError as exc:
            return line + f"; bare agent + table write failed: {exc}"
        found.bare_table.append(table.rate)
        line += f"; bare agent + one table write per message {table.rate:,.0f} points/s"
    return line


def measure(
    cluster: Cluster, profile: Profile, *, sizes: Sequence[int], with_bare: bool
) -> dict[int, SizeResults]:
    """Run each message size ``profile.runs`` times, each run with a fresh worker and topics."""
    results: dict[int, SizeResults] = {}
    for batch in sizes:
        found = results.setdefault(batch, SizeResults())
        for run in range(1, profile.runs + 1):
            where = f"pipeline {batch} pt/msg run {run}/{profile.runs}"
            try:
                progress(f"{where}: {_one_run(cluster, profile, batch, run, found, with_bare)}")
            except (BenchError, OSError, httpx.HTTPError) as exc:
                reason = str(exc).strip().splitlines()[0][:120] if str(exc).strip() else repr(exc)
                found.failures.append(reason)
                progress(f"{where}: failed: {exc}")
    return results


def rows(results: dict[int, SizeResults], *, pipeline: bool, bare: bool) -> list[Row]:
    out: list[Row] = []
    if pipeline:
        for batch, r in sorted(results.items()):
            what = "1 point/msg" if batch == 1 else f"{batch} points/msg (columnar)"
            big = batch == 1000
            out += [
                Row.of(
                    "1",
                    f"pipeline points/s per worker, {what}, first produced -> last scored",
                    "rate",
                    r.live,
                    Target(">=", 1_000_000) if big else None,
                    r.failures,
                ),
                Row.of(
                    "1",
                    f"pipeline points/s per worker, {what}, last 90 % of a backlog",
                    "rate",
                    r.engine,
                    None,
                    r.failures,
                ),
                Row.of(
                    "1",
                    f"raw confluent-kafka + json consume+decode, {what}",
                    "rate",
                    r.confluent,
                    None,
                    r.failures,
                ),
                Row.of(
                    "1",
                    f"engine (first produced -> last scored) / raw confluent-kafka + json, {what}",
                    "ratio",
                    r.live_vs_confluent,
                    Target(">=", 0.6) if big else None,  # issue 16
                    r.failures,
                ),
                Row.of(
                    "1",
                    f"engine (backlog) / raw confluent-kafka + json, {what}",
                    "ratio",
                    r.engine_vs_confluent,
                    None,
                    r.failures,
                ),
                Row.of(
                    "1",
                    f"raw aiokafka + orjson consume+decode, {what}",
                    "rate",
                    r.raw,
                    None,
                    r.failures,
                ),
                Row.of(
                    "1",
                    f"engine (backlog) / raw aiokafka + orjson, {what}",
                    "ratio",
                    r.engine_vs_raw,
                    None,
                    r.failures,
                ),
            ]
    if bare and 1 in results:
        r = results[1]
        failures = r.failures + r.bare_failures
        out += [
            Row.of("2", "bare counting Faust agent, 1 point/msg", "rate", r.bare, None, failures),
            Row.of(
                "2",
                "bare agent + one table write per message, 1 point/msg",
                "rate",
                r.bare_table,
                None,
                failures,
            ),
            Row.of(
                "2",
                "engine (first produced -> last scored) / bare agent, 1 point/msg",
                "ratio",
                r.live_vs_bare,
                Target(">=", 0.5),  # issue 16
                failures,
            ),
            Row.of(
                "2",
                "engine (backlog) / bare agent, 1 point/msg",
                "ratio",
                r.engine_vs_bare,
                None,
                failures,
            ),
            # The same comparison in CPU time per message, which the machine's other load
            # moves far less than the rates (a process gets less of a core, not more work).
            Row.of("2", "worker CPU per message, 1 point/msg", "us", r.engine_cpu, None, failures),
            Row.of(
                "2",
                "worker CPU per message, 1 point/msg, produced live",
                "us",
                r.live_cpu,
                None,
                failures,
            ),
            Row.of(
                "2", "bare agent CPU per message, 1 point/msg", "us", r.bare_cpu, None, failures
            ),
            Row.of(
                "2",
                "bare agent / worker CPU per message, 1 point/msg",
                "ratio",
                r.bare_vs_engine_cpu,
                None,
                failures,
            ),
        ]
    return out
