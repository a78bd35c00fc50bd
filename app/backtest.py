"""Offline backtest: the engine's own scoring step over CSV files in the NAB layout.

``DIR/<category>/<file>.csv`` holds ``timestamp,value`` rows (ISO-8601 or epoch seconds, UTC);
the labels file maps ``<category>/<file>.csv`` to ``[[start, end], ...]`` anomaly windows. Each
file is one entity of one model, scored by :func:`incidents.scoring.score_batch` with learning on,
in event-time order, in batches that carry the key's and the entity's state like the stream does.

Each file gives ``OUT/<category>/<NAME>_<file>.csv`` with ``timestamp,value,anomaly_score,label``
(one row per input row, in input order, the timestamp and value text as read):

- continuous (the default), from the engine's outputs only: ``score / (score + threshold)``
  (:func:`continuous_score`), so a point exactly at its threshold is 0.5, a NaN score is 0;
- ``decisions``: 1 on the points where the engine opened an incident (after suppression,
  cooldown and the incident lifecycle), else 0 (:func:`decision_score`).

Metrics judge the engine's alerts (a point alerts when it is flagged and passes suppression)
against the labels: point-wise precision/recall/F1/accuracy (a point is labelled 1 inside a
window) and event-wise, each alarm (a run of alerting points) counted once: it is false if it
touches no window, and detects at most one window (see :mod:`detectors.evaluation`).
"""

from __future__ import annotations

import csv
import json
import math
import os
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from app.csv_table import CsvTable, number_cell
from detectors import DetectorError
from detectors.evaluation import eventwise_metrics, pointwise_metrics
from incidents.config import ModelConfig, configs_in
from incidents.scoring import PointOutcome, score_batch
from incidents.telemetry import TelemetryError, parse_ts

DEFAULT_MODEL_ID = "backtest"
BATCH = 500  # points per score_batch call: the stream's batches carry state the same way


class BacktestError(Exception):
    """Input the backtest cannot use; the message is a sentence for the user."""


@dataclass(frozen=True)
class Series:
    """One CSV file: its key, the timestamp and value text as read, and their parsed forms."""

    key: str  # "<category>/<file>.csv"
    timestamps: list[str]
    values_text: list[str]
    ts: list[float]
    values: list[float]


@dataclass
class FileResult:
    """What scoring one file gave: per point its anomaly_score and label, and the metrics."""

    key: str
    points: int
    seconds: float
    scores: list[float]
    labels: list[int] | None
    metrics: dict[str, Any] | None = None
    alerts: int = 0
    incidents: int = 0
    state_bytes: int = 0


@dataclass
class Report:
    files: list[FileResult] = field(default_factory=list)
    seconds: float = 0.0
    overall: dict[str, Any] | None = None


# ------------------------------------------------------------------------------- inputs


def find_series(data_dir: Path) -> list[str]:
    """Keys ``<category>/<file>.csv`` of the CSV files under ``data_dir``, sorted.

    Examples
    --------
    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> (root / "b").mkdir(); (root / "a").mkdir()
    >>> for name in ("b/x.csv", "a/y.csv", "a/notes.txt"):
    ...     _ = (root / name).write_text("timestamp,value\\n")
    >>> find_series(root)
    ['a/y.csv', 'b/x.csv']
    """
    if not data_dir.is_dir():
        raise BacktestError(f"the data folder {data_dir} does not exist.")
    keys = sorted(
        f"{path.parent.name}/{path.name}"
        for path in data_dir.glob("*/*.csv")
        if path.is_file() and path.name[:1] != "."
    )
    if not keys:
        raise BacktestError(
            f"the data folder {data_dir} has no CSV files in the layout <category>/<file>.csv."
        )
    return keys


def read_series(data_dir: Path, key: str) -> Series:
    """Read ``data_dir/key``: a header with ``timestamp`` and ``value`` columns, then rows.

    An empty or ``nan`` value is a gap (scored as missing). Raises :class:`BacktestError` with
    the file and line of the first problem.
    """
    path = data_dir / key
    try:
        handle = path.open(newline="", encoding="utf-8")
    except OSError as exc:
        raise BacktestError(f"cannot read {path}: {exc.strerror or exc}.") from None
    with handle:
        table = CsvTable(handle, str(path))
        t_col, v_col = table.column("timestamp"), table.column("value")
        if t_col is None or v_col is None:
            raise BacktestError(
                f"{path} must start with a header naming the columns timestamp and value, "
                f"got {','.join(table.header or []) or 'an empty file'}."
            )
        timestamps: list[str] = []
        values_text: list[str] = []
        ts: list[float] = []
        values: list[float] = []
        for line, row in table.rows():
            if len(row) <= max(t_col, v_col):
                raise BacktestError(f"{path} line {line} has {len(row)} columns, not 2 or more.")
            stamp, text = row[t_col], row[v_col]
            try:
                ts.append(parse_ts(stamp, "timestamp"))
            except TelemetryError as exc:
                raise BacktestError(f"{path} line {line}: {exc}.") from None
            try:
                value = number_cell(text)
            except ValueError:
                raise BacktestError(
                    f"{path} line {line}: value {text!r} is not a number."
                ) from None
            timestamps.append(stamp)
            values_text.append(text)
            values.append(math.nan if value is None else value)
    if not ts:
        raise BacktestError(f"{path} has a header but no rows.")
    return Series(key, timestamps, values_text, ts, values)


def _window_bound(value: object, where: str) -> float:
    try:
        return parse_ts(value, where)
    except TelemetryError as exc:
        raise BacktestError(f"{exc}.") from None


def _read_json(path: Path, what: str) -> Any:
    """The JSON document in ``path``; a :class:`BacktestError` that says why not."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise BacktestError(f"cannot read the {what} {path}: {exc.strerror or exc}.") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise BacktestError(
            f"the {what} {path} is not valid JSON: {exc.msg} at line {exc.lineno}."
        ) from None


def read_labels(path: Path, keys: Iterable[str]) -> dict[str, list[tuple[float, float]]]:
    """Anomaly windows by file key, as epoch seconds; every key must name a file in ``keys``.

    Examples
    --------
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "labels.json"
    >>> _ = p.write_text('{"a/x.csv": [["2014-02-19 10:50:00.000000", "2014-02-19 11:00:00"]]}')
    >>> read_labels(p, ["a/x.csv"])
    {'a/x.csv': [(1392807000.0, 1392807600.0)]}
    >>> read_labels(p, ["b/y.csv"])
    Traceback (most recent call last):
    ...
    app.backtest.BacktestError: the labels file ... names a/x.csv, which is not a file of the data folder.
    """
    data = _read_json(path, "labels file")
    if not isinstance(data, dict):
        raise BacktestError(
            f"the labels file {path} must be a JSON object mapping <category>/<file>.csv "
            "to a list of [start, end] windows."
        )
    known = set(keys)
    windows: dict[str, list[tuple[float, float]]] = {}
    for key, spans in data.items():
        if key not in known:
            raise BacktestError(
                f"the labels file {path} names {key}, which is not a file of the data folder."
            )
        if not isinstance(spans, list):
            raise BacktestError(f"the labels of {key} must be a list of [start, end] windows.")
        parsed = []
        for i, span in enumerate(spans):
            if not isinstance(span, list | tuple) or len(span) != 2:
                raise BacktestError(f"window {i} of {key} must be [start, end], got {span!r}.")
            start = _window_bound(span[0], f"window {i} of {key}: start")
            end = _window_bound(span[1], f"window {i} of {key}: end")
            if end < start:
                raise BacktestError(f"window {i} of {key} ends before it starts.")
            parsed.append((start, end))
        windows[key] = parsed
    return windows


def load_config(path: Path | None) -> ModelConfig:
    """The configuration in ``path``: one object as ``POST /anomaly/config`` takes it
    (``model_id`` optional, default ``backtest``), or ``{"configs": [one]}``; None: the
    recommended model.

    It is validated like the REST API validates it, and errors name the field.

    >>> from incidents.recommended import RECOMMENDED
    >>> load_config(None).detector == RECOMMENDED["detector"]
    True
    """
    return config_from({} if path is None else read_config(path), path)


def read_config(path: Path) -> Any:
    """The JSON of a config file, read once (``<(echo ...)`` is a pipe: it reads once)."""
    return _read_json(path, "config file")


def config_from(data: Any, path: Path | None) -> ModelConfig:
    """:func:`load_config` for the JSON ``data`` read from ``path``."""
    from pydantic import ValidationError

    from api.errors import validation_items
    from api.schemas import ModelConfigIn

    try:
        configs = configs_in(data)
    except ValueError:
        configs = []
    if len(configs) != 1 or (isinstance(data, dict) and "configs" in data and len(data) != 1):
        raise BacktestError(
            f'the config file {path} must hold one configuration, or {{"configs": [one]}}.'
        )
    data = configs[0]
    if not isinstance(data, dict):
        raise BacktestError(f"the config file {path} must hold a JSON object.")
    data = {"model_id": DEFAULT_MODEL_ID, **data}
    try:
        validated = ModelConfigIn.model_validate(data)
    except ValidationError as exc:
        errors = [dict(error) for error in exc.errors()]
        problems = "; ".join(
            f"{item['field']}: {item['message']}" for item in validation_items(errors)
        )
        raise BacktestError(
            f"the config file {path} is not a valid configuration: {problems}."
        ) from None
    if validated.stream != "metrics":
        raise BacktestError(
            f"the config file {path} is for the {validated.stream} stream; "
            "the backtest scores numeric series (stream metrics)."
        )
    return ModelConfig.from_dict(validated.model_dump())


# ------------------------------------------------------------------------------ scoring


def continuous_score(point: PointOutcome) -> float:
    """The engine's score mapped into [0, 1): ``score / (score + threshold)``; NaN gives 0.

    Monotone in the score for a given threshold, and 0.5 exactly at the threshold, so the
    engine's alert line is the same on every series.

    Examples
    --------
    >>> p = PointOutcome(ts=0.0, score=9.0, threshold=3.0, is_anomaly=True, warm=True)
    >>> continuous_score(p)
    0.75
    >>> continuous_score(PointOutcome(0.0, float("nan"), 3.0, False, True))
    0.0
    """
    score = point.score
    if not math.isfinite(score) or score <= 0:
        return 0.0 if not (math.isinf(score) and score > 0) else 1.0
    return score / (score + point.threshold)


def decision_score(point: PointOutcome) -> float:
    """1.0 on the point that opened an incident, else 0.0.

    Examples
    --------
    >>> decision_score(PointOutcome(0.0, 9.0, 3.0, True, True, alert=True, incident_id="inc-1"))
    1.0
    >>> decision_score(PointOutcome(0.0, 9.0, 3.0, True, True, alert=True))
    0.0
    """
    return 1.0 if point.incident_id is not None else 0.0


def score_series(
    config: ModelConfig, series: Series, batch: int = BATCH
) -> tuple[list[PointOutcome], int]:
    """Score ``series`` in event-time order; outcomes in input order, and the state's size.

    One entity (the file's key) of the configuration's model, learning on, state carried from
    batch to batch as the stream carries it.
    """
    order = sorted(range(len(series.ts)), key=series.ts.__getitem__)
    outcomes: list[PointOutcome | None] = [None] * len(order)
    state: Mapping[str, Any] | None = None
    entity_state: Mapping[str, Any] | None = None
    for start in range(0, len(order), batch):
        chunk = order[start : start + batch]
        try:
            out = score_batch(
                config,
                series.key,
                state,
                [series.ts[i] for i in chunk],
                [[series.values[i]] for i in chunk],
                entity_state=entity_state,
            )
        except DetectorError as exc:
            raise BacktestError(f"{series.key}: {exc}.") from None
        state = out.state
        if out.entity_state is not None:
            entity_state = out.entity_state
        for i, point in zip(chunk, out.points, strict=True):
            outcomes[i] = point
    size = len(json.dumps(state, separators=(",", ":"))) if state is not None else 0
    return [p for p in outcomes if p is not None], size


def point_labels(ts: Sequence[float], windows: Sequence[tuple[float, float]]) -> list[int]:
    """1 for a point inside a window (bounds included), else 0.

    Examples
    --------
    >>> point_labels([0.0, 10.0, 20.0, 30.0], [(10.0, 20.0)])
    [0, 1, 1, 0]
    """
    return [int(any(start <= t <= end for start, end in windows)) for t in ts]


def file_metrics(
    alerts: Sequence[bool], labels: Sequence[int], ts: Sequence[float]
) -> dict[str, Any]:
    """Point-wise and event-wise metrics of the alerts, in event-time order.

    Examples
    --------
    >>> m = file_metrics([False, True, True, False, True], [0, 1, 1, 0, 0], [0, 1, 2, 3, 4])
    >>> m["point"]["precision"], m["point"]["recall"], m["event"]["detected"]
    (0.6666666666666666, 1.0, 1)
    """
    order = sorted(range(len(ts)), key=ts.__getitem__)
    predicted = [bool(alerts[i]) for i in order]
    ordered = [labels[i] for i in order]
    return {
        "point": pointwise_metrics(predicted, ordered),
        "event": eventwise_metrics(predicted, ordered, [ts[i] for i in order]),
    }


def overall_metrics(results: Sequence[FileResult]) -> dict[str, Any]:
    """Sums of the files' counts, and the ratios and mean delay they give.

    Examples
    --------
    >>> a = FileResult("a", 4, 0.0, [], [], {"point": {"tp": 1, "fp": 1, "fn": 1, "tn": 1},
    ...     "event": {"windows": 1, "detected": 1, "alarms": 2, "false_alarms": 1,
    ...               "delays_points": [3], "delays_seconds": [30.0]}})
    >>> m = overall_metrics([a, a])
    >>> m["point"]["precision"], m["point"]["accuracy"], m["event"]["recall"]
    (0.5, 0.5, 1.0)
    >>> m["event"]["mean_delay_points"]
    3.0
    """
    point = {name: 0 for name in ("tp", "fp", "fn", "tn")}
    event = {name: 0 for name in ("windows", "detected", "alarms", "false_alarms")}
    delays_points: list[float] = []
    delays_seconds: list[float] = []
    for result in results:
        if result.metrics is None:
            continue
        for name in point:
            point[name] += result.metrics["point"][name]
        for name in event:
            event[name] += result.metrics["event"][name]
        delays_points += [d for d in result.metrics["event"]["delays_points"] if d is not None]
        delays_seconds += [
            d for d in result.metrics["event"]["delays_seconds"] or [] if d is not None
        ]

    def ratio(a: float, b: float) -> float:
        return a / b if b else 0.0

    def f1(p: float, r: float) -> float:
        return ratio(2 * p * r, p + r)

    precision = ratio(point["tp"], point["tp"] + point["fp"])
    recall = ratio(point["tp"], point["tp"] + point["fn"])
    accuracy = ratio(point["tp"] + point["tn"], sum(point.values()))
    e_precision = ratio(event["alarms"] - event["false_alarms"], event["alarms"])
    e_recall = ratio(event["detected"], event["windows"])
    return {
        "point": {
            **point,
            "precision": precision,
            "recall": recall,
            "f1": f1(precision, recall),
            "accuracy": accuracy,
        },
        "event": {
            **event,
            "precision": e_precision,
            "recall": e_recall,
            "f1": f1(e_precision, e_recall),
            "mean_delay_points": ratio(sum(delays_points), len(delays_points))
            if delays_points
            else None,
            "mean_delay_seconds": ratio(sum(delays_seconds), len(delays_seconds))
            if delays_seconds
            else None,
        },
    }


def backtest_file(
    config: ModelConfig,
    series: Series,
    windows: Sequence[tuple[float, float]] | None,
    decisions: bool = False,
) -> FileResult:
    """Score one series and judge its alerts against its windows (None: no labels)."""
    started = time.perf_counter()
    points, size = score_series(config, series)
    mapping = decision_score if decisions else continuous_score
    labels = point_labels(series.ts, windows) if windows is not None else None
    result = FileResult(
        key=series.key,
        points=len(points),
        seconds=time.perf_counter() - started,
        scores=[mapping(p) for p in points],
        labels=labels,
        alerts=sum(p.alert for p in points),
        incidents=sum(p.incident_id is not None for p in points),
        state_bytes=size,
    )
    if labels is not None:
        result.metrics = file_metrics([p.alert for p in points], labels, series.ts)
    return result


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


# ------------------------------------------------------------------------------- runner


def _work(
    args: tuple[Path, str, ModelConfig, list[tuple[float, float]] | None, bool, Path, str],
) -> FileResult:
    data_dir, key, config, windows, decisions, out_dir, name = args
    series = read_series(data_dir, key)
    result = backtest_file(config, series, windows, decisions)
    write_result(out_dir, name, series, result)
    return result


def check_name(name: str) -> str:
    """The result name: letters, digits, '.' and '-' only (NAB splits file names on '_').

    Examples
    --------
    >>> check_name("engine")
    'engine'
    >>> check_name("my_run")
    Traceback (most recent call last):
    ...
    app.backtest.BacktestError: --name must be letters, digits, '.' or '-' (no '_'), got 'my_run'.
    """
    if not name or not all(c.isalnum() or c in ".-" for c in name):
        raise BacktestError(f"--name must be letters, digits, '.' or '-' (no '_'), got {name!r}.")
    return name


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


def default_jobs() -> int:
    return max(1, min(4, os.cpu_count() or 1))
