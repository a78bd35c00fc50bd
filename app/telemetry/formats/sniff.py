"""Which format a telemetry message is in, and its decoding into samples and records.

The format is taken from a hint when there is one (the Kafka header :data:`FORMAT_HEADER`, else
the topic's configured format), else sniffed from the bytes:

- JSON (the first byte ``{`` or ``[``): ``resourceMetrics`` / ``resourceLogs`` is ``otlp_json``;
  an object with ``entity`` is the engine's own form (``engine``, decoded by
  :mod:`app.telemetry.messages`; with ``series``, the form a moved message takes); an object with
  ``name`` and ``labels`` is ``prometheus`` (prometheus-kafka-adapter); one with ``log`` or
  ``message`` is ``loglines`` (Fluent Bit, Vector);
- otherwise, the first byte 0x0A (field 1, length-delimited: ``resource_metrics`` or
  ``resource_logs``) is ``otlp_proto``; other text on the metrics stream is ``influx``.

Line protocol never starts with a newline once Telegraf writes it, and protobuf is never JSON, so
the sniffing is unambiguous for these producers; the header settles any other case.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import Any

import orjson

from app.telemetry.formats import (
    NO_LABELS,
    Column,
    Decoded,
    Record,
    TelemetryError,
    influx,
    loglines,
    otlp,
    otlp_json,
    prometheus,
)
from app.telemetry.messages import RESERVED_PREFIX
from incidents.points import parse_ts

FORMAT_HEADER = "telemetry-format"
FORMATS = ("auto", "engine", "otlp_proto", "otlp_json", "prometheus", "influx", "loglines")


def detect(raw: bytes, stream: str, hint: str | None = None) -> tuple[str, Any]:
    """(format, the parsed JSON or None) of a message of ``stream`` ("metrics" or "logs").

    Examples
    --------
    >>> detect(b'{"entity": "h", "ts": 0, "values": [1]}', "metrics")[0]
    'engine'
    >>> detect(b'{"resourceMetrics": []}', "metrics")[0], detect(b"\\n\\x00", "metrics")[0]
    ('otlp_json', 'otlp_proto')
    >>> detect(b"cpu,host=h1 usage_idle=97.5 1795766400000000000", "metrics")[0]
    'influx'
    >>> detect(b'{"log": "x", "host": "h"}', "logs")[0]
    'loglines'
    >>> detect(b"plain text", "logs")
    Traceback (most recent call last):
    ...
    incidents.points.TelemetryError: a logs message in none of the known formats (engine JSON, OTLP, Fluent Bit / Vector JSON lines)
    """
    if hint and hint != "auto":
        if hint not in FORMATS:
            raise TelemetryError(f"unknown format {hint!r}; known: " + ", ".join(FORMATS[1:]))
        parsed = _json(raw) if hint not in ("otlp_proto", "influx") else None
        return hint, parsed
    first = raw.lstrip()[:1]
    if first in (b"{", b"["):
        payload = _json(raw)
        return _json_format(payload, stream), payload
    if raw[:1] == b"\n":
        return "otlp_proto", None
    if stream == "metrics":
        return "influx", None
    raise TelemetryError(
        f"a {stream} message in none of the known formats (engine JSON, OTLP, "
        "Fluent Bit / Vector JSON lines)"
    )


def _json(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise TelemetryError(f"malformed JSON: {exc}") from None


def _json_format(payload: Any, stream: str) -> str:
    if type(payload) is dict or isinstance(payload, Mapping):
        if "resourceMetrics" in payload or "resourceLogs" in payload:
            return "otlp_json"
        if "entity" in payload:
            return "engine"
    if stream == "metrics" and prometheus.looks_like(payload):
        return "prometheus"
    if stream == "logs" and (
        loglines.looks_like(payload)
        or (isinstance(payload, list) and payload and loglines.looks_like(payload[0]))
    ):
        return "loglines"
    if isinstance(payload, Mapping):
        return "engine"  # the engine's own form says what is missing
    raise TelemetryError(f"a {stream} message in none of the known formats")


def decode(
    fmt: str,
    raw: bytes,
    parsed: Any,
    stream: str,
    default_ts: float,
    counters: Collection[str] = (),
) -> Decoded:
    """Decode a message of a collector format (not ``engine``) of ``stream``.

    ``default_ts`` is the time of a point that carries none (the Kafka message's time);
    ``counters`` names the Influx features that are cumulative counts.

    Examples
    --------
    >>> out = decode("influx", b"mem,host=h1 used=5i 1795766400000000000", None, "metrics", 0.0)
    >>> [(s.name, s.value) for s in out.samples]
    [('mem_used', 5.0)]
    """
    if fmt == "otlp_json":
        if not isinstance(parsed, Mapping):
            raise TelemetryError("an otlp_json message must be a JSON object")
        if stream == "logs":
            return otlp_json.decode_logs(parsed)
        return otlp_json.decode_metrics(parsed)
    if fmt == "otlp_proto":
        if stream == "logs":
            return otlp.decode_logs(otlp.parse_logs(raw))
        return otlp.decode_metrics(otlp.parse_metrics(raw))
    if fmt == "prometheus" and stream == "metrics":
        return prometheus.decode(parsed)
    if fmt == "influx" and stream == "metrics":
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise TelemetryError("line protocol must be UTF-8 text") from None
        decoded = influx.decode(text, default_ts, counters)
        if decoded.errors and not decoded.columns:
            raise TelemetryError(
                "a metrics message in none of the known formats (engine JSON, OTLP, Prometheus "
                f"JSON, Influx line protocol): read as line protocol, {decoded.errors[0]}"
            )
        return decoded
    if fmt == "loglines" and stream == "logs":
        return loglines.decode(parsed, default_ts)
    raise TelemetryError(f"format {fmt!r} does not carry {stream}")


def engine_samples(payload: Mapping[str, Any], max_points: int) -> Decoded:
    """The samples of an engine metrics message that names no ``model_id`` (its values an
    object by feature name), or of the form a moved message takes (by model id and series)::

        {"entity": "h1", "ts": 0, "values": {"cpu": 1.0}}
        {"entity": "h1", "points": [{"ts": 0, "values": {"cpu": 1.0}}, ...]}
        {"entity": "h1", "series": [["m", "{cpu=cpu0}", [["cpu", false, [0, 10], [1.0, 2.0]]]], ...]}

    Examples
    --------
    >>> out = engine_samples({"entity": "h1", "ts": 5, "values": {"cpu": 1, "mem": None}}, 10)
    >>> out.entity, [(s.name, s.ts, s.value) for s in out.samples]
    ('h1', [('cpu', 5.0, 1.0)])
    >>> engine_samples({"entity": "h1", "ts": 5, "values": [1.0]}, 10)
    Traceback (most recent call last):
    ...
    incidents.points.TelemetryError: a message without model_id gives values as an object by feature name
    """
    entity = payload.get("entity")
    if not isinstance(entity, str) or not entity or entity.startswith(RESERVED_PREFIX):
        raise TelemetryError(f"entity must be a non-empty string, got {entity!r}")
    decoded = Decoded("engine", entity=entity)
    if "series" in payload:
        decoded.planned = _planned(payload["series"], max_points)
        return decoded
    points = payload.get("points")
    if points is None:
        points = [payload]
    if not isinstance(points, list):
        raise TelemetryError("points must be a list of {ts, values} objects")
    if len(points) > max_points:
        raise TelemetryError(
            f"{len(points)} points in one message is over the limit of {max_points}"
        )
    for i, point in enumerate(points):
        values = point.get("values") if isinstance(point, Mapping) else None
        if not isinstance(values, Mapping):
            raise TelemetryError(
                "a message without model_id gives values as an object by feature name"
            )
        ts = parse_ts(point.get("ts"), f"points[{i}].ts")
        for name, value in values.items():
            if value is None:
                continue  # a gap
            if not isinstance(value, int | float) or isinstance(value, bool):
                raise TelemetryError(f"values.{name} must be a number or null, got {value!r}")
            decoded.add(str(name), ts, float(value), NO_LABELS)
    return decoded


def _planned(shares: object, max_points: int) -> dict[tuple[str, str], list[Column]]:
    """The columns of a moved message, by (model id, series)."""
    if not isinstance(shares, list):
        raise TelemetryError("series must be a list of [model_id, series, columns]")
    planned: dict[tuple[str, str], list[Column]] = {}
    total = 0
    for i, share in enumerate(shares):
        if not isinstance(share, list) or len(share) != 3 or not isinstance(share[2], list):
            raise TelemetryError(f"series[{i}] must be [model_id, series, columns]")
        model_id, series, columns = share
        found = planned.setdefault((str(model_id), str(series)), [])
        for column in columns:
            if not isinstance(column, list) or len(column) != 4:
                raise TelemetryError(f"series[{i}] columns must be [name, counter, ts, values]")
            name, counter, ts, values = column
            if not isinstance(ts, list):  # [name, ts, value, counter]: the earlier, per sample
                ts, values, counter = [counter], [ts], values
            if not isinstance(values, list) or len(values) != len(ts):
                raise TelemetryError(f"series[{i}] columns need as many values as times")
            total += len(ts)
            if total > max_points:
                raise TelemetryError(f"{total} samples is over the limit of {max_points}")
            try:  # written by the engine: plain numbers
                times, floats = list(map(float, ts)), list(map(float, values))
            except (TypeError, ValueError):
                raise TelemetryError(f"series[{i}] times and values must be numbers") from None
            found.append(Column(str(name), NO_LABELS, bool(counter), None, times, floats))
    return planned


def moved_metrics(entity: str, shares: Iterable[tuple[str, str, list[Column]]]) -> bytes:
    """The message that carries an entity's columns, by (model id, series), to its partition
    (decoded there by :func:`engine_samples`; the entity and series are decided).

    >>> column = Column("cpu", {"host": "h1"}, False, None, [5.0, 15.0], [1.0, 2.0])
    >>> moved_metrics("h1", [("m", "{cpu=cpu0}", [column])])
    b'{"entity":"h1","series":[["m","{cpu=cpu0}",[["cpu",false,[5.0,15.0],[1.0,2.0]]]]]}'
    """
    series = [
        [model_id, name, [[c.name, c.counter, c.ts, c.values] for c in columns]]
        for model_id, name, columns in shares
    ]
    return orjson.dumps({"entity": entity, "series": series})


def moved_logs(entity: str, records: list[Record]) -> bytes:
    """The engine's own log message that carries ``records`` of ``entity`` to its partition.

    >>> moved_logs("h1", [Record(5.0, "error", "boom")])
    b'{"entity":"h1","events":[{"ts":5.0,"level":"error","message":"boom"}]}'
    """
    events = [{"ts": r.ts, "level": r.level, "message": r.message} for r in records]
    return orjson.dumps({"entity": entity, "events": events})
