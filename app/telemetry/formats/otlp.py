"""OTLP metrics and logs as the OpenTelemetry Collector's ``kafka`` exporter writes them.

The exporter's ``encoding`` is ``otlp_proto`` by default (an ``ExportMetricsServiceRequest`` or
``ExportLogsServiceRequest`` serialised as protobuf) or ``otlp_json`` (the same message in the
protobuf JSON mapping, lowerCamelCase, 64-bit integers as strings): see the exporter's README,
https://github.com/open-telemetry/opentelemetry-collector-contrib/tree/main/exporter/kafkaexporter
and the OTLP specification, https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding.
The official ``opentelemetry-proto`` package parses the protobuf; nothing here reads the wire
itself (the JSON encoding is read by :mod:`app.telemetry.formats.otlp_json`).

Gauges and sums give one sample per data point (``asDouble`` or ``asInt``, at ``timeUnixNano``);
a monotonic sum with cumulative temporality is a counter. A histogram gives ``<name>_count``
(a counter when cumulative) and ``<name>_mean`` (sum / count). Every sample carries its
resource's attributes and its data point's, as text.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.metrics.v1.metrics_pb2 import AggregationTemporality

from app.telemetry.formats import NO_LABELS, Column, Decoded, Record, TelemetryError

CUMULATIVE = AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE

# severity_number ranges of the log data model, each four numbers wide, to the engine's levels.
_SEVERITIES = ("trace", "debug", "info", "warn", "error", "fatal")


def parse_metrics(raw: bytes) -> ExportMetricsServiceRequest:
    """An ``ExportMetricsServiceRequest`` from ``otlp_proto`` bytes."""
    request = ExportMetricsServiceRequest()
    _parse(request, raw)
    return request


def parse_logs(raw: bytes) -> ExportLogsServiceRequest:
    """An ``ExportLogsServiceRequest`` from ``otlp_proto`` bytes."""
    request = ExportLogsServiceRequest()
    _parse(request, raw)
    return request


def _parse(message: Any, raw: bytes) -> None:
    try:
        message.ParseFromString(raw)
    except DecodeError as exc:
        kind = type(message).__name__
        raise TelemetryError(f"not an OTLP {kind} (otlp_proto): {exc}") from None


def text_of(value: AnyValue) -> str:
    """An attribute or body value as text.

    >>> text_of(AnyValue(string_value="h1")), text_of(AnyValue(int_value=3))
    ('h1', '3')
    >>> text_of(AnyValue(bool_value=True)), text_of(AnyValue())
    ('true', '')
    """
    kind = value.WhichOneof("value")
    if kind is None:
        return ""
    if kind == "string_value":
        return str(value.string_value)
    if kind == "bool_value":
        return "true" if value.bool_value else "false"
    if kind in ("int_value", "double_value"):
        return str(getattr(value, kind))
    if kind == "bytes_value":
        return bytes(value.bytes_value).hex()
    return str(json_format.MessageToJson(value, indent=None))


def attributes_of(pairs: Iterable[KeyValue]) -> dict[str, str]:
    return {pair.key: text_of(pair.value) for pair in pairs}


def decode_metrics(request: ExportMetricsServiceRequest) -> Decoded:
    """The samples of an OTLP metrics request.

    Examples
    --------
    >>> from opentelemetry.proto.metrics.v1 import metrics_pb2 as m
    >>> from opentelemetry.proto.resource.v1.resource_pb2 import Resource
    >>> host = KeyValue(key="host.name", value=AnyValue(string_value="h1"))
    >>> load = m.Metric(name="system.cpu.load_average.1m", gauge=m.Gauge(data_points=[
    ...     m.NumberDataPoint(time_unix_nano=1_795_766_400_000_000_000, as_double=0.5)]))
    >>> sent = m.Metric(name="bytes_sent", sum=m.Sum(
    ...     is_monotonic=True, aggregation_temporality=CUMULATIVE, data_points=[
    ...     m.NumberDataPoint(time_unix_nano=1_795_766_400_000_000_000, as_int=2048)]))
    >>> request = ExportMetricsServiceRequest(resource_metrics=[m.ResourceMetrics(
    ...     resource=Resource(attributes=[host]),
    ...     scope_metrics=[m.ScopeMetrics(metrics=[load, sent])])])
    >>> for s in decode_metrics(parse_metrics(request.SerializeToString())).samples:
    ...     print(s.name, s.ts, s.value, s.counter, dict(s.attributes))
    system.cpu.load_average.1m 1795766400.0 0.5 False {'host.name': 'h1'}
    bytes_sent 1795766400.0 2048.0 True {'host.name': 'h1'}
    """
    decoded = Decoded("otlp")
    for resource_metrics in request.resource_metrics:
        resource = attributes_of(resource_metrics.resource.attributes)
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                _metric_samples(metric, resource, decoded)
    return decoded


def _metric_samples(metric: Any, resource: Mapping[str, str], decoded: Decoded) -> None:
    kind = metric.WhichOneof("data")
    name = metric.name
    if kind in ("gauge", "sum"):
        data = getattr(metric, kind)
        counter = kind == "sum" and data.is_monotonic and data.aggregation_temporality == CUMULATIVE
        points = data.data_points
        if _number_column(decoded, name, points, resource, counter):
            return
        for point in points:
            which = point.WhichOneof("value")
            if which is None:
                decoded.errors.append(f"metric {name!r}: a data point has no value")
                continue
            value = float(getattr(point, which))
            _add(decoded, name, point, value, resource, counter)
    elif kind == "histogram":
        cumulative = metric.histogram.aggregation_temporality == CUMULATIVE
        for point in metric.histogram.data_points:
            _add(decoded, f"{name}_count", point, float(point.count), resource, cumulative)
            if point.count and point.HasField("sum"):
                _add(decoded, f"{name}_mean", point, point.sum / point.count, resource, False)
    # summaries and exponential histograms are not scored


def _number_column(
    decoded: Decoded, name: str, points: Any, resource: Mapping[str, str], counter: bool
) -> bool:
    """The data points of a gauge or sum as one column, when they are all alike (each has a
    time, a value of the same kind, finite, and no attributes of its own); else False."""
    points = list(points)  # each pass over the container would wrap every point again
    if any(point.attributes for point in points):
        return False
    stamps = [point.time_unix_nano for point in points]
    values = [point.as_double for point in points]
    if 0 in stamps:
        return False
    if 0.0 in values:  # an unset as_double reads 0.0: are they as_int, or without a value?
        kinds = {point.WhichOneof("value") for point in points}
        if kinds == {"as_int"}:
            values = [float(point.as_int) for point in points]
        elif kinds != {"as_double"}:
            return False
    if not all(map(math.isfinite, values)):
        return False
    ts = [stamp / 1e9 for stamp in stamps]
    decoded.add_column(Column(name, resource, counter, NO_LABELS, ts, values))
    return True


def _add(
    decoded: Decoded,
    name: str,
    point: Any,
    value: float,
    resource: Mapping[str, str],
    counter: bool,
) -> None:
    if not point.time_unix_nano:
        decoded.errors.append(f"metric {name!r}: a data point has no timeUnixNano")
        return
    if not math.isfinite(value):
        decoded.errors.append(f"metric {name!r}: value {value} is not finite")
        return
    if point.attributes:
        attributes, labels = decoded.labelled(resource, attributes_of(point.attributes))
    else:
        attributes, labels = resource, NO_LABELS
    decoded.add(name, point.time_unix_nano / 1e9, value, attributes, counter, labels)


def level_of(severity_text: str, severity_number: int) -> str | None:
    """The record's level: its severity text, else its severity number's range.

    >>> level_of("ERROR", 17), level_of("", 10), level_of("", 0)
    ('error', 'info', None)
    """
    if severity_text:
        return severity_text.lower()
    if 1 <= severity_number <= 24:
        return _SEVERITIES[(severity_number - 1) // 4]
    return None


def decode_logs(request: ExportLogsServiceRequest) -> Decoded:
    """The log records of an OTLP logs request (time: ``timeUnixNano``, else
    ``observedTimeUnixNano``).

    Examples
    --------
    >>> from opentelemetry.proto.logs.v1 import logs_pb2 as lg
    >>> from opentelemetry.proto.resource.v1.resource_pb2 import Resource
    >>> host = KeyValue(key="host.name", value=AnyValue(string_value="h1"))
    >>> request = ExportLogsServiceRequest(resource_logs=[lg.ResourceLogs(
    ...     resource=Resource(attributes=[host]), scope_logs=[lg.ScopeLogs(log_records=[
    ...         lg.LogRecord(time_unix_nano=1_795_766_400_000_000_000, severity_number=17,
    ...                      body=AnyValue(string_value="disk full"))])])])
    >>> decode_logs(request).records
    [Record(ts=1795766400.0, level='error', message='disk full', attributes={'host.name': 'h1'})]
    """
    decoded = Decoded("otlp")
    for resource_logs in request.resource_logs:
        resource = attributes_of(resource_logs.resource.attributes)
        for scope_logs in resource_logs.scope_logs:
            for record in scope_logs.log_records:
                nanos = record.time_unix_nano or record.observed_time_unix_nano
                if not nanos:
                    decoded.errors.append("a log record has neither timeUnixNano nor observed")
                    continue
                decoded.records.append(
                    Record(
                        ts=nanos / 1e9,
                        level=level_of(record.severity_text, record.severity_number),
                        message=text_of(record.body),
                        attributes={**resource, **attributes_of(record.attributes)},
                    )
                )
    return decoded
