"""Measurement 7: wall time of ``anomaly-engine backtest`` over the whole nab-dev corpus.

The command exactly as a user runs it (a fresh interpreter, imports included), with the labels,
the configuration in ``bench/backtest_config.json`` (the README's zscore + adaptive threshold,
with the baseline learned since NAB series have one feature and no known mean), the results
written to a temporary folder. Timed with ``--jobs 1`` (one core) and with every core.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.cluster import ROOT
from bench.profile import Profile, progress
from bench.summary import Summary
from bench.table import Row, Target

# The workspace layout (a clone next to ../shared); ANOMALY_BENCH_NAB_DIR for a clone elsewhere.
CORPUS = Path(
    os.environ.get("ANOMALY_BENCH_NAB_DIR") or ROOT.parent / "shared" / "datasets" / "nab-dev"
).resolve()
CONFIG = Path(__file__).with_name("backtest_config.json")
TARGET_S = 5.0


def command(out: Path, jobs: int) -> list[str]:
    """The backtest command line (paths relative to the repository root when possible)."""
    return [
        "python",
        "-m",
        "app",
        "backtest",
        "--data",
        os.path.relpath(CORPUS / "data", ROOT),
        "--labels",
        os.path.relpath(CORPUS / "labels" / "combined_windows.json", ROOT),
        "--config",
        os.path.relpath(CONFIG, ROOT),
        "--out",
        str(out),
        "--name",
        "bench",
        "--jobs",
        str(jobs),
    ]


def command_available() -> bool:
    """Whether this checkout's CLI has the ``backtest`` command."""
    probe = subprocess.run(
        [sys.executable, "-m", "app", "backtest", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return probe.returncode == 0


def reported_points(stdout: str) -> int | None:
    """The point count the backtest reports on its last line.

    Examples
    --------
    >>> reported_points("...\\n58 files, 101,513 points in 3.1 s (32,746 points/s)\\n")
    101513
    >>> reported_points("scored 3 files in 0.1 s") is None
    True
    """
    found = re.search(r"files, ([\d,]+) points in", stdout)
    return int(found.group(1).replace(",", "")) if found else None


def measure(profile: Profile) -> list[Row]:
    name = "backtest of ../shared/datasets/nab-dev, wall time"
    if not (CORPUS / "data").is_dir():
        return [
            Row(
                "7",
                name,
                "s",
                note=f"not measured: no corpus at {CORPUS} (set ANOMALY_BENCH_NAB_DIR)",
            )
        ]
    if not command_available():
        return [Row("7", name, "s", note="not measured: backtest command missing")]
    rows: list[Row] = []
    cores = os.cpu_count() or 1
    for jobs in sorted({min(j, cores) if j > 0 else cores for j in profile.backtest_jobs}):
        times = []
        points = None
        for run in range(1, profile.backtest_runs + 1):
            out = Path(tempfile.mkdtemp(prefix="anomaly-bench-backtest-"))
            argv = [sys.executable, *command(out, jobs)[1:]]
            try:
                started = time.perf_counter()
                done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=900)
                elapsed = time.perf_counter() - started
            finally:
                shutil.rmtree(out, ignore_errors=True)
            if done.returncode != 0:
                message = (done.stderr.strip().splitlines() or ["no output"])[-1]
                progress(f"backtest --jobs {jobs} failed: {done.stderr[-2000:]}")
                return [*rows, Row("7", name, "s", note=f"error: {message[:120]}")]
            points = reported_points(done.stdout)
            times.append(elapsed)
            progress(
                f"backtest --jobs {jobs} run {run}/{profile.backtest_runs}: {elapsed:.2f} s "
                f"({points or '?'} points)"
            )
        rows.append(
            Row(
                "7",
                f"{name}, --jobs {jobs}" + (f" ({points:,} points)" if points else ""),
                "s",
                Summary.of(times),
                Target("<=", TARGET_S),
            )
        )
    return rows
