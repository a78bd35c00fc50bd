"""The collector-format messages the formats bench sends: the columnar workload's points, as
the OpenTelemetry Collector (``otlp_proto``, ``otlp_json``) and Telegraf (line protocol) write
them.

Each message carries what one columnar message of :func:`bench.workload.messages` carries:
one entity's ``batch`` points, each a time and the values of the model's two features, the same
values in the same order. A point is one row of the model, whatever the format spends on it:
two OTLP data points (one per metric) or one line with two fields.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import orjson
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, InstrumentationScope, KeyValue
from opentelemetry.proto.metrics.v1 import metrics_pb2
from opentelemetry.proto.resource.v1.resource_pb2 import Resource

from bench.workload import README_CONFIG, messages

MEASUREMENT = "system"
FIELDS = ("load", "mem")
# The features as each format names them: OTLP's metric name, Telegraf's <measurement>_<field>.
FEATURES = [f"{MEASUREMENT}_{field}" for field in FIELDS]
FORMATS = ("otlp_proto", "otlp_json", "influx")


def formats_config() -> dict[str, Any]:
    """The README configuration, selecting its two features by name (so that a collector's
    points reach it without ``model_id``): the same model the columnar messages name."""
    return {**README_CONFIG, "features": FEATURES}


def _nanos(ts: float) -> int:
    return int(ts * 1_000_000_000)


def otlp_request(entity: str, ts: list[float], columns: list[list[float]]) -> bytes:
    """One ``ExportMetricsServiceRequest`` of a host: a gauge per feature, a data point per time.

    Examples
    --------
    >>> from app.telemetry.formats import otlp
    >>> raw = otlp_request("h1", [1.0, 2.0], [[10.0, 11.0], [5.0, 5.5]])
    >>> [(s.name, s.ts, s.value) for s in otlp.decode_metrics(otlp.parse_metrics(raw)).samples]
    [('system_load', 1.0, 10.0), ('system_load', 2.0, 11.0), ('system_mem', 1.0, 5.0), ('system_mem', 2.0, 5.5)]
    """
    stamps = [_nanos(t) for t in ts]
    metrics = [
        metrics_pb2.Metric(
            name=name,
            gauge=metrics_pb2.Gauge(
                data_points=[
                    metrics_pb2.NumberDataPoint(time_unix_nano=stamp, as_double=value)
                    for stamp, value in zip(stamps, column, strict=True)
                ]
            ),
        )
        for name, column in zip(FEATURES, columns, strict=True)
    ]
    resource = Resource(
        attributes=[
            KeyValue(key="host.name", value=AnyValue(string_value=entity)),
            KeyValue(key="service.name", value=AnyValue(string_value="node")),
        ]
    )
    request = ExportMetricsServiceRequest(
        resource_metrics=[
            metrics_pb2.ResourceMetrics(
                resource=resource,
                scope_metrics=[
                    metrics_pb2.ScopeMetrics(
                        scope=InstrumentationScope(name="hostmetricsreceiver"), metrics=metrics
                    )
                ],
            )
        ]
    )
    return request.SerializeToString()


def otlp_json_request(entity: str, ts: list[float], columns: list[list[float]]) -> bytes:
    """The same request in the OTLP JSON encoding, as the Collector writes it (64-bit integers
    as strings, lowerCamelCase).

    Examples
    --------
    >>> doc = orjson.loads(otlp_json_request("h1", [1.0], [[10.0], [5.0]]))
    >>> doc["resourceMetrics"][0]["scopeMetrics"][0]["metrics"][1]
    {'name': 'system_mem', 'gauge': {'dataPoints': [{'timeUnixNano': '1000000000', 'asDouble': 5.0}]}}
    """
    stamps = [str(_nanos(t)) for t in ts]
    metrics = [
        {
            "name": name,
            "gauge": {
                "dataPoints": [
                    {"timeUnixNano": stamp, "asDouble": value}
                    for stamp, value in zip(stamps, column, strict=True)
                ]
            },
        }
        for name, column in zip(FEATURES, columns, strict=True)
    ]
    attributes = [
        {"key": "host.name", "value": {"stringValue": entity}},
        {"key": "service.name", "value": {"stringValue": "node"}},
    ]
    request = {
        "resourceMetrics": [
            {
                "resource": {"attributes": attributes},
                "scopeMetrics": [{"scope": {"name": "hostmetricsreceiver"}, "metrics": metrics}],
            }
        ]
    }
    return orjson.dumps(request)


def line_protocol(entity: str, ts: list[float], columns: list[list[float]]) -> bytes:
    """One Telegraf flush of a host: a line per time with both fields, ns timestamps.

    Examples
    --------
    >>> line_protocol("h1", [1.0, 2.0], [[10.0, 11.5], [5.0, 5.25]])
    b'system,host=h1 load=10.0,mem=5.0 1000000000\\nsystem,host=h1 load=11.5,mem=5.25 2000000000\\n'
    """
    head = f"{MEASUREMENT},host={entity} "
    lines = [
        head + ",".join(f"{field}={row[j]!r}" for j, field in enumerate(FIELDS)) + f" {_nanos(t)}\n"
        for t, row in zip(ts, zip(*columns, strict=True), strict=True)
    ]
    return "".join(lines).encode()


ENCODERS: dict[str, Callable[[str, list[float], list[list[float]]], bytes]] = {
    "otlp_proto": otlp_request,
    "otlp_json": otlp_json_request,
    "influx": line_protocol,
}


def collector_messages(
    fmt: str, count: int, batch: int, entities: int, seed: int = 1
) -> Iterator[tuple[bytes, bytes]]:
    """(entity, value) of the columnar workload's messages re-encoded in ``fmt``.

    Examples
    --------
    >>> [(key, value[:22]) for key, value in collector_messages("influx", 2, 3, 2)]
    [(b'bench-0000', b'system,host=bench-0000'), (b'bench-0001', b'system,host=bench-0001')]
    """
    encode = ENCODERS[fmt]
    for key, value in messages(count, batch, entities, seed):
        payload = orjson.loads(value)
        yield key, encode(payload["entity"], payload["ts"], payload["values"])
