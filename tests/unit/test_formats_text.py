"""Prometheus (prometheus-kafka-adapter JSON), Influx line protocol (Telegraf) and JSON log lines
(Fluent Bit, Vector): decoded as the tools write them, bad parts refused alone."""

from __future__ import annotations

import orjson
import pytest

from app.telemetry.formats import influx, sniff
from incidents.points import TelemetryError

NS = 1_795_766_400_000_000_000


def decode(raw: bytes, stream: str = "metrics", default_ts: float = 0.0):  # type: ignore[no-untyped-def]
    fmt, parsed = sniff.detect(raw, stream)
    return fmt, sniff.decode(fmt, raw, parsed, stream, default_ts)


def test_prometheus_adapter_message_as_its_readme_shows() -> None:
    raw = orjson.dumps({
        "timestamp": "2026-11-27T08:00:00Z", "value": "0.5", "name": "node_load1",
        "labels": {"__name__": "node_load1", "instance": "host-1:9100", "job": "node"},
    })  # fmt: skip
    fmt, decoded = decode(raw)
    assert fmt == "prometheus"
    [sample] = decoded.samples
    assert (sample.name, sample.ts, sample.value, sample.counter) == (
        "node_load1", 1795766400.0, 0.5, False,
    )  # fmt: skip
    assert sample.attributes == {"instance": "host-1:9100", "job": "node"}


def test_prometheus_total_is_a_counter_and_a_non_numeric_value_is_refused() -> None:
    good = {"timestamp": "2026-11-27T08:00:00Z", "value": "7", "name": "http_requests_total",
            "labels": {"instance": "h"}}  # fmt: skip
    bad = {**good, "name": "up", "value": "NaN"}
    _, decoded = decode(orjson.dumps([good, bad]))
    assert [(s.name, s.counter) for s in decoded.samples] == [("http_requests_total", True)]
    assert decoded.errors == ["sample 1 ('up'): value 'NaN' is not a finite number"]


def test_line_protocol_types_escapes_and_timestamps() -> None:
    text = "\n".join([
        "# a comment",
        r'weather\ station,loc=us\,west,host=h1 temp=82.5,count=3i,big=18446744073709551615u,'
        r'ok=T,off=false,note="a \"quoted\", spaced=string" ' + str(NS),
        "cpu,host=h1 usage_idle=1e2",
    ])  # fmt: skip
    fmt, decoded = decode(text.encode(), default_ts=1795766499.0)
    assert fmt == "influx" and decoded.errors == []
    assert [(s.name, s.value, s.ts) for s in decoded.samples] == [
        ("weather_station_temp", 82.5, NS / 1e9),
        ("weather_station_count", 3.0, NS / 1e9),
        ("weather_station_big", float(2**64 - 1), NS / 1e9),
        ("weather_station_ok", 1.0, NS / 1e9),
        ("weather_station_off", 0.0, NS / 1e9),
        ("cpu_usage_idle", 100.0, 1795766499.0),  # no timestamp: the message's time
    ]
    assert decoded.samples[0].attributes == {"loc": "us,west", "host": "h1"}


def test_a_bad_line_is_refused_and_the_other_lines_are_kept() -> None:
    text = f"mem,host=h1 used=1i {NS}\nmem,host=h1 used=12x {NS}\nmem,host=h1 used=3i {NS}"
    _, decoded = decode(text.encode())
    assert [s.value for s in decoded.samples] == [1.0, 3.0]
    assert decoded.errors == ["line 2: field used has a bad value '12x'"]


def telegraf_flush(hosts: int, times: int) -> list[str]:
    """Plain lines as Telegraf writes them: two measurements with their own fields and tags."""
    lines = []
    for t in range(times):
        for h in range(hosts):
            stamp = NS + t * 10_000_000_000
            lines.append(
                f"cpu,cpu=cpu-total,host=h{h} usage_idle={90 + t + h / 10},usage_user=1.5 {stamp}"
            )
            lines.append(f"mem,host=h{h} used={1000 + t}i,available_percent=42 {stamp}")
    return lines


def by_sample(decoded: object) -> list[tuple[str, float, float, bool, tuple[tuple[str, str], ...]]]:
    samples = decoded.samples  # type: ignore[attr-defined]
    return sorted((s.name, s.ts, s.value, s.counter, tuple(s.attributes.items())) for s in samples)


def test_plain_lines_read_in_bulk_give_what_each_line_gives() -> None:
    lines = telegraf_flush(hosts=3, times=4)
    one_by_one = [sample for line in lines for sample in influx.parse_line(line, 0.0)]
    bulk = influx.decode("\n".join(lines) + "\n", 0.0, counters={"mem_used"})
    assert bulk.errors == [] and len(bulk.columns) == 3 * 4  # a column per host and field
    expected = sorted(
        (s.name, s.ts, s.value, s.name == "mem_used", tuple(s.attributes.items()))
        for s in one_by_one
    )
    assert by_sample(bulk) == expected


@pytest.mark.parametrize("bad", ["used=12x", "used=1_000", "used=nan", "used=", "used=1=2"])
def test_a_bad_field_among_plain_lines_costs_its_line_only(bad: str) -> None:
    lines = telegraf_flush(hosts=2, times=3)
    lines[5] = lines[5].replace("used=1001i", bad)
    decoded = influx.decode("\n".join(lines), 0.0)
    assert len(decoded.errors) == 1 and decoded.errors[0].startswith("line 6: ")
    assert len(decoded.samples) == 2 * (len(lines) - 1)


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ('m,host=h f="open 1', "unterminated string"),
        ("m,host=h f=1 12.5", "not an integer of nanoseconds"),
        ("m,host f=1", "tag 'host' is not key=value"),
        ("m,host=h", "needs a measurement, a field set"),
    ],
)
def test_line_protocol_errors_name_what_is_wrong(line: str, reason: str) -> None:
    with pytest.raises(TelemetryError, match=reason):
        influx.parse_line(line, 0.0)


def test_a_message_in_no_format_says_so() -> None:
    with pytest.raises(TelemetryError, match="none of the known formats"):
        decode(b"\x00\x01 garbage")
    with pytest.raises(TelemetryError, match="none of the known formats"):
        decode(b"just some words", "logs")


def test_fluent_bit_and_vector_lines() -> None:
    fluent = orjson.dumps({"@timestamp": 1795766400.5, "log": "GET /x 500", "host": "web-1",
                           "level": "ERROR", "stream": "stderr"})  # fmt: skip
    vector = orjson.dumps({"message": "ok", "timestamp": "2026-11-27T08:00:00.000Z",
                           "host": "web-2", "source_type": "file"})  # fmt: skip
    for raw, expected in [
        (fluent, (1795766400.5, "error", "GET /x 500", "web-1")),
        (vector, (1795766400.0, None, "ok", "web-2")),
    ]:
        fmt, decoded = decode(raw, "logs")
        assert fmt == "loglines"
        [record] = decoded.records
        assert (record.ts, record.level, record.message, record.attributes["host"]) == expected


def test_a_format_header_settles_what_sniffing_would_not() -> None:
    raw = b'{"name": "x", "labels": {}, "value": "1", "timestamp": 0}'
    assert sniff.detect(raw, "metrics", "prometheus")[0] == "prometheus"
    with pytest.raises(TelemetryError, match="unknown format 'csv'"):
        sniff.detect(raw, "metrics", "csv")
