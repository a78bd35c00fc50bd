"""Telemetry points as the engine reads them, from a Kafka message or a REST request.

A metrics message holds one point, a list of points, or columns::

    {"model_id": "m", "entity": "host-1", "ts": "2026-11-27T08:00:00Z", "values": [101.0, 5.0]}
    {"model_id": "m", "entity": "host-1", "points": [{"ts": ..., "values": [...]}, ...]}
    {"model_id": "m", "entity": "host-1", "ts": [t0, t1, ...], "values": [[f0 ...], [f1 ...]]}

``values`` is a list in the configuration's feature order, or an object by feature name when the
configuration names its ``features`` (a feature left out, or null, is a gap). ``ts`` is ISO-8601
(UTC when it has no offset) or epoch seconds.

Feedback, kept apart from ``label`` (ground truth for the quality counters, never learned): a point
with ``"feedback": "false_positive"`` (``feedback`` in the columnar form: one per timestamp, or
null) is a normal point, learned as such; a message ``{"model_id", "entity", "feedback":
{"incident_id", "verdict"}}`` without points says an incident was a false positive (see
``incidents.feedback``). Log and behaviour events are read in :mod:`app.telemetry.events`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, TypeGuard

import numpy as np

from incidents.config import ModelConfig
from incidents.feedback import VERDICTS
from incidents.points import MAX_EPOCH_SECONDS, Batch, TelemetryError, parse_ts


def _number(value: object, where: str) -> float:
    if value is None:
        return math.nan
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TelemetryError(f"{where} must be a number or null, got {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise TelemetryError(f"{where} must be finite, got {value!r}")
    return number


def point_values(values: object, config: ModelConfig, where: str = "values") -> list[float]:
    """One point's values in feature order; null and left-out named features are NaN (gaps).

    Examples
    --------
    >>> cfg = ModelConfig("m", "1", "zscore", features=("cpu", "mem"))
    >>> point_values({"mem": 5, "cpu": 101.5}, cfg), point_values([1, None], cfg)
    ([101.5, 5.0], [1.0, nan])
    >>> point_values({"disk": 1}, cfg)
    Traceback (most recent call last):
    ...
    incidents.points.TelemetryError: values names unknown feature 'disk'; model 'm' has: cpu, mem
    """
    if type(values) is not list and _is_mapping(values):  # a list is not: no ABC check
        if not config.features:
            raise TelemetryError(
                f"{where} is an object but model {config.model_id!r} names no features; "
                "send a list in feature order or add 'features' to the configuration"
            )
        for name in values:
            if name not in config.features:
                raise TelemetryError(
                    f"{where} names unknown feature {name!r}; model {config.model_id!r} has: "
                    + ", ".join(config.features)
                )
        return [_number(values.get(name), f"{where}.{name}") for name in config.features]
    if type(values) is list or isinstance(values, list | tuple):
        if not values:
            raise TelemetryError(f"{where} must hold at least one value")
        expected = config.n_features
        if expected is not None and len(values) != expected:
            raise TelemetryError(
                f"{where} has {len(values)} values but model {config.model_id!r} expects {expected}"
            )
        return [  # a finite float as it is, anything else checked (and named when wrong)
            v if type(v) is float and math.isfinite(v) else _number(v, f"{where}[{i}]")
            for i, v in enumerate(values)
        ]
    if isinstance(values, int | float) and not isinstance(values, bool):
        return point_values([values], config, where)
    raise TelemetryError(f"{where} must be a list of numbers or an object by feature name")


def _label(value: object, where: str) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int | float) or value not in (0, 1):
        raise TelemetryError(f"{where} must be 0, 1 or null, got {value!r}")
    return int(value)


def _labels(raw: list[object], where: str) -> list[int | None] | None:
    labels = [_label(v, f"{where}[{i}]") for i, v in enumerate(raw)]
    return labels if any(label is not None for label in labels) else None


_ALLOWED_VERDICTS = " or ".join(f'"{v}"' for v in VERDICTS)


def _verdict(value: object, where: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, str) and value in VERDICTS:
        return value
    raise TelemetryError(f"{where} must be {_ALLOWED_VERDICTS} or null, got {value!r}")


def _feedback(raw: list[object], where: str) -> list[str | None] | None:
    """One verdict or None per point (``where`` names point ``i`` once formatted), or None when
    no point carries one."""
    verdicts = [_verdict(v, where.format(i)) for i, v in enumerate(raw)]
    return verdicts if any(v is not None for v in verdicts) else None


def incident_feedback(payload: Mapping[str, Any]) -> tuple[str, str] | None:
    """(incident id, verdict) of a message that gives feedback on an incident, None for a
    message of points.

    Examples
    --------
    >>> incident_feedback({"model_id": "m", "entity": "host-1",
    ...                    "feedback": {"incident_id": "inc-1", "verdict": "false_positive"}})
    ('inc-1', 'false_positive')
    >>> incident_feedback({"model_id": "m", "entity": "host-1", "ts": 0, "values": [1.0],
    ...                    "feedback": "false_positive"}) is None
    True
    >>> incident_feedback({"model_id": "m", "entity": "host-1", "feedback": {"incident_id": "i"}})
    Traceback (most recent call last):
    ...
    incidents.points.TelemetryError: feedback.verdict must be "false_positive", got None
    """
    feedback = payload.get("feedback")
    if feedback is None or not _is_mapping(feedback):
        return None
    for name in ("ts", "values", "points"):
        if name in payload:
            raise TelemetryError(
                f"a message with feedback on an incident carries no points, but it has {name}; "
                'mark a point as normal with "feedback": "false_positive" on the point instead'
            )
    unknown = sorted(set(feedback) - {"incident_id", "verdict"})
    if unknown:
        raise TelemetryError(
            f"feedback has unknown field {unknown[0]!r}; it takes incident_id, verdict"
        )
    verdict = feedback.get("verdict")
    if not isinstance(verdict, str) or verdict not in VERDICTS:
        raise TelemetryError(f"feedback.verdict must be {_ALLOWED_VERDICTS}, got {verdict!r}")
    return _text(feedback, "incident_id"), verdict


def _text(payload: Mapping[str, Any], name: str) -> str:
    value = payload.get(name)
    if not isinstance(value, str) or not value:
        raise TelemetryError(f"{name} must be a non-empty string, got {value!r}")
    return value


def _is_mapping(value: object) -> TypeGuard[Mapping[str, Any]]:
    """``isinstance(value, Mapping)``, without the ABC's check for a dict (decoded JSON)."""
    return type(value) is dict or isinstance(value, Mapping)


RESERVED_PREFIX = "\x00"  # keys of the engine's own rows start with it, entity names may not


def _entity(payload: Mapping[str, Any]) -> str:
    entity = _text(payload, "entity")
    if entity.startswith(RESERVED_PREFIX):
        raise TelemetryError("entity must not start with a NUL character (reserved)")
    return entity


def message_ids(payload: object) -> tuple[str, str]:
    """(model_id, entity) of a telemetry message (TelemetryError when missing)."""
    if not _is_mapping(payload):
        raise TelemetryError(
            f"a telemetry message must be a JSON object, got {type(payload).__name__}"
        )
    return _text(payload, "model_id"), _entity(payload)


def decode_batch(payload: Mapping[str, Any], config: ModelConfig, max_points: int) -> Batch:
    """Decode a metrics message of any of the three forms into a :class:`Batch`.

    Examples
    --------
    >>> cfg = ModelConfig("m", "1", "zscore", params={"mean": [1, 2], "std": [1, 1]})
    >>> decode_batch({"model_id": "m", "entity": "e", "ts": [0, 1], "values": [[1, 2], [3, 4]]},
    ...              cfg, 10).values.tolist()
    [[1.0, 3.0], [2.0, 4.0]]
    """
    model_id, entity = message_ids(payload)
    # lists, or numpy arrays (points as rows) from a columnar message of plain numbers
    ts: Any = []
    values: Any = []
    labels: list[int | None] | None = None
    feedback: list[str | None] | None = None
    if "points" in payload:
        points = payload["points"]
        if not isinstance(points, list):
            raise TelemetryError("points must be a list of {ts, values} objects")
        _check_size(len(points), max_points)
        for i, point in enumerate(points):
            if not _is_mapping(point):
                raise TelemetryError(f"points[{i}] must be an object with ts and values")
            ts.append(parse_ts(point.get("ts"), f"points[{i}].ts"))
            values.append(point_values(point.get("values"), config, f"points[{i}].values"))
        labels = _labels([p.get("label") for p in points], "points[].label")
        feedback = _feedback([p.get("feedback") for p in points], "points[{}].feedback")
    elif isinstance(payload.get("ts"), list):
        ts_list = payload["ts"]
        columns = payload.get("values")
        _check_size(len(ts_list), max_points)
        if (
            not isinstance(columns, list)
            or not columns
            or not all(isinstance(c, list) for c in columns)
        ):
            raise TelemetryError("columnar values must be a list of one list per feature")
        expected = config.n_features
        if expected is not None and len(columns) != expected:
            raise TelemetryError(
                f"values has {len(columns)} feature columns but model {model_id!r} expects {expected}"
            )
        for j, column in enumerate(columns):
            if len(column) != len(ts_list):
                raise TelemetryError(
                    f"values[{j}] has {len(column)} values for {len(ts_list)} timestamps"
                )
        fast = _plain_columns(ts_list, columns)
        if fast is not None:
            ts, values = fast
        else:  # the slow path finds what is wrong and says where
            ts = [parse_ts(t, f"ts[{i}]") for i, t in enumerate(ts_list)]
            values = [
                [_number(column[i], f"values[{j}][{i}]") for j, column in enumerate(columns)]
                for i in range(len(ts_list))
            ]
        raw_labels = payload.get("labels")
        if raw_labels is not None:
            if not isinstance(raw_labels, list) or len(raw_labels) != len(ts_list):
                raise TelemetryError("labels must be a list with one 0/1/null per timestamp")
            labels = _labels(raw_labels, "labels")
        raw_feedback = payload.get("feedback")
        if raw_feedback is not None:
            if not isinstance(raw_feedback, list) or len(raw_feedback) != len(ts_list):
                raise TelemetryError(
                    "feedback must be a list with one verdict or null per timestamp"
                )
            feedback = _feedback(raw_feedback, "feedback[{}]")
    else:
        if "ts" not in payload or "values" not in payload:
            raise TelemetryError("a metrics message needs ts and values, or points")
        ts = [parse_ts(payload["ts"])]
        values = [point_values(payload["values"], config)]
        label, verdict = payload.get("label"), payload.get("feedback")
        labels = None if label is None else _labels([label], "label")
        feedback = None if verdict is None else _feedback([verdict], "feedback")
    if isinstance(values, list) and len(values) > 1 and len({len(v) for v in values}) > 1:
        raise TelemetryError("every point of a message must have the same number of values")
    return Batch(
        model_id=model_id, entity=entity, ts=ts, values=values, labels=labels, feedback=feedback
    )


_PLAIN = frozenset({int, float})


def _plain_columns(ts: list[Any], columns: list[list[Any]]) -> tuple[Any, Any] | None:
    """Epoch-second times and columns of finite numbers as numpy arrays (points as rows), in one
    pass of C code each; None when anything needs the value-by-value checks (text times, nulls,
    booleans, non-finite or out-of-range numbers).

    Examples
    --------
    >>> ts, values = _plain_columns([0, 1.5], [[1, 2], [3.0, 4]])
    >>> ts.tolist(), values.tolist()
    ([0.0, 1.5], [[1.0, 3.0], [2.0, 4.0]])
    >>> _plain_columns(["2026-11-27T08:00:00Z"], [[1]]), _plain_columns([0], [[None]])
    (None, None)
    """
    if not set(map(type, ts)) <= _PLAIN or any(not set(map(type, c)) <= _PLAIN for c in columns):
        return None
    try:
        times = np.array(ts, dtype=float)
        values = np.array(columns, dtype=float).T.copy()
    except (OverflowError, ValueError):
        return None
    if not (np.isfinite(values).all() and (np.abs(times) < MAX_EPOCH_SECONDS).all()):
        return None  # NaN fails the comparison too
    return times, values


def _check_size(n: int, max_points: int) -> None:
    if n > max_points:
        raise TelemetryError(f"{n} points in one message is over the limit of {max_points}")


def records_to_batch(
    records: Sequence[Mapping[str, Any]], config: ModelConfig, entity: str
) -> Batch:
    """REST records (``[{"ts", "values"}, ...]``) to a :class:`Batch`."""
    ts = [parse_ts(r.get("ts"), f"records[{i}].ts") for i, r in enumerate(records)]
    values = [
        point_values(r.get("values"), config, f"records[{i}].values") for i, r in enumerate(records)
    ]
    if values and len({len(v) for v in values}) > 1:
        raise TelemetryError("every record must have the same number of values")
    return Batch(model_id=config.model_id, entity=entity, ts=ts, values=values)
