"""Collectors' own formats produced unchanged to the telemetry topics (by confluent-kafka, keyed
by nothing, as the collectors do) reach the engine's models and open incidents."""

from __future__ import annotations

import json
import random
from typing import Any

from google.protobuf import json_format
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1 import logs_pb2
from opentelemetry.proto.metrics.v1 import metrics_pb2 as m
from opentelemetry.proto.resource.v1.resource_pb2 import Resource

from tests.integration.harness import EngineProcess, produce_confluent, read_topic

T0 = 1795766400.0  # 2026-11-27T08:00:00Z
NORMAL = 20  # points before the anomalous one


def zscore(
    model_id: str, features: list[str], mean: list[float], std: list[float], **extra: Any
) -> dict[str, Any]:
    params = {"mean": mean, "std": std, "threshold": 4.0}
    return {"model_id": model_id, "detector": "zscore", "features": features, "params": params,
            **extra}  # fmt: skip


def resource(**attributes: str) -> Resource:
    return Resource(attributes=[
        KeyValue(key=k.replace("_", "."), value=AnyValue(string_value=v)) for k, v in attributes.items()
    ])  # fmt: skip


def nanos(ts: float) -> int:
    return int(ts * 1e9)


def otlp_cpu(ts: float, hosts: list[str], value: float) -> bytes:
    """One collector batch: every host's cpu utilisation at ``ts``, as otlp_proto."""
    request = ExportMetricsServiceRequest(resource_metrics=[
        m.ResourceMetrics(resource=resource(host_name=host, service_name="node"), scope_metrics=[
            m.ScopeMetrics(metrics=[m.Metric(name="system.cpu.utilization", gauge=m.Gauge(
                data_points=[m.NumberDataPoint(time_unix_nano=nanos(ts), as_double=value)]))])])
        for host in hosts
    ])  # fmt: skip
    return request.SerializeToString()


def otlp_json_requests(ts: float, total: int) -> bytes:
    """A cumulative monotonic counter of a service with no host.name, as otlp_json."""
    request = ExportMetricsServiceRequest(resource_metrics=[m.ResourceMetrics(
        resource=resource(service_name="checkout"), scope_metrics=[m.ScopeMetrics(metrics=[
            m.Metric(name="http.server.requests", sum=m.Sum(
                is_monotonic=True,
                aggregation_temporality=m.AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE,
                data_points=[m.NumberDataPoint(time_unix_nano=nanos(ts), as_int=total)]))])])])  # fmt: skip
    return json_format.MessageToJson(request).encode()


def prometheus(ts: float, name: str, value: str, instance: str) -> bytes:
    """One sample as prometheus-kafka-adapter's JSON serialisation writes it."""
    stamp = f"2026-11-27T08:{int(ts - T0) // 60:02d}:{int(ts - T0) % 60:02d}Z"
    labels = {"__name__": name, "instance": instance, "job": "node"}
    return json.dumps({"timestamp": stamp, "value": value, "name": name, "labels": labels}).encode()


def telegraf(ts: float, host: str, idle: float, received: int, core0: float = 50.0) -> str:
    """One Telegraf flush of a host: cpu (two cores and the total) and net."""
    stamp = nanos(ts)
    return (
        f"cpu,cpu=cpu0,host={host} usage_idle={core0},usage_user=40 {stamp}\n"
        f"cpu,cpu=cpu1,host={host} usage_idle=0.5,usage_user=99 {stamp}\n"
        f"cpu,cpu=cpu-total,host={host} usage_idle={idle},usage_user=1.5 {stamp}\n"
        f"net,host={host},interface=eth0 bytes_recv={received}i,err_in=0i {stamp}"
    )


def incidents(records: list[dict[str, Any]], model_id: str) -> dict[str, list[float]]:
    """By entity, the time of each incident ``model_id`` alerted in: the one it opened, or the
    entity's open one it joined (models that alert together share an incident)."""
    found: dict[str, list[float]] = {}
    seen: set[str] = set()
    for record in records:
        value = record["value"]
        if not value or value.get("event") not in ("open", "update"):
            continue
        if model_id in value["models"] and value["incident_id"] not in seen:
            seen.add(value["incident_id"])
            found.setdefault(value["entity"], []).append(value["ts"])
    return found


def test_otlp_prometheus_and_telegraf_metrics_open_incidents(
    engine: EngineProcess, bootstrap: str, names: dict[str, str]
) -> None:
    configs = [
        zscore("otlp-cpu", ["system.cpu.utilization"], [0.3], [0.02]),
        zscore("otlp-requests", ["http.server.requests"], [1.0], [0.1]),
        zscore("prom-node", ["node_load1", "node_memory_used_bytes"], [1.0, 1000.0], [0.1, 10.0]),
        # One series per host from two measurements: the total cpu only, labels merged.
        zscore("telegraf-host", ["cpu_usage_idle", "net_bytes_recv"], [97.0, 100.0], [1.0, 5.0],
               counters=["net_bytes_recv"], where={"cpu": "cpu-total"}, split_by=[]),
        # A series per core and the total, one per host at most: the first seen, cpu0, is
        # scored; cpu1 and cpu-total are refused.
        zscore("telegraf-cores", ["cpu_usage_idle"], [50.0], [1.0], max_series_per_entity=1),
    ]  # fmt: skip
    assert engine.post("/anomaly/config", {"configs": configs}).status_code == 200
    hosts = [f"otel-{i}" for i in range(4)]
    messages: list[tuple[bytes | None, bytes]] = []
    for i in range(NORMAL + 1):
        ts = T0 + 10 * i
        last = i == NORMAL
        messages.append((None, otlp_cpu(ts, hosts, 0.9 if last else 0.3 + (i % 2) * 0.01)))
        messages.append((None, otlp_json_requests(ts, 1000 + 10 * i + (5000 if last else 0))))
        load = "9.5" if last else f"{1.0 + (i % 2) * 0.05}"
        messages.append((None, prometheus(ts, "node_load1", load, "prom-1:9100")))
        messages.append((None, prometheus(ts, "node_memory_used_bytes", "1000", "prom-1:9100")))
        for host in ("tg-1", "tg-2"):
            received = 100_000 + 1000 * i + (500_000 if last else 0)
            core0 = 5.0 if last else 50.0 + (i % 2) * 0.5
            messages.append((None, telegraf(ts, host, 97.0, received, core0).encode()))
    # A bad value in the middle: refused with its reason, the rest of the message scored.
    bad = telegraf(T0 + 5, "tg-1", 97.0, 0).replace("usage_idle=97.0", "usage_idle=97..0")
    messages.append((None, bad.encode()))
    messages.append((None, prometheus(T0 + 5, "node_load1", "oops", "prom-1:9100")))
    produce_confluent(bootstrap, names["metrics_topic"], messages)

    expected = {
        "otlp-cpu": {host: [T0 + 10 * NORMAL] for host in hosts},
        "otlp-requests": {"checkout": [T0 + 10 * NORMAL]},
        "prom-node": {"prom-1:9100": [T0 + 10 * NORMAL]},
        "telegraf-host": {"tg-1": [T0 + 10 * NORMAL], "tg-2": [T0 + 10 * NORMAL]},
        "telegraf-cores{cpu=cpu0}": {"tg-1": [T0 + 10 * NORMAL], "tg-2": [T0 + 10 * NORMAL]},
    }

    def all_opened(records: list[dict[str, Any]]) -> bool:
        return all(set(incidents(records, m)) >= set(e) for m, e in expected.items())

    alerts = read_topic(bootstrap, names["alerts_topic"], all_opened, timeout=60)
    for model_id, by_entity in expected.items():
        assert incidents(alerts, model_id) == by_entity, model_id
    assert {a["entity"] for a in engine.alerts()} >= {"otel-0", "checkout", "prom-1:9100", "tg-2"}
    # A series is found by the id it is scored under: its model's and its labels.
    core0 = engine.get("/anomaly/series", model_id="telegraf-cores{cpu=cpu0}", entity="tg-1")
    assert core0.status_code == 200, core0.text
    points = {p["ts"]: p for p in core0.json()["points"]}  # and the bad message's cpu0 line
    assert len(points) == NORMAL + 2 and points[T0 + 10 * NORMAL]["values"] == [5.0]
    assert points[T0 + 10 * NORMAL]["is_anomaly"]

    def refused(host: str, series: str) -> str:
        return (
            f"model 'telegraf-cores': entity '{host}' has 1 series already "
            f"(max_series_per_entity), so series {{cpu={series}}} is not scored"
        )

    expected_reasons = {
        "line 3: field usage_idle has a bad value '97..0'",
        "sample 0 ('node_load1'): value 'oops' is not a number",
        *(refused(host, cpu) for host in ("tg-1", "tg-2") for cpu in ("cpu1", "cpu-total")),
    }

    def reasons(records: list[dict[str, Any]]) -> set[str]:
        return {part for r in records for part in r["value"]["reason"].split("; ")}

    dead = read_topic(bootstrap, names["dlq_topic"], lambda rs: reasons(rs) >= expected_reasons)
    assert reasons(dead) == expected_reasons
    metrics = engine.get("/metrics").text  # cpu1 and cpu-total 21 times a host, cpu1 once more
    assert 'anomaly_series_refused_total{model_id="telegraf-cores"} 85.0' in metrics


def fluent_bit_lines(host: str) -> list[dict[str, Any]]:
    """Twenty quiet minutes of access logs, then a burst of timeouts (Fluent Bit's json format:
    ``log`` and the ``@timestamp`` key as epoch seconds)."""
    rng = random.Random(5)
    lines = []
    for minute in range(20):
        for k in range(rng.randint(8, 12)):
            level = "error" if rng.random() < 0.05 else "info"
            text = f"GET /api/items/{rng.randint(1, 999)} 200 in {rng.randint(5, 90)} ms"
            lines.append({"@timestamp": T0 + 60 * minute + 5 * k, "log": text, "level": level})
    for k in range(40):
        text = f"timeout after {3000 + k} ms calling 10.0.0.7:8080 req={k:08x}"
        lines.append({"@timestamp": T0 + 1200 + k, "log": text, "level": "error"})
    lines.append({"@timestamp": T0 + 1261, "log": "GET /api/items/1 200 in 7 ms", "level": "info"})
    return [{**line, "host": host, "stream": "stdout"} for line in lines]


def test_fluent_bit_lines_and_otlp_logs_open_log_incidents(
    engine: EngineProcess, bootstrap: str, names: dict[str, str]
) -> None:
    config = {"model_id": "access-logs", "detector": "zscore", "stream": "logs", "warmup": 10}
    assert engine.post("/anomaly/config", {"configs": [config]}).status_code == 200
    # Keyed by host (Fluent Bit's Message_Key_Field): the lines of a host stay in order even
    # when librdkafka's partitioner puts them elsewhere than the engine's and they move.
    messages: list[tuple[bytes | None, bytes]] = [
        (b"web-1", json.dumps(line).encode()) for line in fluent_bit_lines("web-1")
    ]
    records = [
        logs_pb2.LogRecord(time_unix_nano=nanos(line["@timestamp"]), severity_text=line["level"].upper(),
                           body=AnyValue(string_value=line["log"]))
        for line in fluent_bit_lines("unused")
    ]  # fmt: skip
    request = ExportLogsServiceRequest(resource_logs=[logs_pb2.ResourceLogs(
        resource=resource(host_name="otel-web"), scope_logs=[logs_pb2.ScopeLogs(log_records=records)])])  # fmt: skip
    messages.append((None, request.SerializeToString()))
    produce_confluent(bootstrap, names["logs_topic"], messages)

    def both(rs: list[dict[str, Any]]) -> bool:
        return set(incidents(rs, "access-logs")) >= {"web-1", "otel-web"}

    alerts = read_topic(bootstrap, names["alerts_topic"], both, timeout=60)
    opened = incidents(alerts, "access-logs")
    assert opened == {"web-1": [T0 + 1260], "otel-web": [T0 + 1260]}
