"""``python -m bench``: run the measurements, print one table, write docs/PERFORMANCE.md."""

from __future__ import annotations

import argparse
import logging
import os
import shlex
import signal
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType

import httpx

from app.worker.kafka.embedded import BROKER_NAMES
from bench import (
    agent_path,
    backtest_time,
    collector_formats,
    detector_cost,
    latency,
    memory,
    pipeline,
    score_api,
)
from bench.cluster import ROOT, BenchError, Cluster
from bench.profile import FULL, QUICK, Profile, progress
from bench.report import RunInfo, load_average, machine, now, render, write
from bench.table import Row, format_table
from bench.workload import README_CONFIG

MEASUREMENTS = (
    "pipeline", "bare", "latency", "score", "memory", "detectors", "backtest", "formats"
)  # fmt: skip
GROUP = {name: str(i) for i, name in enumerate(MEASUREMENTS, start=1)}
DOC = ROOT / "docs" / "PERFORMANCE.md"
SCORE_LIMITS = {"ANOMALY_SCORE_RATE_PER_S": "100000", "ANOMALY_SCORE_BURST": "100000"}


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Measure the engine on an embedded broker; print one table and write "
        "docs/PERFORMANCE.md (full runs of every measurement only, unless --out is given).",
    )
    parser.add_argument(
        "--quick", action="store_true", help="fewer runs and smaller sizes: a smoke run"
    )
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="NAME",
        help=f"run only these measurements (repeat or comma-separate): {', '.join(MEASUREMENTS)}",
    )
    parser.add_argument(
        "--broker",
        choices=("auto", "kafka", "tansu"),
        default=os.environ.get("ANOMALY_BROKER", "auto"),
        help="the embedded broker for the measurements over Kafka (auto: Apache Kafka where "
        "Java 17+ is present, else Tansu; default ANOMALY_BROKER or auto)",
    )
    parser.add_argument("--out", type=Path, help=f"write the report here (default {DOC})")
    parser.add_argument("--no-write", action="store_true", help="print the table only")
    parser.add_argument(
        "--keep", action="store_true", help="keep the work directory (worker and broker logs)"
    )
    args = parser.parse_args(argv)
    only = {name.strip() for value in args.only for name in value.split(",") if name.strip()}
    unknown = only - set(MEASUREMENTS)
    if unknown:
        parser.error(
            f"unknown measurement {', '.join(sorted(unknown))}; choose from {MEASUREMENTS}"
        )
    args.selected = [name for name in MEASUREMENTS if not only or name in only]
    return args


def _interrupt(signum: int, frame: FrameType | None) -> None:
    # Tasks cut short by the interrupt would each log a traceback: the interrupt says it all.
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)
    raise KeyboardInterrupt(f"signal {signum}")


def guarded(name: str, rows: list[Row], measure: Callable[[], list[Row]]) -> None:
    """Run one measurement; a failure becomes a row saying so, and the others still run."""
    started = time.monotonic()
    progress(f"{name}: starting")
    try:
        rows += measure()
    except Exception as exc:  # a bench bug or an engine failure costs one measurement, not all
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        progress(f"{name}: failed: {exc}\n{traceback.format_exc()}")
        rows.append(Row(GROUP[name], name, "s", note=f"error: {first[:150]}"))
    progress(f"{name}: done in {time.monotonic() - started:.0f} s")


def run_cluster_measurements(
    selected: Sequence[str],
    profile: Profile,
    rows: list[Row],
    notes: list[str],
    keep: bool,
    broker: str,
) -> str:
    """The measurements over a broker; returns the broker's name."""
    with Cluster(keep=keep, broker=broker) as cluster:
        name = BROKER_NAMES[cluster.broker.kind]
        progress(f"{name} at {cluster.bootstrap}; work directory {cluster.workdir}")
        names = cluster.names("w0")
        worker = cluster.start_worker(names, SCORE_LIMITS)
        progress(f"configuration worker ready in {worker.wait_ready():.1f} s")
        response = worker.http.post("/anomaly/config", json={"configs": [README_CONFIG]})
        if response.status_code != 200:
            raise BenchError(
                f"POST /anomaly/config answered {response.status_code}: {response.text}"
            )
        # Scoring first: the latency stream may leave the worker a backlog to work through.
        if "score" in selected:
            guarded("score", rows, lambda: score_api.measure(worker, profile, notes))
        if "latency" in selected:
            guarded("latency", rows, lambda: latency.measure(cluster, worker, names, profile))
        cluster.stop(worker)
        if "formats" in selected:
            guarded("formats", rows, lambda: collector_formats.measure(cluster, profile, notes))
        if "pipeline" in selected or "bare" in selected:
            sizes = sorted(profile.stream) if "pipeline" in selected else [1]
            found: dict[int, pipeline.SizeResults] = {}

            def stream() -> list[Row]:
                found.update(
                    pipeline.measure(cluster, profile, sizes=sizes, with_bare="bare" in selected)
                )
                return pipeline.rows(
                    found, pipeline="pipeline" in selected, bare="bare" in selected
                )

            guarded("pipeline" if "pipeline" in selected else "bare", rows, stream)
            notes.append(
                "The hot loop of single-point messages, profiled in-process (cProfile of a "
                "telemetry agent's handle_batch over a real engine, no Faust consumer: "
                "`python -m bench.agent_path --messages 3000 --entities 50 --profile`), own "
                "time per message (the profiler's cost included), top functions: "
                + "; ".join(agent_path.top_functions())
                + "."
            )
            for batch, result in sorted(found.items()):
                if result.workload:
                    notes.append(
                        f"Pipeline, {batch} point(s)/message, what each worker saw: "
                        + "; ".join(result.workload)
                        + "."
                    )
        if keep:
            notes.append(f"Logs kept in {cluster.workdir}.")
    return name


def commands(args: argparse.Namespace, profile: Profile) -> list[str]:
    invoked = " ".join(shlex.quote(a) for a in sys.argv[1:])
    lines = [
        "# the whole run (bootstraps .venv first)",
        "make bench" if not invoked else f"make bench BENCH_ARGS={shlex.quote(invoked)}",
        f".venv/bin/python -m bench {invoked}".rstrip(),
        "",
        "# what it starts: an embedded broker on a free port (--broker: Apache Kafka, app.worker.kafka.kafka_broker,",
        "# or Tansu, app.worker.kafka.broker), then",
        "# per run one worker with its own group and topics, the README configuration applied",
        "KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:<port> ANOMALY_APP_ID=bench-<id>-<run> \\",
        "  ANOMALY_METRICS_TOPIC=bench-<id>-<run>.telemetry.metrics ... \\",
        "  ANOMALY_CONFIG_TOPIC=bench-<id>.anomaly.config python -m app run",
        "# the worker for latency and /anomaly/score also has "
        + " ".join(f"{k}={v}" for k, v in SCORE_LIMITS.items()),
        "# the bare counting agent, same environment plus:",
        "BENCH_EXPECT=<points> BENCH_RESULT=<file> python -m bench.bare_agent",
        "",
        "# memory probe (keys, warmed keys, seed)",
        f"python -m bench.memory {profile.memory_keys} {profile.memory_templates} 1",
        "",
        "# backtest, with --jobs 1 and --jobs <cores>",
        " ".join(backtest_time.command(Path("<tmp>"), 1)),
    ]
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    profile = QUICK if args.quick else FULL
    selected: list[str] = args.selected
    full = not args.quick and len(selected) == len(MEASUREMENTS)
    out: Path | None = None if args.no_write else args.out or (DOC if full else None)
    # Our own handlers (asyncio.run's SIGINT handler only cancels its task, which a client
    # library may swallow): either signal unwinds the bench, stopping what it started.
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    started_at, started = now(), time.monotonic()
    load_before = load_average()
    progress(f"profile {profile.name}: {', '.join(selected)}; load average {load_before}")
    rows: list[Row] = []
    notes: list[str] = []
    broker = "none (in-process measurements only)"
    try:
        if {"pipeline", "bare", "latency", "score", "formats"} & set(selected):
            try:
                broker = run_cluster_measurements(
                    selected, profile, rows, notes, args.keep, args.broker
                )
            except (BenchError, OSError, httpx.HTTPError) as exc:
                progress(f"the engine could not be set up: {exc}")
                for name in ("latency", "score", "pipeline", "bare", "formats"):
                    if name in selected:
                        rows.append(Row(GROUP[name], name, "s", note=f"error: {str(exc)[:150]}"))
        if "memory" in selected:
            guarded("memory", rows, lambda: memory.measure(profile, notes))
        if "detectors" in selected:
            guarded("detectors", rows, lambda: detector_cost.measure(profile))
        if "backtest" in selected:
            guarded("backtest", rows, lambda: backtest_time.measure(profile))
    except KeyboardInterrupt:
        progress("interrupted: every process the bench started has been stopped")
        return 130
    rows.sort(key=lambda row: int(row.group))  # stable: each measurement's rows stay in order
    seconds = time.monotonic() - started
    table = format_table(rows)
    print(table, flush=True)
    progress(f"finished in {seconds / 60:.1f} min")
    if out is not None:
        info = RunInfo(
            profile, sys.argv, started_at, seconds, load_before, load_average(), machine(broker)
        )
        write(out, render(rows, info, commands(args, profile), notes))
        progress(f"wrote {out}")
    else:
        progress("report not written (a --quick or --only run); --out PATH writes it")
    return 0


if __name__ == "__main__":
    sys.exit(main())
