"""OTLP metrics and logs in the JSON encoding (the Collector kafka exporter's ``otlp_json``).

The OTLP specification's JSON-Protobuf encoding
(https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding) is the protobuf JSON mapping
with lowerCamelCase field names, 64-bit integers as decimal strings, enums as integers (protobuf's
own printer writes their names: both are read) and trace ids as hex. It is read here from the
parsed JSON directly: ``google.protobuf.json_format`` builds the same request about ten times
slower, in pure Python. The samples and records are those of :mod:`app.telemetry.formats.otlp`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any

import orjson

from app.telemetry.formats import NO_LABELS, Column, Decoded, Record, TelemetryError
from app.telemetry.formats.otlp import level_of

CUMULATIVE = (2, "AGGREGATION_TEMPORALITY_CUMULATIVE")
_SEVERITY_NAMES = {
    f"SEVERITY_NUMBER_{name}{suffix}": 4 * k + n
    for k, name in enumerate(("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"))
    for n, suffix in enumerate(("", "2", "3", "4"), start=1)
}


def _list(node: Mapping[str, Any], name: str) -> list[Any]:
    value = node.get(name) or []
    if not isinstance(value, list):
        raise TelemetryError(f"OTLP JSON: {name} must be a list")
    return value


def text_of(value: object) -> str:
    """An ``AnyValue`` as text.

    >>> text_of({"stringValue": "h1"}), text_of({"intValue": "3"}), text_of({"boolValue": True})
    ('h1', '3', 'true')
    """
    if not isinstance(value, Mapping) or not value:
        return ""
    kind, inner = next(iter(value.items()))
    if kind == "boolValue":
        return "true" if inner else "false"
    if isinstance(inner, str | int | float):
        return str(inner)
    return orjson.dumps(inner).decode()


def attributes_of(node: Mapping[str, Any]) -> dict[str, str]:
    return {
        str(pair.get("key")): text_of(pair.get("value"))
        for pair in _list(node, "attributes")
        if isinstance(pair, Mapping)
    }


def _nanos(point: Mapping[str, Any], *names: str) -> int:
    for name in names:
        value = point.get(name)
        if value not in (None, "", 0, "0"):
            try:
                return int(value)
            except (TypeError, ValueError):
                raise TelemetryError(f"{name} {value!r} is not an integer") from None
    return 0


def decode_metrics(payload: Mapping[str, Any]) -> Decoded:
    """The samples of an OTLP JSON metrics request.

    Examples
    --------
    >>> request = {"resourceMetrics": [{
    ...     "resource": {"attributes": [{"key": "host.name", "value": {"stringValue": "h1"}}]},
    ...     "scopeMetrics": [{"metrics": [
    ...         {"name": "load", "gauge": {"dataPoints": [
    ...             {"timeUnixNano": "1795766400000000000", "asDouble": 0.5}]}},
    ...         {"name": "requests", "sum": {"isMonotonic": True, "aggregationTemporality": 2,
    ...          "dataPoints": [{"timeUnixNano": "1795766400000000000", "asInt": "7"}]}}]}]}]}
    >>> [(s.name, s.ts, s.value, s.counter) for s in decode_metrics(request).samples]
    [('load', 1795766400.0, 0.5, False), ('requests', 1795766400.0, 7.0, True)]
    """
    decoded = Decoded("otlp")
    for resource, metric in _leaves(payload, "resourceMetrics", "scopeMetrics", "metrics"):
        try:
            _metric_samples(metric, resource, decoded)
        except (TelemetryError, AttributeError, TypeError, ValueError) as exc:
            name = metric.get("name") if isinstance(metric, Mapping) else None
            decoded.errors.append(f"metric {name!r}: {exc}")
    return decoded


def _leaves(
    payload: Mapping[str, Any], resources: str, scopes: str, leaves: str
) -> Iterator[tuple[dict[str, str], Any]]:
    """(the resource's attributes, leaf) of every leaf (metric, log record) of a request."""
    for resource_node in _list(payload, resources):
        resource = attributes_of(resource_node.get("resource") or {})
        for scope in _list(resource_node, scopes):
            for leaf in _list(scope, leaves):
                yield resource, leaf


def _metric_samples(metric: Mapping[str, Any], resource: dict[str, str], decoded: Decoded) -> None:
    name = str(metric.get("name"))
    for kind in ("gauge", "sum", "histogram"):
        data = metric.get(kind)
        if data is not None:
            break
    else:
        return  # summaries and exponential histograms are not scored
    cumulative = data.get("aggregationTemporality") in CUMULATIVE
    # a cumulative histogram's count is a counter, as a cumulative monotonic sum is
    counter = cumulative and (kind == "histogram" or bool(data.get("isMonotonic")))
    points = _list(data, "dataPoints")
    if kind != "histogram" and _number_column(decoded, name, points, resource, counter):
        return
    for point in points:
        try:
            _point_samples(name, kind, point, resource, counter, decoded)
        except (TelemetryError, AttributeError, TypeError, ValueError) as exc:
            decoded.errors.append(f"metric {name!r}: {exc}")


def _number_column(
    decoded: Decoded, name: str, points: list[Any], resource: dict[str, str], counter: bool
) -> bool:
    """The data points of a gauge or sum as one column, when they are all alike (a time as
    a decimal string, a finite ``asDouble`` each or an ``asInt`` each, no attributes); else
    False (each point is then read on its own, and a bad one refused alone)."""
    try:
        if any("attributes" in point for point in points):
            return False
        raw = [point.get("asDouble") for point in points]
        if None in raw:  # a sum of integers (a count): asInt, a decimal string
            raw = [point.get("asInt") for point in points]
        stamps = [point.get("timeUnixNano") for point in points]
        if None in raw or not "".join(stamps).isdigit():
            return False
        values = list(map(float, raw))
        nanos = list(map(int, stamps))
    except (AttributeError, TypeError, ValueError):
        return False
    if 0 in nanos or not all(map(math.isfinite, values)):
        return False
    decoded.add_column(Column(name, resource, counter, NO_LABELS, [n / 1e9 for n in nanos], values))
    return True


def _point_samples(
    name: str,
    kind: str,
    point: Mapping[str, Any],
    resource: dict[str, str],
    counter: bool,
    decoded: Decoded,
) -> None:
    ts = _nanos(point, "timeUnixNano") / 1e9
    if not ts:
        raise TelemetryError("a data point has no timeUnixNano")
    if point.get("attributes"):
        attributes, labels = decoded.labelled(resource, attributes_of(point))
    else:
        attributes, labels = resource, NO_LABELS
    if kind == "histogram":
        count = float(point.get("count") or 0)
        decoded.add(f"{name}_count", ts, count, attributes, counter, labels)
        if count and point.get("sum") is not None:
            mean = float(point["sum"]) / count
            decoded.add(f"{name}_mean", ts, mean, attributes, False, labels)
        return
    raw = point.get("asDouble", point.get("asInt"))
    if raw is None:
        raise TelemetryError("a data point has no value")
    value = float(raw)
    if not math.isfinite(value):
        raise TelemetryError(f"value {raw!r} is not finite")
    decoded.add(name, ts, value, attributes, counter, labels)


def decode_logs(payload: Mapping[str, Any]) -> Decoded:
    """The log records of an OTLP JSON logs request.

    >>> request = {"resourceLogs": [{"resource": {}, "scopeLogs": [{"logRecords": [
    ...     {"timeUnixNano": "1795766400000000000", "severityNumber": "SEVERITY_NUMBER_ERROR",
    ...      "body": {"stringValue": "disk full"}}]}]}]}
    >>> decode_logs(request).records
    [Record(ts=1795766400.0, level='error', message='disk full', attributes={})]
    """
    decoded = Decoded("otlp")
    for resource, record in _leaves(payload, "resourceLogs", "scopeLogs", "logRecords"):
        try:
            nanos = _nanos(record, "timeUnixNano", "observedTimeUnixNano")
            severity = record.get("severityNumber") or 0
            number = _SEVERITY_NAMES.get(severity, 0) if isinstance(severity, str) else severity
            level = level_of(str(record.get("severityText") or ""), int(number))
        except (TelemetryError, AttributeError, TypeError, ValueError) as exc:
            decoded.errors.append(f"a log record: {exc}")
            continue
        if not nanos:
            decoded.errors.append("a log record has neither timeUnixNano nor observed")
            continue
        attributes = {**resource, **attributes_of(record)}
        decoded.records.append(Record(nanos / 1e9, level, text_of(record.get("body")), attributes))
    return decoded
