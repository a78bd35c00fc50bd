"""OTLP metrics and logs, built with opentelemetry-proto's own message classes, as the
OpenTelemetry Collector's kafka exporter writes them (otlp_proto and otlp_json)."""

from __future__ import annotations

import orjson
import pytest
from google.protobuf import json_format
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1 import logs_pb2
from opentelemetry.proto.metrics.v1 import metrics_pb2 as m
from opentelemetry.proto.resource.v1.resource_pb2 import Resource

from app.telemetry.formats import otlp, sniff
from incidents.points import TelemetryError

T0 = 1_795_766_400_000_000_000  # 2026-11-27T08:00:00Z in nanoseconds


def attrs(**pairs: str) -> list[KeyValue]:
    return [
        KeyValue(key=k.replace("_", "."), value=AnyValue(string_value=v)) for k, v in pairs.items()
    ]


def metrics_request() -> ExportMetricsServiceRequest:
    """Two hosts in one request, as a collector's batch processor sends them."""

    def resource(host: str, value: float) -> m.ResourceMetrics:
        gauge = m.Metric(
            name="system.cpu.utilization",
            gauge=m.Gauge(
                data_points=[
                    m.NumberDataPoint(
                        time_unix_nano=T0, as_double=value, attributes=attrs(state="user")
                    )
                ]
            ),
        )
        requests = m.Metric(
            name="http.server.requests",
            sum=m.Sum(
                is_monotonic=True,
                aggregation_temporality=otlp.CUMULATIVE,
                data_points=[m.NumberDataPoint(time_unix_nano=T0, as_int=1200)],
            ),
        )
        delta = m.Metric(
            name="errors",
            sum=m.Sum(
                is_monotonic=True,
                aggregation_temporality=m.AggregationTemporality.AGGREGATION_TEMPORALITY_DELTA,
                data_points=[m.NumberDataPoint(time_unix_nano=T0, as_int=3)],
            ),
        )
        latency = m.Metric(
            name="latency",
            histogram=m.Histogram(
                aggregation_temporality=otlp.CUMULATIVE,
                data_points=[m.HistogramDataPoint(time_unix_nano=T0, count=4, sum=2.0)],
            ),
        )
        return m.ResourceMetrics(
            resource=Resource(attributes=attrs(host_name=host, service_name="api")),
            scope_metrics=[m.ScopeMetrics(metrics=[gauge, requests, delta, latency])],
        )  # fmt: skip

    return m_request([resource("h1", 0.25), resource("h2", 0.5)])


def m_request(resources: list[m.ResourceMetrics]) -> ExportMetricsServiceRequest:
    return ExportMetricsServiceRequest(resource_metrics=resources)


@pytest.mark.parametrize("encoding", ["otlp_proto", "otlp_json"])
def test_gauges_sums_and_histograms_become_samples_of_each_host(encoding: str) -> None:
    request = metrics_request()
    raw = (
        request.SerializeToString()
        if encoding == "otlp_proto"
        else json_format.MessageToJson(request).encode()
    )
    fmt, parsed = sniff.detect(raw, "metrics")
    assert fmt == encoding
    decoded = sniff.decode(fmt, raw, parsed, "metrics", 0.0)
    assert decoded.errors == []
    h1 = [
        (s.name, s.value, s.counter) for s in decoded.samples if s.attributes["host.name"] == "h1"
    ]
    assert h1 == [
        ("system.cpu.utilization", 0.25, False),
        ("http.server.requests", 1200.0, True),  # cumulative monotonic: a counter
        ("errors", 3.0, False),  # delta: already a per-interval count
        ("latency_count", 4.0, True),
        ("latency_mean", 0.5, False),
    ]
    assert {s.ts for s in decoded.samples} == {T0 / 1e9}
    first = decoded.samples[0]
    assert first.attributes == {"host.name": "h1", "service.name": "api", "state": "user"}


def test_otlp_json_as_the_specification_writes_it() -> None:
    """64-bit integers as strings, lowerCamelCase names, enums as numbers (OTLP spec)."""
    raw = orjson.dumps({"resourceMetrics": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "svc"}}]},
        "scopeMetrics": [{"scope": {"name": "x"}, "metrics": [{
            "name": "queue.depth", "unit": "1",
            "sum": {"aggregationTemporality": 2, "isMonotonic": False, "dataPoints": [
                {"timeUnixNano": str(T0), "asInt": "42"}]},
        }]}],
    }]})  # fmt: skip
    fmt, parsed = sniff.detect(raw, "metrics")
    decoded = sniff.decode(fmt, raw, parsed, "metrics", 0.0)
    assert [(s.name, s.ts, s.value, s.counter) for s in decoded.samples] == [
        ("queue.depth", T0 / 1e9, 42.0, False)
    ]


def test_a_protobuf_that_does_not_parse_is_refused_with_the_reason() -> None:
    raw = metrics_request().SerializeToString()[:-7]  # cut short, as a truncated message is
    with pytest.raises(TelemetryError, match="not an OTLP ExportMetricsServiceRequest"):
        sniff.decode("otlp_proto", raw, None, "metrics", 0.0)


@pytest.mark.parametrize("encoding", ["otlp_proto", "otlp_json"])
def test_log_records_keep_body_severity_and_resource(encoding: str) -> None:
    request = ExportLogsServiceRequest(resource_logs=[logs_pb2.ResourceLogs(
        resource=Resource(attributes=attrs(host_name="h1")),
        scope_logs=[logs_pb2.ScopeLogs(log_records=[
            logs_pb2.LogRecord(time_unix_nano=T0, severity_text="WARN",
                               body=AnyValue(string_value="slow disk"),
                               attributes=attrs(code_function="io")),
            logs_pb2.LogRecord(observed_time_unix_nano=T0 + 10**9, severity_number=21,
                               body=AnyValue(string_value="panic")),
        ])],
    )])  # fmt: skip
    raw = (
        request.SerializeToString()
        if encoding == "otlp_proto"
        else json_format.MessageToJson(request).encode()  # severity as its enum name
    )
    fmt, parsed = sniff.detect(raw, "logs")
    assert fmt == encoding
    decoded = sniff.decode(fmt, raw, parsed, "logs", 0.0)
    assert [(r.ts, r.level, r.message) for r in decoded.records] == [
        (T0 / 1e9, "warn", "slow disk"),
        (T0 / 1e9 + 1, "fatal", "panic"),
    ]
    assert decoded.records[0].attributes == {"host.name": "h1", "code.function": "io"}


def test_a_bad_otlp_json_data_point_costs_only_itself() -> None:
    points = [{"timeUnixNano": str(T0), "asInt": "x"}, {"timeUnixNano": str(T0), "asInt": "12"}]
    raw = orjson.dumps({"resourceMetrics": [{"scopeMetrics": [{"metrics": [
        {"name": "bad", "gauge": {"dataPoints": points}},
        {"name": "good", "gauge": {"dataPoints": [{"timeUnixNano": str(T0), "asDouble": 1.5}]}},
    ]}]}]})  # fmt: skip
    decoded = sniff.decode("otlp_json", raw, orjson.loads(raw), "metrics", 0.0)
    assert [(s.name, s.value) for s in decoded.samples] == [("bad", 12.0), ("good", 1.5)]
    assert decoded.errors == ["metric 'bad': could not convert string to float: 'x'"]
