"""Running the backtest over a data folder: scoring its files (in parallel), writing each
file's result CSV, and printing the report and the progress.
"""

from __future__ import annotations

import csv
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from app.backtest.inputs import (
    BacktestError,
    Series,
    check_name,
    find_series,
    load_config,
    read_labels,
    read_series,
)
from app.backtest.scoring import FileResult, backtest_file, overall_metrics
from incidents.config import ModelConfig


@dataclass
class Report:
    files: list[FileResult] = field(default_factory=list)
    seconds: float = 0.0
    overall: dict[str, Any] | None = None


def write_result(out_dir: Path, name: str, series: Series, result: FileResult) -> Path:
    """Write ``out_dir/<category>/<name>_<file>.csv``: timestamp,value,anomaly_score,label."""
    category, file_name = series.key.split("/", 1)
    target = out_dir / category / f"{name}_{file_name}"
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(["timestamp", "value", "anomaly_score", "label"])
            labels = result.labels or [0] * len(result.scores)
            for stamp, text, score, label in zip(
                series.timestamps, series.values_text, result.scores, labels, strict=True
            ):
                writer.writerow([stamp, text, f"{score:.9g}", label])
    except OSError as exc:
        raise BacktestError(f"cannot write {target}: {exc.strerror or exc}.") from None
    return target


def _work(
    args: tuple[Path, str, ModelConfig, list[tuple[float, float]] | None, bool, Path, str],
) -> FileResult:
    data_dir, key, config, windows, decisions, out_dir, name = args
    series = read_series(data_dir, key)
    result = backtest_file(config, series, windows, decisions)
    write_result(out_dir, name, series, result)
    return result


def run_backtest(
    data_dir: Path,
    config_path: Path | None,
    out_dir: Path,
    name: str,
    labels_path: Path | None = None,
    *,
    decisions: bool = False,
    jobs: int = 1,
    progress: Callable[[FileResult, int, int, int, float], None] | None = None,
) -> Report:
    """Check every input first, then score each file (``jobs`` in parallel) and write it.

    ``progress(result, files_done, files_total, points_done, seconds)`` is called per file.
    """
    check_name(name)
    config = load_config(config_path)
    keys = find_series(data_dir)
    windows = read_labels(labels_path, keys) if labels_path is not None else None
    work = [
        (
            data_dir,
            key,
            config,
            (windows or {}).get(key, []) if windows is not None else None,
            decisions,
            out_dir,
            name,
        )
        for key in keys
    ]
    for key in keys:  # every file readable before the first result is written
        read_series(data_dir, key)
    report = Report()
    started = time.perf_counter()
    done_points = 0

    def record(result: FileResult) -> None:
        nonlocal done_points
        report.files.append(result)
        done_points += result.points
        if progress is not None:
            progress(
                result, len(report.files), len(keys), done_points, time.perf_counter() - started
            )

    if jobs > 1:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            for result in pool.map(_work, work):
                record(result)
    else:
        for item in work:
            record(_work(item))
    report.seconds = time.perf_counter() - started
    if windows is not None:
        report.overall = overall_metrics(report.files)
    return report


# ------------------------------------------------------------------------------ output


def _fmt_delay(points: float | None, seconds: float | None) -> str:
    if points is None:
        return "-"
    text = f"{points:.1f} pts"
    if seconds is not None:
        text += f" ({seconds / 60:.0f} min)"
    return text


def print_report(report: Report, stream: TextIO = sys.stdout) -> None:
    """Per-file and overall metrics as a table (nothing when there were no labels)."""
    if report.overall is None:
        print(f"scored {len(report.files)} files in {report.seconds:.1f} s", file=stream)
        return
    header = (
        f"{'file':52s} {'P':>5s} {'R':>5s} {'F1':>5s} {'acc':>5s}  {'windows':>7s} {'alarms':>6s} "
        f"{'false':>5s}  delay"
    )
    print(header, file=stream)
    rows = [*report.files]
    for result in sorted(rows, key=lambda r: r.key):
        m = result.metrics or {}
        point, event = m.get("point", {}), m.get("event", {})
        print(
            f"{result.key[:52]:52s} {point.get('precision', 0):5.2f} {point.get('recall', 0):5.2f} "
            f"{point.get('f1', 0):5.2f} {point.get('accuracy', 0):5.3f}  "
            f"{event.get('detected', 0):>3d}/{event.get('windows', 0):<3d} "
            f"{event.get('alarms', 0):6d} {event.get('false_alarms', 0):5d}  "
            f"{_fmt_delay(event.get('mean_delay_points'), event.get('mean_delay_seconds'))}",
            file=stream,
        )
    point, event = report.overall["point"], report.overall["event"]
    print(
        f"overall point-wise: precision {point['precision']:.3f} recall {point['recall']:.3f} "
        f"F1 {point['f1']:.3f} accuracy {point['accuracy']:.4f} (tp {point['tp']}, fp {point['fp']}, fn {point['fn']}, "
        f"tn {point['tn']})",
        file=stream,
    )
    print(
        f"overall event-wise: {event['detected']}/{event['windows']} windows detected, "
        f"{event['alarms']} alarms ({event['false_alarms']} false), precision "
        f"{event['precision']:.3f} recall {event['recall']:.3f} F1 {event['f1']:.3f}, mean delay "
        f"{_fmt_delay(event['mean_delay_points'], event['mean_delay_seconds'])}",
        file=stream,
    )
    total = sum(r.points for r in report.files)
    print(
        f"{len(report.files)} files, {total} points in {report.seconds:.1f} s "
        f"({total / max(report.seconds, 1e-9):,.0f} points/s)",
        file=stream,
    )


def progress_printer(
    stream: TextIO = sys.stderr,
) -> Callable[[FileResult, int, int, int, float], None]:
    """A progress callback: one line per file, files done / total and points per second."""

    def show(result: FileResult, done: int, total: int, points: int, seconds: float) -> None:
        rate = points / seconds if seconds > 0 else 0.0
        print(
            f"[{done:>{len(str(total))}d}/{total}] {result.key} ({result.points} points, "
            f"{result.incidents} incidents) {rate:,.0f} points/s",
            file=stream,
            flush=True,
        )

    return show
