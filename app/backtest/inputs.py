"""The backtest's inputs: the CSV series, the labels file, the configuration and the result name.

Every problem with an input raises :class:`BacktestError` with a sentence for the user that names
the file (and line or field) at fault.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.csv_table import CsvTable, number_cell
from incidents.config import ModelConfig, configs_in
from incidents.points import TelemetryError, parse_ts

DEFAULT_MODEL_ID = "backtest"


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
        table = CsvTable(handle)
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
    app.backtest.inputs.BacktestError: the labels file ... names a/x.csv, which is not a file of the data folder.
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
    from api.schemas.config import ModelConfigIn

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


def check_name(name: str) -> str:
    """The result name: letters, digits, '.' and '-' only (NAB splits file names on '_').

    Examples
    --------
    >>> check_name("engine")
    'engine'
    >>> check_name("my_run")
    Traceback (most recent call last):
    ...
    app.backtest.inputs.BacktestError: --name must be letters, digits, '.' or '-' (no '_'), got 'my_run'.
    """
    if not name or not all(c.isalnum() or c in ".-" for c in name):
        raise BacktestError(f"--name must be letters, digits, '.' or '-' (no '_'), got {name!r}.")
    return name
